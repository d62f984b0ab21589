#!/bin/bash
# SPDX-License-Identifier: MIT
# Discovery on the real machine, through iopctl: a loop device (and its
# backing file), a partitioned loop device, a loop device with a mounted
# file system, and an image directory are listed with their state;
# nothing is exported until asked; exporting the loop device and an image
# by name makes them readable (nbdinfo, nbdcopy); partitions and mounted
# devices are refused unless forced; a rescan reports a new image as
# appeared and a removed one as vanished, and an export whose image
# vanished keeps serving.  (tests/unit/test_local_discover.c covers NVMe
# on a fake sysfs tree.)
. "$(dirname "$0")/lib.sh"
require losetup nbdinfo nbdcopy qemu-io python3
[ "$(id -u)" -eq 0 ] || skip_all "needs root for losetup"
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
# cand FILE NAME EXPR: a Python expression over candidate NAME (bound to
# c; None if absent) in the JSON list in FILE.
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

head -c 8M /dev/urandom >"$T/backing.img"
loop=$(losetup -f --show "$T/backing.img" 2>/dev/null) ||
	skip_all "losetup cannot attach a loop device here"
on_exit "losetup -d '$loop'"
lname=$(basename "$loop")

mkdir "$T/images"
head -c 4M /dev/urandom >"$T/images/a.img"
head -c 1M /dev/urandom >"$T/images/b.raw"
echo "not an image" >"$T/images/notes.txt"

# A partitioned loop device: an MBR with one partition (sectors 2048 to
# 10239), written by hand so no partitioning tool is needed.
pname=""
truncate -s 16M "$T/parted.img"
python3 - "$T/parted.img" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, 8192)
    f.seek(446)
    f.write(entry)
    f.seek(510)
    f.write(b"\x55\xaa")
PYEOF
if ploop=$(losetup -P -f --show "$T/parted.img" 2>/dev/null); then
	on_exit "losetup -d '$ploop'"
	# Some kernels do not scan loop devices' partition tables.
	[ -e "/sys/block/${ploop#/dev/}/${ploop#/dev/}p1" ] && pname=${ploop#/dev/}
fi
# A loop device with a mounted file system, if mkfs and mount work here.
mname=""
if command -v mkfs.ext4 >/dev/null 2>&1; then
	truncate -s 16M "$T/fs.img"
	mkfs.ext4 -q -F "$T/fs.img" >/dev/null 2>&1
	if mloop=$(losetup -f --show "$T/fs.img" 2>/dev/null); then
		on_exit "losetup -d '$mloop'"
		mkdir "$T/mnt"
		if mount "$mloop" "$T/mnt" 2>/dev/null; then
			on_exit "umount '$T/mnt'"
			mname=$(basename "$mloop")
		fi
	fi
fi

start_iopd --mgmt-socket "$T/mgmt.sock" --image-dir "$T/images" seed=ram:1M ||
	{ done_testing; exit 1; }

# --------------------------------------------------------------- listing

check "iopctl device discovered" ctl --json device discovered
cp "$T/out" "$T/list.json"
is "$(cand "$T/list.json" "$lname" 'c and c["kind"]')" disk "$lname is listed as a disk"
is "$(cand "$T/list.json" "$lname" 'c and c["path"]')" "$loop" "with its device node"
is "$(cand "$T/list.json" "$lname" 'c and c["size"]')" 8388608 "and its size"
is "$(cand "$T/list.json" "$lname" 'c and c.get("backing_file")')" "$T/backing.img" "and its backing file"
is "$(cand "$T/list.json" "$lname" 'c and c["exportable"]')" true "and exportable"
is "$(cand "$T/list.json" "$lname" 'c and c["exported_as"]')" None "but not exported"
is "$(cand "$T/list.json" a.img 'c and (c["kind"], c["size"], c["iop"])')" "('image', 4194304, 'images')" \
	"a.img is listed as an image"
is "$(cand "$T/list.json" b.raw 'c and c["kind"]')" image "b.raw too"
is "$(cand "$T/list.json" notes.txt 'c')" None "notes.txt is not an image"
check_fails "nothing was exported: no export $lname" t nbdinfo "$(uri_unix "$lname")"
check "the human table" ctl device discovered
grep -qE "^$lname +block +disk +8M" "$T/out" || grep -qE "^$lname +block +disk" "$T/out"
pass_if $? "names $lname in a table row" "$(cat "$T/out")"

if [ -n "$pname" ]; then
	is "$(cand "$T/list.json" "$pname" 'c and c["partitions"]')" 1 "$pname has one partition"
	is "$(cand "$T/list.json" "${pname}p1" 'c and (c["kind"], c["parent"], c["exportable"])')" \
		"('partition', '$pname', False)" "${pname}p1 is a partition, not exportable by default"
	check_fails "exporting the partition without force is refused" ctl device export "${pname}p1"
	grep -qi partition "$T/out"
	pass_if $? "and the error says it is a partition" "$(cat "$T/out")"
else
	skip "partitioned loop device" "no partition scan of loop devices here"
fi
if [ -n "$mname" ]; then
	is "$(cand "$T/list.json" "$mname" 'c and (c["state"], c.get("mounted_at"), c["exportable"])')" \
		"('mounted', '$T/mnt', False)" "$mname is mounted at $T/mnt, not exportable"
	check_fails "exporting the mounted device without force is refused" ctl device export "$mname"
	grep -q "mounted at $T/mnt" "$T/out"
	pass_if $? "and the error says where it is mounted" "$(cat "$T/out")"
	check "with force=true (read-only) it is exported" ctl device export "$mname" read_only=true force=true
	check "and readable" t nbdinfo "$(uri_unix "$mname")"
else
	skip "mounted loop device" "mkfs.ext4 or mount unavailable"
fi

# ------------------------------------------------------------- exporting

check "export the loop device by name" ctl device export "$lname"
check "nbdinfo sees it" t nbdinfo --json "$(uri_unix "$lname")"
is "$(json_get "$T/out" 'j["exports"][0]["export-size"]')" 8388608 "with its size"
check "nbdcopy reads it" t nbdcopy "$(uri_unix "$lname")" "$T/loop.copy"
check "the data is the backing file's" cmp "$T/backing.img" "$T/loop.copy"
check "export a.img as imga" ctl device export a.img imga
check "nbdinfo sees imga" t nbdinfo --json "$(uri_unix imga)"
is "$(json_get "$T/out" 'j["exports"][0]["export-size"]')" 4194304 "with the image's size"
check "list again" ctl --json device discovered
is "$(cand "$T/out" a.img 'c["exported_as"]')" imga "a.img shows it is exported as imga"
check_fails "exporting an unknown device fails" ctl device export no-such-device

# ---------------------------------------------------------------- rescan

# A client stays connected to the loop device's export across the
# rescans below: it reads, says so, waits for the word, reads again on
# the same connection and says so.
mkfifo "$T/c2t" "$T/t2c"
nbdpy "$lname" "$T/backing.img" "$T/t2c" >"$T/c2t" 2>"$T/client.err" <<'PYEOF' &
import sys
from nbdproto import *
data = open(sys.argv[2], "rb").read(131072)
c = connect(sys.argv[1])
assert c.read(0, 65536) == (0, data[:65536])
print("connected", flush=True)
open(sys.argv[3]).readline()
assert c.read(65536, 65536) == (0, data[65536:])
c.disc()
print("done", flush=True)
PYEOF
client=$!
register_pid "$client"
exec {c2t}<"$T/c2t"
line=""
read -r -t 30 -u "$c2t" line
is "$line" connected "a client is connected to $lname during the rescans"

check "a rescan with no change" ctl --json iop rescan
# (Other loop devices on the machine may come and go meanwhile.)
is "$(json_get "$T/out" '[n for n in j["appeared"] + j["vanished"] if not n.startswith("loop")]')" "[]" \
	"reports nothing"
head -c 2M /dev/urandom >"$T/images/c.img"
rm "$T/images/b.raw"
check "rescan after c.img appeared and b.raw vanished" ctl --json iop rescan
cp "$T/out" "$T/rescan.json"
is "$(json_get "$T/rescan.json" '[n for n in j["appeared"] if not n.startswith("loop")]')" "['c.img']" "c.img appeared"
is "$(json_get "$T/rescan.json" '[n for n in j["vanished"] if not n.startswith("loop")]')" "['b.raw']" "b.raw vanished"
is "$(cand "$T/rescan.json" b.raw 'c and c["state"]')" vanished "b.raw is still listed, marked vanished"
check_fails "a vanished device cannot be exported" ctl device export b.raw
grep -qi vanished "$T/out"
pass_if $? "and the error says so" "$(cat "$T/out")"
check "c.img can be exported" ctl device export c.img
check "and read" t nbdinfo "$(uri_unix c.img)"

# The image behind imga vanishes: the export keeps its open file and
# its clients.
rm "$T/images/a.img"
check "rescan after a.img vanished" ctl --json iop rescan
is "$(json_get "$T/out" 'sorted(n for n in j["vanished"] if not n.startswith("loop"))')" "['a.img', 'b.raw']" \
	"a.img is marked vanished too"
check "imga still serves (its device was not yanked)" \
	qio "$(uri_unix imga)" "read 0 64k"
check "the loop device export is undisturbed" qio "$(uri_unix "$lname")" "read 0 64k"
timeout 30 sh -c 'echo go >"$1"' sh "$T/t2c"
line=""
read -r -t 30 -u "$c2t" line
is "$line" done "the client connected before the rescans still reads the right data" \
	"$(cat "$T/client.err")"
_wait_timeout "$client" 30
is "$?" 0 "and ends cleanly"
exec {c2t}<&-
check "iop scan from scratch forgets what vanished" ctl --json iop scan
is "$(cand "$T/out" a.img 'c')" None "a.img is gone from a fresh scan"

iopd_alive "iopd still serving"
stop_iopd
done_testing
