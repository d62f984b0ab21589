#!/bin/bash
# SPDX-License-Identifier: MIT
# Storage that vanishes under a running export: a backing file truncated
# or deleted while served is noticed (on a failed transfer, or at the next
# flush), logged once, and new clients are told the size that is left;
# the daemon keeps serving and still exits 0.
. "$(dirname "$0")/lib.sh"
require qemu-io nbdinfo truncate

img=$T/disk.img
truncate -s 8M "$img"
start_iopd --direct=off "disk=file:$img" || {
	done_testing
	exit 1
}

check "write 1 MiB at 6 MiB" qio "$(uri_unix disk)" "write -P 0x5a 6M 1M" "flush"
truncate -s 4M "$img"
check_fails "a read past the file's new end fails" \
	qio "$(uri_unix disk)" "read -P 0x5a 6M 64k"
check "a flush still succeeds" qio "$(uri_unix disk)" "flush"
if grep -q "backing file was truncated" "$IOPD_LOG"; then
	ok "the truncation is logged"
else
	not_ok "the truncation is logged" "$(tail -n 5 "$IOPD_LOG")"
fi
is "$(grep -c "backing file was" "$IOPD_LOG")" 1 "and logged once"
check "a new client connects" t nbdinfo --size "$(uri_unix disk)"
is "$(cat "$T/out")" 4194304 "and is told the size that is left"
check "data below the new end still reads back" \
	qio "$(uri_unix disk)" "write -P 0x33 0 64k" "read -P 0x33 0 64k"
iopd_alive "iopd still runs"
stop_iopd

# Deleted: the data lives on in the open file until the export closes,
# which an operator must hear about at the next flush.
img2=$T/gone.img
truncate -s 4M "$img2"
start_iopd --direct=off "gone=file:$img2" || {
	done_testing
	exit 1
}
check "write to the export" qio "$(uri_unix gone)" "write -P 0x11 0 64k"
rm -f "$img2"
check "a flush after the file was deleted succeeds" qio "$(uri_unix gone)" "flush"
if grep -q "backing file was deleted" "$IOPD_LOG"; then
	ok "the deletion is logged"
else
	not_ok "the deletion is logged" "$(tail -n 5 "$IOPD_LOG")"
fi
stop_iopd
done_testing
