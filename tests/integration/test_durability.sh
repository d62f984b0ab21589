#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_durability.sh: power cuts under iopd.  Every write iopd
# acknowledged as durable must be on the medium after the power fails, and
# writes nobody asked to be durable must be lost, or the harness proved
# nothing.
#
# The disk is powercut.sh's: a platter file on tmpfs, served by nbdkit
# through its cache filter in writeback mode (a volatile write cache that
# only FLUSH or FUA empties), mounted with nbdfuse as a FUSE file.  A cell
# puts storage on that disk, has a real client write four 64 KiB blocks of
# per-run patterns through iopd, and once the client has its
# acknowledgements cuts the power (SIGKILL to nbdkit, nbdfuse, iopd and the
# client at once, lazy unmounts).  Then the platter alone is read.
#
# Storage (tmpfs is not one: RAM cannot lose power, see powercut.sh):
#   fuse   iopd's file DDM on the FUSE file itself
#   ext4   a loop device on the FUSE file, ext4 on it, iopd's file DDM on
#          an image file there (mounted commit=600, so that the journal
#          timer cannot make the negative control durable behind our back)
#   xfs    the same with XFS
#   loop   iopd's bdev DDM on the loop device
#   (ext4 and xfs are read back from a copy of the platter, mounted with
#   journal replay)
# iopd --direct=auto|on|off (on: skipped where the file system refuses
# O_DIRECT); the engine is IOPD_ENGINE's.
# Clients (all kept connected until the power cut: qemu-io flushes on
# close, even with -t unsafe, which would hide a missing flush):
#   nbd-fua     qemu-io -t writeback over NBD, write -f (NBD_CMD_FLAG_FUA)
#   nbd-flush   qemu-io over NBD, writes then flush (NBD_CMD_FLUSH)
#   iscsi-fua   qemu-io over iSCSI, write -f (WRITE(10/16) with FUA)
#   iscsi-sync  qemu-io over iSCSI, writes then flush (SYNCHRONIZE CACHE)
#   iscsi-wce0  tests/tools/iscsi_wce.c: MODE SELECT clears WCE, plain
#               WRITE(10)s, no SYNCHRONIZE CACHE
#   nbd-none, iscsi-none (qemu-io), iscsi-wce1 (iscsi_wce --keep-wce):
#               plain writes, no flush, write cache on.  Cut at once they
#               are the negative controls: their data must be lost, or
#               the harness proved nothing.  They are also the clients for
#   .../term    SIGTERM to iopd (which must exit 0) before the cut, and
#   .../remove  iopctl export remove before the cut: both must flush.
# The disk itself is checked first (FUA goes through, plain writes wait
# for a FLUSH), and so is qemu-io (write -f sends FUA; on iSCSI the FUA
# bit and WCE=0 were checked by hand with strace: RWF_DSYNC writes).
#
# The default run is a subset (well under 90 s); IOPD_DURABILITY_FULL=1
# (make check-durability) runs every storage x direct mode x client.
# IOPD_DURABILITY_ONLY=REGEX runs the cells whose name (storage/direct/
# client/end) matches.  The last lines are the matrix: intact/acknowledged
# writes, 4 KiB blocks intact, and the FLUSHes and FUA writes the disk saw.
. "$(dirname "$0")/lib.sh"
. "$IOPD_REPO/tests/integration/powercut.sh"

require nbdkit nbdfuse fusermount3 losetup mount umount qemu-io qemu-img \
	stdbuf python3 cc mkfs.ext4 mkfs.xfs
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
ENGINE=${IOPD_ENGINE:-auto}
FULL=${IOPD_DURABILITY_FULL:-0}
ONLY=${IOPD_DURABILITY_ONLY:-}
NW=4 # writes per cell
WLEN=$((64 << 10)) # bytes per write
HOLD=3600000 # ms qemu-io sleeps after its writes, staying connected

pc_setup || {
	done_testing
	exit 1
}

# --------------------------------------------------------- the clients

# Does qemu-io send what the cells say?  Against nbdkit's memory plugin
# with the log filter: write -f is one FUA write, a plain write is not,
# flush is an NBD FLUSH (qemu-io -t writeback; its default writethrough
# would make every write FUA).
client_check() {
	local log=$T/qcheck.log sock=$T/qcheck.sock got
	_pc_spawn "$T/qcheck.pid" "$T/qcheck.out" nbdkit -f -U "$sock" \
		-P "$T/qcheck.pid" --filter=log memory 1M logfile="$log" || return 1
	local pid=$_PC_PID
	t qemu-io -t writeback -f raw "nbd+unix:///?socket=$sock" \
		-c "write -f -P 1 0 64k" -c "write -P 2 64k 64k" -c "flush" >/dev/null
	kill -TERM "$pid"
	_wait_timeout "$pid" 10
	got=$(awk '/ Write id=[0-9]+ / { sub(/.* fua=/, "fua="); printf "write %s,", $1 }
		/ Flush id=[0-9]+ / { printf "flush," }' "$log")
	# the last flush is qemu-io's own, on close
	[ "$got" = "write fua=1,write fua=0,flush,flush," ] || {
		echo "nbdkit saw: $got"
		return 1
	}
}
check "qemu-io -t writeback: write -f sends NBD FUA, write does not, flush sends FLUSH" \
	client_check

HAVE_ISCSI=1 NO_ISCSI="qemu lacks the iscsi driver (qemu-block-extra)"
grep -qw iscsi <<<"$(qemu-img --help)" || HAVE_ISCSI=0
iopd_has_transport iscsi || HAVE_ISCSI=0 NO_ISCSI="iopd was built without iscsi"
WCE_TOOL=$T/iscsi_wce
check "build tests/tools/iscsi_wce.c against libiscsi" t cc -std=gnu11 -O2 -Wall \
	-o "$WCE_TOOL" "$IOPD_REPO/tests/tools/iscsi_wce.c" -liscsi

# --------------------------------------------------- file system images

# fs_template FS: a platter image with FS on it holding a 32 MiB sparse
# file img, made once; every ext4/xfs cell starts from a copy of it.
declare -A TEMPLATE=()
fs_template() {
	local fs=$1 f=$PC_PLAT/template.$1 dev st=1
	[ -n "${TEMPLATE[$fs]:-}" ] && return 0
	case $fs in
	ext4)
		truncate -s 64M "$f" &&
			t mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$f"
		;;
	xfs)
		# XFS wants 300 MiB at least
		truncate -s 320M "$f" && t mkfs.xfs -q -f -K "$f"
		;;
	esac >"$T/out" 2>&1 || return 1
	dev=$(t losetup -f --show "$f") || return 1
	on_exit "pc_detach '$dev' '$f'"
	mkdir -p "$T/tmpl"
	if t mount -t "$fs" "$dev" "$T/tmpl" >>"$T/out" 2>&1; then
		truncate -s 32M "$T/tmpl/img" && st=0
		t umount "$T/tmpl" || st=1
	fi
	losetup -d "$dev"
	[ "$st" -eq 0 ] && TEMPLATE[$fs]=$f
}

# fs_read FS PLATTER PAT:OFF...: pc_verify on img of a copy of PLATTER,
# mounted (journal replayed).
fs_read() {
	local fs=$1 platter=$2 copy=$PC_PLAT/check dev st=0
	shift 2
	cp --sparse=always "$platter" "$copy" || return 1
	dev=$(t losetup -f --show "$copy") || return 1
	on_exit "pc_detach '$dev' '$copy'"
	mkdir -p "$T/check"
	local -a opts=()
	[ "$fs" = xfs ] && opts=(-o nouuid) # the same UUID may still be lazily mounted
	if t mount -t "$fs" "${opts[@]}" "$dev" "$T/check" 2>"$T/check.err"; then
		if [ -f "$T/check/img" ]; then
			pc_verify "$T/check/img" "$@" || st=1
		else
			echo "img is gone from the file system" >&2
			st=1
		fi
		umount "$T/check" || st=1
	else
		echo "mount after the power cut failed: $(cat "$T/check.err")" >&2
		st=1
	fi
	losetup -d "$dev"
	rm -f "$copy"
	return "$st"
}

# (a file system that refuses O_DIRECT refuses it to readers too)
o_direct_ok() {
	dd if="$1" of=/dev/null bs=64k count=1 iflag=direct status=none 2>/dev/null
}

# ------------------------------------------------------------- a cell

ROWS=()
# row CELL WANT RESULT INTACT BLOCKS DISK NOTE (and the cell's seconds)
row() {
	ROWS+=("$(printf '%-30s %-4s %-4s %6s %7s %8s %4ss  %s' "$1" "$2" "$3" "$4" \
		"$5" "$6" $((SECONDS - cell_start)) "$7")")
}

# cell K STORAGE DIRECT CLIENT END: the K-th cell of the matrix (its
# patterns are $T/pat.K.*)
cell() {
	local k=$1 storage=$2 direct=$3 client=$4 end=$5
	local name="$storage/$direct/$client/$end" expect=kept desc
	local size spec target mnt n url st acked=0 wce="" mark i p
	local res out iw=0 ib=0 nb=$((NW * WLEN / 4096)) detail="" counts="- -" note=""
	local -a offs=() pats=() cmd=() mnt_opts=() portal=()
	case $client in nbd-none | iscsi-none | iscsi-wce1)
		[ "$end" = cut ] && expect=lost ;;
	esac
	if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then
		return 0
	fi
	cell_start=$SECONDS
	if [ "$expect" = lost ]; then
		desc="$name (negative control): unflushed writes are lost at the power cut"
	else
		desc="$name: every acknowledged write is on the platter after the power cut"
	fi
	case $storage in ext4 | xfs | loop)
		if [ "$PC_HAVE_LOOP" -ne 1 ]; then
			skip "$desc" "no loop devices here"
			row "$name" "$expect" SKIP - - - "no loop devices"
			return 0
		fi
		;;
	esac
	case $client in iscsi-*)
		if [ "$HAVE_ISCSI" -ne 1 ]; then
			skip "$desc" "$NO_ISCSI"
			row "$name" "$expect" SKIP - - - "$NO_ISCSI"
			return 0
		fi
		;;
	esac
	if [[ $storage = ext4 || $storage = xfs ]] && ! fs_template "$storage"; then
		not_ok "$desc" "cannot make the $storage template:" "$(tail -n 5 "$T/out")"
		row "$name" "$expect" FAIL - - - "no $storage template"
		return 1
	fi

	# the disk and the storage on it
	case $storage in
	fuse | loop) pc_disk 64M ;;
	*) pc_disk - "${TEMPLATE[$storage]}" ;;
	esac || {
		not_ok "$desc" "the volatile-cache disk did not come up"
		row "$name" "$expect" FAIL - - - "disk setup"
		pc_cut
		return 1
	}
	n=$PC_N
	case $storage in
	fuse)
		target=$PC_FUSE spec=file:$PC_FUSE size=$((64 << 20))
		;;
	loop)
		pc_losetup "$PC_FUSE" || {
			not_ok "$desc" "losetup on the FUSE file failed"
			row "$name" "$expect" FAIL - - - "losetup"
			pc_cut
			return 1
		}
		target=$PC_DEV spec=bdev:$PC_DEV size=$((64 << 20))
		;;
	ext4 | xfs)
		mnt=$T/mnt.$n
		mnt_opts=(-t "$storage")
		[ "$storage" = ext4 ] && mnt_opts+=(-o commit=600)
		[ "$storage" = xfs ] && mnt_opts+=(-o nouuid)
		if ! pc_losetup "$PC_FUSE" || ! pc_mount "$PC_DEV" "$mnt" "${mnt_opts[@]}"; then
			not_ok "$desc" "cannot mount $storage on the FUSE file"
			row "$name" "$expect" FAIL - - - "mount"
			pc_cut
			return 1
		fi
		# the mount's own writes are no part of the test: flush them
		sync -f "$mnt"
		target=$mnt/img spec=file:$mnt/img size=$((32 << 20))
		;;
	esac
	if [ "$direct" = on ] && ! o_direct_ok "$target"; then
		skip "$desc" "$storage refuses O_DIRECT"
		row "$name" "$expect" SKIP - - - "O_DIRECT refused"
		pc_cut
		rm -f "$PC_PLATTER"
		return 0
	fi

	# four writes: the first block, one a little past 5 MiB, one past the
	# middle, the last block
	offs=(0 $((5440 << 10)) $((size / 2 + (192 << 10))) $((size - WLEN)))
	for i in $(seq 0 $((NW - 1))); do
		pats+=("$T/pat.$k.$i:${offs[i]}")
	done

	portal=()
	[ "$HAVE_ISCSI" = 1 ] && portal=(--iscsi-listen 127.0.0.1:0)
	if ! start_iopd --direct="$direct" "${portal[@]}" \
		--mgmt-socket "$T/mgmt.$n" "d=$spec"; then
		not_ok "$desc" "iopd did not start"
		row "$name" "$expect" FAIL - - - "iopd start"
		pc_cut
		return 1
	fi
	pc_kill_also "$IOPD_PID"

	case $client in
	nbd-*) url=$(uri_unix d) ;;
	iscsi-*) url=$(uri_iscsi "$(iqn_of d)") ;;
	esac
	case $client in
	iscsi-wce0 | iscsi-wce1)
		cmd=("$WCE_TOOL" --hold)
		[ "$client" = iscsi-wce1 ] && cmd+=(--keep-wce)
		cmd+=("$url" "${pats[@]}")
		mark='^done$'
		;;
	*)
		cmd=(stdbuf -oL qemu-io -t writeback -f raw "$url")
		for p in "${pats[@]}"; do
			case $client in
			*-fua) cmd+=(-c "write -f -s ${p%:*} ${p##*:} $WLEN") ;;
			*) cmd+=(-c "write -s ${p%:*} ${p##*:} $WLEN") ;;
			esac
		done
		case $client in *-flush | *-sync) cmd+=(-c flush) ;; esac
		# length prints a line once everything before it is done
		cmd+=(-c length -c "sleep $HOLD")
		mark='^[0-9.]+ (bytes|KiB|MiB|GiB)$'
		;;
	esac
	pc_disk_mark
	client_run "$T/client.$n" "$mark" "${cmd[@]}"
	st=$?
	pc_kill_also "$CLIENT_PID"
	acked=$(grep -c '^wrote ' "$T/client.$n.log")
	wce=$(sed -n 's/^wce //p' "$T/client.$n.log")
	if [ "$st" -ne 0 ] || [ "$acked" -ne "$NW" ] ||
		{ [ "$client" = iscsi-wce0 ] && [ "$wce" != 0 ]; } ||
		{ [ "$client" = iscsi-wce1 ] && [ "$wce" != 1 ]; }; then
		not_ok "$desc" "the client did not finish its writes ($acked of $NW acknowledged):" \
			"$(tail -n 8 "$T/client.$n.log")"
		counts=$(pc_disk_counts)
		row "$name" "$expect" FAIL "-/$acked" - "${counts/ //}" "client failed"
		pc_cut
		return 1
	fi

	case $end in
	term)
		stop_iopd || note="iopd did not exit 0 on SIGTERM"
		;;
	remove)
		check "$name: iopctl export remove d" t "$IOPCTL" -s "$IOPD_MGMT" \
			export remove d || note="export remove failed"
		;;
	esac
	counts=$(pc_disk_counts)
	pc_cut
	# (the pid may come round again before the script ends: look now)
	if _sanitizer_report "$IOPD_LOG"; then
		not_ok "$name: no sanitizer report from iopd" "$(head -n 60 "$IOPD_LOG")"
		note+="${note:+; }sanitizer report"
	fi

	# read the platter
	case $storage in
	fuse | loop) out=$(pc_verify "$PC_PLATTER" "${pats[@]}" 2>"$T/verify.err") ;;
	*) out=$(fs_read "$storage" "$PC_PLATTER" "${pats[@]}" 2>"$T/verify.err") ;;
	esac
	st=$?
	rm -f "$PC_PLATTER"
	if [ "$st" -ne 0 ] || [ -z "$out" ]; then
		not_ok "$desc" "reading the platter failed:" "$(cat "$T/verify.err")"
		row "$name" "$expect" FAIL "-/$acked" - "${counts/ //}" "platter unreadable"
		return 1
	fi
	read -r iw ib nb detail <<<"$out"
	if [ "$expect" = kept ]; then
		if [ "$iw" -eq "$acked" ]; then
			res=ok
		else
			res=FAIL
			not_ok "$desc" "$iw of $acked acknowledged writes intact (4 KiB blocks per write: $detail)" \
				"the disk saw ${counts% *} FLUSHes and ${counts#* } FUA writes after the client connected"
		fi
	else
		if [ "$ib" -eq 0 ]; then
			res=ok
		else
			res=FAIL
			not_ok "$desc" "harness proved nothing: $ib of $nb blocks of unflushed writes survived the power cut ($detail)" \
				"the disk saw ${counts% *} FLUSHes and ${counts#* } FUA writes"
		fi
	fi
	[ "$res" = ok ] && ok "$desc ($iw/$acked writes intact)"
	row "$name" "$expect" "$res" "$iw/$acked" "$ib/$nb" "${counts/ //}" "$note"
	[ "$res" = ok ]
}

# client_run PREFIX MARK CMD...: start CMD, its output going to
# PREFIX.log, and wait until it prints a line matching MARK (0), or fails,
# exits or runs out of time (1).  The client stays running: CLIENT_PID.
client_run() {
	local mark=$2 fifo=$1.fifo log=$1.log fd line buf="" st=1 end
	shift 2
	: >"$log"
	mkfifo "$fifo" || return 1
	exec {fd}<>"$fifo"
	"$@" >"$fifo" 2>&1 </dev/null &
	CLIENT_PID=$!
	register_pid "$CLIENT_PID"
	on_exit "_reap $CLIENT_PID"
	end=$((SECONDS + TMO))
	while [ "$SECONDS" -lt "$end" ]; do
		line=""
		if IFS= read -r -t 0.2 -u "$fd" line; then
			line=$buf$line
			buf=""
			printf '%s\n' "$line" >>"$log"
			if [[ $line =~ $mark ]]; then
				st=0
				break
			fi
			[[ $line =~ (failed|rror|iscsi_wce:) ]] && break
		else
			buf+=$line
			kill -0 "$CLIENT_PID" 2>/dev/null || break
		fi
	done
	[ -n "$buf" ] && printf '%s\n' "$buf" >>"$log"
	exec {fd}<&-
	rm -f "$fifo"
	return "$st"
}

# ------------------------------------------------------------- the matrix

CELLS=()
if [ "$FULL" = 1 ]; then
	for storage in fuse ext4 xfs loop; do
		for direct in auto on off; do
			for client in nbd-fua nbd-flush iscsi-fua iscsi-sync iscsi-wce0; do
				CELLS+=("$storage $direct $client cut")
			done
			CELLS+=("$storage $direct nbd-none cut" "$storage $direct iscsi-none cut"
				"$storage $direct iscsi-wce1 cut"
				"$storage $direct nbd-none term" "$storage $direct nbd-none remove"
				"$storage $direct iscsi-none term" "$storage $direct iscsi-none remove")
		done
	done
else
	for direct in auto on; do
		for client in nbd-fua nbd-flush iscsi-fua iscsi-sync iscsi-wce0; do
			CELLS+=("fuse $direct $client cut")
		done
	done
	CELLS+=("ext4 auto nbd-fua cut" "ext4 auto iscsi-fua cut" "loop auto nbd-flush cut"
		# negative controls: each storage type, each kind of client
		"fuse auto nbd-none cut" "fuse auto iscsi-wce1 cut"
		"ext4 auto nbd-none cut" "loop auto nbd-none cut"
		# a stop or a removal must flush what is still cached
		"fuse auto nbd-none term" "fuse auto nbd-none remove"
		"ext4 auto nbd-none term")
fi

start=$SECONDS
# one more set of patterns for disk_check
pc_patterns "$T/pat" $((${#CELLS[@]} + 1)) "$NW" || {
	not_ok "write the pattern files"
	done_testing
	exit 1
}

# Is the disk what the cells take it for?  qemu-io straight to nbdkit:
# a FUA write reaches the platter at once, a plain one stays in the cache
# until a FLUSH (nbdkit-cache-filter(1) does not spell out FUA).
disk_check() {
	local p0=$T/pat.$((${#CELLS[@]} + 1)).0 p1=$T/pat.$((${#CELLS[@]} + 1)).1 out
	pc_disk 1M || return 1
	local u="nbd+unix:///?socket=$T/disk.$PC_N.sock"
	client_run "$T/dcheck" '^[0-9.]+ (bytes|KiB|MiB|GiB)$' stdbuf -oL qemu-io \
		-t writeback -f raw "$u" -c "write -f -s $p0 0 $WLEN" \
		-c "write -s $p1 $WLEN $WLEN" -c length -c "sleep $HOLD" || return 1
	pc_kill_also "$CLIENT_PID"
	out=$(pc_verify "$PC_PLATTER" "$p0:0" "$p1:$WLEN")
	[ "$out" = "1 16 32 16/16,0/16" ] || {
		echo "after a FUA and a plain write, the platter holds: $out"
		return 1
	}
	t qemu-io -f raw "$u" -c flush >/dev/null || return 1
	out=$(pc_verify "$PC_PLATTER" "$p0:0" "$p1:$WLEN")
	[ "$out" = "2 32 32 16/16,16/16" ] || {
		echo "after a FLUSH, the platter holds: $out"
		return 1
	}
}
check "the disk: FUA writes go through to the platter, plain writes wait for a FLUSH" \
	disk_check
pc_cut
k=0
for c in "${CELLS[@]}"; do
	k=$((k + 1))
	# shellcheck disable=SC2086
	cell "$k" $c
done
took=$((SECONDS - start))

rev=$(git -C "$IOPD_REPO" rev-parse --short HEAD 2>/dev/null) || rev="(not a git tree)"
git -C "$IOPD_REPO" diff --quiet HEAD -- src include 2>/dev/null || rev+=" + uncommitted src/include changes"
diag "" "durability matrix, engine $ENGINE, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), ${took}s" \
	"iopd: $IOPD (built $(date -u -r "$IOPD" '+%Y-%m-%d %H:%M:%S UTC')); tree at HEAD $rev" \
	"$(printf '%-30s %-4s %-4s %6s %7s %8s %5s  %s' cell want res intact '4K blks' 'disk F/U' time note)" \
	"${ROWS[@]}" \
	"$(printf '%s\n' "${ROWS[@]}" | awk 'NF { c++; n[$3]++ } END {
		printf "%d cells: %d ok, %d FAIL, %d SKIP", c, n["ok"], n["FAIL"], n["SKIP"] }')" \
	"intact: writes intact / acknowledged; 4K blks: blocks intact / written;" \
	"disk F/U: FLUSHes / FUA writes the disk (nbdkit) saw from the client's start to the cut"
done_testing
