#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_pr.sh: SCSI persistent reservations (SPC-4 5.14) on a file
# LUN of 512-byte blocks, reached through two portals:
#   - libiscsi's PR suites with two initiator names,
#       iscsi-test-cu -d -t 'SCSI.Prin*,SCSI.Prout*' -i IQN1 -I IQN2 URL
#     and the RESERVE(6) suite: every test passes, none is skipped (the
#     output has no [SKIPPED] line at all);
#   - a raw initiator (iscsi_pr.py): a write exclusive reservation makes
#     another initiator's write conflict and leaves its read alone;
#   - fencing: initiator 2 PREEMPT AND ABORTs initiator 1 while it streams
#     writes; once the PREEMPT AND ABORT has completed and initiator 2 has
#     zeroed the streamed blocks, none of initiator 1's writes lands;
#   - APTPL: registrations and the holder survive a restart of iopd
#     (READ FULL STATUS and `iopctl export pr` say so), and `iopctl export
#     pr-clear` drops them, for good (another restart shows none);
#   - `iopctl export pr` names a RESERVE(6) holder while its session
#     lasts, and nobody once it has ended.
IOPD_TEST_TRANSPORTS=iscsi
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

require iscsi-test-cu python3 cmp
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

TGT=iqn.2026-11.test.iopd:pr
IQN1=iqn.2026-11.test.client:node1
IQN2=iqn.2026-11.test.client:node2
CU_TIMEOUT=${IOPD_ISCSI_CU_TIMEOUT:-600}
truncate -s 64M "$T/lun.img"
mkdir "$T/pr"
cat >"$T/cfg.json" <<EOF
{
  "listen": [],
  "pr_dir": "$T/pr",
  "exports": [{"name": "lun", "ddm": "file", "path": "$T/lun.img"}],
  "iscsi": {
    "listen": ["127.0.0.1:0", "127.0.0.1:0"], "nop_interval": 60,
    "targets": [{"name": "$TGT",
                 "luns": [{"lun": 0, "export": "lun", "block_size": 512}]}]
  }
}
EOF

start() {
	start_iopd -c "$T/cfg.json" --mgmt-socket "$T/mgmt.sock" || {
		done_testing
		exit 1
	}
	read -r P1 P2 _ <<<"$IOPD_ISCSI_ALL"
}
ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
# pr INITIATOR [PORTAL] COMMAND ARGS...: one command of iscsi_pr.py.
pr() {
	local ini=$1 portal=$P1
	shift
	case $1 in 127.*) portal=$1; shift ;; esac
	t python3 "$HERE/iscsi_pr.py" "$portal" "$TGT" "$ini" "$@"
}
# expect DESC WANTED OUTPUT: the first line of OUTPUT is WANTED.
expect() {
	if [ "$(head -n 1 <<<"$3")" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1" "wanted: $2" "got: $3"
	fi
}

# cu DESC LOG N ARGS...: iscsi-test-cu ran N tests, all passed, and
# printed no [SKIPPED] line.
cu() {
	local desc=$1 log=$2 n=$3 sum
	shift 3
	timeout -k 5 "$CU_TIMEOUT" iscsi-test-cu "$@" >"$log" 2>&1
	sum=$(grep -E '^ +tests +[0-9]' "$log" | tr -s ' ')
	if [ "$sum" = " tests $n $n $n 0 0" ] &&
		! grep -q '\[SKIPPED\]' "$log" &&
		! grep -qE '\.\.\.FAILED|^FAILED' "$log"; then
		ok "$desc: $n of $n passed, none skipped"
	else
		not_ok "$desc: $n of $n passed, none skipped" \
			"iscsi-test-cu $*" "summary: $sum" \
			"$(grep -E 'SKIPPED|FAILED' "$log" | head -n 20)"
	fi
	diag "iscsi-test-cu $*: full output:" "$(cat "$log")"
}

start
URL1="iscsi://$P1/$TGT/0"
cu "PR IN and PR OUT suites" "$T/cu-pr.log" 20 \
	-d -t 'SCSI.Prin*,SCSI.Prout*' -i "$IQN1" -I "$IQN2" "$URL1"
cu "RESERVE(6) suite" "$T/cu-r6.log" 7 -d -t 'SCSI.Reserve6*' "$URL1"
out=$(ctl --json export pr lun)
expect "the suites leave no registration behind" 0 \
	"$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["registrations"]))' <<<"$out")"

# Write exclusive, initiator 2 registered through the other portal.
expect "register initiator 1" "status=0x00" "$(pr "$IQN1" register 1111 aptpl)"
expect "register initiator 2 on portal 2" "status=0x00" \
	"$(pr "$IQN2" "$P2" register 2222 aptpl)"
expect "initiator 1 reserves write exclusive" "status=0x00" \
	"$(pr "$IQN1" reserve 1111 1)"
expect "initiator 2's write conflicts" "status=0x18" "$(pr "$IQN2" "$P2" write 8)"
expect "initiator 2's read goes on" "status=0x00" "$(pr "$IQN2" "$P2" read 8)"
expect "initiator 1 writes" "status=0x00" "$(pr "$IQN1" write 8)"
expect "initiator 1 may not release another type" "status=0x02 sense=5/2604" \
	"$(pr "$IQN1" release 1111 3)"
expect "RESERVE(6) conflicts while registrations exist" "status=0x18" \
	"$(pr "$IQN2" "$P2" reserve6)"
expect "so does RELEASE(6) from a non-holder" "status=0x18" \
	"$(pr "$IQN2" "$P2" release6)"
expect "RELEASE(6) from the holder is GOOD and releases nothing" \
	"status=0x00" "$(pr "$IQN1" release6)"
expect "initiator 2's write still conflicts" "status=0x18" \
	"$(pr "$IQN2" "$P2" write 8)"

# APTPL: the state survives a restart.
pr "$IQN1" status >"$T/st1"
stop_iopd
start
pr "$IQN2" "$P2" status >"$T/st2"
if [ "$(tail -n 1 "$T/st1")" = "$(tail -n 1 "$T/st2")" ] &&
	grep -q '"holder": true' "$T/st2"; then
	ok "READ FULL STATUS is the same after a restart (APTPL)"
else
	not_ok "READ FULL STATUS is the same after a restart (APTPL)" \
		"before: $(cat "$T/st1")" "after: $(cat "$T/st2")"
fi
grep -q 'restored 2 registrations and a reservation' "$IOPD_LOG"
pass_if $? "the log says what was restored"
expect "the restored reservation still fences initiator 2" "status=0x18" \
	"$(pr "$IQN2" write 8)"
out=$(ctl export pr lun)
if grep -q "^holder: $IQN1,i,0x800000000001" <<<"$out" &&
	grep -q '^type: write-exclusive' <<<"$out" &&
	grep -q '^aptpl: yes' <<<"$out"; then
	ok "iopctl export pr shows the holder, the type and APTPL"
else
	not_ok "iopctl export pr shows the holder, the type and APTPL" "$out"
fi
ctl export pr-clear lun >/dev/null
pass_if $? "iopctl export pr-clear"
expect "initiator 2 writes once cleared" "status=0x00" "$(pr "$IQN2" write 8)"
stop_iopd
start
out=$(ctl --json export pr lun)
expect "nothing comes back after a restart once cleared" "0 False None" \
	"$(python3 -c 'import json,sys; j=json.load(sys.stdin); print(len(j["registrations"]), j["aptpl"], j["reserve6"])' <<<"$out")"
start_until status "$T/hold.out" \
	python3 "$HERE/iscsi_pr.py" "$P1" "$TGT" "$IQN2" hold-reserve6
is "$(cat "$T/hold.out")" "status=0x00" "initiator 2 holds RESERVE(6)"
out=$(ctl export pr lun)
grep -qx "reserve6: $IQN2,i,0x800000000001" <<<"$out" &&
	grep -qx "reserve6_target_port: $TGT,t,0x0001" <<<"$out"
pass_if $? "iopctl export pr names the RESERVE(6) holder and its target port" \
	"$out"
kill "$BG_PID"
wait "$BG_PID"
# The session ends when iopd reads the closed socket: look until then.
for ((i = 0; i < 250; i++)); do
	h=$(ctl --json export pr lun | python3 -c 'import json,sys; print(json.load(sys.stdin)["reserve6"])')
	[ "$h" = None ] && break
	python3 -c 'import time; time.sleep(0.02)'
done
is "$h" None "and no holder once its session has ended"
expect "RESERVE(6) is released when the holder's logout is answered" \
	"status=0x00" "$(pr "$IQN1" logout-reserve6 "$IQN2" "$P2")"

# Fencing: PREEMPT AND ABORT while initiator 1 streams writes.
pr "$IQN1" register 1111 >/dev/null
pr "$IQN2" "$P2" register 2222 >/dev/null
expect "initiator 1 reserves write exclusive, registrants only" \
	"status=0x00" "$(pr "$IQN1" reserve 1111 5)"
start_until streaming "$T/stream.out" \
	python3 "$HERE/iscsi_pr.py" "$P1" "$TGT" "$IQN1" stream 60
pass_if $? "initiator 1 is streaming writes"
expect "initiator 2 preempts and aborts initiator 1" "status=0x00" \
	"$(pr "$IQN2" "$P2" preempt 2222 1111 5 abort)"
expect "initiator 2 zeroes the streamed blocks" "status=0x00" \
	"$(pr "$IQN2" "$P2" zero 64)"
wait "$BG_PID"
expect "initiator 1's stream ends in a reservation conflict" "status=0x18" \
	"$(tail -n 1 "$T/stream.out")"
cmp -s -n 32768 "$T/lun.img" /dev/zero
pass_if $? "no write of initiator 1 landed after the PREEMPT AND ABORT"
pr "$IQN2" status >"$T/st3"
grep -q "\"holder\": true, \"initiator\": \"$IQN2" "$T/st3"
pass_if $? "initiator 2 holds the reservation"

stop_iopd
done_testing
