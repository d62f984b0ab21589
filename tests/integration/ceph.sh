# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# ceph.sh: a real single-node Ceph cluster for the RBD tests, sourced after
# lib.sh.  One monitor and one memstore OSD on 127.0.0.1 (messenger v2
# only), pool size 1, everything under $T/ceph; no manager (nothing here
# needs one, and `ceph config show` would hang without it).  CEPH_ADDR,
# set before ceph_start, binds them to another address of this host (one
# that network namespaces reach, test_rbd_gateways.sh).
#
#   ceph_start [POOL]  build and start the cluster, create POOL (default
#                      "rbd") and wait until `rbd create` works in it.
#                      Sets CEPH_CONF (exported: ceph, rbd and librbd read
#                      it), CEPH_DIR, CEPH_MON_ADDR (v2:127.0.0.1:PORT),
#                      CEPH_KEYRING (client.admin), CEPH_POOL.  Returns
#                      non-zero, with the daemons' logs in diag lines, when
#                      the cluster does not come up.
#   ceph_stop          stop it by pid file, the OSD before the monitor
#                      (also registered with on_exit by ceph_start).
#   ceph_osd_pid       the OSD's pid (for SIGSTOP fault tests).
#   rbdc ARGS...       rbd against the cluster under the client timeout.
#   CEPH_CONF_EXTRA    lines for [global], set before ceph_start (a test's
#                      shorter watch timeout, say).
#
# The monitor's port is below the ephemeral range (other tests bind
# kernel-chosen ports there, and may run at the same time): a random free
# port in 20000-31999, and another one if the monitor cannot bind it.
# Readiness is polled (`ceph osd stat`, `rbd create`), never slept on.
# memstore keeps data in the OSD's memory, so keep test images small.
# A fault test that stops the OSD (SIGSTOP) should resume it within about
# 45 s: after osd_heartbeat_grace x osd_pool_default_read_lease_ratio
# (60 x 0.8 s here; Ceph's default grace is 20) its PGs' read leases lapse,
# and a one-OSD PG was seen to stay "laggy", delaying every request for
# good.  The grace is raised so that a stop which a loaded machine
# stretches past 16 s does not wedge the cluster.

CEPH_DIR=""
CEPH_CONF=""
CEPH_MON_ADDR=""
CEPH_KEYRING=""
CEPH_POOL=""
CEPH_CONF_EXTRA=${CEPH_CONF_EXTRA:-}
_ceph_started=0

# _ceph_poll SECS CMD...: run CMD every 0.1 s until it succeeds, for at
# most SECS seconds (readiness polling; each attempt is a real check).  A
# program gets at most 10 s an attempt: a ceph or rbd command has no time
# limit of its own and waits for good on a PG that does not answer.
_ceph_poll() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	declare -F "$1" >/dev/null || set -- timeout -k 2 10 "$@"
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# _ceph_free_port: a port in 20000-31999 nobody listens on now.
_ceph_free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 12000))
		grep -q . <<<"$(ss -Hltn "sport = :$p" 2>/dev/null)" || {
			echo "$p"
			return 0
		}
	done
	return 1
}

_ceph_write_conf() {
	local fsid=$1 d=$CEPH_DIR
	cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = $CEPH_MON_ADDR
mon initial members = a
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
ms bind msgr1 = false
ms bind msgr2 = true
ms bind retry count = 1
ms bind retry delay = 0
client mount timeout = 15
public addr = ${CEPH_ADDR:-127.0.0.1}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
paxos propose interval = 0.1
osd heartbeat grace = 60
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 256
osd max object namespace len = 64
osd data = $d/osd.\$id
mon data = $d/mon.\$id
run dir = $d
crash dir = $d/crash
log to stderr = false
err to stderr = false
${CEPH_CONF_EXTRA:-}

[mon]
log file = $d/\$name.log
admin socket = $d/\$name.asok
pid file = $d/\$name.pid

[osd]
log file = $d/\$name.log
admin socket = $d/\$name.asok
pid file = $d/\$name.pid
keyring = $d/osd.\$id/keyring

[client]
keyring = $CEPH_KEYRING
log file = $d/client.log
admin socket =
EOF
}

# _ceph_mon_start: mkfs and start monitor "a" on a free port; 0 once it
# answers.
_ceph_mon_start() {
	local fsid=$1 port d=$CEPH_DIR
	port=$(_ceph_free_port) || return 1
	CEPH_MON_ADDR="v2:${CEPH_ADDR:-127.0.0.1}:$port"
	_ceph_write_conf "$fsid"
	rm -rf "$d/mon.a" "$d/monmap"
	monmaptool --create --fsid "$fsid" \
		--addv a "[$CEPH_MON_ADDR]" "$d/monmap" >/dev/null 2>&1 &&
		ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$d/monmap" \
			--keyring "$d/mon.keyring" >>"$d/setup.log" 2>&1 &&
		ceph-mon -c "$CEPH_CONF" -i a >>"$d/setup.log" 2>&1 || return 1
	_ceph_mon_wait
}

# _ceph_mon_wait: poll until the monitor answers (0), or it died, as it
# does when it cannot bind its port, or 15 s passed (1).
_ceph_mon_wait() {
	local end=$((SECONDS + 15)) pid
	while [ "$SECONDS" -lt "$end" ]; do
		ceph --connect-timeout 2 mon stat >/dev/null 2>&1 && return 0
		pid=$(cat "$CEPH_DIR/mon.a.pid" 2>/dev/null)
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# The keyrings, before ceph.conf exists (ceph-authtool would read it).
_ceph_keys() {
	local d=$CEPH_DIR CEPH_CONF=/dev/null
	ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null &&
		ceph-authtool --create-keyring "$CEPH_KEYRING" --gen-key \
			-n client.admin --cap mon 'allow *' --cap osd 'allow *' \
			--cap mgr 'allow *' >/dev/null &&
		ceph-authtool "$d/mon.keyring" --import-keyring \
			"$CEPH_KEYRING" >/dev/null
}

_ceph_osd_start() {
	local d=$CEPH_DIR uuid id
	uuid=$(cat /proc/sys/kernel/random/uuid)
	id=$(ceph osd create "$uuid" 2>>"$d/setup.log") || return 1
	mkdir -p "$d/osd.$id"
	ceph-osd -c "$CEPH_CONF" -i "$id" --mkfs --mkkey --no-mon-config \
		--osd-uuid "$uuid" \
		>>"$d/setup.log" 2>&1 &&
		ceph auth add "osd.$id" osd 'allow *' mon 'allow profile osd' \
			-i "$d/osd.$id/keyring" >>"$d/setup.log" 2>&1 &&
		ceph-osd -c "$CEPH_CONF" -i "$id" >>"$d/setup.log" 2>&1 ||
		return 1
	_ceph_poll 20 _ceph_osd_up
}

_ceph_osd_up() {
	grep -q '1 up' <<<"$(ceph --connect-timeout 3 osd stat 2>/dev/null)"
}

_ceph_diag() {
	local f
	for f in "$CEPH_DIR"/setup.log "$CEPH_DIR"/*.log; do
		[ -s "$f" ] || continue
		diag "--- $f" "$(tail -n 15 "$f")"
	done
}

ceph_start() {
	local pool=${1:-rbd} fsid try
	require ceph-mon ceph-osd ceph rbd monmaptool ceph-authtool ss
	CEPH_DIR=$T/ceph
	CEPH_CONF=$CEPH_DIR/ceph.conf
	CEPH_KEYRING=$CEPH_DIR/client.admin.keyring
	CEPH_POOL=$pool
	export CEPH_CONF
	mkdir -p "$CEPH_DIR/crash" || return 1
	fsid=$(cat /proc/sys/kernel/random/uuid)
	_ceph_keys || return 1
	_ceph_started=1
	on_exit ceph_stop
	for ((try = 0; try < 5; try++)); do
		_ceph_mon_start "$fsid" && break
		_ceph_kill mon.a # lost the port to someone else: another one
	done
	if [ "$try" -eq 5 ]; then
		_ceph_diag
		return 1
	fi
	if ! _ceph_osd_start ||
		! ceph osd pool create "$pool" 8 8 >>"$CEPH_DIR/setup.log" 2>&1 ||
		! ceph osd pool application enable "$pool" rbd \
			>>"$CEPH_DIR/setup.log" 2>&1 ||
		! _ceph_poll 30 rbd create --size 1M "$pool/ceph-ready"; then
		_ceph_diag
		return 1
	fi
	rbd rm "$pool/ceph-ready" >/dev/null 2>&1
	return 0
}

# A test's first check: the cluster starts, or the test ends there (one
# not-ok; nothing after it could pass without a cluster).
ceph_start_or_bail() {
	if ceph_start; then
		ok "a one-monitor, one-OSD Ceph cluster answers on $CEPH_MON_ADDR"
	else
		not_ok "a one-monitor, one-OSD Ceph cluster starts"
		done_testing
		exit 1
	fi
}

# _ceph_kill NAME: stop a daemon by its pid file and wait for it to go.
_ceph_kill() {
	local pidf=$CEPH_DIR/$1.pid pid
	[ -s "$pidf" ] || return 0
	pid=$(cat "$pidf")
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null || return 0
	timeout 10 tail -s 0.1 --pid="$pid" -f /dev/null >/dev/null 2>&1 ||
		kill -KILL "$pid" 2>/dev/null
	rm -f "$pidf"
}

ceph_osd_pid() {
	cat "$CEPH_DIR/osd.0.pid"
}

ceph_stop() {
	[ "$_ceph_started" = 1 ] || return 0
	_ceph_kill osd.0
	_ceph_kill mon.a
	_ceph_started=0
}

rbdc() {
	t rbd "$@"
}
