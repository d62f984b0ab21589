#!/bin/bash
# SPDX-License-Identifier: MIT
# Ceph RBD, a first look: fio against the same image of a one-node test
# cluster (tests/integration/ceph.sh: one monitor, one memstore OSD, all
# on 127.0.0.1), in the same run, three ways:
#   fio-rbd   fio --ioengine=rbd straight on the image (no NBD at all):
#             the limit;
#   iopd      iopd rbd:POOL/IMAGE, fio's nbd engine over a Unix socket;
#   qemu-nbd  qemu-nbd serving rbd:POOL/IMAGE through QEMU's rbd driver
#             (qemu-block-extra), the same way.
# Workloads: 4 KiB random read and write at queue depth 32, 1 MiB
# sequential read and write at queue depth 8.  Prints a table with the
# ratios iopd/qemu-nbd and iopd/fio-rbd, medians of REPS rounds (3).  The
# servers run one after the other: two clients of one image would pass
# its exclusive lock back and forth.
#
#   bench/rbd-compare.sh [RUNTIME_SECONDS] [IMAGE_MIB] [REPS]
#   (IOPD_ARGS, QEMU_NBD_ARGS: extra arguments for either server;
#   RBD_WORKLOADS: "RW BS QD;..." instead of the four above)
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
runtime=${1:-10}
mib=${2:-256}
reps=${3:-3}
iopd=${IOPD:-build/iopd}
for c in fio qemu-nbd ceph-mon ceph-osd rbd python3; do
	command -v "$c" >/dev/null || {
		echo "rbd-compare: $c is missing (scripts/install-deps.sh)" >&2
		exit 1
	}
done
"$iopd" --version | grep -q '^DDMs built in:.* rbd' || {
	echo "rbd-compare: $iopd was built without the rbd DDM" >&2
	exit 1
}
fio --enghelp 2>/dev/null | grep -qw rbd || {
	echo "rbd-compare: this fio has no rbd engine" >&2
	exit 1
}
T=$(mktemp -d /dev/shm/iopd-rbd-bench.XXXXXX)
pids=()
exits=()

# What ceph.sh needs from tests/integration/lib.sh.
on_exit() { exits+=("$1"); }
require() { :; }
diag() { printf '%s\n' "$@" >&2; }
t() { "$@" >"$T/out" 2>&1; }
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for c in "${exits[@]}"; do eval "$c" || true; done
	rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=tests/integration/ceph.sh
. tests/integration/ceph.sh

ceph_start bench >/dev/null || {
	echo "rbd-compare: the test cluster did not start" >&2
	exit 1
}
P=$CEPH_POOL
rbd create --size "${mib}M" "$P/img"
# Fill it, so reads are of data the OSD holds, not of holes.
fio --name=fill --ioengine=rbd --clientname=admin --pool="$P" \
	--rbdname=img --rw=write --bs=1m --iodepth=8 --size="${mib}M" \
	--output-format=json --output="$T/fill.json" >/dev/null

workloads=("randread 4k 32" "randwrite 4k 32" "read 1m 8" "write 1m 8")
if [ -n "${RBD_WORKLOADS:-}" ]; then
	IFS=';' read -r -a workloads <<<"$RBD_WORKLOADS"
fi
declare -A result

# run WHO ENGINE_ARGS...: every workload; results added to result[WHO,RW].
run() {
	local who=$1 w rw bs qd
	shift
	for w in "${workloads[@]}"; do
		read -r rw bs qd <<<"$w"
		fio --name="$who-$rw" "$@" --rw="$rw" --bs="$bs" \
			--iodepth="$qd" --size="${mib}M" --runtime="$runtime" \
			--time_based --output-format=json \
			--output="$T/$who-$rw.json" >/dev/null
		result[$who,$rw]+=" "$(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
d = j["read" if "read" in sys.argv[2] else "write"]
print(int(d["iops"]) if sys.argv[3] == "4k" else round(d["bw"] / 1024))
' "$T/$who-$rw.json" "$rw" "$bs")
	done
}

# serve NAME CMD...: start a server on $T/NAME.sock; wait for the socket.
serve() {
	local name=$1 i
	shift
	"$@" &
	pids+=($!)
	for ((i = 0; i < 300; i++)); do
		[ -S "$T/$name.sock" ] && return 0
		sleep 0.1
	done
	echo "rbd-compare: $name did not start" >&2
	exit 1
}

stop_last() {
	local p=${pids[-1]}
	kill "$p"
	wait "$p" 2>/dev/null || true
	unset 'pids[-1]'
}

with_fio_rbd() {
	run fio-rbd --ioengine=rbd --clientname=admin --pool="$P" --rbdname=img
}

with_iopd() {
	# shellcheck disable=SC2086 # word splitting wanted
	serve iopd "$iopd" --listen "unix:$T/iopd.sock" --log-level=warn \
		${IOPD_ARGS:-} "img=rbd:$P/img"
	run iopd --ioengine=nbd --uri="nbd+unix:///img?socket=$T/iopd.sock"
	stop_last
}

with_qemu_nbd() {
	# shellcheck disable=SC2086 # word splitting wanted
	serve qemu-nbd qemu-nbd --socket="$T/qemu-nbd.sock" --persistent \
		--shared=0 --export-name=img ${QEMU_NBD_ARGS:-} -f raw \
		"rbd:$P/img:conf=$CEPH_CONF"
	run qemu-nbd --ioengine=nbd \
		--uri="nbd+unix:///img?socket=$T/qemu-nbd.sock"
	stop_last
}

# Whoever runs first after the fill was seen to be up to twice as fast at
# random writes: each rep starts with the next one, and the table has
# the medians.
order=(with_fio_rbd with_iopd with_qemu_nbd)
for ((rep = 0; rep < reps; rep++)); do
	for ((i = 0; i < 3; i++)); do
		"${order[(rep + i) % 3]}"
	done
done

echo "RBD, one-node memstore cluster, ${runtime}s per run, ${mib} MiB image," \
	"median of $reps"
printf '%-22s %10s %10s %10s %12s %12s\n' workload fio-rbd iopd qemu-nbd \
	iopd/qemu-nbd iopd/fio-rbd
for w in "${workloads[@]}"; do
	read -r rw bs qd <<<"$w"
	unit=IOPS
	[ "$bs" = 1m ] && unit=MiB/s
	python3 - "$rw $bs qd$qd ($unit)" "${result[fio-rbd,$rw]}" \
		"${result[iopd,$rw]}" "${result[qemu-nbd,$rw]}" <<'PYEOF'
import sys
med = lambda v: sorted(map(float, v.split()))[len(v.split()) // 2]
name, lim, iopd, qemu = sys.argv[1], *map(med, sys.argv[2:])
r = lambda a, b: f"{a / b:.2f}" if b else "-"
print(f"{name:<22} {lim:>10.0f} {iopd:>10.0f} {qemu:>10.0f} "
      f"{r(iopd, qemu):>12} {r(iopd, lim):>12}")
PYEOF
done
echo "every run:"
for w in "${workloads[@]}"; do
	read -r rw bs qd <<<"$w"
	for who in fio-rbd iopd qemu-nbd; do
		echo "  $rw $bs $who:${result[$who,$rw]}"
	done
done
