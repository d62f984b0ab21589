#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""iopd benchmark driver.  Run it through bench/run.sh, which
installs the tools and builds iopd first.  See bench/README.md.

Everything a figure depends on is measured in the same run: each rep
starts every server in turn on the same tmpfs image, runs every workload
against it with fio's nbd engine, and stops it; the limits (iperf3,
fio directly on the image) are measured in every rep too.  Figures are
medians over the reps; ratios are medians of the per-rep ratios.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GiB = 1 << 30
MiB = 1 << 20

# ---------------------------------------------------------------- workloads
# key: (title, fio arguments)
WORKLOADS = {
    "rr4k-qd1": ("4 KiB random read, iodepth 1",
                 ["--rw=randread", "--bs=4k", "--iodepth=1"]),
    "rr4k-qd32": ("4 KiB random read, iodepth 32",
                  ["--rw=randread", "--bs=4k", "--iodepth=32"]),
    "rw4k-qd1": ("4 KiB random write, iodepth 1",
                 ["--rw=randwrite", "--bs=4k", "--iodepth=1"]),
    "rw4k-qd32": ("4 KiB random write, iodepth 32",
                  ["--rw=randwrite", "--bs=4k", "--iodepth=32"]),
    "sr1m-qd8": ("1 MiB sequential read, iodepth 8",
                 ["--rw=read", "--bs=1M", "--iodepth=8"]),
    "sw1m-qd8": ("1 MiB sequential write, iodepth 8",
                 ["--rw=write", "--bs=1M", "--iodepth=8"]),
    "mc4-rr4k-qd16": ("4 KiB random read, 4 connections x iodepth 16 (multi-conn)",
                      ["--rw=randread", "--bs=4k", "--iodepth=16",
                       "--numjobs=4", "--group_reporting"]),
    "mix70-4k-qd32": ("4 KiB random 70% read / 30% write, iodepth 32",
                      ["--rw=randrw", "--rwmixread=70", "--bs=4k",
                       "--iodepth=32"]),
}
WL_ALL = list(WORKLOADS)

# ---------------------------------------------------------------- servers
# kind, what it serves, label, the nbdkit row it is compared with
SERVERS = {
    "iopd-uring": dict(kind="iopd", engine="uring", spec="IMG",
                       label="iopd io_uring, file", base="nbdkit-file"),
    "iopd-epoll": dict(kind="iopd", engine="epoll", spec="IMG",
                       label="iopd epoll, file", base="nbdkit-file"),
    "nbdkit-file": dict(kind="nbdkit", plugin=["file", "IMG"],
                        label="nbdkit file", base="nbdkit-file"),
    "qemu-nbd": dict(kind="qemu", label="qemu-nbd, file", base="nbdkit-file"),
    "iopd-ram": dict(kind="iopd", engine="uring", spec="ram:1G",
                     label="iopd io_uring, ram:1G", base="nbdkit-memory"),
    "nbdkit-memory": dict(kind="nbdkit", plugin=["memory", "1G"],
                          label="nbdkit memory 1G", base="nbdkit-memory"),
    "iopd-null": dict(kind="iopd", engine="uring", spec="null:1G",
                      label="iopd io_uring, null:1G", base="nbdkit-null"),
    "nbdkit-null": dict(kind="nbdkit", plugin=["null", "1G"],
                        label="nbdkit null 1G", base="nbdkit-null"),
}
# The extended sections' servers (bench/extended.py): DISK is the image on
# the machine's disk, each server told to bypass the page cache; tls: NBD
# over TLS with the certificates the bench makes (ctx.pki).
QEMU_DIRECT = ["--cache=none", "--aio=io_uring"]
SERVERS.update({
    "iopd-disk": dict(kind="iopd", engine="uring", spec="DISK",
                      args=["--direct=on"], how="iopd --direct=on",
                      label="iopd --direct=on, disk",
                      base="nbdkit-disk"),
    "nbdkit-disk": dict(kind="nbdkit", plugin=["file", "DISK", "cache=none"],
                        how="nbdkit file cache=none",
                        label="nbdkit file cache=none, disk",
                        base="nbdkit-disk"),
    "qemu-disk": dict(kind="qemu", img="DISK", qemu_opts=QEMU_DIRECT,
                      how="qemu-nbd " + " ".join(QEMU_DIRECT),
                      label="qemu-nbd " + " ".join(QEMU_DIRECT) + ", disk",
                      base="nbdkit-disk"),
    "iopd-tls": dict(kind="iopd", engine="uring", spec="IMG", tls=True,
                     label="iopd --tls=require", base="nbdkit-tls"),
    "nbdkit-tls": dict(kind="nbdkit", plugin=["file", "IMG"], tls=True,
                       label="nbdkit --tls=require", base="nbdkit-tls"),
    "qemu-tls": dict(kind="qemu", tls=True, label="qemu-nbd --tls-creds",
                     base="nbdkit-tls"),
})
SECTIONS = ["matrix", "idle", "iscsi", "fixed", "sat", "disk", "iscsiw",
            "stab", "tls"]
SERVER_ORDER = list(SERVERS)

QEMU_CANDIDATES = [
    ["--cache=none", "--aio=io_uring"],
    ["--cache=none", "--aio=native"],
    ["--cache=none", "--aio=threads"],
    ["--cache=writeback", "--aio=io_uring"],
    ["--cache=writeback", "--aio=threads"],
]


def plan(quick):
    """The matrix: list of (server, transport, [workloads])."""
    if quick:
        return [
            ("iopd-uring", "tcp", WL_ALL),
            ("iopd-epoll", "tcp", WL_ALL),
            ("nbdkit-file", "tcp", WL_ALL),
            ("qemu-nbd", "tcp", ["rr4k-qd1", "rr4k-qd32", "sr1m-qd8"]),
            ("iopd-uring", "unix", ["rr4k-qd32"]),
            ("nbdkit-file", "unix", ["rr4k-qd32"]),
            ("iopd-ram", "tcp", ["rr4k-qd32"]),
            ("nbdkit-memory", "tcp", ["rr4k-qd32"]),
            ("iopd-null", "tcp", ["rr4k-qd32"]),
            ("nbdkit-null", "tcp", ["rr4k-qd32"]),
        ]
    unix_wl = ["rr4k-qd1", "rr4k-qd32", "rw4k-qd32", "sr1m-qd8"]
    extra_wl = ["rr4k-qd32", "rw4k-qd32", "sr1m-qd8", "sw1m-qd8"]
    p = [(s, "tcp", WL_ALL) for s in
         ("iopd-uring", "iopd-epoll", "nbdkit-file", "qemu-nbd")]
    p += [(s, "unix", unix_wl) for s in
          ("iopd-uring", "iopd-epoll", "nbdkit-file", "qemu-nbd")]
    p += [(s, "tcp", extra_wl) for s in
          ("iopd-ram", "nbdkit-memory", "iopd-null", "nbdkit-null")]
    return p


# ---------------------------------------------------------------- helpers
class Ctx:
    def __init__(self, args):
        self.args = args
        self.commands = []          # every command line, as run
        self.live = {}              # pid -> description (servers we started)
        self.out = args.out
        self.raw = os.path.join(self.out, "raw")
        self.logs = os.path.join(self.out, "logs")
        os.makedirs(self.raw, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)
        self.tmp = args.tmp
        self.img = os.path.join(self.tmp, "disk.img")
        self.disk_img = None        # extended.py's image on the disk
        self.pki = None             # extended.py's TLS certificates
        self.seq = 0
        self.problems = []          # anything that looked broken

    def path(self, p):
        return p.replace("DISK", self.disk_img or "DISK").replace(
            "IMG", self.img)

    def log_cmd(self, argv, note=""):
        s = shlex.join(argv) if isinstance(argv, list) else argv
        self.commands.append(s + (f"   # {note}" if note else ""))

    def run(self, argv, note="", **kw):
        self.log_cmd(argv, note)
        return subprocess.run(argv, **kw)


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu(pid):
    """utime+stime of the whole process (all threads, live and exited), s."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.strip()
    kb = lambda k: int(d.get(k, "0 kB").split()[0]) * 1024
    return dict(rss=kb("VmRSS"), hwm=kb("VmHWM"), threads=int(d["Threads"]),
                name=d.get("Name"))


def reset_hwm(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")            # resets VmHWM to the current RSS
    except OSError:
        pass


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def read_until(fd, stop, timeout, what):
    """Read lines from fd until one starts with stop (or EOF).  Bounded by
    timeout, but never sleeps: select() wakes on data."""
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{what}: not ready after {timeout}s")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        if any(l.startswith(stop) for l in buf.split(b"\n")):
            break
    return buf.decode(errors="replace").splitlines()


# ---------------------------------------------------------------- servers
class Server:
    """One running server.  .pid is the process doing the work (not a
    wrapper), .uri the fio/libnbd URI for the chosen transport."""

    def __init__(self, ctx, sid, transport, qemu_opts=None, tag="", extra=()):
        self.ctx, self.sid, self.transport = ctx, sid, transport
        self.conf = SERVERS[sid]
        self.proc = None
        self.pid = None
        self.uri = None
        self.tcp = None     # (host, port)
        self.unix = None
        self.qemu_opts = qemu_opts
        self.tag = tag
        ctx.seq += 1
        self.sock = os.path.join(ctx.tmp, f"{sid}-{ctx.seq}.sock")
        self.logf = os.path.join(ctx.logs, f"{sid}-{transport}{tag}.log")
        self.extra = list(extra)    # more iopd arguments
        self.tls = self.conf.get("tls", False)
        self.scheme = "nbds" if self.tls else "nbd"

    def start(self):
        k = self.conf["kind"]
        getattr(self, "_start_" + k)()
        st = proc_status(self.pid)
        expect = {"iopd": "iopd", "nbdkit": "nbdkit", "qemu": "qemu-nbd"}[k]
        if st["name"] != expect:
            raise RuntimeError(f"{self.sid}: pid {self.pid} is {st['name']}")
        self.ctx.live[self.pid] = self.sid
        return self

    def _start_iopd(self):
        spec = self.ctx.path(self.conf["spec"])
        rfd, wfd = os.pipe()
        tls = ["--tls=require", f"--tls-certificates={self.ctx.pki}"] \
            if self.tls else []
        argv = [self.ctx.args.iopd, "-e", self.conf["engine"],
                "--listen", f"unix:{self.sock}", "--listen", "127.0.0.1:0",
                "--ready-fd", str(wfd), "--log-level=warn"] + \
            self.conf.get("args", []) + self.extra + tls + [f"disk={spec}"]
        self.ctx.log_cmd(argv)
        log = open(self.logf, "a")
        self.proc = subprocess.Popen(argv, pass_fds=(wfd,), stdout=log,
                                     stderr=log, stdin=subprocess.DEVNULL)
        os.close(wfd)
        try:
            lines = read_until(rfd, b"READY", 30, self.sid)
        finally:
            os.close(rfd)
        if "READY" not in lines:
            raise RuntimeError(f"{self.sid}: no READY: {lines}")
        for l in lines:
            w = l.split()
            if w[:2] == ["LISTEN", "tcp"]:
                host, port = w[2].rsplit(":", 1)
                self.tcp = (host, int(port))
            elif w[:2] == ["LISTEN", "unix"]:
                self.unix = w[2]
        self.pid = self.proc.pid
        if self.transport == "tcp":
            self.uri = f"{self.scheme}://{self.tcp[0]}:{self.tcp[1]}/disk"
        else:
            self.uri = f"{self.scheme}+unix:///disk?socket={self.unix}"

    def _start_nbdkit(self):
        plugin = [self.ctx.path(a) for a in self.conf["plugin"]]
        if self.transport == "tcp":
            port = free_port()
            where = ["-i", "127.0.0.1", "-p", str(port)]
            self.tcp = ("127.0.0.1", port)
            self.uri = f"{self.scheme}://127.0.0.1:{port}/disk"
        else:
            where = ["-U", self.sock]
            self.unix = self.sock
            self.uri = f"{self.scheme}+unix:///disk?socket={self.sock}"
        if self.tls:
            where += ["--tls=require", f"--tls-certificates={self.ctx.pki}"]
        # --run starts its command once nbdkit serves: it prints READY on
        # nbdkit's stdout (our pipe), then holds until we close its stdin.
        argv = ["nbdkit", "--exit-with-parent"] + where + [
            "--run", 'echo READY "$uri"; exec cat >/dev/null'] + plugin
        self.ctx.log_cmd(argv)
        log = open(self.logf, "a")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log)
        lines = read_until(self.proc.stdout.fileno(), b"READY", 30, self.sid)
        if not any(l.startswith("READY") for l in lines):
            raise RuntimeError(f"{self.sid}: not ready: {lines}")
        # With --run, nbdkit forks: the parent runs the command and waits
        # for it, the forked child (also "nbdkit") serves.  Measure the child.
        w = self.proc.pid
        with open(f"/proc/{w}/task/{w}/children") as f:
            kids = [int(x) for x in f.read().split()]
        servers = [k for k in kids if proc_status(k)["name"] == "nbdkit"]
        if len(servers) != 1:
            raise RuntimeError(f"{self.sid}: cannot tell nbdkit's server "
                               f"process among {kids}")
        self.pid = servers[0]

    def _start_qemu(self):
        pidf = os.path.join(self.ctx.tmp, f"qemu-{self.ctx.seq}.pid")
        if self.transport == "tcp":
            port = free_port()
            where = ["--bind=127.0.0.1", f"--port={port}"]
            self.tcp = ("127.0.0.1", port)
            self.uri = f"{self.scheme}://127.0.0.1:{port}/disk"
        else:
            where = [f"--socket={self.sock}"]
            self.unix = self.sock
            self.uri = f"{self.scheme}+unix:///disk?socket={self.sock}"
        opts = self.conf.get("qemu_opts") or self.qemu_opts or self.ctx.qemu_opts
        if self.tls:
            # a server endpoint verifies clients by default: not here
            opts = opts + ["--object", "tls-creds-x509,id=tls0,endpoint=server,"
                           f"dir={self.ctx.pki},verify-peer=off",
                           "--tls-creds=tls0"]
        # --fork: the parent exits once the server listens (readiness);
        # the server's own PID comes from --pid-file.
        argv = ["qemu-nbd", "-f", "raw"] + where + [
            "-x", "disk", "--persistent", "--shared=8"] + opts + [
            "--fork", f"--pid-file={pidf}",
            self.ctx.path(self.conf.get("img", "IMG"))]
        self.ctx.log_cmd(argv)
        with open(self.logf, "a") as log:
            rc = subprocess.run(argv, stdout=log, stderr=log, timeout=60).returncode
        if rc != 0:
            raise RuntimeError(f"qemu-nbd {opts} failed: rc {rc}")
        with open(pidf) as f:
            self.pid = int(f.read().strip())

    def stop(self):
        if self.pid is None:
            return
        k = self.conf["kind"]
        rc = None
        try:
            if k == "iopd":
                self.proc.send_signal(signal.SIGTERM)
                rc = self.proc.wait(timeout=30)
                if rc != 0:
                    self.ctx.problems.append(
                        f"{self.sid}: exit status {rc} after SIGTERM (expected 0)")
            elif k == "nbdkit":
                self.proc.stdin.close()         # the --run command ends
                rc = self.proc.wait(timeout=30)
            else:
                os.kill(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                while pid_alive(self.pid) and time.monotonic() < deadline:
                    time.sleep(0.02)           # not our child: poll, bounded
        except subprocess.TimeoutExpired:
            self.ctx.problems.append(f"{self.sid}: did not exit within 30 s; killed")
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self.ctx.live.pop(self.pid, None)
        self.pid = None
        for p in (self.sock,):
            if os.path.exists(p):
                os.unlink(p)


# ---------------------------------------------------------------- fio
def parse_fio(path):
    with open(path) as f:
        text = f.read()
    j = json.loads(text[text.index("{"):])
    job = j["jobs"][0]
    r, w = job["read"], job["write"]
    dirs = [d for d in (r, w) if d["total_ios"] > 0]
    ios = sum(d["total_ios"] for d in dirs) or 1
    return dict(
        iops=r["iops"] + w["iops"],
        bw=r["bw_bytes"] + w["bw_bytes"],
        bytes=r["io_bytes"] + w["io_bytes"],
        ios=r["total_ios"] + w["total_ios"],
        lat_mean=sum(d["lat_ns"]["mean"] * d["total_ios"] for d in dirs) / ios,
        p99=max((d["clat_ns"].get("percentile", {}).get("99.000000", 0)
                 for d in dirs), default=0),
        error=job.get("error", 0),
        **fio_own_cpu(job),
    )


def fio_own_cpu(job):
    """fio's own CPU over a run, from its report: usr_cpu and sys_cpu are
    percent of job_runtime, which sums every job process's run time (so
    numjobs=4 runs for 4x the wall time); fio_cpu is CPU seconds, run_s
    the wall time of one job."""
    n = int(job.get("job options", {}).get("numjobs", 1))
    total = job["job_runtime"] / 1000
    return dict(fio_cpu=(job["usr_cpu"] + job["sys_cpu"]) / 100 * total,
                run_s=total / n)


def backfill_cores(outdir, res):
    """Runs recorded before fio's own CPU was: read it from their raw fio
    reports (raw/SECTION-SERVER-KEY-repN.json, as extended.alternate
    names them)."""
    for sec, d in (res.get("ext") or {}).items():
        for r in d.get("runs", []) if isinstance(d, dict) else []:
            if "fio_cpu" in r or "server" not in r or "key" not in r:
                continue
            path = os.path.join(outdir, "raw", f"{sec}-{r['server']}-"
                                f"{r['key']}-rep{r['rep']}.json")
            try:
                with open(path) as f:
                    text = f.read()
                r.update(fio_own_cpu(json.loads(text[text.index("{"):])["jobs"][0]))
            except (OSError, ValueError, KeyError, IndexError):
                continue
            add_cores(r)


def add_cores(res):
    """Cores busy over a run (CPU seconds per second): the server's and
    fio's, to show when the machine, not the server, is the limit."""
    if res.get("run_s"):
        res["srv_cores"] = res["cpu"] / res["run_s"]
        res["fio_cores"] = res["fio_cpu"] / res["run_s"]


def fio_time(sec):
    return str(int(sec)) if sec == int(sec) else f"{int(sec * 1000)}ms"


def fio_nbd(ctx, srv, wl, tag, runtime=None, extra=()):
    """One fio run against a running server, with the server's CPU and
    peak RSS measured around it.  extra: more fio arguments (they win
    over the workload's: fio takes the last of a repeated option)."""
    out = os.path.join(ctx.raw, f"{tag}.json")
    argv = ["fio", f"--name={wl}", "--ioengine=nbd", f"--uri={srv.uri}"] + \
        WORKLOADS[wl][1] + list(extra) + [
            f"--runtime={fio_time(runtime or ctx.args.runtime)}",
                            "--time_based",
                            "--norandommap", "--randrepeat=0",
                            "--output-format=json", f"--output={out}"]
    reset_hwm(srv.pid)
    c0 = proc_cpu(srv.pid)
    p = ctx.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
    c1 = proc_cpu(srv.pid)
    st = proc_status(srv.pid)
    res = dict(ok=False, cpu=c1 - c0, hwm=st["hwm"], threads=st["threads"],
               rc=p.returncode)
    try:
        res.update(parse_fio(out))
        res["ok"] = p.returncode == 0 and res["error"] == 0 and res["bytes"] > 0
    except (OSError, ValueError, KeyError, IndexError) as e:
        res["parse_error"] = str(e)
    if not res["ok"]:
        ctx.problems.append(f"fio failed ({tag}): rc {p.returncode} "
                            f"{p.stderr.strip()[-300:]} cmd: {shlex.join(argv)}")
    res["cpu_per_gib"] = res["cpu"] / (res["bytes"] / GiB) if res.get("bytes") else None
    add_cores(res)
    # seconds per 1,000 I/Os (= ms per I/O)
    res["cpu_per_kio"] = 1000 * res["cpu"] / res["ios"] if res.get("ios") else None
    return res


def warmup(ctx, srv, tag):
    """A short 4 KiB qd1 read run right after each server start, not
    counted: the first connection a freshly started iopd serves is about
    40% slower at qd1 than later ones (nbdkit shows no such effect), and
    every server gets the same treatment."""
    out = os.path.join(ctx.raw, f"warmup-{tag}.json")
    argv = ["fio", "--name=warmup", "--ioengine=nbd", f"--uri={srv.uri}",
            "--rw=randread", "--bs=4k", "--iodepth=1",
            f"--runtime={fio_time(ctx.args.warmup)}", "--time_based",
            "--output-format=json", f"--output={out}"]
    ctx.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- limits
def iperf3(ctx, rep):
    port = free_port()
    sargv = ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port),
             "--forceflush"]
    ctx.log_cmd(sargv)
    srv = subprocess.Popen(sargv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    ctx.live[srv.pid] = "iperf3"
    try:
        read_until(srv.stdout.fileno(), b"Server listening", 30, "iperf3 -s")
        out = os.path.join(ctx.raw, f"iperf3-rep{rep}.json")
        argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port),
                "-t", str(ctx.args.iperf_time), "-J"]
        with open(out, "w") as f:
            ctx.run(argv, stdout=f, stderr=subprocess.DEVNULL)
        srv.stdout.read()
        srv.wait(timeout=30)
    finally:
        ctx.live.pop(srv.pid, None)
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    with open(out) as f:
        j = json.load(f)
    return j["end"]["sum_received"]["bits_per_second"] / 8


def fio_direct(ctx, name, args, rep):
    out = os.path.join(ctx.raw, f"direct-{name}-rep{rep}.json")
    argv = ["fio", f"--name={name}", "--ioengine=io_uring", "--direct=1",
            f"--filename={ctx.img}"] + args + [
        f"--runtime={fio_time(ctx.args.runtime)}", "--time_based", "--norandommap",
        "--randrepeat=0", "--output-format=json", f"--output={out}"]
    ctx.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return parse_fio(out)


# ---------------------------------------------------------------- idle conns
NBD_MAGIC = 0x4e42444d41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3e889045565a9
NBD_OPT_GO = 7
NBD_REP_ACK = 1


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("server closed during handshake")
        b += c
    return b


def nbd_connect_go(addr, export="disk"):
    """Fixed-newstyle handshake up to NBD_OPT_GO's ACK; returns the socket,
    now in the transmission phase, which we then simply hold."""
    s = socket.create_connection(addr, timeout=30)
    magic, opt, gflags = struct.unpack(">QQH", recv_exact(s, 18))
    if magic != NBD_MAGIC or opt != IHAVEOPT:
        raise ConnectionError("not a newstyle NBD server")
    s.sendall(struct.pack(">I", 1 | (2 if gflags & 2 else 0)))
    name = export.encode()
    data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
    s.sendall(struct.pack(">QII", IHAVEOPT, NBD_OPT_GO, len(data)) + data)
    while True:
        m, o, typ, ln = struct.unpack(">QIII", recv_exact(s, 20))
        if m != REPLY_MAGIC:
            raise ConnectionError("bad option reply magic")
        recv_exact(s, ln)
        if typ == NBD_REP_ACK:
            return s
        if typ & 0x80000000:
            raise ConnectionError(f"NBD_OPT_GO refused: reply type {typ:#x}")


def idle_test(ctx, sid, results):
    n = ctx.args.idle_conns
    # every idle client comes from 127.0.0.1: lift iopd's per-address
    # cap (64 by default; nbdkit has none), keep the total cap (1024)
    srv = Server(ctx, sid, "tcp", tag="-idle",
                 extra=["--max-connections-per-address=0"]).start()
    warmup(ctx, srv, f"idle-{sid}")
    r = dict(server=sid, label=SERVERS[sid]["label"], conns=n, reps=[])
    try:
        base = proc_status(srv.pid)
        r["rss_before"], r["threads_before"] = base["rss"], base["threads"]
        # --quick: one rep (opening 1,000 connections to nbdkit takes ~20 s)
        for rep in range(1, 2 if ctx.args.quick else ctx.args.reps + 1):
            without = fio_nbd(ctx, srv, "rr4k-qd1", f"idle-{sid}-without-rep{rep}")
            ctx.log_cmd(f"python3 (bench.py nbd_connect_go) x{n}: connect to "
                        f"{srv.tcp[0]}:{srv.tcp[1]}, NBD_OPT_GO 'disk', hold",
                        "idle connections")
            t0 = time.monotonic()
            socks, err = [], None
            try:
                for _ in range(n):
                    socks.append(nbd_connect_go(srv.tcp))
            except (OSError, ConnectionError) as e:
                err = f"{sid}: idle connection {len(socks) + 1} failed: {e}"
                ctx.problems.append(err)
            t_open = time.monotonic() - t0
            held = proc_status(srv.pid)
            with_ = fio_nbd(ctx, srv, "rr4k-qd1", f"idle-{sid}-with-rep{rep}")
            held2 = proc_status(srv.pid)
            for s in socks:
                s.close()
            r["reps"].append(dict(
                opened=len(socks), open_s=t_open, error=err,
                rss_held=max(held["rss"], held2["rss"]),
                threads_held=max(held["threads"], held2["threads"]),
                lat_without=without.get("lat_mean"),
                lat_with=with_.get("lat_mean"),
                ok=without["ok"] and with_["ok"]))
            say(f"  idle {sid} rep {rep}: {len(socks)} conns in {t_open:.2f}s, "
                f"RSS {held['rss'] / MiB:.1f} MiB, {held['threads']} threads, "
                f"qd1 {without.get('lat_mean', 0) / 1e3:.1f} -> "
                f"{with_.get('lat_mean', 0) / 1e3:.1f} us")
    finally:
        srv.stop()
    results["idle"].append(r)


# ---------------------------------------------------------------- qemu probe
def qemu_probe(ctx, results):
    rows = []
    for opts in QEMU_CANDIDATES:
        row = dict(opts=opts)
        try:
            srv = Server(ctx, "qemu-nbd", "unix", qemu_opts=opts, tag="-probe").start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            row["error"] = str(e)
            rows.append(row)
            continue
        try:
            tag = "qemu-probe-" + "-".join(o.split("=")[1] for o in opts)
            rt = min(ctx.args.runtime, 2)
            a = fio_nbd(ctx, srv, "rr4k-qd32", tag + "-rr4k-qd32", rt)
            b = fio_nbd(ctx, srv, "sr1m-qd8", tag + "-sr1m-qd8", rt)
            row.update(iops=a.get("iops"), bw=b.get("bw"))
            if a["ok"] and b["ok"]:
                row["score"] = (a["iops"] * b["bw"]) ** 0.5
        finally:
            srv.stop()
        say(f"  qemu-nbd {' '.join(opts)}: {row.get('iops', 0):.0f} IOPS 4k, "
            f"{(row.get('bw') or 0) / 1e6:.0f} MB/s 1M")
        rows.append(row)
    good = [r for r in rows if r.get("score")]
    if not good:
        raise RuntimeError("qemu-nbd: no working option set")
    best = max(good, key=lambda r: r["score"])
    results["qemu_probe"] = rows
    results["qemu_opts"] = best["opts"]
    return best["opts"]


# ---------------------------------------------------------------- main run
def machine_info():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    def ver(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return dict(nproc=os.cpu_count(), kernel=platform.release(), cpu=cpu,
                mem=mem, os=ver(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
                versions={"fio": ver(["fio", "--version"]),
                          "nbdkit": ver(["nbdkit", "--version"]),
                          "qemu-nbd": ver(["qemu-nbd", "--version"]),
                          "iperf3": ver(["iperf3", "--version"]),
                          "iopd": ver([ctx_iopd, "--version"])})


def measure(ctx):
    a = ctx.args
    results = dict(mode="quick" if a.quick else "full", runtime=a.runtime,
                   only=sorted(a.only, key=SECTIONS.index),
                   warmup=a.warmup,
                   reps=a.reps, iperf_time=a.iperf_time,
                   commit=a.commit, date=a.date, machine=machine_info(),
                   runs=[], limits=dict(iperf3=[], direct={}), idle=[],
                   plan=[[s, t, w] for s, t, w in plan(a.quick)]
                   if "matrix" in a.only else [],
                   workloads={k: v[0] for k, v in WORKLOADS.items()},
                   servers={k: dict(label=v["label"], base=v["base"])
                            for k, v in SERVERS.items()})
    t_start = time.monotonic()
    say(f"image: {ctx.img} (1 GiB of random data)")
    ctx.run(["dd", "if=/dev/urandom", f"of={ctx.img}", "bs=1M", "count=1024",
             "status=none"], check=True)

    if a.only & {"matrix", "fixed", "sat", "stab", "tls"}:
        say("qemu-nbd: probing option sets (4k randread qd32, 1M read qd8, unix)")
        ctx.qemu_opts = qemu_probe(ctx, results)
        say(f"qemu-nbd: using {' '.join(ctx.qemu_opts)}")
    if "matrix" in a.only:
        matrix_reps(ctx, results, t_start)
    if "idle" in a.only:
        say("== idle connections")
        for sid in ("iopd-uring", "nbdkit-file"):
            try:
                idle_test(ctx, sid, results)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                ctx.problems.append(f"idle test {sid}: {e}")
    import extended
    results["ext"] = extended.run(ctx, a.only)
    results["elapsed_s"] = time.monotonic() - t_start
    results["commands"] = ctx.commands
    results["problems"] = ctx.problems
    return results


def matrix_reps(ctx, results, t_start):
    """The NBD matrix: every server of plan() in turn, per rep, with the
    limits (iperf3, fio on the image) measured in each rep."""
    a = ctx.args
    matrix = plan(a.quick)
    total = sum(len(w) for _, _, w in matrix) * a.reps
    done = 0
    for rep in range(1, a.reps + 1):
        say(f"== rep {rep}/{a.reps}")
        bps = iperf3(ctx, rep)
        results["limits"]["iperf3"].append(bps)
        say(f"  iperf3 loopback: {bps / 1e6:.0f} MB/s")
        for name, args in (("rr4k-qd32", ["--rw=randread", "--bs=4k", "--iodepth=32"]),
                           ("sr1m-qd8", ["--rw=read", "--bs=1M", "--iodepth=8"])):
            d = fio_direct(ctx, name, args, rep)
            results["limits"]["direct"].setdefault(name, []).append(d)
            say(f"  fio io_uring direct on the image {name}: {d['iops']:.0f} IOPS, "
                f"{d['bw'] / 1e6:.0f} MB/s")
        for sid, tr, wls in matrix:
            try:
                srv = Server(ctx, sid, tr).start()
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                ctx.problems.append(f"{sid} {tr}: could not start: {e}")
                done += len(wls)
                continue
            try:
                warmup(ctx, srv, f"{sid}-{tr}-rep{rep}")
                for wl in wls:
                    tag = f"{sid}-{tr}-{wl}-rep{rep}"
                    r = fio_nbd(ctx, srv, wl, tag)
                    r.update(server=sid, transport=tr, workload=wl, rep=rep)
                    results["runs"].append(r)
                    done += 1
                    el = time.monotonic() - t_start
                    say(f"  [{done}/{total} {el:.0f}s] {sid:13s} {tr:4s} {wl:14s} "
                        f"{r.get('iops', 0):9.0f} IOPS {r.get('bw', 0) / 1e6:7.1f} MB/s "
                        f"{r.get('lat_mean', 0) / 1e3:7.1f} us "
                        f"cpu {r['cpu_per_gib'] or 0:6.2f} s/GiB"
                        + ("" if r["ok"] else "  FAILED"))
            finally:
                srv.stop()


ctx_iopd = None


def main():
    global ctx_iopd
    # extended.py and iscsi_bench.py "import bench": let them share this
    # module (its SERVERS, its helpers) instead of loading a second copy.
    sys.modules.setdefault("bench", sys.modules[__name__])
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--runtime", type=float, help="seconds per fio run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--idle-conns", type=int, default=1000)
    ap.add_argument("--warmup", type=float, default=0.3,
                    help="seconds of untimed qd1 reads after each server start")
    ap.add_argument("--iopd", default=os.path.join(REPO, "build", "iopd"))
    ap.add_argument("--report-only", metavar="DIR",
                    help="rebuild DIR/report.md and charts from DIR/results.json")
    ap.add_argument("--no-latest", action="store_true",
                    help="do not copy the results to bench/results/latest")
    ap.add_argument("--only", default="all",
                    help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--rates", help="fixed-load rates, percent of the "
                    "slowest server's maximum (default 20,60 quick; "
                    "5,20,60,80 full)")
    ap.add_argument("--ext-runtime", type=float,
                    help="seconds per run in the extended sections "
                    "(default 2 quick, 5 full)")
    ap.add_argument("--ext-reps", type=int,
                    help="reps of the extended sections (default 1 quick, "
                    "3 full; stability: 3 quick, 5 full)")
    ap.add_argument("--disk-dir", default="/var/tmp",
                    help="where the real-storage image goes (not tmpfs)")
    a = ap.parse_args()
    a.only = set(SECTIONS if a.only == "all" else a.only.split(","))
    bad = a.only - set(SECTIONS)
    if bad:
        ap.error(f"unknown sections {','.join(sorted(bad))}; "
                 f"known: {','.join(SECTIONS)}")
    import report
    if a.report_only:
        with open(os.path.join(a.report_only, "results.json")) as f:
            res = json.load(f)
        backfill_cores(a.report_only, res)
        report.write(a.report_only, res)
        return 0
    if a.runtime is None:
        a.runtime = 1 if a.quick else 5
    a.iperf_time = 2 if a.quick else 5
    a.iopd = os.path.abspath(a.iopd)
    ctx_iopd = a.iopd
    git = lambda *c: subprocess.run(["git", "-C", REPO] + list(c),
                                    capture_output=True, text=True).stdout.strip()
    a.commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--",
                       "src", "include", "Makefile"]).returncode != 0:
        a.commit += "-dirty"
    now = datetime.datetime.now()
    a.date = now.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    if not a.out:
        a.out = os.path.join(REPO, "bench", "results",
                             now.strftime("%Y%m%d-%H%M") + f"-{a.commit}"
                             + ("-quick" if a.quick else "")
                             + ("" if a.only == set(SECTIONS) else
                                "-" + "-".join(x for x in SECTIONS
                                               if x in a.only)))
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(8192, 4 * a.idle_conns + 256)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    a.tmp = tmp = subprocess.run(["mktemp", "-d", "/dev/shm/iopd-bench.XXXXXX"],
                                 capture_output=True, text=True,
                                 check=True).stdout.strip()
    ctx = Ctx(a)
    say(f"results in {a.out}; temporary files in {tmp}")

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        res = measure(ctx)
    finally:
        for pid, what in list(ctx.live.items()):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "commands.txt"), "w") as f:
        f.write("\n".join(res["commands"]) + "\n")
    report.write(a.out, res)
    if not a.no_latest:
        latest = os.path.join(REPO, "bench", "results", "latest")
        if os.path.abspath(latest) != a.out:
            shutil.rmtree(latest, ignore_errors=True)
            shutil.copytree(a.out, latest)
    say(f"report: {os.path.join(a.out, 'report.md')} "
        f"({res['elapsed_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
