#!/bin/bash
# SPDX-License-Identifier: MIT
# Connections that come and go must not make the daemon grow: after the
# first thousand handshakes, four thousand more leave its resident size,
# thread count and open descriptors where they were.  (glibc once kept
# ~3 KiB per closed connection in the workers' arenas: 30 MiB after
# 10,000.)
. "$(dirname "$0")/lib.sh"
require python3

if grep -q libasan <<<"$(ldd "$IOPD" 2>/dev/null)"; then
	skip_all "resident size is meaningless under ASan's quarantine"
fi

start_iopd ram:64M || { done_testing; exit 1; }

# churn ROUNDS: 1,000 clients complete NBD_OPT_GO and hold on, then all
# close; ROUNDS times.
churn() {
	nbdpy "$1" <<'PY'
import struct, sys
from nbdproto import *

def go():
    s = raw_socket()
    hello = b''
    while len(hello) < 18:
        hello += s.recv(18 - len(hello))
    s.sendall(struct.pack('>I', 3))
    s.sendall(struct.pack('>QIIIH', IHAVEOPT, OPT_GO, 6, 0, 0))
    while True:
        hdr = b''
        while len(hdr) < 20:
            hdr += s.recv(20 - len(hdr))
        _, _, rtype, n = struct.unpack('>QIII', hdr)
        body = b''
        while len(body) < n:
            body += s.recv(n - len(body))
        assert rtype in (REP_ACK, REP_INFO), hex(rtype)
        if rtype == REP_ACK:
            return s

for _ in range(int(sys.argv[1])):
    held = [go() for _ in range(1000)]
    for s in held:
        s.close()
PY
}

status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$IOPD_PID/status"; }

check "1,000 clients connect, negotiate and leave" churn 1
rss1=$(status_kb VmRSS)
threads1=$(status_kb Threads)
fds1=$(ls "/proc/$IOPD_PID/fd" | wc -l)
check "4,000 more do the same" churn 4
rss2=$(status_kb VmRSS)
[ $((rss2 - rss1)) -lt 4096 ]
pass_if $? "resident size stays put (${rss1} kB, then ${rss2} kB)"
is "$(status_kb Threads)" "$threads1" "thread count stays put"
is "$(ls "/proc/$IOPD_PID/fd" | wc -l)" "$fds1" "open descriptors stay put"
check "the daemon still serves" t nbdinfo --size "$(uri_unix)"

# Busy polling (on by default) must end with the traffic: one request at
# a time keeps a worker polling, and then an idle daemon sleeps.  The
# one-second window is a measurement, not a wait for readiness.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$IOPD_PID/stat"; }
check "20,000 reads, one at a time" nbdpy <<'PY'
from nbdproto import *
c = connect()
for i in range(20000):
    err, _ = c.read((i % 4096) * 4096, 4096)
    assert err == 0
assert c.disc()
PY
t0=$(cpu_ticks)
sleep 1
t1=$(cpu_ticks)
[ $((t1 - t0)) -le 5 ]
pass_if $? "an idle daemon uses no CPU once traffic stops ($((t1 - t0)) ticks in 1 s)"
stop_iopd
done_testing
