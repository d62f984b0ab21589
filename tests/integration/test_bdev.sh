#!/bin/bash
# SPDX-License-Identifier: MIT
# The bdev DDM on a loop device: exported by "bdev:PATH" and by a bare
# PATH (recognised as a block device by stat, named after its basename),
# size as the kernel sees it, I/O through qemu-io, and the data landing
# in the loop device's backing file.
. "$(dirname "$0")/lib.sh"
require losetup blockdev qemu-io nbdinfo python3

[ "$(id -u)" -eq 0 ] || skip_all "needs root for losetup"
# three devices: iopd may well open a block device exclusively
for f in backing bare ro; do
	truncate -s 64M "$T/$f.img"
done
dev=$(losetup -f --show "$T/backing.img" 2>/dev/null) ||
	skip_all "losetup cannot attach a loop device here"
on_exit "losetup -d '$dev'"
check "attach a loop device for the bare-path export" losetup -f --show "$T/bare.img"
bare=$(cat "$T/out")
on_exit "losetup -d '$bare'"
check "attach a loop device for the read-only export" losetup -f --show "$T/ro.img"
rodev=$(cat "$T/out")
on_exit "losetup -d '$rodev'"
devname=$(basename "$bare")

start_iopd "lo=bdev:$dev" "$bare" "rolo=bdev:$rodev,ro" || { done_testing; exit 1; }
u=$(uri_unix lo)

check "nbdinfo --size of the bdev export" t nbdinfo --size "$u"
is "$(cat "$T/out")" "$(blockdev --getsize64 "$dev")" "size matches blockdev --getsize64"
if check "nbdinfo --list" t nbdinfo --list --json "$u"; then
	cp "$T/out" "$T/list.json"
	is "$(json_get "$T/list.json" "' '.join(sorted(e['export-name'] for e in j['exports']))")" \
		"$(printf '%s\n' lo rolo "$devname" | sort | tr '\n' ' ' | sed 's/ $//')" \
		"a bare device path is exported under its basename ($devname)"
fi
check "nbdinfo --json rolo" t nbdinfo --json "$(uri_unix rolo)"
cp "$T/out" "$T/rolo.json"
is "$(json_get "$T/rolo.json" "j['exports'][0]['is_read_only']")" true "the ,ro bdev export is read-only"

check "write -P 0x5a 1M 1M" qio "$u" "write -P 0x5a 1M 1M"
check "read it back on a new connection" qio "$u" "read -P 0x5a 1M 1M"
check "write and read through the export named $devname" \
	qio "$(uri_unix "$devname")" "write -P 0x3c 0 64k" "flush" "read -P 0x3c 0 64k"
check "$devname's data is in its own backing file" file_has "$T/bare.img" 0x3c 0 65536
check "flush" qio "$u" "flush"
check "the backing file holds the data" file_has "$T/backing.img" 0x5a $((1 << 20)) $((1 << 20))

check "write -f (FUA) -P 0x6b 2M 64k" qio "$u" "write -f -P 0x6b 2M 64k"
check "the FUA data is in the backing file" file_has "$T/backing.img" 0x6b $((2 << 20)) 65536

check "write -P 0x11 8M 1M, discard 8M 1M" qio "$u" "write -P 0x11 8M 1M" "discard 8M 1M"
check "data beside the discarded range intact" qio "$u" "read -P 0x5a 1M 1M"

check "write -P 0x22 16M 1M, write -z 16M 1M" qio "$u" "write -P 0x22 16M 1M" "write -z 16M 1M"
check "zeroed range reads 0" qio "$u" "read -P 0 16M 1M"
check "write -z -u 17M 1M after data" qio "$u" "write -P 0x23 17M 1M" "write -z -u 17M 1M" "flush"
check "unmapped zero range reads 0" qio "$u" "read -P 0 17M 1M"
check "zeroes are in the backing file" file_has "$T/backing.img" 0 $((16 << 20)) $((2 << 20))

check "last 4 KiB of the device" qio "$u" "write -P 0x7f 65532k 4k" "read -P 0x7f 65532k 4k"
check_fails "read past the end fails" qio "$u" "read 64M 4k"
check_fails "write to the read-only bdev export fails" qio "$(uri_unix rolo)" "write -P 1 0 4k"

iopd_alive "daemon alive after bdev I/O"
stop_iopd
done_testing
