#!/bin/bash
# SPDX-License-Identifier: MIT
# qemu-img through QEMU's NBD client: info, map (base:allocation as QEMU
# reads it), convert image -> nbd (zeroing the target first, FAST_ZERO),
# nbd -> qcow2, nbd -> nbd, parallel out-of-order writes, and compare
# (including that compare notices a one-byte change).
. "$(dirname "$0")/lib.sh"
require qemu-img python3

# A sparse source: data at [0,1M) and [8M,9M), an allocated all-zero MiB
# at 20M, holes elsewhere.
truncate -s 64M "$T/src.img"
head -c 1M /dev/urandom | dd of="$T/src.img" conv=notrunc status=none
head -c 1M /dev/urandom | dd of="$T/src.img" bs=1M seek=8 conv=notrunc status=none
dd if=/dev/zero of="$T/src.img" bs=1M seek=20 count=1 conv=notrunc status=none
cp --sparse=always "$T/src.img" "$T/disk.img"
cp --sparse=always "$T/src.img" "$T/ro.img"
head -c 32M /dev/urandom >"$T/rand.img"

start_iopd "disk=file:$T/disk.img" ram=ram:64M ram2=ram:32M ram3=ram:64M \
	"ro=file:$T/ro.img,ro" || { done_testing; exit 1; }
disk=$(uri_unix disk)
ram=$(uri_unix ram)

if check "qemu-img info --output=json" t qemu-img info --output=json "$disk"; then
	cp "$T/out" "$T/info.json"
	is "$(json_get "$T/info.json" "j['virtual-size']")" 67108864 "info: virtual-size is 64 MiB"
fi
check "qemu-img info over TCP" t qemu-img info "$(uri_tcp disk)"
grep -q '67108864 bytes' "$T/out"
pass_if $? "info over TCP: 67108864 bytes" "$(cat "$T/out")"

if check "qemu-img map --output=json of the sparse file" t qemu-img map --output=json "$disk"; then
	cp "$T/out" "$T/map-disk.json"
	check "map: data where written, zero holes elsewhere" \
		map_check "$T/map-disk.json" 64M data:0:1M data:8M:1M zero:1M:7M hole:1M:7M \
		zero:9M:11M hole:9M:11M zero:21M:43M hole:21M:43M
fi

check "convert image -> nbd (ram)" t qemu-img convert -n -f raw -O raw "$T/src.img" "$ram"
check "compare image with nbd copy" t qemu-img compare -f raw -F raw "$T/src.img" "$ram"
if check "qemu-img map of the converted ram export" t qemu-img map --output=json "$ram"; then
	cp "$T/out" "$T/map-ram.json"
	check "ram map after convert: the data ranges are data, the rest reads as zero" \
		map_check "$T/map-ram.json" 64M data:0:1M data:8M:1M zero:1M:7M zero:9M:55M
fi

check "convert nbd -> qcow2" t qemu-img convert -f raw -O qcow2 "$ram" "$T/out.qcow2"
check "qemu-img check of the qcow2" t qemu-img check "$T/out.qcow2"
check "compare image with the qcow2" t qemu-img compare -f raw -F qcow2 "$T/src.img" "$T/out.qcow2"

check "convert nbd -> nbd (disk -> ram3)" t qemu-img convert -n -f raw -O raw "$disk" "$(uri_unix ram3)"
check "compare image with ram3" t qemu-img compare -f raw -F raw "$T/src.img" "$(uri_unix ram3)"

# compare must notice a one-byte change made through NBD
check "change one byte at 8 MiB + 7 through NBD" nbdpy <<'EOF'
from nbdproto import *
c = connect("ram")
err, d = c.read((8 << 20) + 7, 1)
assert err == 0
assert c.write((8 << 20) + 7, bytes([d[0] ^ 0xff]), F_FUA) == 0
assert c.disc()
EOF
_run qemu-img compare -f raw -F raw "$T/src.img" "$ram"
st=$?
# (qemu-img names the first sector that differs)
if [ "$st" -eq 1 ] && grep -qE 'mismatch at offset (8388608|8388615)!' "$T/out"; then
	ok "compare reports a mismatch at the changed sector"
else
	not_ok "compare reports a mismatch at the changed sector" "exit status $st (want 1)" "$(cat "$T/out")"
fi

check "convert -W -m 16 (16 parallel out-of-order writers) of 32 MiB random data" \
	t qemu-img convert -W -m 16 -n -f raw -O raw "$T/rand.img" "$(uri_unix ram2)"
check "compare the random data" t qemu-img compare -f raw -F raw "$T/rand.img" "$(uri_unix ram2)"

check_fails "convert into the read-only export fails" \
	qemu-img convert -n -f raw -O raw "$T/rand.img" "$(uri_unix ro)"
check "read-only export unchanged" cmp "$T/src.img" "$T/ro.img"

iopd_alive "daemon alive after qemu-img runs"
stop_iopd
done_testing
