#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP rotation under the sandbox (Landlock on, the default), with the
# credentials outside every other Landlock rule (not under $T, where the
# sockets are): a new server key pair renamed into --tls-certificates,
# a PSK identity that psktool adds to --tls-psk and a user added to
# --metrics-auth are all read again, for NBD over TLS and /metrics over
# HTTPS.  The rules stay read only and no wider: an image beside the PSK
# file, and one in the certificate directory (which an export opens for
# writing), are refused by the kernel (EACCES).
. "$(dirname "$0")/lib.sh"
require certtool psktool nbdinfo curl python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }

# Outside every other rule: not under $T, not an export's directory.
OUT=$(mktemp -d /tmp/iopd-creds.XXXXXX)
on_exit "rm -rf '$OUT'"
PKI=$OUT/pki KEYS=$OUT/keys
make_creds() {
	server_pki "$PKI" && server_pki "$T/pki2" && mkdir "$KEYS" &&
		psktool -u alice -p "$KEYS/keys.psk" >/dev/null &&
		echo "prometheus:$(head -c 12 /dev/urandom | base64)" >"$KEYS/metrics.auth" &&
		chmod 600 "$KEYS/metrics.auth" &&
		truncate -s 1M "$KEYS/beside.img" "$PKI/in-pki.img" &&
		mkdir "$T/cli1" "$T/cli2" && cp "$PKI/ca-cert.pem" "$T/cli1/" &&
		cp "$T/pki2/ca-cert.pem" "$T/cli2/"
}
make_creds
pass_if $? "certtool and psktool made the credentials in $OUT" || {
	done_testing
	exit 1
}

start_iopd --listen 127.0.0.1:0 --mgmt-socket "$T/mgmt.sock" \
	--tls=require --tls-certificates "$PKI" --tls-psk "$KEYS/keys.psk" \
	--metrics-listen 127.0.0.1:0 --metrics-tls \
	--metrics-auth "$KEYS/metrics.auth" a=ram:1M || {
	done_testing
	exit 1
}
if grep -q "landlock: not available" "$IOPD_LOG"; then
	skip_all "the kernel has no Landlock"
fi
grep -q "landlock: file access restricted" "$IOPD_LOG"
pass_if $? "Landlock rules in force" "$(grep landlock "$IOPD_LOG")"

nbd_x509() { t nbdinfo --size "nbds://$IOPD_TCP/a?tls-certificates=$T/$1"; }
nbd_psk() { t nbdinfo --size "nbds://$1@$IOPD_TCP/a?tls-psk-file=$2"; }
M=https://$IOPD_METRICS/metrics
metrics() {
	t curl -s -o /dev/null -w '%{http_code}' --cacert "$1/ca-cert.pem" \
		-u "$2" "$M"
}
USER1=$(cat "$KEYS/metrics.auth")

check "before SIGHUP: nbdinfo over TLS, the first CA" nbd_x509 cli1
check "before SIGHUP: nbdinfo over TLS with alice's PSK" \
	nbd_psk alice "$KEYS/keys.psk"
is "$(metrics "$PKI" "$USER1")" 200 "before SIGHUP: /metrics over HTTPS: 200"

# ---- rotation: a key pair renamed into place (new files in the
# directory), a PSK identity and a scraper added in place.
USER2="scraper2:$(head -c 12 /dev/urandom | base64)"
rotate() {
	cp "$T/pki2/server-key.pem" "$PKI/.key.new" &&
		cp "$T/pki2/server-cert.pem" "$PKI/.cert.new" &&
		mv "$PKI/.key.new" "$PKI/server-key.pem" &&
		mv "$PKI/.cert.new" "$PKI/server-cert.pem" &&
		psktool -u bob -p "$KEYS/keys.psk" >/dev/null &&
		grep '^bob:' "$KEYS/keys.psk" >"$T/bob.psk" &&
		echo "$USER2" >>"$KEYS/metrics.auth"
}
check "the new credentials are in place" rotate
n=$(grep -c "TLS: credentials reloaded" "$IOPD_LOG")
nm=$(grep -c "metrics: credentials reloaded" "$IOPD_LOG")
kill -HUP "$IOPD_PID"
# reloaded: both logged it; failed: the reads were refused
reloaded() {
	local i
	for i in $(seq 200); do
		[ "$(grep -c "TLS: credentials reloaded" "$IOPD_LOG")" -gt "$n" ] &&
			[ "$(grep -c "metrics: credentials reloaded" "$IOPD_LOG")" -gt "$nm" ] &&
			return 0
		grep -qE "cannot read|keeping the credentials" "$IOPD_LOG" && return 1
		sleep 0.05
	done
	return 1
}
reloaded
pass_if $? "SIGHUP: NBD TLS and /metrics reloaded their credentials" \
	"$(grep -E "TLS|metrics|landlock" "$IOPD_LOG" | tail -n 5)"
check "after SIGHUP: nbdinfo over TLS, the new CA" nbd_x509 cli2
check_fails "after SIGHUP: the first CA no longer verifies the server" nbd_x509 cli1
check "after SIGHUP: nbdinfo with bob's new PSK" nbd_psk bob "$T/bob.psk"
is "$(metrics "$T/pki2" "$USER2")" 200 \
	"after SIGHUP: /metrics, the new certificate, the new scraper: 200"

# ---- no wider than that, and read only
for f in "$KEYS/beside.img" "$PKI/in-pki.img"; do
	_run ctl export add "x$RANDOM" "file:$f"
	st=$?
	if [ "$st" -ne 0 ] && grep -q "Permission denied" "$T/out"; then
		ok "export add $f: EACCES from the kernel"
	else
		not_ok "export add $f: EACCES from the kernel"
		_cmd_diag "$st" ctl export add "file:$f"
	fi
done
iopd_alive "iopd keeps running"
stop_iopd

# ---- --sandbox=off: the same export is added, so Landlock refused it
start_iopd --listen 127.0.0.1:0 --mgmt-socket "$T/mgmt2.sock" --sandbox=off \
	a=ram:1M || {
	done_testing
	exit 1
}
check "--sandbox=off: the image beside the PSK file is added" \
	ctl export add beside "file:$KEYS/beside.img"
stop_iopd

done_testing
