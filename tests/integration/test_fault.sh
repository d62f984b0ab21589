#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_fault.sh: the fault DDM with real clients (qemu-io over NBD and
# iSCSI, and the raw NBD client where qemu would flush on its own), driven
# through `iopctl device control`:
#   1. injected errors (with a byte range, partial writes, once) reach the
#      client as EIO on both protocols; latency is added; stats count them;
#   2. the volatile cache: a flushed write and a FUA write survive a
#      simulated crash, an unflushed write is lost (the negative control),
#      write-back reaches the inner file only at a flush, and stopping
#      iopd flushes;
#   3. sticky write-back errors: one EIO injected into one flush makes
#      every later flush and FUA write fail, on NBD and iSCSI and from new
#      connections, while reads work, until `iopctl export clear-error`.
. "$(dirname "$0")/lib.sh"

require qemu-io python3
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"

HAVE_ISCSI=1 NO_ISCSI="qemu lacks the iscsi driver (install qemu-block-extra)"
grep -qw iscsi <<<"$(qemu-img --help 2>/dev/null)" || HAVE_ISCSI=0
iopd_has_transport iscsi || HAVE_ISCSI=0 NO_ISCSI="iopd was built without iscsi"

ctl() { t "$IOPCTL" -s "$IOPD_MGMT" "$@"; }

# stat EXPORT KEY: one value of the fault DDM's stats.
stat() {
	t "$IOPCTL" -s "$IOPD_MGMT" --json device control "$1" stats >"$T/stats.json" &&
		json_get "$T/stats.json" "j.get('$2')"
}

# qiot MODE URI COMMAND...: qemu-io with cache mode MODE (writeback: plain
# writes and real flushes; unsafe: no flush at all over iSCSI).
qiot() {
	local mode=$1 uri=$2 c
	local -a args=()
	shift 2
	for c in "$@"; do args+=(-c "$c"); done
	t qemu-io -t "$mode" -f raw "$uri" "${args[@]}"
}

# qio_ro URI COMMAND...: read-only, so qemu sends no flush on close.
qio_ro() {
	local uri=$1 c
	local -a args=()
	shift
	for c in "$@"; do args+=(-c "$c"); done
	t qemu-io -r -f raw "$uri" "${args[@]}"
}

# saw_eio DESC: the last command's output names EIO.
saw_eio() {
	if grep -q "Input/output error" "$T/out"; then
		ok "$1"
	else
		not_ok "$1" "output:" "$(tail -n 5 "$T/out")"
	fi
}

# iscsi_check KIND DESC ARGS...: run check/check_fails when iSCSI is here.
iscsi_check() {
	local kind=$1 desc=$2
	shift 2
	if [ "$HAVE_ISCSI" = 0 ]; then
		skip "$desc" "$NO_ISCSI"
		return 1
	fi
	"$kind" "$desc" "$@"
}

truncate -s 16M "$T/vf.img"
extra=()
[ "$HAVE_ISCSI" = 1 ] && extra=(--iscsi-listen 127.0.0.1:0)
start_iopd "${extra[@]}" --mgmt-socket "$T/mgmt" \
	err=fault:ram:16M 'vol=fault:ram:16M?volatile=1&block=512' \
	"vf=fault:file:$T/vf.img?volatile=1" \
	'sticky=fault:ram:16M?flush=EIO:once' \
	'sticky2=fault:ram:16M?flush=EIO:once' plain=ram:1M || {
	done_testing
	exit 1
}
# vol's cache block is 512 bytes: qemu 7.2's iscsi driver asserts on reads
# of 32 KiB or more from thin-provisioned LUNs with 4 KiB blocks
# (iscsi_co_block_status), whatever serves them.
iscsi() { uri_iscsi "$(iqn_of "$1")"; }
# qio_iscsi_ro EXPORT COMMAND...: reads over iSCSI; with nothing written,
# cache=unsafe sends no SYNCHRONIZE CACHE.
qio_iscsi_ro() {
	local uri
	uri=$(iscsi "$1")
	shift
	qiot unsafe "$uri" "$@"
}

# ------------------------------------------------------------------ 1
E=$(uri_unix err)
check "err: no rule, data round trips" qio "$E" "write -P 0x10 0 2M" "read -P 0x10 0 2M"
check "control set read=EIO:range=1M+64K" ctl device control err set read=EIO:range=1M+64K
check "NBD: a read outside the range works" qio_ro "$E" "read -P 0x10 0 64k"
check_fails "NBD: a read inside the range fails" qio_ro "$E" "read 1M 4k"
saw_eio "NBD: ... with EIO"
iscsi_check check "iSCSI: a read outside the range works" qio_iscsi_ro err "read -P 0x10 1536k 64k" || true
if iscsi_check check_fails "iSCSI: a read inside the range fails" qio_iscsi_ro err "read 1040k 4k"; then
	saw_eio "iSCSI: ... with EIO"
fi
check "control set write=EIO, read=off" ctl device control err set write=EIO read=off
check_fails "NBD: a write fails" qiot writeback "$E" "write -P 0x11 4M 64k"
saw_eio "NBD: ... with EIO"
if iscsi_check check_fails "iSCSI: a write fails" qiot writeback "$(iscsi err)" "write -P 0x11 4M 64k"; then
	saw_eio "iSCSI: ... with EIO"
fi
check "NBD: reads work while writes fail" qio_ro "$E" "read -P 0x10 1M 64k" "read -P 0 4M 64k"
check "control set write=EIO:partial:once" ctl device control err set write=EIO:partial:once
check_fails "NBD: a torn 128 KiB write fails" qiot writeback "$E" "write -P 0x22 8M 128k"
check "... having written its first half only" qio_ro "$E" "read -P 0x22 8M 64k" "read -P 0 8256k 64k"
check "once: the next write is whole" qiot writeback "$E" "write -P 0x23 8M 128k" "read -P 0x23 8M 128k"
check "control set read=delay=400" ctl device control err set read=delay=400
t0=$(date +%s%N)
check "NBD: a delayed read completes" qio_ro "$E" "read -P 0x10 0 4k"
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -ge 400 ]; then ok "... after at least 400 ms ($ms ms)"; else
	not_ok "... after at least 400 ms" "took $ms ms"; fi
check "control stats" ctl --json device control err stats
cp "$T/out" "$T/err.stats"
want_reads=1
[ "$HAVE_ISCSI" = 1 ] && want_reads=2
is "$(json_get "$T/err.stats" "j['injected.read']")" "$want_reads" "stats: injected.read"
is "$(json_get "$T/err.stats" "j['injected.write'] >= 2")" true "stats: injected.write"
is "$(json_get "$T/err.stats" "j['rule.read']")" "delay=400" "stats: the rules as set"
check "control clear" ctl device control err clear
is "$(stat err rule.read)" None "clear: no rule left"
check_fails "an unknown verb is refused" ctl device control err dance
check_fails "a bad rule is refused" ctl device control err set write=EWHAT
check_fails "inner cannot change while open" ctl device control err set inner=null
check_fails "a DDM without commands refuses them" ctl device control plain stats
check_fails "an unknown export is refused" ctl device control nosuch stats

# Added while running, from a spec with settings; saved as "options".
check "export add with a fault spec" ctl export add live 'fault:ram:4M?volatile=1&write=ENOSPC:once'
check "daemon config" ctl --json daemon config
is "$(json_get "$T/out" "[e.get('options') for e in j['exports'] if e['name'] == 'live'][0]")" \
	"{'inner': 'ram', 'volatile': '1', 'write': 'ENOSPC:once'}" "daemon config: the export's options"
check_fails "live: the rule is in force" qiot writeback "$(uri_unix live)" "write -P 1 0 4k"
check "live: ... once" qiot writeback "$(uri_unix live)" "write -P 1 0 4k" "flush"
check "export remove" ctl export remove live

# ------------------------------------------------------------------ 2
V=$(uri_unix vol)
check "NBD: write and flush (qemu-io -t writeback)" qiot writeback "$V" "write -P 0x41 0 1M" "flush"
check "NBD: an unflushed write (raw client: no flush, no FUA)" nbdpy <<'EOF'
from nbdproto import *
c = connect("vol")
assert c.write(1 << 20, b"\x42" * (1 << 20)) == 0
assert c.disc()
EOF
check "NBD: a FUA write, and an unflushed write beside it" nbdpy <<'EOF'
from nbdproto import *
c = connect("vol")
assert c.tflags & T_SEND_FUA and c.tflags & T_SEND_FLUSH
assert c.write(2 << 20, b"\x43" * 65536, F_FUA) == 0
assert c.write(3 << 20, b"\x44" * 65536) == 0
assert c.disc()
EOF
is "$(stat vol dirty_bytes)" $(((1 << 20) + 65536)) "stats: 1 MiB + 64 KiB dirty"
check "reads see the unflushed data before the crash" qio_ro "$V" "read -P 0x42 1M 1M" "read -P 0x44 3M 64k"
check "control crash" ctl --json device control vol crash
is "$(json_get "$T/out" "j['lost_bytes']")" $(((1 << 20) + 65536)) "crash: 1 MiB + 64 KiB lost"
check "NBD: the flushed write survived the crash" qio_ro "$V" "read -P 0x41 0 1M"
check "NBD: the FUA write survived the crash" qio_ro "$V" "read -P 0x43 2M 64k"
check "NBD: the unflushed writes were lost (negative control)" qio_ro "$V" "read -P 0 1M 1M" "read -P 0 3M 64k"
VI=$(iscsi vol)
iscsi_check check "iSCSI: write and flush" qiot writeback "$VI" "write -P 0x51 8M 1M" "flush" || true
iscsi_check check "iSCSI: an unflushed write (cache=unsafe)" qiot unsafe "$VI" "write -P 0x52 9M 1M" || true
iscsi_check check "iSCSI: a FUA write (cache=unsafe, write -f)" qiot unsafe "$VI" "write -f -P 0x53 10M 64k" || true
if [ "$HAVE_ISCSI" = 1 ]; then
	is "$(stat vol dirty_bytes)" $((1 << 20)) "stats: the unflushed 1 MiB is dirty"
	check "control crash" ctl device control vol crash
	check "iSCSI: the flushed write survived the crash" qio_iscsi_ro vol "read -P 0x51 8M 1M"
	check "iSCSI: the FUA write survived the crash" qio_iscsi_ro vol "read -P 0x53 10M 64k"
	check "iSCSI: the unflushed write was lost (negative control)" qio_iscsi_ro vol "read -P 0 9M 1M"
fi
check "vf: an unflushed write, then one more to flush later" nbdpy <<'EOF'
from nbdproto import *
c = connect("vf")
assert c.write(0, b"\x61" * 65536) == 0
assert c.disc()
EOF
check "vf: the backing file does not have it yet" file_has "$T/vf.img" 0 0 65536
check "vf: FLUSH" nbdpy <<'EOF'
from nbdproto import *
c = connect("vf")
assert c.cmd(CMD_FLUSH, 0, 0)[0] == 0
assert c.write(1 << 20, b"\x62" * 65536) == 0
assert c.disc()
EOF
check "vf: the flush wrote it to the backing file" file_has "$T/vf.img" 0x61 0 65536
check "vf: the later write is not there yet" file_has "$T/vf.img" 0 $((1 << 20)) 65536

# ------------------------------------------------------------------ 3
S=$(uri_unix sticky)
check_fails "sticky: the first flush fails (NBD, rule flush=EIO:once)" \
	qiot writeback "$S" "write -P 0x71 0 64k" "flush"
check_fails "sticky: a later flush fails too (a second NBD connection)" \
	qiot writeback "$S" "write -P 0x72 64k 4k" "flush"
check_fails "sticky: a FUA write fails (NBD)" qiot writeback "$S" "write -f -P 0x73 128k 4k"
saw_eio "sticky: ... with EIO"
check "sticky: reads still work (NBD)" qio_ro "$S" "read -P 0x71 0 64k"
if iscsi_check check_fails "sticky: a flush fails (iSCSI)" \
	qiot writeback "$(iscsi sticky)" "write -P 0x74 256k 4k" "flush"; then
	iscsi_check check_fails "sticky: a FUA write fails (iSCSI)" \
		qiot writeback "$(iscsi sticky)" "write -f -P 0x75 320k 4k"
	saw_eio "sticky: ... with EIO"
	iscsi_check check "sticky: reads still work (iSCSI)" qio_iscsi_ro sticky "read -P 0x71 0 64k"
fi
is "$(stat sticky injected.flush)" 1 "the rule fired once: later failures are the sticky error"
ctl --json export list name=sticky >"$T/list.json"
is "$(json_get "$T/list.json" "j[0]['state']")" degraded "export list: sticky is degraded"
check "export clear-error" ctl export clear-error sticky
check "after clear-error a flush succeeds again" qiot writeback "$S" "write -P 0x76 0 4k" "flush"

# The same with the first failure on iSCSI.
S2=$(uri_unix sticky2)
if iscsi_check check_fails "sticky2: the first flush fails (iSCSI)" \
	qiot writeback "$(iscsi sticky2)" "write -P 0x81 0 64k" "flush"; then
	check_fails "sticky2: then a flush fails on NBD" qiot writeback "$S2" "flush"
	check_fails "sticky2: and a FUA write on NBD" qiot writeback "$S2" "write -f -P 0x82 64k 4k"
	iscsi_check check_fails "sticky2: and a flush on a second iSCSI connection" \
		qiot writeback "$(iscsi sticky2)" "write -P 0x83 128k 4k" "flush"
	check "sticky2: reads still work (NBD)" qio_ro "$S2" "read -P 0x81 0 64k"
	check "export clear-error" ctl export clear-error sticky2
fi

# Stopping iopd is a flush point: vf's last write reaches its file.
stop_iopd
check "vf: stopping iopd flushed the cache to the backing file" \
	file_has "$T/vf.img" 0x62 $((1 << 20)) 65536
done_testing
