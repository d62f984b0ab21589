#!/bin/bash
# SPDX-License-Identifier: MIT
# nbdinfo against file, ram, null and read-only exports: sizes, flags,
# block sizes, names and descriptions (NBD_OPT_INFO/GO/LIST), and
# base:allocation maps (NBD_CMD_BLOCK_STATUS).
#
# Every flag asserted here is exercised elsewhere:
#   can_flush      test_qemu_io (flush), test_protocol (FLUSH)
#   can_fua        test_qemu_io (write -f), test_protocol (WRITE+FUA)
#   can_trim       test_qemu_io (discard), test_protocol (TRIM)
#   can_zero       test_qemu_io (write -z, -z -u), test_protocol
#   can_fast_zero  test_qemu_io (write -z -n), test_protocol (FAST_ZERO)
#   can_multi_conn test_multiconn, test_nbdcopy (--connections=4)
#   can_cache      test_protocol (CACHE)
#   can_df         test_protocol (READ with DF)
. "$(dirname "$0")/lib.sh"
require nbdinfo python3

truncate -s 64M "$T/disk.img"
head -c 1M /dev/urandom | dd of="$T/disk.img" bs=1M seek=1 conv=notrunc status=none
head -c 64K /dev/urandom | dd of="$T/disk.img" bs=64K seek=512 conv=notrunc status=none
truncate -s 16M "$T/ro.img"
head -c 1M /dev/urandom | dd of="$T/ro.img" conv=notrunc status=none

start_iopd "disk=file:$T/disk.img,desc=test disk" \
	"scratch=ram:64M,desc=scratch space" \
	"nothing=null:1G" \
	"rodisk=file:$T/ro.img,ro,desc=read only" || { done_testing; exit 1; }

# info NAME: nbdinfo --json of one export into $T/NAME.json
info() {
	t nbdinfo --json "$(uri_unix "$1")" >"$T/info-${1:-default}.json"
}
field() { json_get "$T/info-$1.json" "j['exports'][0].get('$2')"; }

check "nbdinfo --json on the default export" info "" &&
	is "$(field default export-size)" 67108864 "default export is the first one (disk, 64 MiB)"

for name in disk scratch; do
	if ! check "nbdinfo --json $name" info "$name"; then
		continue
	fi
	is "$(field "$name" export-size)" 67108864 "$name: export-size"
	is "$(field "$name" is_read_only)" false "$name: is_read_only"
	for cap in can_flush can_fua can_trim can_zero can_fast_zero \
		can_multi_conn can_cache can_df; do
		is "$(field "$name" $cap)" true "$name: $cap"
	done
	is "$(field "$name" block_size_maximum)" 33554432 "$name: block_size_maximum is the 32 MiB default"
	check "$name: block sizes are powers of two, minimum <= preferred <= maximum" \
		json_get "$T/info-$name.json" "(lambda e: [e[k] & (e[k] - 1) for k in ('block_size_minimum', 'block_size_preferred')] == [0, 0] and 1 <= e['block_size_minimum'] <= e['block_size_preferred'] <= e['block_size_maximum'] or exit(1))(j['exports'][0])"
done
is "$(field disk description)" "test disk" "disk: description"
is "$(field scratch description)" "scratch space" "scratch: description"
diag "default export's name as reported: '$(field default export-name)'"

if check "nbdinfo --json nothing (null)" info nothing; then
	is "$(field nothing export-size)" 1073741824 "null: export-size 1 GiB"
	is "$(field nothing is_read_only)" false "null: is_read_only"
	is "$(field nothing can_multi_conn)" true "null: can_multi_conn"
	diag "null flags: $(json_get "$T/info-nothing.json" "sorted(k for k, v in j['exports'][0].items() if v is True)")"
fi

if check "nbdinfo --json rodisk" info rodisk; then
	is "$(field rodisk is_read_only)" true "rodisk: is_read_only"
	is "$(field rodisk export-size)" 16777216 "rodisk: export-size"
	is "$(field rodisk description)" "read only" "rodisk: description"
fi

# NBD_OPT_LIST
if check "nbdinfo --list --json" t nbdinfo --list --json "$(uri_unix)"; then
	cp "$T/out" "$T/list.json"
	is "$(json_get "$T/list.json" "' '.join(sorted(e['export-name'] for e in j['exports']))")" \
		"disk nothing rodisk scratch" "--list shows every export"
	is "$(json_get "$T/list.json" "{e['export-name']: e.get('description') for e in j['exports']}['scratch']")" \
		"scratch space" "--list shows descriptions"
fi

# base:allocation on a sparse file
if check "nbdinfo --map --json disk" t nbdinfo --map --json "$(uri_unix disk)"; then
	cp "$T/out" "$T/map-disk.json"
	check "disk map: written ranges are data, the rest holes" \
		map_check "$T/map-disk.json" 64M data:1M:1M data:32M:64K \
		hole:0:1M hole:2M:30M hole:33M:31M zero:0:1M zero:2M:30M
fi

# ... on a RAM disk after some writes
check "write 1 MiB at 4 MiB and 64 KiB at 10 MiB to the RAM disk" nbdpy <<'EOF'
import os
from nbdproto import *
c = connect("scratch")
assert c.write(4 << 20, os.urandom(1 << 20)) == 0
assert c.write(10 << 20, os.urandom(64 << 10)) == 0
assert c.disc()
EOF
if check "nbdinfo --map --json scratch" t nbdinfo --map --json "$(uri_unix scratch)"; then
	cp "$T/out" "$T/map-scratch.json"
	check "ram map: written ranges are data, never-written ranges holes" \
		map_check "$T/map-scratch.json" 64M data:4M:1M data:10M:64K \
		hole:0:4M zero:0:4M hole:11M:53M zero:11M:53M
fi

# ... over a read-only export
if check "nbdinfo --map --json over the read-only export" \
	t nbdinfo --map --json "$(uri_unix rodisk)"; then
	cp "$T/out" "$T/map-ro.json"
	check "rodisk map: data then hole" map_check "$T/map-ro.json" 16M data:0:1M hole:1M:15M
fi

check_fails "unknown export name fails" nbdinfo "$(uri_unix no-such-export)"
check "nbdinfo over TCP" t nbdinfo "$(uri_tcp disk)"
iopd_alive "daemon alive after the queries"
stop_iopd

# --max-request shows up as the maximum block size
if start_iopd --max-request=1M ram:16M; then
	check "nbdinfo --json with --max-request=1M" info ""
	is "$(field default block_size_maximum)" 1048576 "--max-request=1M: block_size_maximum"
	stop_iopd
fi
done_testing
