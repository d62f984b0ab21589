#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_access.sh: who may reach which export, per protocol.
#   - the shipped doc/iopd-iscsi.conf.example.json: its CHAP-protected
#     exports are iSCSI-only, so NBD cannot open, list or write them
#     (before they were: any local user read and wrote them over NBD),
#     while iSCSI with CHAP still reaches them;
#   - an NBD client asking for an iSCSI-only export: NBD_REP_ERR_UNKNOWN
#     at NBD_OPT_GO/INFO, a disconnect at NBD_OPT_EXPORT_NAME; an
#     NBD-only export is not mapped as a LUN;
#   - --listen none and "listen": [] bind no NBD port, iSCSI works;
#   - listener allow/deny lists refuse a client from 127.0.0.2 before any
#     byte, and serve 127.0.0.1; an export's allow list answers
#     NBD_REP_ERR_POLICY at NBD_OPT_GO;
#   - a Unix listener's mode and SO_PEERCRED uid list (a client running
#     as nobody is refused);
#   - --no-list-exports: NBD_OPT_LIST gets NBD_REP_ERR_POLICY, iopctl
#     still lists everything;
#   - live: export.set and a reload change access, and only the clients
#     that lost it are disconnected.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"

require nbdinfo iscsi-inq iscsi-ls iscsi-readcapacity16 qemu-img python3 ss setpriv
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }

# has_line FILE TEXT DESC
has_line() {
	if grep -qF -- "$2" "$1"; then ok "$3"; else not_ok "$3" "$(cat "$1")"; fi
}

# nbd_tcp_ports PID: the TCP ports PID listens on (ss), one a line.
tcp_ports() {
	ss -Hltnp | grep "pid=$1," | awk '{ print $4 }' | sed 's/.*://' | sort
}

# ------------------------------------------------ the shipped example
example_iscsi_config "$T/ex.json"
is "$(json_get "$T/ex.json" "[e['name'] for e in j['exports'] if e.get('protocols') == ['iscsi']]")" \
	"['disk', 'scratch']" "the example: the CHAP-protected exports are iSCSI-only"
VM1="iqn.2026-11.org.example:vm1"
if start_iopd -c "$T/ex.json"; then
	VM1_URI="$(uri_iscsi "$VM1" 0 "" vm1%vm1-secret-0123456789)?target_user=iopd&target_password=vm1-target-secret-0123456789"
	check_fails "example: nbdinfo cannot open the CHAP-protected disk over TCP" \
		nbdinfo "$(uri_tcp disk)"
	check_fails "example: nor over the Unix socket" nbdinfo "$(uri_unix disk)"
	check_fails "example: qemu-img cannot write it over NBD" \
		qemu-img convert -n -O raw -f raw "$T/ex.iso" "$(uri_tcp disk)"
	check "example: nbdinfo --list" nbdinfo --list "$(uri_tcp)"
	if grep -q 'export="disk"\|export="scratch"' "$T/out" || ! grep -q 'export="iso"' "$T/out"; then
		not_ok "example: NBD_OPT_LIST shows iso only" "$(cat "$T/out")"
	else
		ok "example: NBD_OPT_LIST shows iso only"
	fi
	check "example: NBD replies UNKNOWN at GO/INFO, disconnects at EXPORT_NAME" nbdpy <<'EOF'
import nbdproto as n
for name in ("disk", "scratch"):
    for opt in (n.OPT_GO, n.OPT_INFO):
        c = n.Client().greet()
        try:
            c.info(name, opt=opt)
            raise SystemExit("%s: option %d succeeded" % (name, opt))
        except n.OptError as e:
            assert e.rtype == n.REP_ERR_UNKNOWN, hex(e.rtype)
        c.close()
    c = n.Client().greet()
    c.opt_send(n.OPT_EXPORT_NAME, name.encode())
    assert n.closed_by_peer(c.s), "no disconnect at EXPORT_NAME"
c = n.connect("iso")  # the public one stays on NBD
c.close()
EOF
	check "example: iSCSI with mutual CHAP still reaches the disk" iscsi-inq \
		-i iqn.2026-11.org.example:host1 "$VM1_URI"
	has_line "$T/out" "DIRECT_ACCESS" "example: LUN 0 is the disk"
	stop_iopd
fi

# ------------------------------------- NBD-only exports are not LUNs
NBD_ONLY=('n=ram:1M,protocols=nbd' 'both=ram:2M' 'i=ram:3M,protocols=iscsi')
if start_iopd --iscsi-listen 127.0.0.1:0 "${NBD_ONLY[@]}"; then
	check "NBD-only export: served over NBD" nbdinfo "$(uri_tcp n)"
	check_fails "NBD client on an iSCSI-only export from the command line" \
		nbdinfo "$(uri_tcp i)"
	check "iSCSI discovery" iscsi-ls -s "iscsi://$IOPD_ISCSI"
	if grep -q "^Target:$(iqn_of n) " "$T/out" || ! grep -q "^Target:$(iqn_of i) " "$T/out"; then
		not_ok "default targets: the NBD-only export has none, the iSCSI-only one has" "$(cat "$T/out")"
	else
		ok "default targets: the NBD-only export has none, the iSCSI-only one has"
	fi
	check_fails "no login to an NBD-only export's target" iscsi-inq "$(uri_iscsi "$(iqn_of n)")"
	stop_iopd
fi
if start_iopd --iscsi-listen 127.0.0.1:0 "${NBD_ONLY[@]}" \
	--iscsi-target iqn.2026-11.test.iopd:t=n,both; then
	check "a target naming an NBD-only export" iscsi-ls -s "iscsi://$IOPD_ISCSI"
	if [ "$(grep -c '^Lun:' "$T/out")" = 1 ] && grep -q '^Lun:1 ' "$T/out"; then
		ok "its NBD-only export is not mapped: one LUN, 1 (both)"
	else
		not_ok "its NBD-only export is not mapped: one LUN, 1 (both)" "$(cat "$T/out")"
	fi
	check "LUN 1 is both (2 MiB)" iscsi-readcapacity16 "$(uri_iscsi iqn.2026-11.test.iopd:t 1)"
	has_line "$T/out" "RETURNED LOGICAL BLOCK ADDRESS:4095" "LUN 1 has 4096 blocks of 512 bytes"
	check_fails "LUN 0 (the NBD-only export) is absent" \
		iscsi-readcapacity16 "$(uri_iscsi iqn.2026-11.test.iopd:t 0)"
	stop_iopd
fi

# ---------------------------------------------------- NBD switched off
if start_iopd --listen none --iscsi-listen 127.0.0.1:0 a=ram:1M; then
	is "$(tcp_ports "$IOPD_PID" | tr '\n' ' ')" "$IOPD_ISCSI_PORT " \
		"--listen none: the only TCP port is the iSCSI portal"
	is "$IOPD_TCP$IOPD_SOCK" "" "--listen none: no NBD listener announced"
	check "--listen none: iSCSI works" iscsi-inq "$(uri_iscsi "$(iqn_of a)")"
	stop_iopd
fi
cat >"$T/nolisten.json" <<EOF
{"listen": [], "exports": [{"name": "a", "ddm": "ram", "size": "1M"}],
 "iscsi": {"listen": ["127.0.0.1:0"]}}
EOF
if start_iopd -c "$T/nolisten.json" --mgmt-socket "$T/m2.sock"; then
	is "$(tcp_ports "$IOPD_PID" | tr '\n' ' ')" "$IOPD_ISCSI_PORT " \
		'"listen": []: the only TCP port is the iSCSI portal'
	check '"listen": []: iSCSI works' iscsi-inq "$(uri_iscsi "$(iqn_of a)")"
	check '"listen": [] survives save-config' ctl daemon save-config "$T/saved.json"
	is "$(json_get "$T/saved.json" "j.get('listen')")" "[]" '"listen": [] is saved as such'
	stop_iopd
fi
check_fails "--listen none without iSCSI is refused" "$IOPD" --listen none a=ram:1M

# --------------------------------------------- addresses: 127.0.0.2
if start_iopd --listen "127.0.0.1:0,allow=127.0.0.0/8,deny=127.0.0.2" \
	'a=ram:1M' 'p=ram:1M,allow=127.0.0.1/32'; then
	check "listener: 127.0.0.1 is served" nbdinfo "$(uri_tcp a)"
	check "listener: 127.0.0.2 is refused before any byte" nbdpy <<'EOF'
import os, socket
host, port = os.environ["NBD_TCP"].rsplit(":", 1)
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.settimeout(30)
s.connect((host, int(port)))
assert s.recv(18) == b"", "the server sent bytes"
EOF
	stop_iopd
fi
if start_iopd --listen 127.0.0.1:0 'a=ram:1M' 'p=ram:1M,allow=127.0.0.1/32'; then
	check "export allow list: 127.0.0.2 gets POLICY at GO, and no listing of p" nbdpy <<'EOF'
import os, socket
import nbdproto as n
host, port = os.environ["NBD_TCP"].rsplit(":", 1)
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.settimeout(30)
s.connect((host, int(port)))
c = n.Client(sock=s).greet()
assert [x for x, _ in c.list()] == ["a"], c.list()
try:
    c.go("p")
    raise SystemExit("GO succeeded")
except n.OptError as e:
    assert e.rtype == n.REP_ERR_POLICY, hex(e.rtype)
c.go("a")
err, d = c.read(0, 512)
assert err == 0 and len(d) == 512, err
EOF
	check "export allow list: 127.0.0.1 is served" nbdinfo "$(uri_tcp p)"
	stop_iopd
fi

# ------------------------------------------- Unix socket mode, peers
NOBODY=$(id -u nobody 2>/dev/null)
# A system python nobody may run (not a per-user install under /root).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if [ "$(id -u)" != 0 ] || [ -z "$NOBODY" ]; then
	skip "unix listener uid list" "needs root and a nobody user"
elif start_iopd --listen "unix:$T/u.sock,mode=0666,uid=0" \
	--listen "unix:$T/g.sock,mode=0660" a=ram:1M; then
	is "$(stat -c %a "$T/u.sock") $(stat -c %a "$T/g.sock")" "666 660" "unix listener: mode applied"
	check "unix listener: uid 0 is served" nbdinfo "$(uri_unix a "$T/u.sock")"
	chmod 755 "$T"
	check "unix listener: nobody is refused before any byte (SO_PEERCRED)" \
		setpriv --reuid nobody --regid nogroup --clear-groups $PY -c "
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect('$T/u.sock')
assert s.recv(18) == b'', 'the server sent bytes'
"
	check_fails "unix listener: mode 0660 keeps nobody out" \
		setpriv --reuid nobody --regid nogroup --clear-groups $PY -c "
import socket
socket.socket(socket.AF_UNIX).connect('$T/g.sock')
"
	stop_iopd
fi

# ------------------------------------------------ hidden export list
if start_iopd --no-list-exports --mgmt-socket "$T/m3.sock" a=ram:1M b=ram:1M; then
	check_fails "--no-list-exports: nbdinfo --list fails" nbdinfo --list "$(uri_tcp)"
	has_line "$T/out" "list request" "--no-list-exports: libnbd says the list request was refused"
	check "--no-list-exports: NBD_OPT_LIST gets NBD_REP_ERR_POLICY, names work" nbdpy <<'EOF'
import nbdproto as n
c = n.Client().greet()
try:
    c.list()
    raise SystemExit("listed")
except n.OptError as e:
    assert e.rtype == n.REP_ERR_POLICY, hex(e.rtype)
c.go("b")
EOF
	check "--no-list-exports: iopctl still lists every export" ctl export list
	if grep -qw a "$T/out" && grep -qw b "$T/out"; then ok "iopctl lists a and b"; else
		not_ok "iopctl lists a and b" "$(cat "$T/out")"
	fi
	stop_iopd
fi

# ------------------------------------------------------------- live
write_live() {
	cat >"$T/live.json" <<EOF
{"listen": ["127.0.0.1:0"], "mgmt_socket": "$T/m4.sock",
 "exports": [{"name": "p", "ddm": "ram", "size": "1M"},
             {"name": "q", "ddm": "ram", "size": "1M"$1}]}
EOF
}
write_live ""
if start_iopd -c "$T/live.json"; then
	# Clients: two on p (127.0.0.1 and 127.0.0.2), one on q; python
	# waits for "go" lines on stdin between the changes.
	mkfifo "$T/live.in"
	trap '' PIPE # the client dying must fail assertions, not kill us
	IOPD_MGMT=$T/m4.sock
	nbdpy <"$T/live.in" >"$T/live.out" 2>&1 <<'EOF' &
import os, socket, sys
import nbdproto as n
host, port = os.environ["NBD_TCP"].rsplit(":", 1)
def client(src, name):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(30)
    s.connect((host, int(port)))
    return n.connect(name, sock=s)
def alive(c):
    try:
        err, d = c.read(0, 512)
        return err == 0 and len(d) == 512
    except (EOFError, OSError, AssertionError):
        return False
p1, p2, q1 = client("127.0.0.1", "p"), client("127.0.0.2", "p"), client("127.0.0.2", "q")
print("ready", flush=True)
sys.stdin.readline()   # export.set p deny=127.0.0.2
print("after set:", alive(p1), n.closed_by_peer(p2.s, 10), alive(q1), flush=True)
sys.stdin.readline()   # reload: q iSCSI-only
print("after reload:", alive(p1), n.closed_by_peer(q1.s, 10), flush=True)
EOF
	register_pid $!
	exec {live}>"$T/live.in"
	for _ in $(seq 300); do grep -q ready "$T/live.out" && break; python3 -c 'import time; time.sleep(0.1)'; done
	has_line "$T/live.out" ready "live: three clients connected"
	check "live: export set p deny=127.0.0.2" ctl export set p deny=127.0.0.2
	has_line "$T/out" 'disconnected: 1' "live: export set disconnected one client"
	echo go >&$live
	for _ in $(seq 300); do grep -q "after set" "$T/live.out" && break; python3 -c 'import time; time.sleep(0.1)'; done
	has_line "$T/live.out" "after set: True True True" \
		"live: the 127.0.0.2 client of p dropped, 127.0.0.1's and q's stay"
	write_live ', "protocols": ["iscsi"]'
	check "live: reload making q iSCSI-only" ctl daemon reload
	echo go >&$live
	for _ in $(seq 300); do grep -q "after reload" "$T/live.out" && break; python3 -c 'import time; time.sleep(0.1)'; done
	has_line "$T/live.out" "after reload: True True" \
		"live: q's NBD client dropped, p's stays"
	exec {live}>&-
	check_fails "live: q is no longer on NBD" nbdinfo "$(uri_tcp q)"
	check "live: export list shows the access" ctl --json export list q
	has_line "$T/out" '"iscsi"' "live: q's protocols listed"
	stop_iopd
fi

done_testing
