#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_clients.sh: iopd's iSCSI target with real initiators from
# Debian: libiscsi's tools (iscsi-ls, iscsi-inq, iscsi-readcapacity16) and
# qemu's iscsi:// driver (qemu-img, qemu-io); the same exports over NBD
# at the same time; CHAP, mutual CHAP, initiator ACLs, several LUNs per
# target from the config file, and the config checks around them.
IOPD_TEST_TRANSPORTS="nbd iscsi"
. "$(dirname "$0")/lib.sh"

require iscsi-ls iscsi-inq iscsi-readcapacity16 qemu-img qemu-io nbdcopy \
	nbdinfo python3 cmp

MiB=$((1 << 20))
PORTAL_RE='127\.0\.0\.1:[0-9]+,[0-9]+'

# The size iscsi-ls prints: block size x last LBA, divided by 1024 while
# above 1024 (utils/iscsi-ls.c).
ls_size() {
	python3 -c '
import sys
size, bs = int(sys.argv[1]), int(sys.argv[2])
v, i = bs * (size // bs - 1), 0
while i < 4 and v > 1024:
    v //= 1024
    i += 1
print("%d%s" % (v, "BkMGT"[i]))' "$1" "$2"
}

# lun_line LUN SIZE BS: what iscsi-ls -s prints for a disk LUN.
lun_line() {
	printf 'Lun:%-4d Type:DIRECT_ACCESS (Size:%s)' "$1" "$(ls_size "$2" "$3")"
}

# has FILE TEXT DESC: FILE holds the line TEXT (fixed string).
has_line() {
	if grep -qxF -- "$2" "$1"; then
		ok "$3"
	else
		not_ok "$3" "want line: $2" "got:" "$(cat "$1")"
	fi
}

grep -qw iscsi <<<"$(qemu-img --help)" || skip_all "qemu-img lacks the iscsi driver (install qemu-block-extra)"

# ------------------------------------------------------------------ 1
# One target per export, by default, named <prefix>:<export>.

make_data "$T/disk.img" 32
make_data "$T/ro.img" 8
cp "$T/ro.img" "$T/ro.orig"
start_iopd --iscsi-listen 127.0.0.1:0 "disk=$T/disk.img" "ro=$T/ro.img,ro" \
	mem=ram:16M || {
	done_testing
	exit 1
}
if [ -n "$IOPD_ISCSI" ] && [ -n "$IOPD_ISCSI_PORT" ]; then
	ok "iopd announced its portal on the ready fd (LISTEN iscsi $IOPD_ISCSI)"
else
	not_ok "iopd announced its portal on the ready fd" "IOPD_ISCSI='$IOPD_ISCSI'"
	done_testing
	exit 1
fi
DISK=$(iqn_of disk) RO=$(iqn_of ro) MEM=$(iqn_of mem)

check "iscsi-ls -s lists the targets" iscsi-ls -s "iscsi://$IOPD_ISCSI"
cp "$T/out" "$T/ls.out"
for tg in "$DISK" "$RO" "$MEM"; do
	if grep -qE "^Target:$tg Portal:$PORTAL_RE\$" "$T/ls.out"; then
		ok "iscsi-ls: target $tg with portal $IOPD_ISCSI"
	else
		not_ok "iscsi-ls: target $tg with portal $IOPD_ISCSI" "$(cat "$T/ls.out")"
	fi
done
is "$(grep -c '^Target:' "$T/ls.out")" 3 "iscsi-ls: exactly three targets"
python3 - "$T/ls.out" "$DISK" "$RO" "$MEM" >"$T/ls.luns" <<'EOF'
import sys
cur, out = None, {}
for l in open(sys.argv[1]):
    l = l.rstrip("\n")
    if l.startswith("Target:"):
        cur = l.split()[0][7:]
    elif l.startswith("Lun:") and cur:
        out.setdefault(cur, []).append(l)
for t in sys.argv[2:]:
    print(t, "|".join(out.get(t, [])))
EOF
BS=$(iscsi-readcapacity16 "$(uri_iscsi "$DISK")" 2>/dev/null |
	sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES://p')
BS=${BS:-512}
is "$(sed -n "s|^$DISK ||p" "$T/ls.luns")" "$(lun_line 0 $((32 * MiB)) "$BS")" \
	"iscsi-ls -s: $DISK has LUN 0, 32 MiB"
is "$(sed -n "s|^$MEM ||p" "$T/ls.luns")" "$(lun_line 0 $((16 * MiB)) "$BS")" \
	"iscsi-ls -s: $MEM has LUN 0, 16 MiB"

check "iscsi-inq: standard INQUIRY" iscsi-inq "$(uri_iscsi "$DISK")"
has_line "$T/out" "Peripheral Device Type:DIRECT_ACCESS" "iscsi-inq: a direct-access device"
check "iscsi-inq: VPD page list" iscsi-inq -e 1 -c 0 "$(uri_iscsi "$DISK")"
cp "$T/out" "$T/vpd0"
for pg in "0x80 UNIT_SERIAL_NUMBER:128" "0x83 DEVICE_IDENTIFICATION:131" \
	"0xb0 BLOCK_LIMITS:176" "0xb1 BLOCK_DEVICE_CHARACTERISTICS:177" \
	"0xb2 LOGICAL_BLOCK_PROVISIONING:178"; do
	name=${pg%:*}
	has_line "$T/vpd0" "Page:$name" "iscsi-inq: VPD 0x00 lists $name"
	check "iscsi-inq: VPD page $name answers" iscsi-inq -e 1 -c "${pg##*:}" "$(uri_iscsi "$DISK")"
	[ "${pg##*:}" = 131 ] && cp "$T/out" "$T/vpd83"
done
if grep -q "Designator Type:(3) NAA" "$T/vpd83"; then
	ok "iscsi-inq: VPD 0x83 has an NAA designator"
else
	not_ok "iscsi-inq: VPD 0x83 has an NAA designator" "$(cat "$T/vpd83")"
fi
check "iscsi-inq with CRC32C header digests" iscsi-inq \
	"$(uri_iscsi "$DISK")?header_digest=crc32c"
check "iscsi-readcapacity16" iscsi-readcapacity16 "$(uri_iscsi "$DISK")"
has_line "$T/out" "Total size:$((32 * MiB))" "iscsi-readcapacity16: 32 MiB"
check_fails "iscsi-inq: a LUN that is not mapped fails" iscsi-inq "$(uri_iscsi "$DISK" 5)"
check_fails "iscsi-inq: an unknown target fails" iscsi-inq \
	"$(uri_iscsi "$(iqn_of no-such-export)")"

# qemu-img convert to iscsi:// and back, bit for bit.
make_data "$T/src.raw" 32
check "qemu-img convert file -> iscsi://" t qemu-img convert -n -f raw -O raw \
	"$T/src.raw" "$(uri_iscsi "$DISK")"
check "qemu-img convert iscsi:// -> file" t qemu-img convert -f raw -O raw \
	"$(uri_iscsi "$DISK")" "$T/back.raw"
check "the image round-trips bit for bit" cmp "$T/src.raw" "$T/back.raw"
check "the export's backing file holds the image" cmp "$T/src.raw" "$T/disk.img"

# qemu-io patterns, and the same bytes through the other protocol.
check "qemu-io over iSCSI: write and read back a pattern" qio "$(uri_iscsi "$DISK")" \
	"write -P 0xab 1M 64k" "read -P 0xab 1M 64k" "write -P 0x5a 3000k 4k" \
	"read -P 0x5a 3000k 4k"
check "written over iSCSI, on storage" file_has "$T/disk.img" 0xab $((1 * MiB)) 65536
check "written over iSCSI, read over NBD" qio "$(uri_tcp disk)" \
	"read -P 0xab 1M 64k" "read -P 0x5a 3000k 4k"
check "qemu-io over NBD: write a pattern" qio "$(uri_tcp disk)" "write -P 0xcd 5M 128k"
check "written over NBD, read over iSCSI" qio "$(uri_iscsi "$DISK")" "read -P 0xcd 5M 128k"
check "nbdcopy of the export" t nbdcopy "$(uri_tcp disk)" "$T/nbd.raw"
check "qemu-img convert of the same export over iSCSI" t qemu-img convert -f raw \
	-O raw "$(uri_iscsi "$DISK")" "$T/iscsi.raw"
check "NBD and iSCSI read the same bytes" cmp "$T/nbd.raw" "$T/iscsi.raw"
check "nbdinfo sees the iSCSI size" nbdinfo --size "$(uri_tcp disk)"
is "$(cat "$T/out")" $((32 * MiB)) "nbdinfo: 32 MiB"

# A read-only export.
check_fails "qemu-io cannot write to a read-only export" qio "$(uri_iscsi "$RO")" \
	"write -P 0x11 0 64k"
check "the read-only export's file is unchanged" cmp "$T/ro.img" "$T/ro.orig"
check "the read-only export still reads" t qemu-img convert -f raw -O raw \
	"$(uri_iscsi "$RO")" "$T/ro.back"
check "and reads what is stored" cmp "$T/ro.back" "$T/ro.orig"

iopd_alive "iopd still running"
stop_iopd

# ------------------------------------------------------------------ 2
# Targets from the config file: several LUNs per target, a read-only
# LUN of a writable export, a 4096-byte block size, a custom prefix; and
# --iscsi-target on the command line.

cat >"$T/multi.json" <<EOF
{
  "listen": ["127.0.0.1:0", "unix:$T/sock.multi"],
  "exports": [
    {"name": "a", "ddm": "ram", "size": "8M"},
    {"name": "b", "ddm": "ram", "size": "16M"},
    {"name": "c", "ddm": "file", "path": "$T/c.img"}
  ],
  "iscsi": {
    "listen": ["127.0.0.1:0"],
    "iqn_prefix": "iqn.2026-11.test.iopd",
    "nop_interval": 5,
    "nop_timeout": 10,
    "targets": [
      {"name": "iqn.2026-11.test.iopd:multi", "alias": "three LUNs",
       "luns": [{"lun": 0, "export": "a"},
                {"lun": 3, "export": "b", "read_only": true},
                {"lun": 7, "export": "c", "block_size": 4096}]}
    ]
  }
}
EOF
truncate -s 4M "$T/c.img"
start_iopd -c "$T/multi.json" --iscsi-target "iqn.2026-11.test.cli:pair=b,a" || {
	done_testing
	exit 1
}
MULTI=iqn.2026-11.test.iopd:multi PAIR=iqn.2026-11.test.cli:pair
check "iscsi-ls -s on the configured targets" iscsi-ls -s "iscsi://$IOPD_ISCSI"
cp "$T/out" "$T/ls2.out"
is "$(grep -c '^Target:' "$T/ls2.out")" 2 \
	"iscsi-ls: only the configured targets (no target per export)"
python3 - "$T/ls2.out" "$MULTI" "$PAIR" >"$T/ls2.luns" <<'EOF'
import sys
cur, out = None, {}
for l in open(sys.argv[1]):
    l = l.rstrip("\n")
    if l.startswith("Target:"):
        cur = l.split()[0][7:]
    elif l.startswith("Lun:") and cur:
        out.setdefault(cur, []).append(l)
for t in sys.argv[2:]:
    print(t, "|".join(out.get(t, [])))
EOF
BSA=$(iscsi-readcapacity16 "$(uri_iscsi "$MULTI" 0)" 2>/dev/null |
	sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES://p')
BSA=${BSA:-512}
is "$(sed -n "s|^$MULTI ||p" "$T/ls2.luns")" \
	"$(lun_line 0 $((8 * MiB)) "$BSA")|$(lun_line 3 $((16 * MiB)) "$BSA")|$(lun_line 7 $((4 * MiB)) 4096)" \
	"iscsi-ls -s: $MULTI has LUNs 0, 3 and 7 with their sizes"
is "$(sed -n "s|^$PAIR ||p" "$T/ls2.luns")" \
	"$(lun_line 0 $((16 * MiB)) "$BSA")|$(lun_line 1 $((8 * MiB)) "$BSA")" \
	"iscsi-ls -s: --iscsi-target $PAIR has LUNs 0 (b) and 1 (a)"
check "iscsi-readcapacity16 on LUN 7" iscsi-readcapacity16 "$(uri_iscsi "$MULTI" 7)"
has_line "$T/out" "LOGICAL BLOCK LENGTH IN BYTES:4096" "LUN 7 has 4096-byte blocks"
check "write LUN 0 (export a) over iSCSI" qio "$(uri_iscsi "$MULTI" 0)" "write -P 0x77 0 64k"
check "read it through the other target's LUN 1 (export a)" qio "$(uri_iscsi "$PAIR" 1)" \
	"read -P 0x77 0 64k"
check "and over NBD" qio "$(uri_unix a)" "read -P 0x77 0 64k"
check_fails "LUN 3 (read_only in the target) refuses writes" qio "$(uri_iscsi "$MULTI" 3)" \
	"write -P 0x12 0 4k"
check "export b stays writable through the other target" qio "$(uri_iscsi "$PAIR" 0)" \
	"write -P 0x13 0 4k" "read -P 0x13 0 4k"
check "LUN 7: 4 KiB writes" qio "$(uri_iscsi "$MULTI" 7)" "write -P 0x21 8k 8k" \
	"read -P 0x21 8k 8k"
check "LUN 7 writes land in the file" file_has "$T/c.img" 0x21 8192 8192
stop_iopd

# ------------------------------------------------------------------ 3
# CHAP, mutual CHAP, initiator ACLs, discovery CHAP.

ALICE=alice-secret-0123 BOB=bob-secret-456789 TGTSEC=target-secret-abcdef
DSEC=discovery-secret-xyz
printf '%s\n' "$ALICE" >"$T/alice.secret"
printf '%s' "$BOB" >"$T/bob.secret"
printf '%s\n' "$TGTSEC" >"$T/target.secret"
printf '%s\n' "$DSEC" >"$T/disc.secret"
chmod 600 "$T"/*.secret
ALLOWED=iqn.2026-11.test.client:allowed
cat >"$T/auth.json" <<EOF
{
  "listen": ["127.0.0.1:0"],
  "exports": [{"name": "a", "ddm": "ram", "size": "8M"}],
  "iscsi": {
    "listen": "127.0.0.1:0",
    "targets": [
      {"name": "iqn.2026-11.test.iopd:chap", "luns": [{"export": "a"}],
       "chap": {"user": "alice", "secret_file": "$T/alice.secret"}},
      {"name": "iqn.2026-11.test.iopd:mutual", "luns": [{"export": "a"}],
       "chap": {"user": "bob", "secret_file": "$T/bob.secret"},
       "mutual_chap": {"user": "tgt", "secret_file": "$T/target.secret"}},
      {"name": "iqn.2026-11.test.iopd:acl", "luns": [{"export": "a"}],
       "initiators": ["$ALLOWED"]},
      {"name": "iqn.2026-11.test.iopd:open", "luns": [{"export": "a"}]}
    ]
  }
}
EOF
start_iopd -c "$T/auth.json" || {
	done_testing
	exit 1
}
CHAPT=iqn.2026-11.test.iopd:chap MUT=iqn.2026-11.test.iopd:mutual
ACL=iqn.2026-11.test.iopd:acl OPEN=iqn.2026-11.test.iopd:open
check "no CHAP needed on an open target" iscsi-inq "$(uri_iscsi "$OPEN")"
check "CHAP: the right secret logs in" iscsi-inq "$(uri_iscsi "$CHAPT" 0 "" "alice%$ALICE")"
check_fails "CHAP: a wrong secret is refused" iscsi-inq \
	"$(uri_iscsi "$CHAPT" 0 "" "alice%${ALICE}x")"
check_fails "CHAP: a wrong user is refused" iscsi-inq \
	"$(uri_iscsi "$CHAPT" 0 "" "mallory%$ALICE")"
check_fails "CHAP: no credentials are refused" iscsi-inq "$(uri_iscsi "$CHAPT")"
check_fails "CHAP: another target's credentials are refused" iscsi-inq \
	"$(uri_iscsi "$CHAPT" 0 "" "bob%$BOB")"
check "CHAP: qemu-io with the right secret" qio "$(uri_iscsi "$CHAPT" 0 "" "alice%$ALICE")" \
	"write -P 0x31 0 4k" "read -P 0x31 0 4k"
check "mutual CHAP target: one-way CHAP still logs in" iscsi-inq \
	"$(uri_iscsi "$MUT" 0 "" "bob%$BOB")"
check "mutual CHAP: the target proves its secret" iscsi-inq \
	"$(uri_iscsi "$MUT" 0 "" "bob%$BOB")?target_user=tgt&target_password=$TGTSEC"
check_fails "mutual CHAP: the initiator rejects a target that does not know the secret it expects" \
	iscsi-inq "$(uri_iscsi "$MUT" 0 "" "bob%$BOB")?target_user=tgt&target_password=${TGTSEC}x"
check "ACL: a listed initiator logs in" iscsi-inq -i "$ALLOWED" "$(uri_iscsi "$ACL")"
check_fails "ACL: an unlisted initiator is refused" iscsi-inq \
	-i iqn.2026-11.test.client:other "$(uri_iscsi "$ACL")"
check "SendTargets for an unlisted initiator" iscsi-ls "iscsi://$IOPD_ISCSI"
if grep -q "$ACL" "$T/out"; then
	not_ok "SendTargets hides a target the initiator may not access" "$(cat "$T/out")"
else
	ok "SendTargets hides a target the initiator may not access"
fi
check "SendTargets for the listed initiator" iscsi-ls -i "$ALLOWED" "iscsi://$IOPD_ISCSI"
if grep -q "^Target:$ACL " "$T/out"; then
	ok "SendTargets shows the ACL target to its initiator"
else
	not_ok "SendTargets shows the ACL target to its initiator" "$(cat "$T/out")"
fi
iopd_alive "iopd still running after the refused logins"
stop_iopd
if grep -qF -e "$ALICE" -e "$BOB" -e "$TGTSEC" "$T"/iopd.*.log; then
	not_ok "no CHAP secret in iopd's log" "$(grep -lF -e "$ALICE" -e "$BOB" -e "$TGTSEC" "$T"/iopd.*.log)"
else
	ok "no CHAP secret in iopd's log"
fi

# Discovery CHAP: SendTargets needs the discovery secret.
python3 - "$T/auth.json" "$T/disc.json" "$T/disc.secret" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["iscsi"]["discovery_chap"] = {"user": "disco", "secret_file": sys.argv[3]}
c["iscsi"]["targets"] = [t for t in c["iscsi"]["targets"] if t["name"].endswith(":open")]
json.dump(c, open(sys.argv[2], "w"))
EOF
start_iopd -c "$T/disc.json" || {
	done_testing
	exit 1
}
check_fails "discovery CHAP: SendTargets without credentials is refused" \
	iscsi-ls "iscsi://$IOPD_ISCSI"
check_fails "discovery CHAP: a wrong secret is refused" \
	iscsi-ls "iscsi://disco%${DSEC}x@$IOPD_ISCSI"
check "discovery CHAP: the right secret lists the targets" \
	iscsi-ls "iscsi://disco%$DSEC@$IOPD_ISCSI"
if grep -q "^Target:$OPEN " "$T/out"; then ok "discovery CHAP: target listed"; else
	not_ok "discovery CHAP: target listed" "$(cat "$T/out")"
fi
stop_iopd

# The shipped example, with its paths and listeners moved into $T.
example_iscsi_config "$T/ex.json"
if start_iopd -c "$T/ex.json"; then
	check "example config: discovery with CHAP" iscsi-ls -i iqn.2026-11.org.example:host1 \
		"iscsi://discovery%discovery-secret-0123456789@$IOPD_ISCSI"
	is "$(grep -c '^Target:iqn.2026-11.org.example:' "$T/out")" 2 \
		"example config: both targets listed"
	check "example config: vm1 with mutual CHAP, LUN 1" iscsi-readcapacity16 \
		-i iqn.2026-11.org.example:host1 \
		"$(uri_iscsi iqn.2026-11.org.example:vm1 1 "" vm1%vm1-secret-0123456789)?target_user=iopd&target_password=vm1-target-secret-0123456789"
	has_line "$T/out" "LOGICAL BLOCK LENGTH IN BYTES:4096" "example config: LUN 1 has 4 KiB blocks"
	stop_iopd
fi

# save-config keeps the iSCSI section (secrets as their files), and a
# daemon started from the saved file serves the same targets.
IOPCTL=$(dirname "$IOPD")/iopctl
if [ -x "$IOPCTL" ] && start_iopd -c "$T/ex.json" --mgmt-socket "$T/mgmt.sock" \
	--iscsi-target iqn.2026-11.test.cli:extra=scratch; then
	check "save-config with iSCSI targets" t "$IOPCTL" -s "$T/mgmt.sock" daemon \
		save-config "$T/saved.json"
	stop_iopd
	is "$(json_get "$T/saved.json" "' '.join(t['name'] for t in j['iscsi']['targets'])")" \
		"iqn.2026-11.org.example:vm1 iqn.2026-11.org.example:media iqn.2026-11.test.cli:extra" \
		"save-config: the file's targets and --iscsi-target's"
	is "$(json_get "$T/saved.json" "j['iscsi']['targets'][0]['chap']['secret_file']")" \
		"$T/ex-vm1.secret" "save-config: a CHAP secret is saved as its file"
	if grep -q "secret-0123456789" "$T/saved.json"; then
		not_ok "save-config: no secret in the saved file" "$(cat "$T/saved.json")"
	else
		ok "save-config: no secret in the saved file"
	fi
	if start_iopd -c "$T/saved.json"; then
		check "the saved config serves the targets" iscsi-ls -i iqn.2026-11.org.example:host1 \
			"iscsi://discovery%discovery-secret-0123456789@$IOPD_ISCSI"
		is "$(grep -c '^Target:' "$T/out")" 3 "the saved config: three targets listed"
		stop_iopd
	fi
else
	skip "save-config keeps the iSCSI section" "no iopctl next to $IOPD"
fi

# ------------------------------------------------------------------ 4
# Configuration mistakes stop iopd before it serves anything.

# bad_config DESC PATTERN JSON-EDIT: iopd refuses the edited auth.json,
# exits non-zero and says PATTERN.
bad_config() {
	local desc=$1 pat=$2
	python3 - "$T/auth.json" "$T/bad.json" "$3" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3], {"c": c})
json.dump(c, open(sys.argv[2], "w"))
EOF
	# A daemon that wrongly accepts it would serve forever: 20 s is plenty.
	check_fails "config: $desc is refused" timeout 20 "$IOPD" -c "$T/bad.json" \
		--listen 127.0.0.1:0
	if grep -qiE -- "$pat" "$T/out"; then
		ok "config: $desc: the message says why"
	else
		not_ok "config: $desc: the message says why" "want /$pat/" "$(cat "$T/out")"
	fi
	if grep -qF -e "$ALICE" -e "$BOB" -e "$TGTSEC" "$T/out"; then
		not_ok "config: $desc: no secret in the message" "$(cat "$T/out")"
	fi
}
cp "$T/alice.secret" "$T/open.secret"
chmod 644 "$T/open.secret"
bad_config "a CHAP secret file readable by others" "chmod 600" \
	"c['iscsi']['targets'][0]['chap']['secret_file'] = '$T/open.secret'"
chmod 640 "$T/open.secret"
bad_config "a CHAP secret file readable by its group" "group or others" \
	"c['iscsi']['targets'][0]['chap']['secret_file'] = '$T/open.secret'"
bad_config "an inline CHAP secret" "secret_file" \
	"c['iscsi']['targets'][0]['chap']['secret'] = 'inline'"
bad_config "a missing secret file" "no such file" \
	"c['iscsi']['targets'][0]['chap']['secret_file'] = '$T/nope'"
bad_config "an unknown iscsi key" 'unknown.*"portals"' \
	"c['iscsi']['portals'] = ['127.0.0.1:0']"
bad_config "an unknown target key" 'unknown.*"lun_map"' \
	"c['iscsi']['targets'][0]['lun_map'] = []"
bad_config "a LUN naming no export" 'no export named "ghost"' \
	"c['iscsi']['targets'][0]['luns'] = [{'export': 'ghost'}]"
bad_config "a LUN mapped twice" "mapped twice" \
	"c['iscsi']['targets'][0]['luns'] = [{'lun': 1, 'export': 'a'}, {'lun': 1, 'export': 'a'}]"
bad_config "an invalid target name" "not an iSCSI name" \
	"c['iscsi']['targets'][0]['name'] = 'Not An IQN'"
bad_config "an oversized target name" "not an iSCSI name" \
	"c['iscsi']['targets'][0]['name'] = 'iqn.2026-11.test:' + 'x' * 300"
bad_config "a bad block size" "block_size" \
	"c['iscsi']['targets'][0]['luns'][0]['block_size'] = 1000"
bad_config "mutual CHAP with the initiator's secret" "must differ" \
	"c['iscsi']['targets'][1]['mutual_chap']['secret_file'] = c['iscsi']['targets'][1]['chap']['secret_file']"
bad_config "a Unix-socket portal" "TCP" \
	"c['iscsi']['listen'] = 'unix:/tmp/x'"
check_fails "--iqn-prefix rejects a non-IQN" timeout 20 "$IOPD" --iqn-prefix eui.0123 \
	--iscsi-listen 127.0.0.1:0 --listen 127.0.0.1:0 ram:1M
check_fails "--iscsi-target rejects a spec without exports" timeout 20 "$IOPD" \
	--iscsi-target iqn.2026-11.test:x --iscsi-listen 127.0.0.1:0 --listen 127.0.0.1:0 ram:1M
check "--help documents the iSCSI options" t "$IOPD" --help
for o in --iscsi-listen --iscsi-target --iqn-prefix; do
	if grep -q -- "$o" "$T/out"; then ok "--help mentions $o"; else
		not_ok "--help mentions $o" "$(cat "$T/out")"
	fi
done

done_testing
