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

CU_TIMEOUT=${IOPD_ISCSI_CU_TIMEOUT:-1200}

# cu_check LOG DESC [EXTRA-ALLOWED-SKIP-REGEX]: one assertion per test that
# failed or skipped for a reason not allowed, then one for the summary.
cu_check() {
	python3 - "$@" <<'EOF'
import re, sys
log, desc = sys.argv[1], sys.argv[2]
allowed = [
    r"EXTENDEDCOPY is not implemented",
    r"RECEIVE_?COPY_?RESULTS? is not implemented",
    r"ORWRITE is not implemented",
    r"WRITEATOMIC16 is not implemented",
    r"--allow-sanitize flag is not set",
    r"SANITIZE is not implemented",
    r"Logical unit is not removable",
    r"Media is not removable",
    r"LBPPB < 2",
]
if len(sys.argv) > 3 and sys.argv[3]:
    allowed.append(sys.argv[3])
text = open(log, errors="replace").read()
suite = test = None
tests = {}          # name -> {"failed": bool, "skips": [...], "fails": [...]}
order = []
for line in text.splitlines():
    m = re.match(r"^Suite: (\S+)", line)
    if m:
        suite, test = m.group(1), None
        continue
    m = re.match(r"^\s+Test: (\S+) \.\.\.(.*)$", line)
    if m:
        test = "%s.%s" % (suite, m.group(1))
        tests[test] = {"failed": False, "skips": [], "fails": []}
        order.append(test)
        rest = m.group(2)
    elif line.startswith("Run Summary"):
        test = None
        continue
    else:
        rest = line
    if test is None:
        continue
    t = tests[test]
    if rest.strip() == "FAILED" or rest.rstrip().endswith("...FAILED") or \
            (line is not rest and rest.strip().startswith("FAILED")):
        t["failed"] = True
    for s in re.findall(r"\[SKIPPED\] (.*?)(?=\s*\[(?:SKIPPED|FAILED)\]|$)", rest):
        t["skips"].append(s.strip())
    for f in re.findall(r"\[FAILED\] (.*?)(?=\s*\[(?:SKIPPED|FAILED)\]|$)", rest):
        t["fails"].append(f.strip())
summ = re.search(r"^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
n = 0
bad = 0
def out(ok, d, lines=()):
    global n, bad
    n += 1
    print(("ok" if ok else "not ok") + " - " + d)
    for l in lines:
        print("#   " + l)
    bad += not ok
failed = [k for k in order if tests[k]["failed"]]
badskip = list(dict.fromkeys(
    (k, s) for k in order for s in tests[k]["skips"]
    if not any(re.search(a, s, re.I) for a in allowed)))
allowed_skips = sorted({s for k in order for s in tests[k]["skips"]} -
                       {s for _, s in badskip})
allowed_skips = ["%d x %s" % (sum(s in tests[k]["skips"] for k in order), s)
                 for s in allowed_skips]
for k in failed:
    print("FAIL %s: %s" % (k, " | ".join(tests[k]["fails"])[:300]))
for k, s in badskip:
    print("SKIP %s: %s" % (k, s))
print("SUMMARY %s" % (summ.group(0).split() if summ else "none"))
print("ALLOWED-SKIPS %s" % allowed_skips)
sys.exit(0 if summ and not failed and not badskip and
         summ.group(4) == "0" and summ.group(1) == summ.group(2) and len(order) > 0
         else 1)
EOF
}

# run_cu DESC LOG [SKIP-REGEX] -- ARGS...: run the suite, keep its output,
# and assert on it.
run_cu() {
	local desc=$1 log=$2 extra=$3 st
	shift 4
	timeout -k 5 "$CU_TIMEOUT" iscsi-test-cu "$@" >"$log" 2>&1
	st=$?
	if [ "$st" -eq 124 ]; then
		not_ok "$desc: finished within ${CU_TIMEOUT}s" \
			"iscsi-test-cu $*" "last lines:" "$(tail -n 30 "$log")"
		return 1
	fi
	cu_check "$log" "$desc" "$extra" >"$T/cu.verdict"
	st=$?
	if [ "$st" -eq 0 ]; then
		ok "$desc: no failures, only allowed skips"
		diag "$(grep -E '^(SUMMARY|ALLOWED-SKIPS)' "$T/cu.verdict")"
	else
		not_ok "$desc: no failures, only allowed skips" \
			"iscsi-test-cu $*" "$(cat "$T/cu.verdict")"
	fi
	# The whole run goes into the test log, passing or not.
	diag "iscsi-test-cu $*: full output:" "$(cat "$log")"
	return "$st"
}

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
