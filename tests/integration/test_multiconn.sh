#!/bin/bash
# SPDX-License-Identifier: MIT
# Multi-conn: what one connection writes and flushes, every other
# connection (already open) reads; four writers on four connections fill
# interleaved stripes of one export at the same time as nbdcopy writes
# another over four connections; one reader then checks everything.
. "$(dirname "$0")/lib.sh"
require nbdcopy python3 cmp

make_data "$T/src" 64 || { not_ok "make 64 MiB of test data"; done_testing; exit 1; }
truncate -s 64M "$T/disk.img" "$T/disk2.img"
start_iopd ram=ram:64M "disk=file:$T/disk.img" "disk2=file:$T/disk2.img" ram2=ram:64M ||
	{ done_testing; exit 1; }

for e in ram disk; do
	E=$e check "$e: a flushed write on one connection is seen by another already open" nbdpy <<'EOF'
import os
from nbdproto import *
name = os.environ["E"]
b = connect(name)
a = connect(name)
assert a.tflags & T_CAN_MULTI_CONN, "multi-conn not advertised"
for i in range(8):
    d = os.urandom(256 << 10)
    off = (i * 3) << 20
    assert b.read(off, len(d))[0] == 0          # b may have it cached
    assert a.write(off, d) == 0
    assert a.cmd(CMD_FLUSH, 0, 0)[0] == 0
    assert b.read(off, len(d)) == (0, d), "connection b reads stale data at %d" % off
    # the other way round, with FUA
    d2 = os.urandom(4096)
    assert b.write(off + (512 << 10), d2, F_FUA) == 0
    assert a.read(off + (512 << 10), 4096) == (0, d2)
assert a.disc() and b.disc()
EOF
done

# writer I N EXPORT: connection I of N writes every N-th 64 KiB stripe of
# $T/src, 16 requests in flight.
writer() {
	nbdpy "$1" "$2" "$3" "$T/src" <<'EOF'
import sys
from nbdproto import *
i, n, name, src = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = connect(name)
stripe = 64 << 10
data = open(src, "rb").read()
inflight = 0
for off in range(i * stripe, len(data), n * stripe):
    c.request(CMD_WRITE, off, stripe, 0, data[off:off + stripe])
    inflight += 1
    if inflight == 16:
        assert c.reply()[1] == 0
        inflight -= 1
while inflight:
    assert c.reply()[1] == 0
    inflight -= 1
assert c.cmd(CMD_FLUSH, 0, 0)[0] == 0
assert c.disc()
EOF
}

pids=()
for i in 0 1 2 3; do
	writer $i 4 ram >"$T/writer.$i.out" 2>&1 &
	pids+=($!)
	register_pid $!
done
t nbdcopy --connections=4 --requests=16 "$T/src" "$(uri_unix disk2)" >"$T/nbdcopy.out" 2>&1 &
copy_pid=$!
register_pid $copy_pid
for i in 0 1 2 3; do
	_wait_timeout "${pids[i]}" "$TMO"
	pass_if $? "writer $i of 4 (interleaved 64 KiB stripes) finished" "$(cat "$T/writer.$i.out")"
done
_wait_timeout "$copy_pid" "$TMO"
pass_if $? "nbdcopy --connections=4 into disk2 at the same time" "$(cat "$T/nbdcopy.out")"

check "one reader: ram holds exactly the source" t nbdcopy --connections=1 "$(uri_unix ram)" "$T/out.ram"
check "ram: byte for byte" cmp "$T/src" "$T/out.ram"
check "one reader: disk2 holds exactly the source" t nbdcopy --connections=1 "$(uri_unix disk2)" "$T/out.disk2"
check "disk2: byte for byte" cmp "$T/src" "$T/out.disk2"
check "disk2's backing file too" cmp "$T/src" "$T/disk2.img"

# fio: 4 jobs on 4 connections, disjoint quarters, then one job verifies
# all of it over a single connection
if command -v fio >/dev/null && fio --enghelp=nbd >/dev/null 2>&1; then
	check "fio: 4 writers on disjoint quarters of ram2" \
		t fio --name=w --ioengine=nbd --uri="$(uri_unix ram2)" --rw=write --bs=256k \
		--size=16M --offset_increment=16M --numjobs=4 --iodepth=8 \
		--verify=crc32c --do_verify=0 --output=/dev/null
	check "fio: 4 jobs' data verified again, each quarter over a new connection" \
		t fio --name=w --ioengine=nbd --uri="$(uri_unix ram2)" --rw=write --bs=256k \
		--size=16M --offset_increment=16M --numjobs=4 --iodepth=8 \
		--verify=crc32c --verify_only=1 --output=/dev/null
else
	skip "fio: 4 writers on disjoint quarters" "fio without the nbd engine"
fi

iopd_alive "daemon alive after concurrent writers"
stop_iopd
done_testing
