#!/bin/bash
# SPDX-License-Identifier: MIT
# iSCSI READs of 64 KiB and more from a file export on tmpfs go out from a
# read-only mapping of the file (scsi_sbc.c), not through the task's
# buffer.  The bytes must be exactly the file's, across the threshold and
# after writes; a logout while mapped Data-In is still queued must move it
# to the tasks' buffers before the nexus (and its mapping) goes; and a
# file that shrinks under a mapped read must cost that one connection,
# not the daemon (no SIGBUS: only the kernel reads the mapping).
IOPD_TEST_TRANSPORTS="iscsi"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
require qemu-img qemu-io cmp python3

if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" != tmpfs ]; then
	skip_all "/dev/shm is not a tmpfs"
fi
grep -qw iscsi <<<"$(qemu-img --help)" || skip_all "qemu-img lacks the iscsi driver (install qemu-block-extra)"
S=$(mktemp -d /dev/shm/iopd-iscsi-mapped.XXXXXX) || {
	not_ok "mktemp -d /dev/shm"
	done_testing
	exit 1
}
on_exit "rm -rf $S"

make_data "$T/src" 32 || { not_ok "make 32 MiB of test data"; done_testing; exit 1; }
cp "$T/src" "$S/disk.img"
cp "$T/src" "$S/shrink.img"
start_iopd --iscsi-listen 127.0.0.1:0 "disk=file:$S/disk.img" \
	"shrink=file:$S/shrink.img" || { done_testing; exit 1; }
DISK=$(iqn_of disk)

check "qemu-img convert iscsi:// -> file (1 MiB and larger reads)" \
	t qemu-img convert -f raw -O raw "$(uri_iscsi "$DISK")" "$T/back" &&
	check "... byte for byte" cmp "$T/src" "$T/back"

# Writes, then reads of them either side of the 64 KiB threshold.
check "qemu-io: writes then reads back the patterns" \
	qio "$(uri_iscsi "$DISK")" \
	"write -P 0x5a 12288 200704" "read -P 0x5a 12288 200704" \
	"write -P 0xa5 3000320 65536" "read -P 0xa5 3000320 65536" \
	"write -P 0x33 7340032 4194304" "read -P 0x33 7340032 4194304" \
	"read -P 0x5a 12288 65024"
check "the file holds what was written" python3 - "$S/disk.img" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
assert d[12288:12288 + 200704] == b"\x5a" * 200704
assert d[7340032:7340032 + 4194304] == b"\x33" * 4194304
EOF

# raw PORTAL TARGET: a raw initiator (iscsi_pr.py's Session) runs stdin.
raw() {
	PYTHONPATH=$HERE timeout -k 5 "$TMO" python3 - "$IOPD_ISCSI" "$@"
}

# Sixteen 1 MiB READs, then a Logout at once, the responses left unread:
# the nexus closes while most Data-In waits in iopd's output queue.
check "a logout behind queued mapped reads: every byte still right" \
	raw "$DISK" "$S/disk.img" <<'EOF'
import struct, sys
from iscsi_pr import Session
img = open(sys.argv[3], "rb").read()
s = Session(sys.argv[1], sys.argv[2], "iqn.2026-11.test.client:mapped")
s.command(bytes(6))  # the power-on unit attention
want = {}
out = b""
for i in range(16):
    off = (i * 2 + 1) << 20
    bhs = bytearray(48)
    bhs[0], bhs[1] = 0x01, 0x80 | 0x40 | 0x01
    bhs[16:20] = s.itt.to_bytes(4, "big")
    bhs[20:24] = (1 << 20).to_bytes(4, "big")
    bhs[24:28] = s.cmdsn.to_bytes(4, "big")
    bhs[28:32] = s.statsn.to_bytes(4, "big")
    bhs[32:42] = struct.pack(">BBIBHB", 0x28, 0, off // 512, 0, 2048, 0)
    want[s.itt] = (off, bytearray())
    s.itt += 1
    s.cmdsn += 1
    out += bytes(bhs)
bhs = bytearray(48)
bhs[0], bhs[1] = 0x46, 0x80
bhs[16:20] = s.itt.to_bytes(4, "big")
bhs[24:28] = s.cmdsn.to_bytes(4, "big")
bhs[28:32] = s.statsn.to_bytes(4, "big")
s.s.sendall(out + bytes(bhs))
done = 0
while True:
    rsp, data = s._recv()
    op = rsp[0] & 0x3f
    if op == 0x26:
        assert rsp[2] == 0, "logout refused"
        break
    assert op == 0x25, "unexpected opcode 0x%02x" % op
    itt = int.from_bytes(rsp[16:20], "big")
    off, got = want[itt]
    assert int.from_bytes(rsp[40:44], "big") == len(got)
    got += data
    if rsp[1] & 0x01:
        assert rsp[3] == 0, "status 0x%02x" % rsp[3]
        assert got == img[off:off + (1 << 20)], "bytes differ at %d" % off
        done += 1
assert done == 16, "%d reads answered before the logout response" % done
EOF

# Shrink the file under the mapping, then read what is gone: the socket
# write fails (EFAULT) and that connection ends, or (seen under ASan) the
# read reaches the file first and fails with CHECK CONDITION, no data;
# never GOOD, and the daemon lives on.
check "a file that shrank under a mapped read: the connection ends or the READ fails" \
	raw "$(iqn_of shrink)" "$S/shrink.img" <<'EOF'
import os, struct, sys
from iscsi_pr import Session
s = Session(sys.argv[1], sys.argv[2], "iqn.2026-11.test.client:shrink")
s.command(bytes(6))
size = os.path.getsize(sys.argv[3])
lba = (size - (1 << 20)) // 512
cdb = struct.pack(">BBIBHB", 0x28, 0, lba, 0, 2048, 0)
st, _, data = s.command(cdb, data_in_len=1 << 20)
assert st == 0 and len(data) == 1 << 20
os.truncate(sys.argv[3], size // 2)
try:
    st, _, data = s.command(cdb, data_in_len=1 << 20)
    if st != 2 or data:
        raise SystemExit("answered after the shrink: status %d, %d bytes"
                         % (st, len(data)))
except (EOFError, ConnectionError):
    pass
EOF
check "the daemon still serves the other export" \
	qio "$(uri_iscsi "$DISK")" "read -P 0x33 7340032 4194304"
iopd_alive "daemon alive after the shrink"
stop_iopd
done_testing
