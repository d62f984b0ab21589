#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/run.sh: the whole test matrix, as `make check` runs it after
# building build/ (release) and build-asan/ (ASan+UBSan).
#
#   pass "release":  build/tests/* unit tests, build/fuzz/* corpus replays,
#                    tests/integration/test_*.sh with IOPD_ENGINE=uring,
#                    and again with IOPD_ENGINE=epoll
#   pass "asan":     the same unit tests and replays from build-asan/, and
#                    the integration tests once with IOPD_ENGINE=uring
#
# Every unit test and integration script prints TAP; each fuzz replay is
# one test.  A script that exits non-zero without a "not ok", or whose
# plan does not match its assertions, counts as one failure.  The last
# line is "N passed, N failed" (", N skipped" added when some were).
#
# Usage: tests/run.sh [PATTERN...]   run only tests whose path matches a
#                                     PATTERN (grep -E), e.g. nbdinfo
# Environment:
#   IOPD_TEST_PASSES  default "release:uring release:epoll asan:uring";
#                     BUILD:ENGINE words, BUILD release or asan
#   IOPD_TEST_LOGS    log directory (default build/test-logs)
#   IOPD_TEST_SCRIPT_TIMEOUT  seconds per test program (default 900)
#   IOPD_RELEASE_BUILD, IOPD_ASAN_BUILD  build directories (default build,
#                     build-asan)

set -u
cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)

PASSES=${IOPD_TEST_PASSES:-release:uring release:epoll asan:uring}
LOGS=${IOPD_TEST_LOGS:-$REPO/build/test-logs}
SCRIPT_TMO=${IOPD_TEST_SCRIPT_TIMEOUT:-900}
PATTERNS=("$@")

ulimit -c 0 2>/dev/null # sanitizers abort(); no core files
rm -rf "$LOGS"
mkdir -p "$LOGS" || exit 2

total_pass=0 total_fail=0 total_skip=0
failed_tests=()

selected() {
	local p
	[ ${#PATTERNS[@]} -eq 0 ] && return 0
	for p in "${PATTERNS[@]}"; do
		grep -qE -- "$p" <<<"$1" && return 0
	done
	return 1
}

# report LABEL NAME LOG PASS FAIL SKIP SECONDS
report() {
	local label=$1 name=$2 log=$3 p=$4 f=$5 s=$6 secs=$7 verdict=PASS extra=""
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	[ "$s" -gt 0 ] && extra=", $s skipped"
	if [ "$f" -gt 0 ]; then
		verdict=FAIL
		failed_tests+=("[$label] $name")
	elif [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; then
		verdict=SKIP
	fi
	printf '%-4s [%s] %s: %d passed, %d failed%s (%ss)\n' \
		"$verdict" "$label" "$name" "$p" "$f" "$extra" "$secs"
	if [ "$f" -gt 0 ]; then
		# the failing assertions with their diagnostics
		awk '/^not ok/ { show = 1; print "    " $0; next }
		     /^ok / { show = 0 }
		     /^#/ && show { print "    " $0 }
		     /^(Bail out!|#   .*CHECK|#   .*want)/ && !show { print "    " $0 }' "$log" |
			head -n 80
		grep -qE '^not ok' "$log" || tail -n 8 "$log" | sed 's/^/    | /'
		echo "    full log: $log"
	fi
}

# run_tap LABEL NAME LOG CMD...: run a TAP producer and count its results.
run_tap() {
	local label=$1 name=$2 log=$3 st start p f s planned asserts
	shift 3
	start=$SECONDS
	timeout -k 10 "$SCRIPT_TMO" "$@" >"$log" 2>&1 </dev/null
	st=$?
	p=$(grep -cE '^ok\b' "$log")
	s=$(grep -ciE '^ok\b.*# *skip' "$log")
	p=$((p - s))
	f=$(grep -cE '^not ok\b' "$log")
	asserts=$((p + s + f))
	planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	if grep -qiE '^1\.\.0 *# *skip' "$log" && [ "$asserts" -eq 0 ]; then
		s=1
	elif [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# exited with status $st$( [ "$st" -eq 124 ] && echo " (timed out after ${SCRIPT_TMO}s)") without a \"not ok\"" >>"$log"
		f=1
	elif [ -z "$planned" ]; then
		echo "# no TAP plan (1..N) printed" >>"$log"
		f=$((f + 1))
	elif [ "$planned" -ne "$asserts" ]; then
		echo "# planned $planned assertions, saw $asserts" >>"$log"
		f=$((f + 1))
	fi
	report "$label" "$name" "$log" "$p" "$f" "$s" $((SECONDS - start))
}

# run_one LABEL NAME LOG CMD...: a program that is one test (fuzz replay).
run_one() {
	local label=$1 name=$2 log=$3 st start
	shift 3
	start=$SECONDS
	timeout -k 10 "$SCRIPT_TMO" "$@" >"$log" 2>&1 </dev/null
	st=$?
	if [ "$st" -eq 0 ]; then
		report "$label" "$name" "$log" 1 0 0 $((SECONDS - start))
	else
		echo "not ok 1 - $name exited with status $st" >>"$log"
		report "$label" "$name" "$log" 0 1 0 $((SECONDS - start))
	fi
}

# missing LABEL NAME WHY: a test that could not even start is a failure.
missing() {
	local log=$LOGS/${1//\//-}.${2//[^A-Za-z0-9_.-]/_}.log
	echo "not ok 1 - $2" >"$log"
	echo "# $3" >>"$log"
	report "$1" "$2" "$log" 0 1 0 0
}

# unit and fuzz tests of one build directory
run_build_tests() {
	local label=$1 build=$2 t name c corpus files
	local -a bins=()
	echo "== [$label] unit tests and fuzz corpus replay from $build/"
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		bins+=("$t")
	done
	if [ ${#bins[@]} -eq 0 ] && selected unit; then
		missing "$label" "unit tests" "no unit test programs in $build/tests/ (run make tests)"
	fi
	for t in "${bins[@]}"; do
		name=unit/$(basename "$t")
		selected "$name" || continue
		run_tap "$label" "$name" "$LOGS/$label.$(basename "$t").log" "$t"
	done
	for t in "$build"/fuzz/*; do
		if [ ! -x "$t" ] || [ ! -f "$t" ]; then continue; fi
		name=$(basename "$t")
		selected "fuzz/$name" || continue
		corpus=""
		for c in "tests/fuzz/corpus/$name" "tests/fuzz/corpus/${name%_fuzz}"; do
			[ -d "$c" ] && corpus=$c && break
		done
		if [ -z "$corpus" ]; then
			missing "$label" "fuzz/$name" "no corpus directory tests/fuzz/corpus/$name or ${name%_fuzz}"
			continue
		fi
		mapfile -t files < <(find "$corpus" -type f | sort)
		if [ ${#files[@]} -eq 0 ]; then
			missing "$label" "fuzz/$name" "corpus $corpus is empty"
			continue
		fi
		run_one "$label" "fuzz/$name (${#files[@]} inputs)" \
			"$LOGS/$label.fuzz.$name.log" "$t" "${files[@]}"
	done
}

run_integration() {
	local label=$1 iopd=$2 engine=$3 s name
	echo "== [$label] integration tests: IOPD=$iopd IOPD_ENGINE=$engine"
	if [ ! -x "$iopd" ]; then
		missing "$label" "integration" "$iopd not built"
		return
	fi
	for s in tests/integration/test_*.sh; do
		name=integration/$(basename "$s")
		selected "$name" || continue
		IOPD=$iopd IOPD_ENGINE=$engine run_tap "$label" "$name" \
			"$LOGS/${label//\//-}.$(basename "$s" .sh).log" bash "$s"
	done
}

declare -A built_tested=()
for pass in $PASSES; do
	build=${pass%%:*}
	engine=${pass#*:}
	case $build in
	release) dir=${IOPD_RELEASE_BUILD:-build} ;;
	asan)
		dir=${IOPD_ASAN_BUILD:-build-asan}
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		;;
	*)
		echo "tests/run.sh: unknown build '$build' in IOPD_TEST_PASSES" >&2
		exit 2
		;;
	esac
	case $dir in /*) ;; *) dir=$REPO/$dir ;; esac
	if [ -z "${built_tested[$build]:-}" ]; then
		built_tested[$build]=1
		run_build_tests "$build" "$dir"
	fi
	run_integration "$build/$engine" "$dir/iopd" "$engine"
	unset ASAN_OPTIONS UBSAN_OPTIONS
done

echo
if [ ${#failed_tests[@]} -gt 0 ]; then
	echo "Failed:"
	printf '  %s\n' "${failed_tests[@]}"
fi
echo "logs: $LOGS"
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
