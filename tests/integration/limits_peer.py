# SPDX-License-Identifier: MIT
# limits_peer.py: the misbehaving peers of test_mgmt_limits.sh and
# test_fd_exhaustion.sh.  Each mode prints "READY ..." on stdout once in
# place (the tests wait for that line, never for a time), then holds its
# sockets until killed, unless it measures something and exits.
#
#   hold HOST:PORT N [SRC]   open N TCP connections (from address SRC),
#                            send nothing; READY <connected>
#   hold-unix PATH N         the same on a Unix socket
#   eof HOST:PORT            one silent connection; prints the seconds
#                            until the server closes it
#   unread PATH N LINE       on a Unix socket, send LINE N times and never
#                            read the replies
#   silent-unix PATH         a server that accepts and never answers
#   silent-tcp               the same on 127.0.0.1, kernel-chosen port;
#                            READY <port>
import os, signal, socket, sys, time


def addr(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def ready(*what):
    print("READY", *what, flush=True)


def hold_forever():
    while True:
        signal.pause()


def hold(target, n, src=None, family=socket.AF_INET):
    socks, ok = [], 0
    for _ in range(n):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            if src:
                s.bind((src, 0))
            s.settimeout(5)
            s.connect(target)
            ok += 1
        except OSError:
            s.close()
            continue
        socks.append(s)
    ready(ok)
    hold_forever()


def eof(target):
    s = socket.create_connection(target)
    start = time.monotonic()
    s.settimeout(60)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    print("%.2f" % (time.monotonic() - start), flush=True)


def unread(path, n, line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.setblocking(False)
    data = (line + "\n").encode() * n
    sent = 0
    deadline = time.monotonic() + 5
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    ready(sent)
    hold_forever()


def silent(family, where):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind(where)
    srv.listen(16)
    port = srv.getsockname()[1] if family == socket.AF_INET else where
    ready(port)
    conns = []
    while True:
        c, _ = srv.accept()
        conns.append(c)


mode = sys.argv[1]
if mode == "hold":
    hold(addr(sys.argv[2]), int(sys.argv[3]),
         sys.argv[4] if len(sys.argv) > 4 else None)
elif mode == "hold-unix":
    hold(sys.argv[2], int(sys.argv[3]), family=socket.AF_UNIX)
elif mode == "eof":
    eof(addr(sys.argv[2]))
elif mode == "unread":
    unread(sys.argv[2], int(sys.argv[3]), sys.argv[4])
elif mode == "silent-unix":
    silent(socket.AF_UNIX, sys.argv[2])
elif mode == "silent-tcp":
    silent(socket.AF_INET, ("127.0.0.1", 0))
else:
    sys.exit("unknown mode " + mode)
