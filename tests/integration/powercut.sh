# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2034 # PC_* variables are read by the tests that source this
#
# powercut.sh: sourced after lib.sh by test_durability.sh.  A disk with a
# volatile write cache that can lose its power, made of real parts only:
#
#   platter  a sparse file on a private tmpfs: the disk's durable medium.
#            What it holds survives the power cut, nothing else does.
#   nbdkit   serves the platter (file plugin) through the cache filter in
#            writeback mode: a write stays in nbdkit's cache (an unlinked
#            temporary file) until a FLUSH writes the cache back, or is
#            written through to the platter when it carries FUA
#            (nbdkit-cache-filter(1) does not say so: test_durability.sh
#            checks it first).  The log filter on top records what the
#            disk was asked to do: the counts of FLUSHes and FUA writes.
#   nbdfuse  mounts that NBD disk as a FUSE file: the volatile-cache disk
#            the storage under test sits on.  fsync/fdatasync of the FUSE
#            file become NBD FLUSH.
#
# pc_cut is the power cut: nbdkit (first: with it the cache is gone),
# nbdfuse and every process of the cell get SIGKILL in one kill(1), then
# the mounts and loop devices are detached lazily.  Only the platter
# remains to be read.
#
# tmpfs itself cannot lose power (it is RAM, and so is the platter): a
# storage cell "tmpfs" would prove nothing, so there is none.
#
#   pc_setup              skip_all unless /dev/fuse and root; the private
#                         tmpfs; sets PC_HAVE_LOOP
#   pc_disk SIZE [TMPL]   a fresh platter (a copy of TMPL, or zeroes), its
#                         nbdkit and nbdfuse: sets PC_PLATTER, PC_FUSE,
#                         PC_DISKLOG
#   pc_losetup FILE       a loop device on FILE, detached by pc_cut: sets
#                         PC_DEV
#   pc_mount DEV DIR ARGS a mount detached by pc_cut
#   pc_kill_also PID...   processes pc_cut kills with the disk
#   pc_disk_mark          remember where the disk's log is now
#   pc_disk_counts        "FLUSHES FUA-WRITES" the disk saw since the mark
#   pc_cut                the power cut
#   pc_patterns PREFIX CELLS N  64 KiB pattern files PREFIX.C.I for cell
#                         C in 1..CELLS, write I in 0..N-1: every 512 bytes
#                         name the run, the file and the sector, then
#                         random bytes (seeded by the run)
#   pc_verify FILE PAT:OFF...  how much of each pattern FILE holds at its
#                         offset: prints "WRITES-INTACT BLOCKS-INTACT
#                         BLOCKS DETAIL" (4 KiB blocks)

PC_RUN=${PC_RUN:-$(date +%s).$$}
PC_PLAT=$T/plat # the tmpfs holding the platters
PC_HAVE_LOOP=0
PC_N=0
PC_KILL=()
PC_MOUNTS=()
PC_LOOPS=()
PC_FUSE_DIR=""
PC_NBDKIT="" PC_NBDFUSE=""

pc_setup() {
	[ -c /dev/fuse ] || skip_all "/dev/fuse missing: no FUSE, no volatile-cache disk"
	[ "$(id -u)" -eq 0 ] || skip_all "needs root for tmpfs, loop devices and mounts"
	mkdir -p "$PC_PLAT" "$T/nbdkit-tmp" || return 1
	mount -t tmpfs -o size=2g,mode=0700 iopd-platters "$PC_PLAT" || {
		not_ok "mount a private tmpfs for the platters"
		return 1
	}
	on_exit "umount -l '$PC_PLAT'"
	truncate -s 1M "$PC_PLAT/probe"
	if PC_DEV=$(losetup -f --show "$PC_PLAT/probe" 2>/dev/null); then
		losetup -d "$PC_DEV"
		PC_HAVE_LOOP=1
	fi
	rm -f "$PC_PLAT/probe"
	return 0
}

# _pc_spawn PIDFILE LOG CMD...: start CMD (which writes its pid to
# PIDFILE once ready; PIDFILE is made a fifo first) and wait up to 30 s
# for it.  Sets _PC_PID.
_pc_spawn() {
	local pidf=$1 log=$2 fd got="" line
	shift 2
	rm -f "$pidf"
	mkfifo "$pidf" || return 1
	exec {fd}<>"$pidf"
	"$@" >"$log" 2>&1 </dev/null &
	_PC_PID=$!
	register_pid "$_PC_PID"
	on_exit "_reap $_PC_PID"
	for _ in $(seq 150); do
		line=""
		IFS= read -r -t 0.2 -u "$fd" line
		got+=$line
		[ -n "$got" ] && break
		kill -0 "$_PC_PID" 2>/dev/null || break
	done
	exec {fd}<&-
	rm -f "$pidf"
	[ -n "$got" ]
}

pc_disk() {
	local size=$1 tmpl=${2:-} n
	PC_N=$((PC_N + 1))
	n=$PC_N
	PC_PLATTER=$PC_PLAT/platter.$n
	PC_DISKLOG=$T/disk.$n.log
	PC_FUSE_DIR=$T/fuse.$n
	PC_FUSE=$PC_FUSE_DIR/disk
	PC_KILL=() PC_MOUNTS=() PC_LOOPS=()
	PC_NBDKIT="" PC_NBDFUSE=""
	if [ -n "$tmpl" ]; then
		cp --sparse=always "$tmpl" "$PC_PLATTER" || return 1
	else
		truncate -s "$size" "$PC_PLATTER" || return 1
	fi
	: >"$PC_DISKLOG"
	if ! _pc_spawn "$T/nbdkit.$n.pid" "$T/nbdkit.$n.out" \
		env TMPDIR="$T/nbdkit-tmp" nbdkit -f -U "$T/disk.$n.sock" \
		-P "$T/nbdkit.$n.pid" --filter=log --filter=cache \
		file "$PC_PLATTER" cache=writeback logfile="$PC_DISKLOG"; then
		diag "nbdkit did not start:" "$(cat "$T/nbdkit.$n.out")"
		return 1
	fi
	PC_NBDKIT=$_PC_PID
	mkdir -p "$PC_FUSE_DIR"
	if ! _pc_spawn "$T/nbdfuse.$n.pid" "$T/nbdfuse.$n.out" \
		nbdfuse -P "$T/nbdfuse.$n.pid" "$PC_FUSE" \
		"nbd+unix:///?socket=$T/disk.$n.sock"; then
		diag "nbdfuse did not start:" "$(cat "$T/nbdfuse.$n.out")"
		return 1
	fi
	PC_NBDFUSE=$_PC_PID
	on_exit "fusermount3 -u -z '$PC_FUSE_DIR'"
	[ -f "$PC_FUSE" ]
}

pc_losetup() {
	PC_DEV=$(t losetup -f --show "$1") || return 1
	PC_LOOPS+=("$PC_DEV")
	on_exit "pc_detach '$PC_DEV' '$1'"
}

# pc_detach DEV FILE: detach the loop device DEV if it is still on FILE.
# Once detached (or set to clear itself) the number is anybody's: another
# test may be using it by the time this one exits.
pc_detach() {
	case $(losetup -n -O BACK-FILE "$1" 2>/dev/null) in
	"$2" | "$2 (deleted)") losetup -d "$1" ;;
	esac
}

pc_mount() {
	local dev=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	t mount "$@" "$dev" "$dir" || return 1
	PC_MOUNTS+=("$dir")
	on_exit "umount -l '$dir'"
}

pc_kill_also() {
	PC_KILL+=("$@")
}

pc_disk_mark() {
	_pc_mark=$(wc -l <"$PC_DISKLOG")
}

pc_disk_counts() {
	tail -n +"$((_pc_mark + 1))" "$PC_DISKLOG" | awk '
		/ Flush id=[0-9]+ / { f++ }
		/ Write id=[0-9]+ .* fua=1 / { w++ }
		END { printf "%d %d\n", f, w }'
}

pc_cut() {
	local p i
	local -a pids=()
	for p in $PC_NBDKIT $PC_NBDFUSE "${PC_KILL[@]}"; do
		# never signal a pid already waited for: it may be reused
		[ -n "${_pid_reaped[$p]:-}" ] || pids+=("$p")
	done
	# (bash reports each "Killed" job on stderr: not here)
	{
		[ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}"
		for p in "${pids[@]}"; do
			_wait_timeout "$p" 10
		done
	} 2>/dev/null
	for ((i = ${#PC_MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -l "${PC_MOUNTS[i]}" 2>/dev/null
	done
	for ((i = ${#PC_LOOPS[@]} - 1; i >= 0; i--)); do
		losetup -d "${PC_LOOPS[i]}" 2>/dev/null
	done
	[ -n "$PC_FUSE_DIR" ] && fusermount3 -u -z "$PC_FUSE_DIR" 2>/dev/null
	PC_KILL=() PC_MOUNTS=() PC_LOOPS=()
	PC_NBDKIT="" PC_NBDFUSE=""
	return 0
}

pc_patterns() {
	python3 - "$1" "$2" "$3" "$PC_RUN" <<'EOF'
import os, random, sys
prefix, cells, n, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(run)
for c in range(1, cells + 1):
    for i in range(n):
        name = "%s.%d.%d" % (prefix, c, i)
        out = bytearray()
        for s in range(128):
            head = ("IOPD-DURABILITY run=%s file=%s sector=%d\n"
                    % (run, os.path.basename(name), s)).encode()
            out += head + rnd.randbytes(512 - len(head))
        with open(name, "wb") as f:
            f.write(out)
EOF
}

pc_verify() {
	local f=$1 spec pat off len bad n writes=0 blocks=0 nblocks=0 detail=""
	shift
	for spec in "$@"; do
		pat=${spec%:*} off=${spec##*:}
		len=$(stat -c %s "$pat") || return 1
		n=$(((len + 4095) / 4096))
		# cmp -l lists every differing byte (1-based): count the 4 KiB
		# blocks they fall in; a platter too short differs by EOF
		bad=$(cmp -l -n "$len" -i "$off:0" "$f" "$pat" 2>&1 |
			awk '/EOF/ { eof = 1; next }
			     { b[int(($1 - 1) / 4096)] = 1 }
			     END { print eof ? -1 : length(b) }')
		[ "$bad" -lt 0 ] && bad=$n
		writes=$((writes + (bad == 0)))
		blocks=$((blocks + n - bad))
		nblocks=$((nblocks + n))
		detail+="${detail:+,}$((n - bad))/$n"
	done
	echo "$writes $blocks $nblocks $detail"
}
