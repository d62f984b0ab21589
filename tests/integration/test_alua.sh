#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_alua.sh: ALUA (SPC-4 5.16) as initiators see it, with
# libiscsi (tests/tools/iscsi_alua.c: sg_rtpg needs a kernel device),
# iscsi-inq, iscsi-ls and qemu-io:
#   - without port_groups: one group, active/optimized, TPGS 01b, and
#     REPORT TARGET PORT GROUPS says so;
#   - two portals (127.0.0.1 and 127.0.0.2) in two groups, and a third
#     group of another gateway: each portal reports the same full
#     picture, its own relative port and group in VPD 0x83, SendTargets
#     gives each portal its group's port as the portal group tag;
#   - the standby path answers INQUIRY, REPORT LUNS, MODE SENSE and
#     REPORT TARGET PORT GROUPS, and NOT READY, 04h/0Bh to TEST UNIT
#     READY and READ;
#   - `iopctl alua set` reaches held sessions on both portals as
#     ASYMMETRIC ACCESS STATE CHANGED (06h/2Ah/06h), once, and then the
#     new state (unavailable: 04h/0Ch, transitioning: 04h/0Ah);
#   - qemu-io writes and reads back through the optimized path, and
#     cannot open the standby one;
#   - explicit ALUA: SET TARGET PORT GROUPS from one session switches
#     the optimized group, the other session (not the caller) gets the
#     unit attention, RTPG shows status 01h; unknown, remote or
#     implicit-only groups, transitioning, offline and cut lists are
#     refused; implicit only, the command is an invalid opcode;
#   - reload applies changed port_groups in place with the unit
#     attention, keeping live states the file did not change;
#     save-config writes live states; a restart starts from the file;
#   - configurations that cannot work are refused at start-up.
IOPD_TEST_TRANSPORTS="iscsi"
. "$(dirname "$0")/lib.sh"

require iscsi-inq iscsi-ls qemu-io cc python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
[ -f /usr/include/iscsi/iscsi.h ] || skip_all "libiscsi-dev not installed"

ctl() { t "$IOPCTL" -s "$T/mgmt.sock" "$@"; }
TOOL=$T/iscsi_alua
check "build tests/tools/iscsi_alua.c against libiscsi" cc -std=gnu11 -O2 \
	-Wall -o "$TOOL" "$IOPD_REPO/tests/tools/iscsi_alua.c" -liscsi || {
	done_testing
	exit 1
}
IQN=$(iqn_of d)

# alua URL CMD...: the tool's output lines after "ready", space joined.
alua() {
	t "$TOOL" "$@" | sed 1d | paste -sd' '
}

# hold: sessions held on both portals (UA, UB), fed one command at a
# time.  (bash forgets a coprocess' pid when it exits: keep our own copy)
hold() {
	local l1 l2
	coproc SA { "$TOOL" "$UA"; }
	PID_A=$SA_PID
	register_pid "$PID_A"
	exec {SA_IN}>&"${SA[1]}" {SA_OUT}<&"${SA[0]}"
	eval "exec ${SA[1]}>&- ${SA[0]}<&-"
	coproc SB { "$TOOL" "$UB"; }
	PID_B=$SB_PID
	register_pid "$PID_B"
	exec {SB_IN}>&"${SB[1]}" {SB_OUT}<&"${SB[0]}"
	eval "exec ${SB[1]}>&- ${SB[0]}<&-"
	read -r -t "$TMO" l1 <&"$SA_OUT"
	read -r -t "$TMO" l2 <&"$SB_OUT"
	is "$l1 $l2" "ready ready" "sessions held on both portals"
}
# release: end of input: the held sessions log out and exit.
release() {
	local st_a
	exec {SA_IN}>&- {SB_IN}>&-
	_wait_timeout "$PID_A" 30
	st_a=$?
	_wait_timeout "$PID_B" 30
	is "$st_a $?" "0 0" "the held sessions log out and exit 0"
}
# on A|B CMD: its answer.
on() {
	local in out line
	if [ "$1" = A ]; then in=$SA_IN out=$SA_OUT; else in=$SB_IN out=$SB_OUT; fi
	echo "$2" >&"$in"
	IFS= read -r -t "$TMO" line <&"$out" || line="(no answer)"
	echo "$line"
}
# portals: A and B from the running iopd's portals, and their URLs.
portals() {
	A="" B=""
	for p in $IOPD_ISCSI_ALL; do
		case $p in
		127.0.0.1:*) A=$p ;;
		127.0.0.2:*) B=$p ;;
		esac
	done
	[ -n "$A" ] && [ -n "$B" ] || skip_all "no portal on 127.0.0.2 ($IOPD_ISCSI_ALL)"
	UA=$(uri_iscsi "$IQN" 0 "$A")
	UB=$(uri_iscsi "$IQN" 0 "$B")
}

# --- the default: one group, active/optimized -----------------------
start_iopd --iscsi-listen 127.0.0.1:0 --listen none d=ram:16M || {
	done_testing
	exit 1
}
U=$(uri_iscsi "$IQN")
# INQUIRY neither reports nor clears the power-on unit attention;
# REPORT TARGET PORT GROUPS, like most commands, gets it first.
is "$(alua "$U" tpgs devid rtpg rtpg rtpg-ext tur)" \
	"tpgs 1 relport 1 group 1 sense 6 2900 rtpg 8f 1:0:0:0:1 rtpg hdr=1/0 8f 1:0:0:0:1 good" \
	"default: TPGS implicit, one active/optimized group with port 1"
t iscsi-inq "$U" >"$T/inq" 2>&1
is "$(grep '^TPGS' "$T/inq")" "TPGS:1" "iscsi-inq shows TPGS 1"
is "$(alua "$U" tur stpg:0:1 rsoc-stpg)" "sense 6 2900 sense 5 2000 rsoc 1" \
	"implicit only: SET TARGET PORT GROUPS is an invalid opcode, not reported"
stop_iopd

# --- two portals, two groups, and another gateway's group ------------
cat >"$T/c.json" <<EOF
{ "listen": [],
  "exports": [ {"name": "d", "ddm": "ram", "size": "16M"} ],
  "iscsi": { "listen": ["127.0.0.1:0", "127.0.0.2:0"],
    "port_groups": [
      {"group": 1, "state": "active/optimized", "portals": ["127.0.0.1"],
       "preferred": true},
      {"group": 2, "state": "standby", "portals": ["127.0.0.2"]},
      {"group": 9, "port": 3, "state": "active/non-optimized"}
    ] } }
EOF
start_iopd -c "$T/c.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
portals
PICTURE="8f 1:0:1:0:1 2:2:0:0:2 9:1:0:0:3"
is "$(alua "$UA" devid tur rtpg)" "relport 1 group 1 sense 6 2900 rtpg $PICTURE" \
	"portal A: port 1 of group 1; every group reported"
is "$(alua "$UB" devid tur rtpg-ext)" \
	"relport 2 group 2 sense 6 2900 rtpg hdr=1/0 $PICTURE" \
	"portal B: port 2 of group 2; the same picture"
t iscsi-ls -s "iscsi://$A" >"$T/ls" 2>&1
check "SendTargets through B gives B's port as the portal group tag" \
	grep -q "Portal:$B,2" <(t iscsi-ls -s "iscsi://$B" 2>&1)
check "SendTargets through A gives tag 1" grep -q "Portal:$A,1" "$T/ls"

is "$(alua "$UB" tur tur read write)" \
	"sense 6 2900 sense 2 040b sense 2 040b sense 2 040b" \
	"standby: TEST UNIT READY, READ, WRITE: NOT READY, 04h/0Bh"
is "$(alua "$UB" tur tpgs luns modesense rtpg)" \
	"sense 6 2900 tpgs 1 good good rtpg $PICTURE" \
	"standby: INQUIRY, REPORT LUNS, MODE SENSE, RTPG still work"

# qemu-io over the optimized path; the standby one refuses I/O.
check "qemu-io writes through the optimized path" t qemu-io -f raw \
	-c "write -P 0x5a 0 64k" "$UA"
check "qemu-io reads it back through the optimized path" t qemu-io -f raw \
	-c "read -P 0x5a 0 64k" "$UA"
check_fails "qemu-io cannot use the standby path" t qemu-io -f raw \
	-c "read 0 4k" "$UB"

hold
is "$(on A tur) $(on A tur) $(on B tur)" "sense 6 2900 good sense 6 2900" \
	"power-on unit attentions consumed"

check "iopctl alua set 2 active/optimized" ctl alua set 2 active/optimized
is "$(on A tur) $(on A tur)" "sense 6 2a06 good" \
	"A: ASYMMETRIC ACCESS STATE CHANGED once"
is "$(on B read) $(on B read) $(on B rtpg)" \
	"sense 6 2a06 good rtpg 8f 1:0:1:0:1 2:0:0:2:2 9:1:0:0:3" \
	"B: the unit attention, then reads work; RTPG: group 2 optimized, changed"
check "qemu-io reads through B now" t qemu-io -f raw -c "read -P 0x5a 0 64k" "$UB"

check "iopctl alua set 1 unavailable" ctl alua set 1 unavailable
is "$(on A tur) $(on A tur) $(on A read) $(on A modesense) $(on A luns)" \
	"sense 6 2a06 sense 2 040c sense 2 040c sense 2 040c good" \
	"A unavailable: 04h/0Ch, MODE SENSE refused, REPORT LUNS works"
check "iopctl alua set 1 transitioning" ctl alua set 1 transitioning
is "$(on A tur) $(on A tur)" "sense 6 2a06 sense 2 040a" \
	"A transitioning: 04h/0Ah"
ctl --json alua list >"$T/list.json"
is "$(python3 -c 'import json,sys; print(" ".join("%d=%s,%s,%s" % (g["group"], g["state"], g["local"], g["changed"]) for g in json.load(open(sys.argv[1]))))' "$T/list.json")" \
	"1=transitioning,True,True 2=active/optimized,True,True 9=active/non-optimized,False,False" \
	"iopctl alua list shows the live states"
check_fails "alua set: no such group" ctl alua set 5 standby
check_fails "alua set: no such state" ctl alua set 1 sleeping
is "$(on B tur)" "sense 6 2a06" "B heard of the changes to group 1"
release
stop_iopd

# --- explicit ALUA: SET TARGET PORT GROUPS, reload, restart ----------
# econf E1 E2 S9 [EXTRA]: the config, groups 1 and 2 "explicit" as
# told, group 9 (another gateway's) in state S9, EXTRA groups after it.
econf() {
	cat >"$T/e.json" <<EOF
{ "listen": [],
  "exports": [ {"name": "d", "ddm": "ram", "size": "16M"} ],
  "iscsi": { "listen": ["127.0.0.1:0", "127.0.0.2:0"],
    "port_groups": [
      {"group": 1, "state": "active/optimized", "portals": ["127.0.0.1"],
       "preferred": true, "explicit": $1},
      {"group": 2, "state": "standby", "portals": ["127.0.0.2"],
       "explicit": $2},
      {"group": 9, "port": 3, "state": "$3"} ${4:-}
    ] } }
EOF
}
econf true true active/non-optimized
start_iopd -c "$T/e.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
portals
hold
is "$(on A tur) $(on B tur) $(on A tpgs) $(on A rsoc-stpg)" \
	"sense 6 2900 sense 6 2900 tpgs 3 rsoc 3" \
	"explicit groups: TPGS 11b, SET TARGET PORT GROUPS reported"
is "$(on A stpg:0:7) $(on A stpg:0:9) $(on A stpg:f:2) $(on A stpg:e:2) $(on A stpg-cut:0:2)" \
	"sense 5 2600 sense 5 2600 sense 5 2600 sense 5 2600 sense 5 1a00" \
	"refused: unknown group, another gateway's, transitioning, offline (26h/00h); a cut list (1Ah/00h)"
is "$(on A stpg:0:1,1:7) $(on B tur) $(on B rtpg)" \
	"sense 5 2600 sense 2 040b rtpg 8f 1:0:1:0:1 2:2:0:0:2 9:1:0:0:3" \
	"a refused list changes nothing, and no session hears of it"
is "$(on A stpg:1:1,0:2) $(on A tur) $(on A tur)" "good good good" \
	"A switches: group 2 optimized, group 1 non-optimized; no unit attention for A"
is "$(on B tur) $(on B read) $(on B rtpg)" \
	"sense 6 2a06 good rtpg 8f 1:1:1:1:1 2:0:0:1:2 9:1:0:0:3" \
	"B: ASYMMETRIC ACCESS STATE CHANGED, reads work, RTPG status 01h (SET TARGET PORT GROUPS)"
check "qemu-io reads through B after the switch" t qemu-io -f raw \
	-c "read 0 64k" "$UB"
ctl --json alua list >"$T/list.json"
is "$(json_get "$T/list.json" '" ".join("%d=%s,%s,%s" % (g["group"], g["state"], g["explicit"], g["changed_by"]) for g in j)')" \
	"1=active/non-optimized,True,initiator 2=active/optimized,True,initiator 9=active/non-optimized,False,-" \
	"iopctl alua list: the initiator's change, and which groups take one"
ctl alua list >"$T/list.txt"
check "iopctl alua list (table) has EXPLICIT and CHANGED BY" \
	grep -q "EXPLICIT.*CHANGED BY" "$T/list.txt"

# Reload: group 9's state changed in the file, a new group 5; groups 1
# and 2, unchanged in the file, keep the states the initiator set.
econf true true standby ', {"group": 5, "state": "unavailable"}'
check "reload with changed port_groups" ctl daemon reload
is "$(on A tur) $(on B tur) $(on A rtpg)" \
	"sense 6 2a06 sense 6 2a06 rtpg 8f 1:1:1:1:1 2:0:0:1:2 9:2:0:2:3 5:3:0:0:5" \
	"reload: every session hears of it; 9 standby (implicit), 5 new, 1 and 2 as the initiator left them"
check "reload with the same port_groups" ctl daemon reload
is "$(on A tur) $(on B tur)" "good good" "an unchanged reload tells no one"
# Explicit turned off: the command is gone again.
econf false false standby ', {"group": 5, "state": "unavailable"}'
check "reload turning explicit off" ctl daemon reload
is "$(on A tpgs) $(on A stpg:0:1) $(on A rsoc-stpg)" \
	"tpgs 1 sense 5 2000 rsoc 1" \
	"explicit off: TPGS 01b, SET TARGET PORT GROUPS an invalid opcode"
# Nothing is saved by itself: save-config writes the live states.
check "save-config" ctl daemon save-config "$T/saved.json"
is "$(json_get "$T/saved.json" '" ".join("%d=%s" % (g["group"], g["state"]) for g in j["iscsi"]["port_groups"])')" \
	"1=active/non-optimized 2=active/optimized 9=standby 5=unavailable" \
	"save-config writes the live states"
release
stop_iopd
# A restart starts from the file: the one given...
start_iopd -c "$T/e.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
portals
is "$(alua "$UA" tur rtpg)" \
	"sense 6 2900 rtpg 8f 1:0:1:0:1 2:2:0:0:2 9:2:0:0:3 5:3:0:0:5" \
	"restart: the config file's states, no status"
stop_iopd
# ... or the one saved.
start_iopd -c "$T/saved.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
portals
is "$(alua "$UA" tur rtpg)" \
	"sense 6 2900 rtpg 8f 1:1:1:0:1 2:0:0:0:2 9:2:0:0:3 5:3:0:0:5" \
	"restart from the saved config: the states saved"
stop_iopd

# --- refused configurations (before anything listens) ----------------
refuse() {
	printf '{"listen": [], "exports": [{"name": "d", "ddm": "ram", "size": "1M"}], "iscsi": {"listen": ["127.0.0.1:0"], "port_groups": %s}}\n' "$2" >"$T/bad.json"
	check_fails "refused: $1" timeout -k 5 20 "$IOPD" -c "$T/bad.json"
	cp "$T/out" "$T/bad.out"
	check "... with a reason" grep -q "alua: " "$T/bad.out"
}
refuse "no group served here" '[{"group": 1}]'
refuse "a group twice" '[{"group": 1, "portals": ["*"]}, {"group": 1}]'
refuse "a port twice" '[{"group": 1, "portals": ["*"]}, {"group": 2, "port": 1}]'
refuse "a host name as portal" '[{"group": 1, "portals": ["localhost"]}]'
refuse "explicit on another gateway's group" '[{"group": 1, "portals": ["*"]}, {"group": 2, "explicit": true}]'
done_testing
