#!/bin/bash
# SPDX-License-Identifier: MIT
# A first look at speed: fio (nbd engine) 4 KiB random read at queue depth
# 32 against iopd and nbdkit serving the same image on tmpfs, in the same
# run, over Unix sockets.  Prints IOPS for each and the ratio.  The full
# benchmark suite is bench/run.sh.
#
#   bench/quick-compare.sh [RUNTIME_SECONDS] [ENGINE]
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
runtime=${1:-15}
engine=${2:-uring}
iopd=${IOPD:-build/iopd}
T=$(mktemp -d /dev/shm/iopd-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

dd if=/dev/urandom of="$T/disk.img" bs=1M count=1024 status=none

fio_args="--name=randread --ioengine=nbd --rw=randread --bs=4k --iodepth=32"
fio_args="$fio_args --runtime=$runtime --time_based --output-format=json"
iops() { # JSON file
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"]))' "$1"
}

mkfifo "$T/ready"
"$iopd" --engine="$engine" --listen "unix:$T/iopd.sock" --ready-fd 3 \
	--log-level=warn ${IOPD_ARGS:-} "disk=$T/disk.img" 3>"$T/ready" &
pids+=($!)
grep -q READY "$T/ready"

fio $fio_args --output="$T/iopd.json" \
	--uri="nbd+unix:///disk?socket=$T/iopd.sock" >/dev/null
# nbdkit's --run starts fio once the server is ready and passes $uri.
nbdkit -U - file "$T/disk.img" \
	--run "fio $fio_args --output=$T/nbdkit.json --uri=\"\$uri\"" >/dev/null
iopd_iops=$(iops "$T/iopd.json")
nbdkit_iops=$(iops "$T/nbdkit.json")
echo "fio 4k randread qd32 ${runtime}s: iopd($engine) $iopd_iops IOPS," \
	"nbdkit $nbdkit_iops IOPS, ratio" \
	"$(python3 -c "print(round($iopd_iops/$nbdkit_iops, 2))")"
