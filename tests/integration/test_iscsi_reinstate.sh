#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_reinstate.sh: session reinstatement (RFC 7143 §6.3.5;
# doc/security.md, "CHAP"), with raw logins (iscsi_raw.py):
#   - a second leading login with the same InitiatorName and ISID to the
#     same target replaces the first session: the target closes the first
#     connection (EOF within 5 s), the new session has another TSIH and
#     works (NOP-Out answered, clean logout), `iopctl conn list` shows one
#     iSCSI connection, and the log says "session reinstated";
#   - a login with a different ISID (negative control) leaves both
#     sessions open.
IOPD_TEST_TRANSPORTS="iscsi"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

require python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
TGT=iqn.2026-11.test.iopd:reinstate
BOB=bob-secret-456789

printf '%s' "$BOB" >"$T/bob.secret"
chmod 600 "$T/bob.secret"
# No NOP-In pings while the scenario waits on a socket.
cat >"$T/cfg.json" <<EOF
{
  "listen": [],
  "exports": [{"name": "a", "ddm": "ram", "size": "8M"}],
  "iscsi": {
    "listen": "127.0.0.1:0", "nop_interval": 60,
    "targets": [
      {"name": "$TGT", "luns": [{"export": "a"}],
       "chap": {"user": "bob", "secret_file": "$T/bob.secret"}}
    ]
  }
}
EOF

# The scenario, one "name value" line per observation.
cat >"$T/reinstate.py" <<'EOF'
import json, socket, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from iscsi_raw import login, recv_pdu

addr, tgt, secret, iopctl, mgmt = sys.argv[2:7]
ISID_A = bytes.fromhex("80aabbcc0001")
ISID_B = bytes.fromhex("80aabbcc0002")


def say(k, v):
    print(k, v, flush=True)


def state(s, wait):
    """"closed" if the target closed s within wait seconds, else "open"."""
    s.settimeout(wait)
    try:
        return "closed" if s.recv(4096) == b"" else "data"
    except socket.timeout:
        return "open"
    except ConnectionError:
        return "closed"


def iscsi_conns(want):
    """The number of iSCSI connections, polled for 5 s until it is want."""
    for _ in range(50):
        out = subprocess.run([iopctl, "-s", mgmt, "--json", "conn", "list"],
                             capture_output=True, check=True).stdout
        n = len([c for c in json.loads(out) if c["protocol"] == "iscsi"])
        if n == want:
            break
        time.sleep(0.1)
    return n


def request(s, op, flags, itt, extra=b""):
    bhs = bytearray(48)
    bhs[0] = 0x40 | op  # immediate
    bhs[1] = flags
    bhs[16:20] = itt.to_bytes(4, "big")
    bhs[20:24] = extra or b"\xff\xff\xff\xff"
    bhs[24:28] = (1).to_bytes(4, "big")  # CmdSN, not advanced
    s.settimeout(5)
    s.sendall(bytes(bhs))
    rsp, _ = recv_pdu(s)
    return rsp


def works(s):
    """A NOP-Out is answered, then the session logs out cleanly."""
    nop = request(s, 0x00, 0x80, 0x100)
    if nop[0] & 0x3f != 0x20:
        return "nop-0x%02x" % nop[0]
    out = request(s, 0x06, 0x80, 0x101, b"\0\0\0\0")  # close the session
    if out[0] & 0x3f != 0x26 or out[2] != 0:
        return "logout-0x%02x-%d" % (out[0], out[2])
    return "yes"


s1, t1 = login(addr, tgt, "bob", secret, isid=ISID_A)
s2, t2 = login(addr, tgt, "bob", secret, isid=ISID_A)
say("new_tsih", "yes" if t1 != t2 else "no")
say("first", state(s1, 5))
say("conns_same_isid", iscsi_conns(1))
s3, t3 = login(addr, tgt, "bob", secret, isid=ISID_B)
say("conns_other_isid", iscsi_conns(2))
say("second_after_other", state(s2, 1))
say("second_works", works(s2))
say("third_works", works(s3))
EOF

start_iopd -c "$T/cfg.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
check "the scenario runs" python3 "$T/reinstate.py" "$HERE" "$IOPD_ISCSI" \
	"$TGT" "$BOB" "$IOPCTL" "$T/mgmt.sock"
cp "$T/out" "$T/scenario.out"
val() { sed -n "s/^$1 //p" "$T/scenario.out"; }
is "$(val new_tsih)" yes "same ISID: the new session has a new TSIH"
is "$(val first)" closed "same ISID: the target closes the first connection"
is "$(val conns_same_isid)" 1 "same ISID: conn list shows one iSCSI session"
is "$(val conns_other_isid)" 2 "other ISID: both sessions stay"
is "$(val second_after_other)" open "other ISID: the reinstated session stays open"
is "$(val second_works)" yes "the reinstated session answers a NOP-Out and logs out"
is "$(val third_works)" yes "the other ISID's session answers a NOP-Out and logs out"
if grep -q 'session reinstated' "$IOPD_LOG"; then
	ok "the log says \"session reinstated\""
else
	not_ok "the log says \"session reinstated\"" "$(tail -n 20 "$IOPD_LOG")"
fi
is "$(grep -c 'session reinstated' "$IOPD_LOG")" 1 "... once"
stop_iopd
done_testing
