# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh: sourced by every tests/integration/test_*.sh.  It gives a test
#
#   - TAP output: ok, not_ok, skip, check, check_fails, is, diag,
#     done_testing (prints the "1..N" plan), skip_all, require;
#   - the Remote Transports the daemon was built with (make TRANSPORTS=):
#     iopd_has_transport, require_transport.  Every script needs nbd
#     unless it sets IOPD_TEST_TRANSPORTS (the transports it cannot do
#     without, "" for none) before sourcing this file, and is skipped
#     as a whole when the daemon lacks one;
#   - a private temporary directory $T, removed on exit, which is also
#     the working directory (use absolute paths after sourcing);
#   - start_iopd / stop_iopd: the real daemon on a private Unix socket and
#     a kernel-chosen TCP port, readiness read from --ready-fd (never a
#     sleep), stderr kept in a log that stop_iopd checks for sanitizer
#     reports;
#   - on_exit: cleanup steps (unmount, detach, kill) run in reverse order
#     when the script ends, however it ends;
#   - t: runs a client command under a timeout, so a hang fails the test
#     instead of blocking CI;
#   - helpers: uri_unix/uri_tcp, make_data, json_get, map_check (allocation
#     maps), nbdpy (a raw Python NBD client for crafted traffic),
#     register_pid/_reap/_wait_timeout for background clients.
#
# Environment: IOPD (daemon binary, default build/iopd under the repository
# root; a relative path is taken relative to the repository root),
# IOPD_ENGINE (passed through to the daemon), IOPD_TEST_TIMEOUT (seconds
# per client command, default 120), IOPD_TEST_KEEP=1 (keep $T).

set -u
# With pipefail, "CMD | grep -q X" fails when grep quits at its match and
# CMD is still writing (SIGPIPE): test a command's output with
# grep -q X <<<"$(CMD)" instead.
set -o pipefail

IOPD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${IOPD:=build/iopd}"
case $IOPD in
/*) ;;
*) IOPD=$IOPD_REPO/$IOPD ;;
esac
TMO=${IOPD_TEST_TIMEOUT:-120}
TEST_NAME=$(basename "$0" .sh)
export LC_ALL=C

T=$(mktemp -d "${TMPDIR:-/tmp}/iopd-$TEST_NAME.XXXXXX") || {
	echo "Bail out! mktemp -d failed"
	exit 1
}
# Tools that drop files in the working directory (fio's verify state)
# drop them here.
cd "$T" || exit 1

_tap_n=0
_tap_failed=0
_tap_done=0
_exit_extra=0
_cleanup=()
_iopd_n=0
declare -A _pid_log=()   # pid -> stderr log of a daemon we started
declare -A _pid_reaped=() # pid -> 1 once waited for

# ---------------------------------------------------------------- TAP

diag() {
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

# not_ok DESC [DIAG-LINE...]
not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	diag "$@"
}

# skip DESC REASON: an assertion that could not run here.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# pass_if STATUS DESC [DIAG...]: ok when STATUS is 0.
pass_if() {
	local st=$1
	shift
	if [ "$st" -eq 0 ]; then ok "$1"; else not_ok "$@"; fi
}

# t CMD...: a client command with a time limit.
t() {
	timeout -k 5 "$TMO" "$@"
}

# Run CMD (a program under the time limit, or a shell function that uses
# t itself); its output goes to $T/out.  Returns CMD's status.
_run() {
	if declare -F "$1" >/dev/null; then
		"$@" >"$T/out" 2>&1
	else
		timeout -k 5 "$TMO" "$@" >"$T/out" 2>&1
	fi
}

_cmd_diag() {
	local st=$1
	shift
	diag "command: $*" "exit status: $st$( [ "$st" -eq 124 ] && echo ' (timed out)')"
	if [ -s "$T/out" ]; then
		diag "output (last 15 lines):"
		tail -n 15 "$T/out" | sed 's/^/#   /'
	fi
}

# check DESC CMD...: ok when CMD exits 0.
check() {
	local desc=$1 st
	shift
	_run "$@"
	st=$?
	if [ "$st" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc"
		_cmd_diag "$st" "$@"
	fi
	return "$st"
}

# check_fails DESC CMD...: ok when CMD fails cleanly (exit 1..123: not a
# timeout, not killed by a signal).
check_fails() {
	local desc=$1 st
	shift
	_run "$@"
	st=$?
	if [ "$st" -ge 1 ] && [ "$st" -le 123 ]; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "expected a clean failure (exit status 1..123)"
	_cmd_diag "$st" "$@"
	return 1
}

# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "got:  '$1'" "want: '$2'"
	fi
}

done_testing() {
	echo "1..$_tap_n"
	_tap_done=1
}

# skip_all REASON: nothing in this script can run here.
skip_all() {
	echo "1..0 # SKIP $1"
	_tap_done=1
	exit 0
}

# require CMD...: skip the whole script when a tool is missing
# (scripts/install-deps.sh installs all of them).
require() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			skip_all "$c not installed (run scripts/install-deps.sh)"
	done
}

# server_pki DIR: a test CA and a server certificate for localhost and
# 127.0.0.1 signed by it, made with certtool: DIR/ca-cert.pem,
# ca-key.pem, server-cert.pem, server-key.pem (iopd --tls-certificates
# DIR; clients verify with DIR/ca-cert.pem).  Returns non-zero on failure.
server_pki() {
	local d=$1
	mkdir -p "$d" || return 1
	printf '%s\n' 'cn = "iopd test CA"' ca cert_signing_key \
		'expiration_days = 30' >"$d/ca.info"
	printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
		'ip_address = "127.0.0.1"' tls_www_server signing_key \
		encryption_key 'expiration_days = 30' >"$d/server.info"
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca-key.pem" \
		>/dev/null 2>&1 &&
		certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
			--template "$d/ca.info" --outfile "$d/ca-cert.pem" \
			>/dev/null 2>&1 &&
		certtool --generate-privkey --key-type=ecdsa \
			--outfile "$d/server-key.pem" >/dev/null 2>&1 &&
		certtool --generate-certificate --load-privkey "$d/server-key.pem" \
			--load-ca-certificate "$d/ca-cert.pem" \
			--load-ca-privkey "$d/ca-key.pem" --template "$d/server.info" \
			--outfile "$d/server-cert.pem" >/dev/null 2>&1
}

# --------------------------------------------------------- transports

# The Remote Transports built into $IOPD, from the last line of its --help
# ("Transports built in: nbd iscsi").  A daemon that does not say (not
# built yet, or older than the registry) has both: start_iopd then
# reports what is wrong.
_iopd_transports=""
iopd_transports() {
	if [ -z "$_iopd_transports" ]; then
		[ -x "$IOPD" ] && _iopd_transports=$("$IOPD" --help 2>/dev/null |
			sed -n 's/^Transports built in: //p')
		: "${_iopd_transports:=nbd iscsi}"
	fi
	echo "$_iopd_transports"
}

# iopd_has_transport NAME: true when $IOPD was built with NAME.
iopd_has_transport() {
	case " $(iopd_transports) " in *" $1 "*) return 0 ;; esac
	return 1
}

# require_transport NAME...: skip the whole script when $IOPD lacks one
# (call it before the first assertion).
require_transport() {
	local n
	for n in "$@"; do
		iopd_has_transport "$n" ||
			skip_all "$(basename "$IOPD") was built without the $n transport (it has: $(iopd_transports))"
	done
}

# ------------------------------------------------------------ cleanup

# on_exit CMD: run CMD (eval'd) when the script ends; last registered
# runs first.
on_exit() {
	_cleanup+=("$1")
}

_lib_exit() {
	local st=$? i pid
	# a subshell (command substitution, watchdog) must not clean up
	[ "$BASHPID" = "$$" ] || exit "$st"
	# bash 5.2 may print "wait_for: No record of process" for children
	# already reaped while it runs the EXIT trap; the output that matters
	# here goes to stdout.
	exec 2>/dev/null
	set +e
	trap - EXIT INT TERM
	for ((i = ${#_cleanup[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup[i]}" >/dev/null 2>&1
	done
	for pid in "${!_pid_log[@]}"; do
		[ -n "${_pid_reaped[$pid]:-}" ] && continue
		_reap "$pid"
	done
	for pid in "${!_pid_log[@]}"; do
		if _sanitizer_report "${_pid_log[$pid]}"; then
			echo "# sanitizer report from iopd pid $pid:"
			sed 's/^/#   /' "${_pid_log[$pid]}" | head -n 60
			_exit_extra=1
		fi
	done
	if [ "${IOPD_TEST_KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	if [ "$_tap_failed" -gt 0 ] || [ "$_exit_extra" -ne 0 ]; then
		st=1
	elif [ "$_tap_done" -eq 0 ] && [ "$st" -eq 0 ]; then
		echo "# script ended before done_testing"
		st=1
	fi
	exit "$st"
}
trap _lib_exit EXIT
trap 'exit 130' INT TERM

# _wait_timeout PID SECS: wait for our child PID; if it is still running
# after SECS, SIGKILL it.  Returns its exit status (137 after the kill).
# (tail --pid watches without a subshell: a bash subshell killed early
# would run this file's traps.)
_wait_timeout() {
	local pid=$1 secs=$2 st
	if kill -0 "$pid" 2>/dev/null; then
		timeout "$secs" tail -s 0.1 --pid="$pid" -f /dev/null >/dev/null 2>&1
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	st=$?
	_pid_reaped[$pid]=1
	return "$st"
}

# _tree PID: PID and its descendants, parents first.
_tree() {
	local c
	echo "$1"
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		_tree "$c"
	done
}

# _reap PID: make sure a process we started is gone (SIGTERM, then
# SIGKILL), with its descendants: a shell function run with & is a
# subshell whose clients (python3, qemu-io...) would outlive it.
_reap() {
	local pid=$1 tree
	[ -n "${_pid_reaped[$pid]:-}" ] && return 0
	tree=$(_tree "$pid")
	# shellcheck disable=SC2086
	kill -TERM $tree 2>/dev/null
	_wait_timeout "$pid" 20
	# shellcheck disable=SC2086
	kill -KILL $tree 2>/dev/null
	return 0
}

# register_pid PID [LOG]: a background process this test started; it is
# killed at exit if still running.  (A test that starts many processes
# sees pids come round again: a new one is not the old one, long reaped.)
register_pid() {
	_pid_log[$1]=${2:-/dev/null}
	unset "_pid_reaped[$1]"
}

# start_until WORD OUT CMD...: run CMD in the background, its output to
# OUT, registered for the reaper; wait (up to 10 s) until OUT holds WORD.
# BG_PID is its pid; 0 once WORD showed, 1 if it did not.
start_until() {
	local word=$1 out=$2 i
	shift 2
	"$@" >"$out" 2>&1 &
	BG_PID=$!
	register_pid "$BG_PID" "$out"
	for ((i = 0; i < 500; i++)); do
		grep -q "$word" "$out" && return 0
		python3 -c 'import time; time.sleep(0.02)'
	done
	return 1
}

# example_iscsi_config OUT: doc/iopd-iscsi.conf.example.json with its
# images, secret files and listeners moved into $T (16 MiB images
# ex-disk.img and ex.iso, secrets ex-NAME.secret), written to OUT.
example_iscsi_config() {
	local f
	truncate -s 16M "$T/ex-disk.img" "$T/ex.iso" || return 1
	for f in discovery vm1 vm1-target; do
		printf '%s-secret-0123456789\n' "$f" >"$T/ex-$f.secret"
		chmod 600 "$T/ex-$f.secret"
	done
	python3 - "$IOPD_REPO/doc/iopd-iscsi.conf.example.json" "$T" >"$1" <<'EOF'
import json, sys
j, t = json.load(open(sys.argv[1])), sys.argv[2]
j["listen"] = ["unix:%s/ex.sock" % t, "127.0.0.1:0"]
j["iscsi"]["listen"] = ["127.0.0.1:0"]
for e in j["exports"]:
    if "path" in e:
        e["path"] = {"/srv/disk.img": t + "/ex-disk.img",
                     "/srv/debian.iso": t + "/ex.iso"}[e["path"]]
def fix(c):
    c["secret_file"] = "%s/ex-%s" % (t, c["secret_file"].rsplit("/", 1)[1])
fix(j["iscsi"]["discovery_chap"])
for tg in j["iscsi"]["targets"]:
    for k in ("chap", "mutual_chap"):
        if k in tg:
            fix(tg[k])
print(json.dumps(j))
EOF
}

# start_peer OUT SCRIPT ARGS...: run the python3 peer SCRIPT ARGS in the
# background, output in OUT, registered; wait (30 s at most) for the
# READY line it prints once it is set up.  Sets PEER_PID.
start_peer() {
	local out=$1 script=$2 i
	shift 2
	python3 "$script" "$@" >"$out" 2>&1 </dev/null &
	PEER_PID=$!
	register_pid "$PEER_PID"
	for i in $(seq 300); do
		grep -q '^READY' "$out" && return 0
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "peer ${script##*/} $*: no READY line" "$(cat "$out")"
	return 1
}

_sanitizer_report() {
	[ -f "$1" ] && grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: ThreadSanitizer' "$1"
}

# ------------------------------------------------------------- daemon

_wants_default_listen() {
	local a
	# --listen is NBD's: a daemon without it listens on its iSCSI portals
	iopd_has_transport nbd || return 1
	for a in "$@"; do
		case $a in
		-l* | --listen* | -c* | --config* | -s | --stdio) return 1 ;;
		esac
	done
	return 0
}

# start_iopd ARGS...: start "$IOPD" ARGS in the background and wait (up
# to 30 s, no sleeping) until it reports READY on --ready-fd.  Unless ARGS
# have their own --listen or --config, it listens on unix:$T/sock.N and
# 127.0.0.1:0.  Sets IOPD_PID, IOPD_LOG, IOPD_SOCK (Unix socket path),
# IOPD_TCP (host:port of the first IPv4 listener), IOPD_TCP6 ([v6]:port),
# IOPD_PORT, IOPD_MGMT (--mgmt-socket path), IOPD_MGMT_TCP (the first
# --mgmt-listen host:port), and for --iscsi-listen portals IOPD_ISCSI (host:port of the
# first), IOPD_ISCSI_PORT and IOPD_ISCSI_ALL (every portal, space
# separated).  Prints an assertion; returns non-zero on failure.
start_iopd() {
	local n fifo log rfd line buf="" st waited=0
	local -a extra=()
	_iopd_n=$((_iopd_n + 1))
	n=$_iopd_n
	fifo=$T/ready.$n
	log=$T/iopd.$n.log
	IOPD_PID="" IOPD_SOCK="" IOPD_TCP="" IOPD_TCP6="" IOPD_PORT="" IOPD_LOG=$log
	IOPD_ISCSI="" IOPD_ISCSI_PORT="" IOPD_ISCSI_ALL=""
	IOPD_METRICS="" # host:port of the first --metrics-listen socket
	IOPD_MGMT=""    # the --mgmt-socket path
	IOPD_MGMT_TCP="" # host:port of the first --mgmt-listen socket
	if [ ! -x "$IOPD" ]; then
		not_ok "start iopd $*" "$IOPD is not an executable (build it with make)"
		return 1
	fi
	if _wants_default_listen "$@"; then
		extra=(--listen "unix:$T/sock.$n" --listen 127.0.0.1:0)
	fi
	mkfifo "$fifo" || {
		not_ok "start iopd $*" "mkfifo $fifo failed"
		return 1
	}
	# Open read-write first: neither side of the fifo blocks, and a daemon
	# that dies before READY is noticed by kill -0 between reads.
	exec {rfd}<>"$fifo"
	"$IOPD" --ready-fd=9 "${extra[@]}" "$@" 9>"$fifo" 2>"$log" </dev/null &
	IOPD_PID=$!
	register_pid "$IOPD_PID" "$log"
	on_exit "_reap $IOPD_PID"
	while :; do
		line=""
		IFS= read -r -t 1 -u "$rfd" line
		st=$?
		if [ "$st" -ne 0 ] && [ "$st" -le 128 ]; then
			exec {rfd}<&-
			not_ok "start iopd $*" "reading the ready fifo failed ($st)"
			return 1
		fi
		if [ "$st" -gt 128 ]; then
			buf+=$line
			waited=$((waited + 1))
			if ! kill -0 "$IOPD_PID" 2>/dev/null || [ "$waited" -ge 30 ]; then
				exec {rfd}<&-
				_wait_timeout "$IOPD_PID" 5
				st=$?
				not_ok "start iopd $*" \
					"no READY line after ${waited}s (exit status $st if it exited)" \
					"stderr:" "$(tail -n 20 "$log")"
				return 1
			fi
			continue
		fi
		line=$buf$line
		buf=""
		case $line in
		"LISTEN tcp ["*)
			[ -z "$IOPD_TCP6" ] && IOPD_TCP6=${line#LISTEN tcp }
			;;
		"LISTEN tcp "*)
			[ -z "$IOPD_TCP" ] && IOPD_TCP=${line#LISTEN tcp }
			;;
		"LISTEN unix "*)
			[ -z "$IOPD_SOCK" ] && IOPD_SOCK=${line#LISTEN unix }
			;;
		"LISTEN mgmt unix "*)
			IOPD_MGMT=${line#LISTEN mgmt unix }
			;;
		"LISTEN mgmt tcp "*)
			[ -z "$IOPD_MGMT_TCP" ] && IOPD_MGMT_TCP=${line#LISTEN mgmt tcp }
			;;
		"LISTEN metrics tcp "*)
			[ -z "$IOPD_METRICS" ] && IOPD_METRICS=${line#LISTEN metrics tcp }
			;;
		"LISTEN iscsi "*)
			# every portal in IOPD_ISCSI_ALL, the first in IOPD_ISCSI
			[ -z "$IOPD_ISCSI" ] && IOPD_ISCSI=${line#LISTEN iscsi }
			IOPD_ISCSI_ALL+="${IOPD_ISCSI_ALL:+ }${line#LISTEN iscsi }"
			;;
		READY) break ;;
		*) diag "unexpected line on the ready fd: $line" ;;
		esac
	done
	exec {rfd}<&-
	rm -f "$fifo"
	IOPD_PORT=${IOPD_TCP##*:}
	[ -z "$IOPD_PORT" ] && IOPD_PORT=${IOPD_TCP6##*:}
	IOPD_ISCSI_PORT=${IOPD_ISCSI##*:}
	ok "start iopd $* (pid $IOPD_PID)"
	return 0
}

# stop_iopd [PID]: SIGTERM, wait (60 s at most); an assertion that the
# daemon exited 0 and its stderr has no sanitizer report.
stop_iopd() {
	local pid=${1:-$IOPD_PID} st log desc
	log=${_pid_log[$pid]:-/dev/null}
	desc="iopd (pid $pid) exits 0 on SIGTERM, no sanitizer report"
	if [ -n "${_pid_reaped[$pid]:-}" ]; then
		not_ok "$desc" "already exited before stop_iopd"
		return 1
	fi
	kill -TERM "$pid" 2>/dev/null
	_wait_timeout "$pid" 60
	st=$?
	if [ "$st" -eq 137 ]; then
		not_ok "$desc" "did not exit within 60 s of SIGTERM (killed)" \
			"stderr:" "$(tail -n 30 "$log")"
		return 1
	fi
	if [ "$st" -ne 0 ]; then
		not_ok "$desc" "exit status $st" "stderr:" "$(tail -n 40 "$log")"
		return 1
	fi
	if _sanitizer_report "$log"; then
		not_ok "$desc" "sanitizer report:" "$(head -n 60 "$log")"
		_pid_log[$pid]=/dev/null # reported once is enough
		return 1
	fi
	ok "$desc"
}

# iopd_alive DESC [PID]: an assertion that the daemon is still running.
iopd_alive() {
	local pid=${2:-$IOPD_PID}
	if [ -z "${_pid_reaped[$pid]:-}" ] && kill -0 "$pid" 2>/dev/null; then
		ok "$1"
	else
		not_ok "$1" "iopd pid $pid is gone" "stderr:" "$(tail -n 30 "${_pid_log[$pid]:-/dev/null}")"
	fi
}

# remove_under_load EXPORT URI [FIO_ARG...]: fio streams 64 KiB random
# reads and writes to EXPORT (at URI, with FIO_ARGs such as --size) while
# iopctl removes it: the removal completes within the drain timeout
# (asserted under 5 s), fio ends with an error or a disconnect instead of
# hanging, and no connection is left on EXPORT.  Needs --mgmt-socket and
# a drain timeout of a few seconds; what else must go on serving is the
# caller's to check.
remove_under_load() {
	local name=$1 uri=$2 iopctl=${IOPCTL:-$(dirname "$IOPD")/iopctl}
	local out="$T/remove-$1.out" pid start took st
	shift 2
	fio --name=load --ioengine=nbd --uri="$uri" --rw=randrw --bs=64k \
		--iodepth=16 --time_based --runtime=120 "$@" \
		--output="$out" >/dev/null 2>&1 &
	pid=$!
	register_pid "$pid"
	check "fio is busy on export $name" _remove_busy "$iopctl" "$name"
	start=$(date +%s%3N)
	check "export remove $name under fio" \
		t "$iopctl" -s "$IOPD_MGMT" export remove "$name"
	took=$(($(date +%s%3N) - start))
	[ "$took" -lt 5000 ]
	pass_if $? "the removal drained fio's connection in ${took} ms (limit 5000)"
	timeout 20 tail --pid="$pid" -f /dev/null
	pass_if $? "fio ended (error or disconnect), no hang"
	wait "$pid"
	st=$?
	_pid_reaped[$pid]=1
	[ "$st" -ne 0 ] || grep -qiE "err|disconnect" "$out"
	pass_if $? "fio saw an error or a disconnect" "$(tail -n 5 "$out")"
	t "$iopctl" -s "$IOPD_MGMT" --json conn list "export=$name" >"$T/c.json"
	is "$(json_get "$T/c.json" "len(j)")" 0 "no connection left on export $name"
}

# _remove_busy IOPCTL EXPORT: EXPORT's first connection has served more
# than 100 requests (up to 10 s).
_remove_busy() {
	local i
	for i in $(seq 200); do
		t "$1" -s "$IOPD_MGMT" --json conn list "export=$2" >"$T/c.json" &&
			json_get "$T/c.json" "j and j[0]['requests'] > 100 or exit(1)" && return 0
		sleep 0.05
	done
	return 1
}

# URIs of an export of the daemon started last (or of the given socket /
# host:port).
uri_unix() { echo "nbd+unix:///${1:-}?socket=${2:-$IOPD_SOCK}"; }
uri_tcp() { echo "nbd://${2:-$IOPD_TCP}/${1:-}"; }

# iSCSI: the default target name of an export (iopd --iqn-prefix), and a
# libiscsi URL: uri_iscsi TARGET [LUN [PORTAL [USER%SECRET]]] (portal
# default: the first of the daemon started last).
IOPD_IQN_PREFIX=iqn.2026-11.org.iopd
iqn_of() { echo "$IOPD_IQN_PREFIX:$1"; }
uri_iscsi() { echo "iscsi://${4:+$4@}${3:-$IOPD_ISCSI}/$1/${2:-0}"; }

# ------------------------------------------------------------- data

# make_data FILE MIB: random data with a few zero runs (so copies must get
# zeroes and holes right), sized MIB MiB.
make_data() {
	local f=$1 mib=$2
	head -c "$((mib << 20))" /dev/urandom >"$f" || return 1
	# zero runs: 1 MiB at 1/4, 64 KiB at 1/2, 4 KiB + 512 B at 3/4
	dd if=/dev/zero of="$f" bs=1K seek=$((mib * 256)) count=1024 conv=notrunc status=none &&
		dd if=/dev/zero of="$f" bs=1K seek=$((mib * 512)) count=64 conv=notrunc status=none &&
		dd if=/dev/zero of="$f" bs=512 seek=$((mib * 1536)) count=9 conv=notrunc status=none
}

# json_get FILE PYEXPR: evaluate a Python expression over the JSON in FILE
# (bound to j) and print the result; True/False print as true/false.
json_get() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"j": j})
print(str(v).lower() if isinstance(v, bool) else v)
EOF
}

have_ipv6_lo() {
	[ -e /proc/net/if_inet6 ] && grep -q ' lo$' /proc/net/if_inet6
}

# qio URI COMMAND...: one qemu-io connection running the commands in order;
# qemu-io exits 1 if any of them fails (a pattern mismatch included).
qio() {
	local uri=$1 c
	local -a args=()
	shift
	for c in "$@"; do args+=(-c "$c"); done
	t qemu-io -f raw "$uri" "${args[@]}"
}

# file_has FILE BYTE OFFSET LENGTH: FILE (an export's backing file) holds
# LENGTH bytes of BYTE at OFFSET.
file_has() {
	python3 - "$@" <<'EOF'
import sys
f, byte, off, ln = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3]), int(sys.argv[4])
with open(f, "rb") as fh:
    fh.seek(off)
    got = fh.read(ln)
bad = [i for i, b in enumerate(got) if b != byte]
if len(got) != ln or bad:
    print("%s at %d: %d of %d bytes are not 0x%02x, first at +%d"
          % (f, off, len(bad), ln, byte, bad[0] if bad else -1))
    sys.exit(1)
EOF
}

# ------------------------------------------------------ raw NBD client

# nbdpy [ARGS...] <<'EOF' ... EOF: run a Python program (from stdin) with
# the module nbdproto importable: a small raw NBD client for protocol and
# robustness tests (crafted and malformed input, flags no tool sends).
# Its environment has NBD_SOCK=$IOPD_SOCK and NBD_TCP=$IOPD_TCP.
nbdpy() {
	[ -f "$T/nbdproto.py" ] || _nbdpy_module >"$T/nbdproto.py"
	NBD_SOCK=${IOPD_SOCK:-} NBD_TCP=${IOPD_TCP:-} PYTHONPATH=$T \
		timeout -k 5 "$TMO" python3 - "$@"
}

_nbdpy_module() {
	cat <<'EOF'
"""nbdproto: a minimal NBD client (proto.md, fixed newstyle) for tests."""
import os, socket, struct

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT = 9, 10
REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR = 1 << 31
REP_ERR_UNSUP, REP_ERR_POLICY, REP_ERR_INVALID = REP_ERR + 1, REP_ERR + 2, REP_ERR + 3
REP_ERR_PLATFORM, REP_ERR_TLS_REQD, REP_ERR_UNKNOWN = REP_ERR + 4, REP_ERR + 5, REP_ERR + 6
REP_ERR_SHUTDOWN, REP_ERR_BLOCK_SIZE_REQD, REP_ERR_TOO_BIG = REP_ERR + 7, REP_ERR + 8, REP_ERR + 9
INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 0, 1, 2, 3

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 5, 6, 7
F_FUA, F_NO_HOLE, F_DF, F_REQ_ONE, F_FAST_ZERO = 1, 2, 4, 8, 16

T_HAS_FLAGS, T_READ_ONLY, T_SEND_FLUSH, T_SEND_FUA = 1, 2, 4, 8
T_ROTATIONAL, T_SEND_TRIM, T_SEND_WRITE_ZEROES, T_SEND_DF = 16, 32, 64, 128
T_CAN_MULTI_CONN, T_SEND_RESIZE, T_SEND_CACHE, T_SEND_FAST_ZERO = 256, 512, 1024, 2048

RT_NONE, RT_OFFSET_DATA, RT_OFFSET_HOLE, RT_BLOCK_STATUS = 0, 1, 2, 5
RT_ERROR, RT_ERROR_OFFSET = (1 << 15) + 1, (1 << 15) + 2
RF_DONE = 1

EPERM, EIO, ENOMEM, EINVAL, ENOSPC = 1, 5, 12, 22, 28
EOVERFLOW, ENOTSUP, ESHUTDOWN = 75, 95, 108

STATE_HOLE, STATE_ZERO = 1, 2


class OptError(Exception):
    def __init__(self, opt, rtype, msg=b""):
        super().__init__("option %d: reply type 0x%x %r" % (opt, rtype, msg))
        self.rtype = rtype


def raw_socket(timeout=30):
    """A connected socket to the daemon under test (Unix if NBD_SOCK)."""
    if os.environ.get("NBD_SOCK"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(os.environ["NBD_SOCK"])
    else:
        host, port = os.environ["NBD_TCP"].rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)), timeout)
    s.settimeout(timeout)
    return s


def closed_by_peer(s, timeout=30):
    """True when the peer closes the connection (reads until eof,
    discarding anything it still sends)."""
    s.settimeout(timeout)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class Client:
    def __init__(self, sock=None, timeout=30):
        self.s = sock or raw_socket(timeout)
        self.handle = 0
        self.pending = {}
        self.req_off = {}
        self.structured = False
        self.size = None
        self.tflags = 0
        self.gflags = None

    # -- bytes
    def send(self, b):
        try:
            self.s.sendall(b)
        except (BrokenPipeError, ConnectionResetError):
            raise EOFError("server closed the connection")

    def recv(self, n):
        out = bytearray()
        while len(out) < n:
            try:
                b = self.s.recv(n - len(out))
            except ConnectionResetError:
                b = b""
            if not b:
                raise EOFError("server closed the connection")
            out += b
        return bytes(out)

    def close(self):
        self.s.close()

    # -- handshake
    def greet(self, cflags=1 | 2):
        magic, opt = struct.unpack(">QQ", self.recv(16))
        assert magic == NBDMAGIC, hex(magic)
        assert opt == IHAVEOPT, hex(opt)
        (self.gflags,) = struct.unpack(">H", self.recv(2))
        assert self.gflags & 1, "server lacks fixed newstyle"
        self.send(struct.pack(">I", cflags & self.gflags))
        self.no_zeroes = bool(cflags & self.gflags & 2)
        return self

    def opt_send(self, opt, data=b""):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def opt_reply(self):
        magic, opt, rtype, ln = struct.unpack(">QIII", self.recv(20))
        assert magic == OPT_REPLY_MAGIC, hex(magic)
        return opt, rtype, self.recv(ln)

    def opt_simple(self, opt, data=b""):
        """Send an option expecting one ACK; raise OptError otherwise."""
        self.opt_send(opt, data)
        o, rtype, d = self.opt_reply()
        assert o == opt, (o, opt)
        if rtype != REP_ACK:
            raise OptError(opt, rtype, d)

    def structured_reply(self):
        self.opt_simple(OPT_STRUCTURED_REPLY)
        self.structured = True

    def meta_context(self, name, queries=("base:allocation",), opt=OPT_SET_META_CONTEXT):
        n = name.encode()
        data = struct.pack(">I", len(n)) + n + struct.pack(">I", len(queries))
        for q in queries:
            q = q.encode()
            data += struct.pack(">I", len(q)) + q
        self.opt_send(opt, data)
        ctx = {}
        while True:
            o, rtype, d = self.opt_reply()
            if rtype == REP_ACK:
                return ctx
            if rtype != REP_META_CONTEXT:
                raise OptError(opt, rtype, d)
            (cid,) = struct.unpack(">I", d[:4])
            ctx[d[4:].decode()] = cid

    def list(self):
        self.opt_send(OPT_LIST)
        names = []
        while True:
            o, rtype, d = self.opt_reply()
            if rtype == REP_ACK:
                return names
            if rtype != REP_SERVER:
                raise OptError(OPT_LIST, rtype, d)
            (ln,) = struct.unpack(">I", d[:4])
            names.append((d[4:4 + ln].decode(), d[4 + ln:].decode()))

    def info(self, name, reqs=(INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE), opt=OPT_INFO):
        n = name.encode()
        data = struct.pack(">I", len(n)) + n + struct.pack(">H", len(reqs))
        data += b"".join(struct.pack(">H", r) for r in reqs)
        self.opt_send(opt, data)
        info = {}
        while True:
            o, rtype, d = self.opt_reply()
            if rtype == REP_ACK:
                break
            if rtype != REP_INFO:
                raise OptError(opt, rtype, d)
            (kind,) = struct.unpack(">H", d[:2])
            if kind == INFO_EXPORT:
                info["size"], info["tflags"] = struct.unpack(">QH", d[2:12])
            elif kind == INFO_NAME:
                info["name"] = d[2:].decode()
            elif kind == INFO_DESCRIPTION:
                info["description"] = d[2:].decode()
            elif kind == INFO_BLOCK_SIZE:
                info["block_size"] = struct.unpack(">III", d[2:14])
        if opt == OPT_GO:
            self.size, self.tflags = info["size"], info["tflags"]
        return info

    def go(self, name="", reqs=(INFO_BLOCK_SIZE,)):
        return self.info(name, reqs, opt=OPT_GO)

    def export_name(self, name=""):
        self.opt_send(OPT_EXPORT_NAME, name.encode())
        self.size, self.tflags = struct.unpack(">QH", self.recv(10))
        if not self.no_zeroes:
            self.recv(124)

    # -- transmission
    def request(self, cmd, offset, length, flags=0, data=b"", handle=None):
        if handle is None:
            self.handle += 1
            handle = self.handle
        self.pending[handle] = (cmd, length)
        self.req_off[handle] = offset
        self.send(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, handle,
                              offset, length) + data)
        return handle

    def reply(self):
        """Next reply: (handle, error, data, extents); data is the bytes
        read (holes filled with zeroes), extents a list of (len, flags)."""
        (magic,) = struct.unpack(">I", self.recv(4))
        if magic == SIMPLE_REPLY_MAGIC:
            err, handle = struct.unpack(">IQ", self.recv(12))
            cmd, length = self.pending.pop(handle)
            data = b""
            if cmd == CMD_READ and err == 0:
                data = self.recv(length)
            return handle, err, data, []
        assert magic == STRUCTURED_REPLY_MAGIC, "bad reply magic 0x%x" % magic
        err, data, ext = 0, None, []
        self.chunks = []  # (type, offset or None, length) of each chunk
        while True:
            if self.chunks:
                (magic,) = struct.unpack(">I", self.recv(4))
                assert magic == STRUCTURED_REPLY_MAGIC, "bad chunk magic 0x%x" % magic
            flags, rtype, handle, ln = struct.unpack(">HHQI", self.recv(16))
            payload = self.recv(ln)
            cmd, length = self.pending[handle]
            if data is None:
                data = bytearray(length) if cmd == CMD_READ else bytearray()
            if rtype == RT_OFFSET_DATA:
                (off,) = struct.unpack(">Q", payload[:8])
                rel = off - self.req_off.get(handle, 0)
                assert 0 <= rel and rel + ln - 8 <= len(data), "data chunk out of range"
                data[rel:rel + ln - 8] = payload[8:]
                self.chunks.append((rtype, off, ln - 8))
            elif rtype == RT_OFFSET_HOLE:
                off, hl = struct.unpack(">QI", payload)
                rel = off - self.req_off.get(handle, 0)
                assert 0 <= rel and rel + hl <= len(data), "hole chunk out of range"
                data[rel:rel + hl] = bytes(hl)
                self.chunks.append((rtype, off, hl))
            elif rtype == RT_BLOCK_STATUS:
                for i in range(4, ln, 8):
                    ext.append(struct.unpack(">II", payload[i:i + 8]))
                self.chunks.append((rtype, None, ln))
            elif rtype in (RT_ERROR, RT_ERROR_OFFSET):
                (e,) = struct.unpack(">I", payload[:4])
                err = err or e
                self.chunks.append((rtype, None, 0))
            elif rtype == RT_NONE:
                self.chunks.append((rtype, None, 0))
            else:
                raise AssertionError("unknown reply type %d" % rtype)
            if flags & RF_DONE:
                self.pending.pop(handle)
                return handle, err, bytes(data), ext

    def cmd(self, cmd, offset, length, flags=0, data=b""):
        """One request and its reply: (error, data, extents)."""
        h = self.request(cmd, offset, length, flags, data)
        rh, err, d, ext = self.reply()
        assert rh == h, (rh, h)
        return err, d, ext

    def read(self, offset, length, flags=0):
        return self.cmd(CMD_READ, offset, length, flags)[:2]

    def write(self, offset, data, flags=0):
        return self.cmd(CMD_WRITE, offset, len(data), flags, data)[0]

    def disc(self):
        self.request(CMD_DISC, 0, 0)
        return closed_by_peer(self.s)


def connect(name="", structured=True, meta=False, sock=None):
    """Handshake with GO on export name; structured replies by default."""
    c = Client(sock).greet()
    if structured:
        c.structured_reply()
    if meta:
        c.contexts = c.meta_context(name)
    c.go(name)
    return c
EOF
}

# map_check JSONFILE SIZE KIND:OFFSET:LENGTH...: check an allocation map
# (nbdinfo --map --json, or qemu-img map --output=json) covers [0, SIZE)
# without gaps and, for every entry overlapping each given range: KIND
# "data" = neither hole nor zero, "hole" = hole, "zero" = reads as zero.
# Offsets and lengths take K/M suffixes.  Prints what is wrong.
map_check() {
	python3 - "$@" <<'EOF'
import json, sys
f, size, ranges = sys.argv[1], sys.argv[2], sys.argv[3:]
def num(s):
    m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * m[s[-1]] if s[-1] in m else int(s)
ents = []
for e in json.load(open(f)):
    if "type" in e:   # nbdinfo: bit 0 hole, bit 1 zero
        ents.append((e["offset"], e["length"], e["type"]))
    else:             # qemu-img map
        ents.append((e["start"], e["length"],
                     (0 if e["data"] else 1) | (2 if e["zero"] else 0)))
ents.sort()
bad = []
pos = 0
for off, ln, ty in ents:
    if off != pos:
        bad.append("gap or overlap at %d (entry starts at %d)" % (pos, off))
    pos = off + ln
if pos != num(size):
    bad.append("map ends at %d, size is %d" % (pos, num(size)))
for r in ranges:
    kind, off, ln = r.split(":")
    off, ln = num(off), num(ln)
    for eo, el, ty in ents:
        if eo + el <= off or eo >= off + ln:
            continue
        if kind == "data" and ty & 3:
            bad.append("[%d,+%d) should be data, map says type %d at [%d,+%d)" % (off, ln, ty, eo, el))
        if kind == "hole" and not ty & 1:
            bad.append("[%d,+%d) should be a hole, map says type %d at [%d,+%d)" % (off, ln, ty, eo, el))
        if kind == "zero" and not ty & 2:
            bad.append("[%d,+%d) should read as zero, map says type %d at [%d,+%d)" % (off, ln, ty, eo, el))
for b in bad:
    print(b)
if bad:
    print("map:", ents[:40])
sys.exit(1 if bad else 0)
EOF
}

# What this script cannot do without (see the top of this file).
# shellcheck disable=SC2086
require_transport ${IOPD_TEST_TRANSPORTS-nbd}
