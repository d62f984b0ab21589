#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_reload_inplace.sh: a reload (daemon.reload or SIGHUP) that changes
# only attributes other than an export's backing device applies them in
# place, and connected NBD and iSCSI clients keep their connections and go
# on with their I/O.  Long-lived clients: qemu-io over NBD on exports a
# and b, qemu-io over iSCSI on targets ta (LUN a), tc (LUN c) and td (LUN
# d); the same connection ids must stay listed and each client must read
# its data back over them after the reload.
#   - description, default export, iSCSI alias and an ACL its initiators
#     still pass: in place, nobody disconnected, the new values show;
#   - a failed reload (a device that cannot open) applies none of it;
#   - read-only turned on: the export's clients are asked to reconnect
#     (writes must stop), the others stay; new sessions are read-only;
#   - read-only turned off: open sessions stay (read-only until they
#     reconnect), new sessions are writable;
#   - an ACL the initiator no longer passes: that session ends, another
#     target's stays;
#   - an iSCSI LUN turned read-only: its sessions end (the initiator logs
#     in again, read-only); turned writable: the sessions stay;
#   - a new path: the export is re-created and its client dropped;
#   - settings read only at start (engine, threads...): a reload warns
#     that they take effect at the next start only when the file changes
#     them, not for those the command line (or IOPD_ENGINE) gave.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"

require qemu-io nbdinfo python3 stdbuf
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
grep -q . <<<"$(qemu-io --help 2>&1)" || skip_all "qemu-io does not run"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
nap() { python3 -c 'import time; time.sleep(0.05)'; }

PFX=iqn.2026-11.test.iopd
QIO_INI=$PFX:qio
truncate -s 8M "$T/b1.img"
truncate -s 12M "$T/b2.img"

# write_cfg [KEY=VALUE...]: $T/cfg.json from these defaults.
write_cfg() {
	env "$@" python3 - "$T" >"$T/cfg.new" <<'EOF'
import json, os, sys
T = sys.argv[1]
g = lambda k, d: os.environ.get(k, d)
pfx = "iqn.2026-11.test.iopd"
a = {"name": "a", "ddm": "ram", "size": "16M", "description": g("DESC_A", "first")}
if g("RO_A", "") == "1":
    a["read_only"] = True
exports = [a,
           {"name": "b", "ddm": "file", "path": g("B_PATH", T + "/b1.img")},
           {"name": "c", "ddm": "ram", "size": "16M"},
           {"name": "d", "ddm": "ram", "size": "16M"}]
if g("BAD", "") == "1":
    exports.append({"name": "bad", "ddm": "file", "path": T + "/no/such/file"})
cfg = {}
for key in ("engine", "threads"):
    if g(key.upper(), ""):
        cfg[key] = int(g(key.upper(), "")) if key == "threads" else g(key.upper(), "")
cfg.update({
    "listen": "unix:%s/nbd.sock" % T,
    "default_export": g("DEFAULT", "a"),
    "exports": exports,
    "iscsi": {
        "listen": "127.0.0.1:0",
        "targets": [
            {"name": pfx + ":ta", "alias": g("ALIAS_TA", "alias one"),
             "luns": [{"lun": 0, "export": "a"}],
             "initiators": g("ACL_TA", pfx + ":qio " + pfx + ":raw").split()},
            {"name": pfx + ":tc", "luns": [{"lun": 0, "export": "c",
                                            "read_only": g("RO_TC", "") == "1"}]},
            {"name": pfx + ":td", "luns": [{"lun": 0, "export": "d"}],
             "initiators": g("ACL_TD", pfx + ":qio").split()},
        ],
    },
})
print(json.dumps(cfg, indent=1))
EOF
	mv "$T/cfg.new" "$T/cfg.json"
}

# conns: the connection list in $T/c.json; ids PROTO EXPORT: their ids.
conns() { ctl --json conn list >"$T/c.json"; }
ids() {
	json_get "$T/c.json" "sorted(c['id'] for c in j if c['protocol'] == '$1' and c.get('export') == '$2')"
}
# all_ids: "proto/export=id" for every connection with an export.
all_ids() {
	json_get "$T/c.json" "' '.join(sorted('%s/%s=%d' % (c['protocol'], c['export'], c['id']) for c in j if c.get('export')))"
}
until_conns() {
	for _ in $(seq 100); do
		conns && [ "$(json_get "$T/c.json" "$1")" = true ] && return 0
		nap
	done
	return 1
}

# qemu-io sessions held open, commands from a fifo (as in
# test_iscsi_mgmt.sh).  qio_open NAME ARGS...
declare -A QIO_PID=() QIO_FD=()
qio_open() {
	local name=$1 fd
	shift
	mkfifo "$T/qio.$name.in"
	# Without the other sessions' fifo ends: closing one must end it.
	(
		for fd in "${QIO_FD[@]}"; do exec {fd}>&-; done
		exec stdbuf -oL qemu-io "$@" <"$T/qio.$name.in" >"$T/qio.$name" 2>&1
	) &
	QIO_PID[$name]=$!
	register_pid "$!"
	on_exit "_reap $!"
	exec {fd}>"$T/qio.$name.in"
	QIO_FD[$name]=$fd
}
# qio_do NAME CMD WANT: run CMD; ok once one more line has WANT (10 s),
# fails at once if an error shows up (or qemu-io exited).
qio_do() {
	local before errs
	before=$(grep -cF -- "$3" "$T/qio.$1")
	errs=$(grep -ciE "failed|error" "$T/qio.$1")
	echo "$2" >&"${QIO_FD[$1]}"
	for _ in $(seq 200); do
		[ "$(grep -cF -- "$3" "$T/qio.$1")" -gt "$before" ] && return 0
		[ "$(grep -ciE "failed|error" "$T/qio.$1")" -gt "$errs" ] && break
		kill -0 "${QIO_PID[$1]}" 2>/dev/null || break
		nap
	done
	tail -n 5 "$T/qio.$1"
	echo # its prompt ends without a newline
	return 1
}
qio_close() {
	local fd=${QIO_FD[$1]}
	exec {fd}>&-
	_wait_timeout "${QIO_PID[$1]}" 20
}
qio_nbd() { qio_open "$1" -f raw "$(uri_unix "$1" "$T/nbd.sock")"; }
qio_iscsi() {
	qio_open "$1" --image-opts "driver=iscsi,transport=tcp,portal=$IOPD_ISCSI,target=$PFX:$2,lun=0,initiator-name=$QIO_INI"
}
# rw NAME BYTE OFFSET: write 64 KiB of BYTE, then read it back.
rw() {
	qio_do "$1" "write -P $2 $3 64k" "wrote 65536/65536 bytes at offset $3" &&
		qio_do "$1" "read -P $2 $3 64k" "read 65536/65536 bytes at offset $3"
}
# burst NAME BYTE BASE N: in the background, N writes of 64 KiB of BYTE
# from BASE on, each read back and verified, one after the other (qemu-io
# takes a command only when idle): the client is busy while the reload
# that follows runs.  burst_done NAME: they all went through, no error.
declare -A BURST_PID=()
burst() {
	(
		for i in $(seq 0 $(($4 - 1))); do
			rw "$1" "$2" $(($3 + i * 65536)) >/dev/null || exit 1
			[ "$i" -eq 1 ] && : >"$T/burst.$1"
		done
		exit 0
	) &
	BURST_PID[$1]=$!
	register_pid "$!"
	on_exit "_reap $!"
	# Under way before the caller goes on.
	for _ in $(seq 200); do
		[ -e "$T/burst.$1" ] && return 0
		nap
	done
	return 1
}
burst_done() {
	_wait_timeout "${BURST_PID[$1]}" 60 || { tail -n 5 "$T/qio.$1"; echo; return 1; }
	! grep -qiE "failed|error" "$T/qio.$1" || { tail -n 5 "$T/qio.$1"; echo; return 1; }
}
# rd NAME BYTE OFFSET: read back and verify 64 KiB.
rd() { qio_do "$1" "read -P $2 $3 64k" "read 65536/65536 bytes at offset $3"; }

# login TARGET INITIATOR: a raw iSCSI login (straight to full feature
# phase); prints "status=0xSSSS alias=ALIAS" and closes.
login() {
	t python3 - "$IOPD_ISCSI" "$PFX:$1" "$2" <<'EOF'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
keys = ("InitiatorName=%s\0TargetName=%s\0SessionType=Normal\0"
        "HeaderDigest=None\0DataDigest=None\0" % (sys.argv[3], sys.argv[2])).encode()
keys += b"\0" * (-len(keys) % 4)
h = bytearray(48)
h[0], h[1] = 0x43, 0x80 | (1 << 2) | 3
n = len(keys.rstrip(b"\0")) + 1
h[5:8] = n.to_bytes(3, "big")
h[8:14] = bytes([0x80, 0, 0, 0x42, 0, 7])
h[16:20] = (1).to_bytes(4, "big")
h[24:28] = (1).to_bytes(4, "big")
s = socket.create_connection((host, int(port)), 10)
s.sendall(bytes(h) + keys)
buf = b""
while len(buf) < 48:
    b = s.recv(65536)
    if not b:
        break
    buf += b
dlen = int.from_bytes(buf[5:8], "big")
while len(buf) < 48 + dlen:
    b = s.recv(65536)
    if not b:
        break
    buf += b
kv = dict(x.split("=", 1) for x in buf[48:48 + dlen].decode().split("\0") if "=" in x)
print("status=0x%02x%02x alias=%s" % (buf[36], buf[37], kv.get("TargetAlias", "")))
s.close()
EOF
}

# reload_rpc: daemon.reload through iopctl; its result in $T/reload.json.
reload_rpc() { ctl --json daemon reload >"$T/reload.json"; }
# reload_hup: SIGHUP, then wait for the log to say it is done.
reload_hup() {
	local n
	n=$(grep -c "reloaded $T/cfg.json\|reload failed" "$IOPD_LOG")
	kill -HUP "$IOPD_PID"
	for _ in $(seq 200); do
		[ "$(grep -c "reloaded $T/cfg.json\|reload failed" "$IOPD_LOG")" -gt "$n" ] && break
		nap
	done
	tail -n 1 "$IOPD_LOG" | grep -q "reloaded $T/cfg.json"
}
logged() { grep -qF -- "$1" "$IOPD_LOG"; }
export_field() {
	ctl --json export list >"$T/e.json" &&
		json_get "$T/e.json" "[e.get('$2') for e in j if e['name'] == '$1']"
}

# ------------------------------------------------------------------ start
write_cfg
mkdir "$T/pr"
start_iopd -c "$T/cfg.json" --mgmt-socket "$T/mgmt.sock" --drain-timeout 5 \
	--pr-dir "$T/pr" --max-connections 100 || {
	done_testing
	exit 1
}
[ -n "$IOPD_ISCSI" ]
pass_if $? "iopd announced its iSCSI portal ($IOPD_ISCSI)"

qio_nbd a
qio_nbd b
qio_iscsi ia ta
qio_iscsi ic tc
qio_iscsi id td
check "NBD a: write and read back" rw a 0x11 0
check "NBD b: write and read back" rw b 0x22 0
check "iSCSI ta (LUN a): write and read back" rw ia 0x33 1048576
check "iSCSI tc (LUN c): write and read back" rw ic 0x44 0
check "iSCSI td (LUN d): write and read back" rw id 0x55 0
check "conn list: the five clients" until_conns \
	"len([c for c in j if c.get('export')]) == 5"
BEFORE=$(all_ids)
diag "connections: $BEFORE"
A_ID=$(ids nbd a) B_ID=$(ids nbd b) IA_ID=$(ids iscsi a) C_ID=$(ids iscsi c) D_ID=$(ids iscsi d)
is "$(login ta $PFX:raw)" "status=0x0000 alias=alias one" "ta's alias is \"alias one\""

# ------------------------------------------------- in place: nobody drops
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other $PFX:qio"
check "NBD a: a client busy writing and verifying" burst a 0x66 2097152 40
check "iSCSI ta (LUN a): a client busy writing and verifying" burst ia 0x77 9437184 40
check "daemon reload: description, default, alias and ACLs changed" reload_rpc
diag "reload result: $(cat "$T/reload.json")"
is "$(json_get "$T/reload.json" "(j['changed'], j.get('updated'), j.get('iscsi_updated'))")" \
	"([], ['a'], True)" "the reload result: nothing re-created, a and the iSCSI settings updated"
check "NBD a: 40 writes and verified reads across the reload, no error" burst_done a
check "iSCSI ta (LUN a): 40 writes and verified reads across the reload, no error" \
	burst_done ia
conns
is "$(all_ids)" "$BEFORE" "the same connections, NBD and iSCSI, are all still there"
check "NBD a reads its data back over the same connection" rd a 0x11 0
check "NBD b reads its data back over the same connection" rd b 0x22 0
check "iSCSI ta reads its data back over the same session" rd ia 0x33 1048576
check "iSCSI tc reads its data back over the same session" rd ic 0x44 0
check "iSCSI td reads its data back over the same session" rd id 0x55 0
check "NBD a still writes" rw a 0x12 65536
conns
is "$(all_ids)" "$BEFORE" "... and after that I/O, still the same connections"
is "$(export_field a description)" "['second']" "export list: a's description is the new one"
is "$(export_field c default)" "[True]" "export list: c is the default export now"
check "nbdinfo --list" t nbdinfo --list --json "nbd+unix:///?socket=$T/nbd.sock"
is "$(json_get "$T/out" "[e.get('description') for e in j['exports'] if e['export-name'] == 'a']")" \
	"['second']" "a new NBD client sees the new description"
is "$(login ta $PFX:raw)" "status=0x0000 alias=alias two" "a new iSCSI login sees ta's new alias"
is "$(login ta $PFX:other)" "status=0x0000 alias=alias two" "... and the initiator the ACL now adds may log in"
check "the log: description changed in place" logged "export a: description changed in place"
check "the log: ta's alias and ACL changed in place" logged "iscsi target $PFX:ta: alias, initiators changed in place"
if grep -q "takes effect at the next start" "$IOPD_LOG"; then
	not_ok "no warning about the next start: the file changed no such setting" \
		"$(grep "takes effect at the next start" "$IOPD_LOG")"
else
	ok "no warning about the next start: the file changed no such setting"
fi
if grep -q "export .*: re-created" "$IOPD_LOG"; then
	not_ok "no export was re-created" "$(grep "export .*: re-created" "$IOPD_LOG")"
else
	ok "no export was re-created"
fi

# ------------------------------------------------- a failed reload: nothing
write_cfg DESC_A=third DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other $PFX:qio" BAD=1
check_fails "a reload naming a device that cannot open fails" reload_rpc
is "$(export_field a description)" "['second']" "... and changes no description"
conns
is "$(all_ids)" "$BEFORE" "... nor any connection"

# ------------------------------------------------- read-only on: a's clients go
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" RO_A=1 \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other $PFX:qio"
check "SIGHUP: a becomes read-only" reload_hup
check "a's NBD connection and ta's iSCSI session (LUN a) were asked to end" until_conns \
	"not [c for c in j if c['id'] in $A_ID + $IA_ID]"
is "$(ids nbd b) $(ids iscsi c) $(ids iscsi d)" "$B_ID $C_ID $D_ID" \
	"b's, tc's and td's connections stay"
check "the log says why" logged "export a: read-only"
check "nbdinfo a" t nbdinfo --json "$(uri_unix a "$T/nbd.sock")"
is "$(json_get "$T/out" "j['exports'][0]['is_read_only']")" true "a new NBD client of a is read-only"
check_fails "... and cannot write" t qemu-io -f raw "$(uri_unix a "$T/nbd.sock")" -c "write -P 1 0 4k"
check "a's old data is intact" t qemu-io -f raw -r "$(uri_unix a "$T/nbd.sock")" -c "read -P 0x12 65536 64k"
check "NBD b still reads over its connection" rd b 0x22 0
qio_close a
qio_close ia

# ------------------------------------------------- read-only off: sessions stay
qio_open a2 -f raw -r "$(uri_unix a "$T/nbd.sock")"
check "a read-only session on a" rd a2 0x12 65536
conns
A2_ID=$(ids nbd a)
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other $PFX:qio"
check "SIGHUP: a becomes writable again" reload_hup
conns
is "$(ids nbd a)" "$A2_ID" "a's open session stays"
check "... and still reads" rd a2 0x12 65536
check "a new client of a writes" t qemu-io -f raw "$(uri_unix a "$T/nbd.sock")" -c "write -P 0x13 131072 4k"
qio_close a2

# ------------------------------------------------- ACL: td's initiator is out
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other"
check "daemon reload: qio leaves td's ACL" reload_rpc
check "td's session (initiator qio) ended" until_conns \
	"not [c for c in j if c['id'] in $D_ID]"
conns
is "$(ids iscsi c)" "$C_ID" "tc's session (no ACL) stays"
check "tc still reads over it" rd ic 0x44 0
check "the log says why" logged "no longer allowed"
is "$(login td "$QIO_INI" | cut -d' ' -f1)" "status=0x0202" "qio's new login to td is refused"

# ------------------------------------------------- a LUN turns read-only
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other" RO_TC=1
check "daemon reload: tc's LUN 0 becomes read-only" reload_rpc
check "tc's session ended" until_conns "not [c for c in j if c['id'] in $C_ID]"
check "the log says why" logged "a LUN of it became read-only"
check "qemu-io on tc logs in again and reads" rd ic 0x44 0
check_fails "... but cannot write" qio_do ic "write -P 0x45 0 4k" "wrote 4096/4096 bytes at offset 0"
conns
C_ID=$(ids iscsi c)
is "$(json_get "$T/c.json" "len($C_ID)")" 1 "tc has its new session"
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other"
check "daemon reload: tc's LUN 0 writable again" reload_rpc
conns
is "$(ids iscsi c)" "$C_ID" "tc's (read-only) session stays"
check "... and still reads" rd ic 0x44 0

# ------------------------------------------------- a new path: re-created
write_cfg DESC_A=second DEFAULT=c ALIAS_TA="alias two" \
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other" B_PATH="$T/b2.img"
check "daemon reload: b's path changes" reload_rpc
is "$(json_get "$T/reload.json" "j['changed']")" "['b']" "the reload re-created b"
check "b's old connection was dropped" until_conns "not [c for c in j if c['id'] in $B_ID]"
conns
is "$(ids iscsi c)" "$C_ID" "tc's session is still the same"
check "the log: b re-created" logged "export b: re-created (path changed)"
check "nbdinfo --size b" t nbdinfo --size "$(uri_unix b "$T/nbd.sock")"
is "$(cat "$T/out")" 12582912 "b is the new 12 MiB file"
qio_close b

# ------------------------------------- settings read at start: only the file's
RESTART_CFG=(DESC_A=second DEFAULT=c ALIAS_TA="alias two" B_PATH="$T/b2.img"
	ACL_TA="$PFX:qio $PFX:raw $PFX:other" ACL_TD="$PFX:other")
write_cfg "${RESTART_CFG[@]}"
check "SIGHUP with nothing changed" reload_hup
check_fails "no warning about the next start (--drain-timeout, --pr-dir, \
--max-connections${IOPD_ENGINE:+, IOPD_ENGINE} on the command line)" \
	logged "takes effect at the next start"
OTHER=epoll
[ "${IOPD_ENGINE:-}" = epoll ] && OTHER=uring
write_cfg "${RESTART_CFG[@]}" THREADS=2 ENGINE=$OTHER
check "daemon reload: the file sets threads and engine" reload_rpc
LATER=threads
[ -n "${IOPD_ENGINE:-}" ] || LATER="threads, engine"
check "the log warns: $LATER: takes effect at the next start" \
	logged "reload: $LATER: takes effect at the next start"
if [ -n "${IOPD_ENGINE:-}" ]; then
	check "... and says IOPD_ENGINE's engine stays" \
		logged "reload: engine: the command line's value stays"
fi

qio_close ic
st=$?
# 1: the refused write above.
[ "$st" -le 1 ]
pass_if $? "qemu-io on tc logged out and exited" "status $st" "$(tail -n 5 "$T/qio.ic")"
iopd_alive "daemon alive"
stop_iopd
done_testing
