#!/bin/bash
# SPDX-License-Identifier: MIT
# Live changes through the management channel: exports added and removed
# in a loop while a client does verified I/O on another export; an export
# removed under an active fio client (the client gets an error or a
# disconnect in bounded time, the daemon keeps serving) and under a client
# that stopped reading (aborted after the drain timeout); SIGHUP reload
# adding, removing and changing exports, and a broken file changing
# nothing; save-config, then a restart brings back the same exports.
. "$(dirname "$0")/lib.sh"
require fio python3 nbdinfo qemu-io
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
names() { t nbdinfo --list --json "nbd+unix:///?socket=$IOPD_SOCK" >"$T/list.json" &&
	json_get "$T/list.json" "sorted(e['export-name'] for e in j['exports'])"; }
now_ms() { date +%s%3N; }

cat >"$T/cfg.json" <<EOF
{ "listen": "unix:$T/nbd.sock",
  "exports": [ { "name": "stable", "ddm": "ram", "size": "64M" },
               { "name": "victim", "ddm": "ram", "size": "64M" },
               { "name": "old", "ddm": "ram", "size": "1M" } ] }
EOF
start_iopd -c "$T/cfg.json" --mgmt-socket "$T/mgmt.sock" --drain-timeout 2 || {
	done_testing
	exit 1
}

# ------------------------------------------------- add/remove in a loop
fio --name=stable --ioengine=nbd --uri="$(uri_unix stable)" --rw=randwrite \
	--bs=4k --size=64M --iodepth=8 --verify=crc32c --do_verify=1 \
	--loops=4 --output="$T/stable.out" >/dev/null 2>&1 &
FIO=$!
churn() {
	local i
	for i in $(seq 40); do
		t "$IOPCTL" -s "$IOPD_MGMT" export add "tmp$i" ram:4M >/dev/null || return 1
		t qemu-io -f raw "$(uri_unix "tmp$i")" -c "write -P $((i % 256)) 0 64k" \
			-c "read -P $((i % 256)) 0 64k" >/dev/null || return 1
		t "$IOPCTL" -s "$IOPD_MGMT" export remove "tmp$i" >/dev/null || return 1
	done
}
check "40 exports added, written, read back and removed while fio runs on another" churn
wait "$FIO"
pass_if $? "fio on the stable export verified clean through the churn" "$(tail -n 20 "$T/stable.out")"
is "$(names)" "['old', 'stable', 'victim']" "the churned exports are all gone"

# ------------------------------------------------- remove under fio
remove_under_load victim "$(uri_unix victim)" --size=64M
check "stable still serves" qio "$(uri_unix stable)" "read 0 64k"
check "victim's name can be used again" ctl export add victim ram:1M

# ------------------------------------------------- remove under a stalled client
nbdpy "$T/sent" >/dev/null 2>&1 <<'PY' &
import struct, sys, time
from nbdproto import *
s = raw_socket()
s.sendall(struct.pack('>I', 3) + struct.pack('>QII', IHAVEOPT, OPT_EXPORT_NAME, 6) + b'victim')
for i in range(64):
    s.sendall(struct.pack('>IHHQQI', REQUEST_MAGIC, 0, CMD_READ, i, 0, 1 << 20))
open(sys.argv[1], 'w').write('sent\n')
time.sleep(60)
PY
STALLED=$!
for _ in $(seq 100); do [ -s "$T/sent" ] && break; t python3 -c 'import time; time.sleep(0.05)'; done
start=$(now_ms)
check "export remove victim under a client that stopped reading" ctl export remove victim
took=$(($(now_ms) - start))
[ "$took" -ge 1500 ] && [ "$took" -lt 8000 ]
pass_if $? "removal waited for the 2 s drain timeout, then closed it (${took} ms)"
grep -q "export victim: clients still connected" "$IOPD_LOG"
pass_if $? "the log says why"
kill "$STALLED" 2>/dev/null
wait "$STALLED" 2>/dev/null
check "stable still serves" qio "$(uri_unix stable)" "read 0 64k"

# ------------------------------------------------- SIGHUP reload
cat >"$T/cfg.json" <<EOF
{ "listen": "unix:$T/nbd.sock",
  "exports": [ { "name": "stable", "ddm": "ram", "size": "64M" },
               { "name": "old", "ddm": "ram", "size": "2M" },
               { "name": "fresh", "ddm": "null", "size": "8M",
                 "description": "from the reload" } ] }
EOF
qio "$(uri_unix stable)" "write -P 0x5a 0 1M" >/dev/null
kill -HUP "$IOPD_PID"
reloaded() { grep -q "reloaded $T/cfg.json" "$IOPD_LOG"; }
for _ in $(seq 100); do reloaded && break; t python3 -c 'import time; time.sleep(0.05)'; done
check "SIGHUP reloaded the file" reloaded
is "$(names)" "['fresh', 'old', 'stable']" "reload added fresh and removed victim"
check "reload changed old's size" t nbdinfo --size "$(uri_unix old)"
is "$(cat "$T/out")" 2097152 "old is 2 MiB now"
check "stable was left alone (data intact)" qio "$(uri_unix stable)" "read -P 0x5a 0 1M"

echo '{ "exports": [ { "name": "stable", "ddm": "ram" ' >"$T/cfg.json"
kill -HUP "$IOPD_PID"
for _ in $(seq 100); do grep -q "reload failed" "$IOPD_LOG" && break; t python3 -c 'import time; time.sleep(0.05)'; done
grep -q "reload failed" "$IOPD_LOG"
pass_if $? "a broken file: the reload fails and says so" "$(tail -n 5 "$IOPD_LOG")"
is "$(names)" "['fresh', 'old', 'stable']" "a broken file changes nothing"
cat >"$T/cfg.json" <<EOF
{ "listen": "unix:$T/nbd.sock",
  "exports": [ { "name": "stable", "ddm": "ram", "size": "64M" },
               { "name": "gone", "ddm": "file", "path": "$T/no/such/file" } ] }
EOF
check_fails "reload naming a device that cannot open: refused" ctl daemon reload
is "$(names)" "['fresh', 'old', 'stable']" "... and nothing changed"

# ------------------------------------------------- save-config, restart
check "export add kept ram:3M" ctl export add kept ram:3M
check "export add kept2 ram:3M,ro" ctl export add kept2 ram:3M,ro description=hi
check "iop add grp (a shared group)" ctl iop add grp ram 'devices=[{"name":"g0","size":"2M"}]'
check "export add gx of grp's device" ctl export add gx iop=grp device=g0
check "daemon save-config" ctl daemon save-config "$T/saved.json"
before=$(names)
t nbdinfo --list --json "nbd+unix:///?socket=$IOPD_SOCK" >"$T/before.json"
stop_iopd
start_iopd -c "$T/saved.json" --mgmt-socket "$T/mgmt2.sock" || {
	done_testing
	exit 1
}
is "$(names)" "$before" "a restart from the saved config brings back the same exports"
t nbdinfo --list --json "nbd+unix:///?socket=$IOPD_SOCK" >"$T/after.json"
is "$(json_get "$T/after.json" "sorted((e['export-name'], e['export-size'], e['is_read_only'], e.get('description')) for e in j['exports'])")" \
	"$(json_get "$T/before.json" "sorted((e['export-name'], e['export-size'], e['is_read_only'], e.get('description')) for e in j['exports'])")" \
	"... with the same sizes, modes and descriptions"

iopd_alive "daemon alive"
stop_iopd
done_testing
