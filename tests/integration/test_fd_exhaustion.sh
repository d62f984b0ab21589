#!/bin/bash
# SPDX-License-Identifier: MIT
# Descriptor exhaustion (doc/security.md, "Descriptors"): iopd under
# `ulimit -n 256` with a few hundred idle NBD connections.  With the
# default reserve, client connections stop short of the limit; with no
# reserve, accept fails with EMFILE and backs off.  Either way, over 3 s
# iopd uses well under a core-second of CPU and logs a few lines at most;
# with the reserve, iopctl and /metrics answer throughout; once the
# connections close, a new NBD client is served again.
. "$(dirname "$0")/lib.sh"
require python3 curl nbdinfo
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
PEER=$IOPD_REPO/tests/integration/limits_peer.py
REAL_IOPD=$IOPD
TICKS=$(getconf CLK_TCK)

# The limit applies to iopd alone: the peer needs more than 256 itself.
cat >"$T/iopd-256" <<SH
#!/bin/sh
ulimit -n 256 || exit 1
exec "$REAL_IOPD" "\$@"
SH
chmod +x "$T/iopd-256"

# peer OUT ARGS...: the peer script in the background (start_peer).
peer() { start_peer "$1" "$PEER" "${@:2}"; }
# cpu_ticks PID: user + system time so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
# wait_log PATTERN: until the daemon's log has it (20 s at most).
wait_log() {
	local i
	for i in $(seq 200); do
		grep -q "$1" "$IOPD_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# scenario NAME ARGS...: the attack against iopd ARGS; NAME "reserve"
# expects management and metrics to answer during it.
scenario() {
	local name=$1 cpu0 cpu1 lines0 lines1 i st
	shift
	# The connection caps (64 per address) would refuse these clients
	# long before descriptors run out: off, so the limit is what is hit.
	IOPD=$T/iopd-256 start_iopd --mgmt-socket "$T/mgmt.$name.sock" \
		--metrics-listen 127.0.0.1:0 --max-connections 0 \
		--max-connections-per-address 0 "$@" disk=ram:4M || return 1
	check "[$name] the descriptor limit is 256" \
		grep -q '^Max open files  *256 ' "/proc/$IOPD_PID/limits"
	peer "$T/hold.$name" hold "$IOPD_TCP" 400
	pass_if $? "[$name] 400 idle NBD connections attempted" \
		"$(cat "$T/hold.$name")"
	diag "[$name] $(cat "$T/hold.$name")"
	wait_log "out of descriptors"
	pass_if $? "[$name] iopd reports it is out of descriptors"
	cpu0=$(cpu_ticks "$IOPD_PID")
	lines0=$(wc -l <"$IOPD_LOG")
	if [ "$name" = reserve ]; then
		check "[$name] iopctl answers" \
			t "$IOPCTL" -s "$IOPD_MGMT" --timeout 5 export list
		check "[$name] /metrics answers" \
			t curl -sf -m 5 -o /dev/null "http://$IOPD_METRICS/metrics"
	else
		t curl -s -m 1 -o /dev/null "http://$IOPD_METRICS/metrics"
	fi
	# The measurement window (not a wait for readiness).
	sleep 3
	cpu1=$(cpu_ticks "$IOPD_PID")
	lines1=$(wc -l <"$IOPD_LOG")
	diag "[$name] over 3 s: $((cpu1 - cpu0)) ticks of CPU ($TICKS/s), $((lines1 - lines0)) log lines"
	[ $((cpu1 - cpu0)) -lt $((TICKS * 3 / 10)) ]
	pass_if $? "[$name] CPU over 3 s: $((cpu1 - cpu0)) ticks (< 0.3 s)"
	[ $((lines1 - lines0)) -le 5 ]
	pass_if $? "[$name] log over 3 s: $((lines1 - lines0)) lines (<= 5)" \
		"$(tail -n 5 "$IOPD_LOG")"
	_reap "$PEER_PID"
	st=1
	for i in $(seq 50); do
		t nbdinfo --size "$(uri_tcp disk)" >"$T/size" 2>&1 && {
			st=0
			break
		}
		sleep 0.2
	done
	pass_if $st "[$name] the connections gone, a new NBD client is served" \
		"$(cat "$T/size")"
	check "[$name] and iopctl answers" \
		t "$IOPCTL" -s "$IOPD_MGMT" --timeout 5 export list
	stop_iopd
}

scenario reserve
scenario no-reserve --fd-reserve 0
done_testing
