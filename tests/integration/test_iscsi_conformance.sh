#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_conformance.sh: libiscsi's conformance suite against iopd's
# iSCSI target, with no failures.
#
#   iscsi-test-cu -d -t ALL URL1 URL2
#
# URL1 and URL2 reach the same LUN through two portals of the daemon, so
# the MultipathIO suite runs.  Then the ReadOnlySBC suite against a
# read-only export (the main run skips it: its LUN is writable).
#
# A test may be skipped only when the suite skips it because the target
# lacks a feature iopd leaves out on purpose, or because of what a disk
# export is.  The allowed skip reasons (the suite's own messages):
#   - EXTENDED COPY / RECEIVE COPY RESULTS
#   - ORWRITE
#   - atomic writes (WRITE ATOMIC(16))
#   - SANITIZE (--allow-sanitize is not given: it would wipe the LUN)
#   - removable media (PREVENT ALLOW MEDIUM REMOVAL, START STOP UNIT
#     eject/load: an export is a fixed disk)
#   - "LBPPB < 2": five tests (CompareAndWrite.InvalidDataOutSize,
#     WriteSame10/16.UnmapUnaligned, WriteSame10/16.InvalidDataOutSize)
#     need a physical block larger than the logical one.  iopd reports the
#     physical block as the logical block: reporting 8 logical blocks per
#     physical one lets those five run and pass, but then libiscsi 1.19's
#     GetLBAStatus.UnmapSingle fails, since it expects the descriptor for
#     block i+1 to start at block i+8, which does not contain the block
#     asked for (see scsi_sbc.c).
#   - "Logical unit is not write-protected" (the ReadOnlySBC suite; it runs
#     in the second pass, on a read-only export, and must not skip there)
# Any other skip ("fully provisioned", "not implemented" for a command
# iopd implements, a task management function "not working") fails.
#
# The full iscsi-test-cu output is kept in the TAP diagnostics of a
# failing run and in $T/cu-*.log (IOPD_TEST_KEEP=1 keeps $T).
IOPD_TEST_TRANSPORTS=iscsi # NBD only in its last check
. "$(dirname "$0")/lib.sh"

require iscsi-test-cu python3

. "$IOPD_REPO/tests/integration/iscsi_cu.sh"

truncate -s 128M "$T/lun.img"
truncate -s 16M "$T/ro.img"

start_iopd --iscsi-listen 127.0.0.1:0 --iscsi-listen 127.0.0.1:0 \
	"lun=$T/lun.img" "ro=$T/ro.img,ro" || {
	done_testing
	exit 1
}
read -r P1 P2 _ <<<"$IOPD_ISCSI_ALL"
if [ -n "${P2:-}" ] && [ "$P1" != "$P2" ]; then
	ok "two iSCSI portals announced ($P1 $P2)"
else
	not_ok "two iSCSI portals announced" "got: '$IOPD_ISCSI_ALL'"
	P2=$P1
fi

IQN=$(iqn_of lun)
run_cu "iscsi-test-cu -d -t ALL over two portals" "$T/cu-all.log" \
	"Logical unit is not write-protected" -- \
	-d -t ALL "$(uri_iscsi "$IQN" 0 "$P1")" "$(uri_iscsi "$IQN" 0 "$P2")"
# The MultipathIO suite must have run, not been left out for want of a
# second path.
if grep -q "^Suite: MultipathIO" "$T/cu-all.log"; then
	ok "the MultipathIO suite ran"
else
	not_ok "the MultipathIO suite ran" "$(grep '^Suite' "$T/cu-all.log" | tr '\n' ' ')"
fi

run_cu "iscsi-test-cu ReadOnlySBC on a read-only export" "$T/cu-ro.log" "" -- \
	-d -t ALL.ReadOnly "$(uri_iscsi "$(iqn_of ro)" 0 "$P1")"
if grep -q "not write-protected" "$T/cu-ro.log"; then
	not_ok "the read-only export reports write protection" \
		"$(grep -B2 'not write-protected' "$T/cu-ro.log")"
else
	ok "the read-only export reports write protection"
fi

iopd_alive "iopd still running after the conformance suite"
if iopd_has_transport nbd; then
	check "NBD still serves the export" nbdinfo "$(uri_tcp lun)"
else
	skip "NBD still serves the export" "iopd was built without nbd"
fi
stop_iopd
done_testing
