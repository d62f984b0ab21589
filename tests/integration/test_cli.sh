#!/bin/bash
# SPDX-License-Identifier: MIT
# The command line and the process life cycle: --help, --version, usage
# errors (clean message, no crash), the JSON config file, --read-only,
# --default-export, --engine/--threads, --pidfile, --daemon, SIGTERM with
# clients attached (idle and busy), --stdio, systemd socket activation
# (nbdinfo -- [ iopd ... ]), IPv6 and wildcard listeners, and a listener
# address already in use.
. "$(dirname "$0")/lib.sh"
require nbdinfo python3

# fails_with DESC PATTERN ARGS...: iopd ARGS exits 1..123 and says
# something matching PATTERN (grep -iE) on stdout or stderr, without a
# sanitizer report or a crash.
fails_with() {
	local desc=$1 pat=$2 st
	shift 2
	timeout -k 5 15 "$IOPD" "$@" >"$T/out" 2>&1 </dev/null
	st=$?
	if [ "$st" -ge 1 ] && [ "$st" -le 123 ] && grep -qiE -- "$pat" "$T/out" &&
		! _sanitizer_report "$T/out"; then
		ok "$desc"
	else
		not_ok "$desc" "iopd $*" "exit status $st (want 1..123), output should match /$pat/:" \
			"$(head -n 20 "$T/out" | cat -v)"
	fi
}

# ------------------------------------------------------------ help

check "--help exits 0" t "$IOPD" --help
cp "$T/out" "$T/help"
missing=""
for o in --listen --read-only --config --threads --engine --direct --max-request \
	--default-export --pidfile --ready-fd --daemon --stdio --log-level --help --version --busy-poll \
	-l -r -c -t -e -d -s -v -h -V ram: null: file: bdev:; do
	# a whole word: "-l" must not be found inside "--listen"
	grep -qE -- "(^|[[:space:],])$o([[:space:],=]|\$)" "$T/help" ||
		{ [[ $o == *: ]] && grep -qF -- "$o" "$T/help"; } || missing+=" $o"
done
is "$missing" "" "--help mentions every option and export kind"
check "-h exits 0" t "$IOPD" -h
check "--version exits 0" t "$IOPD" --version
grep -qi iopd "$T/out"
pass_if $? "--version names iopd" "$(cat "$T/out")"

# ------------------------------------------------------ usage errors

fails_with "unknown option" 'no-such-option|unrecognized' --no-such-option ram:1M
fails_with "option missing its argument" 'listen|requires' ram:1M --listen
fails_with "bad size suffix" '12Q' ram:12Q
fails_with "size missing" 'ram' ram:
fails_with "unknown export kind" 'nosuch' nosuch:foo
fails_with "missing file" '/nonexistent/x\.img' file:/nonexistent/x.img
fails_with "bare path that does not exist" '/nonexistent/y\.img' /nonexistent/y.img
fails_with "file: on a directory" "$T" "file:$T"
fails_with "duplicate export names" 'dup' dup=ram:1M dup=ram:2M
fails_with "unknown export option" 'bogus' ram:1M,bogus
fails_with "bad engine" 'bogus' --engine=bogus ram:1M
IOPD_ENGINE=bogus fails_with "bad IOPD_ENGINE in the environment" 'bogus' ram:1M
fails_with "bad --threads" 'threads|many' --threads=many ram:1M
fails_with "bad --direct" 'direct|sometimes' --direct=sometimes ram:1M
fails_with "bad --max-request" 'max-request|lots' --max-request=lots ram:1M
fails_with "bad --log-level" 'log|loud' --log-level=loud ram:1M
fails_with "bad --busy-poll" 'busy-poll|forever' --busy-poll=forever ram:1M
fails_with "--busy-poll beyond 10 ms" 'busy-poll' --busy-poll=20000 ram:1M
fails_with "--default-export naming no export" 'nosuch' --default-export=nosuch a=ram:1M
fails_with "bad listen address" '999999|listen|port' --listen=127.0.0.1:999999 ram:1M
fails_with "missing config file" "$T/nosuch.json" --config="$T/nosuch.json"
printf '{"exports": [ {"name": "a", "ddm": "ram", "size": "1M"} ' >"$T/broken.json"
fails_with "config file that is not JSON" 'broken\.json|json' --config="$T/broken.json"
printf '{"exports": [{"name": "a", "ddm": "ram", "size": "1M", "colour": "red"}]}' >"$T/unknown.json"
fails_with "config file with an unknown key" 'colour' --config="$T/unknown.json"

# ------------------------------------------------------ config file

cat >"$T/iopd.json" <<EOF
{
  "listen": ["unix:$T/cfg.sock", "127.0.0.1:0"],
  "threads": 2,
  "engine": "auto",
  "max_request_bytes": 4194304,
  "default_export": "scratch",
  "exports": [
    {"name": "disk", "ddm": "file", "path": "$T/cfg.img", "read_only": false,
     "description": "from the config"},
    {"name": "scratch", "ddm": "ram", "size": "32M"}
  ]
}
EOF
truncate -s 16M "$T/cfg.img"
if start_iopd --config="$T/iopd.json"; then
	is "$IOPD_SOCK" "$T/cfg.sock" "config: listens on the configured Unix socket"
	[ -n "$IOPD_TCP" ]
	pass_if $? "config: and on a TCP port ($IOPD_TCP)"
	check "config: nbdinfo --list" t nbdinfo --list --json "$(uri_unix)"
	cp "$T/out" "$T/cfg-list.json"
	is "$(json_get "$T/cfg-list.json" "' '.join(sorted(e['export-name'] for e in j['exports']))")" \
		"disk scratch" "config: both exports listed"
	is "$(json_get "$T/cfg-list.json" "{e['export-name']: e.get('description') for e in j['exports']}['disk']")" \
		"from the config" "config: description"
	check "config: default export is scratch (32 MiB)" t nbdinfo --size "$(uri_tcp "")"
	is "$(cat "$T/out")" 33554432 "config: default_export honoured"
	check "config: max_request_bytes is the block size maximum" t nbdinfo --json "$(uri_unix disk)"
	cp "$T/out" "$T/cfg-disk.json"
	is "$(json_get "$T/cfg-disk.json" "j['exports'][0].get('block_size_maximum')")" 4194304 \
		"config: block_size_maximum 4 MiB"
	check "config: write to the file export lands in the file" nbdpy "$T/cfg.img" <<'EOF'
import sys
from nbdproto import *
c = connect("disk")
assert c.write(4096, b"config!!" * 512, F_FUA) == 0
assert c.disc()
with open(sys.argv[1], "rb") as f:
    f.seek(4096)
    assert f.read(4096) == b"config!!" * 512
EOF
	stop_iopd
fi
# the command line wins over the file
if start_iopd --config="$T/iopd.json" --max-request=1M --default-export=disk; then
	check "config + --max-request=1M: nbdinfo --json" t nbdinfo --json "$(uri_unix "")"
	cp "$T/out" "$T/cfg-cli.json"
	is "$(json_get "$T/cfg-cli.json" "j['exports'][0].get('block_size_maximum')")" 1048576 \
		"--max-request on the command line wins over max_request_bytes in the file"
	is "$(json_get "$T/cfg-cli.json" "j['exports'][0].get('export-size')")" 16777216 \
		"--default-export on the command line wins over default_export in the file"
	stop_iopd
fi

# ------------------------------------------- read-only, default export

truncate -s 8M "$T/ro.img"
if start_iopd --read-only "a=ram:1M" "b=file:$T/ro.img" --default-export=b; then
	check "--default-export=b: the default export is b (8 MiB)" t nbdinfo --size "$(uri_unix)"
	is "$(cat "$T/out")" 8388608 "--default-export honoured"
	for n in a b; do
		check "--read-only: $n is read-only" t nbdinfo --json "$(uri_unix $n)"
		cp "$T/out" "$T/ro-$n.json"
		is "$(json_get "$T/ro-$n.json" "j['exports'][0]['is_read_only']")" true "--read-only: $n reports is_read_only"
	done
	check "--read-only: WRITE gets EPERM, TRIM/WRITE_ZEROES fail, READ works" nbdpy <<'EOF'
from nbdproto import *
c = connect("b")
assert c.tflags & T_READ_ONLY
assert c.write(0, b"x" * 512) == EPERM, "write"
assert c.cmd(CMD_WRITE_ZEROES, 0, 4096)[0] in (EPERM, EINVAL), "write zeroes"
assert c.cmd(CMD_TRIM, 0, 4096)[0] in (EPERM, EINVAL), "trim"
err, d = c.read(0, 4096)
assert err == 0 and d == bytes(4096)
assert c.disc()
EOF
	check "--read-only: the file is unchanged" cmp "$T/ro.img" <(head -c 8M /dev/zero)
	stop_iopd
fi

# ------------------------------------------------- shipped example

# doc/iopd.conf.example.json, with its paths and listeners moved into $T
truncate -s 16M "$T/ex-disk.img" "$T/ex.iso"
python3 - "$IOPD_REPO/doc/iopd.conf.example.json" "$T" >"$T/example.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
t = sys.argv[2]
j["listen"] = ["unix:%s/example.sock" % t, "127.0.0.1:0"]
for e in j["exports"]:
    if "path" in e:
        e["path"] = {"/srv/disk.img": t + "/ex-disk.img", "/srv/debian.iso": t + "/ex.iso"}[e["path"]]
print(json.dumps(j))
EOF
if start_iopd --config="$T/example.json"; then
	check "example config: nbdinfo --list" t nbdinfo --list --json "$(uri_unix)"
	cp "$T/out" "$T/ex-list.json"
	is "$(json_get "$T/ex-list.json" "' '.join(sorted(e['export-name'] for e in j['exports']))")" \
		"$(json_get "$IOPD_REPO/doc/iopd.conf.example.json" "' '.join(sorted(e['name'] for e in j['exports']))")" \
		"example config: every export of doc/iopd.conf.example.json is served"
	stop_iopd
fi

# ---------------------------------------------------------- direct

truncate -s 16M "$T/direct.img"
for d in on off auto; do
	if start_iopd --direct=$d "d=file:$T/direct.img"; then
		D=$d check "--direct=$d: aligned I/O on a file export lands in the file" \
			nbdpy "$T/direct.img" <<'EOF'
import os, sys
from nbdproto import *
c = connect("d")
data = os.urandom(65536)
assert c.write(1 << 20, data) == 0
assert c.cmd(CMD_FLUSH, 0, 0)[0] == 0
assert c.read(1 << 20, 65536) == (0, data)
assert c.disc()
with open(sys.argv[1], "rb") as f:
    f.seek(1 << 20)
    assert f.read(65536) == data
EOF
		stop_iopd
	fi
done

# --------------------------------------------- engines and threads

for e in uring epoll; do
	if start_iopd --engine=$e --threads=1 ram:4M; then
		check "--engine=$e --threads=1 serves I/O" nbdpy <<'EOF'
from nbdproto import *
c = connect()
assert c.write(0, b"e" * 65536) == 0
assert c.read(0, 65536) == (0, b"e" * 65536)
assert c.disc()
EOF
		stop_iopd
	fi
done

# --------------------------------------------------------- pidfile

if start_iopd --pidfile="$T/iopd.pid" ram:4M; then
	is "$(cat "$T/iopd.pid" 2>/dev/null)" "$IOPD_PID" "--pidfile holds the daemon's PID when it is ready"
	stop_iopd
fi

# ---------------------------------------------------------- daemon

# --daemon returns once the daemon is ready; the pidfile names it.
if check "--daemon returns 0 once ready" t "$IOPD" --daemon --pidfile="$T/daemon.pid" \
	--listen "unix:$T/daemon.sock" ram:4M; then
	dpid=$(cat "$T/daemon.pid" 2>/dev/null)
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		ok "--daemon: the pidfile names a running process ($dpid)"
		on_exit "kill -KILL $dpid"
		check "--daemon: serves" t nbdinfo --size "$(uri_unix "" "$T/daemon.sock")"
		is "$(cat "$T/out")" 4194304 "--daemon: size"
		kill -TERM "$dpid"
		check "--daemon: exits on SIGTERM from its pidfile's PID" \
			timeout 60 tail --pid="$dpid" -f /dev/null
	else
		not_ok "--daemon: the pidfile names a running process" "pidfile: '$dpid'"
	fi
fi

# --------------------------------------------- SIGTERM with clients

# client MODE: connects, says MODE on $FIFO once it is in transmission
# (busy: once its first write was answered, with 8 more in flight), then
# reports how its connection ended.
client() {
	FIFO=$T/clients nbdpy "$1" <<'EOF'
import os, sys
from nbdproto import *
mode = sys.argv[1]
c = connect()
fifo = open(os.environ["FIFO"], "w")
if mode == "idle":
    fifo.write("idle\n")
    fifo.close()
    print("closed" if closed_by_peer(c.s, 90) else "still open")
    sys.exit(0)
data = os.urandom(1 << 20)
for i in range(8):
    c.request(CMD_WRITE, i << 20, len(data), 0, data)
replies = errors = 0
try:
    while True:
        h, err, _, _ = c.reply()
        replies += 1
        errors += err != 0
        if replies == 1:
            fifo.write("busy\n")
            fifo.close()
        c.request(CMD_WRITE, (replies % 64) << 20, len(data), 0, data)
except (EOFError, ConnectionError):
    print("closed after %d replies (%d errors)" % (replies, errors))
EOF
}

if start_iopd ram:64M; then
	mkfifo "$T/clients"
	exec {cfd}<>"$T/clients"
	client idle >"$T/idle.out" 2>&1 &
	idle_pid=$!
	client busy >"$T/busy.out" 2>&1 &
	busy_pid=$!
	register_pid "$idle_pid"
	register_pid "$busy_pid"
	got=""
	for _ in $(seq 30); do
		line=""
		IFS= read -r -t 1 -u "$cfd" line && got+="$line "
		[ "$got" = "idle busy " ] || [ "$got" = "busy idle " ] && break
	done
	exec {cfd}<&-
	if [ "$got" = "idle busy " ] || [ "$got" = "busy idle " ]; then
		ok "an idle and a busy client are connected"
	else
		not_ok "an idle and a busy client are connected" "got '$got'" \
			"$(cat "$T/idle.out" "$T/busy.out")"
	fi
	stop_iopd # the assertion: exit 0 within 60 s despite the clients
	_wait_timeout "$idle_pid" 30
	pass_if $? "idle client: exits" "$(cat "$T/idle.out")"
	is "$(cat "$T/idle.out")" closed "idle client: the server closed its connection"
	_wait_timeout "$busy_pid" 30
	pass_if $? "busy client: exits" "$(cat "$T/busy.out")"
	grep -q '^closed after' "$T/busy.out"
	pass_if $? "busy client: connection closed ($(cat "$T/busy.out"))"
fi

# ----------------------------------------------------------- stdio

check "--stdio: one NBD session over stdin/stdout, exit 0 after DISC" nbdpy "$IOPD" <<'EOF'
import socket, subprocess, sys
from nbdproto import *
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "--stdio", "ram:64M"], stdin=b, stdout=b,
                     stderr=subprocess.PIPE)
b.close()
c = Client(a).greet()
c.structured_reply()
c.go("")
assert c.size == 64 << 20, c.size
assert c.write(1 << 20, b"stdio" * 1000) == 0
assert c.read(1 << 20, 5000) == (0, b"stdio" * 1000)
assert c.disc()
rc = p.wait(timeout=30)
err = p.stderr.read().decode(errors="replace")
print(err)
assert rc == 0, "exit status %d" % rc
assert "ERROR: AddressSanitizer" not in err and "runtime error:" not in err and "LeakSanitizer" not in err
EOF
fails_with "--stdio with --listen is refused" 'stdio' --stdio --listen "unix:$T/x.sock" ram:1M

# systemd socket activation, as libnbd's "[ CMD ]" uses it
size=$(t nbdinfo --size -- [ "$IOPD" ram:64M ] 2>"$T/activation.err")
pass_if $? "socket activation: nbdinfo --size -- [ iopd ram:64M ]" "$(cat "$T/activation.err")"
is "$size" 67108864 "socket activation: size"
if _sanitizer_report "$T/activation.err"; then
	not_ok "socket activation: no sanitizer report" "$(cat "$T/activation.err")"
fi

# ------------------------------------------------------- listeners

if have_ipv6_lo; then
	if start_iopd --listen '[::1]:0' ram:4M; then
		case $IOPD_TCP6 in
		"[::1]:"[0-9]*) ok "IPv6: LISTEN tcp $IOPD_TCP6" ;;
		*) not_ok "IPv6: LISTEN line" "got '$IOPD_TCP6'" ;;
		esac
		check "IPv6: nbdinfo nbd://$IOPD_TCP6/" t nbdinfo --size "nbd://$IOPD_TCP6/"
		stop_iopd
	fi
else
	skip "IPv6 listener" "no IPv6 address on lo"
fi

if start_iopd --listen ':0' ram:4M; then
	check "--listen :0 (all addresses): reachable on 127.0.0.1:$IOPD_PORT" \
		t nbdinfo --size "nbd://127.0.0.1:$IOPD_PORT/"
	fails_with "a port already in use is an error" "$IOPD_PORT|in use" --listen "127.0.0.1:$IOPD_PORT" ram:1M
	stop_iopd
fi
done_testing
