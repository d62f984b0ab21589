#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_mgmt.sh: the iSCSI transport as the management channel sees
# it, with real initiators (libiscsi's iscsi-perf and iscsi-inq, qemu-io's
# iscsi:// driver) and NBD clients at the same time:
#   - `iopctl conn list` shows an iSCSI session (protocol iscsi, its
#     export, bytes in/out, requests) while qemu-io holds it open;
#   - `iopctl export remove` of an export in use by iscsi-perf ends that
#     session within a bounded time, by a clean drain (not the drain
#     timeout), while an iSCSI session of another target keeps running
#     and an NBD fio on a third export keeps verifying its data;
#   - a target with several LUNs: the connection list names the lowest
#     LUN's export, and removing any of its LUNs' exports ends the
#     session; the re-login serves what is left;
#   - /metrics counts iSCSI handshakes, ok and failed.
. "$(dirname "$0")/lib.sh"

require iscsi-perf iscsi-inq iscsi-ls qemu-io fio curl python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
qemu-io --help 2>&1 | grep -q . || skip_all "qemu-io does not run"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
now_ms() { date +%s%3N; }
nap() { python3 -c 'import time; time.sleep(0.05)'; }

# conns: the connection list as JSON in $T/c.json.
conns() { ctl --json conn list >"$T/c.json"; }
# cq PYEXPR: evaluate PYEXPR over the last conn list (j), with iscsi(e)
# giving the iSCSI connections on export e.
cq() {
	python3 - "$T/c.json" "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
iscsi = lambda e: [c for c in j if c["protocol"] == "iscsi" and c.get("export") == e]
v = eval(sys.argv[2], {"j": j, "iscsi": iscsi})
print(str(v).lower() if isinstance(v, bool) else v)
EOF
}
# until_conns PYEXPR: poll the connection list (5 s at most) until
# PYEXPR is true.
until_conns() {
	local i
	for i in $(seq 100); do
		conns && [ "$(cq "$1")" = true ] && return 0
		nap
	done
	return 1
}

# hs RESULT: iopd_handshakes_total for protocol iscsi from /metrics (0 if
# the series is absent).
hs() {
	t curl -sf "http://$IOPD_METRICS/metrics" >"$T/prom.txt" || {
		echo "scrape-failed"
		return
	}
	python3 - "$T/prom.txt" "$1" <<'EOF'
import re, sys
want = {"protocol": "iscsi", "result": sys.argv[2]}
n = 0
for l in open(sys.argv[1]):
    m = re.match(r'^iopd_handshakes_total\{([^}]*)\} (\S+)', l)
    if m and dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))) == want:
        n = int(float(m.group(2)))
print(n)
EOF
}

# perf NAME URI: iscsi-perf on URI for up to 60 s in the background, no
# reconnect after a failed login; PERF_PID.  Its output: $T/perf.NAME.
perf() {
	iscsi-perf -t 60 -x 0 -m 4 -b 16 "$2" >"$T/perf.$1" 2>&1 &
	PERF_PID=$!
	register_pid "$PERF_PID"
	on_exit "_reap $PERF_PID"
}

# ------------------------------------------------------------------ 1
start_iopd --iscsi-listen 127.0.0.1:0 --mgmt-socket "$T/mgmt.sock" \
	--metrics-listen 127.0.0.1:0 --drain-timeout 10 \
	victim=ram:64M other=ram:64M stable=ram:64M || {
	done_testing
	exit 1
}
[ -n "$IOPD_ISCSI" ] && [ -n "$IOPD_METRICS" ]
pass_if $? "iopd announced its iSCSI portal and metrics socket" \
	"iscsi '$IOPD_ISCSI' metrics '$IOPD_METRICS'"
VICTIM=$(iqn_of victim) OTHER=$(iqn_of other)

is "$(hs ok)/$(hs failed)" "0/0" "metrics: no iSCSI handshakes before any login"
check_fails "iscsi-inq of an unknown target is refused" \
	iscsi-inq "$(uri_iscsi "$(iqn_of no-such)")"
is "$(hs ok)/$(hs failed)" "0/1" "metrics: the refused login counts as a failed iSCSI handshake"
check "iscsi-inq of a real target" iscsi-inq "$(uri_iscsi "$VICTIM")"
is "$(hs ok)/$(hs failed)" "1/1" "metrics: the login counts as an ok iSCSI handshake"

# qemu-io holds a session open, reading its commands from a fifo (its
# output line-buffered, so the test sees each command's result).
mkfifo "$T/qio.in"
stdbuf -oL qemu-io -f raw "$(uri_iscsi "$VICTIM")" <"$T/qio.in" >"$T/qio.out" 2>&1 &
QIO=$!
register_pid "$QIO"
on_exit "_reap $QIO"
exec {QW}>"$T/qio.in"
# qio_do CMD WANT: send one command (qemu-io reads its stdin a line at a
# time only when idle) and wait for WANT in its output.
qio_do() {
	local i
	echo "$1" >&$QW
	for i in $(seq 200); do
		grep -qF "$2" "$T/qio.out" && return 0
		kill -0 "$QIO" 2>/dev/null || return 1
		nap
	done
	return 1
}
check "qemu-io over iSCSI: write 1 MiB (session held open)" \
	qio_do "write -P 0x5a 0 1M" "wrote 1048576/1048576 bytes at offset 0"
check "qemu-io over iSCSI: read it back (same session)" \
	qio_do "read -P 0x5a 0 1M" "read 1048576/1048576 bytes at offset 0"
if grep -q "Pattern verification failed" "$T/qio.out"; then
	not_ok "qemu-io: the pattern read back matches" "$(cat "$T/qio.out")"
else
	ok "qemu-io: the pattern read back matches"
fi
check "conn list: one iSCSI connection on victim" \
	until_conns "len(iscsi('victim')) == 1"
c=$(cq "iscsi('victim')[0]")
is "$(cq "iscsi('victim')[0]['bytes_in'] >= 1048576 and iscsi('victim')[0]['bytes_out'] >= 1048576")" \
	true "conn list: bytes in and out count the 1 MiB each way" "$c"
is "$(cq "iscsi('victim')[0]['requests'] >= 2")" true \
	"conn list: requests counts the SCSI commands" "$c"
is "$(cq "iscsi('victim')[0]['inflight']")" 0 "conn list: nothing in flight while idle"
if grep -qE '^[0-9.]+:[0-9]+$' <<<"$(cq "iscsi('victim')[0]['peer']")"; then
	ok "conn list: the peer is host:port"
else
	not_ok "conn list: the peer is host:port" "$c"
fi
ctl --json conn list export=victim >"$T/cv.json"
is "$(json_get "$T/cv.json" "[c['protocol'] for c in j]")" "['iscsi']" \
	"conn list export=victim filters to the iSCSI session"
exec {QW}>&-
_wait_timeout "$QIO" 20
pass_if $? "qemu-io logged out and exited 0" "$(tail -n 5 "$T/qio.out")"
check "conn list: the session is gone after the logout" \
	until_conns "len(iscsi('victim')) == 0"

# ------------------------------------------------------------------ 2
# export remove under iscsi-perf; another target and an NBD client go on.
fio --name=stable --ioengine=nbd --uri="nbd://$IOPD_TCP/stable" --rw=randwrite \
	--bs=4k --size=16M --iodepth=8 --verify=crc32c --do_verify=1 \
	--loops=3 --output="$T/fio.out" >/dev/null 2>&1 &
FIO=$!
register_pid "$FIO"
on_exit "_reap $FIO"
perf victim "$(uri_iscsi "$VICTIM")"
PV=$PERF_PID
perf other "$(uri_iscsi "$OTHER")"
PO=$PERF_PID
check "iscsi-perf is busy on victim and on other" until_conns \
	"len(iscsi('victim')) == 1 and iscsi('victim')[0]['requests'] > 500 and len(iscsi('other')) == 1 and iscsi('other')[0]['requests'] > 500"
OID=$(cq "iscsi('other')[0]['id']")
OREQ=$(cq "iscsi('other')[0]['requests']")
hs_failed=$(hs failed)
start=$(now_ms)
check "export remove victim under iscsi-perf" ctl export remove victim
took=$(($(now_ms) - start))
[ "$took" -lt 5000 ]
pass_if $? "the removal ended the iSCSI session in ${took} ms (drain timeout 10 s)"
if grep -q "drain timed out\|clients still connected" "$IOPD_LOG"; then
	not_ok "the session drained cleanly (no abort after the drain timeout)" \
		"$(grep "drain timed out\|clients still connected" "$IOPD_LOG")"
else
	ok "the session drained cleanly (no abort after the drain timeout)"
fi
conns
is "$(cq "len(iscsi('victim'))")" 0 "conn list: no connection left on victim"
_wait_timeout "$PV" 20
st=$?
[ "$st" -ne 0 ] && [ "$st" -ne 137 ]
pass_if $? "iscsi-perf on victim ended by itself with an error (status $st)" \
	"$(tail -c 600 "$T/perf.victim")"
grep -q "Target not found\|log in" "$T/perf.victim"
pass_if $? "... because its re-login found no target" "$(tail -c 600 "$T/perf.victim")"
is "$(hs failed)" $((hs_failed + 1)) "metrics: the refused re-login is a failed handshake"
more_other() {
	conns && [ "$(cq "[c['requests'] for c in iscsi('other') if c['id'] == $OID]")" != "[]" ] &&
		[ "$(cq "[c for c in iscsi('other') if c['id'] == $OID][0]['requests'] > $OREQ")" = true ]
}
check "the session on target other is the same connection and still serving" more_other
kill -0 "$PO" 2>/dev/null
pass_if $? "iscsi-perf on other is still running"
kill "$PO" 2>/dev/null
_wait_timeout "$PO" 20
_wait_timeout "$FIO" 120
pass_if $? "fio over NBD on stable verified clean through the removal" \
	"$(tail -n 20 "$T/fio.out")"
check "iscsi-ls after the removal" iscsi-ls "iscsi://$IOPD_ISCSI"
if grep -q "$VICTIM" "$T/out"; then
	not_ok "SendTargets no longer lists victim" "$(cat "$T/out")"
else
	ok "SendTargets no longer lists victim"
fi
check "victim's name can be exported again and serves iSCSI" ctl export add victim ram:1M
check "... iscsi-inq on the new victim" iscsi-inq "$(uri_iscsi "$VICTIM")"
iopd_alive "daemon alive"
stop_iopd

# ------------------------------------------------------------------ 3
# A target with several LUNs.
cat >"$T/multi.json" <<EOF
{
  "listen": ["127.0.0.1:0"],
  "exports": [
    {"name": "a", "ddm": "ram", "size": "16M"},
    {"name": "b", "ddm": "ram", "size": "16M"},
    {"name": "c", "ddm": "ram", "size": "16M"}
  ],
  "iscsi": {
    "listen": ["127.0.0.1:0"],
    "targets": [
      {"name": "iqn.2026-11.test.iopd:multi",
       "luns": [{"lun": 3, "export": "b"}, {"lun": 0, "export": "a"}]},
      {"name": "iqn.2026-11.test.iopd:single",
       "luns": [{"lun": 0, "export": "c"}]}
    ]
  }
}
EOF
start_iopd -c "$T/multi.json" --mgmt-socket "$T/mgmt2.sock" --drain-timeout 10 || {
	done_testing
	exit 1
}
MULTI=iqn.2026-11.test.iopd:multi SINGLE=iqn.2026-11.test.iopd:single
perf multi "$(uri_iscsi "$MULTI" 0)"
PM=$PERF_PID
perf single "$(uri_iscsi "$SINGLE" 0)"
PS=$PERF_PID
check "iscsi-perf busy on multi (LUNs 0 and 3) and single" until_conns \
	"len(iscsi('a')) == 1 and iscsi('a')[0]['requests'] > 100 and len(iscsi('c')) == 1"
is "$(cq "len(iscsi('b'))")" 0 \
	"conn list: a session on several LUNs shows the lowest LUN's export (a, not b)"
MID=$(cq "iscsi('a')[0]['id']")
SID=$(cq "iscsi('c')[0]['id']")
start=$(now_ms)
check "export remove b (LUN 3 of multi, not used by iscsi-perf)" ctl export remove b
took=$(($(now_ms) - start))
[ "$took" -lt 5000 ]
pass_if $? "the removal drained multi's session in ${took} ms"
conns
is "$(cq "[c['id'] for c in j if c['id'] == $MID]")" "[]" \
	"conn list: multi's old session (LUN 3 was b) is gone"
is "$(cq "[c['id'] for c in iscsi('c')]")" "[$SID]" \
	"conn list: single's session is the same connection"
check "iscsi-perf re-logged in to multi (LUN 0 is still there)" until_conns \
	"len(iscsi('a')) == 1 and iscsi('a')[0]['id'] != $MID and iscsi('a')[0]['requests'] > 0"
check "iscsi-ls -s: multi now has LUN 0 only" iscsi-ls -s "iscsi://$IOPD_ISCSI"
python3 - "$T/out" "$MULTI" >"$T/luns" <<'EOF'
import sys
cur, n = None, 0
for l in open(sys.argv[1]):
    if l.startswith("Target:"):
        cur = l.split()[0][7:]
    elif l.startswith("Lun:") and cur == sys.argv[2]:
        n += 1
        print(l.split()[0])
EOF
is "$(tr '\n' ' ' <"$T/luns")" "Lun:0 " "... and LUN 3 is gone" "$(cat "$T/out")"
kill -0 "$PM" 2>/dev/null && kill -0 "$PS" 2>/dev/null
pass_if $? "both iscsi-perf runs are still going"
start=$(now_ms)
check "export remove a (LUN 0 of multi)" ctl export remove a
took=$(($(now_ms) - start))
[ "$took" -lt 5000 ]
pass_if $? "the removal drained multi's new session in ${took} ms"
_wait_timeout "$PM" 20
st=$?
[ "$st" -ne 0 ] && [ "$st" -ne 137 ]
pass_if $? "iscsi-perf on multi LUN 0 ended with an error (status $st)" \
	"$(tail -c 600 "$T/perf.multi")"
conns
is "$(cq "[c['id'] for c in iscsi('c')]")" "[$SID]" "single's session is still undisturbed"
kill "$PS" 2>/dev/null
_wait_timeout "$PS" 20
iopd_alive "daemon alive"
stop_iopd
done_testing
