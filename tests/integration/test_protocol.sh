#!/bin/bash
# SPDX-License-Identifier: MIT
# NBD protocol behaviour seen byte by byte (a raw Python client, see
# nbdpy in lib.sh), for what the tools do not send or do not show:
# option haggling (LIST, INFO, GO errors, EXPORT_NAME, ABORT, unknown
# options, meta contexts), simple and structured replies, DF, CACHE,
# BLOCK_STATUS with and without REQ_ONE, TRIM, WRITE_ZEROES with NO_HOLE
# and FAST_ZERO, FUA, FLUSH, range and size errors, unknown commands and
# flags, pipelined requests, read-only enforcement, DISC.
. "$(dirname "$0")/lib.sh"
require python3

truncate -s 64M "$T/disk.img"
start_iopd "ram=ram:64M,desc=the ram disk" "disk=file:$T/disk.img" "ro=ram:1M,ro" ||
	{ done_testing; exit 1; }

# proto DESC <<'EOF' ... EOF: one Python check.
proto() { check "$1" nbdpy; }

proto "greeting: fixed newstyle and NO_ZEROES" <<'EOF'
from nbdproto import *
c = Client().greet()
assert c.gflags & 1 and c.gflags & 2, hex(c.gflags)
EOF

proto "LIST: every export, with descriptions" <<'EOF'
from nbdproto import *
c = Client().greet()
got = dict(c.list())
assert sorted(got) == ["disk", "ram", "ro"], got
assert got["ram"] == "the ram disk", got
# the session goes on after LIST
c.go("disk")
assert c.size == 64 << 20
EOF

proto "INFO: size, flags, name, description, block sizes; then GO" <<'EOF'
from nbdproto import *
c = Client().greet()
i = c.info("ram")
assert i["size"] == 64 << 20, i
assert i["tflags"] & T_HAS_FLAGS and not i["tflags"] & T_READ_ONLY, i
assert i.get("description") == "the ram disk", i
mn, pref, mx = i["block_size"]
assert mn >= 1 and mn & (mn - 1) == 0 and mn <= pref <= mx and mx == 32 << 20, i
i = c.info("ro")
assert i["tflags"] & T_READ_ONLY, i
g = c.go("ram")
assert c.size == 64 << 20
EOF

proto "GO/INFO on an unknown export: NBD_REP_ERR_UNKNOWN, then a good GO works" <<'EOF'
from nbdproto import *
c = Client().greet()
for opt in (OPT_INFO, OPT_GO):
    try:
        c.info("no-such-export", opt=opt)
        raise AssertionError("unknown export accepted")
    except OptError as e:
        assert e.rtype == REP_ERR_UNKNOWN, hex(e.rtype)
c.go("ram")
assert c.write(0, b"a" * 512) == 0
EOF

proto "unknown option: NBD_REP_ERR_UNSUP, the session continues" <<'EOF'
from nbdproto import *
c = Client().greet()
c.opt_send(0xDEAD, b"abc")
opt, rtype, data = c.opt_reply()
assert opt == 0xDEAD and rtype == REP_ERR_UNSUP, (opt, hex(rtype))
c.go("ram")
EOF

proto "EXPORT_NAME ends negotiation; simple replies carry the data" <<'EOF'
from nbdproto import *
c = Client().greet()
c.export_name("ram")
assert c.size == 64 << 20
assert c.write(8 << 20, b"simple" * 100) == 0
err, d = c.read(8 << 20, 600)
assert err == 0 and d == b"simple" * 100
assert c.disc()
EOF

proto "EXPORT_NAME of an unknown export closes the connection" <<'EOF'
from nbdproto import *
c = Client().greet()
c.opt_send(OPT_EXPORT_NAME, b"no-such-export")
assert closed_by_peer(c.s)
EOF

proto "ABORT: acknowledged (or not), connection closed" <<'EOF'
from nbdproto import *
c = Client().greet()
c.opt_send(OPT_ABORT)
assert closed_by_peer(c.s)
EOF

proto "meta contexts: base:allocation listed and set, unknown ones ignored" <<'EOF'
from nbdproto import *
c = Client().greet()
c.structured_reply()
l = c.meta_context("ram", ("base:",), opt=OPT_LIST_META_CONTEXT)
assert "base:allocation" in l, l
s = c.meta_context("ram", ("nosuch:context", "base:allocation"))
assert list(s) == ["base:allocation"], s
c.go("ram")
err, d, ext = c.cmd(CMD_BLOCK_STATUS, 0, 1 << 20)
assert err == 0 and ext, (err, ext)
EOF

proto "BLOCK_STATUS without a negotiated context fails with EINVAL" <<'EOF'
from nbdproto import *
c = connect("ram")
err, d, ext = c.cmd(CMD_BLOCK_STATUS, 0, 1 << 20)
assert err == EINVAL, err
EOF

proto "structured READ: data and holes assemble correctly; DF gives one chunk" <<'EOF'
import os
from nbdproto import *
c = connect("ram")
data = os.urandom(64 << 10)
assert c.write((20 << 20) + (64 << 10), data) == 0
# [20M, 20M+64K) never written, then data, then never written
err, d = c.read(20 << 20, 192 << 10)
assert err == 0, err
assert d == bytes(64 << 10) + data + bytes(64 << 10), "content"
err, d = c.read(20 << 20, 192 << 10, F_DF)
assert err == 0, err
assert d == bytes(64 << 10) + data + bytes(64 << 10), "content with DF"
payload = [ch for ch in c.chunks if ch[0] in (RT_OFFSET_DATA, RT_OFFSET_HOLE)]
assert len(payload) == 1, c.chunks
EOF

proto "DF without structured replies is rejected or ignored, never breaks framing" <<'EOF'
from nbdproto import *
c = connect("ram", structured=False)
err, d = c.read(0, 4096, F_DF)
assert err in (0, EINVAL), err
assert c.write(0, b"z" * 4096) == 0
EOF

proto "CACHE succeeds; data unchanged" <<'EOF'
from nbdproto import *
c = connect("disk")
assert c.tflags & T_SEND_CACHE
assert c.write(1 << 20, b"c" * 4096) == 0
err, _, _ = c.cmd(CMD_CACHE, 0, 4 << 20)
assert err == 0, err
assert c.read(1 << 20, 4096) == (0, b"c" * 4096)
EOF

proto "BLOCK_STATUS: written data vs holes; REQ_ONE gives one extent" <<'EOF'
import os
from nbdproto import *
c = connect("ram", meta=True)
assert c.write(30 << 20, os.urandom(1 << 20)) == 0
err, _, ext = c.cmd(CMD_BLOCK_STATUS, 29 << 20, 3 << 20)
assert err == 0, err
# walk the extents: [29M,30M) hole, [30M,31M) data, [31M,32M) hole
pos = 29 << 20
for ln, fl in ext:
    for mib in range(pos >> 20, (pos + ln + (1 << 20) - 1) >> 20):
        want_hole = mib != 30
        assert bool(fl & STATE_HOLE) == want_hole, (mib, ext)
    pos += ln
    if pos >= 32 << 20:
        break
assert pos > 30 << 20, ext
err, _, ext = c.cmd(CMD_BLOCK_STATUS, 30 << 20, 2 << 20, F_REQ_ONE)
assert err == 0 and len(ext) == 1, ext
assert ext[0][0] <= 1 << 20 and not ext[0][1] & STATE_HOLE, ext
EOF

proto "TRIM, then the trimmed range is a hole (ram)" <<'EOF'
import os
from nbdproto import *
c = connect("ram", meta=True)
assert c.tflags & T_SEND_TRIM
assert c.write(40 << 20, os.urandom(1 << 20)) == 0
assert c.cmd(CMD_TRIM, 40 << 20, 1 << 20)[0] == 0
err, _, ext = c.cmd(CMD_BLOCK_STATUS, 40 << 20, 1 << 20)
assert err == 0 and all(fl & STATE_HOLE for ln, fl in ext), ext
EOF

# NO_HOLE: on ram the map must not show a hole afterwards; on a file
# SEEK_HOLE may call a zeroed-but-allocated (unwritten) extent a hole, so
# there the file's allocated blocks must not shrink instead.
for e in ram disk; do
	img=""
	[ $e = disk ] && img=$T/disk.img
	E=$e IMG=$img proto "$e: WRITE_ZEROES reads back zero; NO_HOLE deallocates nothing; FAST_ZERO is 0 or ENOTSUP" <<'EOF'
import os
from nbdproto import *
name, img = os.environ["E"], os.environ["IMG"]
c = connect(name, meta=True)
assert c.tflags & T_SEND_WRITE_ZEROES and c.tflags & T_SEND_FAST_ZERO
for flags, off in ((0, 44), (F_NO_HOLE, 46), (F_FAST_ZERO, 48), (F_FUA, 50)):
    assert c.write(off << 20, os.urandom(1 << 20), F_FUA) == 0
    blocks = os.stat(img).st_blocks if img else 0
    err = c.cmd(CMD_WRITE_ZEROES, off << 20, 1 << 20, flags)[0]
    if flags == F_FAST_ZERO and err == ENOTSUP:
        continue
    assert err == 0, (flags, err)
    assert c.read(off << 20, 1 << 20) == (0, bytes(1 << 20)), flags
    err, _, ext = c.cmd(CMD_BLOCK_STATUS, off << 20, 1 << 20)
    assert err == 0 and ext, ext
    assert all(fl & STATE_ZERO or not fl & STATE_HOLE for ln, fl in ext), ext
    if flags == F_NO_HOLE and img:
        after = os.stat(img).st_blocks
        assert after >= blocks, ("NO_HOLE deallocated", blocks, after)
    elif flags == F_NO_HOLE:
        assert not any(fl & STATE_HOLE for ln, fl in ext), ("NO_HOLE left a hole", ext)
EOF
done

proto "FUA write and FLUSH succeed" <<'EOF'
from nbdproto import *
c = connect("disk")
assert c.tflags & T_SEND_FUA and c.tflags & T_SEND_FLUSH
assert c.write(0, b"f" * 65536, F_FUA) == 0
assert c.cmd(CMD_FLUSH, 0, 0)[0] == 0
EOF
if cmp -s -n 65536 "$T/disk.img" <(head -c 65536 /dev/zero | tr '\0' f); then
	ok "the FUA write is in the backing file"
else
	not_ok "the FUA write is in the backing file"
fi

proto "out of range: READ past the end EINVAL, WRITE past the end ENOSPC/EINVAL, zero-length ok" <<'EOF'
from nbdproto import *
c = connect("ram")
size = c.size
assert c.read(size, 4096)[0] == EINVAL
assert c.read(size - 4096, 8192)[0] == EINVAL
assert c.read((1 << 64) - 4096, 8192)[0] in (EINVAL, EOVERFLOW)
assert c.write(size - 512, b"x" * 1024) in (ENOSPC, EINVAL)
assert c.cmd(CMD_TRIM, size, 4096)[0] in (ENOSPC, EINVAL)
assert c.cmd(CMD_WRITE_ZEROES, size - 4096, 8192)[0] in (ENOSPC, EINVAL)
assert c.read(size - 4096, 4096)[0] == 0
# still in sync
assert c.write(0, b"y" * 512) == 0
assert c.read(0, 512) == (0, b"y" * 512)
EOF

proto "READ larger than the maximum: error reply or disconnect, never data" <<'EOF'
from nbdproto import *
c = connect("ram")
h = c.request(CMD_READ, 0, (32 << 20) + 4096)
try:
    rh, err, d, _ = c.reply()
    assert rh == h and err in (EINVAL, EOVERFLOW, ENOMEM), err
    assert c.read(0, 512)[0] == 0
except EOFError:
    pass
EOF

proto "a 32 MiB READ and WRITE (the maximum) work" <<'EOF'
import os
from nbdproto import *
c = connect("ram")
data = os.urandom(32 << 20)
assert c.write(0, data) == 0
assert c.read(0, 32 << 20) == (0, data)
EOF

proto "unknown command EINVAL, unknown flag EINVAL; the connection goes on" <<'EOF'
from nbdproto import *
c = connect("ram")
assert c.cmd(0x55, 0, 0)[0] == EINVAL
assert c.cmd(CMD_READ, 0, 512, 0x4000)[0] == EINVAL
assert c.read(0, 512)[0] == 0
EOF

proto "read-only export: WRITE/TRIM/WRITE_ZEROES get EPERM, READ works" <<'EOF'
from nbdproto import *
c = connect("ro")
assert c.tflags & T_READ_ONLY
assert c.write(0, b"x" * 512) == EPERM
assert c.cmd(CMD_TRIM, 0, 512)[0] in (EPERM, EINVAL)
assert c.cmd(CMD_WRITE_ZEROES, 0, 512)[0] in (EPERM, EINVAL)
assert c.read(0, 512) == (0, bytes(512))
EOF

proto "64 pipelined requests (writes then reads, replies in any order)" <<'EOF'
import os
from nbdproto import *
c = connect("disk")
blocks = {i: os.urandom(256 << 10) for i in range(32)}
for i, b in blocks.items():
    c.request(CMD_WRITE, i * (256 << 10), len(b), 0, b)
for _ in blocks:
    h, err, _, _ = c.reply()
    assert err == 0, err
hs = {c.request(CMD_READ, i * (256 << 10), 256 << 10): i for i in blocks}
for _ in blocks:
    h, err, d, _ = c.reply()
    assert err == 0 and d == blocks[hs[h]], hs[h]
EOF

proto "DISC closes the connection after replies in flight" <<'EOF'
from nbdproto import *
c = connect("ram")
h = c.request(CMD_READ, 0, 1 << 20)
c.request(CMD_DISC, 0, 0)
rh, err, d, _ = c.reply()
assert rh == h and err == 0 and len(d) == 1 << 20
assert closed_by_peer(c.s)
EOF

iopd_alive "daemon alive after the protocol checks"
stop_iopd
done_testing
