#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""iSCSI benchmark: iscsi-perf (libiscsi-bin) against iopd's
iSCSI target and against tgt (tgtd, its rdwr backend), serving the same
1 GiB random-data image on tmpfs in the same run, servers interleaved in
each rep.  Run through bench/iscsi.sh (or bench/run.sh, which calls it).

Workloads (iscsi-perf reads; it has no write mode):
  rr4k-qd32  4 KiB random read, 32 outstanding requests (-r -m 32)
  sr1m-qd8   1 MiB sequential read, 8 outstanding requests (-m 8)
Figures are medians over the reps; the ratio iopd/tgt is the median of
the per-rep ratios.  Server CPU is utime+stime of the server process over
the run (tgtd: all its threads).

section(outdir) renders the Markdown that bench/report.py puts in the
main report.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
GiB = 1 << 30

WORKLOADS = {
    "rr4k-qd32": ("4 KiB random read, 32 outstanding", 4096, 32, True),
    "sr1m-qd8": ("1 MiB sequential read, 8 outstanding", 1 << 20, 8, False),
}
TARGETS = {"rr4k-qd32": 1.5, "sr1m-qd8": 1.3}   # iopd / tgt to reach
IQN = "iqn.2026-11.org.iopd:disk"
TGT_IQN = "iqn.2026-11.org.iopd.bench:tgt"


def say(*a):
    print(*a, file=sys.stderr, flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.commands = []
        self.live = {}          # pid -> Popen of servers we started
        self.problems = []

    def log(self, argv):
        self.commands.append(" ".join(argv))

    def call(self, argv, **kw):
        self.log(argv)
        return subprocess.run(argv, **kw)


def start_iopd(run, img, logf):
    import bench
    rfd, wfd = os.pipe()
    argv = [run.args.iopd, "--listen", "127.0.0.1:0", "--iscsi-listen",
            "127.0.0.1:0", "--ready-fd", str(wfd), "--log-level=warn",
            f"disk={img}"]
    run.log(argv)
    p = subprocess.Popen(argv, pass_fds=(wfd,), stdout=logf, stderr=logf,
                         stdin=subprocess.DEVNULL)
    os.close(wfd)
    try:
        lines = bench.read_until(rfd, b"READY", 30, "iopd")
    finally:
        os.close(rfd)
    run.live[p.pid] = p
    portal = [l.split()[2] for l in lines if l.startswith("LISTEN iscsi ")]
    if "READY" not in lines or not portal:
        raise RuntimeError(f"iopd: no READY or no iSCSI portal: {lines}")
    return p, f"iscsi://{portal[0]}/{IQN}/0"


def start_tgt(run, img, logf):
    """tgtd on a private portal and control port; configured with tgtadm.
    Ready when tgtadm answers (tgtd has no readiness signal)."""
    import bench
    import random
    port = bench.free_port()
    # -C names tgtd's control socket /var/run/tgtd/socket.N, not a port.
    ctl = random.choice([n for n in range(20000, 30000) if not
                         os.path.exists(f"/var/run/tgtd/socket.{n}")])
    argv = ["tgtd", "-f", "-C", str(ctl), "--iscsi",
            f"portal=127.0.0.1:{port}"]
    run.log(argv)
    p = subprocess.Popen(argv, stdout=logf, stderr=logf,
                         stdin=subprocess.DEVNULL)
    run.live[p.pid] = p
    p.tgt_ctl = ctl
    adm = ["tgtadm", "-C", str(ctl), "--lld", "iscsi"]
    deadline = time.monotonic() + 30
    while subprocess.run(adm + ["--mode", "target", "--op", "show"],
                         capture_output=True).returncode != 0:
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("tgtd did not come up")
        time.sleep(0.05)    # polling tgtadm: the readiness probe itself
    for extra in (["--mode", "target", "--op", "new", "--tid", "1",
                   "--targetname", TGT_IQN],
                  ["--mode", "logicalunit", "--op", "new", "--tid", "1",
                   "--lun", "1", "--backing-store", img],
                  ["--mode", "target", "--op", "bind", "--tid", "1",
                   "--initiator-address", "127.0.0.1"]):
        run.call(adm + extra, check=True, capture_output=True)
    # tgt's LUN 0 is its controller; the disk is LUN 1.
    return p, f"iscsi://127.0.0.1:{port}/{TGT_IQN}/1"


def stop(run, p):
    ctl = getattr(p, "tgt_ctl", None)
    if ctl is not None and p.poll() is None:
        # tgtd ignores SIGTERM while it has targets: remove them, then
        # ask it to exit.
        adm = ["tgtadm", "-C", str(ctl)]
        run.call(adm + ["--lld", "iscsi", "--mode", "target", "--op",
                        "delete", "--force", "--tid", "1"],
                 capture_output=True)
        run.call(adm + ["--mode", "system", "--op", "delete"],
                 capture_output=True)
    elif p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        run.problems.append(f"pid {p.pid} ignored the stop request; killed")
        p.kill()
        p.wait()
    if ctl is not None:
        for f in (f"socket.{ctl}", f"socket.{ctl}.lock"):
            try:
                os.unlink(f"/var/run/tgtd/{f}")
            except OSError:
                pass
    run.live.pop(p.pid, None)


def block_size(url):
    out = subprocess.run(["iscsi-readcapacity16", url], capture_output=True,
                         text=True).stdout
    m = re.search(r"LOGICAL BLOCK LENGTH IN BYTES:(\d+)", out)
    return int(m.group(1)) if m else 512


def perf(run, server, url, wl, rep, bs):
    import bench
    title, req, qd, rnd = WORKLOADS[wl]
    argv = ["iscsi-perf", "-m", str(qd), "-b", str(req // bs),
            "-t", str(run.args.runtime)] + (["-r"] if rnd else []) + [url]
    run.log(argv)
    cpu0 = bench.proc_cpu(server.pid)
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=run.args.runtime + 60)
    el = time.monotonic() - t0
    cpu = bench.proc_cpu(server.pid) - cpu0
    raw = os.path.join(run.args.outdir, "raw",
                       f"iscsi-{wl}-{os.path.basename(url.split('/')[3])}-rep{rep}.txt")
    with open(raw, "w") as f:
        f.write(p.stdout + p.stderr)
    m = re.findall(r"iops average (\d+)", p.stdout.replace("\r", "\n"))
    if p.returncode != 0 or not m:
        run.problems.append(f"{' '.join(argv)}: exit {p.returncode}, "
                            f"{(p.stdout + p.stderr)[-300:]!r}")
        return None
    iops = int(m[-1])
    bw = iops * req
    return dict(iops=iops, bw=bw, cpu=cpu,
                cpu_per_gib=cpu / (bw * el / GiB) if bw else None)


def measure(args):
    run = Run(args)
    os.makedirs(os.path.join(args.outdir, "raw"), exist_ok=True)
    os.makedirs(os.path.join(args.outdir, "logs"), exist_ok=True)
    tmp = subprocess.run(["mktemp", "-d", "/dev/shm/iopd-bench-iscsi.XXXXXX"],
                         capture_output=True, text=True,
                         check=True).stdout.strip()
    img = os.path.join(tmp, "disk.img")
    res = dict(reps=args.reps, runtime=args.runtime, size=args.size,
               workloads={
        k: v[0] for k, v in WORKLOADS.items()}, runs=[], problems=[])
    t_start = time.monotonic()
    try:
        with open(img, "wb") as f:
            left = args.size
            while left:
                n = min(left, 16 << 20)
                f.write(os.urandom(n))
                left -= n
        for rep in range(1, args.reps + 1):
            for sid, starter in (("iopd", start_iopd), ("tgt", start_tgt)):
                with open(os.path.join(args.outdir, "logs",
                                       f"iscsi-{sid}.log"), "a") as logf:
                    srv, url = starter(run, img, logf)
                    try:
                        bs = block_size(url)
                        # untimed warm-up: login, first reads
                        subprocess.run(["iscsi-perf", "-m", "1", "-b",
                                        str(4096 // bs), "-t", "1", url],
                                       capture_output=True, timeout=60)
                        for wl in WORKLOADS:
                            say(f"iscsi rep {rep}: {sid} {wl}")
                            r = perf(run, srv, url, wl, rep, bs)
                            if r:
                                r.update(server=sid, workload=wl, rep=rep,
                                         block_size=bs)
                                res["runs"].append(r)
                    finally:
                        stop(run, srv)
    finally:
        for p in list(run.live.values()):
            stop(run, p)
        shutil.rmtree(tmp, ignore_errors=True)
    res["problems"] = run.problems
    res["commands"] = run.commands
    res["elapsed_s"] = time.monotonic() - t_start
    res["versions"] = {
        "tgtd": subprocess.run(["tgtd", "-V"], capture_output=True,
                               text=True).stdout.strip(),
        "libiscsi": subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libiscsi-bin"],
            capture_output=True, text=True).stdout.strip()}
    return res


# ---------------------------------------------------------------- report
def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fmt(x, nd=None):
    if x is None:
        return "–"
    if nd is None:
        nd = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{nd}f}"


def results_path(outdir):
    """outdir/iscsi.json; adopted from $BENCH_ISCSI_JSON (bench/run.sh ran
    bench/iscsi.sh before bench.py chose outdir) when missing."""
    path = os.path.join(outdir, "iscsi.json")
    env = os.environ.get("BENCH_ISCSI_JSON")
    if not os.path.exists(path) and env and os.path.exists(env) and \
            os.path.getsize(env):
        shutil.copy(env, path)
    return path if os.path.exists(path) and os.path.getsize(path) else None


def section(outdir):
    """Markdown lines for the report (empty without iSCSI results)."""
    path = results_path(outdir)
    if not path:
        return []
    with open(path) as f:
        res = json.load(f)
    by = {}
    for r in res["runs"]:
        by.setdefault((r["server"], r["workload"]), {})[r["rep"]] = r
    L = ["## iSCSI: iopd against tgt (iscsi-perf)\n",
         f"`iscsi-perf` (libiscsi {res['versions'].get('libiscsi', '?')}) "
         f"reads the same {res.get('size', GiB) / GiB:g} GiB random-data "
         f"tmpfs image from iopd's iSCSI "
         f"target and from tgt ({res['versions'].get('tgtd', '?')}, rdwr "
         f"backend) in turn; {res['runtime']} s runs, {res['reps']} reps, "
         "servers interleaved in each rep, each restarted per rep and warmed "
         "up by an untimed 1 s qd1 read. Figures are medians; ×tgt is the "
         "median of the per-rep ratios. iscsi-perf only reads. MB = 10^6 "
         "bytes.\n",
         "| workload | server | IOPS | MB/s | CPU s/GiB | ×tgt IOPS | target | met? |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for wl, title in res["workloads"].items():
        a, b = by.get(("iopd", wl), {}), by.get(("tgt", wl), {})
        ratio = _med([a[k]["iops"] / b[k]["iops"] for k in a
                      if k in b and b[k]["iops"]])
        for sid, rs in (("iopd", a), ("tgt", b)):
            iops = _med([r["iops"] for r in rs.values()])
            bw = _med([r["bw"] for r in rs.values()])
            cpu = _med([r["cpu_per_gib"] for r in rs.values()])
            if sid == "iopd":
                met = ("–" if ratio is None else
                       ("**met**" if ratio >= TARGETS[wl] else "**not met**"))
                extra = (f"{'–' if ratio is None else f'{ratio:.2f}×'} | "
                         f"≥ {TARGETS[wl]}× | {met} |")
            else:
                extra = "(base) | | |"
            L.append(f"| {title} (`{wl}`) | {sid} | {_fmt(iops)} | "
                     f"{_fmt(bw / 1e6 if bw else None)} | {_fmt(cpu, 3)} | "
                     + extra)
    L.append("")
    if res.get("problems"):
        L.append("Problems during the iSCSI runs:\n")
        L += [f"- `{p}`" for p in res["problems"]]
        L.append("")
    L.append("<details><summary>iSCSI command lines</summary>\n\n```")
    L += res["commands"]
    L.append("```\n</details>\n")
    return L


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", help="write DIR/iscsi.json and DIR/iscsi.md")
    ap.add_argument("--json", help="write the results here instead")
    ap.add_argument("--runtime", type=float)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--iopd", default=os.path.join(REPO, "build", "iopd"))
    ap.add_argument("--size", type=int, default=GiB)
    ap.add_argument("--report-only", metavar="DIR")
    a, _ = ap.parse_known_args()     # bench.py's options pass through
    if a.report_only:
        return 0                     # bench.py rebuilds; section() renders
    a.runtime = int(a.runtime or (2 if a.quick else 5))
    a.iopd = os.path.abspath(a.iopd)
    if a.out:
        a.outdir = os.path.abspath(a.out)
    elif a.json:
        a.outdir = os.path.abspath(a.json) + ".d"   # raw output, logs
    else:
        a.outdir = os.path.join(REPO, "bench", "results",
                                time.strftime("%Y%m%d-%H%M") + "-iscsi")
    os.makedirs(a.outdir, exist_ok=True)
    res = measure(a)
    path = os.path.abspath(a.json) if a.json else os.path.join(a.outdir,
                                                               "iscsi.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    if not a.json:
        with open(os.path.join(a.outdir, "iscsi.md"), "w") as f:
            f.write("\n".join(section(a.outdir)) + "\n")
        say(f"iSCSI report: {os.path.join(a.outdir, 'iscsi.md')}")
    return 1 if res["problems"] and not res["runs"] else 0


if __name__ == "__main__":
    sys.exit(main())
