#!/bin/bash
# SPDX-License-Identifier: MIT
# The rbd DDM against a real single-node Ceph cluster (ceph.sh: one
# monitor, one memstore OSD, started under $T and stopped at the end): one
# image exported over NBD and iSCSI at once, checked with nbdinfo, nbdcopy,
# qemu-img, qemu-io, iscsi-inq and qemu's iscsi:// driver, and against the
# cluster's own view (rbd export); a snapshot exported read-only; an
# export with DDM settings added at run time with iopctl and resized, and
# one with an unknown setting refused; the DDM conformance suite; rbd du
# against nbdinfo --map; iscsi-test-cu -d on an RBD LUN with the file
# LUN's allowed skips; fio --verify=crc32c over 4 NBD connections; an
# export removed under a fio stream; the OSD stopped and resumed under a
# short rados_osd_op_timeout.
. "$(dirname "$0")/lib.sh"
. "$IOPD_REPO/tests/integration/ceph.sh"
require nbdinfo nbdcopy qemu-img qemu-io iscsi-inq iscsi-test-cu fio cmp python3
fio --enghelp=nbd >/dev/null 2>&1 || skip_all "fio has no nbd engine"
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
grep -q '^DDMs built in:.* rbd' <<<"$("$IOPD" --version 2>/dev/null)" ||
	skip_all "$(basename "$IOPD") was built without the rbd DDM (no librbd-dev)"
grep -qw iscsi <<<"$(qemu-img --help)" || skip_all "qemu-img lacks the iscsi driver (install qemu-block-extra)"
ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }
. "$IOPD_REPO/tests/integration/iscsi_cu.sh"

ceph_start_or_bail
P=$CEPH_POOL
check "rbd create $P/img (32 MiB)" rbdc create --size 32M "$P/img"
check "rbd create $P/live (8 MiB)" rbdc create --size 8M "$P/live"
check "rbd create $P/fio (32 MiB)" rbdc create --size 32M "$P/fio"
check "rbd create $P/cu for iscsi-test-cu (64 MiB)" rbdc create --size 64M \
	"$P/cu"
check "rbd ls lists them" rbdc ls "$P"
grep -qx img "$T/out" && grep -qx live "$T/out" && grep -qx fio "$T/out"
pass_if $? "rbd ls: img, live and fio" "$(cat "$T/out")"

# ------------------------------------------- the DDM conformance suite
CONF_TEST=$(dirname "$IOPD")/tests/test_ddm_conformance
if [ -x "$CONF_TEST" ]; then
	check "rbd create $P/conf for the conformance suite (64 MiB)" \
		rbdc create --size 64M "$P/conf"
	check "rbd create $P/conf-epoll (64 MiB)" rbdc create --size 64M \
		"$P/conf-epoll"
	IOPD_TEST_RBD=$P/conf IOPD_TEST_ONLY=rbd t "$CONF_TEST" >"$T/conf.tap" 2>&1
	st=$?
	n_ok=$(grep -c '^ok .*/rbd/' "$T/conf.tap")
	[ "$st" -eq 0 ] && [ "$n_ok" -ge 20 ] && ! grep -q '^not ok' "$T/conf.tap"
	pass_if $? "the DDM conformance suite passes over rbd on both engines ($n_ok cases)" \
		"exit status $st" "$(grep -v '^ok' "$T/conf.tap" | head -n 20)"
else
	skip "the DDM conformance suite over rbd" "$CONF_TEST not built"
fi

start_iopd --iscsi-listen 127.0.0.1:0 --iscsi-listen 127.0.0.1:0 \
	--mgmt-socket "$T/mgmt.sock" --drain-timeout 2 \
	"rbd:$P/img" "rbd:$P/fio" "rbd:$P/cu" || {
	done_testing
	exit 1
}
U=$(uri_unix img)
ISCSI=$(uri_iscsi "$(iqn_of img)")

# ------------------------------------------------------------ NBD
check "nbdinfo: the export" nbdinfo "$U"
grep -q 'export-size: 33554432' "$T/out"
pass_if $? "nbdinfo: 32 MiB" "$(cat "$T/out")"
check "nbdinfo --map: a fresh image" nbdinfo --map "$U"
is "$(awk '{print $1, $2, $4}' "$T/out")" "0 33554432 hole,zero" \
	"nbdinfo --map: a fresh image is one hole"

make_data "$T/data" 32
check "nbdcopy a 32 MiB file onto the image" nbdcopy "$T/data" "$U"
check "nbdcopy it back" nbdcopy "$U" "$T/back"
check "cmp: the image holds what was written" cmp "$T/data" "$T/back"
check "qemu-img compare file and export" qemu-img compare -f raw -F raw \
	"$T/data" "$U"
check "rbd export: the cluster holds the same bytes" \
	rbdc export --no-progress "$P/img" "$T/rbd-export"
check "cmp: rbd export equals the data" cmp "$T/data" "$T/rbd-export"
check "nbdinfo --map after the copy" nbdinfo --map "$U"
grep -q 'data' "$T/out"
pass_if $? "nbdinfo --map: data now" "$(cat "$T/out")"

check "qemu-io: FUA writes and a flush" qio "$U" \
	"write -f -P 0x5a 1M 64k" "write -P 0x5b 2M 4k" "flush"
check "qemu-io: they read back on a new connection" qio "$U" \
	"read -P 0x5a 1M 64k" "read -P 0x5b 2M 4k"
check "qemu-io: write zeroes over data" qio "$U" \
	"write -P 0x44 4M 1M" "write -z 4M 512k" "write -z -u 4608k 512k"
check "qemu-io: zeroed ranges read 0" qio "$U" "read -P 0 4M 1M"
check "qemu-io: discard a whole 4 MiB object" qio "$U" \
	"write -P 0x45 8M 4M" "discard 8M 4M"
check "qemu-io: the discarded object reads 0" qio "$U" "read -P 0 8M 4M"
check "nbdinfo --map after the discard" nbdinfo --map "$U"
grep -Eq '^ +8388608 +4194304 +3 +hole,zero$' "$T/out"
pass_if $? "nbdinfo --map: the discarded object is a hole" "$(cat "$T/out")"
check "rbd diff --whole-object: the cluster's map" rbdc diff --whole-object \
	--format json "$P/img"
json_get "$T/out" '[e["offset"] for e in j if e["offset"] == 8388608]' >"$T/diff8m"
is "$(cat "$T/diff8m")" "[]" "rbd diff: no data at 8 MiB either"
is "$(json_get "$T/out" 'any(e["offset"] == 0 for e in j)')" true \
	"rbd diff: data at 0, as nbdinfo --map says"
check "qemu-io: 8 aio writes and an aio flush" qio "$U" \
	"aio_write -P 0x70 16M 64k" "aio_write -P 0x71 16448k 64k" \
	"aio_write -P 0x72 16512k 1M" "aio_write -f -P 0x73 17536k 4k" \
	"aio_write -P 0x74 20M 512" "aio_write -P 0x75 20996k 2M" \
	"aio_write -P 0x76 24M 4k" "aio_write -P 0x77 31M 1M" "aio_flush"
check "qemu-io: the aio writes read back" qio "$U" \
	"read -P 0x70 16M 64k" "read -P 0x71 16448k 64k" \
	"read -P 0x72 16512k 1M" "read -P 0x73 17536k 4k" \
	"read -P 0x74 20M 512" "read -P 0x75 20996k 2M" \
	"read -P 0x76 24M 4k" "read -P 0x77 31M 1M"
check_fails "qemu-io: a read past the end fails" qio "$U" "read 32M 4k"

# ---------------------------------------------------------- iSCSI
check "nbdcopy the image's current state" nbdcopy "$U" "$T/now"
check "iscsi-inq: the LUN on the image" iscsi-inq "$ISCSI"
grep -q 'DIRECT_ACCESS' "$T/out"
pass_if $? "iscsi-inq: a direct-access device" "$(cat "$T/out")"
check "qemu-img convert from iscsi://" qemu-img convert -f raw -O raw \
	"$ISCSI" "$T/iscsi-copy"
check "cmp: iSCSI reads what NBD wrote" cmp "$T/now" "$T/iscsi-copy"
check "qemu-io over iSCSI: a write" qemu-io -f raw "$ISCSI" \
	-c "write -P 0x3c 6M 128k"
check "qemu-io over NBD: it reads back" qio "$U" "read -P 0x3c 6M 128k"

# The cluster's own accounting agrees with the holes iopd reports: what
# rbd du counts as used is what nbdinfo --map shows as not a hole (both
# count whole 4 MiB objects).
map_data() { awk '!($3 % 2) { s += $2 } END { print s + 0 }' "$T/out"; }
check "nbdinfo --map of img" nbdinfo --map "$U"
used_map=$(map_data)
check "rbd du of img" rbdc du --format json "$P/img"
is "$(json_get "$T/out" 'j["images"][0]["used_size"]')" "$used_map" \
	"rbd du: used_size equals the $used_map bytes nbdinfo --map shows as data"
[ "$used_map" -gt 0 ] && [ "$used_map" -lt 33554432 ]
pass_if $? "img has both data and holes ($used_map of 33554432 bytes are data)"

# libiscsi's conformance suite on an LUN backed by RBD, over both portals
# (so MultipathIO runs), with the file LUN's allowed skips (iscsi_cu.sh).
# Every suite but Reserve6 and iSCSIcmdsn: they test the SCSI reservation
# and iSCSI command numbering, not the device, and take 18 of the 40 s
# the whole run takes here (test_iscsi_conformance.sh runs them).
read -r P1 P2 _ <<<"$IOPD_ISCSI_ALL"
CU_IQN=$(iqn_of cu)
CU_SUITES=$(iscsi-test-cu -l 2>&1 | grep -E '^ALL\.[^.]+$' |
	grep -vxE 'ALL\.(Reserve6|iSCSIcmdsn)' | paste -sd,)
run_cu "iscsi-test-cu -d on the RBD LUN (all suites but Reserve6, iSCSIcmdsn)" \
	"$T/cu-all.log" "Logical unit is not write-protected" -- -d -t "$CU_SUITES" \
	"$(uri_iscsi "$CU_IQN" 0 "$P1")" "$(uri_iscsi "$CU_IQN" 0 "${P2:-$P1}")"
grep -q "^Suite: MultipathIO" "$T/cu-all.log"
pass_if $? "iscsi-test-cu: the MultipathIO suite ran on the RBD LUN"

# ------------------------------------------------------- snapshot
check "nbdcopy the image before the snapshot" nbdcopy "$U" "$T/pre-snap"
check "rbd snap create $P/img@s1" rbdc snap create "$P/img@s1"
check "qemu-io: write after the snapshot" qio "$U" "write -P 0x99 0 64k"
check "iopctl export add snap rbd:$P/img@s1" ctl export add snap \
	"rbd:$P/img@s1"
S=$(uri_unix snap)
check "nbdinfo: the snapshot export" nbdinfo "$S"
grep -q 'is_read_only: true' "$T/out"
pass_if $? "nbdinfo: the snapshot is read-only" "$(cat "$T/out")"
check_fails "qemu-io: a write to the snapshot is refused" qio "$S" \
	"write -P 0x11 0 4k"
check "nbdcopy the snapshot" nbdcopy "$S" "$T/snap-copy"
check "cmp: the snapshot is the image at snapshot time" cmp \
	"$T/pre-snap" "$T/snap-copy"
check "qemu-io: the image itself has the later write" qio "$U" \
	"read -P 0x99 0 64k"

# ------------------------------------------- run time, with settings
check "iopctl export add with DDM settings" ctl export add live \
	"rbd:$P/live?conf=$CEPH_CONF&id=admin&keyring=$CEPH_KEYRING&rados_osd_op_timeout=20&rados_mon_op_timeout=20"
check "qemu-io: write and read the new export" qio "$(uri_unix live)" \
	"write -P 0x21 0 1M" "read -P 0x21 0 1M"
check "iopctl export resize live 16M" ctl export resize live 16M
check "nbdinfo: live is 16 MiB now" nbdinfo --size "$(uri_unix live)"
is "$(cat "$T/out")" 16777216 "nbdinfo --size: 16777216"
check "rbd info: the image grew too" rbdc info --format json "$P/live"
is "$(json_get "$T/out" 'j["size"]')" 16777216 "rbd info: size 16777216"
check "qemu-io: the new space reads 0, the old data stays" \
	qio "$(uri_unix live)" "read -P 0 8M 8M" "read -P 0x21 0 1M"
check_fails "iopctl export add: an unknown setting is refused" ctl \
	export add bad "rbd:$P/live?colour=blue"
grep -q 'unknown option "colour"' "$T/out"
pass_if $? "the refusal names the setting" "$(cat "$T/out")"
check_fails "iopctl export add: a missing image is refused" ctl \
	export add gone "rbd:$P/no-such-image"
check "iopctl export remove live" ctl export remove live
check "the image still reads after removal (rbd export)" \
	rbdc export --no-progress "$P/live" "$T/live-export"
cmp -n 1048576 "$T/live-export" <(head -c 1M /dev/zero | tr '\0' '\041') &&
	[ "$(stat -c %s "$T/live-export")" = 16777216 ]
pass_if $? "rbd export of live: the data written over NBD"

# ------------------------------------------------- fio, 4 connections
# fio's nbd engine: 4 jobs, each its own connection, 4 KiB random writes
# over disjoint 4 MiB quarters of fio's first 16 MiB, verified with
# crc32c; then verified again on 4 new connections.
F=$(uri_unix fio)
fio_rbd=(--name=rbd --ioengine=nbd --uri="$F" --rw=randwrite --bs=4k
	--size=4M --offset_increment=4M --numjobs=4 --iodepth=16
	--verify=crc32c --output-format=json)
check "fio --ioengine=nbd: 4 connections, randwrite, --verify=crc32c" \
	t fio "${fio_rbd[@]}" --do_verify=1 --output="$T/fio.json"
check "fio: 4 jobs without error, 16 MiB written and verified" \
	json_get "$T/fio.json" "all(x['error'] == 0 for x in j['jobs']) and len(j['jobs']) == 4 and sum(x['write']['io_bytes'] for x in j['jobs']) == 16 << 20 and sum(x['read']['io_bytes'] for x in j['jobs']) == 16 << 20 or exit(1)"
check "fio --verify_only on 4 new connections" \
	t fio "${fio_rbd[@]}" --verify_only=1 --output="$T/fio-v.json"
check "fio --verify_only: 16 MiB read and verified" \
	json_get "$T/fio-v.json" "all(x['error'] == 0 for x in j['jobs']) and sum(x['read']['io_bytes'] for x in j['jobs']) == 16 << 20 or exit(1)"
check "nbdinfo --map of fio" nbdinfo --map "$F"
is "$(awk '{print $1, $2, $4}' "$T/out" | tr '\n' ';')" \
	"0 16777216 data;16777216 16777216 hole,zero;" \
	"nbdinfo --map: fio's first 16 MiB are data, the rest a hole"
check "rbd du of fio" rbdc du --format json "$P/fio"
is "$(json_get "$T/out" 'j["images"][0]["used_size"]')" 16777216 \
	"rbd du: fio uses 16 MiB, as nbdinfo --map says"

# ------------------------------------------ export remove under load
# fio streams random reads and writes to fio while it is removed: the
# removal completes within the drain timeout (2 s), fio gets an error or
# a disconnect, and the daemon and the other exports go on serving.
remove_under_load fio "$F" --size=32M
iopd_alive "iopd still running after the removal"
check "img still serves over NBD" qio "$U" "read -P 0x3c 6M 128k"
check "cu still serves over iSCSI" iscsi-inq "$(uri_iscsi "$CU_IQN")"
check "rbd status: the removal closed fio (no watcher left)" \
	rbdc status --format json "$P/fio"
is "$(json_get "$T/out" 'len(j["watchers"])')" 0 "rbd status: no watchers on fio"
check "iopctl export add fio again" ctl export add fio "rbd:$P/fio"
check "nbdinfo: fio serves again" nbdinfo --size "$F"
is "$(cat "$T/out")" 33554432 "nbdinfo --size: 33554432"

# -------------------------------------------------- cluster trouble
# The OSD stops answering (SIGSTOP): requests to an export with a 3 s
# rados_osd_op_timeout fail within the timeout, while a RAM export and the
# management channel keep answering; once it resumes, new I/O works.
check "iopctl export add slow (rados_osd_op_timeout=3)" ctl export add slow \
	"rbd:$P/live?rados_osd_op_timeout=3"
check "iopctl export add mem=ram:16M" ctl export add mem ram:16M
check "qemu-io: slow works while the OSD runs" qio "$(uri_unix slow)" \
	"write -P 0x31 0 64k" "read -P 0x31 0 64k"
OSD=$(ceph_osd_pid)
kill -STOP "$OSD"
on_exit "kill -CONT $OSD"
t0=$SECONDS
check_fails "OSD stopped: a read from slow fails" qio "$(uri_unix slow)" \
	"read 1M 64k"
secs=$((SECONDS - t0))
[ "$secs" -le 15 ]
pass_if $? "the read failed after ${secs}s (timeout 3 s, limit 15 s)"
check_fails "OSD stopped: a write to slow fails" qio "$(uri_unix slow)" \
	"write -P 0x32 2M 64k"
check "OSD stopped: the RAM export still serves" qio "$(uri_unix mem)" \
	"write -P 0x33 0 64k" "read -P 0x33 0 64k"
check "OSD stopped: the management channel answers" ctl export list
grep -q slow "$T/out"
pass_if $? "export list still shows slow" "$(cat "$T/out")"
grep -q 'slow: write-back failed (Connection timed out)' "$IOPD_LOG"
pass_if $? "the log says the write-back failed (Connection timed out)" \
	"$(grep slow "$IOPD_LOG" | tail -n 5)"
kill -CONT "$OSD"
# librbd's write-around cache acknowledged the write and its flush
# failed: slow stays degraded (every flush and FUA write fails) until the
# operator clears it, as for any device whose write-back failed.
check "iopctl export list" ctl export list
grep -E '^slow .*degraded' "$T/out" >/dev/null
pass_if $? "slow is listed degraded" "$(cat "$T/out")"
check "iopctl export clear-error slow" ctl export clear-error slow
# The first requests after the OSD resumes may still fail while librados
# re-establishes its sessions: wait (polling, 20 s at most) for a read.
t0=$SECONDS
until qio "$(uri_unix slow)" "read 0 4k" >/dev/null 2>&1; do
	[ $((SECONDS - t0)) -ge 20 ] && break
	sleep 0.2
done
secs=$((SECONDS - t0))
[ "$secs" -lt 20 ]
pass_if $? "OSD resumed: slow reads again after ${secs}s"
check "OSD resumed: new I/O on slow works" qio "$(uri_unix slow)" \
	"write -P 0x34 3M 64k" "read -P 0x34 3M 64k" "read -P 0x31 0 64k"

stop_iopd
done_testing
