#!/bin/bash
# SPDX-License-Identifier: MIT
# A real filesystem on an iopd export: nbdfuse presents the export as a
# file, a loop device sits on that file, and ext4 is made, mounted,
# filled, checked (fsck -fn), remounted and verified.  Finally the file
# export's backing image itself passes fsck: the data really landed.
. "$(dirname "$0")/lib.sh"
require nbdfuse fusermount3 losetup mkfs.ext4 fsck.ext4 mount umount sha256sum python3

[ -c /dev/fuse ] || skip_all "/dev/fuse missing"
[ "$(id -u)" -eq 0 ] || skip_all "needs root for losetup and mount"
truncate -s 1M "$T/probe.img"
probe=$(losetup -f --show "$T/probe.img" 2>/dev/null) || skip_all "losetup cannot attach a loop device here"
losetup -d "$probe"

truncate -s 128M "$T/disk.img"
start_iopd "disk=file:$T/disk.img" || { done_testing; exit 1; }
mkdir "$T/fuse" "$T/mnt"

# nbdfuse stays in the foreground; it writes its pid (no newline) to -P
# once the FUSE mount is in place.  The pidfile is a fifo we read with a
# timeout.
mkfifo "$T/nbdfuse.pid"
exec {pfd}<>"$T/nbdfuse.pid"
nbdfuse -P "$T/nbdfuse.pid" "$T/fuse/disk" "$(uri_unix disk)" \
	>"$T/nbdfuse.log" 2>&1 </dev/null &
fuse_pid=$!
register_pid "$fuse_pid"
on_exit "_reap $fuse_pid"
on_exit "fusermount3 -u '$T/fuse'"
fuse_ready=""
for _ in $(seq 30); do
	line=""
	IFS= read -r -t 1 -u "$pfd" line
	fuse_ready+=$line
	[ -n "$fuse_ready" ] && break
	kill -0 "$fuse_pid" 2>/dev/null || break
done
exec {pfd}<&-
if [ -z "$fuse_ready" ] || [ ! -f "$T/fuse/disk" ]; then
	not_ok "nbdfuse mounts the export" "$(cat "$T/nbdfuse.log")"
	done_testing
	exit 1
fi
ok "nbdfuse mounts the export as $T/fuse/disk"
is "$(stat -c %s "$T/fuse/disk")" 134217728 "the FUSE file has the export's size"

if ! check "losetup on the FUSE file" t losetup -f --show "$T/fuse/disk"; then
	done_testing
	exit 1
fi
dev=$(cat "$T/out")
on_exit "losetup -d '$dev'"

check "mkfs.ext4" t mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$dev"
if check "mount" t mount -t ext4 "$dev" "$T/mnt"; then
	on_exit "umount '$T/mnt'"
	# files of assorted sizes, one spanning many requests, plus a tree
	write_files() {
		local i
		for i in 1 2 3 4 5 6 7 8; do
			head -c $((i * 37 * 1024 + i)) /dev/urandom >"$T/mnt/small.$i" || return 1
		done
		head -c 24M /dev/urandom >"$T/mnt/big" || return 1
		mkdir -p "$T/mnt/a/b/c" && cp "$T/mnt/small.3" "$T/mnt/a/b/c/copy" || return 1
		rm "$T/mnt/small.8" || return 1
		(cd "$T/mnt" && find . -type f ! -path './lost+found/*' -print0 |
			sort -z | xargs -0 sha256sum) >"$T/sums"
		sync -f "$T/mnt/big"
	}
	check "write files and checksums" write_files
	check "umount" t umount "$T/mnt"
fi
check "fsck.ext4 -fn is clean" t fsck.ext4 -fn "$dev"

if check "remount" t mount -t ext4 -o ro "$dev" "$T/mnt"; then
	check "every file matches its checksum after remount" \
		bash -c "cd '$T/mnt' && sha256sum --quiet -c '$T/sums'"
	is "$(cd "$T/mnt" && find . -type f ! -path './lost+found/*' | wc -l)" \
		"$(wc -l <"$T/sums")" "the same number of files"
	check "umount again" t umount "$T/mnt"
fi

check "losetup -d" t losetup -d "$dev"
check "fusermount3 -u" t fusermount3 -u "$T/fuse"
_wait_timeout "$fuse_pid" 30
pass_if $? "nbdfuse exits 0 after unmount" "$(cat "$T/nbdfuse.log")"

# The backing file is the filesystem (nothing was left in a cache).
check "fsck.ext4 -fn on the export's backing file" t fsck.ext4 -fn "$T/disk.img"
iopd_alive "daemon alive after the filesystem work"
stop_iopd
done_testing
