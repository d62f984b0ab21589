# SPDX-License-Identifier: MIT
"""A minimal iSCSI initiator for persistent reservation tests: logs in
without authentication as INITIATOR with a fixed ISID (one initiator
port, so registrations made by one run are found by the next), clears
the power-on unit attention with TEST UNIT READY, runs one command, logs
out by closing.

    python3 iscsi_pr.py HOST:PORT TARGET INITIATOR COMMAND [ARGS]

Commands (keys in hex, types as SPC-4 codes 1, 3, 5, 6, 7, 8):
    register SAKEY [aptpl]        REGISTER AND IGNORE EXISTING KEY
    reserve KEY TYPE              release KEY TYPE
    clear KEY                     preempt KEY SAKEY TYPE [abort]
    status                        READ FULL STATUS, as JSON
    write LBA                     read LBA       (one 512-byte block)
    reserve6                      release6
    hold-reserve6                 RESERVE(6), print its status, and keep
                                  the session until the target closes it
    zero COUNT                    write zeroes to blocks 0..COUNT-1
    reset-seen INI2 HOST2:PORT2   hold this session; INI2 sends LOGICAL
                                  UNIT RESET through HOST2, then TEST
                                  UNIT READY here: prints "tmf=R" (the
                                  TMF response) before the status
    target-reset-seen INI2 HOST2:PORT2
                                  the same with TARGET WARM RESET
    tmf FUNC                      a task management function on LUN 0
                                  (5 LUN reset, 6 target warm reset):
                                  prints "tmf=R", its response
    stream SECONDS                WRITE(10) blocks 0..63 in a loop, until
                                  a status other than GOOD (a unit
                                  attention is passed over); prints
                                  "streaming" after the first write
Prints "status=0xSS [sense=K/ASCQ]" (and the JSON); exit status 0 if
the command got a SCSI status at all.  stream prints how many writes
succeeded and the status that stopped it.
"""
import json
import socket
import struct
import sys
import time
from peerio import recv_exact

ISID = bytes.fromhex("800000000001")


class Session:
    def __init__(self, addr, target, initiator):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=60)
        self.itt, self.statsn, self.cmdsn = 1, 0, 1
        self._login([("InitiatorName", initiator), ("TargetName", target),
                     ("SessionType", "Normal"), ("AuthMethod", "None")],
                    0x81)
        self._login([("HeaderDigest", "None"), ("DataDigest", "None"),
                      ("ImmediateData", "Yes"),
                      ("MaxRecvDataSegmentLength", "65536")], 0x87)

    def _login(self, text, flags):
        data = b"".join(k.encode() + b"=" + v.encode() + b"\0"
                        for k, v in text)
        bhs = bytearray(48)
        bhs[0], bhs[1] = 0x43, flags
        bhs[5:8] = len(data).to_bytes(3, "big")
        bhs[8:14] = ISID
        bhs[16:20] = self.itt.to_bytes(4, "big")
        bhs[24:28] = self.cmdsn.to_bytes(4, "big")
        bhs[28:32] = self.statsn.to_bytes(4, "big")
        self.s.sendall(bytes(bhs) + data + b"\0" * (-len(data) % 4))
        self.itt += 1
        rsp, _ = self._recv()
        if rsp[36] or rsp[37]:
            raise SystemExit("login refused: 0x%02x%02x" % (rsp[36], rsp[37]))
        self.statsn = int.from_bytes(rsp[24:28], "big") + 1
        self.cmdsn = int.from_bytes(rsp[28:32], "big")

    def _recv(self):
        bhs = recv_exact(self.s, 48)
        dlen = int.from_bytes(bhs[5:8], "big")
        data = recv_exact(self.s, dlen + (-dlen % 4))[:dlen]
        return bhs, data

    def _nop_reply(self, bhs):
        out = bytearray(48)
        out[0], out[1] = 0x40, 0x80
        out[16:20] = b"\xff\xff\xff\xff"
        out[20:24] = bhs[20:24]
        out[24:28] = self.cmdsn.to_bytes(4, "big")
        out[28:32] = self.statsn.to_bytes(4, "big")
        self.s.sendall(bytes(out))

    def command(self, cdb, data_out=b"", data_in_len=0):
        """Returns (status, sense bytes, data-in)."""
        bhs = bytearray(48)
        bhs[0] = 0x01
        bhs[1] = 0x80 | (0x40 if data_in_len else 0) | \
            (0x20 if data_out else 0) | 0x01
        bhs[5:8] = len(data_out).to_bytes(3, "big")
        bhs[16:20] = self.itt.to_bytes(4, "big")
        bhs[20:24] = (len(data_out) or data_in_len).to_bytes(4, "big")
        bhs[24:28] = self.cmdsn.to_bytes(4, "big")
        bhs[28:32] = self.statsn.to_bytes(4, "big")
        bhs[32:32 + len(cdb)] = cdb
        self.itt += 1
        self.cmdsn += 1
        self.s.sendall(bytes(bhs) + data_out + b"\0" * (-len(data_out) % 4))
        data_in = b""
        while True:
            rsp, data = self._recv()
            op = rsp[0] & 0x3f
            if op == 0x20:  # NOP-In: answer a ping
                if rsp[20:24] != b"\xff\xff\xff\xff":
                    self._nop_reply(rsp)
                continue
            if op == 0x25:  # Data-In
                data_in += data
                if rsp[1] & 0x01:
                    self.statsn = int.from_bytes(rsp[24:28], "big") + 1
                    return rsp[3], b"", data_in
                continue
            if op == 0x21:  # SCSI Response
                self.statsn = int.from_bytes(rsp[24:28], "big") + 1
                sense = data[2:2 + int.from_bytes(data[:2], "big")] \
                    if len(data) >= 2 else b""
                return rsp[3], sense, data_in
            raise SystemExit("unexpected PDU opcode 0x%02x" % op)


def logout_reserve6(sess, target, addr2, ini2):
    """RESERVE(6) through sess, log it out, and RESERVE(6) from another
    initiator the moment the logout response arrives, sess's socket left
    open: the nexus ends at the response, not when the socket closes."""
    st, sense, _ = sess.command(bytes([0x16]) + bytes(5))
    if st:
        return st, sense
    other = Session(addr2, target, ini2)
    other.command(bytes(6))  # its power-on unit attention
    bhs = bytearray(48)
    bhs[0], bhs[1] = 0x46, 0x80  # immediate Logout, close the session
    bhs[16:20] = sess.itt.to_bytes(4, "big")
    bhs[24:28] = sess.cmdsn.to_bytes(4, "big")
    bhs[28:32] = sess.statsn.to_bytes(4, "big")
    sess.s.sendall(bytes(bhs))
    rsp, _ = sess._recv()
    if rsp[0] & 0x3f != 0x26 or rsp[2]:
        raise SystemExit("logout refused: %r" % bytes(rsp[:4]))
    st, sense, _ = other.command(bytes([0x16]) + bytes(5))
    if st == 0:
        other.command(bytes([0x17]) + bytes(5))
    return st, sense


def lun_reset(sess, func=5):
    """LOGICAL UNIT RESET of LUN 0 (immediate), or another TMF (func 6:
    TARGET WARM RESET): the TMF response."""
    bhs = bytearray(48)
    bhs[0], bhs[1] = 0x42, 0x80 | func
    bhs[16:20] = sess.itt.to_bytes(4, "big")
    bhs[20:24] = b"\xff\xff\xff\xff"
    bhs[24:28] = sess.cmdsn.to_bytes(4, "big")
    bhs[28:32] = sess.statsn.to_bytes(4, "big")
    sess.itt += 1
    sess.s.sendall(bytes(bhs))
    while True:
        rsp, _ = sess._recv()
        if rsp[0] & 0x3f == 0x20:
            if rsp[20:24] != b"\xff\xff\xff\xff":
                sess._nop_reply(rsp)
            continue
        if rsp[0] & 0x3f != 0x22:
            raise SystemExit("unexpected PDU opcode 0x%02x" % rsp[0])
        sess.statsn = int.from_bytes(rsp[24:28], "big") + 1
        return rsp[2]


def reset_seen(sess, target, addr2, ini2, func=5):
    """A LUN RESET (or func) through another session (another gateway):
    the unit attention this one sees next."""
    other = Session(addr2, target, ini2)
    other.command(bytes(6))  # its power-on unit attention
    print("tmf=%d" % lun_reset(other, func), flush=True)
    st, sense, _ = sess.command(bytes(6))
    return st, sense


def prout(sa, key=0, sakey=0, typ=0, aptpl=False):
    param = struct.pack(">QQIBBH", key, sakey, 0, 1 if aptpl else 0, 0, 0)
    cdb = struct.pack(">BBBHIB", 0x5f, sa, typ, 0, len(param), 0)
    return cdb, param


def full_status(data):
    gen, n = struct.unpack(">II", data[:8])
    out = {"generation": gen, "registrations": []}
    off = 8
    while off < 8 + n:
        key = struct.unpack(">Q", data[off:off + 8])[0]
        flags, typ = data[off + 12], data[off + 13]
        rel = struct.unpack(">H", data[off + 18:off + 20])[0]
        tlen = struct.unpack(">I", data[off + 20:off + 24])[0]
        tid = data[off + 28:off + 24 + tlen].split(b"\0")[0].decode()
        out["registrations"].append({
            "key": "%x" % key, "holder": bool(flags & 1),
            "all_tg_pt": bool(flags & 2), "type": typ if flags & 1 else 0,
            "rel_port_id": rel, "initiator": tid})
        off += 24 + tlen
    return out


def report(st, sense):
    text = "status=0x%02x" % st
    if sense:
        key = sense[2] & 0x0f if sense[0] & 0x7f in (0x70, 0x71) \
            else sense[1] & 0x0f
        asc = sense[12:14] if sense[0] & 0x7f in (0x70, 0x71) else sense[2:4]
        text += " sense=%x/%02x%02x" % (key, asc[0], asc[1])
    print(text, flush=True)


def stream(sess, seconds):
    """Writes until a status other than GOOD or a unit attention."""
    end, n, lba = time.monotonic() + seconds, 0, 0
    block = b"\xa5" * 512
    while time.monotonic() < end:
        cdb = struct.pack(">BBIBHB", 0x2a, 0, lba, 0, 1, 0)
        st, sense, _ = sess.command(cdb, data_out=block)
        if st == 0x02 and sense and (sense[2] & 0x0f) == 6:
            continue
        if st:
            print("writes=%d" % n)
            report(st, sense)
            return
        n += 1
        if n == 1:
            print("streaming", flush=True)
        lba = (lba + 1) % 64
    print("writes=%d" % n)
    report(0, b"")


def main():
    addr, target, ini, cmd = sys.argv[1:5]
    args = sys.argv[5:]
    sess = Session(addr, target, ini)
    sess.command(bytes(6))  # the power-on unit attention
    h = lambda v: int(v, 16)
    if cmd == "register":
        cdb, p = prout(6, sakey=h(args[0]), aptpl="aptpl" in args[1:])
    elif cmd in ("reserve", "release"):
        cdb, p = prout(1 if cmd == "reserve" else 2, key=h(args[0]),
                       typ=int(args[1]))
    elif cmd == "clear":
        cdb, p = prout(3, key=h(args[0]))
    elif cmd == "preempt":
        cdb, p = prout(5 if "abort" in args[3:] else 4, key=h(args[0]),
                       sakey=h(args[1]), typ=int(args[2]))
    elif cmd == "status":
        cdb, p = struct.pack(">BBIBHB", 0x5e, 3, 0, 0, 8192, 0), b""
        st, sense, data = sess.command(cdb, data_in_len=8192)
        report(st, sense)
        if st == 0:
            print(json.dumps(full_status(data), sort_keys=True))
        return 0
    elif cmd in ("write", "read"):
        op = 0x2a if cmd == "write" else 0x28
        cdb = struct.pack(">BBIBHB", op, 0, int(args[0]), 0, 1, 0)
        st, sense, _ = sess.command(cdb, data_out=b"\x5a" * 512
                                    if cmd == "write" else b"",
                                    data_in_len=512 if cmd == "read" else 0)
        report(st, sense)
        return 0
    elif cmd in ("reserve6", "release6"):
        cdb, p = bytes([0x16 if cmd == "reserve6" else 0x17]) + bytes(5), b""
    elif cmd == "zero":
        for lba in range(int(args[0])):
            cdb = struct.pack(">BBIBHB", 0x2a, 0, lba, 0, 1, 0)
            st, sense, _ = sess.command(cdb, data_out=bytes(512))
            if st:
                break
        report(st, sense)
        return 0
    elif cmd == "hold-reserve6":
        report(*sess.command(bytes([0x16]) + bytes(5))[:2])
        try:
            while sess.s.recv(4096):
                pass
        except OSError:
            pass
        return 0
    elif cmd == "logout-reserve6":
        report(*logout_reserve6(sess, target, args[1], args[0]))
        return 0
    elif cmd == "tmf":
        print("tmf=%d" % lun_reset(sess, int(args[0])))
        return 0
    elif cmd in ("reset-seen", "target-reset-seen"):
        report(*reset_seen(sess, target, args[1], args[0],
                           6 if cmd.startswith("target") else 5))
        return 0
    elif cmd == "stream":
        stream(sess, float(args[0]))
        return 0
    else:
        raise SystemExit("unknown command " + cmd)
    st, sense, _ = sess.command(cdb, data_out=p)
    report(st, sense)
    return 0


if __name__ == "__main__":
    sys.exit(main())
