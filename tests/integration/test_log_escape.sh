#!/bin/bash
# SPDX-License-Identifier: MIT
# Clean logs: text a peer chooses -- an NBD export name, an
# iSCSI TargetName, InitiatorName and CHAP_N -- reaches the log escaped
# (control bytes as \xNN, backslash doubled) and bounded: a peer cannot
# forge a log line or send a terminal escape through it.
# NBD export names and iSCSI names, both in one daemon.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"
require python3

# log_clean DESC WANT: the log has the escaped text WANT (fixed string),
# no line starting with the forged text, and no ESC byte.
log_clean() {
	if grep -qF -- "$2" "$IOPD_LOG"; then
		ok "$1: escaped in the log"
	else
		not_ok "$1: escaped in the log" "want: $2" "log:" "$(tail -n 5 "$IOPD_LOG" | cat -v)"
	fi
	if grep -q '^forged' "$IOPD_LOG"; then
		not_ok "$1: no forged line" "$(grep '^forged' "$IOPD_LOG" | cat -v)"
	else
		ok "$1: no forged line"
	fi
	if grep -q $'\x1b' "$IOPD_LOG"; then
		not_ok "$1: no ESC byte in the log" "$(grep $'\x1b' "$IOPD_LOG" | cat -v)"
	else
		ok "$1: no ESC byte in the log"
	fi
}

mkdir -p "$T/sec"
printf 'a-secret-of-16by\n' >"$T/sec/chap"
chmod 600 "$T/sec/chap"
cat >"$T/cfg.json" <<EOF
{ "listen": ["unix:$T/nbd.sock", "127.0.0.1:0"],
  "exports": [ { "name": "disk", "ddm": "ram", "size": "16M" },
               { "name": "locked", "ddm": "ram", "size": "16M" } ],
  "iscsi": { "listen": "127.0.0.1:0",
             "targets": [
               { "name": "iqn.2026-11.org.iopd:acl", "luns": [ { "export": "disk" } ],
                 "initiators": [ "iqn.2026-11.org.test:allowed" ] },
               { "name": "iqn.2026-11.org.iopd:chap", "luns": [ { "export": "locked" } ],
                 "chap": { "user": "alice", "secret_file": "$T/sec/chap" } } ] } }
EOF
start_iopd -c "$T/cfg.json" || {
	done_testing
	exit 1
}

# ---- NBD: NBD_OPT_EXPORT_NAME with an unknown, hostile name
check "NBD export name with \\n and \\x1b" nbdpy <<'EOF'
import nbdproto
c = nbdproto.Client().greet()
c.opt_send(nbdproto.OPT_EXPORT_NAME, b"x\nforged: error: root login\x1b[2J\\")
assert nbdproto.closed_by_peer(c.s)
EOF
log_clean "NBD export name" "no export 'x\\x0aforged: error: root login\\x1b[2J\\\\'"

# ---- iSCSI: a login whose keys carry the same
iscsi_login() {
	t python3 - "${IOPD_ISCSI%:*}" "${IOPD_ISCSI##*:}" "$@" <<'EOF'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
keys = [k.encode("latin-1") for k in sys.argv[3:]]
data = b"".join(k + b"\0" for k in keys)
b = bytearray(48)
b[0] = 0x43                      # Login request, immediate
b[1] = 0x80 | (0 << 2) | 1       # T, CSG security, NSG operational
b[5:8] = len(data).to_bytes(3, "big")
b[8:14] = bytes([0x80, 0, 0x12, 0x34, 0, 1])
b[16:20] = (1).to_bytes(4, "big")
s = socket.create_connection((host, port), timeout=10)
s.sendall(bytes(b) + data + b"\0" * (-len(data) % 4))
h = s.recv(48)
print("status", h[36:38].hex() if len(h) >= 38 else "none")
EOF
}
check "iSCSI login with TargetName holding \\n and \\x1b" iscsi_login \
	"InitiatorName=iqn.2026-11.org.test:allowed" "SessionType=Normal" \
	$'TargetName=iqn.x\nforged: target\x1b[31m' "AuthMethod=None"
log_clean "iSCSI TargetName" 'no target "iqn.x\x0aforged: target\x1b[31m"'
check "iSCSI login with InitiatorName holding \\n and \\x1b" iscsi_login \
	$'InitiatorName=iqn.evil\nforged: initiator\x1b[31m' "SessionType=Normal" \
	"TargetName=iqn.2026-11.org.iopd:acl" "AuthMethod=None"
log_clean "iSCSI InitiatorName" '"iqn.evil\x0aforged: initiator\x1b[31m" may not log in'

# CHAP_N: security stage, CHAP with MD5, then a hostile name.
check "iSCSI CHAP_N holding \\n and \\x1b" t python3 - "${IOPD_ISCSI%:*}" "${IOPD_ISCSI##*:}" <<'EOF'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])

def pdu(keys, itt, cmdsn, flags):
    data = b"".join(k + b"\0" for k in keys)
    b = bytearray(48)
    b[0] = 0x43
    b[1] = flags
    b[5:8] = len(data).to_bytes(3, "big")
    b[8:14] = bytes([0x80, 0, 0x12, 0x34, 0, 2])
    b[16:20] = itt.to_bytes(4, "big")
    b[24:28] = cmdsn.to_bytes(4, "big")
    return bytes(b) + data + b"\0" * (-len(data) % 4)

def rsp(s):
    h = b""
    while len(h) < 48:
        h += s.recv(48 - len(h))
    n = int.from_bytes(h[5:8], "big")
    d = b""
    while len(d) < n + (-n % 4):
        d += s.recv(n + (-n % 4) - len(d))
    return h, d[:n]

s = socket.create_connection((host, port), timeout=10)
s.sendall(pdu([b"InitiatorName=iqn.2026-11.org.test:c", b"SessionType=Normal",
               b"TargetName=iqn.2026-11.org.iopd:chap", b"AuthMethod=CHAP"], 1, 1, 0x00))
h, d = rsp(s)
s.sendall(pdu([b"CHAP_A=5"], 1, 1, 0x00))
h, d = rsp(s)
assert b"CHAP_C=" in d, d
s.sendall(pdu([b"CHAP_N=alice\nforged: chap\x1b[31m", b"CHAP_R=0x" + b"00" * 16], 1, 1, 0x81))
h, d = rsp(s)
print("status", h[36:38].hex())
assert h[36] == 2, h[36:38].hex()
EOF
log_clean "iSCSI CHAP_N" 'CHAP authentication of "alice\x0aforged: chap\x1b[31m" failed'

# A long name is cut, not written whole.
check "NBD export name of 4000 bytes" nbdpy <<'EOF'
import nbdproto
c = nbdproto.Client().greet()
c.opt_send(nbdproto.OPT_EXPORT_NAME, b"\n" * 4000)
assert nbdproto.closed_by_peer(c.s)
EOF
n=$(grep -c 'no export' "$IOPD_LOG")
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$IOPD_LOG")
if [ "$n" -ge 2 ] && [ "$longest" -lt 1024 ]; then
	ok "a 4000-byte name is cut (longest log line $longest bytes)"
else
	not_ok "a 4000-byte name is cut" "no export lines: $n, longest line: $longest"
fi
iopd_alive "iopd still runs"
stop_iopd
done_testing
