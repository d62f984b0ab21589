#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_rbd_gateways.sh: two iopd gateways, each in a network namespace of
# its own (its own address, as two hosts), export one RBD image as LUN 0
# of the same target, each its own ALUA target port group listing the
# other's.  Persistent reservations live in the image (scsi_pr_shared.c)
# and bind on both:
#   - libiscsi's PR suites with the first path on gateway A and the second
#     (its multipath URL, the one its two-nexus tests use for the other
#     nexus) on gateway B: every test passes, none skips;
#   - the PR and RESERVE(6) suites and the MultipathIO suite with both
#     paths on gateway A; the RESERVE(6) suite across A and B (the holder
#     is in the image's record too): a logout through A releases it
#     before it is answered, the record names the holder, and a holder
#     whose gateway was killed binds until that gateway starts again,
#     and `iopctl export pr` on B names a holder on A;
#     MultipathIO across A and B, Reset included (a
#     LUN RESET through one gateway reaches the other over the image's
#     watch/notify before it completes), and a session held on one
#     gateway sees a LUN RESET or a TARGET WARM RESET through the other
#     as a unit attention; a target reset through B releases a
#     RESERVE(6) held through A before it is answered;
#   - REPORT TARGET PORT GROUPS through each gateway gives both groups,
#     and `iopctl alua set` on A reaches a session held on A as
#     ASYMMETRIC ACCESS STATE CHANGED;
#   - a registration through A is in READ FULL STATUS through B, the
#     record is
#     the image's metadata (rbd image-meta get), and a reservation taken
#     through A conflicts with a write of a non-holder through B;
#   - fencing: initiator 2 PREEMPT AND ABORTs through B while initiator 1
#     streams writes through A; once it completes no write of initiator 1
#     lands (initiator 2 then zeroes the blocks, and the image, read with
#     rbd export, keeps the zeroes);
#   - eight REGISTERs racing through both gateways all land;
#   - both gateways restart: READ FULL STATUS is as before;
#   - the PR OUT of a gateway that cannot update the image fails (the OSD
#     stopped) rather than diverge.
# The Ceph cluster listens on a bridge in the root namespace that both
# namespaces' veths join; the clients run in the root namespace.
IOPD_TEST_TRANSPORTS="iscsi"
. "$(dirname "$0")/lib.sh"
HERE=$IOPD_REPO/tests/integration
. "$HERE/ceph.sh"
require ip iscsi-test-cu python3 cmp
[ "$(id -u)" = 0 ] || skip_all "needs root for network namespaces"
grep -q '^DDMs built in:.* rbd' <<<"$("$IOPD" --version 2>/dev/null)" ||
	skip_all "$(basename "$IOPD") was built without the rbd DDM (no librbd-dev)"

# --- two namespaces on a bridge, addresses 10.99.N.1 and .2; .254 here
N=$(($$ % 250 + 1))
NET=10.99.$N
BR=iopbr$$ NSA=iopgwA$$ NSB=iopgwB$$
ip netns add "$NSA" && ip netns add "$NSB" || skip_all "ip netns add failed"
on_exit "ip netns del $NSA; ip netns del $NSB; ip link del $BR"
netns_up() {
	ip link add "$BR" type bridge &&
		ip addr add "$NET.254/24" dev "$BR" &&
		ip link set "$BR" up || return 1
	local ns i=1 v
	for ns in "$NSA" "$NSB"; do
		v=iopv$i$$
		ip link add "$v" type veth peer name eth0 netns "$ns" &&
			ip link set "$v" master "$BR" && ip link set "$v" up &&
			ip -n "$ns" addr add "$NET.$i/24" dev eth0 &&
			ip -n "$ns" link set eth0 up &&
			ip -n "$ns" link set lo up || return 1
		on_exit "ip link del $v"
		i=$((i + 1))
	done
}
check "two network namespaces on a bridge ($NET.1, $NET.2; $NET.254 here)" \
	netns_up || {
	done_testing
	exit 1
}

CEPH_ADDR=$NET.254
ceph_start_or_bail
P=$CEPH_POOL
check "rbd create $P/gw (64 MiB)" rbdc create --size 64M "$P/gw"

# --- the gateways: IOPD runs each in its namespace
REAL_IOPD=$IOPD
IOPCTL=${IOPCTL:-$(dirname "$REAL_IOPD")/iopctl}
cat >"$T/iopd-ns" <<EOS
#!/bin/sh
exec ip netns exec "\$IOPD_NETNS" "$REAL_IOPD" "\$@"
EOS
chmod +x "$T/iopd-ns"
TGT=iqn.2026-11.test.iopd:gw
IQN1=iqn.2026-11.test.client:node1
IQN2=iqn.2026-11.test.client:node2
# gw_config NAME ADDR MYGROUP
gw_config() {
	local other=$((3 - $3)) mine_state=active/optimized
	local other_state=active/non-optimized
	[ "$3" = 2 ] && mine_state=active/non-optimized other_state=active/optimized
	cat >"$T/$1.json" <<EOS
{ "listen": [],
  "exports": [{"name": "lun", "spec": "rbd:$P/gw?rados_osd_op_timeout=3"}],
  "iscsi": {
    "listen": ["$2:3260"], "nop_interval": 60,
    "targets": [{"name": "$TGT",
                 "luns": [{"lun": 0, "export": "lun", "block_size": 512}]}],
    "port_groups": [
      {"group": $3, "port": $3, "state": "$mine_state", "portals": ["$2"]},
      {"group": $other, "port": $other, "state": "$other_state"}
    ] } }
EOS
}
gw_config a "$NET.1" 1
gw_config b "$NET.2" 2
# start_gw NS NAME: sets PID_<NAME>
start_gw() {
	IOPD=$T/iopd-ns IOPD_NETNS=$1 start_iopd -c "$T/$2.json" \
		--mgmt-socket "$T/$2.sock" || return 1
	eval "PID_$2=$IOPD_PID"
}
export IOPD_NETNS
start_gw "$NSA" a && start_gw "$NSB" b || {
	done_testing
	exit 1
}
A=$NET.1:3260 B=$NET.2:3260
pr() {
	local ini=$1 portal=$2
	shift 2
	t python3 "$HERE/iscsi_pr.py" "$portal" "$TGT" "$ini" "$@"
}
expect() {
	if [ "$(head -n 1 <<<"$3")" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1" "wanted: $2" "got: $3"
	fi
}

# --- libiscsi's suites across the two gateways
CU_TIMEOUT=${IOPD_ISCSI_CU_TIMEOUT:-600}
log=$T/cu-pr.log
timeout -k 5 "$CU_TIMEOUT" iscsi-test-cu -d -t 'SCSI.Prin*,SCSI.Prout*' \
	-i "$IQN1" -I "$IQN2" "iscsi://$A/$TGT/0" "iscsi://$B/$TGT/0" \
	>"$log" 2>&1
sum=$(grep -E '^ +tests +[0-9]' "$log" | tr -s ' ')
[ "$sum" = " tests 20 20 20 0 0" ] && ! grep -q '\[SKIPPED\]' "$log" &&
	! grep -qE '\.\.\.FAILED|^FAILED' "$log"
pass_if $? "PR IN and PR OUT suites, path 1 on gateway A, path 2 on B: 20 of 20 passed, none skipped" \
	"summary: $sum" "$(grep -E 'SKIPPED|FAILED' "$log" | head -n 20)"
diag "iscsi-test-cu: full output:" "$(cat "$log")"

# cu DESC LOG N ARGS...: iscsi-test-cu ran N tests, all passed, and
# printed no [SKIPPED] line.
cu() {
	local desc=$1 log=$2 n=$3 sum
	shift 3
	timeout -k 5 "$CU_TIMEOUT" iscsi-test-cu "$@" >"$log" 2>&1
	sum=$(grep -E '^ +tests +[0-9]' "$log" | tr -s ' ')
	[ "$sum" = " tests $n $n $n 0 0" ] && ! grep -q '\[SKIPPED\]' "$log" &&
		! grep -qE '\.\.\.FAILED|^FAILED' "$log"
	pass_if $? "$desc: $n of $n passed, none skipped" "summary: $sum" \
		"$(grep -E 'SKIPPED|FAILED' "$log" | head -n 20)"
	diag "iscsi-test-cu $*: full output:" "$(cat "$log")"
}
# The same suites with both paths on gateway A (an RBD LUN behind one
# gateway), RESERVE(6) there, and the multipath suite across A and B.
cu "PR IN and PR OUT suites, both paths on gateway A" "$T/cu-pr-a.log" 20 \
	-d -t 'SCSI.Prin*,SCSI.Prout*' -i "$IQN1" -I "$IQN2" \
	"iscsi://$A/$TGT/0" "iscsi://$A/$TGT/0"
cu "RESERVE(6) suite on gateway A" "$T/cu-r6-a.log" 7 \
	-d -t 'SCSI.Reserve6*' "iscsi://$A/$TGT/0"
cu "RESERVE(6) suite, path 1 on gateway A, path 2 on B" "$T/cu-r6.log" 7 \
	-d -t 'SCSI.Reserve6*' -i "$IQN1" -I "$IQN2" \
	"iscsi://$A/$TGT/0" "iscsi://$B/$TGT/0"
# RESERVE(6) in the record: a logout through A releases it before it is
# answered; a holder whose gateway was killed binds until that gateway
# starts again, whose first session releases it (SPC-2: no reservation
# survives power-on).
expect "RESERVE(6) through A, logout; at its response RESERVE(6) through B" \
	"status=0x00" "$(pr "$IQN1" "$A" logout-reserve6 "$IQN2" "$B")"
# hold_reserve6 DESC: initiator 1 takes RESERVE(6) through A and keeps
# its session (HOLD: the client's pid).
hold_reserve6() {
	start_until status "$T/hold.out" \
		python3 "$HERE/iscsi_pr.py" "$A" "$TGT" "$IQN1" hold-reserve6
	HOLD=$BG_PID
	is "$(cat "$T/hold.out")" "status=0x00" "$1"
}
hold_reserve6 "initiator 1 holds RESERVE(6) through A"
expect "a read of initiator 2 through B conflicts" "status=0x18" \
	"$(pr "$IQN2" "$B" read 0)"
check "rbd image-meta get $P/gw iopd.pr (RESERVE(6) held)" \
	rbdc image-meta get "$P/gw" iopd.pr
grep -qx "reserve6 $IQN1,i,0x800000000001 $TGT,t,0x0001" "$T/out"
pass_if $? "the record names the holder's initiator port and target port" \
	"$(cat "$T/out")"
if [ -x "$IOPCTL" ]; then
	out=$(t "$IOPCTL" -s "$T/b.sock" export pr lun)
	grep -qx "reserve6: $IQN1,i,0x800000000001" <<<"$out" &&
		grep -qx "reserve6_target_port: $TGT,t,0x0001" <<<"$out"
	pass_if $? "iopctl export pr on gateway B names the holder on A" "$out"
else
	skip "iopctl export pr on gateway B" "iopctl not built"
fi
kill -KILL "$PID_a"
_wait_timeout "$PID_a" 30
wait "$HOLD"
expect "gateway A killed: a read of initiator 2 through B still conflicts" \
	"status=0x18" "$(pr "$IQN2" "$B" read 0)"
start_gw "$NSA" a || {
	done_testing
	exit 1
}
expect "gateway A restarted: initiator 2 reads through A" "status=0x00" \
	"$(pr "$IQN2" "$A" read 0)"
expect "and RESERVE(6) through B succeeds" "status=0x00" \
	"$(pr "$IQN2" "$B" reserve6)"
# MultipathIO.CompareAndWrite zeroes blocks 0..255 but runs on 0..256
# (libiscsi 1.19): block 256 must start zeroed, whatever ran before.
expect "zero blocks 0..256 through A" "status=0x00" \
	"$(pr "$IQN1" "$A" zero 257)"
cu "MultipathIO suite, both paths on gateway A" "$T/cu-mp-a.log" 4 \
	-d -t 'SCSI.MultipathIO*' "iscsi://$A/$TGT/0" "iscsi://$A/$TGT/0"
expect "zero blocks 0..256 through B" "status=0x00" \
	"$(pr "$IQN2" "$B" zero 257)"
cu "MultipathIO suite, path 1 on gateway A, path 2 on B" \
	"$T/cu-mp.log" 4 -d -t 'SCSI.MultipathIO*' \
	"iscsi://$A/$TGT/0" "iscsi://$B/$TGT/0"
# A LOGICAL UNIT RESET through one gateway is answered once the other
# has raised the unit attention on its own sessions: a session held on
# one sees BUS DEVICE RESET FUNCTION OCCURRED at its next command.
is "$(pr "$IQN2" "$B" reset-seen "$IQN1" "$A" | paste -sd' ')" \
	"tmf=0 status=0x02 sense=6/2903" \
	"LUN RESET through A: a session held on B sees the unit attention"
is "$(pr "$IQN1" "$A" reset-seen "$IQN2" "$B" | paste -sd' ')" \
	"tmf=0 status=0x02 sense=6/2903" \
	"LUN RESET through B: a session held on A sees the unit attention"
is "$(pr "$IQN2" "$B" target-reset-seen "$IQN1" "$A" | paste -sd' ')" \
	"tmf=0 status=0x02 sense=6/2903" \
	"TARGET WARM RESET through A: a session held on B sees the unit attention"
hold_reserve6 "initiator 1 holds RESERVE(6) through A again"
expect "TARGET WARM RESET through B" "tmf=0" \
	"$(pr "$IQN2" "$B" tmf 6)"
expect "releases it: RESERVE(6) of initiator 2 through B, at once" \
	"status=0x00" "$(pr "$IQN2" "$B" reserve6)"
kill "$HOLD"
wait "$HOLD"

# --- ALUA as each gateway reports it: both groups, its own port
TOOL=$T/iscsi_alua
alua() { t "$TOOL" "$@" | sed 1d | paste -sd' '; }
if [ -x "$IOPCTL" ] && [ -f /usr/include/iscsi/iscsi.h ] &&
	cc -std=gnu11 -O2 -Wall -o "$TOOL" \
		"$IOPD_REPO/tests/tools/iscsi_alua.c" -liscsi; then
	is "$(alua "iscsi://$A/$TGT/0" devid tur rtpg)" \
		"relport 1 group 1 sense 6 2900 rtpg 8f 1:0:0:0:1 2:1:0:0:2" \
		"gateway A: port 1 of group 1; REPORT TARGET PORT GROUPS gives both groups"
	is "$(alua "iscsi://$B/$TGT/0" devid tur rtpg)" \
		"relport 2 group 2 sense 6 2900 rtpg 8f 2:1:0:0:2 1:0:0:0:1" \
		"gateway B: port 2 of group 2; the same two groups (its own first)"
	# A session held on A sees the operator's change as a unit attention.
	# (bash forgets a coprocess' pid when it exits: keep our own copy)
	coproc UA { "$TOOL" "iscsi://$A/$TGT/0" 2>&1; }
	UA_PID=$UA_PID
	register_pid "$UA_PID"
	exec {UA_IN}>&"${UA[1]}" {UA_OUT}<&"${UA[0]}"
	eval "exec ${UA[1]}>&- ${UA[0]}<&-"
	# ua_cmd CMD: its answer.
	ua_cmd() {
		local line
		echo "$1" >&"$UA_IN"
		IFS= read -r -t "$TMO" line <&"$UA_OUT" || line="(no answer)"
		echo "$line"
	}
	read -r -t "$TMO" l1 <&"$UA_OUT"
	is "$l1 $(ua_cmd tur) $(ua_cmd tur)" "ready sense 6 2900 good" \
		"a session held on gateway A; its power-on unit attention consumed"
	check "iopctl alua set 1 active/non-optimized on gateway A" \
		t "$IOPCTL" -s "$T/a.sock" alua set 1 active/non-optimized
	is "$(ua_cmd tur) $(ua_cmd tur) $(ua_cmd rtpg)" \
		"sense 6 2a06 good rtpg 8f 1:1:0:2:1 2:1:0:0:2" \
		"gateway A's initiator: ASYMMETRIC ACCESS STATE CHANGED once, then the new state"
	check "iopctl alua set 1 active/optimized on gateway A" \
		t "$IOPCTL" -s "$T/a.sock" alua set 1 active/optimized
	is "$(ua_cmd tur) $(ua_cmd tur)" "sense 6 2a06 good" \
		"the change back: the unit attention again"
	exec {UA_IN}>&- {UA_OUT}<&-
	wait "$UA_PID"
else
	skip "REPORT TARGET PORT GROUPS and the unit attention" \
		"iopctl or libiscsi-dev missing"
fi

# --- one state, two gateways
expect "register initiator 1 through A" "status=0x00" \
	"$(pr "$IQN1" "$A" register 1111)"
pr "$IQN2" "$B" status >"$T/st1"
grep -q "\"initiator\": \"$IQN1,i,0x800000000001\", \"key\": \"1111\"" "$T/st1"
pass_if $? "READ FULL STATUS through B shows A's registration" "$(cat "$T/st1")"
check "rbd image-meta get $P/gw iopd.pr" rbdc image-meta get "$P/gw" iopd.pr
grep -q "^reg 0000000000001111 .* $IQN1" "$T/out"
pass_if $? "the record is in the image's metadata" "$(cat "$T/out")"
expect "register initiator 2 through B" "status=0x00" \
	"$(pr "$IQN2" "$B" register 2222)"
expect "initiator 1 reserves write exclusive through A" "status=0x00" \
	"$(pr "$IQN1" "$A" reserve 1111 1)"
expect "a write of initiator 2 (not the holder) through B conflicts" \
	"status=0x18" "$(pr "$IQN2" "$B" write 0)"
expect "initiator 2 still reads through B" "status=0x00" \
	"$(pr "$IQN2" "$B" read 0)"
expect "the holder writes through A" "status=0x00" \
	"$(pr "$IQN1" "$A" write 0)"
expect "initiator 2 cannot reserve through B" "status=0x18" \
	"$(pr "$IQN2" "$B" reserve 2222 1)"

# --- fencing: initiator 1 streams through A, initiator 2 preempts and
# aborts through B.
expect "initiator 1 releases" "status=0x00" "$(pr "$IQN1" "$A" release 1111 1)"
expect "initiator 1 reserves write exclusive, registrants only" \
	"status=0x00" "$(pr "$IQN1" "$A" reserve 1111 5)"
start_until streaming "$T/stream.out" \
	python3 "$HERE/iscsi_pr.py" "$A" "$TGT" "$IQN1" stream 60
pass_if $? "initiator 1 is streaming writes through A"
expect "initiator 2 preempts and aborts initiator 1 through B" "status=0x00" \
	"$(pr "$IQN2" "$B" preempt 2222 1111 5 abort)"
expect "initiator 2 zeroes the streamed blocks through B" "status=0x00" \
	"$(pr "$IQN2" "$B" zero 64)"
wait "$BG_PID"
expect "initiator 1's stream through A ends in a reservation conflict" \
	"status=0x18" "$(tail -n 1 "$T/stream.out")"
check "rbd export the image" rbdc export --no-progress "$P/gw" "$T/gw.img"
cmp -s -n 32768 "$T/gw.img" /dev/zero
pass_if $? "no write of initiator 1 landed after the PREEMPT AND ABORT ($(sed -n 2p "$T/stream.out") before it)"
pr "$IQN1" "$A" status >"$T/st2"
grep -q "\"holder\": true, \"initiator\": \"$IQN2" "$T/st2"
pass_if $? "A sees initiator 2 as the holder" "$(cat "$T/st2")"

# --- racing updates: eight initiators register at the same time, half
# through A, half through B; each compare-and-swap that loses reruns on
# the winner's state, so none is lost.
expect "initiator 2 clears the fencing test's state through B" "status=0x00" \
	"$(pr "$IQN2" "$B" clear 2222)"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	portal=$A
	[ $((i % 2)) = 0 ] && portal=$B
	pr "$IQN1-race$i" "$portal" register "$i$i" >"$T/race$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
cat "$T"/race? | sort | uniq -c | tr -s ' ' >"$T/race"
is "$(cat "$T/race")" " 8 status=0x00" "eight racing REGISTERs through both gateways all succeed"
pr "$IQN2" "$B" status >"$T/st4"
sed -n 2p "$T/st4" >"$T/st4.json"
is "$(json_get "$T/st4.json" 'len(j["registrations"])')" 8 \
	"READ FULL STATUS through B: all eight registrations"
expect "one of them clears through A" "status=0x00" \
	"$(pr "$IQN1-race1" "$A" clear 11)"
expect "initiator 1 registers again through A" "status=0x00" \
	"$(pr "$IQN1" "$A" register 1111)"
expect "initiator 2 registers again through B" "status=0x00" \
	"$(pr "$IQN2" "$B" register 2222)"

# --- both gateways restart: the state is in the image
expect "initiator 1 asks for APTPL through A" "status=0x00" \
	"$(pr "$IQN1" "$A" register 1111 aptpl)"
expect "initiator 2 reserves write exclusive through B" "status=0x00" \
	"$(pr "$IQN2" "$B" reserve 2222 1)"
pr "$IQN1" "$A" status | sed -n 2p >"$T/before.json"
stop_iopd "$PID_a"
stop_iopd "$PID_b"
start_gw "$NSA" a && start_gw "$NSB" b || {
	done_testing
	exit 1
}
pr "$IQN1" "$A" status | sed -n 2p >"$T/after.json"
is "$(cat "$T/after.json")" "$(cat "$T/before.json")" \
	"after both gateways restart, READ FULL STATUS through A is as before"
grep -q "\"holder\": true, \"initiator\": \"$IQN2" "$T/after.json"
pass_if $? "initiator 2 still holds the reservation" "$(cat "$T/after.json")"
expect "a write of initiator 1 through A still conflicts" "status=0x18" \
	"$(pr "$IQN1" "$A" write 0)"
# --- the image cannot be updated: the PR OUT fails, nothing diverges
OSD=$(ceph_osd_pid)
kill -STOP "$OSD"
on_exit "kill -CONT $OSD"
# (about 9 s: the login reads the record and watches, 3 s each, before
# the REGISTER; ceph.sh says resume within 45 s, so the tool gets 40 s)
out=$(TMO=40 pr "$IQN1" "$A" register 3333)
kill -CONT "$OSD"
_ceph_poll 30 rbd image-meta get "$P/gw" iopd.pr
st=$?
[ "$st" -eq 0 ] || _ceph_diag
pass_if "$st" "the OSD answers again"
case $out in
"status=0x02 sense=5/5504"*) ok "with the OSD stopped a REGISTER fails: INSUFFICIENT REGISTRATION RESOURCES" ;;
*) not_ok "with the OSD stopped a REGISTER fails: INSUFFICIENT REGISTRATION RESOURCES" "got: $out" ;;
esac
pr "$IQN2" "$B" status >"$T/st3"
grep -q '"key": "2222"' "$T/st3" && ! grep -q '"key": "3333"' "$T/st3"
pass_if $? "B never saw the failed registration" "$(cat "$T/st3")"
expect "initiator 2 clears through B" "status=0x00" "$(pr "$IQN2" "$B" clear 2222)"
pr "$IQN1" "$A" status >"$T/st5"
grep -q '"registrations": \[\]' "$T/st5"
pass_if $? "A sees the clear: no registration left" "$(cat "$T/st5")"

stop_iopd "$PID_a"
stop_iopd "$PID_b"
done_testing
