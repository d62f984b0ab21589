#!/bin/bash
# SPDX-License-Identifier: MIT
# Connection limits and timeouts (doc/security.md): the global and
# per-address caps refuse the next client the protocol's way (NBD: closed
# before the greeting; iSCSI: Login answered 0x0302) and admit again once
# one leaves; a silent NBD client, a half-sent option, a stalled WRITE
# payload and an idle client are closed within their deadline plus a
# margin; more options than the cap end the negotiation; an iSCSI login
# dripping a byte every 0.5 s is closed at the whole-login deadline; the
# /metrics counters move; normal clients are unaffected.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"
require python3 curl
PEER=$IOPD_REPO/tests/integration/conn_limits_peer.py
# A deadline of 2 s is checked by a 1 s sweep: closed by 3 s, plus
# margin for a loaded machine (ASan).
DEADLINE=2
MARGIN=2.5

# peer OUT ARGS...: the peer script in the background (start_peer).
peer() { start_peer "$1" "$PEER" "${@:2}"; }
run_peer() { timeout -k 5 60 python3 "$PEER" "$@" 2>&1; }
# probe_until WANT ARGS...: nbd-probe until it answers WANT (the server
# sees a close asynchronously), 10 s at most; prints the last answer.
probe_until() {
	local want=$1 got i
	shift
	for i in $(seq 50); do
		got=$(run_peer nbd-probe "$@")
		[ "$got" = "$want" ] && break
		sleep 0.2
	done
	echo "$got"
}
metric() {
	curl -s "http://$IOPD_METRICS/metrics" |
		awk -v k="$1" 'index($0, k) == 1 { print $2 }'
}
# within SECONDS LIMIT DESC: an assertion that a peer's close time is a
# number no larger than LIMIT (and not "open").
within() {
	if [ "$1" != open ] && awk -v t="$1" -v l="$2" 'BEGIN { exit !(t <= l) }'; then
		ok "$3 (${1} s)"
	else
		not_ok "$3" "closed after: $1 (limit $2 s)"
	fi
}

# ------------------------------------------------ NBD caps
start_iopd --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
	--max-connections 3 --max-connections-per-address 2 ram:1M || {
	done_testing
	exit 1
}
peer "$T/hold.a" nbd-hold "$IOPD_TCP" 2 127.0.0.1
is "$(head -n1 "$T/hold.a")" "READY 2" "two NBD clients from 127.0.0.1 get the greeting"
HOLD_A=$PEER_PID
is "$(run_peer nbd-probe "$IOPD_TCP" 127.0.0.1)" closed \
	"a third from 127.0.0.1 is closed before the greeting (per-address cap 2)"
peer "$T/hold.b" nbd-hold "$IOPD_TCP" 1 127.0.0.2
is "$(head -n1 "$T/hold.b")" "READY 1" "one from 127.0.0.2 is admitted (3 in all)"
HOLD_B=$PEER_PID
is "$(run_peer nbd-probe "$IOPD_TCP" 127.0.0.3)" closed \
	"a fourth client, from 127.0.0.3, is closed before the greeting (global cap 3)"
is "$(metric 'iopd_connections_refused_total{protocol="nbd",reason="max_connections"}')" 1 \
	"/metrics counts the refusal by the global cap"
is "$(metric 'iopd_connections_refused_total{protocol="nbd",reason="max_connections_per_address"}')" 1 \
	"/metrics counts the refusal by the per-address cap"
_reap "$HOLD_B"
is "$(probe_until greeting "$IOPD_TCP" 127.0.0.3)" greeting \
	"once one client leaves, a new one is admitted again"
_reap "$HOLD_A"
peer "$T/hold.c" nbd-hold "$IOPD_TCP" 2 127.0.0.1
is "$(head -n1 "$T/hold.c")" "READY 2" \
	"once 127.0.0.1's clients leave, it gets its two places back"
_reap "$PEER_PID"
stop_iopd

# ------------------------------------------------ iSCSI cap
start_iopd --listen none --iscsi-listen 127.0.0.1:0 \
	--metrics-listen 127.0.0.1:0 --max-connections 1 ram:1M || {
	done_testing
	exit 1
}
is "$(run_peer iscsi-login "$IOPD_ISCSI" | head -n1)" "status 0x0000" \
	"below the cap, an iSCSI discovery login succeeds"
peer "$T/hold.i" iscsi-hold "$IOPD_ISCSI" 1
out=$(run_peer iscsi-login "$IOPD_ISCSI" | tr '\n' ' ')
is "$out" "status 0x0302 closed " \
	"over the cap, the Login is answered 'out of resources' (0x0302), then closed"
is "$(metric 'iopd_connections_refused_total{protocol="iscsi",reason="max_connections"}')" 1 \
	"/metrics counts the iSCSI refusal"
_reap "$PEER_PID"
for i in $(seq 50); do
	out=$(run_peer iscsi-login "$IOPD_ISCSI" | head -n1)
	[ "$out" = "status 0x0000" ] && break
	sleep 0.2
done
is "$out" "status 0x0000" "once the holder leaves, a login succeeds again"
stop_iopd

# ------------------------------------------------ deadlines
start_iopd --listen 127.0.0.1:0 --iscsi-listen 127.0.0.1:0 \
	--metrics-listen 127.0.0.1:0 --handshake-timeout $DEADLINE \
	--payload-timeout $DEADLINE --idle-timeout $DEADLINE --max-options 8 \
	ram:1M || {
	done_testing
	exit 1
}
limit=$(awk -v d=$DEADLINE -v m=$MARGIN 'BEGIN { print d + m }')
within "$(run_peer eof silent "$IOPD_TCP")" "$limit" \
	"a silent NBD client is closed at the handshake deadline"
within "$(run_peer eof half-option "$IOPD_TCP")" "$limit" \
	"a half-sent NBD option is closed at the handshake deadline"
is "$(run_peer eof options "$IOPD_TCP" 8)" "replies 8 closed" \
	"8 options are answered, the 9th (over --max-options 8) closes"
within "$(run_peer eof write-stall "$IOPD_TCP")" "$limit" \
	"a WRITE whose payload stops half way is closed at the payload timeout"
within "$(run_peer eof idle "$IOPD_TCP")" "$limit" \
	"an idle NBD client is closed at --idle-timeout"
within "$(run_peer eof drip "$IOPD_ISCSI")" "$limit" \
	"an iSCSI login dripping a byte every 0.5 s is closed at the login deadline"
for k in handshake payload idle; do
	v=$(metric "iopd_connection_timeouts_total{protocol=\"nbd\",kind=\"$k\"}")
	[ "${v:-0}" -ge 1 ]
	pass_if $? "/metrics counts NBD $k timeouts ($v)"
done
v=$(metric 'iopd_connection_timeouts_total{protocol="iscsi",kind="handshake"}')
[ "${v:-0}" -ge 1 ]
pass_if $? "/metrics counts the iSCSI login timeout ($v)"
if command -v nbdinfo >/dev/null; then
	check "a normal client still negotiates within the short deadline" \
		nbdinfo "nbd://$IOPD_TCP/"
fi
iopd_alive "iopd survives all of it"
stop_iopd

done_testing
