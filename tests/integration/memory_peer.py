# SPDX-License-Identifier: MIT
# memory_peer.py: the peers of test_memory_bounds.sh.  Needs nbdproto
# (lib.sh's nbdpy module) on PYTHONPATH and NBD_SOCK for the NBD modes.
#
#   nbd-bomb EXPORT N LEN      READ N x LEN (simple replies: every reply
#                              needs a data buffer), never read a reply;
#                              READY, then hold until killed
#   iscsi-bomb PORTAL IQN N LEN  log in, READ(16) N x LEN bytes, never
#                              read a reply; READY, then hold
#   iscsi-write-pending PORTAL IQN LEN  a WRITE(16) of LEN whose data
#                              never comes, then two READ(16) of LEN;
#                              prints "STATUS <first> <second>" (the
#                              READs' SCSI status)
#   nbd-probe EXPORT N         N reads of 4 KiB one after the other;
#                              prints "READ <slowest ms> HANDSHAKE <ms>"
#   nbd-burst EXPORT N LEN     send N READs of LEN, then take every reply
#                              (iopd pauses and resumes in between);
#                              prints "DONE <replies>"
import os, signal, socket, struct, sys, time
from peerio import recv_exact

import nbdproto


def ready(*what):
    print("READY", *what, flush=True)


def hold_forever():
    while True:
        signal.pause()


def small_socket():
    """A Unix socket with small buffers, so the replies we never read
    stay in iopd rather than in the kernel."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(os.environ["NBD_SOCK"])
    s.settimeout(30)
    return s


def nbd_bomb(name, n, length):
    c = nbdproto.Client(small_socket()).greet()
    c.go(name)
    reqs = b"".join(struct.pack(">IHHQQI", nbdproto.REQUEST_MAGIC, 0,
                                nbdproto.CMD_READ, h, 0, length)
                    for h in range(1, n + 1))
    c.send(reqs)
    ready(n)
    hold_forever()


def nbd_probe(name, n):
    t0 = time.monotonic()
    c = nbdproto.connect(name)
    hs = (time.monotonic() - t0) * 1000
    worst = 0.0
    for i in range(n):
        t0 = time.monotonic()
        err, data = c.read(i * 4096, 4096)
        dt = (time.monotonic() - t0) * 1000
        if err or len(data) != 4096:
            print("ERROR", err, len(data), flush=True)
            return 1
        worst = max(worst, dt)
    c.disc()
    print("READ %.1f HANDSHAKE %.1f" % (worst, hs), flush=True)
    return 0


def nbd_burst(name, n, length):
    c = nbdproto.connect(name, structured=False)
    for _ in range(n):
        c.request(nbdproto.CMD_READ, 0, length)
    got = 0
    for _ in range(n):
        h, err, data, _ = c.reply()
        if err or len(data) != length:
            print("ERROR", err, len(data), flush=True)
            return 1
        got += 1
    c.disc()
    print("DONE", got, flush=True)
    return 0


# ---- iSCSI (RFC 7143): just enough to log in and send commands

OP_SCSI_CMD, OP_LOGIN = 0x01, 0x03
OP_SCSI_DATA_IN, OP_SCSI_RSP, OP_LOGIN_RSP = 0x25, 0x21, 0x23
ISID = bytes([0x80, 0x00, 0x4d, 0x45, 0x4d, 0x01])


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def recv_pdu(s):
    h = recv_exact(s, 48)
    n = h[4] * 4 + int.from_bytes(h[5:8], "big")
    d = recv_exact(s, n + (-n % 4)) if n else b""
    return h, d[h[4] * 4:n]


def login(s, target):
    statsn = 0
    stages = [(0, 1, ["InitiatorName=iqn.2026-12.test.iopd:memory",
                      "SessionType=Normal", "TargetName=" + target,
                      "AuthMethod=None"]),
              (1, 3, ["HeaderDigest=None", "DataDigest=None",
                      "MaxRecvDataSegmentLength=262144",
                      "ImmediateData=Yes", "InitialR2T=Yes",
                      "MaxBurstLength=16776192", "ErrorRecoveryLevel=0"])]
    for csg, nsg, keys in stages + [(1, 3, [])] * 3:
        data = "".join(k + "\0" for k in keys).encode()
        b = bytearray(48)
        b[0] = OP_LOGIN | 0x40
        b[1] = 0x80 | (csg << 2) | nsg
        b[5:8] = len(data).to_bytes(3, "big")
        b[8:14] = ISID
        b[16:20] = (1).to_bytes(4, "big")
        b[24:28] = (1).to_bytes(4, "big")
        b[28:32] = statsn.to_bytes(4, "big")
        s.sendall(bytes(b) + pad4(data))
        h, d = recv_pdu(s)
        if h[0] & 0x3F != OP_LOGIN_RSP or h[36] != 0:
            raise RuntimeError("login refused: %r" % d[:200])
        statsn = int.from_bytes(h[24:28], "big") + 1
        if h[1] & 0x80 and h[1] & 3 == 3:
            return statsn, int.from_bytes(h[28:32], "big")
    raise RuntimeError("login never reached full feature phase")


def scsi_cmd(itt, cmdsn, statsn, cdb, read_len):
    b = bytearray(48)
    b[0] = OP_SCSI_CMD
    b[1] = 0x80 | 0x40 | 1  # F, R, simple task attribute
    b[16:20] = itt.to_bytes(4, "big")
    b[20:24] = read_len.to_bytes(4, "big")
    b[24:28] = cmdsn.to_bytes(4, "big")
    b[28:32] = statsn.to_bytes(4, "big")
    b[32:32 + len(cdb)] = cdb
    return bytes(b)


def block_size(s, cmdsn, statsn):
    """READ CAPACITY(16): the logical block length, and the next CmdSN.
    Asked again after a CHECK CONDITION (the unit attention a new
    nexus gets first)."""
    cdb = bytes([0x9E, 0x10]) + bytes(8) + (32).to_bytes(4, "big") + bytes(2)
    for itt in range(1, 4):
        s.sendall(scsi_cmd(itt, cmdsn, statsn, cdb, 32))
        cmdsn += 1
        bs = None
        while True:
            h, d = recv_pdu(s)
            op = h[0] & 0x3F
            if op == OP_SCSI_DATA_IN and len(d) >= 12:
                bs = int.from_bytes(d[8:12], "big")
            if (op == OP_SCSI_DATA_IN and h[1] & 1) or op == OP_SCSI_RSP:
                break
        if bs:
            return bs, cmdsn
    raise RuntimeError("READ CAPACITY(16) failed")


def iscsi_bomb(portal, target, n, length):
    host, port = portal.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.settimeout(30)
    statsn, cmdsn = login(s, target)
    bs, cmdsn = block_size(s, cmdsn, statsn)
    cdb = bytes([0x88, 0]) + bytes(8) + (length // bs).to_bytes(4, "big") \
        + bytes(2)
    s.sendall(b"".join(scsi_cmd(0x100 + i, cmdsn + i, statsn, cdb, length)
                       for i in range(n)))
    ready(n)
    hold_forever()


def iscsi_connect(portal, target):
    host, port = portal.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), 30)
    statsn, cmdsn = login(s, target)
    bs, cmdsn = block_size(s, cmdsn, statsn)
    return s, statsn, cmdsn, bs


def iscsi_write_pending(portal, target, length):
    s, statsn, cmdsn, bs = iscsi_connect(portal, target)
    blocks = (length // bs).to_bytes(4, "big")
    w = bytearray(scsi_cmd(0x10, cmdsn, statsn,
                           bytes([0x8A, 0]) + bytes(8) + blocks + bytes(2),
                           length))
    w[1] = 0x80 | 0x20 | 1  # F, W: the data waits for our R2T
    rd = bytes([0x88, 0]) + bytes(8) + blocks + bytes(2)
    s.sendall(bytes(w) + scsi_cmd(0x11, cmdsn + 1, statsn, rd, length) +
              scsi_cmd(0x12, cmdsn + 2, statsn, rd, length))
    status = {}
    while len(status) < 2:
        h, d = recv_pdu(s)
        op, itt = h[0] & 0x3F, int.from_bytes(h[16:20], "big")
        if op == OP_SCSI_DATA_IN and h[1] & 1:
            status[itt] = h[3]
        elif op == OP_SCSI_RSP:
            status[itt] = h[3]
    print("STATUS %d %d" % (status.get(0x11, -1), status.get(0x12, -1)),
          flush=True)
    return 0


def main(argv):
    mode = argv[1]
    if mode == "nbd-bomb":
        nbd_bomb(argv[2], int(argv[3]), int(argv[4]))
    elif mode == "iscsi-bomb":
        iscsi_bomb(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif mode == "iscsi-write-pending":
        return iscsi_write_pending(argv[2], argv[3], int(argv[4]))
    elif mode == "nbd-burst":
        return nbd_burst(argv[2], int(argv[3]), int(argv[4]))
    elif mode == "nbd-probe":
        return nbd_probe(argv[2], int(argv[3]))
    else:
        print("unknown mode", mode, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
