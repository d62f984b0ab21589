#!/bin/bash
# SPDX-License-Identifier: MIT
# iopd benchmark suite: one command, writes a report.
#
#   bench/run.sh [--quick] [--only SECTION,...] [--out DIR]
#                [--runtime SECONDS] [--reps N] [--rates 5,20,60,80]
#                [--ext-runtime SECONDS] [--ext-reps N] [--disk-dir DIR]
#
# Installs what is missing (apt-get), builds iopd, then runs the sections
# (all by default): iscsi (bench/iscsi.sh, iscsi-perf against iopd and
# tgt), then bench/bench.py: matrix (iopd io_uring and epoll, nbdkit and
# qemu-nbd serving a 1 GiB image on /dev/shm, fio's nbd engine over TCP
# loopback and a Unix socket), idle (1,000 idle connections), and
# bench/extended.py's fixed (same offered load, server CPU per I/O), sat
# (2 and 4 client processes), disk (image on the machine's disk, cache
# bypassed), iscsiw (qemu-img bench writes over iSCSI), stab (alternating
# reps, the loopback and null: ceilings) and tls (NBD over TLS).  Writes
# DIR/report.md with PNG charts (default DIR: bench/results/<date>-<commit>/,
# copied to bench/results/latest/).  Full run about 90 min, --quick
# about 13 minutes on 2 CPUs.  See bench/README.md.
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
repo=$(cd "$(dirname "$0")/.." && pwd)

# tool -> Debian package
declare -A pkg=([gnuplot]=gnuplot-nox [iperf3]=iperf3 [fio]=fio
	[nbdkit]=nbdkit [qemu-nbd]=qemu-utils [nbdinfo]=libnbd-bin
	[python3]=python3 [make]=make [certtool]=gnutls-bin
	[qemu-img]=qemu-utils [findmnt]=util-linux)
missing=()
for tool in "${!pkg[@]}"; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
done
# nbdkit's memory and null plugins ship in nbdkit itself on Debian 12;
# fio's nbd engine needs fio built with libnbd (Debian's is).
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >&2 ||
		{ apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
fi
fio --enghelp 2>/dev/null | grep -qw nbd ||
	{ echo "fio has no nbd engine" >&2; exit 1; }

make -C "$repo" all >&2

# 1,000 idle connections need file descriptors on both sides.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

# --only LIST: run the iSCSI rows only when LIST names them.
only=all
args=("$@")
for i in "${!args[@]}"; do
	case ${args[$i]} in
	--only=*) only=${args[$i]#--only=} ;;
	--only) only=${args[$((i + 1))]:-} ;;
	esac
done
# iSCSI rows (bench/iscsi.sh, iopd vs tgt) first; report.py adopts the JSON.
if [ "$only" = all ] || [[ ",$only," == *,iscsi,* ]]; then
	export BENCH_ISCSI_JSON=${BENCH_ISCSI_JSON:-$(mktemp /tmp/iopd-bench-iscsi.XXXXXX.json)}
	"$repo/bench/iscsi.sh" --iopd "$repo/build/iopd" --json "$BENCH_ISCSI_JSON" "$@" >&2 ||
		echo "bench/iscsi.sh failed: the report has no iSCSI rows" >&2
fi
exec python3 "$repo/bench/bench.py" "$@"
