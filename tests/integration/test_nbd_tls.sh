#!/bin/bash
# SPDX-License-Identifier: MIT
# NBD over TLS (STARTTLS): X.509 server and client certificates, PSK,
# --tls=on with per-export "tls": "required" and allow lists, --tls=require,
# and every refusal with the exact NBD reply or the disconnect: real
# clients (nbdinfo, nbdcopy, nbdsh, qemu-img, fio) plus a raw client
# (nbdproto over Python's ssl) for what no tool sends.  The credentials
# are made here with certtool and psktool.
. "$(dirname "$0")/lib.sh"
require certtool psktool nbdinfo nbdcopy nbdsh qemu-img cmp python3

# ------------------------------------------------------------ credentials

# cert NAME SIGNER TEMPLATE-LINES...: NAME-key.pem, NAME-cert.pem signed by
# SIGNER (self-signed when SIGNER is -).
cert() {
	local name=$1 signer=$2
	shift 2
	printf '%s\n' "$@" >"$T/$name.info"
	certtool --generate-privkey --key-type=ecdsa --outfile "$T/$name-key.pem" \
		>/dev/null 2>&1 || return 1
	if [ "$signer" = - ]; then
		certtool --generate-self-signed --load-privkey "$T/$name-key.pem" \
			--template "$T/$name.info" --outfile "$T/$name-cert.pem" >/dev/null 2>&1
	else
		certtool --generate-certificate --load-privkey "$T/$name-key.pem" \
			--load-ca-certificate "$T/$signer-cert.pem" \
			--load-ca-privkey "$T/$signer-key.pem" \
			--template "$T/$name.info" --outfile "$T/$name-cert.pem" >/dev/null 2>&1
	fi
}

# clientdir DIR NAME: the layout libnbd and qemu read (ca-cert.pem,
# client-cert.pem, client-key.pem); NAME - for none.
clientdir() {
	mkdir -p "$T/$1" && cp "$T/ca-cert.pem" "$T/$1/ca-cert.pem" || return 1
	[ "$2" = - ] && return 0
	cp "$T/$2-cert.pem" "$T/$1/client-cert.pem" &&
		cp "$T/$2-key.pem" "$T/$1/client-key.pem"
}

make_pki() {
	local srv=(organization="iopd test" cn=localhost dns_name=localhost
		ip_address=127.0.0.1 tls_www_server signing_key encryption_key
		expiration_days=30)
	local cli=(tls_www_client signing_key encryption_key expiration_days=30)
	cert ca - 'cn = "iopd test CA"' ca cert_signing_key crl_signing_key \
		expiration_days=30 &&
		cert other-ca - 'cn = "another CA"' ca cert_signing_key expiration_days=30 &&
		cert server ca "${srv[@]}" &&
		cert server2 ca "${srv[@]}" &&
		cert server3 ca "${srv[@]}" &&
		cert alice ca 'cn = "alice"' 'organization = "iopd test"' "${cli[@]}" &&
		cert bob ca 'cn = "bob"' 'organization = "iopd test"' "${cli[@]}" &&
		cert mallory other-ca 'cn = "alice"' 'organization = "iopd test"' "${cli[@]}" &&
		cert expired ca 'cn = "alice"' 'organization = "iopd test"' \
			tls_www_client signing_key encryption_key \
			'activation_date = "2020-01-01 00:00:00 UTC"' \
			'expiration_date = "2020-02-01 00:00:00 UTC"' || return 1
	mkdir -p "$T/srv" && cp "$T/ca-cert.pem" "$T/srv/" &&
		cp "$T/server-cert.pem" "$T/srv/server-cert.pem" &&
		cp "$T/server-key.pem" "$T/srv/server-key.pem" || return 1
	clientdir cli - && clientdir cli-alice alice && clientdir cli-bob bob &&
		clientdir cli-other mallory && clientdir cli-expired expired || return 1
	# PSK: the server's file (alice, carol), the same identity with a
	# wrong key, an identity the server does not know.  qemu reads
	# DIR/keys.psk.
	mkdir -p "$T/psk" "$T/psk-wrong" "$T/psk-eve" &&
		psktool -u alice -p "$T/psk/keys.psk" >/dev/null &&
		psktool -u carol -p "$T/psk/keys.psk" >/dev/null &&
		psktool -u alice -p "$T/psk-wrong/keys.psk" >/dev/null &&
		psktool -u eve -p "$T/psk-eve/keys.psk" >/dev/null
}

if make_pki; then ok "certtool and psktool made the credentials"; else
	not_ok "certtool and psktool made the credentials"
	done_testing
	exit 1
fi
ALICE_DN="CN=alice,O=iopd test"
make_data "$T/src" 16 || { not_ok "make 16 MiB of test data"; done_testing; exit 1; }

cat >"$T/iopd.json" <<EOF
{
  "exports": [
    {"name": "public", "ddm": "ram", "size": "16M"},
    {"name": "private", "ddm": "ram", "size": "16M", "tls": "required"},
    {"name": "alice", "ddm": "ram", "size": "16M",
     "tls_dn_allow": ["$ALICE_DN"], "tls_psk_allow": ["alice"]}
  ]
}
EOF

start_iopd --listen 127.0.0.1:0 --listen "unix:$T/sock" --config "$T/iopd.json" \
	--mgmt-socket "$T/mgmt.sock" \
	--tls=on --tls-certificates="$T/srv" --tls-psk="$T/psk/keys.psk" ||
	{ done_testing; exit 1; }
HP=$IOPD_TCP
tls_uri() { echo "nbds://$HP/$1?tls-certificates=$T/${2:-cli}"; }
psk_uri() { echo "nbds://$2@$HP/$1?tls-psk-file=$3"; }

# The credentials are never storage: export.add refuses them.
for f in server-key.pem ca-cert.pem; do
	check_fails "export.add of --tls-certificates' $f: refused" \
		t timeout -k 2 10 "$(dirname "$IOPD")/iopctl" -s "$IOPD_MGMT" \
		call export.add "{\"name\": \"k\", \"ddm\": \"file\", \"path\": \"$T/srv/$f\", \"read_only\": true}"
	grep -q "TLS credentials file" "$T/out" ||
		grep -q "TLS credentials file" "$IOPD_LOG"
	pass_if $? "  ... because it is a TLS credentials file" "$(cat "$T/out")"
done
check_fails "export.add of the --tls-psk file: refused" \
	t timeout -k 2 10 "$(dirname "$IOPD")/iopctl" -s "$IOPD_MGMT" \
	call export.add "{\"name\": \"k\", \"ddm\": \"file\", \"path\": \"$T/psk/keys.psk\", \"read_only\": true}"
grep -q "TLS pre-shared key file" "$T/out"
pass_if $? "  ... because it is the TLS pre-shared key file" "$(cat "$T/out")"

# ------------------------------------------------------- X.509, real clients

check "nbdinfo over TLS (server certificate only) on a TLS-required export" \
	t nbdinfo "$(tls_uri private)"
grep -q "with TLS" "$T/out" && ok "nbdinfo reports TLS" || not_ok "nbdinfo reports TLS" "$(cat "$T/out")"
check "nbdcopy file -> private over TLS" t nbdcopy "$T/src" "$(tls_uri private)"
check "nbdcopy private -> file over TLS, 4 connections" \
	t nbdcopy --connections=4 "$(tls_uri private)" "$T/back"
check "data read back over TLS equals data written" cmp "$T/src" "$T/back"
check "plaintext still serves the public export (--tls=on)" \
	t nbdinfo "nbd://$HP/public"
check "TLS serves the public export too" t nbdinfo "$(tls_uri public)"
check "client certificate on the allow list: nbdcopy to alice" \
	t nbdcopy "$T/src" "$(tls_uri alice cli-alice)"
check "client certificate on the allow list: alice reads back" \
	t nbdcopy "$(tls_uri alice cli-alice)" "$T/back2"
check "alice's export holds the data" cmp "$T/src" "$T/back2"
grep -q "TLS client certificate $ALICE_DN" "$IOPD_LOG" &&
	ok "the verified client DN is logged" ||
	not_ok "the verified client DN is logged" "$(tail -n 20 "$IOPD_LOG")"

# ------------------------------------------------------------------- PSK

check "PSK: nbdinfo as alice (tls-psk-file)" \
	t nbdinfo "$(psk_uri private alice "$T/psk/keys.psk")"
check "PSK: nbdcopy file -> private as carol" \
	t nbdcopy "$T/src" "$(psk_uri private carol "$T/psk/keys.psk")"
check "PSK: nbdcopy private -> file as carol" \
	t nbdcopy "$(psk_uri private carol "$T/psk/keys.psk")" "$T/back3"
check "PSK: data read back equals data written" cmp "$T/src" "$T/back3"
check "PSK: alice is on the export's PSK allow list" \
	t nbdinfo "$(psk_uri alice alice "$T/psk/keys.psk")"
check_fails "PSK: a wrong key for alice is refused" \
	t nbdinfo "$(psk_uri private alice "$T/psk-wrong/keys.psk")"
check_fails "PSK: an unknown identity is refused" \
	t nbdinfo "$(psk_uri private eve "$T/psk-eve/keys.psk")"
grep -q "unknown PSK identity" "$IOPD_LOG" &&
	ok "PSK: the unknown identity was refused in the handshake" ||
	not_ok "PSK: the unknown identity was refused in the handshake"

# The Python that has libnbd's binding (python3-libnbd, which nbdsh runs
# on): the system's, when python3 on PATH is another.
NBDPY=python3
python3 -c 'import nbd' 2>/dev/null || NBDPY=/usr/bin/python3
# nbd_go URI: libnbd (in option mode) connects to URI (nbd:// is
# TLS_DISABLE, nbds:// TLS_REQUIRE) and sends GO; a refusal prints its
# errno.
nbd_go() {
	t "$NBDPY" - "$1" <<'EOF'
import errno, nbd, sys
h = nbd.NBD()
h.set_uri_allow_local_file(True)
h.set_opt_mode(True)
try:
    h.connect_uri(sys.argv[1])
    print("tls", h.get_tls())
    h.opt_go()
    print("ok")
except nbd.Error as e:
    print("refused", errno.errorcode.get(e.errnum, e.errnum), e.string)
    sys.exit(1)
EOF
}
# libnbd reports every GO error as ENOTSUP: the server's log says which.
if _run nbd_go "$(psk_uri alice carol "$T/psk/keys.psk")"; then
	not_ok "PSK: carol is not on alice's allow list: GO refused"
else
	grep -q "^refused" "$T/out" &&
		grep -q "export refused: the client's identity is not on its allow list" "$IOPD_LOG" &&
		ok "PSK: carol is not on alice's allow list: libnbd's GO is refused (policy)" ||
		not_ok "PSK: carol is not on alice's allow list: libnbd's GO is refused (policy)" "$(cat "$T/out")"
fi

# ------------------------------------------------- refusals, exact replies

# A raw client that can start TLS: nbdproto plus Python's ssl.
cat >"$T/tlsc.py" <<'EOF'
import os, socket, ssl, struct, sys
from nbdproto import *

T = os.environ["T"]

def ctx(client=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(T + "/ca-cert.pem")
    if client:
        c.load_cert_chain(T + "/%s-cert.pem" % client, T + "/%s-key.pem" % client)
    return c

def starttls(c, client=None):
    c.opt_simple(OPT_STARTTLS)
    c.s = ctx(client).wrap_socket(c.s, server_hostname="localhost")
    return c

def rd(c, off, n):
    err, d = c.read(off, n)
    assert err == 0, err
    return d

def refusal(f):
    try:
        f()
    except OptError as e:
        return e.rtype
    except EOFError:
        return "closed"
    return "accepted"
EOF
tlspy() { T=$T IOPD_LOG=$IOPD_LOG IOPD_PID=$IOPD_PID nbdpy "$@"; }

check "plaintext, --tls=on: GO and INFO of a TLS-required export get NBD_REP_ERR_TLS_REQD, LIST and the public export work" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
assert refusal(lambda: c.go("private")) == REP_ERR_TLS_REQD
assert refusal(lambda: c.info("private")) == REP_ERR_TLS_REQD
assert refusal(lambda: c.go("alice")) == REP_ERR_TLS_REQD
assert {n for n, d in c.list()} >= {"public", "private", "alice"}, c.list()
c.go("public")
assert rd(c, 0, 4096)
EOF
check "plaintext, --tls=on: EXPORT_NAME of a TLS-required export disconnects" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
assert refusal(lambda: c.export_name("private")) == "closed"
EOF
check "TLS with a client certificate not on the list (bob): GO gets NBD_REP_ERR_POLICY, INFO too, EXPORT_NAME disconnects" tlspy <<'EOF'
from tlsc import *
c = starttls(Client().greet(), "bob")
assert refusal(lambda: c.go("alice")) == REP_ERR_POLICY
assert refusal(lambda: c.info("alice")) == REP_ERR_POLICY
assert refusal(lambda: c.export_name("alice")) == "closed"
EOF
check "TLS without a client certificate: alice's export gets NBD_REP_ERR_POLICY, private works" tlspy <<'EOF'
from tlsc import *
c = starttls(Client().greet())
assert refusal(lambda: c.go("alice")) == REP_ERR_POLICY
c.go("private")
assert len(rd(c, 0, 65536)) == 65536
EOF
check "TLS with another CA's certificate claiming alice's DN (no --tls-verify-peer): no DN is trusted, NBD_REP_ERR_POLICY" tlspy <<'EOF'
from tlsc import *
c = starttls(Client().greet(), "mallory")
assert refusal(lambda: c.go("alice")) == REP_ERR_POLICY
EOF
check "STARTTLS resets the plaintext phase: structured replies negotiated before are forgotten, a second STARTTLS is NBD_REP_ERR_INVALID" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
c.structured_reply()
c.meta_context("public")
c = starttls(c)
# SET_META_CONTEXT needs structured replies: forgotten, so INVALID
assert refusal(lambda: c.meta_context("public")) == REP_ERR_INVALID
c.opt_send(OPT_STARTTLS)
o, rtype, d = c.opt_reply()
assert rtype == REP_ERR_INVALID, hex(rtype)
c.structured = False
c.go("public")
# SEND_DF only with structured replies (proto.md)
assert not (c.tflags & T_SEND_DF), hex(c.tflags)
c.write(0, b"x" * 4096)
assert rd(c, 0, 4096) == b"x" * 4096
EOF
check "a STARTTLS sent with data gets NBD_REP_ERR_INVALID and the session goes on in plaintext" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
c.opt_send(OPT_STARTTLS, b"junk")
o, rtype, d = c.opt_reply()
assert rtype == REP_ERR_INVALID, hex(rtype)
c.go("public")
EOF

# ------------------------------------- broken records, other clients go on

check "garbage in the middle of a TLS session ends that connection only; a truncated record too" tlspy <<'EOF'
from tlsc import *
import os, time
keep = starttls(Client().greet())
keep.structured_reply()
keep.go("private")
keep.write(0, b"k" * 65536)
victim = starttls(Client().greet())
victim.go("private")
raw = socket.socket(fileno=os.dup(victim.s.fileno()))
raw.sendall(os.urandom(512))
assert closed_by_peer(raw)
trunc = starttls(Client().greet())
trunc.go("private")
# a record header promising 1000 bytes, 10 of them, then our end closes
raw = socket.socket(fileno=os.dup(trunc.s.fileno()))
raw.sendall(b"\x17\x03\x03\x03\xe8" + b"z" * 10)
raw.shutdown(socket.SHUT_WR)
assert closed_by_peer(raw)
assert rd(keep, 0, 65536) == b"k" * 65536
keep.disc()
EOF
iopd_alive "iopd survives broken TLS records"
grep -q "TLS: .*" "$IOPD_LOG" && ok "the broken sessions are logged" || not_ok "the broken sessions are logged"

check "TLS: 600 pipelined requests (more than the request slots) are all answered" tlspy <<'EOF'
from tlsc import *
c = starttls(Client().greet())
c.go("private")
hs = [c.request(CMD_READ, (i % 64) * 4096, 4096) for i in range(600)]
seen = set()
for i in range(600):
    h, err, d, ext = c.reply()
    assert err == 0 and len(d) == 4096, (err, len(d))
    seen.add(h)
assert seen == set(hs)
c.disc()
EOF

# TLS 1.3 KeyUpdate in the middle of a session, with requests pipelined in
# the same segment behind it (GnuTLS answers GNUTLS_E_AGAIN after the
# KeyUpdate although they are buffered), asking the server to update its
# keys too: a client of our own (tests/tools/nbd_tls_keyupdate.c), since
# no NBD tool sends one.  It gives up after 5 s without a reply.
KU_TOOL=$T/nbd_tls_keyupdate
if check "build tests/tools/nbd_tls_keyupdate.c against GnuTLS" cc -std=gnu11 \
	-O2 -Wall -o "$KU_TOOL" "$IOPD_REPO/tests/tools/nbd_tls_keyupdate.c" -lgnutls; then
	check "TLS 1.3 KeyUpdate (ours, and the server's on request) with a WRITE and READ pipelined behind it, 8 rounds: every reply arrives, data intact" \
		t "$KU_TOOL" 127.0.0.1 "${HP##*:}" private "$T/ca-cert.pem" 8
	grep -q "^all replies arrived" "$T/out" && [ "$(grep -c "^round .* ok" "$T/out")" = 8 ]
	pass_if $? "  ... all 8 rounds ok" "$(cat "$T/out")"
fi

# ------------------------------------------------------------- qemu-img

qemu_x509() {
	t qemu-img "$1" --object "tls-creds-x509,id=tls0,dir=$T/cli-alice,endpoint=client" \
		--image-opts "$2" "driver=nbd,host=127.0.0.1,port=${HP##*:},export=alice,tls-creds=tls0" \
		"${@:3}"
}
check "qemu-img convert to alice's export (tls-creds-x509, client certificate)" \
	t qemu-img convert -n --object "tls-creds-x509,id=tls0,dir=$T/cli-alice,endpoint=client" \
	--target-image-opts -f raw "$T/src" \
	"driver=nbd,host=127.0.0.1,port=${HP##*:},export=alice,tls-creds=tls0"
check "qemu-img compare alice's export with the source (tls-creds-x509)" \
	t qemu-img compare --object "tls-creds-x509,id=tls0,dir=$T/cli-alice,endpoint=client" \
	--image-opts "driver=file,filename=$T/src" \
	"driver=nbd,host=127.0.0.1,port=${HP##*:},export=alice,tls-creds=tls0"
check "qemu-img convert to private (tls-creds-psk as carol)" \
	t qemu-img convert -n --object "tls-creds-psk,id=tls0,dir=$T/psk,username=carol,endpoint=client" \
	--target-image-opts -f raw "$T/src" \
	"driver=nbd,host=127.0.0.1,port=${HP##*:},export=private,tls-creds=tls0"
check "qemu-img compare private with the source (tls-creds-psk)" \
	t qemu-img compare --object "tls-creds-psk,id=tls0,dir=$T/psk,username=carol,endpoint=client" \
	--image-opts "driver=file,filename=$T/src" \
	"driver=nbd,host=127.0.0.1,port=${HP##*:},export=private,tls-creds=tls0"
# The default priority admits no plain PSK: every PSK session so far
# (nbdinfo, nbdcopy, nbdsh, qemu-img) added an ephemeral (EC)DH share.
grep ", PSK identity " "$IOPD_LOG" >"$T/psk.log"
[ -s "$T/psk.log" ] && ! grep -vE "key exchange (ECDHE|DHE)-PSK$" "$T/psk.log"
pass_if $? "every PSK session (libnbd, qemu) used ECDHE-PSK or DHE-PSK" \
	"$(grep -vE "key exchange (ECDHE|DHE)-PSK$" "$T/psk.log" | head -n 3)"
grep -q "carol, key exchange ECDHE-PSK$" "$T/psk.log"
pass_if $? "... qemu's tls-creds-psk as carol: ECDHE-PSK" "$(tail -n 3 "$T/psk.log")"

# ------------------------------------------------------------------ fio

# fio's nbd engine does not let libnbd read files named in the URI
# (tls-certificates=): libnbd finds the CA where it looks by default,
# $HOME/.pki/libnbd (it presents no client certificate from there, so
# the export is one without an allow list).
# log_wait PATTERN N: until the daemon's log has N lines matching.
log_wait() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c -- "$1" "$IOPD_LOG")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# rotate NAME: install NAME-cert.pem and NAME-key.pem as the server's and
# SIGHUP; returns once the daemon logged the reload.
rotate() {
	local n
	n=$(grep -c "TLS: credentials reloaded" "$IOPD_LOG")
	cp "$T/$1-cert.pem" "$T/srv/server-cert.pem" &&
		cp "$T/$1-key.pem" "$T/srv/server-key.pem" &&
		kill -HUP "$IOPD_PID" && log_wait "TLS: credentials reloaded" $((n + 1))
}
if command -v fio >/dev/null && fio --enghelp=nbd >/dev/null 2>&1; then
	mkdir -p "$T/home/.pki" && cp -r "$T/cli-alice" "$T/home/.pki/libnbd"
	fio_tls=(--ioengine=nbd --uri="nbds://$HP/private" --bs=4k --iodepth=8
		--numjobs=2 --size=8M --offset_increment=8M --verify=crc32c
		--do_verify=1 --group_reporting)
	check "fio --ioengine=nbd over nbds://, two jobs, --verify=crc32c" \
		env HOME="$T/home" timeout -k 5 "$TMO" fio --name=tls --rw=randwrite "${fio_tls[@]}"
	# SIGHUP while fio streams over two TLS connections: they go on.
	n=$(grep -c "TLS (TLS" "$IOPD_LOG")
	env HOME="$T/home" timeout -k 5 "$TMO" fio --name=rot --rw=write --loops=40 \
		"${fio_tls[@]}" >"$T/fio-rot.out" 2>&1 &
	fio_pid=$!
	register_pid "$fio_pid"
	on_exit "_reap $fio_pid"
	if log_wait "TLS (TLS" $((n + 2)) && rotate server2; then
		ok "SIGHUP rotated the certificate while fio streamed over TLS"
	else
		not_ok "SIGHUP rotated the certificate while fio streamed over TLS"
	fi
	kill -0 "$fio_pid" 2>/dev/null && ok "fio was still running at the rotation" ||
		not_ok "fio was still running at the rotation" "make --loops larger"
	_wait_timeout "$fio_pid" "$TMO"
	st=$?
	is "$st" 0 "fio (write + crc32c verify, two TLS connections) finished across the rotation"
	[ "$st" = 0 ] || diag "$(tail -n 15 "$T/fio-rot.out")"
else
	skip "fio's nbd engine is not built in" "fio over nbds://"
	rotate server2 || not_ok "rotate to server2"
fi

# qemu-io over TLS with a PSK
check "qemu-io writes and reads a pattern over TLS (tls-creds-psk)" \
	t qemu-io --object "tls-creds-psk,id=tls0,dir=$T/psk,username=alice,endpoint=client" \
	--image-opts "driver=nbd,host=127.0.0.1,port=${HP##*:},export=alice,tls-creds=tls0" \
	-c "write -P 0x5a 1M 64k" -c "read -P 0x5a 1M 64k"

# ------------------------------------------- SIGHUP certificate rotation

check "SIGHUP rotates the certificate: a connected client goes on, a new one sees the new certificate" tlspy <<'EOF'
from tlsc import *
import os, signal, shutil, time
T = os.environ["T"]
old = starttls(Client().greet())
old.structured_reply()
old.go("private")
old.write(0, b"o" * 65536)
first = ssl.PEM_cert_to_DER_cert(open(T + "/server2-cert.pem").read())
assert old.s.getpeercert(binary_form=True) == first
shutil.copy(T + "/server3-cert.pem", T + "/srv/server-cert.pem")
shutil.copy(T + "/server3-key.pem", T + "/srv/server-key.pem")
log = os.environ["IOPD_LOG"]
n = open(log).read().count("TLS: credentials reloaded")
os.kill(int(os.environ["IOPD_PID"]), signal.SIGHUP)
for i in range(600):
    if open(log).read().count("TLS: credentials reloaded") > n:
        break
    time.sleep(0.05)
else:
    raise SystemExit("no reload in the log")
new = starttls(Client().greet())
second = ssl.PEM_cert_to_DER_cert(open(T + "/server3-cert.pem").read())
assert new.s.getpeercert(binary_form=True) == second
new.go("private")
assert rd(old, 0, 65536) == b"o" * 65536
old.write(65536, b"p" * 4096)
assert rd(new, 65536, 4096) == b"p" * 4096
old.disc()
new.disc()
EOF
check "nbdinfo works with the rotated certificate" t nbdinfo "$(tls_uri private)"
stop_iopd

# ----------------------------------------------------- --tls=require

start_iopd --listen 127.0.0.1:0 --tls=require --tls-certificates="$T/srv" \
	--tls-verify-peer pub=ram:16M || { done_testing; exit 1; }
HP=$IOPD_TCP
check "require: every option before STARTTLS but ABORT gets NBD_REP_ERR_TLS_REQD" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
for opt in (OPT_LIST, OPT_STRUCTURED_REPLY, OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT, 99):
    c.opt_send(opt)
    o, rtype, d = c.opt_reply()
    assert o == opt and rtype == REP_ERR_TLS_REQD, (opt, hex(rtype))
assert refusal(lambda: c.go("pub")) == REP_ERR_TLS_REQD
assert refusal(lambda: c.info("pub")) == REP_ERR_TLS_REQD
c.opt_simple(OPT_ABORT)
EOF
check "require: EXPORT_NAME before STARTTLS disconnects" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
assert refusal(lambda: c.export_name("pub")) == "closed"
EOF
# (the exact NBD_REP_ERR_TLS_REQD is asserted with the raw client above)
if _run nbd_go "nbd://$HP/pub"; then
	not_ok "require: libnbd without TLS is refused"
else
	grep -q "^tls 0" "$T/out" && grep -q "^refused" "$T/out" && ok "require: libnbd without TLS (set_tls off) is refused with NBD_REP_ERR_TLS_REQD" ||
		not_ok "require: libnbd without TLS (set_tls off) is refused with NBD_REP_ERR_TLS_REQD" "$(cat "$T/out")"
fi
check "require + --tls-verify-peer: alice's certificate works (nbdcopy)" \
	t nbdcopy "$T/src" "$(tls_uri pub cli-alice)"
check_fails "require + --tls-verify-peer: no client certificate is refused" \
	t nbdinfo "$(tls_uri pub cli)"
check_fails "require + --tls-verify-peer: another CA's client certificate is refused" \
	t nbdinfo "$(tls_uri pub cli-other)"
check_fails "require + --tls-verify-peer: an expired client certificate is refused" \
	t nbdinfo "$(tls_uri pub cli-expired)"
check "require + --tls-verify-peer: the handshakes failed in TLS (raw client, other CA)" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
try:
    starttls(c, "mallory")
    c.go("pub")
except (ssl.SSLError, EOFError, ConnectionResetError, OSError):
    pass
else:
    raise SystemExit("other CA accepted")
EOF
iopd_alive "iopd survives the refused handshakes"
stop_iopd

# ------------------------------------------------------- --tls=off

start_iopd pub=ram:1M || { done_testing; exit 1; }
check "off (the default): STARTTLS gets NBD_REP_ERR_UNSUP, plaintext goes on" tlspy <<'EOF'
from tlsc import *
c = Client().greet()
c.opt_send(OPT_STARTTLS)
o, rtype, d = c.opt_reply()
assert rtype == REP_ERR_UNSUP, hex(rtype)
c.go("pub")
EOF
stop_iopd
done_testing
