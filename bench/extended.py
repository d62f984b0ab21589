# SPDX-License-Identifier: MIT
"""The extended benchmark sections, run by bench.py after the NBD matrix
(bench/run.sh --only SECTION,... picks some).  Each measures iopd against
nbdkit and qemu-nbd (tgt for iSCSI) in the same invocation, servers
alternating, and reports ratios with their spread over the reps:

  fixed   every server driven at the same offered load (fio --rate_iops,
          percent of the slowest server's maximum found just before);
          server CPU per 1,000 I/Os and per GiB
  sat     2 and 4 fio processes, each with its own connection
  disk    the image on the machine's disk, every server bypassing the
          page cache, and fio io_uring O_DIRECT on the file as the limit
  iscsiw  qemu-img bench writes, reads and a read+write mix over iSCSI,
          iopd against tgt
  stab    alternating reps of the key rows with the two ceilings: iperf3
          over loopback and iopd's null: device
  tls     NBD over TLS with certificates made here by certtool

section(res) renders the Markdown; charts(outdir, res) the PNGs.
"""
import os
import re
import shutil
import statistics
import subprocess
import time
import traceback

import bench
from bench import say, GiB, MiB

TRIO = ["iopd-uring", "nbdkit-file", "qemu-nbd"]
DISK_TRIO = ["iopd-disk", "nbdkit-disk", "qemu-disk"]
TLS_TRIO = ["iopd-tls", "nbdkit-tls", "qemu-tls"]
FIXED_WL = ["rr4k-qd32", "rw4k-qd32", "rr4k-qd1", "rw4k-qd1", "sr1m-qd8",
            "sw1m-qd8", "mix70-4k-qd32"]
SAT_WL = ["rr4k-qd32", "rw4k-qd32", "sr1m-qd8", "sw1m-qd8"]
TLS_WL = ["rr4k-qd32", "sr1m-qd8", "sw1m-qd8"]
START_ERRORS = (RuntimeError, OSError, subprocess.TimeoutExpired)


def jobs(n):
    return [] if n == 1 else [f"--numjobs={n}", "--group_reporting"]


# ---------------------------------------------------------------- running
def alternate(ctx, sec, sids, items, reps):
    """For each rep, every server in turn (the order rotated by one each
    rep, so no server always runs first) is started, warmed up, driven
    by items(sid) -> [(key, workload, extra fio args, info)] and stopped.
    reps: an int or a list of rep numbers."""
    runs = []
    for rep in (range(1, reps + 1) if isinstance(reps, int) else reps):
        k = (rep - 1) % len(sids)
        for sid in sids[k:] + sids[:k]:
            try:
                srv = bench.Server(ctx, sid, "tcp", tag=f"-{sec}").start()
            except START_ERRORS as e:
                ctx.problems.append(f"{sec}: {sid} could not start: {e}")
                continue
            try:
                bench.warmup(ctx, srv, f"{sec}-{sid}-rep{rep}")
                for key, wl, extra, info in items(sid):
                    r = bench.fio_nbd(ctx, srv, wl, f"{sec}-{sid}-{key}-rep{rep}",
                                      info.get("runtime", ctx.args.ext_runtime),
                                      extra)
                    r.update(info, server=sid, key=key, wl=wl, rep=rep)
                    runs.append(r)
                    say(f"  {sec} rep {rep} {sid:12s} {key:22s} "
                        f"{r.get('iops', 0):9.0f} IOPS "
                        f"{r.get('bw', 0) / 1e6:7.1f} MB/s cpu "
                        f"{r.get('cpu_per_kio') or 0:7.3f} s/kIO"
                        + ("" if r["ok"] else "  FAILED"))
            finally:
                srv.stop()
    return [r for r in runs if r["ok"]]


def med_of(runs, sid, key, metric):
    xs = [r[metric] for r in runs if r["server"] == sid and r["key"] == key
          and r.get(metric) is not None]
    return statistics.median(xs) if xs else None


def rate_args(wl, rate):
    """fio caps each direction separately: the mix gets 70/30 of it."""
    if wl.startswith("mix70"):
        return [f"--rate_iops={max(1, round(0.7 * rate))},"
                f"{max(1, round(0.3 * rate))}"]
    return [f"--rate_iops={max(1, round(rate))}"]


CPU_WANTED = 0.5   # s of server CPU per run: the 10 ms ticks then err < 4 %


def fixed_runtime(a, rate, cpu_per_io):
    """Long enough that the cheapest server (at its maximum, where the
    cost per I/O is lowest) spends CPU_WANTED; at most 2x (quick) or 4x
    the run time.  Every server runs a row for the same time."""
    t = CPU_WANTED / max(rate * cpu_per_io, 1e-9)
    return round(min(max(t, a.ext_runtime),
                     a.ext_runtime * (2 if a.quick else 4)), 1)


def run_fixed(ctx):
    """Maximum of each server per workload, then every server at the
    same rates: percentages of the slowest server's maximum."""
    a = ctx.args
    say("== fixed offered load: maxima")
    maxima = alternate(ctx, "fixed-max", TRIO,
                       lambda s: [(w, w, [], {}) for w in FIXED_WL], 1)
    rates, cheapest = {}, {}
    for w in FIXED_WL:
        per = [med_of(maxima, s, w, "iops") for s in TRIO]
        if None in per:
            ctx.problems.append(f"fixed: no maximum for {w} from every server")
            continue
        rates[w] = min(per)
        cheapest[w] = min(med_of(maxima, s, w, "cpu_per_kio") or 1e-3
                          for s in TRIO) / 1000
    items = lambda s: [(f"{w}@{p:g}%", w, rate_args(w, rates[w] * p / 100),
                        dict(pct=p, rate=rates[w] * p / 100,
                             runtime=fixed_runtime(a, rates[w] * p / 100,
                                                   cheapest[w])))
                       for w in rates for p in a.rates]
    say(f"== fixed offered load: {', '.join(f'{p:g}%' for p in a.rates)}")
    runs = alternate(ctx, "fixed", TRIO, items, a.ext_reps)
    return dict(servers=TRIO, maxima=maxima, runs=runs, rates=a.rates,
                slowest=rates, workloads=list(rates))


def run_sat(ctx):
    procs = [2, 4] if ctx.args.quick else [1, 2, 4]
    say(f"== saturation, {procs} fio processes")
    items = lambda s: [(f"{w}x{n}", w, jobs(n), dict(procs=n))
                       for w in SAT_WL for n in procs]
    runs = alternate(ctx, "sat", TRIO, items, ctx.args.ext_reps)
    return dict(servers=TRIO, runs=runs, procs=procs,
                keys=[f"{w}x{n}" for w in SAT_WL for n in procs])


def run_tls(ctx):
    say("== NBD over TLS")
    pki = make_pki(ctx)
    old = os.environ.get("HOME")
    # fio's nbd engine cannot pass libnbd a tls-certificates= directory:
    # libnbd also looks for the CA in $HOME/.pki/libnbd.
    os.environ["HOME"] = os.path.join(ctx.tmp, "home")
    ctx.pki = pki
    try:
        items = lambda s: [(w, w, [], {}) for w in TLS_WL]
        runs = alternate(ctx, "tls", TLS_TRIO, items, ctx.args.ext_reps)
    finally:
        if old is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = old
    return dict(servers=TLS_TRIO, runs=runs, keys=TLS_WL)


def make_pki(ctx):
    """A CA and a server certificate for localhost and 127.0.0.1 in the
    layout iopd, nbdkit and QEMU read (ca-cert.pem, server-cert.pem,
    server-key.pem); the CA also where libnbd looks by default."""
    d = os.path.join(ctx.tmp, "tls")
    pki = os.path.join(d, "pki")
    home = os.path.join(ctx.tmp, "home", ".pki", "libnbd")
    os.makedirs(pki)
    os.makedirs(home)
    with open(os.path.join(d, "ca.info"), "w") as f:
        f.write('cn = "iopd bench CA"\nca\ncert_signing_key\n')
    with open(os.path.join(d, "server.info"), "w") as f:
        f.write('cn = "localhost"\ndns_name = "localhost"\n'
                'ip_address = "127.0.0.1"\ntls_www_server\nsigning_key\n'
                'encryption_key\n')
    ca_key, ca = os.path.join(d, "ca-key.pem"), os.path.join(pki, "ca-cert.pem")
    key = os.path.join(pki, "server-key.pem")
    for argv in (
            ["certtool", "--generate-privkey", "--key-type=ecdsa",
             "--outfile", ca_key],
            ["certtool", "--generate-self-signed", "--load-privkey", ca_key,
             "--template", os.path.join(d, "ca.info"), "--outfile", ca],
            ["certtool", "--generate-privkey", "--key-type=ecdsa",
             "--outfile", key],
            ["certtool", "--generate-certificate", "--load-privkey", key,
             "--load-ca-certificate", ca, "--load-ca-privkey", ca_key,
             "--template", os.path.join(d, "server.info"),
             "--outfile", os.path.join(pki, "server-cert.pem")]):
        ctx.run(argv, check=True, capture_output=True)
    shutil.copy(ca, home)
    return pki


# ---------------------------------------------------------------- real disk
DISK_ITEMS = [("rr4k-qd32", "rr4k-qd32", []),
              ("rr4k-qd32x4", "rr4k-qd32", jobs(4)),
              ("rw4k-qd32", "rw4k-qd32", []),
              ("rw4k-qd32x4", "rw4k-qd32", jobs(4)),
              ("rr4k-qd1", "rr4k-qd1", []),
              ("sr1m-qd8", "sr1m-qd8", []),
              ("sw1m-qd8", "sw1m-qd8", [])]


def disk_fs(path):
    p = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", path],
                       capture_output=True, text=True)
    return p.stdout.strip() or "?"


def raw_direct(ctx, key, wl, extra, rep):
    """The storage limit: fio io_uring O_DIRECT on the image file."""
    out = os.path.join(ctx.raw, f"disk-raw-{key}-rep{rep}.json")
    argv = ["fio", f"--name={key}", "--ioengine=io_uring", "--direct=1",
            f"--filename={ctx.disk_img}"] + bench.WORKLOADS[wl][1] + extra + [
        f"--runtime={bench.fio_time(ctx.args.ext_runtime)}", "--time_based",
        "--norandommap", "--randrepeat=0", "--output-format=json",
        f"--output={out}"]
    ctx.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = bench.parse_fio(out)
    except (OSError, ValueError, KeyError, IndexError) as e:
        ctx.problems.append(f"disk: raw fio {key}: {e}")
        return None
    r.update(server="raw", key=key, wl=wl, rep=rep, ok=True)
    return r


def run_disk(ctx):
    a = ctx.args
    size = 1 if a.quick else 4
    d = subprocess.run(["mktemp", "-d", os.path.join(a.disk_dir,
                                                     "iopd-bench-disk.XXXXXX")],
                       capture_output=True, text=True, check=True).stdout.strip()
    ctx.disk_img = os.path.join(d, "disk.img")
    fs = disk_fs(d)
    say(f"== real storage: {size} GiB image in {d} ({fs})")
    try:
        # written with O_DIRECT, so none of it starts in the page cache
        ctx.run(["dd", "if=/dev/urandom", f"of={ctx.disk_img}", "bs=1M",
                 f"count={size * 1024}", "oflag=direct", "status=none"],
                check=True)
        runs = []
        for rep in range(1, a.ext_reps + 1):
            for key, wl, extra in DISK_ITEMS:
                r = raw_direct(ctx, key, wl, extra, rep)
                if r:
                    runs.append(r)
                    say(f"  disk rep {rep} raw fio {key:14s} "
                        f"{r['iops']:9.0f} IOPS {r['bw'] / 1e6:7.1f} MB/s")
        qemu_fallback(ctx)
        runs += alternate(ctx, "disk", DISK_TRIO,
                          lambda s: [(k, w, e, {}) for k, w, e in DISK_ITEMS],
                          a.ext_reps)
    finally:
        shutil.rmtree(d, ignore_errors=True)
        ctx.disk_img = None
    return dict(servers=DISK_TRIO, runs=runs, dir=a.disk_dir, fs=fs,
                size=size, keys=[k for k, _, _ in DISK_ITEMS],
                opts={s: bench.SERVERS[s]["how"] for s in DISK_TRIO})


def qemu_fallback(ctx):
    """qemu-nbd built without io_uring: use --aio=native (still O_DIRECT)."""
    try:
        bench.Server(ctx, "qemu-disk", "tcp", tag="-disk-check").start().stop()
    except START_ERRORS as e:
        conf = bench.SERVERS["qemu-disk"]
        conf["qemu_opts"] = ["--cache=none", "--aio=native"]
        conf["label"] = "qemu-nbd --cache=none --aio=native, disk"
        conf["how"] = "qemu-nbd --cache=none --aio=native"
        ctx.problems.append(f"disk: qemu-nbd {' '.join(bench.QEMU_DIRECT)} "
                            f"failed ({e}); used --aio=native")


# ---------------------------------------------------------------- stability
STAB_SIDS = ["iopd-null"] + TRIO


def run_stab(ctx):
    """Alternating reps of the key rows, with the ceilings in every rep."""
    a = ctx.args
    wls = ["rr4k-qd32", "sr1m-qd8"] + \
        ([] if a.quick else ["rr4k-qd1", "rw4k-qd32", "sw1m-qd8"])
    reps = 3 if a.quick else 5
    if a.ext_reps > 3:
        reps = a.ext_reps
    say(f"== stability: {reps} alternating reps")
    runs, iperf, direct = [], [], []
    for rep in range(1, reps + 1):
        iperf.append(bench.iperf3(ctx, f"stab{rep}"))
        for wl in ("rr4k-qd32", "sr1m-qd8"):
            r = bench.fio_direct(ctx, wl, bench.WORKLOADS[wl][1], f"stab{rep}")
            r.update(server="direct", key=wl, rep=rep, ok=True)
            direct.append(r)
        runs += alternate(ctx, "stab", STAB_SIDS,
                          lambda s: [(w, w, [], {}) for w in wls], [rep])
    return dict(servers=STAB_SIDS, runs=runs + direct, iperf=iperf,
                keys=wls, reps=reps)


# ---------------------------------------------------------------- iSCSI
# key: (title, [(qemu-img bench args, share of the queue)]) ; a 4 KiB
# step of 1 MiB + 4 KiB scatters the offsets over the whole image.
SCATTER = ["-s", "4096", "-S", str(MiB + 4096)]
ISCSI_WL = {
    "w4k-qd32": ("4 KiB scattered write, depth 32", [SCATTER + ["-w", "-d", "32"]]),
    "r4k-qd32": ("4 KiB scattered read, depth 32", [SCATTER + ["-d", "32"]]),
    "mix-4k": ("4 KiB scattered, a reader at depth 22 and a writer at depth 10 "
               "at once", [SCATTER + ["-d", "22"], SCATTER + ["-w", "-d", "10"]]),
    "w1m-qd8": ("1 MiB sequential write, depth 8", [["-s", "1M", "-w", "-d", "8"]]),
    "r1m-qd8": ("1 MiB sequential read, depth 8", [["-s", "1M", "-d", "8"]]),
}


def qemu_bench(ctx, url, args, count):
    """Start qemu-img bench processes at once; wait for all.  Returns
    (I/Os, bytes, seconds) or None."""
    procs = []
    for i, extra in enumerate(args):
        argv = ["qemu-img", "bench", "-f", "raw", "-c", str(count[i])] + \
            extra + ([] if i == 0 else ["-o", str(512 * MiB)]) + [url]
        ctx.log_cmd(argv)
        procs.append((argv, subprocess.Popen(argv, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, text=True)))
    secs, ios, nbytes = 0.0, 0, 0
    for i, (argv, p) in enumerate(procs):
        out = p.communicate(timeout=600)[0]
        m = re.search(r"Run completed in ([\d.]+) seconds", out)
        if p.returncode != 0 or not m:
            ctx.problems.append(f"{bench.shlex.join(argv)}: exit {p.returncode} "
                                f"{out.strip()[-300:]!r}")
            return None
        secs = max(secs, float(m.group(1)))
        size = MiB if "1M" in argv else 4096
        ios += count[i]
        nbytes += count[i] * size
    return ios, nbytes, secs


def run_iscsiw(ctx):
    import iscsi_bench
    say("== iSCSI writes and mix: qemu-img bench, iopd and tgt")

    class A:
        iopd = ctx.args.iopd
    run = iscsi_bench.Run(A)
    counts = {}
    runs = []
    for rep in range(1, ctx.args.ext_reps + 1):
        for sid, starter in (("iopd", iscsi_bench.start_iopd),
                             ("tgt", iscsi_bench.start_tgt)):
            with open(os.path.join(ctx.logs, f"iscsiw-{sid}.log"), "a") as logf:
                try:
                    p, url = starter(run, ctx.img, logf)
                except START_ERRORS as e:
                    ctx.problems.append(f"iscsiw: {sid} could not start: {e}")
                    continue
                try:
                    runs += iscsi_rows(ctx, sid, p.pid, url, rep, counts)
                finally:
                    iscsi_bench.stop(run, p)
    ctx.commands += run.commands
    ctx.problems += run.problems
    return dict(servers=["iopd", "tgt"], runs=runs, keys=list(ISCSI_WL),
                counts=counts,
                titles={k: v[0] for k, v in ISCSI_WL.items()})


def iscsi_rows(ctx, sid, pid, url, rep, counts):
    """Every ISCSI_WL row against one running target.  The first time a
    row runs, a short calibration run sizes its count to about the
    run time; every later run (either target) does the same count."""
    rows = []
    for key, (title, args) in ISCSI_WL.items():
        if key not in counts:
            small = [200 if "1M" in a else 5000 for a in args]
            got = qemu_bench(ctx, url, args, small)
            if not got:
                continue
            scale = ctx.args.ext_runtime / max(got[2], 0.01)
            counts[key] = [max(n, int(n * scale)) for n in small]
        c0 = bench.proc_cpu(pid)
        got = qemu_bench(ctx, url, args, counts[key])
        cpu = bench.proc_cpu(pid) - c0
        if not got:
            continue
        ios, nbytes, secs = got
        r = dict(server=sid, key=key, rep=rep, ok=True, iops=ios / secs,
                 bw=nbytes / secs, cpu=cpu, cpu_per_kio=1000 * cpu / ios,
                 cpu_per_gib=cpu / (nbytes / GiB), secs=secs)
        say(f"  iscsiw rep {rep} {sid:5s} {key:9s} {r['iops']:9.0f} IOPS "
            f"{r['bw'] / 1e6:7.1f} MB/s cpu {r['cpu_per_kio']:.3f} s/kIO")
        rows.append(r)
    return rows


# ---------------------------------------------------------------- entry
RUNNERS = {"fixed": run_fixed, "sat": run_sat, "disk": run_disk,
           "iscsiw": run_iscsiw, "stab": run_stab, "tls": run_tls}


def run(ctx, only):
    a = ctx.args
    a.ext_runtime = a.ext_runtime or (2 if a.quick else 5)
    a.ext_reps = a.ext_reps or (1 if a.quick else 3)
    a.rates = [float(x.strip().rstrip("%")) for x in
               (a.rates or ("20,60" if a.quick else "5,20,60,80")).split(",")]
    out = dict(runtime=a.ext_runtime, reps=a.ext_reps)
    for name, fn in RUNNERS.items():
        if name not in only:
            continue
        t0 = time.monotonic()
        try:
            out[name] = fn(ctx)
            out[name]["elapsed_s"] = time.monotonic() - t0
        except Exception as e:      # keep the other sections' figures
            ctx.problems.append(f"section {name} failed: "
                                f"{traceback.format_exc(limit=-3)}")
            say(f"section {name} failed: {e}")
    return out


# ---------------------------------------------------------------- report
SHORT = {"iopd-uring": "iopd", "nbdkit-file": "nbdkit", "qemu-nbd": "qemu-nbd",
         "iopd-disk": "iopd", "nbdkit-disk": "nbdkit", "qemu-disk": "qemu-nbd",
         "iopd-tls": "iopd", "nbdkit-tls": "nbdkit", "qemu-tls": "qemu-nbd",
         "iopd-null": "iopd null:", "raw": "fio O_DIRECT", "iopd": "iopd",
         "tgt": "tgt", "direct": "fio O_DIRECT"}


def fmt(x, scale=1, nd=None):
    if x is None:
        return "–"
    x = x / scale
    if nd is None:
        nd = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{nd}f}"


def per_rep_ratio(runs, a, b, key, metric):
    """a's figure over b's in the same rep, for every rep both ran."""
    A = {r["rep"]: r[metric] for r in runs if r["server"] == a
         and r["key"] == key and r.get(metric) is not None}
    B = {r["rep"]: r[metric] for r in runs if r["server"] == b
         and r["key"] == key and r.get(metric)}
    return [A[k] / B[k] for k in A if k in B]


def fratio(xs):
    """median×, with (min–max, stdev) when there is more than one rep"""
    if not xs:
        return "–"
    m = statistics.median(xs)
    if len(xs) == 1:
        return f"{m:.2f}×"
    return (f"{m:.2f}× ({min(xs):.2f}–{max(xs):.2f}, "
            f"sd {statistics.stdev(xs):.2f})")


def cells(runs, sids, key, metric, scale=1, nd=None):
    return " / ".join(fmt(med_of(runs, s, key, metric), scale, nd) for s in sids)


def table(runs, sids, keys, cols, ratios, label=lambda k: f"`{k}`"):
    """One row per key; each column holds "a / b / c" for the servers;
    then, per ratio metric, the first server over each other one."""
    names = " / ".join(SHORT.get(s, s) for s in sids)
    pairs = [(m, t, s) for m, t in ratios for s in sids[1:]]
    L = ["| row | " + " | ".join(f"{t} ({names})" for t, *_ in cols) + " | "
         + " | ".join(f"{SHORT[sids[0]]} ÷ {SHORT.get(s, s)} {t}"
                      for m, t, s in pairs) + " |",
         "| --- |" + " ---: |" * (len(cols) + len(pairs))]
    for k in keys:
        if not any(r["key"] == k for r in runs):
            continue
        L.append(f"| {label(k)} | "
                 + " | ".join(cells(runs, sids, k, m, sc, nd)
                              for _, m, sc, nd in cols) + " | "
                 + " | ".join(fratio(per_rep_ratio(runs, sids[0], s, k, m))
                              for m, t, s in pairs) + " |")
    return L + [""]


IOPS = ("IOPS", "iops", 1, None)
MBS = ("MB/s", "bw", 1e6, None)
KIO = ("CPU ms/1000 I/O", "cpu_per_kio", 1e-3, 3)    # s/kIO shown as ms
GIB = ("CPU s/GiB", "cpu_per_gib", 1, 3)
SRV_CORES = ("server cores", "srv_cores", 1, 2)   # CPU seconds per second
FIO_CORES = ("fio cores", "fio_cores", 1, 2)


def sec_fixed(f, ext):
    wl = bench.WORKLOADS
    L = ["### Fixed offered load: server CPU per I/O\n",
         "Each server's maximum was measured first (same run, fio nbd "
         "engine, one process); every server was then driven at the same "
         "offered rate, a percentage of the slowest server's maximum "
         "(`fio --rate_iops`; the 70/30 mix as `--rate_iops=0.7R,0.3R`). "
         "CPU is the server process's utime+stime (all threads, "
         "`/proc/PID/stat`) over the run, divided by the I/Os and by the "
         "GiB fio moved; it is counted in clock ticks (10 ms), so a row "
         "runs long enough for the cheapest server to spend about "
         f"{CPU_WANTED} s (judged from the maxima runs; up to 2× the run "
         "time in --quick, 4× otherwise; the row label gives the time). "
         "CPU ms per 1,000 I/Os equals µs per I/O. Ratios "
         "< 1 mean iopd spends less. \"achieved\" is the I/O rate fio "
         "reached: below the offered rate the server could not sustain it.\n",
         "| workload | slowest max IOPS | " + " | ".join(
             f"max IOPS {SHORT[s]}" for s in f["servers"]) + " |",
         "| --- | ---: |" + " ---: |" * len(f["servers"])]
    for w in f["workloads"]:
        L.append(f"| {wl[w][0]} (`{w}`) | {fmt(f['slowest'][w])} | " + " | ".join(
            fmt(med_of(f["maxima"], s, w, "iops")) for s in f["servers"]) + " |")
    L.append("")
    keys = [f"{w}@{p:g}%" for w in f["workloads"] for p in f["rates"]]
    rate = {r["key"]: r["rate"] for r in f["runs"]}
    secs = {r["key"]: r.get("runtime") for r in f["runs"]}
    L += table(f["runs"], f["servers"], keys,
               [("achieved IOPS", "iops", 1, None), KIO, GIB],
               [("cpu_per_kio", "CPU/I/O")],
               label=lambda k: f"`{k.split('@')[0]}` at {k.split('@')[1]} "
               f"({fmt(rate.get(k))} IOPS offered, {secs.get(k) or ext['runtime']:g} s)")
    short = [r for r in f["runs"] if r["iops"] < 0.95 * r["rate"]]
    if short:
        L.append("Runs that fell short of the offered rate by more than 5 %: "
                 + ", ".join(f"{SHORT[r['server']]} `{r['key']}` rep "
                             f"{r['rep']} ({fmt(r['iops'])} of "
                             f"{fmt(r['rate'])})" for r in short) + "\n")
    return L


def sec_generic(title, intro, d, cols, ratio):
    return [f"### {title}\n", intro + "\n"] + table(d["runs"], d["servers"],
                                                     d["keys"], cols, ratio)


def sec_stab(s, ext):
    ip = s["iperf"]
    L = [f"### Stability and ceilings ({s['reps']} alternating reps)\n",
         "Per rep: iperf3 over loopback, fio io_uring O_DIRECT on the "
         "tmpfs image (the storage limit), then iopd `null:1G`, iopd, "
         "nbdkit and qemu-nbd in turn (the order rotated each rep). Ratios "
         "are per rep: median (min–max, standard deviation).\n",
         f"- loopback ceiling, `iperf3 -c 127.0.0.1`: "
         f"**{fmt(statistics.median(ip) / 1e6)} MB/s** "
         f"(reps: {', '.join(fmt(x / 1e6) for x in ip)})"]
    for k in ("rr4k-qd32", "sr1m-qd8"):
        for who, what in (("direct", "storage limit, fio O_DIRECT on the image"),
                          ("iopd-null", "iopd `null:` ceiling")):
            xs = [r for r in s["runs"] if r["server"] == who and r["key"] == k]
            if xs:
                L.append(f"- {what}, `{k}`: **{fmt(med_of(xs, who, k, 'iops'))} "
                         f"IOPS**, {fmt(med_of(xs, who, k, 'bw'), 1e6)} MB/s "
                         f"(IOPS reps: {', '.join(fmt(r['iops']) for r in xs)})")
    L.append("")
    sids = ["iopd-uring", "nbdkit-file", "qemu-nbd"]
    L += table(s["runs"], sids, s["keys"], [IOPS, MBS, GIB],
               [("iops", "IOPS"), ("cpu_per_gib", "CPU/GiB")])
    L.append("Where each row sits, per rep: IOPS as a share of iopd `null:` "
             "(the protocol ceiling) and MB/s as a share of iperf3 (the "
             "loopback ceiling). `null:` answers reads with hole chunks, no "
             "payload, so for 1 MiB reads its figure is far above what "
             "loopback carries and iperf3 is the ceiling that matters.\n")
    L.append("| row | " + " | ".join(f"{SHORT[x]} ÷ null:" for x in sids)
             + " | " + " | ".join(f"{SHORT[x]} MB/s ÷ iperf3" for x in sids) + " |")
    L.append("| --- |" + " ---: |" * 2 * len(sids))
    for k in s["keys"]:
        L.append(f"| `{k}` | " + " | ".join(
            fratio(per_rep_ratio(s["runs"], x, "iopd-null", k, "iops"))
            for x in sids) + " | " + " | ".join(
            fratio([r["bw"] / ip[r["rep"] - 1] for r in s["runs"]
                    if r["server"] == x and r["key"] == k])
            for x in sids) + " |")
    return L + [""]


def sec_disk(d, ext):
    intro = (f"A {d['size']} GiB random-data image in `{d['dir']}` "
             f"(filesystem: {d['fs']}), written with O_DIRECT. Each server is "
             "told to bypass the page cache: "
             + "; ".join(f"`{d['opts'][s]}`" for s in d["servers"])
             + ". nbdkit's `cache=none` is not O_DIRECT: it evicts the pages "
             "it has read or written (posix_fadvise), so the data still "
             "passes through the cache. The first column is the storage "
             "limit, fio `--ioengine=io_uring --direct=1` on the file itself. "
             "`x4`: 4 fio processes, each with its own connection (or file "
             "descriptor). Ratios: iopd over each (over the raw limit: the "
             "share of it iopd reaches).")
    sids = ["iopd-disk", "nbdkit-disk", "qemu-disk"]
    L = ["### Real storage, page cache bypassed\n", intro + "\n"]
    L += table(d["runs"], sids[:1] + ["raw"] + sids[1:], d["keys"],
               [IOPS, MBS], [("iops", "IOPS")])
    L += table(d["runs"], sids, d["keys"], [GIB, KIO],
               [("cpu_per_gib", "CPU/GiB")])
    return L


def sec_iscsiw(d, ext):
    L = ["### iSCSI writes, reads and a mix: `qemu-img bench`, iopd and tgt\n",
         "`qemu-img bench -f raw` (QEMU's libiscsi driver) against iopd's "
         "iSCSI target and tgt serving the same tmpfs image, one target "
         "after the other; every run of a row does the same number of I/Os "
         "(sized by a calibration run to about the run time), and IOPS is "
         "I/Os over the elapsed time qemu-img reports. qemu-img bench has "
         "no random mode: the 4 KiB rows step 1 MiB + 4 KiB, which visits "
         "every 4 KiB block of the image in a scattered order. The mix runs "
         "a reader and a writer (two sessions) at once. Server CPU: "
         "utime+stime of iopd / tgtd.\n"]
    L += table(d["runs"], d["servers"], d["keys"], [IOPS, MBS, KIO, GIB],
               [("iops", "IOPS"), ("cpu_per_kio", "CPU/I/O")],
               label=lambda k: f"{d['titles'][k]} (`{k}`)")
    return L


def section(res):
    ext = res.get("ext") or {}
    if not any(k in ext for k in RUNNERS):
        return []
    L = ["## Extended sections\n",
         f"{ext['runtime']} s runs, {ext['reps']} rep(s) each unless said "
         "otherwise, servers alternating (the order rotated each rep); "
         "cells hold iopd / nbdkit / qemu-nbd (or the servers named in the "
         "header), medians over reps; ratios are per-rep ratios: median "
         "(min–max, standard deviation) when there is more than one rep. "
         "fio: nbd engine over TCP loopback, one process unless `xN`.\n"]
    L += sec_targets(ext)
    if "fixed" in ext:
        L += sec_fixed(ext["fixed"], ext)
    if "sat" in ext:
        L += sec_generic(
            "Saturation with several client processes",
            "`WORKLOADxN`: N fio processes (`--numjobs=N`), each with its "
            "own NBD connection, same per-process queue depth; totals. "
            "Cores: CPU seconds per second of the run, the server's "
            "(`/proc/PID/stat`) and fio's own (its report's usr_cpu and "
            "sys_cpu, all its job processes); where the two add up to the "
            f"machine's {os.cpu_count()} CPUs, the machine, not the server, "
            "is the limit, and what fio spends is CPU the server can't have.",
            ext["sat"], [IOPS, MBS, GIB, SRV_CORES, FIO_CORES],
            [("iops", "IOPS"), ("cpu_per_gib", "CPU/GiB")])
    if "disk" in ext:
        L += sec_disk(ext["disk"], ext)
    if "iscsiw" in ext:
        L += sec_iscsiw(ext["iscsiw"], ext)
    if "stab" in ext:
        L += sec_stab(ext["stab"], ext)
    if "tls" in ext:
        L += sec_generic(
            "NBD over TLS",
            "`iopd --tls=require --tls-certificates=DIR`, `nbdkit "
            "--tls=require --tls-certificates=DIR file`, `qemu-nbd --object "
            "tls-creds-x509,id=tls0,endpoint=server,dir=DIR,verify-peer=off "
            "--tls-creds=tls0`; the same ECDSA CA and server certificate "
            "(made by certtool in this run), the same tmpfs image; fio "
            "connects with `nbds://127.0.0.1:PORT/disk` and finds the CA in "
            "`$HOME/.pki/libnbd`.",
            ext["tls"], [IOPS, MBS, GIB], [("iops", "throughput"),
                                           ("cpu_per_gib", "CPU/GiB")])
    took = ", ".join(f"{k} {ext[k]['elapsed_s'] / 60:.1f} min"
                     for k in RUNNERS if k in ext and "elapsed_s" in ext[k])
    L.append(f"Time per section: {took}.\n")
    return L


def charts(outdir, res, report):
    """ext-cpu.png: CPU per I/O at fixed load; ext-sat.png: saturation."""
    ext = res.get("ext") or {}
    made = {}
    f = ext.get("fixed")
    if f and f["runs"]:
        keys = [f"{w}@{p:g}%" for w in f["workloads"] for p in f["rates"]]
        rows = [[k] + [med_of(f["runs"], s, k, "cpu_per_kio") and
                       1e3 * med_of(f["runs"], s, k, "cpu_per_kio")
                       for s in f["servers"]] for k in keys]
        dat = report.dat(outdir, "ext-cpu", ["row"] + [SHORT[s] for s in
                                                    f["servers"]], rows)
        if report.gnuplot(outdir, "ext-cpu", report.HIST.format(
                png="ext-cpu.png", title="Server CPU per I/O at the same "
                "offered load (lower is better)", key="below",
                ylabel="CPU µs per I/O (log scale)", n=len(f["servers"]) + 1,
                dat=dat, extra="set logscale y\nset yrange [1:*]\nset rmargin 10")):
            made["ext-cpu"] = "ext-cpu.png"
    s = ext.get("sat")
    if s and s["runs"]:
        rows = [[k] + [med_of(s["runs"], x, k, "iops") for x in s["servers"]]
                for k in s["keys"]]
        dat = report.dat(outdir, "ext-sat", ["row"] + [SHORT[x] for x in
                                                    s["servers"]], rows)
        if report.gnuplot(outdir, "ext-sat", report.HIST.format(
                png="ext-sat.png", title="Saturation: total IOPS with N fio "
                "processes", key="below", ylabel="IOPS (log scale)",
                n=len(s["servers"]) + 1, dat=dat, extra="set logscale y")):
            made["ext-sat"] = "ext-sat.png"
    return made


# ---------------------------------------------------------------- targets
def worst(runs, a, b, keys, metric, hi):
    """The worst per-key median ratio a/b over keys: (key, ratio)."""
    xs = [(k, statistics.median(v)) for k in keys
          if (v := per_rep_ratio(runs, a, b, k, metric))]
    if not xs:
        return None
    return (max if not hi else min)(xs, key=lambda x: x[1])


def target_rows(ext):
    """(target, threshold, measured, met?) from the extended sections."""
    rows = []

    def add(name, thr, w, ok):
        rows.append((name, thr, "–" if w is None else f"{w[1]:.2f}× (`{w[0]}`)",
                     None if w is None else ok(w[1])))
    f = ext.get("fixed")
    if f:
        keys = [r["key"] for r in f["runs"]]
        k4 = sorted({k for k in keys if "4k" in k})
        k1m = sorted({k for k in keys if "1m" in k})
        add("server CPU per I/O at a fixed rate, 4 KiB, ÷ nbdkit (worst)",
            "≤ 0.5×", worst(f["runs"], "iopd-uring", "nbdkit-file", k4,
                            "cpu_per_kio", False), lambda x: x <= 0.5)
        add("server CPU per I/O at a fixed rate, 1 MiB, ÷ nbdkit (worst)",
            "≤ 0.6×", worst(f["runs"], "iopd-uring", "nbdkit-file", k1m,
                            "cpu_per_kio", False), lambda x: x <= 0.6)
        add("4 KiB qd1 mean latency ÷ nbdkit (maxima runs, worst)", "≤ 0.7×",
            worst(f["maxima"], "iopd-uring", "nbdkit-file",
                  ["rr4k-qd1", "rw4k-qd1"], "lat_mean", False),
            lambda x: x <= 0.7)
    s = ext.get("sat")
    if s:
        add("4 processes, 4 KiB IOPS ÷ nbdkit (worst)", "≥ 2×",
            worst(s["runs"], "iopd-uring", "nbdkit-file",
                  ["rr4k-qd32x4", "rw4k-qd32x4"], "iops", True),
            lambda x: x >= 2)
        add("4 processes, 1 MiB MB/s ÷ nbdkit (worst)", "≥ 1.3×",
            worst(s["runs"], "iopd-uring", "nbdkit-file",
                  ["sr1m-qd8x4", "sw1m-qd8x4"], "bw", True),
            lambda x: x >= 1.3)
    st = ext.get("stab")
    if st:
        add("iopd file on tmpfs ÷ iopd null:, 4 KiB qd32 IOPS", "≥ 0.95×",
            worst(st["runs"], "iopd-uring", "iopd-null", ["rr4k-qd32"],
                  "iops", True), lambda x: x >= 0.95)
    d = ext.get("disk")
    if d:
        add("real storage, 4 KiB read qd32 × 4 processes ÷ raw fio O_DIRECT",
            "≥ 0.9×", worst(d["runs"], "iopd-disk", "raw", ["rr4k-qd32x4"],
                            "iops", True), lambda x: x >= 0.9)
        add("real storage, 4 KiB qd32 IOPS ÷ qemu-nbd --cache=none (worst)",
            "≥ 1.3×", worst(d["runs"], "iopd-disk", "qemu-disk",
                            ["rr4k-qd32", "rr4k-qd32x4", "rw4k-qd32",
                             "rw4k-qd32x4"], "iops", True), lambda x: x >= 1.3)
    i = ext.get("iscsiw")
    if i:
        add("iSCSI (qemu-img bench) IOPS ÷ tgt, every row (worst)", "≥ 2×",
            worst(i["runs"], "iopd", "tgt", i["keys"], "iops", True),
            lambda x: x >= 2)
        add("iSCSI 4 KiB CPU per I/O ÷ tgt (worst)", "≤ 0.5×",
            worst(i["runs"], "iopd", "tgt", [k for k in i["keys"] if "4k" in k],
                  "cpu_per_kio", False), lambda x: x <= 0.5)
    t = ext.get("tls")
    if t:
        add("TLS throughput ÷ nbdkit (worst)", "≥ 1.3×",
            worst(t["runs"], "iopd-tls", "nbdkit-tls", t["keys"], "iops",
                  True), lambda x: x >= 1.3)
        add("TLS CPU per GiB ÷ nbdkit (worst)", "≤ 0.7×",
            worst(t["runs"], "iopd-tls", "nbdkit-tls", t["keys"],
                  "cpu_per_gib", False), lambda x: x <= 0.7)
    return rows


def sec_targets(ext):
    rows = target_rows(ext)
    if not rows:
        return []
    L = ["### Targets measured by the extended sections\n",
         "Each is the worst row of its kind, the per-rep ratio's median; "
         "with the machine busy, read it next to that row's spread.\n",
         "| target | threshold | measured (worst row) | met? |",
         "| --- | --- | --- | --- |"]
    for name, thr, meas, ok in rows:
        v = "–" if ok is None else ("**met**" if ok else "**not met**")
        L.append(f"| {name} | {thr} | {meas} | {v} |")
    return L + [""]
