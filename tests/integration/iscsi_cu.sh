# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# iscsi_cu.sh: libiscsi's conformance suite (iscsi-test-cu) run and judged
# the same way for every LUN, sourced after lib.sh by
# test_iscsi_conformance.sh (a file LUN) and test_rbd.sh (an RBD LUN), so
# both allow exactly the same skips (listed, with the reasons, in
# test_iscsi_conformance.sh).
#
#   run_cu DESC LOG [SKIP-REGEX] -- ARGS...   run iscsi-test-cu ARGS, keep
#                      its output in LOG, one assertion: no failures and
#                      only allowed skips (plus SKIP-REGEX).
#   cu_check LOG DESC [SKIP-REGEX]            the verdict on a kept LOG.
#   IOPD_ISCSI_CU_TIMEOUT   the limit for one run (default 1200 s).

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
