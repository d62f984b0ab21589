#!/bin/bash
# SPDX-License-Identifier: MIT
# NBD over TLS, a first look: fio (nbd engine, nbds+unix://) 1 MiB
# sequential read at queue depth 8 against iopd --tls=require and nbdkit
# --tls=require serving the same image on tmpfs with the same certificates
# (made here with certtool), in the same run.  Prints MB/s and server CPU
# seconds per GiB for each, and the ratios.
#
#   bench/tls-compare.sh [RUNTIME_SECONDS] [ENGINE] [BS] [RW]
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
runtime=${1:-10}
engine=${2:-uring}
bs=${3:-1m}
rw=${4:-read}
iopd=${IOPD:-build/iopd}
T=$(mktemp -d /dev/shm/iopd-tls-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

dd if=/dev/urandom of="$T/disk.img" bs=1M count=1024 status=none

# A CA and a server certificate (the layout both servers read), and the
# CA where libnbd looks by default ($HOME/.pki/libnbd): fio's nbd engine
# does not let libnbd read a tls-certificates= path from the URI.
mkdir -p "$T/pki" "$T/home/.pki/libnbd"
cat >"$T/ca.info" <<EOF
cn = "bench CA"
ca
cert_signing_key
EOF
cat >"$T/server.info" <<EOF
cn = "localhost"
dns_name = "localhost"
tls_www_server
signing_key
encryption_key
EOF
certtool --generate-privkey --key-type=ecdsa --outfile "$T/ca-key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$T/ca-key.pem" \
	--template "$T/ca.info" --outfile "$T/pki/ca-cert.pem" 2>/dev/null
certtool --generate-privkey --key-type=ecdsa --outfile "$T/pki/server-key.pem" 2>/dev/null
certtool --generate-certificate --load-privkey "$T/pki/server-key.pem" \
	--load-ca-certificate "$T/pki/ca-cert.pem" --load-ca-privkey "$T/ca-key.pem" \
	--template "$T/server.info" --outfile "$T/pki/server-cert.pem" 2>/dev/null
cp "$T/pki/ca-cert.pem" "$T/home/.pki/libnbd/"
export HOME=$T/home

fio_args="--name=tls --ioengine=nbd --rw=$rw --bs=$bs --iodepth=8"
fio_args="$fio_args --runtime=$runtime --time_based --output-format=json"
mbps() { # JSON file
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(round((j["read"]["bw_bytes"]+j["write"]["bw_bytes"])/1e6))' "$1"
}
gib() { # JSON file
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print((j["read"]["io_bytes"]+j["write"]["io_bytes"])/2**30)' "$1"
}
cpu() { # PID: user+system seconds
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
per_gib() { python3 -c "print(round(($2 - $1) / $3, 3))"; }

mkfifo "$T/ready"
"$iopd" --engine="$engine" --listen "unix:$T/iopd.sock" --ready-fd 3 \
	--log-level=warn --tls=require --tls-certificates="$T/pki" \
	"disk=$T/disk.img" 3>"$T/ready" &
ipid=$!
pids+=($ipid)
grep -q READY "$T/ready"
c0=$(cpu "$ipid")
fio $fio_args --output="$T/iopd.json" \
	--uri="nbds+unix:///disk?socket=$T/iopd.sock" >/dev/null
c1=$(cpu "$ipid")

nbdkit --exit-with-parent -U "$T/nbdkit.sock" -P "$T/nbdkit.pid" \
	--tls=require --tls-certificates="$T/pki" file "$T/disk.img" &
pids+=($!)
while [ ! -s "$T/nbdkit.pid" ]; do sleep 0.1; done
npid=$(cat "$T/nbdkit.pid")
n0=$(cpu "$npid")
fio $fio_args --output="$T/nbdkit.json" \
	--uri="nbds+unix:///?socket=$T/nbdkit.sock" >/dev/null
n1=$(cpu "$npid")

i_mb=$(mbps "$T/iopd.json")
n_mb=$(mbps "$T/nbdkit.json")
i_cpu=$(per_gib "$c0" "$c1" "$(gib "$T/iopd.json")")
n_cpu=$(per_gib "$n0" "$n1" "$(gib "$T/nbdkit.json")")
echo "fio $bs $rw qd8 over TLS ${runtime}s:" \
	"iopd($engine) $i_mb MB/s, $i_cpu CPU s/GiB;" \
	"nbdkit $n_mb MB/s, $n_cpu CPU s/GiB;" \
	"throughput ratio $(python3 -c "print(round($i_mb/$n_mb, 2))")," \
	"CPU/GiB ratio $(python3 -c "print(round($i_cpu/$n_cpu, 2) if $n_cpu else 'n/a')")"
