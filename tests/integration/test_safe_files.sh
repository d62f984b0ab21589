#!/bin/bash
# SPDX-License-Identifier: MIT
# Safe file handling: a FIFO, a socket or a character device
# named as an export is refused at once, on the command line, in the
# config file and over the management channel, and the channel keeps
# answering; over the channel relative paths, /proc, /sys and the
# daemon's own secret files are refused, and allowed_paths holds even
# against a symlink out of an allowed directory; save-config and
# --pidfile are not redirected by a symlink planted at the temporary
# name the daemon used to use (PATH.tmp<pid>) nor at the target itself.
. "$(dirname "$0")/lib.sh"
require python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

ctl() { timeout -k 2 10 "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
add() { ctl call export.add "$1"; }
# refused_fast DESC CMD...: CMD (which has its own timeout of 10 s) fails
# cleanly, and within 5 s.
refused_fast() {
	local desc=$1 st t0 ms
	shift
	t0=$(date +%s%N)
	_run "$@"
	st=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$st" -ge 1 ] && [ "$st" -le 123 ] && [ "$ms" -lt 5000 ]; then
		ok "$desc (${ms} ms)"
	else
		not_ok "$desc" "expected a clean failure within 5 s, took $ms ms"
		_cmd_diag "$st" "$@"
	fi
}
# log_has DESC PATTERN: the daemon's log has a line matching PATTERN.
log_has() {
	if grep -qE -- "$2" "$IOPD_LOG"; then
		ok "$1"
	else
		not_ok "$1" "no line matching: $2" "log:" "$(tail -n 5 "$IOPD_LOG")"
	fi
}

mkfifo "$T/fifo"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/unix.sock"
truncate -s 4M "$T/ok.img"

# ---- the command line and the config file: refused, never blocking
for spec in "file:$T/fifo,ro" "file:$T/fifo" "$T/fifo,ro" "bdev:$T/fifo,ro" \
	"file:$T/unix.sock,ro" "file:/dev/null,ro" "file:/dev/zero"; do
	refused_fast "command line $spec: refused without blocking" \
		timeout -k 2 10 "$IOPD" -l "unix:$T/cli.sock" "$spec"
done
_run timeout -k 2 10 "$IOPD" -l "unix:$T/cli.sock" "file:$T/fifo,ro"
if grep -q "is a FIFO: refused" "$T/out"; then
	ok "the refusal says what the file is"
else
	not_ok "the refusal says what the file is" "$(cat "$T/out")"
fi
cat >"$T/fifo.json" <<EOF
{ "listen": "unix:$T/cfg.sock",
  "exports": [ { "name": "f", "ddm": "file", "path": "$T/fifo", "read_only": true } ] }
EOF
refused_fast "config file naming a FIFO: refused without blocking" \
	timeout -k 2 10 "$IOPD" -c "$T/fifo.json"

# ---- the management channel
cat >"$T/token" <<EOF
0123456789abcdef0123456789abcdef
EOF
chmod 600 "$T/token"
cat >"$T/cfg.json" <<EOF
{ "listen": "unix:$T/nbd.sock",
  "mgmt_token_file": "$T/token",
  "exports": [ { "name": "ram", "ddm": "ram", "size": "16M" } ] }
EOF
start_iopd -c "$T/cfg.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
refused_fast "export.add of a FIFO (read-only): refused without blocking" \
	add "{\"name\": \"f\", \"ddm\": \"file\", \"path\": \"$T/fifo\", \"read_only\": true}"
check "iopctl still answers after it" ctl daemon version
refused_fast "export.add of a FIFO (read-write): refused" \
	add "{\"name\": \"f\", \"ddm\": \"file\", \"path\": \"$T/fifo\"}"
refused_fast "export.add of a socket: refused" \
	add "{\"name\": \"s\", \"ddm\": \"file\", \"path\": \"$T/unix.sock\", \"read_only\": true}"
refused_fast "export.add of /dev/zero (character device): refused" \
	add '{"name": "z", "ddm": "file", "path": "/dev/zero", "read_only": true}'
refused_fast "iop.add of a FIFO device: refused" \
	ctl call iop.add "{\"name\": \"g\", \"ddm\": \"file\", \"devices\": [{\"name\": \"d\", \"path\": \"$T/fifo\", \"read_only\": true}]}"
refused_fast "export.add of a relative path: refused" \
	add '{"name": "r", "ddm": "file", "path": "ok.img"}'
if grep -q "relative path is refused" "$T/out"; then
	ok "  ... and the error says why"
else
	not_ok "  ... and the error says why" "$(cat "$T/out")"
fi
refused_fast "export.add of /proc/self/environ: refused" \
	add '{"name": "e", "ddm": "file", "path": "/proc/self/environ", "read_only": true}'
ln -s /proc/self/environ "$T/env.link"
refused_fast "export.add of a symlink to /proc/self/environ: refused" \
	add "{\"name\": \"e\", \"ddm\": \"file\", \"path\": \"$T/env.link\", \"read_only\": true}"
refused_fast "export.add of the management token file: refused" \
	add "{\"name\": \"t\", \"ddm\": \"file\", \"path\": \"$T/token\", \"read_only\": true}"
refused_fast "export.add of the config file: refused" \
	add "{\"name\": \"c\", \"ddm\": \"file\", \"path\": \"$T/cfg.json\", \"read_only\": true}"
check "export.add of an absolute path to a regular file still works" \
	add "{\"name\": \"ok\", \"ddm\": \"file\", \"path\": \"$T/ok.img\"}"
check "export list answers" ctl export list
iopd_alive "iopd still runs"

# ---- save-config: symlinks planted at the old temporary name and at the
# target itself do not redirect the write.
echo precious >"$T/victim1"
echo precious >"$T/victim2"
ln -s "$T/victim1" "$T/saved.json.tmp$IOPD_PID"
ln -s "$T/victim2" "$T/saved.json"
check "daemon save-config over a planted symlink" ctl daemon save-config "$T/saved.json"
is "$(cat "$T/victim1")" precious "the symlink at PATH.tmp<pid> was not followed"
is "$(cat "$T/victim2")" precious "the symlink at PATH was replaced, not followed"
if [ -f "$T/saved.json" ] && [ ! -L "$T/saved.json" ] &&
	grep -q '"ram"' "$T/saved.json"; then
	ok "saved.json is a regular file with the configuration"
else
	not_ok "saved.json is a regular file with the configuration" "$(ls -l "$T/saved.json")"
fi
is "$(stat -c %a "$T/saved.json")" 600 "saved.json is mode 0600"
is "$(find "$T" -maxdepth 1 -name '.saved.json.*' | wc -l)" 0 "no temporary file left behind"
stop_iopd

# ---- allowed_paths
mkdir -p "$T/allowed/sub" "$T/outside"
truncate -s 4M "$T/allowed/sub/a.img" "$T/outside/b.img"
ln -s "$T/outside/b.img" "$T/allowed/escape.img"
ln -s "$T/allowed/sub/a.img" "$T/outside/in.img"
cat >"$T/allowed.json" <<EOF
{ "listen": "unix:$T/nbd2.sock",
  "allowed_paths": [ "$T/allowed" ],
  "exports": [ { "name": "cfg-outside", "ddm": "file", "path": "$T/outside/b.img", "read_only": true } ] }
EOF
start_iopd -c "$T/allowed.json" --mgmt-socket "$T/mgmt2.sock" || {
	done_testing
	exit 1
}
check "allowed_paths: a file under the prefix is added" \
	add "{\"name\": \"a\", \"ddm\": \"file\", \"path\": \"$T/allowed/sub/a.img\"}"
check "allowed_paths: a new file under the prefix is created" \
	add "{\"name\": \"n\", \"ddm\": \"file\", \"path\": \"$T/allowed/new.img\", \"size\": \"1M\"}"
refused_fast "allowed_paths: a file outside is refused" \
	add "{\"name\": \"b\", \"ddm\": \"file\", \"path\": \"$T/outside/b.img\"}"
refused_fast "allowed_paths: a symlink inside pointing outside is refused" \
	add "{\"name\": \"c\", \"ddm\": \"file\", \"path\": \"$T/allowed/escape.img\"}"
refused_fast "allowed_paths: .. out of the prefix is refused" \
	add "{\"name\": \"d\", \"ddm\": \"file\", \"path\": \"$T/allowed/../outside/b.img\"}"
refused_fast "allowed_paths: a sibling with the prefix as its name's start is refused" \
	add "{\"name\": \"e\", \"ddm\": \"file\", \"path\": \"$T/allowed-not/x.img\", \"size\": \"1M\"}"
check "allowed_paths: a symlink outside pointing inside is added" \
	add "{\"name\": \"f\", \"ddm\": \"file\", \"path\": \"$T/outside/in.img\"}"
check "the config file's own export outside allowed_paths is served" \
	t nbdinfo --size "nbd+unix:///cfg-outside?socket=$T/nbd2.sock"
check "daemon save-config keeps allowed_paths" ctl daemon save-config "$T/saved2.json"
is "$(json_get "$T/saved2.json" "j.get('allowed_paths')")" "['$T/allowed']" \
	"saved config has allowed_paths"
stop_iopd

# ---- --pidfile: a symlink at PATH.tmp<pid> (planted by a wrapper that
# execs the daemon, so it knows the pid) and at PATH are not followed.
echo precious >"$T/victim3"
echo precious >"$T/victim4"
cat >"$T/wrap.sh" <<EOF
#!/bin/bash
ln -s "$T/victim3" "$T/iopd.pid.tmp\$\$"
exec "$IOPD" "\$@"
EOF
chmod +x "$T/wrap.sh"
ln -s "$T/victim4" "$T/iopd.pid"
real_iopd=$IOPD
IOPD=$T/wrap.sh
start_iopd --pidfile "$T/iopd.pid" ram:1M
IOPD=$real_iopd
is "$(cat "$T/victim3")" precious "pidfile: the symlink at PATH.tmp<pid> was not followed"
is "$(cat "$T/victim4")" precious "pidfile: the symlink at PATH was replaced, not followed"
is "$(cat "$T/iopd.pid" 2>/dev/null)" "$IOPD_PID" "pidfile holds the daemon's pid"
[ -L "$T/iopd.pid" ] && not_ok "pidfile is a regular file" || ok "pidfile is a regular file"
stop_iopd

done_testing
