#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile and broken peers must not take the daemon down: garbage bytes,
# truncated handshakes, a huge option length, bad request magic, a write
# with a huge length, a client vanishing mid-request, replies the client
# does not read, and 50 clients connecting at once.  After each, the
# daemon still answers nbdinfo; at the end it is alive and exits 0 on
# SIGTERM (with the ASan build: without a sanitizer report).
. "$(dirname "$0")/lib.sh"
require nbdinfo python3

start_iopd ram=ram:64M "other=null:1G" || { done_testing; exit 1; }

# abuse DESC <<'EOF' ... EOF: run a hostile client, then check the
# daemon still serves a fresh client.
abuse() {
	check "$1" nbdpy
	check "  ... then nbdinfo still works" t nbdinfo --size "$(uri_unix ram)"
}

abuse "garbage instead of client flags: connection closed" <<'EOF'
import os
from nbdproto import *
s = raw_socket()
s.sendall(os.urandom(4096))
assert closed_by_peer(s)
EOF

abuse "garbage after the flags (not IHAVEOPT): connection closed" <<'EOF'
import os
from nbdproto import *
c = Client().greet()
c.send(b"GET / HTTP/1.0\r\n\r\n" + os.urandom(2048))
assert closed_by_peer(c.s)
EOF

abuse "connect and close at once, without reading the greeting" <<'EOF'
from nbdproto import *
for _ in range(20):
    raw_socket().close()
EOF

abuse "truncated handshakes: 2 of 4 flag bytes, half an option header, half an option" <<'EOF'
import struct
from nbdproto import *
c = Client()
c.recv(18)
c.send(b"\0\0")
c.close()
c = Client().greet()
c.send(struct.pack(">Q", IHAVEOPT) + b"\0\0")
c.close()
c = Client().greet()
c.send(struct.pack(">QII", IHAVEOPT, OPT_GO, 100) + b"\0\0\0\x03ram")
c.close()
EOF

abuse "client flags the server did not offer: connection closed" <<'EOF'
import struct
from nbdproto import *
c = Client()
c.recv(18)
c.send(struct.pack(">I", 0xFFFF0000 | 3))
assert closed_by_peer(c.s)
EOF

abuse "huge option length (4 GiB - 16): error reply or close, no allocation" <<'EOF'
import struct
from nbdproto import *
c = Client().greet()
c.send(struct.pack(">QII", IHAVEOPT, OPT_GO, 0xFFFFFFF0) + b"x" * 1000)
try:
    opt, rtype, data = c.opt_reply()
    assert rtype & REP_ERR, hex(rtype)
except EOFError:
    pass
EOF

abuse "GO with lengths inside that disagree with the option length" <<'EOF'
import struct
from nbdproto import *
c = Client().greet()
# name length 1000 but option only 10 bytes long
c.opt_send(OPT_GO, struct.pack(">I", 1000) + b"ram" + b"\0\0\0")
try:
    opt, rtype, data = c.opt_reply()
    assert rtype in (REP_ERR_INVALID, REP_ERR_TOO_BIG), hex(rtype)
    c.go("ram")   # still usable
except EOFError:
    pass
EOF

abuse "1000 unknown options in a row: each NBD_REP_ERR_UNSUP, or a close once past a limit" <<'EOF'
from nbdproto import *
c = Client().greet()
try:
    for i in range(1000):
        c.opt_send(0x1000 + i, b"x" * 100)
    for i in range(1000):
        opt, rtype, data = c.opt_reply()
        assert rtype == REP_ERR_UNSUP, hex(rtype)
    c.go("ram")
except EOFError:
    print("closed after %d" % i)
EOF

abuse "request with bad magic: connection closed" <<'EOF'
import struct
from nbdproto import *
c = connect("ram")
c.send(struct.pack(">IHHQQI", 0xDEADBEEF, 0, CMD_READ, 1, 0, 512))
assert closed_by_peer(c.s)
EOF

abuse "WRITE claiming 2 GiB of payload: error or close" <<'EOF'
import struct
from nbdproto import *
c = connect("ram")
try:
    c.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 7, 0, 0x80000000))
    c.send(b"x" * 65536)
    c.pending[7] = (CMD_WRITE, 0)
    h, err, _, _ = c.reply()
    assert h == 7 and err in (EINVAL, EOVERFLOW, ENOMEM, ENOSPC), err
except EOFError:
    pass
EOF

abuse "WRITE of 48 MiB (over the 32 MiB maximum) with its payload: error or close" <<'EOF'
import struct, threading
from nbdproto import *
c = connect("ram")
try:
    c.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 9, 0, 48 << 20))
except EOFError:
    pass
def payload():
    try:
        c.send(b"w" * (48 << 20))
    except (EOFError, OSError):
        pass
t = threading.Thread(target=payload)
t.start()
try:
    c.pending[9] = (CMD_WRITE, 0)
    h, err, _, _ = c.reply()
    assert h == 9 and err in (EINVAL, EOVERFLOW, ENOMEM), err
except EOFError:
    pass
try:
    c.s.shutdown(2)
except OSError:
    pass
t.join(30)
assert not t.is_alive()
EOF

abuse "client vanishes mid-WRITE (header and half the payload)" <<'EOF'
import struct
from nbdproto import *
for _ in range(5):
    c = connect("ram")
    c.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 1, 0, 1 << 20))
    c.send(b"h" * (512 << 10))
    c.close()
EOF

abuse "client vanishes with 64 reads in flight, never reading replies" <<'EOF'
from nbdproto import *
c = connect("other")
for i in range(64):
    c.request(CMD_READ, i << 20, 1 << 20)
c.close()
EOF

abuse "client vanishes with writes in flight" <<'EOF'
import os
from nbdproto import *
c = connect("ram")
d = os.urandom(1 << 20)
for i in range(16):
    c.request(CMD_WRITE, i << 20, len(d), 0, d)
c.close()
EOF

abuse "half-closed client (shutdown of its sending side) after a request gets its reply" <<'EOF'
import socket
from nbdproto import *
c = connect("ram")
h = c.request(CMD_READ, 0, 4096)
c.s.shutdown(socket.SHUT_WR)
rh, err, d, _ = c.reply()
assert rh == h and err == 0 and len(d) == 4096
assert closed_by_peer(c.s)
EOF

abuse "50 clients at once: handshake, write, read back, disconnect" <<'EOF'
import os, threading
from nbdproto import *
errors = []
def one(i):
    try:
        c = connect("ram")
        d = os.urandom(4096)
        assert c.write(i * 65536, d) == 0
        assert c.read(i * 65536, 4096) == (0, d)
        if i % 2:
            assert c.disc()
        else:
            c.close()
    except Exception as e:
        errors.append("client %d: %r" % (i, e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(50)]
for t in ts:
    t.start()
for t in ts:
    t.join(60)
assert not any(t.is_alive() for t in ts), "clients hung"
assert not errors, errors
EOF

abuse "50 clients at once that connect and drop during the handshake" <<'EOF'
import threading
from nbdproto import *
def one(i):
    try:
        c = Client()
        if i % 3:
            c.recv(18)
        if i % 3 == 2:
            c.send(b"\0\0\0\3")
        c.close()
    except Exception:
        pass
ts = [threading.Thread(target=one, args=(i,)) for i in range(50)]
for t in ts:
    t.start()
for t in ts:
    t.join(60)
assert not any(t.is_alive() for t in ts)
EOF

check "nbdinfo over TCP at the end" t nbdinfo --size "$(uri_tcp ram)"
iopd_alive "daemon alive at the end"
stop_iopd
done_testing
