#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_mgmt.sh: the iSCSI transport as the management channel sees
# it, with real initiators (libiscsi's iscsi-perf, iscsi-inq and iscsi-ls,
# qemu-io's iscsi:// driver holding sessions open), a small raw Python
# initiator, and an NBD client at the same time:
#   - `iopctl conn list` shows an iSCSI session (protocol iscsi, peer, its
#     export, bytes in/out, requests, in flight) while qemu-io holds it;
#   - `iopctl export remove` of an export in use by iscsi-perf ends that
#     session within a bounded time by a clean drain (not the drain
#     timeout), while a qemu-io session of another target keeps its
#     connection and data and an NBD fio on a third export keeps
#     verifying; the raw client sees every answer to the commands the
#     target took, whole and GOOD, then FIN at a PDU boundary;
#   - a target with several LUNs: the connection list names the lowest
#     LUN's export, removing any of its LUNs' exports ends the session,
#     the initiator's re-login serves what is left, and a session of
#     another target is undisturbed;
#   - /metrics counts iSCSI handshakes, ok and failed.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"

require iscsi-perf iscsi-inq iscsi-ls qemu-io fio curl python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
grep -q . <<<"$(qemu-io --help 2>&1)" || skip_all "qemu-io does not run"

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
	for _ in $(seq 100); do
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

# qio_open NAME URI: qemu-io on URI in the background, holding its
# session, its commands from a fifo, its output (line-buffered) in
# $T/qio.NAME.
declare -A QIO_PID=() QIO_FD=()
qio_open() {
	local fd
	mkfifo "$T/qio.$1.in"
	stdbuf -oL qemu-io -f raw "$2" <"$T/qio.$1.in" >"$T/qio.$1" 2>&1 &
	QIO_PID[$1]=$!
	register_pid "$!"
	on_exit "_reap $!"
	exec {fd}>"$T/qio.$1.in"
	QIO_FD[$1]=$fd
}
# qio_do NAME CMD WANT: send one command (qemu-io reads its stdin a line
# at a time only when idle) and wait (10 s) for WANT in its output.
qio_do() {
	echo "$2" >&"${QIO_FD[$1]}"
	for _ in $(seq 200); do
		grep -qF "$3" "$T/qio.$1" && return 0
		kill -0 "${QIO_PID[$1]}" 2>/dev/null || return 1
		nap
	done
	return 1
}
# qio_close NAME: end its input; qemu-io logs out and exits (status).
qio_close() {
	local fd=${QIO_FD[$1]}
	exec {fd}>&-
	_wait_timeout "${QIO_PID[$1]}" 20
}

# ------------------------------------------------------------------ 1
start_iopd --iscsi-listen 127.0.0.1:0 --mgmt-socket "$T/mgmt.sock" \
	--metrics-listen 127.0.0.1:0 --drain-timeout 10 \
	victim=ram:64M other=ram:64M stable=ram:64M raw=ram:16M || {
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

qio_open victim "$(uri_iscsi "$VICTIM")"
check "qemu-io over iSCSI: write 1 MiB (session held open)" \
	qio_do victim "write -P 0x5a 0 1M" "wrote 1048576/1048576 bytes at offset 0"
check "qemu-io over iSCSI: read it back (same session)" \
	qio_do victim "read -P 0x5a 0 1M" "read 1048576/1048576 bytes at offset 0"
if grep -q "Pattern verification failed" "$T/qio.victim"; then
	not_ok "qemu-io: the pattern read back matches" "$(cat "$T/qio.victim")"
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
qio_close victim
pass_if $? "qemu-io logged out and exited 0" "$(tail -n 5 "$T/qio.victim")"
check "conn list: the session is gone after the logout" \
	until_conns "len(iscsi('victim')) == 0"

# ------------------------------------------------------------------ 2
# export remove under iscsi-perf; a session of another target (qemu-io)
# and an NBD client (fio, verifying) go on.
fio --name=stable --ioengine=nbd --uri="nbd://$IOPD_TCP/stable" --rw=randwrite \
	--bs=4k --size=16M --iodepth=8 --verify=crc32c --do_verify=1 \
	--loops=3 --output="$T/fio.out" >/dev/null 2>&1 &
FIO=$!
register_pid "$FIO"
on_exit "_reap $FIO"
perf victim "$(uri_iscsi "$VICTIM")"
PV=$PERF_PID
qio_open other "$(uri_iscsi "$OTHER")"
check "qemu-io on target other: write" \
	qio_do other "write -P 0x0e 0 256k" "wrote 262144/262144 bytes at offset 0"
check "iscsi-perf is busy on victim, qemu-io connected to other" until_conns \
	"len(iscsi('victim')) == 1 and iscsi('victim')[0]['requests'] > 500 and len(iscsi('other')) == 1"
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
check "qemu-io on other reads its data back after the removal" \
	qio_do other "read -P 0x0e 0 256k" "read 262144/262144 bytes at offset 0"
check "... over the same connection" more_other
qio_close other
pass_if $? "qemu-io on other logged out and exited 0" "$(tail -n 5 "$T/qio.other")"
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

# The same with a raw client that keeps 16 READs in flight and checks
# what the removal does to them: the commands the target took are all
# answered, whole and GOOD, and the stream then ends at a PDU boundary
# with FIN (not a reset, not a cut PDU).
cat >"$T/rawread.py" <<'PYEOF'
"""Keep READ(10) commands in flight on one iSCSI session until the target
closes the connection; then check every answer was whole and GOOD and the
stream ended at a PDU boundary.  argv: portal target busy-file."""
import socket, struct, sys, os

host, port = sys.argv[1].rsplit(":", 1)
target, busy_file = sys.argv[2], sys.argv[3]
DEPTH, XFER = 16, 65536
s = socket.create_connection((host, int(port)), 30)
s.settimeout(30)


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def recv_exact(n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            return bytes(out)
        out += b
    return bytes(out)


def recv_pdu():
    """(bhs, data); None at a clean end; 'partial' if the stream ended
    inside a PDU."""
    h = recv_exact(48)
    if not h:
        return None
    if len(h) < 48:
        return "partial"
    n = h[4] * 4 + int.from_bytes(h[5:8], "big")
    want = n + (-n % 4)
    d = recv_exact(want) if want else b""
    if len(d) < want:
        return "partial"
    return h, d[h[4] * 4:n]


keys = ("InitiatorName=iqn.2026-11.test.iopd:rawread\0TargetName=%s\0"
        "SessionType=Normal\0HeaderDigest=None\0DataDigest=None\0"
        "MaxRecvDataSegmentLength=262144\0ErrorRecoveryLevel=0\0"
        "InitialR2T=Yes\0ImmediateData=Yes\0MaxBurstLength=262144\0"
        "FirstBurstLength=65536\0MaxConnections=1\0" % target).encode()
h = bytearray(48)
h[0], h[1] = 0x43, 0x80 | (1 << 2) | 3  # Login, I; T, CSG 1, NSG 3
h[5:8] = len(keys).to_bytes(3, "big")
h[8:14] = bytes([0x80, 0, 0, 0x42, 0, 1])
h[16:20] = (1).to_bytes(4, "big")
h[24:28] = (1).to_bytes(4, "big")
s.sendall(bytes(h) + pad4(keys))
p = recv_pdu()
if not isinstance(p, tuple) or p[0][0] & 0x3F != 0x23 or p[0][36] != 0 or \
        not p[0][1] & 0x80 or p[0][1] & 3 != 3:
    print("login failed: %r" % (p if not isinstance(p, tuple) else p[0][:48].hex()))
    sys.exit(2)
stat_sn = int.from_bytes(p[0][24:28], "big") + 1
max_cmd_sn = int.from_bytes(p[0][32:36], "big")
cmd_sn, itt, done, bad, got = 1, 0, 0, [], {}
outstanding = set()


sending = True


def send_read():
    global cmd_sn, itt, sending
    itt += 1
    lba = (itt * 16) % 8192
    cdb = struct.pack(">BBIBHB", 0x28, 0, lba, 0, XFER // 4096 * 8, 0)
    c = bytearray(48)
    c[0], c[1] = 0x01, 0x80 | 0x40 | 1  # SCSI Command, F, R, SIMPLE
    c[9] = 0  # LUN 0
    c[16:20] = itt.to_bytes(4, "big")
    c[20:24] = XFER.to_bytes(4, "big")
    c[24:28] = cmd_sn.to_bytes(4, "big")
    c[28:32] = stat_sn.to_bytes(4, "big")
    c[32:48] = cdb.ljust(16, b"\0")
    try:
        s.sendall(bytes(c))
    except (BrokenPipeError, ConnectionResetError):
        sending = False  # the target closed: read what it sent
        return
    outstanding.add(itt)
    got[itt] = 0
    cmd_sn += 1


def finish(t, status, sense_key=0):
    global done
    outstanding.discard(t)
    if status == 2 and sense_key == 6:  # UNIT ATTENTION after login
        got.pop(t, 0)
        return
    if status != 0 or got.pop(t, 0) != XFER:
        bad.append((t, status))
    done += 1
    if done == 300:
        open(busy_file, "w").write("busy\n")


end = "eof"
try:
    while True:
        while sending and len(outstanding) < DEPTH and cmd_sn <= max_cmd_sn:
            send_read()
        p = recv_pdu()
        if p is None:
            break
        if p == "partial":
            end = "partial"
            break
        h, d = p
        op = h[0] & 0x3F
        t = int.from_bytes(h[16:20], "big")
        if op in (0x21, 0x25, 0x20):
            max_cmd_sn = int.from_bytes(h[32:36], "big")
        if op == 0x25:  # Data-In
            got[t] = got.get(t, 0) + len(d)
            if h[1] & 0x01:
                stat_sn = int.from_bytes(h[24:28], "big") + 1
                finish(t, h[3])
        elif op == 0x21:  # SCSI Response
            stat_sn = int.from_bytes(h[24:28], "big") + 1
            finish(t, h[3] if h[2] == 0 else 0x100 | h[2],
                   d[4] & 0x0F if len(d) > 4 else 0)
        elif op == 0x20:  # NOP-In: answer a ping
            if h[20:24] != b"\xff\xff\xff\xff":
                n = bytearray(48)
                n[0], n[1] = 0x40, 0x80
                n[16:20] = b"\xff\xff\xff\xff"
                n[20:24] = h[20:24]
                n[24:28] = cmd_sn.to_bytes(4, "big")
                n[28:32] = stat_sn.to_bytes(4, "big")
                s.sendall(bytes(n))
        else:
            bad.append(("opcode 0x%02x" % op, 0))
except (ConnectionResetError, BrokenPipeError) as e:
    end = "reset (%s)" % e.__class__.__name__
except socket.timeout:
    end = "timeout"
print("answered %d, bad %d %s, unanswered at the end %d, end: %s"
      % (done, len(bad), bad[:5], len(outstanding), end))
sys.exit(0 if not bad and end == "eof" and done >= 300 else 1)
PYEOF
python3 "$T/rawread.py" "$IOPD_ISCSI" "$(iqn_of raw)" "$T/raw.busy" >"$T/raw.out" 2>&1 &
RAW=$!
register_pid "$RAW"
on_exit "_reap $RAW"
raw_busy() {
	for _ in $(seq 200); do
		[ -s "$T/raw.busy" ] && return 0
		kill -0 "$RAW" 2>/dev/null || return 1
		nap
	done
	return 1
}
check "raw client: 300 READs answered, 16 in flight" raw_busy
start=$(now_ms)
check "export remove raw under the raw client" ctl export remove raw
took=$(($(now_ms) - start))
[ "$took" -lt 5000 ]
pass_if $? "the removal drained the raw client's session in ${took} ms"
_wait_timeout "$RAW" 20
pass_if $? "raw client: every answer whole and GOOD, then a clean end of stream" \
	"$(cat "$T/raw.out")"
diag "raw client: $(cat "$T/raw.out")"

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
qio_open multi "$(uri_iscsi "$MULTI" 0)"
qio_open single "$(uri_iscsi "$SINGLE" 0)"
check "qemu-io on multi LUN 0 (export a): write" \
	qio_do multi "write -P 0x61 0 64k" "wrote 65536/65536 bytes at offset 0"
check "qemu-io on single LUN 0 (export c): write" \
	qio_do single "write -P 0x63 0 64k" "wrote 65536/65536 bytes at offset 0"
check "conn list: both sessions" until_conns "len(iscsi('a')) == 1 and len(iscsi('c')) == 1"
is "$(cq "len(iscsi('b'))")" 0 \
	"conn list: a session on several LUNs shows the lowest LUN's export (a, not b)"
MID=$(cq "iscsi('a')[0]['id']")
SID=$(cq "iscsi('c')[0]['id']")
start=$(now_ms)
check "export remove b (LUN 3 of multi, idle)" ctl export remove b
took=$(($(now_ms) - start))
[ "$took" -lt 5000 ]
pass_if $? "the removal ended multi's session in ${took} ms"
conns
is "$(cq "[c['id'] for c in j if c['id'] == $MID]")" "[]" \
	"conn list: multi's session (LUN 3 was b) is gone"
is "$(cq "[c['id'] for c in iscsi('c')]")" "[$SID]" \
	"conn list: single's session is the same connection"
check "qemu-io on multi logs in again and reads LUN 0" \
	qio_do multi "read -P 0x61 0 64k" "read 65536/65536 bytes at offset 0"
check "conn list: multi has a new session" until_conns \
	"len(iscsi('a')) == 1 and iscsi('a')[0]['id'] != $MID"
check "iscsi-ls -s: multi now has LUN 0 only" iscsi-ls -s "iscsi://$IOPD_ISCSI"
python3 - "$T/out" "$MULTI" >"$T/luns" <<'EOF'
import sys
cur = None
for l in open(sys.argv[1]):
    if l.startswith("Target:"):
        cur = l.split()[0][7:]
    elif l.startswith("Lun:") and cur == sys.argv[2]:
        print(l.split()[0])
EOF
is "$(tr '\n' ' ' <"$T/luns")" "Lun:0 " "... and LUN 3 is gone"
check "qemu-io on single: still the same session, reads its data" \
	qio_do single "read -P 0x63 0 64k" "read 65536/65536 bytes at offset 0"
conns
is "$(cq "[c['id'] for c in iscsi('c')]")" "[$SID]" "single's session is still undisturbed"
MID=$(cq "iscsi('a')[0]['id']")
start=$(now_ms)
check "export remove a (LUN 0 of multi)" ctl export remove a
took=$(($(now_ms) - start))
[ "$took" -lt 5000 ]
pass_if $? "the removal ended multi's new session in ${took} ms"
conns
is "$(cq "[c['id'] for c in j if c['id'] == $MID]")" "[]" "conn list: multi's session is gone"
is "$(cq "[c['id'] for c in iscsi('c')]")" "[$SID]" "single's session is still undisturbed"
check "qemu-io on single still reads" \
	qio_do single "read -P 0x63 4k 4k" "read 4096/4096 bytes at offset 4096"
qio_close single
pass_if $? "qemu-io on single logged out and exited 0" "$(tail -n 5 "$T/qio.single")"
iopd_alive "daemon alive"
stop_iopd
done_testing
