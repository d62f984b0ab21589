#!/bin/bash
# SPDX-License-Identifier: MIT
# Least privilege (doc/security.md "Privileges"): with --user nobody
# --group nogroup a root-started iopd runs with every uid and gid
# non-zero, no capability, NoNewPrivs and a seccomp filter, and still
# serves NBD (nbdinfo, nbdcopy, qemu-img) and iSCSI (iscsi-ls,
# iscsi-inq) and answers root's iopctl.  An export added over the
# management channel from a directory outside the Landlock rules is
# refused by the kernel (EACCES) although iopd's own check
# (allowed_paths unset) and the file's permissions allow it: the same
# add succeeds with --sandbox=off.  Without --user the filter is on by
# default too.
. "$(dirname "$0")/lib.sh"
require nbdinfo nbdcopy qemu-img cmp
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (to switch to nobody)"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null ||
	skip_all "no user nobody or group nogroup"

ctl() { timeout -k 2 10 "$IOPCTL" -s "$IOPD_MGMT" "$@"; }

# status_field NAME: the values of NAME: in the daemon's /proc status.
status_field() {
	sed -n "s/^$1:[[:space:]]*//p" "/proc/$IOPD_PID/status" | tr -s '\t ' ' '
}

# The images: nobody must reach them, so the directories are opened
# up for traversal and the files for reading and writing.
chmod 0711 "$T"
mkdir "$T/img"
make_data "$T/img/disk.img" 16
chmod 0777 "$T/img"
chmod 0666 "$T/img/disk.img"
truncate -s 4M "$T/img/new.img"
chmod 0666 "$T/img/new.img"
# Outside every Landlock rule: not under $T (the runtime directory of
# the sockets), not an export's directory.
OUT=$(mktemp -d /tmp/iopd-privs-out.XXXXXX)
on_exit "rm -rf '$OUT'"
chmod 0755 "$OUT"
truncate -s 4M "$OUT/outside.img"
chmod 0666 "$OUT/outside.img"

ISCSI=()
if iopd_has_transport iscsi; then
	ISCSI=(--iscsi-listen 127.0.0.1:0)
fi
start_iopd --user nobody --group nogroup --mgmt-socket "$T/mgmt.sock" \
	"${ISCSI[@]}" "disk=$T/img/disk.img" || {
	done_testing
	exit 1
}

# ---- what the kernel says about the process
uids=$(status_field Uid)
gids=$(status_field Gid)
is "$uids" "65534 65534 65534 65534" "Uid: real, effective, saved, fs all nobody"
is "$gids" "65534 65534 65534 65534" "Gid: real, effective, saved, fs all nogroup"
is "$(status_field CapEff)" "0000000000000000" "CapEff: no capability"
is "$(status_field CapPrm)" "0000000000000000" "CapPrm: no capability"
is "$(status_field NoNewPrivs)" "1" "NoNewPrivs: 1"
is "$(status_field Seccomp)" "2" "Seccomp: 2 (a filter)"
if grep -q "landlock: file access restricted" "$IOPD_LOG"; then
	ok "Landlock rules in force"
elif grep -q "landlock: not available" "$IOPD_LOG"; then
	skip "Landlock rules in force" "the kernel has no Landlock"
else
	not_ok "Landlock rules in force" "$(grep landlock "$IOPD_LOG")"
fi

# ---- the clients
check "nbdinfo reads the export" nbdinfo "$(uri_unix disk)"
check "nbdcopy out of the export" nbdcopy "$(uri_unix disk)" "$T/copy.img"
check "the copy equals the image" cmp "$T/copy.img" "$T/img/disk.img"
make_data "$T/new.data" 16
check "nbdcopy into the export" nbdcopy "$T/new.data" "$(uri_tcp disk)"
check "the image now holds what was written" cmp "$T/new.data" "$T/img/disk.img"
check "qemu-img compare" qemu-img compare -f raw -F raw "$T/new.data" \
	"$(uri_tcp disk)"
if [ ${#ISCSI[@]} -gt 0 ] && command -v iscsi-ls >/dev/null; then
	check "iscsi-ls lists the target" iscsi-ls -s "iscsi://$IOPD_ISCSI"
	grep -q "$(iqn_of disk)" "$T/out" && ok "iscsi-ls names it" ||
		not_ok "iscsi-ls names it" "$(cat "$T/out")"
	check "iscsi-inq on LUN 0" iscsi-inq "$(uri_iscsi "$(iqn_of disk)")"
else
	skip "iscsi-ls and iscsi-inq" "no iSCSI transport or libiscsi-bin"
fi

# ---- the management channel, from root
check "iopctl (root) lists the exports" ctl export list
grep -q "^disk " "$T/out" && ok "the list has disk" ||
	not_ok "the list has disk" "$(cat "$T/out")"
check "export add inside the image directory" ctl export add new "file:$T/img/new.img"
_run ctl export add out "file:$OUT/outside.img"
st=$?
if [ "$st" -ne 0 ] && grep -q "Permission denied" "$T/out"; then
	ok "export add outside the Landlock rules: EACCES from the kernel"
else
	not_ok "export add outside the Landlock rules: EACCES from the kernel"
	_cmd_diag "$st" ctl export add out "file:$OUT/outside.img"
fi
iopd_alive "iopd keeps running"
stop_iopd

# ---- --sandbox=off: the same add works, so Landlock refused it above
start_iopd --user nobody --group nogroup --sandbox=off \
	--mgmt-socket "$T/mgmt2.sock" "disk=$T/img/disk.img" || {
	done_testing
	exit 1
}
is "$(status_field Seccomp)" "0" "--sandbox=off: Seccomp: 0"
is "$(status_field NoNewPrivs)" "1" "--sandbox=off: NoNewPrivs still 1"
is "$(status_field Uid)" "65534 65534 65534 65534" "--sandbox=off: still nobody"
check "--sandbox=off: the same outside export is added" \
	ctl export add out "file:$OUT/outside.img"
stop_iopd

# ---- the default: root, and the filter on
start_iopd "disk=$T/img/disk.img" || {
	done_testing
	exit 1
}
is "$(status_field Seccomp)" "2" "default: Seccomp: 2"
is "$(status_field NoNewPrivs)" "1" "default: NoNewPrivs: 1"
check "default: nbdinfo" nbdinfo "$(uri_unix disk)"
stop_iopd

# ---- a user that does not exist: refused before anything starts
check_fails "--user with an unknown name fails" \
	"$IOPD" --user iopd-no-such-user -l "unix:$T/x.sock" ram:1M
grep -q "no such user" "$T/out" && ok "and says why" ||
	not_ok "and says why" "$(cat "$T/out")"

done_testing
