#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The transport registry (make TRANSPORTS=...), against whatever build is
# under test: iopd --help and daemon.version name the transports built
# in, each of them serves, and asking for one that is not built in (on
# the command line or in the config file) fails at once with a message
# that names it.  `make check-transports` runs it on the nbd-only and the
# iscsi-only builds.
IOPD_TEST_TRANSPORTS="" # it checks what the build has
. "$(dirname "$0")/lib.sh"

IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}

check "iopd --help" t "$IOPD" --help
have=$(sed -n 's/^Transports built in: //p' "$T/out")
[ -n "$have" ]
pass_if $? "--help ends with the transports built in: '$have'" "$(tail -n 3 "$T/out")"

# fails_with DESC WANT ARGS...: iopd ARGS exits 1 before serving, and says
# WANT (a fixed string) on stderr.
fails_with() {
	local desc=$1 want=$2
	shift 2
	check_fails "$desc" "$IOPD" "$@" || return 1
	grep -qF -- "$want" "$T/out"
	pass_if $? "$desc: says '$want'" "$(cat "$T/out")"
}

# version_check: daemon.version of the daemon started last (with
# --mgmt-socket) lists what --help did.
version_check() {
	if [ ! -x "$IOPCTL" ]; then
		skip "daemon.version lists the transports" "$IOPCTL not built"
		return
	fi
	check "iopctl daemon version --json" t "$IOPCTL" -s "$IOPD_MGMT" \
		--json daemon version
	cp "$T/out" "$T/version.json"
	is "$(json_get "$T/version.json" "' '.join(j['transports'])")" \
		"$have" "daemon.version lists the same transports"
}

# ---------------------------------------------------------------- nbd
if iopd_has_transport nbd; then
	start_iopd --mgmt-socket "$T/mgmt.sock" a=ram:1M && {
		if command -v nbdinfo >/dev/null; then
			check "NBD serves" t nbdinfo --size "$(uri_unix a)"
		else
			skip "NBD serves" "nbdinfo not installed"
		fi
		version_check
		stop_iopd
	}
else
	fails_with "--listen without nbd" "needs the nbd transport" \
		--listen 127.0.0.1:0 a=ram:1M
	fails_with "--stdio without nbd" "needs the nbd transport" --stdio a=ram:1M
	fails_with "nothing but the default NBD listener" "give --iscsi-listen" a=ram:1M
	echo '{"listen": "127.0.0.1:0", "exports": [{"name": "a", "ddm": "ram", "size": "1M"}],
	       "iscsi": {"listen": "127.0.0.1:0"}}' >"$T/nbd.json"
	fails_with "the config file's listen without nbd" "needs the nbd transport" \
		-c "$T/nbd.json"
fi

# -------------------------------------------------------------- iscsi
if iopd_has_transport iscsi; then
	start_iopd --iscsi-listen 127.0.0.1:0 --mgmt-socket "$T/mgmt2.sock" a=ram:1M && {
		if command -v iscsi-inq >/dev/null; then
			check "iSCSI serves" t iscsi-inq "$(uri_iscsi "$(iqn_of a)")"
		else
			skip "iSCSI serves" "iscsi-inq not installed"
		fi
		iopd_has_transport nbd || version_check
		stop_iopd
	}
else
	fails_with "--iscsi-listen without iscsi" "needs the iscsi transport" \
		--iscsi-listen 127.0.0.1:0 a=ram:1M
	echo '{"exports": [{"name": "a", "ddm": "ram", "size": "1M"}],
	       "iscsi": {"listen": "127.0.0.1:0"}}' >"$T/iscsi.json"
	fails_with "the config file's iscsi.listen without iscsi" \
		"needs the iscsi transport" -c "$T/iscsi.json"
fi

done_testing
