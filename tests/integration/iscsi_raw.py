# SPDX-License-Identifier: MIT
"""A minimal iSCSI initiator for tests: just the login phase (RFC 7143
section 11.12), with CHAP and mutual CHAP built by hand so a test can send
what libiscsi never would (short or reflected challenges).

    python3 iscsi_raw.py HOST:PORT TARGET USER SECRET [options]

Prints one line: "ok TSIH=n", "refused 0xSSSS", or "closed"; exits 0, 1
or 2 for them.  --mutual-challenge HEX sends that challenge, "reflect"
sends the target's own; --count N logs in N times and prints the rate;
--source ADDR binds the client there; --hold keeps a logged-in session
open until stdin closes; --isid HEX sets the ISID.  Importable: login()
returns the logged-in socket and its TSIH.
"""
import argparse
import hashlib
import os
import socket
import struct
import sys
import time
from peerio import recv_exact

INI = "iqn.2026-11.test.client:raw"


def pdu(flags, isid, text, itt, cmdsn=1, expstatsn=0, tsih=0):
    data = b"".join(k.encode() + b"=" + v.encode() + b"\0"
                    for k, v in text)
    bhs = bytearray(48)
    bhs[0] = 0x43
    bhs[1] = flags
    bhs[5:8] = len(data).to_bytes(3, "big")
    bhs[8:14] = isid
    bhs[14:16] = tsih.to_bytes(2, "big")
    bhs[16:20] = itt.to_bytes(4, "big")
    bhs[24:28] = cmdsn.to_bytes(4, "big")
    bhs[28:32] = expstatsn.to_bytes(4, "big")
    return bytes(bhs) + data + b"\0" * (-len(data) % 4)


def recv_pdu(s):
    bhs = recv_exact(s, 48)
    dlen = int.from_bytes(bhs[5:8], "big")
    data = recv_exact(s, dlen + (-dlen % 4))[:dlen]
    keys = {}
    for kv in data.split(b"\0"):
        if b"=" in kv:
            k, v = kv.split(b"=", 1)
            keys[k.decode()] = v.decode()
    return bhs, keys


class Refused(Exception):
    pass


def chap_md5(ident, secret, chal):
    return hashlib.md5(bytes([ident]) + secret.encode() + chal).digest()


def login(addr, target, user, secret, mutual=None, isid=None, source=None):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=60,
                                 source_address=(source, 0) if source else None)
    isid = isid or b"\x80" + os.urandom(5)
    itt = 1
    statsn = 0

    def step(flags, text):
        nonlocal itt, statsn
        s.sendall(pdu(flags, isid, text, itt, expstatsn=statsn))
        itt += 1
        bhs, keys = recv_pdu(s)
        statsn = int.from_bytes(bhs[24:28], "big") + 1
        st = bhs[36] << 8 | bhs[37]
        if st:
            raise Refused("0x%04x" % st)
        return bhs, keys

    try:
        _, k = step(0x81, [("InitiatorName", INI), ("TargetName", target),
                           ("SessionType", "Normal"),
                           ("AuthMethod", "CHAP")])
        _, k = step(0x01, [("CHAP_A", "5")])
        ident, chal = int(k["CHAP_I"]), bytes.fromhex(k["CHAP_C"][2:])
        text = [("CHAP_N", user),
                ("CHAP_R", "0x" + chap_md5(ident, secret, chal).hex())]
        if mutual is not None:
            mc = chal if mutual == "reflect" else bytes.fromhex(mutual)
            text += [("CHAP_I", "7"), ("CHAP_C", "0x" + mc.hex())]
        _, k = step(0x81, text)
        bhs, k = step(0x87, [("HeaderDigest", "None"),
                             ("DataDigest", "None")])
        return s, int.from_bytes(bhs[14:16], "big")
    except (Refused, EOFError, ConnectionError):
        s.close()
        raise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("target")
    ap.add_argument("user")
    ap.add_argument("secret")
    ap.add_argument("--mutual-challenge")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--source")
    ap.add_argument("--isid")
    ap.add_argument("--hold", action="store_true")
    a = ap.parse_args()
    isid = bytes.fromhex(a.isid) if a.isid else None
    res, code, t0 = "", 0, time.monotonic()
    for _ in range(a.count):
        try:
            s, tsih = login(a.addr, a.target, a.user, a.secret,
                            a.mutual_challenge, isid, a.source)
            res, code = "ok TSIH=%d" % tsih, 0
            if a.hold:
                print(res, flush=True)
                sys.stdin.read()
            s.close()
        except Refused as e:
            res, code = "refused %s" % e, 1
        except (EOFError, ConnectionError):
            res, code = "closed", 2
    dt = time.monotonic() - t0
    if a.count > 1:
        print("%s; %d logins in %.3f s (%.1f/s)" % (res, a.count, dt,
                                                  a.count / dt))
    elif not a.hold:
        print(res)
    return code


if __name__ == "__main__":
    sys.exit(main())
