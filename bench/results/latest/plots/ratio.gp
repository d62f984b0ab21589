set terminal pngcairo noenhanced size 1100,560 font "DejaVu Sans,10"
set output "ratio.png"
set title "IOPS relative to nbdkit (same plugin kind), TCP; lines: 1.0 and the 1.5x target"
set datafile missing "?"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below
set grid ytics
set xtics rotate by -25 scale 0
set ylabel "ratio"
set yrange [0:10.71]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2
set arrow from graph 0, first 1.5 to graph 1, first 1.5 nohead lw 1 dt 3 lc rgb 'red'
plot for [i=2:6] "plots/ratio.dat" using i:xtic(1) title columnheader(i)
