#!/bin/bash
# SPDX-License-Identifier: MIT
# test_memory_bounds.sh: a peer that sends READs and never reads the
# replies costs a bounded amount of memory (doc/security.md, "Memory").
# Once: 128 NBD READs of 32 MiB drove iopd to ~4 GiB, 272 iSCSI READ(16)
# to 8.4 GiB.  Now the connection's budget (64 MiB here) stops its input,
# the daemon's (128 MiB here) makes further requests wait, a second
# client on the same worker still reads 4 KiB in under 100 ms, clients
# that read their replies get all of them (paused and resumed), and the
# memory comes back when the attackers leave.  An iSCSI command that
# cannot wait (a write's data may be behind it) gets TASK SET FULL.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"
require python3 curl

PEER=$IOPD_REPO/tests/integration/memory_peer.py
MIB=$((1024 * 1024))
CONN_BUDGET=$((64 * MIB))
BUDGET=$((128 * MIB))
MARGIN=$((64 * MIB))
asan=""
case $(ldd "$IOPD" 2>/dev/null) in
*libasan*) asan=1 ;;
esac

# One worker: the attackers and the probe share it.
start_iopd --threads 1 --iscsi-listen 127.0.0.1:0 \
	--metrics-listen 127.0.0.1:0 --mgmt-socket "$T/mgmt" \
	--conn-buffer-budget 64M --buffer-budget 128M disk=ram:64M || {
	done_testing
	exit 1
}
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
_nbdpy_module >"$T/nbdproto.py"

peer() {
	NBD_SOCK=$IOPD_SOCK PYTHONPATH=$T t python3 "$PEER" "$@"
}

# start_peer NAME ARGS...: a peer in the background, output in
# $T/NAME.out; returns once it printed READY (fails after 30 s).
start_peer() {
	local name=$1 pid i
	shift
	NBD_SOCK=$IOPD_SOCK PYTHONPATH=$T python3 "$PEER" "$@" \
		>"$T/$name.out" 2>&1 &
	pid=$!
	register_pid "$pid"
	on_exit "_reap $pid"
	eval "PID_$name=$pid"
	for ((i = 0; i < 600; i++)); do
		grep -q '^READY' "$T/$name.out" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/$name.out"
	return 1
}

stop_peer() {
	local pid
	eval "pid=\$PID_$1"
	_reap "$pid"
}

metric() {
	curl -sf -m 5 "http://$IOPD_METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}

# wait_metric NAME OP VALUE: until the metric compares so (30 s at most).
wait_metric() {
	local i v
	for ((i = 0; i < 600; i++)); do
		v=$(metric "$1")
		[ -n "$v" ] && [ "$v" "$2" "$3" ] && return 0
		sleep 0.05
	done
	echo "$1 is $v, wanted $2 $3"
	return 1
}

rss_bytes() {
	awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$IOPD_PID/status"
}

# rss_max: the largest of 20 samples taken over about a second.
rss_max() {
	local i v max=0
	for ((i = 0; i < 20; i++)); do
		v=$(rss_bytes)
		[ "$v" -gt "$max" ] && max=$v
		sleep 0.05
	done
	echo "$max"
}

# rss_under LIMIT DESC: the resident size during the attack.
rss_under() {
	local max
	if [ -n "$asan" ]; then
		skip "$2" "resident size is meaningless under ASan's quarantine"
		return
	fi
	max=$(rss_max)
	diag "iopd VmRSS: $((max / MIB)) MiB (limit $(($1 / MIB)) MiB)"
	[ "$max" -lt "$1" ]
	pass_if $? "$2" "VmRSS $max bytes, limit $1"
}

# probe DESC: a second client's 4 KiB reads, each under 100 ms.
probe() {
	local out ms
	out=$(peer nbd-probe disk 20)
	ms=$(echo "$out" | awk '$1 == "READ" { print $2 }')
	diag "second client: slowest 4 KiB read $ms ms (${out##* } ms to connect)"
	case $out in
	READ*) awk -v ms="$ms" 'BEGIN { exit !(ms < 100) }' ;;
	*) false ;;
	esac
	pass_if $? "$1" "$out"
}

conn_buffered() {
	t "$IOPCTL" -s "$IOPD_MGMT" --json conn list >"$T/conns.json" &&
		python3 -c 'import json, sys
print(max(c["buffered_bytes"] for c in json.load(open(sys.argv[1]))))' \
			"$T/conns.json"
}

base=$(rss_bytes)
diag "iopd VmRSS at rest: $((base / MIB)) MiB"

# ---- NBD: 128 READs of 32 MiB, replies never read
check "NBD read bomb sent (128 x 32 MiB)" \
	start_peer nbdbomb nbd-bomb disk 128 $((32 * MIB))
check "the bomb's connection holds its budget (64 MiB)" \
	wait_metric iopd_buffered_bytes -eq "$CONN_BUDGET"
is "$(conn_buffered)" "$CONN_BUDGET" "conn list: buffered_bytes of the connection"
rss_under $((CONN_BUDGET + MARGIN)) "NBD bomb: VmRSS under the connection budget + 64 MiB"
probe "NBD bomb: a second client still reads 4 KiB in under 100 ms"
check "a pause is counted" wait_metric iopd_buffer_pauses_total -ge 1
stop_peer nbdbomb
check "NBD bomb gone: buffered bytes back to 0" \
	wait_metric iopd_buffered_bytes -eq 0

# ---- iSCSI: READ(16) x 128 of 32 MiB after a login
check "iSCSI read bomb sent (128 x 32 MiB READ(16))" \
	start_peer iscsibomb iscsi-bomb "$IOPD_ISCSI" "$(iqn_of disk)" 128 \
	$((32 * MIB))
check "the iSCSI connection holds its budget (64 MiB)" \
	wait_metric iopd_buffered_bytes -eq "$CONN_BUDGET"
rss_under $((CONN_BUDGET + MARGIN)) "iSCSI bomb: VmRSS under the connection budget + 64 MiB"
probe "iSCSI bomb: a second client still reads 4 KiB in under 100 ms"

# An iSCSI write whose data has not come holds its buffer, and its
# Data-Out could sit behind the next command: no pausing there, a command
# that does not fit gets TASK SET FULL (0x28 = 40) instead.
is "$(PYTHONPATH=$T t python3 "$PEER" iscsi-write-pending "$IOPD_ISCSI" \
	"$(iqn_of disk)" $((32 * MIB)) 2>&1)" "STATUS 0 40" \
	"iSCSI write waiting for its data: a READ that fits runs, the next gets TASK SET FULL"

# ---- both at once and one more: the daemon budget holds them all
check "second NBD bomb sent" start_peer nbdbomb2 nbd-bomb disk 128 $((32 * MIB))
check "third bomb sent" start_peer nbdbomb3 nbd-bomb disk 128 $((32 * MIB))
check "three bombs hold the daemon budget (128 MiB), no more" \
	wait_metric iopd_buffered_bytes -eq "$BUDGET"
rss_under $((BUDGET + MARGIN)) "three bombs: VmRSS under the daemon budget + 64 MiB"
probe "three bombs: a second client still reads 4 KiB in under 100 ms"
is "$(metric iopd_buffered_bytes)" "$BUDGET" "still no more than the daemon budget"

# ---- clients that read their replies get them all, paused or waiting
stop_peer nbdbomb3
stop_peer iscsibomb
check "one bomb left, holding 64 MiB" \
	wait_metric iopd_buffered_bytes -eq "$CONN_BUDGET"
burst() {
	peer nbd-burst disk 8 $((32 * MIB)) >"$T/burst.$1" 2>&1
}
burst 1 &
b1=$!
burst 2
st2=$?
wait "$b1"
st1=$?
is "$st1 $st2 $(cat "$T/burst.1") $(cat "$T/burst.2")" "0 0 DONE 8 DONE 8" \
	"two clients each get 8 replies of 32 MiB through the remaining budget"

stop_peer nbdbomb2
check "every bomb gone: buffered bytes back to 0" \
	wait_metric iopd_buffered_bytes -eq 0
if [ -n "$asan" ]; then
	skip "memory released" "resident size is meaningless under ASan's quarantine"
else
	after=$(rss_bytes)
	diag "iopd VmRSS after: $((after / MIB)) MiB"
	[ "$after" -lt $((base + 32 * MIB)) ]
	pass_if $? "memory released: VmRSS back within 32 MiB of rest" \
		"rest $base, after $after"
fi
iopd_alive "iopd still serving"
stop_iopd
done_testing
