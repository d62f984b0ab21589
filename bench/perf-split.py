#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where a server's CPU went, in µs per I/O, by kind.

    bench/perf-split.py RUNS

RUNS (written by `PERF=DIR bench/cpu-per-io.sh`) holds one line per run:
"LOAD SERVER CPU_US_PER_IO PERF_DATA".  Each profile (perf record,
cpu-clock samples of the server process) is read with `perf report`,
every symbol is put in one kind by its name, and a kind's share of the
samples times the run's CPU per I/O gives its µs per I/O.  The kinds are
coarse on purpose: what both servers must pay (the kernel's TCP stack,
copies, the page cache) against what a server's design decides (system
calls, sleeping and waking, its own code).  Then the top symbols.
"""
import re
import subprocess
import sys

# First match wins; symbols of user-space objects are "user".
KINDS = [
    ("copy", r"copy_user|copy_to_user|copy_from_user|_copy_to_iter|"
             r"_copy_from_iter|^mem(cpy|move|set)|copy_page|rep_mov|"
             r"clear_page|skb_copy_datagram"),
    ("tcp/ip", r"tcp|^ip_|^ipv6|^__ip|skb|sock|inet|^__dev|^dev_|netif|"
               r"napi|^net_|^__net|loopback|^sk_|sendmsg|recvmsg|csum|"
               r"^nf_|^__nf|^validate_xmit|^process_backlog|^__qdisc|"
               r"^rps_|^raw_local_deliver|^__sys_send|^__sys_recv|"
               r"^sendto|^recvfrom|^tso_|^__tso|^skb"),
    ("io_uring", r"^io_|io_uring|^__io_"),
    ("epoll/poll", r"^ep_|epoll|^do_poll|^__pollwait|^poll_|^do_sys_poll|"
                   r"^__x64_sys_poll|^__x64_sys_ppoll|^do_select"),
    ("page cache/fs", r"filemap|shmem|generic_file|^vfs_|folio|page_cache|"
                      r"rw_verify|touch_atime|^file_|fsnotify|^__fdget|"
                      r"^fput|^fget|^__fget|^ksys_p?read|^ksys_p?write|"
                      r"^__x64_sys_p?read|^__x64_sys_p?write|xas_|^iov_iter|"
                      r"^splice|^do_splice|^sendfile|^do_sendfile|^direct_splice"),
    ("sleep/wake", r"sched|ttwu|try_to_wake|wake_up|wake_q|enqueue|dequeue|"
                   r"pick_next|switch|update_curr|update_load|futex|hrtimer|"
                   r"idle|finish_task|psi_|select_task|__wake|^pv_|"
                   r"^kvm_sched|prepare_to_wait|^finish_wait|^autoremove|"
                   r"^default_wake|^set_next|^put_prev|^native_sched|"
                   r"^reweight|^place_entity|^avg_vruntime|^__calc_delta|"
                   r"^nohz|^tick_|^timerqueue|^__remove_hrtimer|"
                   r"^enqueue_hrtimer|^lapic|^native_apic"),
    ("syscall entry", r"^entry_SYSCALL|^syscall_|^do_syscall|"
                      r"^exit_to_user|^__x64_sys|^syscall|^__rseq|^rseq_|"
                      r"^fpregs|^switch_fpu|^restore_fpregs|^irqentry|"
                      r"^__audit|^audit"),
    ("locks/irq", r"spin_|_raw_|^__raw|irqrestore|^native_queued|"
                  r"^queued_spin|^__do_softirq|softirq|^irq_|^handle_irq|"
                  r"^asm_|^sysvec|^__sysvec|^mutex_|^rcu"),
]
ORDER = ["user"] + [k for k, _ in KINDS] + ["other kernel"]
LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$")


def kind_of(dso, flag, sym):
    if flag != "k":
        return "user"
    for name, pat in KINDS:
        if re.search(pat, sym):
            return name
    return "other kernel"


def split(path):
    out = subprocess.run(
        ["perf", "report", "-i", path, "--no-children", "--sort", "dso,sym",
         "--stdio", "-q", "--percent-limit", "0"],
        capture_output=True, text=True).stdout
    kinds, syms = {k: 0.0 for k in ORDER}, []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pct, dso, flag, sym = float(m[1]), m[2], m[3], m[4]
        kinds[kind_of(dso, flag, sym)] += pct
        syms.append((pct, dso, sym))
    total = sum(kinds.values()) or 1.0
    return {k: v / total for k, v in kinds.items()}, syms, total


def main():
    runs = [line.split() for line in open(sys.argv[1]) if line.strip()]
    rows = []
    for load, server, cpu, path in runs:
        shares, syms, _ = split(path)
        rows.append((load, server, float(cpu), shares, syms))
    w = max(len(k) for k in ORDER)
    print("\nServer CPU per I/O by kind (µs per I/O; perf cpu-clock samples "
          "of the server, last round)")
    for load in dict.fromkeys(r[0] for r in rows):
        group = [r for r in rows if r[0] == load]
        print(f"\n{load}: " + "  ".join(f"{s} {c:.2f} µs/IO"
                                        for _, s, c, _, _ in group))
        print(f"  {'kind':{w}s} " + " ".join(f"{s:>9s}" for _, s, *_ in group)
              + ("    ratio" if len(group) == 2 else ""))
        for k in ORDER:
            vals = [c * sh[k] for _, _, c, sh, _ in group]
            line = f"  {k:{w}s} " + " ".join(f"{v:9.2f}" for v in vals)
            if len(vals) == 2:
                line += f" {vals[0] / vals[1]:8.2f}" if vals[1] > 0.005 else \
                    "        –"
            print(line)
        for _, s, c, _, syms in group:
            top = sorted(syms, reverse=True)[:8]
            print(f"  top of {s}: " + "; ".join(
                f"{sym} {pct:.1f}%" for pct, _, sym in top))


if __name__ == "__main__":
    main()
