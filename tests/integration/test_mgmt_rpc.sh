#!/bin/bash
# SPDX-License-Identifier: MIT
# The management channel: every method driven through iopctl against a
# running iopd while fio (crc32c verification) keeps writing and verifying
# another export, whose verification must stay clean; the JSON-RPC
# protocol itself (bad JSON, unknown method, bad params, batches,
# notifications); iopctl's exit codes; the socket's mode and the peer
# credential check.
. "$(dirname "$0")/lib.sh"
require fio python3 nbdinfo qemu-io certtool
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
# ctl_json OUT ARGS...: iopctl --json ARGS into OUT.
ctl_json() {
	local out=$1
	shift
	t "$IOPCTL" -s "$IOPD_MGMT" --json "$@" >"$out"
}
# rpc LINES: send raw request lines, print the response lines.
rpc() {
	t python3 - "$IOPD_MGMT" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.makefile().read())
EOF
}

truncate -s 16M "$T/disk.img"
cat >"$T/cfg.json" <<EOF
{ "listen": "unix:$T/nbd.sock",
  "exports": [ { "name": "work", "ddm": "ram", "size": "64M" },
               { "name": "spare", "ddm": "ram", "size": "16M" },
               { "name": "disk", "ddm": "file", "path": "$T/disk.img" } ] }
EOF
start_iopd -c "$T/cfg.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
is "$IOPD_MGMT" "$T/mgmt.sock" "ready fd announces LISTEN mgmt unix PATH"
is "$(stat -c %a "$IOPD_MGMT")" 600 "management socket is mode 0600"

# fio writes and verifies "work" in a loop for as long as the methods run.
fio_loop() {
	local n=0
	while [ ! -e "$T/fio.stop" ]; do
		if ! timeout -k 5 120 fio --name=work --ioengine=nbd \
			--uri="$(uri_unix work)" --rw=randwrite --bs=4k --size=32M \
			--iodepth=8 --verify=crc32c --do_verify=1 \
			--output="$T/fio.$n.out" >/dev/null 2>&1; then
			echo "run $n failed" >>"$T/fio.failed"
		fi
		n=$((n + 1))
		echo "$n" >"$T/fio.runs"
	done
}
fio_loop &
FIO_LOOP=$!

# ------------------------------------------------------------- daemon
check "daemon version" ctl daemon version
grep -q "^version: " "$T/out"
pass_if $? "daemon version prints the version" "$(cat "$T/out")"
ctl_json "$T/v.json" daemon version
is "$(json_get "$T/v.json" "j['pid']")" "$IOPD_PID" "daemon version --json: the daemon's pid"
ctl_json "$T/m.json" daemon methods
check "daemon methods lists every family" json_get "$T/m.json" \
	"all(any(m['name'].startswith(f + '.') for m in j) for f in ('daemon', 'export', 'conn', 'device', 'iop')) or exit(1)"
check "daemon log-level debug" ctl daemon log-level debug
ctl_json "$T/l.json" daemon log-level
is "$(json_get "$T/l.json" "j['level']")" debug "log level reads back as debug"
check "daemon log-level info" ctl daemon log-level info
check_fails "daemon log-level loud: refused" ctl daemon log-level loud
ctl_json "$T/c.json" daemon config
is "$(json_get "$T/c.json" "[e['name'] for e in j['exports']]")" "['work', 'spare', 'disk']" \
	"daemon config shows the running exports"

# ------------------------------------------------------------- exports
ctl_json "$T/e.json" export list
is "$(json_get "$T/e.json" "[(e['name'], e['size'], e['default']) for e in j]")" \
	"[('work', 67108864, True), ('spare', 16777216, False), ('disk', 16777216, False)]" \
	"export list: names, sizes, the default"
check "export list (table)" ctl export list
grep -qE '^work +ram +64M' "$T/out"
pass_if $? "export list prints a table" "$(cat "$T/out")"
check "export add new ram:8M" ctl export add new ram:8M description=fresh
check "nbdinfo sees the new export" t nbdinfo --size "$(uri_unix new)"
is "$(cat "$T/out")" 8388608 "new export's size over NBD"
check "export add img file:PATH size=4M" ctl export add img "file:$T/img.raw" size=4M
is "$(stat -c %s "$T/img.raw")" 4194304 "export add created the 4 MiB file"
check_fails "export add of an existing name fails" ctl export add new ram:1M
check "export set-read-only new" ctl export set-read-only new
check_fails "a write to the read-only export fails" qio "$(uri_unix new)" "write -P 1 0 4k"
check "export set-read-only new false" ctl export set-read-only new false
check "a write to it works again" qio "$(uri_unix new)" "write -P 1 0 4k"
check "export resize new 16M" ctl export resize new 16M
check "nbdinfo sees the new size" t nbdinfo --size "$(uri_unix new)"
is "$(cat "$T/out")" 16777216 "resized export is 16 MiB for new connections"
check "write at 12M of the grown ram export" qio "$(uri_unix new)" "write -P 0x33 12M 64k"
shrink_grow() { ctl export resize new 4M && ctl export resize new 16M; }
check "shrink it to 4M, grow it back to 16M" shrink_grow
check "what the shrink cut off reads back as zeroes" qio "$(uri_unix new)" "read -P 0 12M 64k"
check "export resize img 8M (file)" ctl export resize img 8M
is "$(stat -c %s "$T/img.raw")" 8388608 "file grew to 8 MiB"
check "export set-default spare" ctl export set-default spare
check "nbdinfo of the default export" t nbdinfo --size "nbd+unix:///?socket=$IOPD_SOCK"
is "$(cat "$T/out")" 16777216 "\"\" now finds spare"
check "export set-default (back to the first)" ctl export set-default
check "export remove img" ctl export remove img
check_fails "nbdinfo no longer finds img" t nbdinfo --size "$(uri_unix img)"

# ------------------------------------------------------------- IOPs, devices
check "iop add pool (two ram devices)" ctl iop add pool ram \
	'devices=[{"name":"d0","size":"1M"},{"name":"d1","size":"2M"}]'
ctl_json "$T/d.json" device list iop=pool
is "$(json_get "$T/d.json" "[(d['name'], d['size']) for d in j]")" \
	"[('d0', 1048576), ('d1', 2097152)]" "device list: the pool's devices"
check "export add of a pool device" ctl export add p1 iop=pool device=d1
check "nbdinfo: p1 is the 2 MiB device" t nbdinfo --size "$(uri_unix p1)"
is "$(cat "$T/out")" 2097152 "p1's size"
check_fails "iop remove pool while p1 uses it: refused" ctl iop remove pool
ctl_json "$T/i.json" iop list
is "$(json_get "$T/i.json" "[i['exports'] for i in j if i['name'] == 'pool'][0]")" "['p1']" \
	"iop list shows the pool's export"
check "export remove p1" ctl export remove p1
check "iop remove pool" ctl iop remove pool
check "device list" ctl device list
! grep -q pool "$T/out"
pass_if $? "the pool's devices are gone" "$(cat "$T/out")"

# ------------------------------------------------------------- connections
# A client that stays connected to spare until the server hangs up.
nbdpy >"$T/idle.out" 2>&1 <<'EOF' &
import nbdproto, sys
c = nbdproto.Client().greet()
c.go("spare")
print("connected", flush=True)
print("closed" if nbdproto.closed_by_peer(c.s, 60) else "still open", flush=True)
EOF
IDLE=$!
for _ in $(seq 100); do grep -q connected "$T/idle.out" && break; t python3 -c 'import time; time.sleep(0.05)'; done
# fio reconnects between its runs: look again for up to a minute (under
# ASan on a loaded machine a run's start-up can outlast fifty quick looks).
fio_seen() {
	local end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		ctl_json "$T/conns.json" conn list &&
			json_get "$T/conns.json" "any(c['export'] == 'work' and c['protocol'] == 'nbd' and c['bytes_in'] > 0 and c['requests'] > 0 for c in j) or exit(1)" &&
			return 0
		t python3 -c 'import time; time.sleep(0.1)'
	done
	return 1
}
check "conn list shows fio on work (nbd, bytes and requests counted)" fio_seen
id=$(json_get "$T/conns.json" "[c['id'] for c in j if c['export'] == 'spare'][0]")
check "conn list (table)" ctl conn list
check_fails "resizing a ram export with a client connected is refused" ctl export resize spare 32M
grep -q "only while no client uses it" "$T/out"
pass_if $? "... and says why" "$(cat "$T/out")"
check "conn disconnect $id" ctl conn disconnect "$id"
wait "$IDLE"
is "$(tail -n 1 "$T/idle.out")" closed "the disconnected client saw the server hang up"
check_fails "conn disconnect of an unknown id fails" ctl conn disconnect 999999

# set-read-only with disconnect=true: the current clients reconnect.
nbdpy >"$T/idle2.out" 2>&1 <<'EOF' &
import nbdproto
c = nbdproto.Client().greet()
c.go("disk")
print("connected", flush=True)
print("closed" if nbdproto.closed_by_peer(c.s, 60) else "still open", flush=True)
EOF
IDLE=$!
for _ in $(seq 100); do grep -q connected "$T/idle2.out" && break; t python3 -c 'import time; time.sleep(0.05)'; done
ctl_json "$T/ro.json" export set-read-only disk disconnect=true
is "$(json_get "$T/ro.json" "(j['read_only'], j['disconnected'])")" "(True, 1)" \
	"set-read-only disconnect=true asked the one client to reconnect"
wait "$IDLE"
is "$(tail -n 1 "$T/idle2.out")" closed "... which saw the server hang up"
check_fails "a reconnected client cannot write" qio "$(uri_unix disk)" "write -P 1 0 4k"
check "export set-read-only disk false" ctl export set-read-only disk false

# ------------------------------------------------------------- config
check "daemon save-config" ctl daemon save-config "$T/saved.json"
is "$(json_get "$T/saved.json" "[e['name'] for e in j['exports']]")" \
	"['work', 'spare', 'disk', 'new']" "saved config has the running exports"
check "daemon reload (the file without new)" ctl daemon reload
ctl_json "$T/e2.json" export list
is "$(json_get "$T/e2.json" "[e['name'] for e in j]")" "['work', 'spare', 'disk']" \
	"reload dropped the export the file does not have"

# ------------------------------------------------------------- protocol
rpc $'{"jsonrpc":"2.0","id":1,"method":"no.such"}\n' >"$T/r1"
is "$(json_get "$T/r1" "(j['id'], j['error']['code'])")" "(1, -32601)" "unknown method: -32601"
rpc $'{"jsonrpc":"2.0","id":2,"method":\n' >"$T/r2"
is "$(json_get "$T/r2" "(j['id'], j['error']['code'])")" "(None, -32700)" "bad JSON: -32700"
rpc $'{"jsonrpc":"2.0","id":3,"method":"export.remove","params":{"nmae":"x"}}\n' >"$T/r3"
is "$(json_get "$T/r3" "(j['id'], j['error']['code'])")" "(3, -32602)" "unknown parameter: -32602"
rpc $'{"jsonrpc":"2.0","id":4,"method":"export.remove","params":{"name":7}}\n' >"$T/r4"
is "$(json_get "$T/r4" "j['error']['code']")" -32602 "mistyped parameter: -32602"
rpc $'{"jsonrpc":"2.0","id":5,"method":"export.remove","params":{"name":"nope"}}\n' >"$T/r5"
is "$(json_get "$T/r5" "(j['error']['code'], j['error']['data']['errno'], j['error']['message'])")" \
	"(-32002, 'ENOENT', 'export nope: no such export')" "no such export: -32002 ENOENT with a clear message"
rpc $'{"id":6,"method":"daemon.version"}\n' >"$T/r6"
is "$(json_get "$T/r6" "j['error']['code']")" -32600 "missing jsonrpc 2.0: -32600"
rpc $'[{"jsonrpc":"2.0","id":7,"method":"daemon.version"},{"jsonrpc":"2.0","method":"daemon.version"},{"jsonrpc":"2.0","id":8,"method":"x"}]\n' >"$T/r7"
is "$(json_get "$T/r7" "[r['id'] for r in j]")" "[7, 8]" "batch: one response per request, none for the notification"
rpc $'{"jsonrpc":"2.0","method":"daemon.version"}\n' >"$T/r8"
is "$(wc -c <"$T/r8")" 0 "a notification gets no response"
check "the daemon still answers" ctl daemon version

# ------------------------------------------------------------- iopctl
t "$IOPCTL" -s "$IOPD_MGMT" export remove nope >/dev/null 2>&1
is $? 1 "iopctl exit status 1 on an RPC error"
t "$IOPCTL" -s "$IOPD_MGMT" export frobnicate >/dev/null 2>&1
is $? 2 "iopctl exit status 2 on a usage error"
t "$IOPCTL" -s "$T/no-such.sock" daemon version >/dev/null 2>&1
is $? 3 "iopctl exit status 3 when it cannot connect"
check "iopctl export add --help" t "$IOPCTL" export add --help
grep -q "Usage: iopctl export add" "$T/out"
pass_if $? "per-subcommand help" "$(cat "$T/out")"

# ------------------------------------------------------------- peers
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$T"
	chmod 666 "$IOPD_MGMT" # let the kernel pass it: SO_PEERCRED must refuse
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$IOPCTL" -s "$IOPD_MGMT" daemon version >"$T/out" 2>&1
	st=$?
	chmod 600 "$IOPD_MGMT"
	is "$st" 1 "a client with another uid is refused (SO_PEERCRED)"
	grep -q "permission denied" "$T/out"
	pass_if $? "refusal says why" "$(cat "$T/out")"
else
	skip "another uid is refused" "no nobody user or setpriv"
fi

# ------------------------------------------------------------- fio
touch "$T/fio.stop"
wait "$FIO_LOOP"
runs=$(cat "$T/fio.runs" 2>/dev/null || echo 0)
[ "$runs" -ge 1 ]
pass_if $? "fio ran during the management calls ($runs runs)"
[ ! -e "$T/fio.failed" ]
pass_if $? "fio's crc32c verification stayed clean" "$(cat "$T/fio.failed" 2>/dev/null)" \
	"$(tail -n 20 "$T"/fio.*.out 2>/dev/null)"

iopd_alive "daemon alive"
stop_iopd

# ------------------------------------------------------------- TCP + token
# TCP is TLS only (test_mgmt_tls.sh tests that part).
server_pki "$T/pki"
pass_if $? "certtool made a CA and a server certificate"
head -c 24 /dev/urandom | base64 >"$T/token"
chmod 644 "$T/token"
check_fails "a token file others can read: iopd refuses to start" \
	"$IOPD" --listen "unix:$T/n2.sock" --mgmt-listen 127.0.0.1:0 \
	--mgmt-token-file "$T/token" --tls-certificates "$T/pki" ram:1M
chmod 600 "$T/token"
start_iopd --mgmt-listen 127.0.0.1:0 --mgmt-token-file "$T/token" \
	--tls-certificates "$T/pki" ram:1M || {
	done_testing
	exit 1
}
[ -n "$IOPD_MGMT_TCP" ]
pass_if $? "ready fd announces LISTEN mgmt tcp HOST:PORT ($IOPD_MGMT_TCP)"
check "iopctl over TCP with the token" t "$IOPCTL" -c "$IOPD_MGMT_TCP" \
	--tls-ca "$T/pki/ca-cert.pem" --token-file "$T/token" export list
grep -q '^ram ' "$T/out"
pass_if $? "... lists the export" "$(cat "$T/out")"
echo "not-the-token-at-all-no" >"$T/bad"
chmod 600 "$T/bad"
t "$IOPCTL" -c "$IOPD_MGMT_TCP" --tls-ca "$T/pki/ca-cert.pem" \
	--token-file "$T/bad" export list >"$T/out" 2>&1
is $? 1 "a wrong token: iopctl exit status 1"
grep -q "permission denied" "$T/out"
pass_if $? "... permission denied" "$(cat "$T/out")"
t python3 - "$IOPD_MGMT_TCP" "$T/pki/ca-cert.pem" >"$T/out" <<'EOF'
import socket, ssl, sys
h, p = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection((h, int(p))), server_hostname=h)
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"export.list"}\n')
print(s.makefile().readline().strip())
EOF
is "$(json_get "$T/out" "j['error']['code']")" -32001 "no daemon.auth first: -32001"
! grep -qF "$(cat "$T/token")" "$IOPD_LOG"
pass_if $? "the token never appears in the log"
stop_iopd
done_testing
