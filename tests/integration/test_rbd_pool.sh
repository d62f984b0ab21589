#!/bin/bash
# SPDX-License-Identifier: MIT
# An RBD pool as an IOP, and the image's exclusive lock between two iopd
# processes, against a real single-node Ceph cluster (ceph.sh).
#
# Discovery: the config file's discover.pools names a pool; `iopctl device
# discovered` lists its images (size, the spec they open with), `device
# export` serves one by name (nbdinfo, qemu-io, rbd export agree), and a
# rescan reports an image created and one removed since, and with the
# monitor stopped answers after the pool's timeout, keeping the pool's
# images as they were.  The fault DDM
# wrapping rbd hands the rbd settings to its inner device.
#
# Exclusive lock (a default image feature): two iopd processes serve one
# image; writes and flushes from either are read by the other, the lock
# passing between them (rbd lock ls names its holder); the holder killed
# with SIGKILL answers no more, and after the shortened watch timeout the
# other breaks the lock, blocklists the dead client and writes.
. "$(dirname "$0")/lib.sh"
. "$IOPD_REPO/tests/integration/ceph.sh"
require nbdinfo qemu-io python3 cmp
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
grep -q '^DDMs built in:.* rbd' <<<"$("$IOPD" --version 2>/dev/null)" ||
	skip_all "$(basename "$IOPD") was built without the rbd DDM (no librbd-dev)"
ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
# cand FILE NAME EXPR: a Python expression over candidate NAME (bound to
# c; None if absent) in the JSON list (or rescan object) in FILE.
cand() {
	python3 - "$@" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
if isinstance(j, dict):
    j = j["candidates"]
c = next((x for x in j if x["name"] == sys.argv[2]), None)
v = eval(sys.argv[3], {"c": c})
print(str(v).lower() if isinstance(v, bool) else v)
PYEOF
}

# The OSD drops a watch its client has not pinged for 4 s (default 30),
# and clients ping every second (default 5): a dead lock holder is found
# out in seconds.
CEPH_CONF_EXTRA="osd client watch timeout = 4
objecter tick interval = 1"
ceph_start_or_bail
P=$CEPH_POOL
check "rbd create $P/p1 (8 MiB)" rbdc create --size 8M "$P/p1"
check "rbd create $P/p2 (16 MiB)" rbdc create --size 16M "$P/p2"

# ------------------------------------------------------------ the pool
cat >"$T/iopd.json" <<EOF
{ "discover": { "block": false, "pools": [ { "iop": "ceph", "ddm": "rbd",
  "options": { "pool": "$P", "conf": "$CEPH_CONF", "id": "admin",
	       "keyring": "$CEPH_KEYRING", "client_mount_timeout": "3" } } ] } }
EOF
start_iopd --config "$T/iopd.json" --mgmt-socket "$T/mgmt.sock" \
	--listen "unix:$T/pool.sock" seed=ram:1M || {
	done_testing
	exit 1
}
check "iopctl device discovered" ctl --json device discovered
cp "$T/out" "$T/disc.json"
is "$(cand "$T/disc.json" p1 'c and [c["iop"], c["kind"], c["ddm"], c["path"], c["size"], c["state"], c["exportable"]]')" \
	"['ceph', 'pool-device', 'rbd', '$P/p1', 8388608, 'present', True]" \
	"p1: in IOP ceph, an rbd pool device $P/p1 of 8 MiB, exportable"
is "$(cand "$T/disc.json" p2 'c and c["size"]')" 16777216 "p2: 16 MiB"
is "$(cand "$T/disc.json" seed 'c')" None "exports are not candidates"
check "iopctl device discovered (the table)" ctl device discovered
grep -Eq "^p1 +ceph +pool-device .*$P/p1" "$T/out"
pass_if $? "the table lists p1 in ceph as a pool device" "$(cat "$T/out")"
check "nothing is exported until asked" ctl export list
! grep -q '^p1 ' "$T/out"
pass_if $? "export list has no p1" "$(cat "$T/out")"

check "iopctl device export p1" ctl device export p1
check "nbdinfo --size: the p1 export" nbdinfo --size "$(uri_unix p1)"
is "$(cat "$T/out")" 8388608 "nbdinfo: p1 is 8 MiB"
check "qemu-io: write and flush p1" qio "$(uri_unix p1)" \
	"write -P 0x61 1M 256k" "flush"
check "rbd export $P/p1" rbdc export --no-progress "$P/p1" "$T/p1.raw"
cmp -s -i 1048576:0 -n 262144 "$T/p1.raw" <(head -c 256K /dev/zero | tr '\0' a)
pass_if $? "the cluster holds what was written over NBD"
check "iopctl device discovered" ctl --json device discovered
is "$(cand "$T/out" p1 'c["exported_as"]')" p1 "p1 is listed exported as p1"
check "iopctl daemon config" ctl --json daemon config
cp "$T/out" "$T/config.json"
is "$(json_get "$T/config.json" '[e.get("options") for e in j["exports"] if e["name"] == "p1"]')" \
	"[{'pool': '$P', 'conf': '$CEPH_CONF', 'id': 'admin', 'keyring': '$CEPH_KEYRING', 'client_mount_timeout': '3', 'image': '$P/p1'}]" \
	"export p1 opens with the pool's settings and image=$P/p1"
is "$(json_get "$T/config.json" '[p["iop"] for p in j["discover"]["pools"]]')" \
	"['ceph']" "daemon config: discover.pools kept for save-config"

check "rbd create $P/p3 (4 MiB)" rbdc create --size 4M "$P/p3"
check "rbd rm $P/p2" rbdc rm --no-progress "$P/p2"
check "iopctl iop rescan" ctl --json iop rescan
cp "$T/out" "$T/rescan.json"
is "$(json_get "$T/rescan.json" 'j["appeared"]')" "['p3']" "p3 appeared"
is "$(json_get "$T/rescan.json" 'j["vanished"]')" "['p2']" "p2 vanished"
is "$(cand "$T/rescan.json" p1 'c["state"]')" present "p1 is still present"

# The monitor stops answering: a rescan gives up on the pool after its
# client_mount_timeout (3 s here) and keeps its images as they were.
MON=$(cat "$CEPH_DIR/mon.a.pid")
kill -STOP "$MON"
on_exit "kill -CONT $MON"
t0=$SECONDS
check "monitor stopped: iopctl iop rescan answers" ctl --json iop rescan
secs=$((SECONDS - t0))
kill -CONT "$MON"
[ "$secs" -le 15 ]
pass_if $? "the rescan took ${secs}s (client_mount_timeout 3 s, limit 15 s)"
is "$(json_get "$T/out" '[j["appeared"], j["vanished"]]')" "[[], ['p2']]" \
	"nothing appeared or vanished with the pool unlisted (p2 stays gone)"
is "$(cand "$T/out" p3 'c["state"]')" present "p3 is still listed, present"
grep -q 'ceph: rbd pool not listed' "$IOPD_LOG"
pass_if $? "the log says the pool was not listed" \
	"$(grep discover "$IOPD_LOG" | tail -n 5)"
check "monitor resumed: p1 serves" qio "$(uri_unix p1)" \
	"read -P 0x61 1M 256k"

check "iopctl device export p3 third" ctl device export p3 third
check "qemu-io: the new image serves as export third" \
	qio "$(uri_unix third)" "write -P 0x33 0 64k" "read -P 0x33 0 64k"
check_fails "the vanished p2 is not exported" ctl device export p2

# fault:rbd: the settings that are not fault's go to the rbd device.
check "rbd create $P/flt (4 MiB)" rbdc create --size 4M "$P/flt"
check "iopctl export add flt fault:rbd:... with rbd and fault settings" \
	ctl export add flt \
	"fault:rbd:$P/flt?conf=$CEPH_CONF&id=admin&rados_osd_op_timeout=20&write=EIO:once"
check_fails "flt: the injected write error" qio "$(uri_unix flt)" \
	"write -P 0x46 0 64k"
check "flt: then writes reach the image" qio "$(uri_unix flt)" \
	"write -P 0x46 0 64k" "flush" "read -P 0x46 0 64k"
check "rbd export $P/flt" rbdc export --no-progress "$P/flt" "$T/flt.raw"
cmp -s -n 65536 "$T/flt.raw" <(head -c 64K /dev/zero | tr '\0' F)
pass_if $? "the cluster holds flt's write"
check_fails "fault:rbd with a setting neither takes is refused" ctl \
	export add flt2 "fault:rbd:$P/flt?colour=blue"
grep -q 'rbd: unknown option "colour"' "$T/out"
pass_if $? "the refusal names the setting and rbd" "$(cat "$T/out")"
stop_iopd

cat >"$T/bad.json" <<EOF
{ "discover": { "pools": [ { "ddm": "ram", "options": { } } ] } }
EOF
check_fails "a pool of a DDM that cannot list one is refused at start" \
	timeout 20 "$IOPD" --config "$T/bad.json" --listen "unix:$T/bad.sock" \
	ram:1M
grep -q 'cannot list a pool' "$T/out"
pass_if $? "the refusal says why" "$(cat "$T/out")"

# ---------------------------------------------------- exclusive lock
check "rbd create $P/lk (8 MiB)" rbdc create --size 8M "$P/lk"
check "rbd info: lk has the exclusive-lock feature" rbdc info "$P/lk"
grep -q 'exclusive-lock' "$T/out"
pass_if $? "exclusive-lock among its features" "$(cat "$T/out")"
start_iopd "rbd:$P/lk" || {
	done_testing
	exit 1
}
A=$(uri_unix lk)
A_PID=$IOPD_PID
start_iopd "rbd:$P/lk" || {
	done_testing
	exit 1
}
B=$(uri_unix lk)
# lock_owner: the address of the client holding lk's exclusive lock.
lock_owner() {
	rbd lock ls --format json "$P/lk" 2>/dev/null |
		python3 -c 'import json,sys; print(" ".join(l["address"] for l in json.load(sys.stdin)))'
}

check "A: write and flush" qio "$A" "write -P 0xa1 0 64k" "flush"
owner_a=$(lock_owner)
[ -n "$owner_a" ]
pass_if $? "A holds the lock ($owner_a)"
check "B: reads A's write" qio "$B" "read -P 0xa1 0 64k"
check "B: write and flush (the lock passes to B)" qio "$B" \
	"write -P 0xb2 64k 64k" "flush"
owner_b=$(lock_owner)
[ -n "$owner_b" ] && [ "$owner_b" != "$owner_a" ]
pass_if $? "B holds the lock now ($owner_b)"
check "A: reads B's write and its own" qio "$A" "read -P 0xb2 64k 64k" \
	"read -P 0xa1 0 64k"
check "A: write and flush again (the lock comes back)" qio "$A" \
	"write -P 0xa3 128k 64k" "flush"
is "$(lock_owner)" "$owner_a" "A holds the lock again"
check "B: reads it" qio "$B" "read -P 0xa3 128k 64k"
# librbd takes the lock for reads too: A takes it back before it dies.
check "A: write and flush a last time" qio "$A" "write -P 0xa4 256k 64k" \
	"flush"
is "$(lock_owner)" "$owner_a" "A holds the lock when it is killed"
check "rbd status: two watchers" rbdc status --format json "$P/lk"
is "$(json_get "$T/out" 'len(j["watchers"])')" 2 "two iopd processes watch lk"

# The holder dies without a word: B's write waits until the OSD drops
# A's watch, then B breaks the lock and blocklists A.
kill -KILL "$A_PID"
is "$(lock_owner)" "$owner_a" "killed, A still holds the lock"
t0=$SECONDS
check "B: write and flush with the holder killed" qio "$B" \
	"write -P 0xb4 192k 64k" "flush"
secs=$((SECONDS - t0))
[ "$secs" -le 30 ]
pass_if $? "B wrote after ${secs}s (watch timeout 4 s, limit 30 s)"
[ "$(lock_owner)" = "$owner_b" ]
pass_if $? "B holds the lock" "$(rbd lock ls "$P/lk" 2>&1)"
check "ceph osd blocklist ls" ceph osd blocklist ls
grep -qF "$owner_a" "$T/out"
pass_if $? "the dead holder $owner_a is blocklisted" "$(cat "$T/out")"
check "B: every write reads back" qio "$B" "read -P 0xa1 0 64k" \
	"read -P 0xb2 64k 64k" "read -P 0xa3 128k 64k" "read -P 0xb4 192k 64k" \
	"read -P 0xa4 256k 64k"
check "rbd export $P/lk" rbdc export --no-progress "$P/lk" "$T/lk.raw"
python3 - "$T/lk.raw" <<'PYEOF'
import sys
d = open(sys.argv[1], "rb").read()
want = [(0, 0xa1), (65536, 0xb2), (131072, 0xa3), (196608, 0xb4),
        (262144, 0xa4)]
sys.exit(0 if all(d[o:o + 65536] == bytes([b]) * 65536 for o, b in want) else 1)
PYEOF
pass_if $? "the cluster holds all five writes"
stop_iopd
done_testing
