set terminal pngcairo noenhanced size 1100,560 font "DejaVu Sans,10"
set output "idle.png"
set title "Server RSS with idle NBD connections held"
set datafile missing "?"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below
set grid ytics
set xtics rotate by -25 scale 0
set ylabel "MiB"
set yrange [0:*]
plot for [i=2:3] "plots/idle.dat" using i:xtic(1) title columnheader(i)
