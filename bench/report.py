# SPDX-License-Identifier: MIT
"""Turns bench.py's results.json into report.md and gnuplot PNG charts.
`python3 bench/bench.py --report-only DIR` reruns it alone."""
import os
import shlex
import statistics
import subprocess
import sys

GiB = 1 << 30
MiB = 1 << 20

FILE_GROUP = ["iopd-uring", "iopd-epoll", "nbdkit-file", "qemu-nbd"]
MAIN = "iopd-uring"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or not statistics.median(xs):
        return None
    return (max(xs) - min(xs)) / statistics.median(xs)


class Data:
    def __init__(self, res):
        self.res = res
        self.by = {}            # (server, transport, workload) -> {rep: run}
        for r in res["runs"]:
            if not r.get("ok"):
                continue
            self.by.setdefault((r["server"], r["transport"], r["workload"]),
                               {})[r["rep"]] = r
        self.iperf = res["limits"]["iperf3"]   # bytes/s per rep

    def runs(self, s, t, w):
        return self.by.get((s, t, w), {})

    def fig(self, s, t, w, key):
        return med([r.get(key) for r in self.runs(s, t, w).values()])

    def spread(self, s, t, w, key="iops"):
        return spread([r.get(key) for r in self.runs(s, t, w).values()])

    def ratio(self, s, t, w, key, base=None):
        """Median over reps of this server's figure / the base's figure in
        the same rep."""
        base = base or self.res["servers"][s]["base"]
        a, b = self.runs(s, t, w), self.runs(base, t, w)
        xs = [a[k][key] / b[k][key] for k in a if k in b
              and a[k].get(key) is not None and b[k].get(key)]
        return med(xs)

    def cpu_total_ratio(self, s, t, base="nbdkit-file"):
        """Per rep: (sum CPU / sum GiB over the workloads both ran)
        divided by the same for base; median over reps."""
        wls = [w for w in self.res["workloads"]
               if self.runs(s, t, w) and self.runs(base, t, w)]
        xs = []
        for rep in range(1, self.res["reps"] + 1):
            def per(srv):
                rs = [self.runs(srv, t, w).get(rep) for w in wls]
                if any(r is None for r in rs) or not rs:
                    return None
                return sum(r["cpu"] for r in rs) / (sum(r["bytes"] for r in rs) / GiB)
            a, b = per(s), per(base)
            if a is not None and b:
                xs.append((a, b, a / b))
        if not xs:
            return None, None, None
        return (med([x[0] for x in xs]), med([x[1] for x in xs]),
                med([x[2] for x in xs]))

    def vs_iperf(self, s, t, w):
        rs = self.runs(s, t, w)
        xs = [rs[k]["bw"] / self.iperf[k - 1] for k in rs
              if k - 1 < len(self.iperf) and self.iperf[k - 1]]
        return med(xs)


def fmt(x, unit="", nd=None):
    if x is None:
        return "–"
    if nd is None:
        nd = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{nd}f}{unit}"


def fratio(x):
    return "–" if x is None else f"{x:.2f}×"


def verdict(ok):
    return "–" if ok is None else ("**met**" if ok else "**not met**")


# ---------------------------------------------------------------- targets
def targets(d, t="tcp"):
    res = d.res
    rows = []

    def add(name, measured, ok, thresh):
        rows.append((name, measured, thresh, ok))

    for w, title in (("rr4k-qd32", "4 KiB random read qd32"),
                     ("rw4k-qd32", "4 KiB random write qd32")):
        r = d.ratio(MAIN, t, w, "iops")
        add(f"{title}: IOPS vs nbdkit", fratio(r),
            None if r is None else r >= 1.5, "≥ 1.5×")
    for w, title in (("sr1m-qd8", "1 MiB sequential read qd8"),
                     ("sw1m-qd8", "1 MiB sequential write qd8")):
        r = d.ratio(MAIN, t, w, "bw")
        add(f"{title}: MB/s vs nbdkit", fratio(r),
            None if r is None else r >= 1.3, "≥ 1.3×")
        v = d.vs_iperf(MAIN, t, w) if t == "tcp" else None
        if t == "tcp":
            add(f"{title}: MB/s vs iperf3 loopback", fmt(None if v is None else 100 * v, " %"),
                None if v is None else v >= 0.75, "≥ 75 %")
    for w, title in (("rr4k-qd1", "4 KiB random read qd1"),
                     ("rw4k-qd1", "4 KiB random write qd1")):
        r = d.ratio(MAIN, t, w, "lat_mean")
        add(f"{title}: mean latency vs nbdkit", fratio(r),
            None if r is None else r <= 0.8, "≤ 0.8×")
    a, b, r = d.cpu_total_ratio(MAIN, t)
    worst = None
    for w in res["workloads"]:
        x = d.ratio(MAIN, t, w, "cpu_per_gib")
        if x is not None and (worst is None or x > worst[1]):
            worst = (w, x)
    add("server CPU per GiB vs nbdkit (all workloads together)",
        f"{fratio(r)} ({fmt(a, ' s/GiB')} vs {fmt(b, ' s/GiB')})"
        + (f"; worst single workload {worst[0]} {fratio(worst[1])}" if worst else ""),
        None if r is None else r <= 0.6, "≤ 0.6×")
    if t == "tcp":
        idle = {i["server"]: i for i in res.get("idle", [])}
        if MAIN in idle and "nbdkit-file" in idle:
            ra = med([x["rss_held"] for x in idle[MAIN]["reps"]])
            rb = med([x["rss_held"] for x in idle["nbdkit-file"]["reps"]])
            ok = (ra / rb <= 0.5) if ra and rb else None
            n = idle[MAIN]["conns"]
            opened = min(x["opened"] for x in idle[MAIN]["reps"])
            add(f"{n} idle connections: server RSS vs nbdkit's",
                f"{fratio(ra / rb if rb else None)} ({fmt(ra / MiB, ' MiB')} vs "
                f"{fmt(rb / MiB, ' MiB')})", ok if opened == n else False, "≤ 0.5×")
            lr = med([x["lat_with"] / x["lat_without"] for x in idle[MAIN]["reps"]
                      if x["lat_with"] and x["lat_without"]])
            add(f"{n} idle connections: active 4k qd1 read latency, with / without",
                fratio(lr), None if lr is None else (lr <= 1.10 and opened == n), "≤ 1.10×")
    worst = None
    for w in res["workloads"]:
        x = d.ratio("iopd-epoll", t, w, "iops", base=MAIN)
        if x is not None and (worst is None or x < worst[1]):
            worst = (w, x)
    add("fallback (epoll) engine vs io_uring, IOPS, worst workload",
        f"{fratio(worst[1])} ({worst[0]})" if worst else "–",
        None if worst is None else worst[1] >= 0.7, "≥ 0.7×")
    return rows


# ---------------------------------------------------------------- charts
def gnuplot(outdir, name, script):
    path = os.path.join(outdir, "plots", name + ".gp")
    with open(path, "w") as f:
        f.write(script)
    p = subprocess.run(["gnuplot", path], cwd=outdir, capture_output=True,
                       text=True)
    if p.returncode != 0:
        print(f"gnuplot {name}: {p.stderr}")
        return False
    return True


def dat(outdir, name, header, rows):
    path = os.path.join(outdir, "plots", name + ".dat")
    with open(path, "w") as f:
        f.write(" ".join(f'"{h}"' for h in header) + "\n")
        for r in rows:
            f.write(" ".join(f'"{x}"' if isinstance(x, str) else
                             ("?" if x is None else f"{x:.6g}") for x in r) + "\n")
    return os.path.join("plots", name + ".dat")


HIST = """set terminal pngcairo noenhanced size 1100,560 font "DejaVu Sans,10"
set output "{png}"
set title "{title}"
set datafile missing "?"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key {key}
set grid ytics
set xtics rotate by -25 scale 0
set ylabel "{ylabel}"
{extra}
plot for [i=2:{n}] "{dat}" using i:xtic(1) title columnheader(i)
"""


def charts(outdir, d):
    os.makedirs(os.path.join(outdir, "plots"), exist_ok=True)
    res = d.res
    made = {}
    srv = [s for s in FILE_GROUP if any(d.runs(s, "tcp", w) for w in res["workloads"])]
    labels = [res["servers"][s]["label"] for s in srv]
    wls = [w for w in res["workloads"] if any(d.runs(s, "tcp", w) for s in srv)]

    rows = [[w] + [d.fig(s, "tcp", w, "iops") for s in srv] for w in wls]
    f = dat(outdir, "iops", ["workload"] + labels, rows)
    if gnuplot(outdir, "iops", HIST.format(
            png="iops.png", title="IOPS per workload, TCP loopback (median)",
            key="below", ylabel="IOPS (log scale)", n=len(srv) + 1, dat=f,
            extra="set logscale y")):
        made["iops"] = "iops.png"

    others = [s for s in res["servers"] if s != res["servers"][s]["base"]
              and any(d.runs(s, "tcp", w) for w in res["workloads"])]
    rows = [[w] + [d.ratio(s, "tcp", w, "iops") for s in others] for w in res["workloads"]
            if any(d.ratio(s, "tcp", w, "iops") for s in others)]
    f = dat(outdir, "ratio", ["workload"] + [res["servers"][s]["label"] + " / "
                                             + res["servers"][s]["base"].replace("nbdkit-", "nbdkit ")
                                             for s in others], rows)
    top = max([x for r in rows for x in r[1:] if x is not None] + [1.5]) * 1.12
    if gnuplot(outdir, "ratio", HIST.format(
            png="ratio.png", title="IOPS relative to nbdkit (same plugin kind), TCP; "
            "lines: 1.0 and the 1.5x target",
            key="below", ylabel="ratio", n=len(others) + 1, dat=f,
            extra=f"set yrange [0:{top:.2f}]\nset arrow from graph 0, first 1 to graph 1, first 1 "
                  "nohead lw 2 dt 2\nset arrow from graph 0, first 1.5 to graph 1, "
                  "first 1.5 nohead lw 1 dt 3 lc rgb 'red'")):
        made["ratio"] = "ratio.png"

    lw = [w for w in ("rr4k-qd1", "rw4k-qd1") if w in wls]
    rows = []
    for w in lw:
        rows.append([w + " mean"] + [None if d.fig(s, "tcp", w, "lat_mean") is None else
                                     d.fig(s, "tcp", w, "lat_mean") / 1e3 for s in srv])
        rows.append([w + " p99"] + [None if d.fig(s, "tcp", w, "p99") is None else
                                    d.fig(s, "tcp", w, "p99") / 1e3 for s in srv])
    f = dat(outdir, "latency", ["workload"] + labels, rows)
    if gnuplot(outdir, "latency", HIST.format(
            png="latency.png", title="Queue-depth-1 latency, TCP loopback (median)",
            key="below", ylabel="microseconds", n=len(srv) + 1, dat=f,
            extra="set yrange [0:*]")):
        made["latency"] = "latency.png"

    rows = [[w] + [d.fig(s, "tcp", w, "cpu_per_gib") for s in srv] for w in wls]
    f = dat(outdir, "cpu", ["workload"] + labels, rows)
    if gnuplot(outdir, "cpu", HIST.format(
            png="cpu.png", title="Server CPU time per GiB moved, TCP loopback (median)",
            key="below", ylabel="CPU seconds / GiB (log scale)", n=len(srv) + 1,
            dat=f, extra="set logscale y")):
        made["cpu"] = "cpu.png"

    if res.get("idle"):
        rows = []
        for i in res["idle"]:
            rows.append([i["label"],
                         i["rss_before"] / MiB,
                         med([x["rss_held"] for x in i["reps"]]) / MiB])
        f = dat(outdir, "idle", ["server", "RSS, no clients",
                                 f"RSS, {res['idle'][0]['conns']} idle connections"], rows)
        if gnuplot(outdir, "idle", HIST.format(
                png="idle.png", title="Server RSS with idle NBD connections held",
                key="below", ylabel="MiB", n=3, dat=f, extra="set yrange [0:*]")):
            made["idle"] = "idle.png"
    return made


# ---------------------------------------------------------------- report
CHARTS = (("iops", "IOPS per workload"), ("ratio", "Ratio to nbdkit"),
          ("latency", "qd1 latency"), ("cpu", "CPU per GiB"),
          ("idle", "Idle connections"),
          ("ext-cpu", "Server CPU per I/O at a fixed offered load"),
          ("ext-sat", "Saturation with several client processes"))


def add_charts(L, made):
    if made:
        L.append("## Charts\n")
        for k, title in CHARTS:
            if k in made:
                L.append(f"![{title}]({made[k]})\n")


def write_ext_only(outdir, res, L, made):
    """A run of some extended sections only (run.sh --only ...)."""
    import extended
    import iscsi_bench
    if res.get("qemu_opts"):
        L.append(f"- qemu-nbd options on tmpfs, chosen by a probe in this run "
                 f"(the fastest sane set): `{' '.join(res['qemu_opts'])}`")
    L.append(f"- whole run: {res['elapsed_s'] / 60:.1f} min")
    L.append("")
    if res.get("problems"):
        L.append("## Problems seen during the run\n")
        L.extend(f"- {p}" for p in res["problems"])
        L.append("")
    add_charts(L, made)
    L.extend(extended.section(res))
    L.extend(iscsi_bench.section(outdir))
    L.append("## Command lines, in the order they were run\n")
    L.append("```")
    L.extend(res["commands"])
    L.append("```")
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def write(outdir, res):
    outdir = os.path.abspath(outdir)
    import extended
    d = Data(res)
    os.makedirs(os.path.join(outdir, "plots"), exist_ok=True)
    made = charts(outdir, d) if res["runs"] else {}
    made.update(extended.charts(outdir, res, sys.modules[__name__]))
    m = res["machine"]
    L = []
    add = L.append
    add(f"# iopd benchmark report ({res['mode']} run)\n")
    add(f"- commit: `{res['commit']}`")
    add(f"- date: {res['date']}")
    add(f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} RAM, kernel "
        f"{m['kernel']}, {m['os']}")
    add("- tools: " + ", ".join(f"{v}" for v in m["versions"].values()))
    add(f"- sections: {', '.join(res.get('only', ['matrix', 'idle', 'iscsi']))}")
    if not res["runs"]:
        return write_ext_only(outdir, res, L, made)
    add(f"- method: every server in turn serves the same 1 GiB random-data image "
        f"on tmpfs (`/dev/shm`); fio's nbd engine on the same machine (client and "
        f"server share the {m['nproc']} CPUs); {res['runtime']} s time-based runs; "
        f"{res['reps']} reps, servers interleaved within each rep; figures are "
        f"medians over reps, ratios are medians of the per-rep ratios "
        f"(same rep, same transport). After each server start an untimed "
        f"{res.get('warmup', 0)} s 4 KiB qd1 read warms it up. Whole run: {res['elapsed_s'] / 60:.1f} min.")
    add(f"- qemu-nbd options chosen by a probe in this run: "
        f"`{' '.join(res.get('qemu_opts', []))}` (see below)\n")

    if res.get("problems"):
        add("## Problems seen during the run\n")
        for p in res["problems"]:
            add(f"- {p}")
        add("")

    add("## Targets\n")
    add("iopd io_uring engine serving the image file, against nbdkit's file "
        "plugin, over TCP loopback (the Unix-socket column where measured).\n")
    tt = targets(d, "tcp")
    tu = {r[0]: r for r in targets(d, "unix")}
    add("| target | threshold | TCP | met? | Unix socket | met? |")
    add("| --- | --- | --- | --- | --- | --- |")
    for name, meas, thr, ok in tt:
        u = tu.get(name)
        add(f"| {name} | {thr} | {meas} | {verdict(ok)} | "
            f"{u[1] if u else '–'} | {verdict(u[3]) if u else '–'} |")
    add("")

    add("## Limits measured in the same run\n")
    ip = med(res["limits"]["iperf3"])
    add(f"- iperf3 single TCP stream over loopback: **{fmt(ip / 1e6 if ip else None, ' MB/s')}** "
        f"(reps: {', '.join(fmt(x / 1e6) for x in res['limits']['iperf3'])})")
    for name, runs in res["limits"]["direct"].items():
        add(f"- fio io_uring O_DIRECT on the image itself, {name}: "
            f"**{fmt(med([r['iops'] for r in runs]), ' IOPS')}**, "
            f"{fmt(med([r['bw'] for r in runs]) / 1e6, ' MB/s')}, mean latency "
            f"{fmt(med([r['lat_mean'] for r in runs]) / 1e3, ' µs')}")
    add("")

    add_charts(L, made)
    L.extend(extended.section(res))

    add("## Results per workload\n")
    add("IOPS and MB/s: higher is better. Latency: mean of fio's `lat_ns` "
        "(submission to completion), p99 of `clat_ns`; for the read/write mix "
        "the mean is over all I/Os and p99 the worse of the two directions. "
        "CPU/GiB: server utime+stime during the run over the bytes moved. "
        "RSS: the server's peak resident size during the run (VmHWM, reset "
        "before each run). ×nbdkit: this row over the nbdkit row of the same "
        "kind (file, memory, null), same transport; for IOPS >1 is better, "
        "for latency and CPU <1 is better. ± is the spread (max−min)/median "
        "of IOPS over the reps. iopd's `null:` reads run faster than loopback TCP "
        "can carry (see the limits), so its read replies carry no payload "
        "(NBD structured-reply hole chunks, which the client turns into "
        "zeroes); nbdkit's null plugin sends the zero bytes. Compare `null:` "
        "read rows with that in mind.\n")
    servers = list(res["servers"])
    for w, title in res["workloads"].items():
        rows = [(s, t) for t in ("tcp", "unix") for s in servers if d.runs(s, t, w)]
        if not rows:
            continue
        add(f"### {title} (`{w}`)\n")
        add("| server | transport | IOPS | ± | MB/s | mean lat µs | p99 µs | "
            "CPU s/GiB | peak RSS MiB | ×nbdkit IOPS | ×nbdkit mean lat | ×nbdkit CPU/GiB |")
        add("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for s, t in rows:
            f = lambda k: d.fig(s, t, w, k)
            base = res["servers"][s]["base"]
            isbase = s == base
            sp = d.spread(s, t, w)
            add(f"| {res['servers'][s]['label']} | {t} | {fmt(f('iops'))} | "
                f"{'–' if sp is None else f'{100 * sp:.0f}%'} | "
                f"{fmt(f('bw') / 1e6 if f('bw') else None)} | "
                f"{fmt(f('lat_mean') / 1e3 if f('lat_mean') else None)} | "
                f"{fmt(f('p99') / 1e3 if f('p99') else None)} | "
                f"{fmt(f('cpu_per_gib'), nd=3)} | "
                f"{fmt(f('hwm') / MiB if f('hwm') else None, nd=1)} | "
                + ("(base) | (base) | (base) |" if isbase else
                   f"{fratio(d.ratio(s, t, w, 'iops'))} | "
                   f"{fratio(d.ratio(s, t, w, 'lat_mean'))} | "
                   f"{fratio(d.ratio(s, t, w, 'cpu_per_gib'))} |"))
        add("")

    if res.get("idle"):
        n = res["idle"][0]["conns"]
        add(f"## {n} idle connections\n")
        add(f"{n} clients each complete the handshake (NBD_OPT_GO) over TCP and "
            "then hold the connection; meanwhile one active fio client runs 4 KiB "
            "random reads at iodepth 1. Per rep: a run without them, then open "
            "them, a run with them, close them. iopd runs with "
            "`--max-connections-per-address=0` (all clients come from "
            "127.0.0.1; its default allows 64 per address).\n")
        add("| server | RSS no clients MiB | RSS with idle MiB | threads no clients | "
            "threads with idle | opened | open time s | qd1 mean lat without µs | "
            "with µs | with / without |")
        add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for i in res["idle"]:
            r = i["reps"]
            lw = med([x["lat_without"] for x in r])
            lwi = med([x["lat_with"] for x in r])
            ratio = med([x["lat_with"] / x["lat_without"] for x in r
                         if x["lat_with"] and x["lat_without"]])
            add(f"| {i['label']} | {fmt(i['rss_before'] / MiB, nd=1)} | "
                f"{fmt(med([x['rss_held'] for x in r]) / MiB, nd=1)} | "
                f"{i['threads_before']} | {med([x['threads_held'] for x in r]):.0f} | "
                f"{min(x['opened'] for x in r)} | {fmt(med([x['open_s'] for x in r]), nd=2)} | "
                f"{fmt(lw / 1e3 if lw else None)} | {fmt(lwi / 1e3 if lwi else None)} | "
                f"{fratio(ratio)} |")
        add("")

    if res.get("qemu_probe"):
        add("## qemu-nbd option probe\n")
        add("Each option set served the image over a Unix socket for one short "
            "4 KiB randread qd32 and one 1 MiB read qd8 run; the set with the "
            "best geometric mean of IOPS and MB/s was used for the qemu-nbd rows. "
            "`--cache=unsafe` (ignores flushes) was not considered sane.\n")
        add("| options | 4k qd32 IOPS | 1M qd8 MB/s | |")
        add("| --- | ---: | ---: | --- |")
        for r in res["qemu_probe"]:
            chosen = r["opts"] == res.get("qemu_opts")
            add(f"| `{' '.join(r['opts'])}` | {fmt(r.get('iops'))} | "
                f"{fmt(r['bw'] / 1e6 if r.get('bw') else None)} | "
                f"{'chosen' if chosen else r.get('error', '')} |")
        add("")

    import iscsi_bench  # the iSCSI rows, bench/iscsi.sh
    L.extend(iscsi_bench.section(outdir))

    add("## Matrix\n")
    for s, t, w in res["plan"]:
        add(f"- {res['servers'][s]['label']} over {t}: {', '.join(w)}")
    add("")
    add("## Files\n")
    add("- `raw/`: every fio JSON (`<server>-<transport>-<workload>-rep<N>.json`, "
        "`direct-*`, `idle-*`, `qemu-probe-*`) and iperf3 JSON")
    add("- `results.json`: every run's parsed figures; `python3 bench/bench.py "
        "--report-only DIR` rebuilds this report from it")
    add("- `plots/`: gnuplot scripts and data; `logs/`: server stderr\n")
    add("## Command lines, in the order they were run\n")
    add("```")
    for c in res["commands"]:
        add(c)
    add("```")
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")
