#!/bin/bash
# SPDX-License-Identifier: MIT
# The management channel over TCP is TLS only (doc/security.md): iopd
# refuses to start a TCP listener without credentials; a plaintext client
# is told so and served nothing; iopctl verifies the server against the
# CA it is given (another CA, the wrong name, no CA: refused), with a
# PSK too (only with an (EC)DHE share: a plain-PSK client is refused); the token is still needed inside TLS; SIGHUP rotates the
# server certificate; "tls_verify_peer" in the config file asks iopctl
# for a client certificate; an export's TLS keys change live through
# export.set (a plaintext client that loses access is dropped, a PSK
# client comes in, an identity off the new list does not).  And
# /metrics over HTTPS with basic authentication: 200 with the password,
# 401 without or with a wrong one, plain HTTP refused; SIGHUP rotates its
# certificate too and reads its basic-auth file again (two users).  Each
# --tls-* option of iopctl also comes from $IOPCTL_TLS_*, the command line
# winning.  Credentials are made here with certtool and psktool.
. "$(dirname "$0")/lib.sh"
require certtool psktool gnutls-cli python3 curl nbdinfo
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

# ------------------------------------------------------------ credentials
make_creds() {
	server_pki "$T/pki" && server_pki "$T/other" && server_pki "$T/pki2" &&
		printf '%s\n' 'cn = "admin"' tls_www_client signing_key \
			encryption_key 'expiration_days = 30' >"$T/client.info" &&
		certtool --generate-privkey --key-type=ecdsa \
			--outfile "$T/client-key.pem" >/dev/null 2>&1 &&
		certtool --generate-certificate --load-privkey "$T/client-key.pem" \
			--load-ca-certificate "$T/pki/ca-cert.pem" \
			--load-ca-privkey "$T/pki/ca-key.pem" --template "$T/client.info" \
			--outfile "$T/client-cert.pem" >/dev/null 2>&1 &&
		psktool -u admin -p "$T/keys.psk" >/dev/null &&
		psktool -u admin -p "$T/wrong.psk" >/dev/null
}
make_creds
pass_if $? "certtool and psktool made the credentials" || {
	done_testing
	exit 1
}
head -c 24 /dev/urandom | base64 >"$T/token"
echo "not-the-token-at-all-no" >"$T/bad"
echo "prometheus:$(head -c 12 /dev/urandom | base64)" >"$T/metrics.auth"
chmod 600 "$T/token" "$T/bad" "$T/metrics.auth"
CA=(--tls-ca "$T/pki/ca-cert.pem")

# ctl OUT ARGS...: iopctl over TCP with the token, output in OUT; its exit
# status is returned.
ctl() {
	local out=$1
	shift
	t "$IOPCTL" -c "$IOPD_MGMT_TCP" --timeout 10 "$@" export list >"$out" 2>&1
}

# ------------------------------------------------------------ no credentials
check_fails "--mgmt-listen without TLS credentials: iopd refuses to start" \
	"$IOPD" --listen "unix:$T/n0.sock" --mgmt-listen 127.0.0.1:0 \
	--mgmt-token-file "$T/token" ram:1M
"$IOPD" --listen "unix:$T/n0.sock" --mgmt-listen 127.0.0.1:0 \
	--mgmt-token-file "$T/token" ram:1M 2>"$T/refused.log"
grep -q "needs TLS" "$T/refused.log"
pass_if $? "... saying it needs TLS" "$(cat "$T/refused.log")"

# ------------------------------------------------------------ X.509 and PSK
start_iopd --mgmt-listen 127.0.0.1:0 --mgmt-token-file "$T/token" \
	--tls-certificates "$T/pki" --tls-psk "$T/keys.psk" \
	--metrics-listen 127.0.0.1:0 --metrics-tls \
	--metrics-auth "$T/metrics.auth" ram:1M || {
	done_testing
	exit 1
}
t python3 - "$IOPD_MGMT_TCP" >"$T/plain" <<'EOF'
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=10)
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"export.list"}\n')
data = b""
while True:
    try:
        b = s.recv(4096)
    except ConnectionResetError:
        break
    if not b:
        break
    data += b
print(data.decode().strip())
EOF
grep -q '"TLS required on this TCP management listener"' "$T/plain" &&
	[ "$(wc -l <"$T/plain")" = 1 ] && ! grep -q '"ram"' "$T/plain"
pass_if $? "a plaintext JSON-RPC client: one -32001 \"TLS required\" and no exports, then closed" \
	"$(cat "$T/plain")"

ctl "$T/out" "${CA[@]}" --token-file "$T/token"
is $? 0 "iopctl with the right CA and the token: exit 0"
grep -q '^ram ' "$T/out"
pass_if $? "... lists the export" "$(cat "$T/out")"
ctl "$T/out" --tls-ca "$T/other/ca-cert.pem" --token-file "$T/token"
is $? 3 "iopctl with another CA: exit 3"
grep -qi "not trusted" "$T/out"
pass_if $? "... the server's certificate is not trusted" "$(cat "$T/out")"
ctl "$T/out" --token-file "$T/token"
is $? 3 "iopctl with the system's CAs only: exit 3"
ctl "$T/out" "${CA[@]}" --tls-server-name iopd.example --token-file "$T/token"
is $? 3 "iopctl expecting another server name: exit 3"
grep -q "does not match" "$T/out"
pass_if $? "... the name does not match" "$(cat "$T/out")"
ctl "$T/out" "${CA[@]}" --token-file "$T/bad"
is $? 1 "the right CA and a wrong token: exit 1"
grep -q "permission denied" "$T/out"
pass_if $? "... permission denied" "$(cat "$T/out")"
ctl "$T/out" --tls-psk "$T/keys.psk" --token-file "$T/token"
is $? 0 "iopctl with the PSK and the token: exit 0"
grep -q "PSK identity admin" "$IOPD_LOG"
pass_if $? "... the daemon logs the PSK identity"
ctl "$T/out" --tls-psk "$T/wrong.psk" --token-file "$T/token"
is $? 3 "iopctl with a wrong PSK: exit 3"
# The default priority (remote_tls.h) keeps forward secrecy with a PSK:
# a client offering plain PSK only is refused, in TLS 1.3 and 1.2.
psk_cli() {
	t gnutls-cli --pskusername admin --pskkey "$(cut -d: -f2 "$T/keys.psk")" \
		--priority "NORMAL:-VERS-ALL:$1" -p "${IOPD_MGMT_TCP##*:}" \
		127.0.0.1 </dev/null
}
# (gnutls-cli 3.7 crashes after a TLS 1.2 PSK handshake that succeeds,
# so TLS 1.2 ECDHE-PSK is not driven with it here.)
check_fails "plain PSK only (TLS 1.3 psk_ke): the handshake fails" \
	psk_cli "+VERS-TLS1.3:+PSK"
! grep -q "key exchange PSK$" "$IOPD_LOG"
pass_if $? "... no session with a plain PSK key exchange" \
	"$(grep "key exchange PSK$" "$IOPD_LOG")"
check_fails "plain PSK only (TLS 1.2 PSK): the handshake fails" \
	psk_cli "+VERS-TLS1.2:-KX-ALL:+PSK"
grep -q "failed: No supported cipher suites" "$IOPD_LOG"
pass_if $? "... the server shares no cipher suite with it" \
	"$(grep "handshake" "$IOPD_LOG" | tail -n 2)"
check "ECDHE-PSK (TLS 1.3 psk_dhe_ke): gnutls-cli connects" \
	psk_cli "+VERS-TLS1.3:+ECDHE-PSK"
grep -q "PSK identity admin, key exchange ECDHE-PSK$" "$IOPD_LOG"
pass_if $? "... the daemon logs the key exchange"
! grep -qF "$(cat "$T/token")" "$IOPD_LOG"
pass_if $? "the token never appears in the log"

# ------------------------------------------------------------ environment
# envctl VAR=VALUE... -- ARGS...: iopctl export list with only these
# variables of its own (and none of the command line's defaults).
envctl() {
	local -a vars=()
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	t env -u IOPCTL_SOCKET "${vars[@]}" "$IOPCTL" --timeout 10 "$@" \
		export list >"$T/out" 2>&1
}
ENV_CA=(IOPCTL_CONNECT="$IOPD_MGMT_TCP" IOPCTL_TOKEN_FILE="$T/token")
envctl "${ENV_CA[@]}" IOPCTL_TLS_CA="$T/pki/ca-cert.pem" \
	IOPCTL_TLS_SERVER_NAME=localhost --
is $? 0 "\$IOPCTL_TLS_CA and \$IOPCTL_TLS_SERVER_NAME alone: exit 0"
grep -q '^ram ' "$T/out"
pass_if $? "... lists the export" "$(cat "$T/out")"
envctl "${ENV_CA[@]}" IOPCTL_TLS_PSK="$T/keys.psk" \
	IOPCTL_TLS_PSK_IDENTITY=admin --
is $? 0 "\$IOPCTL_TLS_PSK and \$IOPCTL_TLS_PSK_IDENTITY alone: exit 0"
envctl "${ENV_CA[@]}" IOPCTL_TLS_PSK="$T/keys.psk" \
	IOPCTL_TLS_PSK_IDENTITY=nobody --
is $? 3 "\$IOPCTL_TLS_PSK_IDENTITY is used: an unknown one, exit 3"
envctl "${ENV_CA[@]}" IOPCTL_TLS_CA="$T/other/ca-cert.pem" --
is $? 3 "a wrong \$IOPCTL_TLS_CA alone: exit 3"
envctl "${ENV_CA[@]}" IOPCTL_TLS_CA="$T/other/ca-cert.pem" -- "${CA[@]}"
is $? 0 "--tls-ca overrides a wrong \$IOPCTL_TLS_CA: exit 0"
envctl "${ENV_CA[@]}" IOPCTL_TLS_CA="$T/pki/ca-cert.pem" \
	IOPCTL_TLS_SERVER_NAME=iopd.example --
is $? 3 "a wrong \$IOPCTL_TLS_SERVER_NAME alone: exit 3"
envctl "${ENV_CA[@]}" IOPCTL_TLS_CA="$T/pki/ca-cert.pem" \
	IOPCTL_TLS_SERVER_NAME=iopd.example -- --tls-server-name localhost
is $? 0 "--tls-server-name overrides a wrong \$IOPCTL_TLS_SERVER_NAME: exit 0"
envctl "${ENV_CA[@]}" IOPCTL_TLS_PSK="$T/wrong.psk" --
is $? 3 "a wrong \$IOPCTL_TLS_PSK alone: exit 3"
envctl "${ENV_CA[@]}" IOPCTL_TLS_PSK="$T/wrong.psk" -- --tls-psk "$T/keys.psk"
is $? 0 "--tls-psk overrides a wrong \$IOPCTL_TLS_PSK: exit 0"
envctl "${ENV_CA[@]}" IOPCTL_TLS_PSK="$T/wrong.psk" -- --tls-psk= "${CA[@]}"
is $? 0 "an empty --tls-psk= drops \$IOPCTL_TLS_PSK (X.509 instead): exit 0"

# ------------------------------------------------------------ metrics
M=https://$IOPD_METRICS/metrics
code=$(t curl -s -o "$T/prom.txt" -w '%{http_code}' --cacert "$T/pki/ca-cert.pem" \
	-u "$(cat "$T/metrics.auth")" "$M")
is "$code" 200 "/metrics over HTTPS with the password: 200"
grep -q '^iopd_' "$T/prom.txt"
pass_if $? "... with the metrics"
code=$(t curl -s -D "$T/hdr" -o /dev/null -w '%{http_code}' \
	--cacert "$T/pki/ca-cert.pem" "$M")
is "$code" 401 "/metrics without credentials: 401"
grep -qi '^WWW-Authenticate: Basic realm=' "$T/hdr"
pass_if $? "... with WWW-Authenticate: Basic" "$(cat "$T/hdr")"
code=$(t curl -s -o /dev/null -w '%{http_code}' --cacert "$T/pki/ca-cert.pem" \
	-u prometheus:wrong "$M")
is "$code" 401 "/metrics with a wrong password: 401"
code=$(t curl -s -o /dev/null -w '%{http_code}' \
	--cacert "$T/other/ca-cert.pem" -u "$(cat "$T/metrics.auth")" "$M")
[ "$code" != 200 ]
pass_if $? "/metrics with another CA: the certificate is refused ($code)"
code=$(t curl -s -o /dev/null -w '%{http_code}' -u "$(cat "$T/metrics.auth")" \
	"http://$IOPD_METRICS/metrics")
[ "$code" != 200 ] && [ "$code" != 401 ]
pass_if $? "plain HTTP to the HTTPS endpoint gets no answer ($code)"

# ------------------------------------------------------------ rotation
# A second scraper's line in the basic-auth file, read at SIGHUP with the
# new key pair.
USER2="scraper2:$(head -c 12 /dev/urandom | base64)"
echo "$USER2" >>"$T/metrics.auth"
code=$(t curl -s -o /dev/null -w '%{http_code}' --cacert "$T/pki/ca-cert.pem" \
	-u "$USER2" "$M")
is "$code" 401 "/metrics: a user added to the file is unknown before SIGHUP"
n=$(grep -c "TLS: credentials reloaded" "$IOPD_LOG")
nm=$(grep -c "metrics: credentials reloaded" "$IOPD_LOG")
cp "$T/pki2/server-cert.pem" "$T/pki2/server-key.pem" "$T/pki/"
kill -HUP "$IOPD_PID"
for i in $(seq 200); do
	[ "$(grep -c "TLS: credentials reloaded" "$IOPD_LOG")" -gt "$n" ] &&
		[ "$(grep -c "metrics: credentials reloaded" "$IOPD_LOG")" -gt "$nm" ] &&
		break
	sleep 0.05
done
ctl "$T/out" --tls-ca "$T/pki2/ca-cert.pem" --token-file "$T/token"
is $? 0 "after SIGHUP: the new server certificate (the new CA) is served"
ctl "$T/out" "${CA[@]}" --token-file "$T/token"
is $? 3 "... and the old CA no longer verifies it"
code=$(t curl -s -o "$T/prom.txt" -w '%{http_code}' \
	--cacert "$T/pki2/ca-cert.pem" -u "$(head -n 1 "$T/metrics.auth")" "$M")
is "$code" 200 "/metrics after SIGHUP: the new certificate (the new CA), same process"
grep -q '^iopd_' "$T/prom.txt"
pass_if $? "... with the metrics"
code=$(t curl -s -o /dev/null -w '%{http_code}' --cacert "$T/pki/ca-cert.pem" \
	-u "$(head -n 1 "$T/metrics.auth")" "$M")
[ "$code" != 200 ]
pass_if $? "/metrics: the old CA no longer verifies it ($code)"
code=$(t curl -s -o /dev/null -w '%{http_code}' \
	--cacert "$T/pki2/ca-cert.pem" -u "$USER2" "$M")
is "$code" 200 "/metrics: the second user of the file: 200"
code=$(t curl -s -o /dev/null -w '%{http_code}' \
	--cacert "$T/pki2/ca-cert.pem" -u "${USER2%%:*}:wrong" "$M")
is "$code" 401 "... and with a wrong password: 401"
code=$(t curl -s -o /dev/null -w '%{http_code}' \
	--cacert "$T/pki2/ca-cert.pem" -u "prometheus:${USER2#*:}" "$M")
is "$code" 401 "... the first user with the second's password: 401"
iopd_alive "daemon alive"
stop_iopd

# ------------------------------------------------------------ client certificates
server_pki "$T/pki3"
cat >"$T/verify.json" <<EOF
{
  "mgmt_listen": "127.0.0.1:0",
  "mgmt_token_file": "$T/token",
  "tls_certificates": "$T/pki3",
  "tls_verify_peer": true,
  "exports": [ { "name": "ram", "ddm": "ram", "size": "1M" } ]
}
EOF
start_iopd --listen "unix:$T/n3.sock" --config "$T/verify.json" || {
	done_testing
	exit 1
}
C3=(--tls-ca "$T/pki3/ca-cert.pem" --token-file "$T/token")
ctl "$T/out" "${C3[@]}"
is $? 3 "\"tls_verify_peer\": true in the config: no client certificate, exit 3"
# A client certificate from another CA (pki's, not pki3's).
ctl "$T/out" "${C3[@]}" --tls-cert "$T/client-cert.pem" --tls-key "$T/client-key.pem"
is $? 3 "... a client certificate signed by another CA: exit 3"
printf '%s\n' 'cn = "admin"' tls_www_client signing_key encryption_key \
	'expiration_days = 30' >"$T/client3.info"
certtool --generate-privkey --key-type=ecdsa --outfile "$T/client3-key.pem" \
	>/dev/null 2>&1
certtool --generate-certificate --load-privkey "$T/client3-key.pem" \
	--load-ca-certificate "$T/pki3/ca-cert.pem" \
	--load-ca-privkey "$T/pki3/ca-key.pem" --template "$T/client3.info" \
	--outfile "$T/client3-cert.pem" >/dev/null 2>&1
ctl "$T/out" "${C3[@]}" --tls-cert "$T/client3-cert.pem" \
	--tls-key "$T/client3-key.pem"
is $? 0 "... a client certificate signed by the CA: exit 0"
grep -q "certificate CN=admin" "$IOPD_LOG"
pass_if $? "... the daemon logs the client's DN"
ENV3=(IOPCTL_CONNECT="$IOPD_MGMT_TCP" IOPCTL_TOKEN_FILE="$T/token"
	IOPCTL_TLS_CA="$T/pki3/ca-cert.pem")
envctl "${ENV3[@]}" IOPCTL_TLS_CERT="$T/client3-cert.pem" \
	IOPCTL_TLS_KEY="$T/client3-key.pem" --
is $? 0 "\$IOPCTL_TLS_CERT and \$IOPCTL_TLS_KEY alone: exit 0"
envctl "${ENV3[@]}" IOPCTL_TLS_CERT="$T/client-cert.pem" \
	IOPCTL_TLS_KEY="$T/client-key.pem" -- \
	--tls-cert "$T/client3-cert.pem" --tls-key "$T/client3-key.pem"
is $? 0 "--tls-cert/--tls-key override another CA's pair in the environment: exit 0"
t "$IOPCTL" -c "$IOPD_MGMT_TCP" "${C3[@]}" --tls-cert "$T/client3-cert.pem" \
	--tls-key "$T/client3-key.pem" --json daemon config >"$T/cfg.json"
is "$(json_get "$T/cfg.json" "j.get('tls_verify_peer')")" true \
	"daemon config shows \"tls_verify_peer\": true"
stop_iopd

# ------------------------------------------------------------ export.set, live
psktool -u bob -p "$T/keys.psk" >/dev/null
start_iopd --mgmt-socket "$T/m4.sock" --tls on --tls-psk "$T/keys.psk" \
	ram:1M disk=ram:1M || {
	done_testing
	exit 1
}
lctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@" >"$T/out" 2>&1; }
psk_uri() { echo "nbds://$2@$IOPD_TCP/$1?tls-psk-file=$T/keys.psk"; }
check "plaintext NBD reaches ram while its TLS is optional" nbdinfo "$(uri_tcp ram)"
mkfifo "$T/live.in"
nbdpy "$T/live.in" >"$T/live.out" 2>&1 <<'EOF' &
import os, socket, sys
import nbdproto as n
host, port = os.environ["NBD_TCP"].rsplit(":", 1)
def client(name):
    s = socket.create_connection((host, int(port)), timeout=30)
    return n.connect(name, sock=s)
def alive(c):
    try:
        err, d = c.read(0, 512)
        return err == 0 and len(d) == 512
    except (EOFError, OSError, AssertionError):
        return False
r, d = client("ram"), client("disk")
print("ready", flush=True)
open(sys.argv[1]).readline()   # export set ram tls=required
print("after set:", n.closed_by_peer(r.s, 10), alive(d), flush=True)
EOF
register_pid $!
exec {live}<>"$T/live.in" # read-write: never blocks
for _ in $(seq 300); do grep -q ready "$T/live.out" && break; sleep 0.1; done
grep -q ready "$T/live.out"
pass_if $? "two plaintext NBD clients connected (ram, disk)" "$(cat "$T/live.out")"
lctl export set ram tls=required
is $? 0 "export set ram tls=required" "$(cat "$T/out")"
grep -q '^disconnected: 1$' "$T/out"
pass_if $? "... disconnected the one plaintext client of ram" "$(cat "$T/out")"
echo go >&$live
for _ in $(seq 300); do grep -q "after set" "$T/live.out" && break; sleep 0.1; done
grep -q "after set: True True" "$T/live.out"
pass_if $? "... ram's client dropped, disk's stays" "$(cat "$T/live.out")"
exec {live}>&-
check_fails "plaintext NBD to ram is refused now" nbdinfo "$(uri_tcp ram)"
check "NBD over TLS with a PSK (admin) reaches ram" nbdinfo "$(psk_uri ram admin)"
lctl --json export list ram
is "$(json_get "$T/out" "j[0].get('tls')")" required "export list shows \"tls\": \"required\""
lctl export set ram 'tls_psk_allow=["bob"]'
is $? 0 "export set ram tls_psk_allow=[bob]" "$(cat "$T/out")"
check_fails "... admin's PSK identity is refused now" nbdinfo "$(psk_uri ram admin)"
check "... bob's is let in" nbdinfo "$(psk_uri ram bob)"
lctl --json export list ram
is "$(json_get "$T/out" "j[0].get('tls_psk_allow')")" "['bob']" \
	"export list shows the PSK allow list"
lctl export set ram tls_psk_allow=null tls=optional
is $? 0 "export set ram tls_psk_allow=null tls=optional" "$(cat "$T/out")"
check "... plaintext NBD reaches ram again" nbdinfo "$(uri_tcp ram)"
lctl --json export list ram
is "$(json_get "$T/out" "'tls' in j[0] or 'tls_psk_allow' in j[0]")" false \
	"... and export list shows no TLS keys"
lctl export set ram tls=sometimes
is $? 1 "export set ram tls=sometimes: refused (exit 1)"
stop_iopd

done_testing
