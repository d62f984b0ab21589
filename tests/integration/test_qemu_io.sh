#!/bin/bash
# SPDX-License-Identifier: MIT
# qemu-io through QEMU's NBD client: patterned writes and reads (each
# qemu-io run is its own connection, so every read checks data written
# by another connection), unaligned I/O, WRITE_ZEROES (plain, with unmap,
# fast-zero only), TRIM, FUA, FLUSH, asynchronous writes in flight
# together, a read-only export, and out-of-range reads.
. "$(dirname "$0")/lib.sh"
require qemu-io python3

truncate -s 64M "$T/disk.img"
truncate -s 16M "$T/ro.img"
printf 'read-only data' | dd of="$T/ro.img" conv=notrunc status=none

start_iopd ram=ram:64M "disk=file:$T/disk.img" "ro=file:$T/ro.img,ro" ||
	{ done_testing; exit 1; }


for name in ram disk; do
	u=$(uri_unix $name)
	check "$name: write -P 0xa5 0 1M" qio "$u" "write -P 0xa5 0 1M"
	check "$name: read -P 0xa5 0 1M on a new connection" qio "$u" "read -P 0xa5 0 1M"
	check "$name: unaligned writes (512-byte offset, 1 KiB length) inside a 64 KiB one" \
		qio "$u" "write -P 0x11 2M 64k" "write -P 0x22 2098176 1k"
	check "$name: unaligned reads see both writes" \
		qio "$u" "read -P 0x11 2M 512" "read -P 0x22 2098176 1k" "read -P 0x11 2099200 63488"
	check "$name: write -z over data" qio "$u" "write -P 0x44 4M 2M" "write -z 4M 1M"
	check "$name: zeroed range reads 0, the rest keeps its data" \
		qio "$u" "read -P 0 4M 1M" "read -P 0x44 5M 1M"
	check "$name: write -z -u (unmap allowed)" qio "$u" "write -P 0x55 6M 1M" "write -z -u 6M 1M"
	check "$name: unmapped zero range reads 0" qio "$u" "read -P 0 6M 1M"
	check "$name: write -z -n (FAST_ZERO)" qio "$u" "write -P 0x56 8M 1M" "write -z -n 8M 1M"
	check "$name: fast-zeroed range reads 0" qio "$u" "read -P 0 8M 1M"
	check "$name: discard (TRIM)" qio "$u" "write -P 0x57 10M 1M" "discard 10M 1M"
	check "$name: data next to the discarded range is intact" \
		qio "$u" "write -P 0x58 11M 64k" "discard 10M 1M" "read -P 0x58 11M 64k"
	check "$name: write -f (FUA)" qio "$u" "write -f -P 0x66 12M 64k"
	check "$name: FUA write reads back" qio "$u" "read -P 0x66 12M 64k"
	check "$name: flush" qio "$u" "write -P 0x67 13M 4k" "flush"
	check "$name: 8 aio_writes in flight, then aio_flush" \
		qio "$u" "aio_write -P 0x70 16M 64k" "aio_write -P 0x71 16448k 64k" \
		"aio_write -P 0x72 16512k 64k" "aio_write -P 0x73 16576k 64k" \
		"aio_write -P 0x74 16640k 1M" "aio_write -P 0x75 17664k 4k" \
		"aio_write -P 0x76 17668k 512" "aio_write -f -P 0x77 18M 2M" "aio_flush"
	check "$name: aio writes read back on a new connection" \
		qio "$u" "read -P 0x70 16M 64k" "read -P 0x71 16448k 64k" \
		"read -P 0x72 16512k 64k" "read -P 0x73 16576k 64k" \
		"read -P 0x74 16640k 1M" "read -P 0x75 17664k 4k" \
		"read -P 0x76 17668k 512" "read -P 0x77 18M 2M"
	check "$name: aio_read of the same ranges" \
		qio "$u" "aio_read -P 0x70 16M 64k" "aio_read -P 0x74 16640k 1M" \
		"aio_read -P 0x77 18M 2M" "aio_flush"
	check "$name: last 4 KiB of the export" qio "$u" "write -P 0x7e 65532k 4k" "read -P 0x7e 65532k 4k"
	check_fails "$name: read past the end fails" qio "$u" "read 64M 4k"
	check_fails "$name: read straddling the end fails" qio "$u" "read 65534k 4k"
done

# The file export's writes are in its backing file.
check "disk: the FUA write is in the backing file" file_has "$T/disk.img" 0x66 $((12 << 20)) 65536
check "disk: the flushed write is in the backing file" file_has "$T/disk.img" 0x67 $((13 << 20)) 4096
check "disk: the zeroed range is zero in the backing file" file_has "$T/disk.img" 0 $((4 << 20)) $((1 << 20))
check "disk: the unaligned write is in the backing file" file_has "$T/disk.img" 0x22 2098176 1024

# TCP, and data crossing transports
check "tcp: write -P 0x99 on ram over TCP" qio "$(uri_tcp ram)" "write -P 0x99 32M 1M"
check "read over the Unix socket what TCP wrote" qio "$(uri_unix ram)" "read -P 0x99 32M 1M"

# Read-only export
check_fails "ro: opening read-write and writing fails" qio "$(uri_unix ro)" "write -P 1 0 4k"
check "ro: reading works (qemu-io -r)" \
	t qemu-io -r -f raw "$(uri_unix ro)" -c "read -v 0 14"
# (qemu-io -v prints hex, then the text with punctuation as dots)
if grep -q '72 65 61 64 2d 6f 6e 6c 79 20 64 61 74 61' "$T/out"; then ok "ro: data is the backing file's"; else
	not_ok "ro: data is the backing file's" "$(cat "$T/out")"; fi
check "ro: backing file unchanged" cmp -n 14 "$T/ro.img" <(printf 'read-only data')

iopd_alive "daemon alive after qemu-io runs"
stop_iopd
done_testing
