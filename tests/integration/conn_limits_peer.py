# SPDX-License-Identifier: MIT
# conn_limits_peer.py: the peers of test_conn_limits.sh, raw sockets only.
# Modes that hold connections print "READY <n>" once in place and hold
# them until killed; the others print one result line and exit.
#
#   nbd-hold HOST:PORT N [SRC]   N NBD connections (from address SRC) that
#                                got the greeting; READY <how many did>
#   iscsi-hold HOST:PORT N       N silent TCP connections; READY <n>
#   nbd-probe HOST:PORT [SRC]    "greeting" or "closed" (no byte, EOF)
#   iscsi-login HOST:PORT        a discovery Login; "status 0xCCDD", and
#                                if refused "closed" once the target closes
#   eof KIND HOST:PORT [N]       misbehave as KIND, print the seconds until
#                                the server closes (or "open" after LIMIT
#                                seconds): silent, half-option, options
#                                (send N+1 NBD_OPT_LIST, print "replies
#                                <k> closed"), write-stall, idle (NBD);
#                                drip (an iSCSI Login, a byte every 0.5 s)
import os, select, signal, socket, struct, sys, time
from peerio import recv_exact

LIMIT = float(os.environ.get("PEER_LIMIT", "30"))
NBDMAGIC, IHAVEOPT = 0x4E42444D41474943, 0x49484156454F5054
OPT_LIST, OPT_GO = 3, 7


def addr(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def connect(target, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(10)
    s.connect(target)
    return s


def greeting(s):
    """True if the 18-byte NBD greeting arrives, False on EOF."""
    try:
        g = recv_exact(s, 18)
    except (EOFError, OSError):
        return False
    return struct.unpack(">Q", g[:8])[0] == NBDMAGIC


def hold_forever(socks):
    print("READY", len(socks), flush=True)
    while True:
        signal.pause()


def wait_eof(s, start):
    """Seconds from start until the server closes s, or None."""
    s.settimeout(0.2)
    while time.monotonic() - start < LIMIT:
        try:
            if not s.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def report(t):
    print("open" if t is None else "%.2f" % t, flush=True)


def option(opt, data=b""):
    return struct.pack(">QII", IHAVEOPT, opt, len(data)) + data


def nbd_go(s):
    """Negotiate NBD_OPT_GO on the default export; transmission follows."""
    greeting(s)
    s.sendall(struct.pack(">I", 1) + option(OPT_GO, struct.pack(">IH", 0, 0)))
    while True:
        _, _, rtype, rlen = struct.unpack(">QIII", recv_exact(s, 20))
        recv_exact(s, rlen)
        if rtype == 1:  # NBD_REP_ACK
            return


def nbd_options(s, n):
    greeting(s)
    s.sendall(struct.pack(">I", 1))
    replies = 0
    for _ in range(n + 1):
        try:
            s.sendall(option(OPT_LIST))
            while True:
                _, _, rtype, rlen = struct.unpack(">QIII", recv_exact(s, 20))
                recv_exact(s, rlen)
                if rtype != 2:  # not NBD_REP_SERVER: the final reply
                    break
            replies += 1
        except (EOFError, OSError):
            break
    closed = wait_eof(s, time.monotonic()) is not None
    print("replies", replies, "closed" if closed else "open", flush=True)


def iscsi_login_pdu():
    data = b"InitiatorName=iqn.2024-01.test:peer\0SessionType=Discovery\0"
    data += b"\0" * (-len(data) % 4)
    bhs = struct.pack(">BBBBB3s6sHIHHII", 0x43, 0x87, 0, 0, 0,
                      len(data).to_bytes(3, "big"),
                      bytes([0x00, 0x02, 0x3D, 0, 0, 1]), 0, 1, 0, 0, 0, 0)
    bhs += b"\0" * (48 - len(bhs))
    return bhs + data


def iscsi_login(target):
    s = connect(target)
    s.sendall(iscsi_login_pdu())
    try:
        rsp = recv_exact(s, 48)
        print("status 0x%02x%02x" % (rsp[36], rsp[37]), flush=True)
    except (EOFError, OSError):
        print("closed", flush=True)
        return
    if rsp[36] == 0:
        return  # logged in: nothing more to see
    print("closed" if wait_eof(s, time.monotonic()) is not None else "open",
          flush=True)


def drip(s, start):
    pdu = iscsi_login_pdu()
    for b in pdu:
        try:
            s.send(bytes([b]))
        except OSError:
            return time.monotonic() - start
        r, _, _ = select.select([s], [], [], 0.5)
        if r:
            try:
                if not s.recv(4096):
                    return time.monotonic() - start
            except OSError:
                return time.monotonic() - start
        if time.monotonic() - start >= LIMIT:
            return None
    return wait_eof(s, start)


def eof(kind, target, n):
    s = connect(target)
    if kind == "options":
        return nbd_options(s, n)
    start = time.monotonic()
    if kind == "drip":
        return report(drip(s, start))
    if kind == "half-option":
        greeting(s)
        s.sendall(struct.pack(">I", 1) + option(OPT_LIST)[:10])
    elif kind in ("write-stall", "idle"):
        nbd_go(s)
        start = time.monotonic()
        if kind == "write-stall":
            s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 1, 0, 65536)
                      + b"x" * 1000)
    report(wait_eof(s, start))


def main():
    mode = sys.argv[1]
    if mode == "nbd-hold":
        socks = []
        for _ in range(int(sys.argv[3])):
            s = connect(addr(sys.argv[2]), sys.argv[4] if len(sys.argv) > 4 else None)
            if greeting(s):
                socks.append(s)
        hold_forever(socks)
    elif mode == "iscsi-hold":
        hold_forever([connect(addr(sys.argv[2]))
                      for _ in range(int(sys.argv[3]))])
    elif mode == "nbd-probe":
        s = connect(addr(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
        print("greeting" if greeting(s) else "closed", flush=True)
    elif mode == "iscsi-login":
        iscsi_login(addr(sys.argv[2]))
    elif mode == "eof":
        eof(sys.argv[2], addr(sys.argv[3]),
            int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    else:
        sys.exit("unknown mode " + mode)


main()
