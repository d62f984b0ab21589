#!/bin/bash
# SPDX-License-Identifier: MIT
# The server's own CPU cost per I/O at fixed offered loads: iopd and
# nbdkit serve the same image on tmpfs over loopback TCP, fio (nbd engine)
# drives each in turn at a fixed --rate_iops (4 KiB random read, qd32) and
# unthrottled at qd1, and the server's utime+stime from /proc/PID/stat
# around each run gives microseconds of CPU per I/O.  Servers alternate
# run by run, so a shared machine's noise hits both alike; CPU per I/O,
# not wall throughput, is the figure to trust there.
#
#   bench/cpu-per-io.sh [RUNTIME_SECONDS] [ROUNDS]
#
# Environment: IOPD (binary, default build/iopd), ENGINE (uring|epoll),
# IOPD_ARGS (extra iopd options, e.g. --busy-poll=0), RATES (default
# "2000 10000 20000"), RW (randread|randwrite), BS (default 4k),
# PERF=DIR: also sample each server with `perf record` (cpu-clock) in
# every run of the last round, keep the profiles in DIR, and print where
# each server's CPU went, in µs per I/O, by kind (bench/perf-split.py).
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
runtime=${1:-5}
rounds=${2:-2}
iopd=${IOPD:-build/iopd}
engine=${ENGINE:-uring}
rates=${RATES:-2000 10000 20000}
rw=${RW:-randread}
bs=${BS:-4k}
T=$(mktemp -d /dev/shm/iopd-cpu.XXXXXX)
pids=()
if [ -n "${PERF:-}" ]; then
	mkdir -p "$PERF"
	PERF=$(cd "$PERF" && pwd)
	: >"$PERF/runs"
fi
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${IOPD_LOG:-}" ] && cp "$T/iopd.log" "$IOPD_LOG"
	rm -rf "$T"
}
trap cleanup EXIT

dd if=/dev/urandom of="$T/disk.img" bs=1M count=256 status=none

# utime + stime of a process (all its threads), in clock ticks.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

mkfifo "$T/ready"
"$iopd" --engine="$engine" --listen 127.0.0.1:0 --ready-fd 3 \
	--log-level=${LOG_LEVEL:-warn} ${IOPD_ARGS:-} "disk=$T/disk.img" 3>"$T/ready" \
	>"$T/iopd.log" 2>&1 &
iopd_pid=$!
pids+=("$iopd_pid")
iopd_port=$(awk '/^LISTEN tcp/ { n = split($3, a, ":"); print a[n] }
		 /READY/ { exit }' <"$T/ready")
nbdkit_port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nbdkit -f -i 127.0.0.1 -p "$nbdkit_port" file "$T/disk.img" \
	>"$T/nbdkit.log" 2>&1 &
nbdkit_pid=$!
pids+=("$nbdkit_pid")
for _ in $(seq 100); do
	nbdinfo --size "nbd://127.0.0.1:$nbdkit_port" >/dev/null 2>&1 && break
	sleep 0.1
done

# One fio run; prints "iops usec_cpu_per_io mean_lat_usec".  With
# PROF set (a path), the server is sampled by perf over the run.
run() { # pid port qd rate
	local pid=$1 port=$2 qd=$3 rate=$4 t0 t1 args perf_pid=
	args="--name=cpu --ioengine=nbd --uri=nbd://127.0.0.1:$port/"
	args="$args --rw=$rw --bs=$bs --iodepth=$qd --runtime=$runtime"
	args="$args --time_based --norandommap --randrepeat=0"
	args="$args --output-format=json --output=$T/fio.json"
	[ "$rate" != 0 ] && args="$args --rate_iops=$rate"
	if [ -n "${PROF:-}" ]; then
		perf record -q -e cpu-clock -F 4999 -p "$pid" -o "$PROF" \
			>/dev/null 2>&1 &
		perf_pid=$!
	fi
	t0=$(ticks "$pid")
	fio $args >/dev/null
	t1=$(ticks "$pid")
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
	fi
	python3 - "$T/fio.json" "$t0" "$t1" "$hz" "$rw" <<-'EOF'
		import json, sys
		j = json.load(open(sys.argv[1]))["jobs"][0]
		side = "write" if "write" in sys.argv[5] else "read"
		ios = j[side]["total_ios"]
		cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
		lat = j[side]["clat_ns"]["mean"] / 1000
		print(f"{ios / j['job_runtime'] * 1000:.0f} "
		      f"{cpu * 1e6 / max(ios, 1):.2f} {lat:.1f}")
	EOF
}

# Warm both up (the first connection is slower), not counted.
run "$iopd_pid" "$iopd_port" 1 0 >/dev/null
run "$nbdkit_pid" "$nbdkit_port" 1 0 >/dev/null

printf '%-12s %5s %8s %9s %9s %9s %9s %7s %7s\n' load round \
	"iops(i)" "iops(n)" "cpu/io(i)" "cpu/io(n)" "lat(i)" "lat(n)" ratio
for r in $(seq "$rounds"); do
	for load in $rates qd1; do
		if [ "$load" = qd1 ]; then qd=1 rate=0; else qd=32 rate=$load; fi
		pa= pb=
		if [ -n "${PERF:-}" ] && [ "$r" = "$rounds" ]; then
			pa=$PERF/iopd-$load.data pb=$PERF/nbdkit-$load.data
		fi
		if ((r % 2)); then
			a=$(PROF=$pa run "$iopd_pid" "$iopd_port" $qd $rate)
			b=$(PROF=$pb run "$nbdkit_pid" "$nbdkit_port" $qd $rate)
		else
			b=$(PROF=$pb run "$nbdkit_pid" "$nbdkit_port" $qd $rate)
			a=$(PROF=$pa run "$iopd_pid" "$iopd_port" $qd $rate)
		fi
		read -r ia ca la <<<"$a"
		read -r ib cb lb <<<"$b"
		if [ -n "$pa" ]; then
			echo "$load iopd $ca $pa" >>"$PERF/runs"
			echo "$load nbdkit $cb $pb" >>"$PERF/runs"
		fi
		# qd1 compares latency, the rest CPU per I/O.
		if [ "$load" = qd1 ]; then
			ratio=$(python3 -c "print(f'{$la / $lb:.2f}')")
		else
			ratio=$(python3 -c "print(f'{$ca / $cb:.2f}')")
		fi
		printf '%-12s %5s %8s %9s %9s %9s %9s %7s %7s\n' "$load" "$r" \
			"$ia" "$ib" "$ca" "$cb" "$la" "$lb" "$ratio"
	done
done
if [ -n "${PERF:-}" ]; then
	python3 bench/perf-split.py "$PERF/runs"
fi
echo "(i) iopd -e $engine ${IOPD_ARGS:-}, (n) nbdkit file; $rw bs=$bs," \
	"${runtime}s runs; cpu/io in µs of server CPU per I/O, lat in µs" \
	"(mean completion latency); ratio: cpu/io at fixed rates," \
	"latency at qd1 (iopd/nbdkit)"
