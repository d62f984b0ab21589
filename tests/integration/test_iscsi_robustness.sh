#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_robustness.sh: bad iSCSI input, from the login phase on, sent
# by a small raw-socket client (python3, no extra modules).  Each case
# must end in a Reject PDU, a Login Response with an error status, or the
# target closing the connection, within a few seconds (a target that
# waits forever for bytes it should have refused fails).  Afterwards the
# daemon must still serve iSCSI (iscsi-inq) and NBD (nbdinfo), and exit
# cleanly with no sanitizer report.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"

require python3 iscsi-inq nbdinfo

start_iopd --iscsi-listen 127.0.0.1:0 disk=ram:16M || {
	done_testing
	exit 1
}
[ -n "$IOPD_ISCSI" ] || not_ok "iopd announced its iSCSI portal" "no LISTEN iscsi line"

cat >"$T/iscsiraw.py" <<'EOF'
"""iscsiraw: a minimal raw iSCSI initiator (RFC 7143) for crafting bad
input.  Every case prints one line: PASS <desc> | FAIL <desc> | <why>."""
import os, socket, struct, sys

HOST, PORT = os.environ["ISCSI_PORTAL"].rsplit(":", 1)
PORT = int(PORT)
TARGET = os.environ["ISCSI_TARGET"]
INIT = "iqn.2026-11.test.iopd:robustness"
ISID = bytes([0x80, 0x00, 0x12, 0x34, 0x00, 0x01])
WAIT = float(os.environ.get("ISCSI_WAIT", "10"))

OP_NOP_OUT, OP_SCSI_CMD, OP_LOGIN, OP_TEXT, OP_DATA_OUT = 0x00, 0x01, 0x03, 0x04, 0x05
OP_NOP_IN, OP_SCSI_RSP, OP_LOGIN_RSP, OP_REJECT = 0x20, 0x21, 0x23, 0x3F


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def connect():
    s = socket.create_connection((HOST, PORT), WAIT)
    s.settimeout(WAIT)
    return s


def bhs(op, flags, dlen, rest=b"", spec=None):
    """48-byte header: opcode, flags, DataSegmentLength, then bytes 8..47
    from rest (zero padded); spec (bytes 2..3) optional."""
    b = bytearray(48)
    b[0] = op
    b[1] = flags
    if spec:
        b[2:4] = spec
    b[5:8] = dlen.to_bytes(3, "big")
    b[8:8 + len(rest)] = rest
    return b


def login_pdu(keys, csg, nsg, transit=True, cont=False, expstatsn=0,
              dlen=None, op=OP_LOGIN | 0x40):
    data = keys if isinstance(keys, bytes) else keys.encode()
    b = bhs(op, (0x80 if transit else 0) | (0x40 if cont else 0) |
            (csg << 2) | nsg, len(data) if dlen is None else dlen)
    b[8:14] = ISID
    b[16:20] = (1).to_bytes(4, "big")      # ITT
    b[24:28] = (1).to_bytes(4, "big")      # CmdSN
    b[28:32] = expstatsn.to_bytes(4, "big")
    return bytes(b) + pad4(data)


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        try:
            b = s.recv(n - len(out))
        except (ConnectionResetError, BrokenPipeError):
            b = b""
        if not b:
            return None
        out += b
    return bytes(out)


def crc32c(b):
    """CRC32C (Castagnoli), as iSCSI digests use it (RFC 7143 13.1)."""
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def hdigest(h):
    return crc32c(h).to_bytes(4, "little")


def recv_pdu(s, hd=False):
    """(header, data), None on EOF; socket.timeout propagates.  With hd,
    the header digest is read and must match."""
    h = recv_exact(s, 48)
    if h is None:
        return None
    if hd:
        dg = recv_exact(s, 4)
        if dg is None:
            return None
        if dg != hdigest(h):
            raise RuntimeError("bad header digest from the target")
    n = h[4] * 4 + int.from_bytes(h[5:8], "big")
    d = recv_exact(s, n + (-n % 4)) if n else b""
    if d is None:
        return None
    return h, d[h[4] * 4:h[4] * 4 + int.from_bytes(h[5:8], "big")]


def send(s, b):
    try:
        s.sendall(b)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def outcome(s):
    """How the target reacted: 'disconnect', 'reject', 'login-error a/b',
    or a failure: 'accepted ...', 'no answer'."""
    try:
        while True:
            p = recv_pdu(s)
            if p is None:
                return "disconnect"
            h, d = p
            op = h[0] & 0x3F
            if op == OP_REJECT:
                return "reject (reason 0x%02x)" % h[2]
            if op == OP_LOGIN_RSP:
                if h[36] != 0:
                    return "login-error %d/%d" % (h[36], h[37])
                return "accepted: login response status 0 %r" % d[:120]
            if op == OP_NOP_IN:
                continue
            return "accepted: opcode 0x%02x" % op
    except socket.timeout:
        return "no answer within %gs" % WAIT
    except OSError as e:
        return "disconnect (%s)" % e


def refused(desc, s, allow=("disconnect", "reject", "login-error")):
    r = outcome(s)
    s.close()
    if r.startswith(allow):
        print("PASS %s (%s)" % (desc, r))
    else:
        print("FAIL %s | %s" % (desc, r))


def keys(*pairs):
    return b"".join(k + b"\0" for k in pairs)


SEC = [b"InitiatorName=" + INIT.encode(), b"SessionType=Normal",
       b"TargetName=" + TARGET.encode(), b"AuthMethod=None"]
OPS = [b"HeaderDigest=None", b"DataDigest=None",
       b"MaxRecvDataSegmentLength=65536", b"InitialR2T=Yes",
       b"ImmediateData=Yes", b"MaxBurstLength=262144",
       b"FirstBurstLength=65536", b"MaxOutstandingR2T=1",
       b"DataPDUInOrder=Yes", b"DataSequenceInOrder=Yes",
       b"DefaultTime2Wait=0", b"DefaultTime2Retain=0",
       b"ErrorRecoveryLevel=0", b"MaxConnections=1"]


class Session:
    """A logged-in normal session (security then operational stage)."""

    def __init__(self, hd=False):
        self.s = connect()
        self.statsn = 0
        self.cmdsn = 1
        self.itt = 0x100
        self.hd = False
        p = self.step(keys(*SEC), 0, 1)
        ops = OPS if not hd else [b"HeaderDigest=CRC32C"] + OPS[1:]
        p = self.step(keys(*ops), 1, 3)
        if hd:
            if b"HeaderDigest=CRC32C" not in p[1]:
                raise RuntimeError("target did not accept HeaderDigest=CRC32C: %r"
                                   % p[1][:300])
            self.hd = True
        for _ in range(4):      # the target may want another round
            h = p[0]
            if h[1] & 0x80 and h[1] & 3 == 3:
                break
            p = self.step(b"", 1, 3)
        else:
            raise RuntimeError("login never reached full feature phase")
        self.cmdsn = int.from_bytes(p[0][28:32], "big")  # ExpCmdSN

    def step(self, data, csg, nsg):
        self.s.sendall(login_pdu(data, csg, nsg, expstatsn=self.statsn))
        p = recv_pdu(self.s)
        if p is None:
            raise RuntimeError("closed during login")
        h, d = p
        if h[0] & 0x3F != OP_LOGIN_RSP or h[36] != 0:
            raise RuntimeError("login refused: opcode 0x%02x status %d/%d %r"
                               % (h[0], h[36], h[37], d[:200]))
        self.statsn = int.from_bytes(h[24:28], "big") + 1
        return p

    def scsi(self, cdb, read_len=0, dlen_override=None, data=b""):
        self.itt += 1
        b = bhs(OP_SCSI_CMD, 0x80 | (0x40 if read_len else 0) |
                (0x20 if data else 0) | 1,
                len(data) if dlen_override is None else dlen_override)
        b[16:20] = self.itt.to_bytes(4, "big")
        b[20:24] = (read_len or len(data)).to_bytes(4, "big")
        b[24:28] = self.cmdsn.to_bytes(4, "big")
        b[28:32] = self.statsn.to_bytes(4, "big")
        b[32:32 + len(cdb)] = cdb
        self.cmdsn += 1
        return bytes(b) + pad4(data)

    def nop_out(self, bad_digest=False):
        self.itt += 1
        b = bhs(OP_NOP_OUT | 0x40, 0x80, 0)
        b[16:20] = self.itt.to_bytes(4, "big")
        b[20:24] = b"\xff\xff\xff\xff"
        b[24:28] = self.cmdsn.to_bytes(4, "big")
        b[28:32] = self.statsn.to_bytes(4, "big")
        b = bytes(b)
        if self.hd:
            dg = bytearray(hdigest(b))
            if bad_digest:
                dg[0] ^= 0xFF
            b += bytes(dg)
        return b

    def ping(self):
        """NOP-Out with a reply wanted; True if the NOP-In comes back."""
        b = self.nop_out()
        if not send(self.s, b):
            return False
        try:
            while True:
                p = recv_pdu(self.s, self.hd)
                if p is None:
                    return False
                if p[0][0] & 0x3F == OP_NOP_IN and p[0][16:20] == b[16:20]:
                    return True
        except OSError:
            return False


def case_sanity():
    try:
        ss = Session()
        ss.s.sendall(ss.scsi(b"\x00" * 6))       # TEST UNIT READY
        while True:
            p = recv_pdu(ss.s)
            if p is None:
                raise RuntimeError("closed after TEST UNIT READY")
            if p[0][0] & 0x3F == OP_SCSI_RSP:
                break
        ok = ss.ping()
        ss.s.close()
        print(("PASS" if ok else "FAIL") +
              " the raw client logs in, gets a SCSI Response to TEST UNIT "
              "READY and a NOP-In" + ("" if ok else " | no NOP-In"))
    except Exception as e:
        print("FAIL the raw client logs in and gets a SCSI Response | %s" % e)


def case_garbage():
    s = connect()
    send(s, bytes([0x3E, 0xFF] + [0xA5] * 62))
    refused("64 bytes of garbage before login", s)


def case_scsi_before_login():
    s = connect()
    b = bhs(OP_SCSI_CMD, 0x80 | 1, 0)
    b[20:24] = (512).to_bytes(4, "big")
    b[32] = 0x28          # READ(10)
    send(s, bytes(b))
    refused("a SCSI command before login", s)


def case_text_before_login():
    s = connect()
    d = b"SendTargets=All\0"
    b = bhs(OP_TEXT | 0x40, 0x80, len(d))
    b[16:20] = (7).to_bytes(4, "big")
    b[20:24] = b"\xff\xff\xff\xff"
    send(s, bytes(b) + pad4(d))
    refused("a Text request before login", s)


def case_huge_login_dsl():
    s = connect()
    send(s, login_pdu(b"", 0, 1, dlen=0xFFFFFF))
    refused("a login PDU announcing a 16 MiB data segment", s)


def case_bad_key(desc, data):
    s = connect()
    send(s, login_pdu(keys(*SEC[:3]) + data, 0, 1))
    refused(desc, s)


def case_long_key():
    """300 kB of key text over continuation (C bit) login PDUs."""
    s = connect()
    blob = b"X" * (300 * 1024) + b"=1\0"
    first = keys(*SEC)
    chunks = [first + blob[:8192 - len(first)]]
    rest = blob[8192 - len(first):]
    while rest:
        chunks.append(rest[:8192])
        rest = rest[8192:]
    for i, c in enumerate(chunks):
        last = i == len(chunks) - 1
        if not send(s, login_pdu(c, 0, 1, transit=last, cont=not last)):
            print("PASS a 300 kB key (closed after %d of %d PDUs)"
                  % (i, len(chunks)))
            s.close()
            return
        if not last:
            try:
                p = recv_pdu(s)
            except socket.timeout:
                print("FAIL a 300 kB key | no answer to continuation PDU %d" % i)
                s.close()
                return
            if p is None:
                print("PASS a 300 kB key (disconnect after %d of %d PDUs)"
                      % (i + 1, len(chunks)))
                s.close()
                return
            h = p[0]
            if h[0] & 0x3F == OP_REJECT or (h[0] & 0x3F == OP_LOGIN_RSP and h[36]):
                print("PASS a 300 kB key (refused after %d of %d PDUs: "
                      "status %d/%d)" % (i + 1, len(chunks), h[36], h[37]))
                s.close()
                return
    refused("a 300 kB key", s)


def case_long_name(which):
    name = "iqn.2026-11.test.iopd:" + "n" * 1000
    sec = [b"InitiatorName=" + (name if which == "InitiatorName" else INIT).encode(),
           b"SessionType=Normal",
           b"TargetName=" + (name if which == "TargetName" else TARGET).encode(),
           b"AuthMethod=None"]
    s = connect()
    send(s, login_pdu(keys(*sec), 0, 1))
    refused("a %d-byte %s" % (len(name), which), s)


def case_missing_initiator():
    s = connect()
    send(s, login_pdu(keys(*SEC[1:]), 0, 1))
    refused("a login without InitiatorName", s)


def case_bad_version():
    s = connect()
    p = bytearray(login_pdu(keys(*SEC), 0, 1))
    p[2] = p[3] = 0x7F            # VersionMax/VersionMin
    send(s, bytes(p))
    refused("a login with an unsupported version", s)


def in_session(desc, pdu_fn, still_usable_ok=True):
    try:
        ss = Session()
    except Exception as e:
        print("FAIL %s | could not log in: %s" % (desc, e))
        return
    send(ss.s, pdu_fn(ss))
    refused(desc, ss.s)


def unknown_opcode(ss):
    b = bhs(0x0B, 0x80, 0)
    b[16:20] = (0x4242).to_bytes(4, "big")
    b[24:28] = ss.cmdsn.to_bytes(4, "big")
    b[28:32] = ss.statsn.to_bytes(4, "big")
    return bytes(b)


def data_out_no_task(ss):
    b = bhs(OP_DATA_OUT, 0x80, 512)
    b[16:20] = (0xDEAD).to_bytes(4, "big")      # ITT of no task
    b[20:24] = (0xBEEF).to_bytes(4, "big")      # TTT never given
    b[28:32] = ss.statsn.to_bytes(4, "big")
    return bytes(b) + b"\0" * 512


def huge_ffp_dsl(ss):
    # WRITE(10) of 1 block announcing a 16 MiB immediate data segment
    return ss.scsi(b"\x2a\0\0\0\0\0\0\0\x01\0", dlen_override=0xFFFFFF)


def login_again(ss):
    return login_pdu(keys(*SEC), 0, 1, expstatsn=ss.statsn)


def snack(ss):
    b = bhs(0x10, 0x80, 0)                 # SNACK: needs ERL > 0
    b[16:20] = b"\xff\xff\xff\xff"
    b[28:32] = ss.statsn.to_bytes(4, "big")
    return bytes(b)


def case_digests():
    """CRC32C header digests: a good one is answered, a bad one ends the
    connection (RFC 7143 7.8: the header cannot be trusted)."""
    try:
        ss = Session(hd=True)
    except Exception as e:
        print("FAIL CRC32C header digests: login | %s" % e)
        return
    try:
        why = "" if ss.ping() else "no NOP-In"
    except Exception as e:
        why = str(e)
    if why:
        print("FAIL CRC32C header digests: NOP-Out answered | %s" % why)
    else:
        print("PASS CRC32C header digests: NOP-Out answered, digest checked")
    send(ss.s, ss.nop_out(bad_digest=True))
    refused("a PDU with a wrong header digest", ss.s)


def case_cmdsn_window():
    """A command far outside the CmdSN window is ignored (RFC 7143
    3.2.2.1), and the session goes on."""
    try:
        ss = Session()
    except Exception as e:
        print("FAIL a command outside the CmdSN window | could not log in: %s" % e)
        return
    ss.cmdsn += 1000000
    send(ss.s, ss.scsi(b"\x00" * 6))
    ss.cmdsn -= 1000001
    alive = ss.ping()
    ss.s.close()
    print(("PASS" if alive else "FAIL") + " a command outside the CmdSN "
          "window is ignored and the session still answers"
          + ("" if alive else " | no NOP-In afterwards"))


def case_nop_pings(interval, timeout):
    """The target pings a silent initiator with NOP-In (TTT != ffffffff):
    answered, the session lives on; ignored, it is dropped within
    interval + timeout (+ slack)."""
    import time
    ss = Session()
    ss.s.settimeout(interval + 5)
    answered = 0
    t0 = time.monotonic()
    try:
        while answered < 2:
            p = recv_pdu(ss.s)
            if p is None:
                raise RuntimeError("closed while answering pings")
            h = p[0]
            if h[0] & 0x3F != OP_NOP_IN or h[20:24] == b"\xff\xff\xff\xff":
                continue
            b = bhs(OP_NOP_OUT | 0x40, 0x80, 0)
            b[8:16] = h[8:16]
            b[16:20] = b"\xff\xff\xff\xff"
            b[20:24] = h[20:24]
            b[24:28] = ss.cmdsn.to_bytes(4, "big")
            b[28:32] = (int.from_bytes(h[24:28], "big") + 1).to_bytes(4, "big")
            ss.s.sendall(bytes(b))
            answered += 1
        alive = ss.ping()
        print(("PASS" if alive else "FAIL") + " NOP-In pings to an idle "
              "initiator, answered: the session lives on (%.1fs)"
              % (time.monotonic() - t0) + ("" if alive else " | no NOP-In to our ping"))
    except Exception as e:
        print("FAIL NOP-In pings to an idle initiator, answered | %s" % e)
    ss.s.close()
    ss = Session()
    ss.s.settimeout(1)
    t0 = time.monotonic()
    limit = interval + timeout + 5
    while time.monotonic() - t0 < limit:
        try:
            if ss.s.recv(65536) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    el = time.monotonic() - t0
    ss.s.close()
    if el < limit:
        print("PASS an initiator that ignores NOP-In pings is dropped "
              "(after %.1fs; interval %ds, timeout %ds)" % (el, interval, timeout))
    else:
        print("FAIL an initiator that ignores NOP-In pings is dropped | "
              "still connected after %.0fs" % el)


if os.environ.get("ISCSI_NOP"):
    i, t = os.environ["ISCSI_NOP"].split(",")
    case_nop_pings(int(i), int(t))
    sys.exit(0)

case_sanity()
case_garbage()
case_scsi_before_login()
case_text_before_login()
case_huge_login_dsl()
case_bad_key('a key "=" with no name', b"=\0")
case_bad_key('a key "NoEquals" without "="', b"NoEquals\0")
case_long_key()
case_long_name("InitiatorName")
case_long_name("TargetName")
case_missing_initiator()
case_bad_version()
in_session("an unknown opcode in full feature phase", unknown_opcode)
in_session("a Data-Out for no task", data_out_no_task)
in_session("a SCSI command announcing a 16 MiB data segment", huge_ffp_dsl)
in_session("a Login request in full feature phase", login_again)
in_session("a SNACK at ErrorRecoveryLevel 0", snack)
case_digests()
case_cmdsn_window()
EOF

ISCSI_PORTAL=$IOPD_ISCSI ISCSI_TARGET=$(iqn_of disk) t python3 "$T/iscsiraw.py" >"$T/raw.out" 2>&1
st=$?
while IFS= read -r line; do
	case $line in
	"PASS "*) ok "${line#PASS }" ;;
	"FAIL "*)
		d=${line#FAIL }
		not_ok "${d%% | *}" "${d#* | }"
		;;
	*) diag "$line" ;;
	esac
done <"$T/raw.out"
is "$st" 0 "the raw client ran to the end"

iopd_alive "iopd still running after the bad input"

# NOP-In pings (iscsi.nop_interval / nop_timeout): a second daemon with
# short ones.
cat >"$T/nop.json" <<EOF
{"listen": ["127.0.0.1:0"],
 "exports": [{"name": "disk", "ddm": "ram", "size": "16M"}],
 "iscsi": {"listen": "127.0.0.1:0", "nop_interval": 1, "nop_timeout": 2}}
EOF
NBD_TCP1=$IOPD_TCP ISCSI1=$IOPD_ISCSI PID1=$IOPD_PID
if start_iopd -c "$T/nop.json"; then
	ISCSI_NOP=1,2 ISCSI_PORTAL=$IOPD_ISCSI ISCSI_TARGET=$(iqn_of disk) \
		t python3 "$T/iscsiraw.py" >"$T/nop.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"PASS "*) ok "${line#PASS }" ;;
		"FAIL "*)
			d=${line#FAIL }
			not_ok "${d%% | *}" "${d#* | }"
			;;
		*) diag "$line" ;;
		esac
	done <"$T/nop.out"
	stop_iopd
fi
IOPD_TCP=$NBD_TCP1 IOPD_ISCSI=$ISCSI1 IOPD_PID=$PID1
check "iscsi-inq still answers" iscsi-inq "$(uri_iscsi "$(iqn_of disk)")"
check "NBD still serves" nbdinfo "$(uri_tcp disk)"
stop_iopd
done_testing
