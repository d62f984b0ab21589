#!/bin/bash
# SPDX-License-Identifier: MIT
# fio's nbd engine (libnbd): 4 jobs x iodepth 16 of random writes with
# crc32c verification, on RAM and file exports, over TCP and the Unix
# socket; then a second fio run verifies the same data over new
# connections (verify_only), and a run against an untouched export must
# fail verification (the check is not vacuous).
. "$(dirname "$0")/lib.sh"
require fio python3
if ! fio --enghelp=nbd >/dev/null 2>&1; then
	skip_all "fio has no nbd engine"
fi

truncate -s 64M "$T/disk.img"
start_iopd ram=ram:64M "disk=file:$T/disk.img" fresh=ram:64M ||
	{ done_testing; exit 1; }

# fio_nbd DESC URI BS [FIO-OPTIONS...]: 4 jobs, each its own connection,
# over disjoint 16 MiB quarters of the export.
fio_nbd() {
	local desc=$1 uri=$2 bs=$3 json
	shift 3
	json=$T/fio.$RANDOM.json
	if ! check "$desc" t fio --name=iopd --ioengine=nbd --uri="$uri" \
		--rw=randwrite --bs="$bs" --size=16M --offset_increment=16M \
		--numjobs=4 --iodepth=16 --verify=crc32c --do_verify=1 \
		--runtime=10 --output-format=json --output="$json" "$@"; then
		[ -f "$json" ] && diag "$(head -c 2000 "$json")"
		return 1
	fi
	check "$desc: every job without error, all 64 MiB written and verified" \
		json_get "$json" "all(x['error'] == 0 for x in j['jobs']) and len(j['jobs']) == 4 and sum(x['write']['io_bytes'] for x in j['jobs']) == 64 << 20 and sum(x['read']['io_bytes'] for x in j['jobs']) == 64 << 20 or exit(1)"
}

fio_nbd "ram over unix, 4k randwrite+verify" "$(uri_unix ram)" 4k
fio_nbd "ram over unix: verify_only on new connections" "$(uri_unix ram)" 4k --verify_only=1
fio_nbd "ram over tcp, 64k randwrite+verify" "$(uri_tcp ram)" 64k
fio_nbd "file over unix, 4k randwrite+verify" "$(uri_unix disk)" 4k
fio_nbd "file over tcp, 64k randwrite+verify" "$(uri_tcp disk)" 64k
fio_nbd "file over tcp: verify_only on new connections" "$(uri_tcp disk)" 64k --verify_only=1

check_fails "verify_only against an export nobody wrote fails" \
	fio --name=iopd --ioengine=nbd --uri="$(uri_unix fresh)" --rw=randwrite \
	--bs=64k --size=16M --offset_increment=16M --numjobs=4 --iodepth=16 \
	--verify=crc32c --verify_only=1 --runtime=10 --output=/dev/null

iopd_alive "daemon alive after fio"
stop_iopd
done_testing
