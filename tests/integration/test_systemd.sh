#!/bin/bash
# SPDX-License-Identifier: MIT
# systemd integration and daemon hygiene, without systemd itself:
# sd_notify (READY=1, STATUS=, STOPPING=1) to a NOTIFY_SOCKET this test
# listens on; the unit files in contrib/systemd pass systemd-analyze
# verify; --log-target (stderr, syslog, journal, bad values); the config
# file's metrics_listen, log_target and discover keys.  (Socket
# activation through sd_listen_fds is test_cli.sh's nbdinfo -- [ iopd ].)
. "$(dirname "$0")/lib.sh"
require python3 nbdinfo curl

# ------------------------------------------------------------ sd_notify

# A listener on a datagram socket that records each notification as one
# line (newlines inside become "|") and exits after STOPPING=1.  It says
# "bound" on a fifo once the socket exists.
mkfifo "$T/bound"
python3 - "$T/notify.sock" "$T/notify.log" >"$T/bound" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
print("bound", flush=True)
with open(sys.argv[2], "w") as log:
    while True:
        msg = s.recv(4096).decode()
        log.write(msg.replace("\n", "|") + "\n")
        log.flush()
        if "STOPPING=1" in msg.split("\n"):
            break
PYEOF
listener=$!
register_pid "$listener"
line=""
read -r -t 30 line <"$T/bound"
is "$line" bound "the notification listener is bound"

NOTIFY_SOCKET=$T/notify.sock start_iopd a=ram:1M || { done_testing; exit 1; }
check "iopd serves" t nbdinfo "$(uri_unix a)"
stop_iopd
_wait_timeout "$listener" 30
is "$?" 0 "the listener got STOPPING=1 and ended"
python3 - "$T/notify.log" <<'PYEOF' >"$T/out" 2>&1
import sys
msgs = [l.rstrip("\n").split("|") for l in open(sys.argv[1])]
flat = [f for m in msgs for f in m]
assert "READY=1" in flat, msgs
assert "STOPPING=1" in flat, msgs
assert flat.index("READY=1") < flat.index("STOPPING=1"), msgs
assert any(f.startswith("STATUS=") for f in flat), msgs
PYEOF
pass_if $? "READY=1, a STATUS= line, then STOPPING=1" "$(cat "$T/out")" "$(cat "$T/notify.log")"

# Without NOTIFY_SOCKET nothing breaks (the other tests) and with one
# that nobody listens on iopd still starts.
NOTIFY_SOCKET=$T/nobody.sock start_iopd a=ram:1M && stop_iopd

# ----------------------------------------------------------- unit files

if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/units"
	sed "s#/usr/local/sbin/iopd#$IOPD#" "$IOPD_REPO/contrib/systemd/iopd.service" >"$T/units/iopd.service"
	cp "$IOPD_REPO/contrib/systemd/iopd.socket" "$T/units/"
	check "systemd-analyze verify accepts iopd.service and iopd.socket" \
		t systemd-analyze verify --man=no "$T/units/iopd.service" "$T/units/iopd.socket"
else
	skip "systemd-analyze verify" "systemd-analyze not installed"
fi
grep -q '^Type=notify$' "$IOPD_REPO/contrib/systemd/iopd.service"
pass_if $? "the service is Type=notify"
grep -q '^PrivateDevices=yes' "$IOPD_REPO/contrib/systemd/iopd.service"
pass_if $((!$?)) "the service does not hide block devices (PrivateDevices)"

# ------------------------------------------------------------ log target

start_iopd --log-target=stderr a=ram:1M && {
	grep -q "listening on" "$IOPD_LOG"
	pass_if $? "--log-target=stderr: messages on stderr" "$(cat "$IOPD_LOG")"
	stop_iopd
}
for target in syslog journal; do
	start_iopd --log-target=$target a=ram:1M && {
		grep -q "listening on" "$IOPD_LOG"
		pass_if $((!$?)) "--log-target=$target: nothing on stderr" "$(cat "$IOPD_LOG")"
		stop_iopd
	}
done
timeout 15 "$IOPD" --log-target=carrier-pigeon ram:1M >"$T/out" 2>&1
st=$?
[ "$st" -ge 1 ] && [ "$st" -le 123 ] && grep -q carrier-pigeon "$T/out"
pass_if $? "--log-target with a bad value fails cleanly, naming it" "exit $st" "$(cat "$T/out")"
timeout 15 "$IOPD" --metrics-listen=127.0.0.1:999999 ram:1M >"$T/out" 2>&1
st=$?
[ "$st" -ge 1 ] && [ "$st" -le 123 ]
pass_if $? "--metrics-listen with a bad address fails cleanly" "exit $st" "$(cat "$T/out")"

# --------------------------------------------------------- config keys

mkdir "$T/images"
cat >"$T/ops.json" <<JSON
{
  "listen": ["unix:$T/cfg.sock"],
  "metrics_listen": "127.0.0.1:0",
  "log_target": "stderr",
  "discover": { "block": false, "image_dirs": ["$T/images"],
                "image_extensions": ["img", "raw"] },
  "exports": [ { "name": "a", "ddm": "ram", "size": "1M" } ]
}
JSON
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
start_iopd --config="$T/ops.json" --mgmt-socket "$T/mgmt.sock" && {
	[ -n "$IOPD_METRICS" ]
	pass_if $? "config metrics_listen: the endpoint is announced"
	check "and it answers" t curl -sf -o /dev/null "http://$IOPD_METRICS/metrics"
	if [ -x "$IOPCTL" ]; then
		check "save-config" t "$IOPCTL" -s "$IOPD_MGMT" daemon save-config "$T/saved.json"
		is "$(json_get "$T/saved.json" '(j["metrics_listen"], j["log_target"], j["discover"]["image_dirs"], j["discover"]["block"])')" \
			"('127.0.0.1:0', 'stderr', ['$T/images'], False)" \
			"the saved config keeps metrics_listen, log_target and discover"
	else
		skip "save-config" "$IOPCTL not built"
	fi
	stop_iopd
}
sed 's/"block": false/"block": false, "colour": "red"/' "$T/ops.json" >"$T/bad.json"
timeout 15 "$IOPD" --config="$T/bad.json" >"$T/out" 2>&1
st=$?
[ "$st" -ge 1 ] && [ "$st" -le 123 ] && grep -q colour "$T/out"
pass_if $? "an unknown key in discover is an error naming it" "exit $st" "$(cat "$T/out")"
sed 's/"log_target": "stderr"/"log_target": 7/' "$T/ops.json" >"$T/bad.json"
timeout 15 "$IOPD" --config="$T/bad.json" >"$T/out" 2>&1
st=$?
[ "$st" -ge 1 ] && [ "$st" -le 123 ] && grep -q log_target "$T/out"
pass_if $? "a mistyped log_target is an error naming it" "exit $st" "$(cat "$T/out")"

done_testing
