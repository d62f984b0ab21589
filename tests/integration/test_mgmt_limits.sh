#!/bin/bash
# SPDX-License-Identifier: MIT
# The management channel and the metrics endpoint cannot be starved
# (doc/security.md, "Management channel"): 16 and then 100 silent TCP
# management clients leave local iopctl working; a TCP client that never
# authenticates is closed at the auth deadline; a client that never reads
# its large replies delays nobody else, and is closed at the write
# deadline; iopctl --timeout bounds a daemon that never answers (exit 4);
# 64 idle HTTP clients leave /metrics answering, and an idle one is closed
# at --metrics-timeout.
. "$(dirname "$0")/lib.sh"
require python3 curl certtool
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
PEER=$IOPD_REPO/tests/integration/limits_peer.py

# peer OUT ARGS...: the peer script in the background (start_peer).
peer() { start_peer "$1" "$PEER" "${@:2}"; }
unpeer() { _reap "$1"; }
# ms CMD...: run CMD, print how long it took in milliseconds; its exit
# status goes to $T/ms.st.
ms() {
	local t0 t1 st
	t0=$(date +%s%N)
	"$@" >"$T/ms.out" 2>&1
	st=$?
	t1=$(date +%s%N)
	echo "$st" >"$T/ms.st"
	echo $(((t1 - t0) / 1000000))
}
ctl() { t "$IOPCTL" -s "$IOPD_MGMT" --timeout 5 "$@"; }

head -c 24 /dev/urandom | base64 >"$T/token"
chmod 600 "$T/token"
# The TCP listener serves only TLS: certificates for it.
server_pki "$T/pki"
pass_if $? "certtool made a CA and a server certificate"
TLS=(--tls-ca "$T/pki/ca-cert.pem")

# ------------------------------------------------ silent TCP clients
start_iopd --mgmt-socket "$T/mgmt.sock" --mgmt-listen 127.0.0.1:0 \
	--tls-certificates "$T/pki" \
	--mgmt-token-file "$T/token" --mgmt-auth-timeout 60 ram:1M || {
	done_testing
	exit 1
}
for n in 16 100; do
	peer "$T/hold.$n" hold "$IOPD_MGMT_TCP" "$n"
	pass_if $? "$n silent TCP management clients connected" "$(cat "$T/hold.$n")"
	took=$(ms t timeout 10 "$IOPCTL" -s "$IOPD_MGMT" --timeout 5 export list)
	is "$(cat "$T/ms.st")" 0 "with $n silent TCP clients, local iopctl works"
	[ "$took" -lt 3000 ]
	pass_if $? "... and answers in ${took} ms (< 3000)"
	unpeer "$PEER_PID"
done
# The TCP pool is full with 16 more: the 17th is refused at once.
peer "$T/hold.full" hold "$IOPD_MGMT_TCP" 16
out=$(t python3 -c '
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=5)
print(s.recv(4096).decode().strip())' "$IOPD_MGMT_TCP" 2>&1)
case $out in
*"too many management clients"*) ok "a TCP client past the TCP pool is refused" ;;
*) not_ok "a TCP client past the TCP pool is refused" "got: $out" ;;
esac
check "... while local iopctl still works" ctl export list
unpeer "$PEER_PID"
stop_iopd

# ------------------------------------------------ the auth deadline
start_iopd --mgmt-socket "$T/mgmt2.sock" --mgmt-listen 127.0.0.1:0 \
	--tls-certificates "$T/pki" \
	--mgmt-token-file "$T/token" --mgmt-auth-timeout 2 ram:1M
secs=$(t python3 "$PEER" eof "$IOPD_MGMT_TCP")
diag "a silent TCP client was closed after $secs s (deadline 2 s)"
python3 -c 'import sys; t = float(sys.argv[1]); sys.exit(not 1.5 <= t <= 3.5)' \
	"${secs:-999}"
pass_if $? "a silent TCP client is closed at the auth deadline (2 s): $secs s"
check "the closing is logged" grep -q "did not authenticate within" "$IOPD_LOG"
check "an authenticated client is not closed by it" \
	t "$IOPCTL" -c "$IOPD_MGMT_TCP" "${TLS[@]}" --token-file "$T/token" \
	export list
stop_iopd

# ------------------------------------------------ a client that never reads
args=()
for i in $(seq 40); do
	args+=("e$i=ram:1M,desc=an-export-with-a-long-description-to-make-the-reply-big-$i")
done
start_iopd --mgmt-socket "$T/mgmt3.sock" --mgmt-write-timeout 3 "${args[@]}"
peer "$T/unread" unread "$IOPD_MGMT" 20000 \
	'{"jsonrpc":"2.0","id":1,"method":"export.list"}'
pass_if $? "a client sent 20000 export.list requests and reads nothing" \
	"$(cat "$T/unread")"
worst=0
for i in 1 2 3 4 5; do
	took=$(ms t "$IOPCTL" -s "$IOPD_MGMT" --timeout 10 export list)
	[ "$(cat "$T/ms.st")" = 0 ] || worst=99999
	[ "$took" -gt "$worst" ] && worst=$took
done
diag "another client's export list: slowest of 5 took $worst ms"
[ "$worst" -lt 1000 ]
pass_if $? "another client's calls are not delayed by it (slowest $worst ms < 1000)"
for i in $(seq 100); do
	grep -qE "read none of its reply|replies unread" "$IOPD_LOG" && break
	sleep 0.1
done
check "the reader is closed (write deadline or reply bound)" \
	grep -qE "read none of its reply|replies unread" "$IOPD_LOG"
unpeer "$PEER_PID"
stop_iopd

# ------------------------------------------------ iopctl --timeout
peer "$T/silent" silent-unix "$T/silent.sock"
took=$(ms "$IOPCTL" -s "$T/silent.sock" --timeout 2 export list)
is "$(cat "$T/ms.st")" 4 "iopctl --timeout 2 against a silent Unix server: exit 4"
grep -q "timed out after 2 s" "$T/ms.out"
pass_if $? "... saying it timed out" "$(cat "$T/ms.out")"
[ "$took" -ge 1900 ] && [ "$took" -lt 3500 ]
pass_if $? "... after ${took} ms (about 2 s)"
unpeer "$PEER_PID"
peer "$T/silent2" silent-tcp
port=$(sed -n 's/^READY //p' "$T/silent2")
took=$(ms "$IOPCTL" -c "127.0.0.1:$port" "${TLS[@]}" --token-file "$T/token" \
	--timeout 2 export list)
is "$(cat "$T/ms.st")" 4 "iopctl --timeout 2 against a silent TCP server: exit 4"
[ "$took" -ge 1900 ] && [ "$took" -lt 3500 ]
pass_if $? "... after ${took} ms (about 2 s)"
unpeer "$PEER_PID"

# ------------------------------------------------ idle HTTP clients
start_iopd --metrics-listen 127.0.0.1:0 --metrics-timeout 2 ram:1M
# From another loopback address, so that the per-address bound (not the
# test's own curl) is what they hit.
src=127.0.0.2
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' \
	2>/dev/null || src=""
peer "$T/http" hold "$IOPD_METRICS" 64 $src
pass_if $? "64 idle HTTP clients connected${src:+ from $src}" "$(cat "$T/http")"
took=$(ms t curl -sf -m 5 -o "$T/prom.txt" "http://$IOPD_METRICS/metrics")
is "$(cat "$T/ms.st")" 0 "with 64 idle HTTP clients, /metrics answers"
check "... with the metrics" grep -q "iopd_" "$T/prom.txt"
unpeer "$PEER_PID"
secs=$(t python3 "$PEER" eof "$IOPD_METRICS")
python3 -c 'import sys; t = float(sys.argv[1]); sys.exit(not 1 <= t <= 5)' \
	"${secs:-999}"
pass_if $? "an idle HTTP client is closed at --metrics-timeout 2: $secs s"
stop_iopd

done_testing
