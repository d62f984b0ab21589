#!/bin/bash
# SPDX-License-Identifier: MIT
# Installation and packaging: `make install DESTDIR=... PREFIX=/usr` from
# the build under test (nothing is rebuilt: make -o all) lays out the
# programs, manual pages, systemd units (ExecStart at the prefix; they
# pass systemd-analyze verify in a scratch root), bash completion and
# example configs; the default PREFIX is /usr/local; `make uninstall`
# takes it all away again.  doc/iopctl.8 documents every subcommand and
# option iopctl has and renders without warnings.
#
# The Debian package: dpkg-buildpackage -b in a copy of the working tree
# in $T (nothing lands outside it), then dpkg-deb -I / -x and the
# packaged iopd runs.  IOPD_TEST_PACKAGE=1 always builds it (with the
# package's own unit-test step: `make check-package`), 0 never; unset,
# it is built once per tests/run.sh (the release build on io_uring),
# without the unit tests the run has already done (nocheck).  Nothing is
# installed into the real system.
IOPD_TEST_TRANSPORTS="" # installs; runs only iopd --version
. "$(dirname "$0")/lib.sh"
require make install sed

# Our make must not take a parent make's flags or jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
BUILD_DIR=$(dirname "$IOPD")
ROOT=$T/root
: >"$T/start.stamp"

# Every file make install should lay down under PREFIX=/usr, with mode.
want_files() {
	local e
	echo "755 usr/sbin/iopd"
	echo "755 usr/sbin/iopctl"
	echo "644 usr/share/man/man8/iopd.8"
	echo "644 usr/share/man/man8/iopctl.8"
	echo "644 usr/share/bash-completion/completions/iopctl"
	echo "644 usr/lib/systemd/system/iopd.service"
	echo "644 usr/lib/systemd/system/iopd.socket"
	for e in "$IOPD_REPO"/doc/*.example.json; do
		echo "644 usr/share/doc/iopd/examples/${e##*/}"
	done
}

# ------------------------------------------------------------ install

if [ ! -x "$BUILD_DIR/iopctl" ]; then
	not_ok "$BUILD_DIR has iopd and iopctl" "$BUILD_DIR/iopctl is missing (run make)"
	done_testing
	exit 1
fi
check "make install DESTDIR=\$T/root PREFIX=/usr (BUILD=$BUILD_DIR)" \
	t make -C "$IOPD_REPO" -o all BUILD="$BUILD_DIR" install \
	DESTDIR="$ROOT" PREFIX=/usr

bad=""
while read -r mode f; do
	if [ ! -f "$ROOT/$f" ]; then
		bad+="missing: /$f"$'\n'
	elif [ "$(stat -c %a "$ROOT/$f")" != "$mode" ]; then
		bad+="mode $(stat -c %a "$ROOT/$f"), want $mode: /$f"$'\n'
	fi
done < <(want_files)
extra=$(cd "$ROOT" && find . -type f | sed 's#^\./##' | sort |
	comm -23 - <(want_files | awk '{ print $2 }' | sort))
[ -n "$extra" ] && bad+="not expected: $extra"$'\n'
is "$bad" "" "the installed tree has every file, with its mode, and nothing else"
diag "installed:" "$(cd "$ROOT" && find . -type f | sort)"

out=$("$ROOT/usr/sbin/iopd" --version 2>&1)
st=$?
version=${out%%$'\n'*} # the first line; DDMs built in follow
version=${version#iopd }
[ "$st" -eq 0 ] && [[ $out =~ ^iopd\ [0-9]+\.[0-9]+ ]]
pass_if $? "the installed iopd --version: $out" "exit status $st"
cmp -s "$ROOT/usr/sbin/iopctl" "$BUILD_DIR/iopctl"
pass_if $? "the installed iopctl is the build's"
cmp -s "$ROOT/usr/share/man/man8/iopctl.8" "$IOPD_REPO/doc/iopctl.8"
pass_if $? "the installed iopctl.8 is doc/iopctl.8"

# The unit points at the installed binary, at the install prefix.
unit=$ROOT/usr/lib/systemd/system/iopd.service
is "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")" /usr/sbin/iopd \
	"the installed iopd.service starts /usr/sbin/iopd"
grep -q /usr/local "$unit"
pass_if $((!$?)) "nothing in the installed unit still names /usr/local" \
	"$(grep -n /usr/local "$unit")"

# systemd-analyze verify --root: a scratch root holding the installed
# tree plus what the units name outside it (kill, the system targets).
if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze verify of the installed units" "systemd-analyze not installed"
elif [ ! -d /usr/lib/systemd/system ] || [ -z "$(type -P kill)" ]; then
	skip "systemd-analyze verify of the installed units" "no /usr/lib/systemd/system or kill(1) here"
else
	V=$T/vroot
	cp -a "$ROOT" "$V" && mkdir -p "$V/usr/bin" &&
		ln -s usr/bin "$V/bin" && ln -s usr/lib "$V/lib" &&
		cp "$(type -P kill)" "$V/usr/bin/kill" &&
		cp -a /usr/lib/systemd/system/*.target "$V/usr/lib/systemd/system/" 2>"$T/out"
	pass_if $? "a scratch root: the installed tree, kill(1), the system targets" "$(cat "$T/out")"
	check "systemd-analyze verify --root accepts the installed iopd.service and iopd.socket" \
		t systemd-analyze verify --man=no --root="$V" iopd.service iopd.socket
	# and it would notice an ExecStart that is not there
	sed -i 's#^ExecStart=/usr/sbin/iopd#ExecStart=/usr/sbin/iopd-not-here#' \
		"$V/usr/lib/systemd/system/iopd.service"
	check_fails "systemd-analyze verify --root rejects an ExecStart that is not installed" \
		t systemd-analyze verify --man=no --root="$V" iopd.service
fi

# The completion asks the installed iopctl for its subcommands.
comp=$(PATH=$ROOT/usr/sbin:$PATH bash -c '
	. "$1" || exit 1
	COMP_WORDS=(iopctl exp); COMP_CWORD=1; _iopctl; echo "${COMPREPLY[*]}"
	COMP_WORDS=(iopctl export set-r); COMP_CWORD=2; _iopctl; echo "${COMPREPLY[*]}"
' bash "$ROOT/usr/share/bash-completion/completions/iopctl" 2>&1)
is "$comp" "export"$'\n'"set-read-only" "the installed bash completion completes families and verbs"

# Default prefix /usr/local, then uninstall both trees.
ROOT2=$T/root-local
check "make install with the default PREFIX" \
	t make -C "$IOPD_REPO" -o all BUILD="$BUILD_DIR" install DESTDIR="$ROOT2"
[ -x "$ROOT2/usr/local/sbin/iopd" ] && [ -f "$ROOT2/usr/local/share/man/man8/iopctl.8" ] &&
	grep -q '^ExecStart=/usr/local/sbin/iopd ' "$ROOT2/usr/local/lib/systemd/system/iopd.service"
pass_if $? "the default PREFIX is /usr/local (sbin, man, units)" \
	"$(cd "$ROOT2" && find . -type f | sort)"

check "make uninstall PREFIX=/usr" \
	t make -C "$IOPD_REPO" -o all BUILD="$BUILD_DIR" uninstall DESTDIR="$ROOT" PREFIX=/usr
check "make uninstall (default PREFIX)" \
	t make -C "$IOPD_REPO" -o all BUILD="$BUILD_DIR" uninstall DESTDIR="$ROOT2"
left=$(find "$ROOT" "$ROOT2" -type f -o -type l)
is "$left" "" "make uninstall leaves no file behind"

# ------------------------------------------------------------ iopctl.8

man=$IOPD_REPO/doc/iopctl.8
if command -v groff >/dev/null 2>&1; then
	check "groff -ww -z -man doc/iopctl.8: no warnings" \
		bash -c '[ -z "$(groff -ww -z -man "$1" 2>&1)" ] || { groff -ww -z -man "$1"; exit 1; }' \
		bash "$man"
	check "doc/iopctl.8 renders (NAME, SYNOPSIS, EXIT STATUS, SEE ALSO)" bash -c '
		txt=$(groff -man -Tutf8 -P-cbou "$1" 2>&1) || exit 1
		for s in NAME SYNOPSIS OPTIONS COMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
			grep -q "^$s\$" <<<"$txt" || { echo "no section $s"; exit 1; }
		done' bash "$man"
else
	skip "groff -ww -z -man doc/iopctl.8" "groff not installed"
	skip "doc/iopctl.8 renders" "groff not installed"
fi

# The man page's text with roff escapes undone: "set\-read\-only" ->
# "set-read-only", fonts dropped.
plain=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\~/ /g' "$man")
missing=""
n=0
while read -r family verb; do
	n=$((n + 1))
	grep -qE "^\.(B|BI|BR) \"?$family $verb( |\"|$)" <<<"$plain" || missing+=" \"$family $verb\""
done < <("$BUILD_DIR/iopctl" --list-commands)
[ "$n" -gt 20 ]
pass_if $? "iopctl --list-commands lists the subcommands ($n)"
is "$missing" "" "doc/iopctl.8 has an entry for every subcommand of iopctl --list-commands"

missing=""
for o in $("$BUILD_DIR/iopctl" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u) --list-commands; do
	grep -qF -- "$o" <<<"$plain" || missing+=" $o"
done
is "$missing" "" "doc/iopctl.8 documents every option of iopctl --help"
for s in IOPCTL_SOCKET IOPCTL_CONNECT IOPCTL_TOKEN_FILE /run/iopd/iopd.sock; do
	grep -qF -- "$s" <<<"$plain" || missing+=" $s"
done
grep -qE '^\.BR iopd \(8\)' <<<"$plain" || missing+=" iopd(8)"
is "$missing" "" "doc/iopctl.8 names the environment, the socket and iopd(8)"

# ------------------------------------------------- the test command

# CI runs exactly the README's test command, and `make check` itself
# installs nothing (deps is its own step).
readme_cmd=$(grep -oE '^make [a-z ]*check\b' "$IOPD_REPO/README.md" | head -n 1)
is "$readme_cmd" "make deps check" "the README's test command is make deps check"
grep -qxF "make $(echo "${readme_cmd#make }") 2>&1 | tee \"\$log\"" "$IOPD_REPO/.ci/run"
pass_if $? ".ci/run runs the README's test command" "$(grep -n 'make ' "$IOPD_REPO/.ci/run")"
check "make check does not depend on deps" \
	bash -c '! make -C "$1" -pq __no_such_goal__ 2>/dev/null | grep -qE "^check:.*\bdeps\b"' bash "$IOPD_REPO"

# ------------------------------------------------------------ .deb

pkg=${IOPD_TEST_PACKAGE:-auto}
why=""
if [ "$pkg" = 0 ]; then
	why="IOPD_TEST_PACKAGE=0"
elif [ "$pkg" = auto ] && [ "${IOPD_ENGINE:-uring}" != uring ]; then
	why="built once per run, with IOPD_ENGINE=uring (IOPD_TEST_PACKAGE=1 forces it)"
elif [ "$pkg" = auto ] && grep -q libasan <<<"$(ldd "$IOPD" 2>/dev/null)"; then
	why="built once per run, with the release build (IOPD_TEST_PACKAGE=1 forces it)"
else
	for c in dpkg-buildpackage dh dpkg-deb git; do
		command -v "$c" >/dev/null 2>&1 || why="$c not installed (make deps installs dpkg-dev and debhelper)"
	done
fi

if [ -n "$why" ]; then
	skip "the Debian package (dpkg-buildpackage, dpkg-deb -I, -x, iopd --version)" "$why"
	done_testing
	exit 0
fi

# A copy of the working tree as git sees it (tracked and new files, not
# ignored ones such as build/): uncommitted work is in the package too.
PKG=$T/pkg
SRC=$PKG/iopd-${version:-0}
mkdir -p "$SRC"
git -C "$IOPD_REPO" ls-files -co --exclude-standard -z >"$T/files" &&
	(cd "$IOPD_REPO" && while IFS= read -r -d '' f; do
		[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
	done <"$T/files" | tar -cf - --null -T -) | tar -xf - -C "$SRC"
pass_if $? "a copy of the working tree in \$T ($(tr -cd '\0' <"$T/files" | wc -c) files)"

opts="parallel=$(nproc 2>/dev/null || echo 1)"
[ "$pkg" = auto ] && opts+=" nocheck"
build_deb() (
	cd "$SRC" && DEB_BUILD_OPTIONS="$opts${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
		timeout -k 10 900 dpkg-buildpackage -b -us -uc
)
start=$SECONDS
check "dpkg-buildpackage -b -us -uc (DEB_BUILD_OPTIONS=$opts)" build_deb
diag "package build: $((SECONDS - start)) s"
cp "$T/out" "$T/dpkg-buildpackage.log"
if [ "$pkg" = 1 ]; then
	grep -q '^== build/tests/test_' "$T/dpkg-buildpackage.log"
	pass_if $? "the package build ran the unit tests (dh_auto_test), not make check" \
		"$(grep -n 'make check\|tests/run.sh' "$T/dpkg-buildpackage.log" | head)"
fi

deb=$(ls "$PKG"/iopd_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
[ -n "$deb" ]
pass_if $? "the package is ${deb##*/}" "$(ls -l "$PKG")"

info=$(dpkg-deb -I "$deb" 2>&1)
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
diag "Depends: $depends"
missing=""
for lib in libc6 liburing libjansson libmicrohttpd libsystemd libnettle libgnutls libseccomp; do
	grep -q "$lib" <<<"$depends" || missing+=" $lib"
done
is "$missing" "" "dpkg-deb -I: Depends (from \${shlibs:Depends}) names every library iopd links"

X=$T/debroot
check "dpkg-deb -x into a scratch root" dpkg-deb -x "$deb" "$X"
out=$("$X/usr/sbin/iopd" --version 2>&1)
is "${out%%$'\n'*}" "iopd $version" "the packaged iopd --version"
check "the packaged iopctl --list-commands" "$X/usr/sbin/iopctl" --list-commands
bad=""
for f in usr/sbin/iopd usr/sbin/iopctl usr/share/man/man8/iopd.8.gz \
	usr/share/man/man8/iopctl.8.gz usr/share/bash-completion/completions/iopctl \
	lib/systemd/system/iopd.service lib/systemd/system/iopd.socket \
	usr/share/doc/iopd/copyright usr/share/doc/iopd/examples/iopd.conf.example.json; do
	[ -e "$X/$f" ] || bad+=" /$f"
done
grep -q '^ExecStart=/usr/sbin/iopd ' "$X/lib/systemd/system/iopd.service" ||
	bad+=" (iopd.service ExecStart is not /usr/sbin/iopd)"
is "$bad" "" "the package holds the programs, man pages, units, completion, copyright and examples"

# Installed, not enabled, not started.
dpkg-deb -e "$deb" "$T/control"
# (dh_installsystemd's enabling snippet says "new installations run
# enable"; --no-enable leaves only re-enabling what the admin enabled.)
grep -nE 'deb-systemd-invoke .*(start|restart)|new installations run enable' "$T/control/"* >"$T/out" 2>&1
pass_if $((!$?)) "the maintainer scripts neither enable nor start iopd" "$(cat "$T/out")"

# Nothing landed in the working tree or beside it.
stray=$(find "$IOPD_REPO/.." -maxdepth 1 -newer "$T/start.stamp" \
	\( -name 'iopd_*.deb' -o -name 'iopd_*.changes' -o -name 'iopd_*.buildinfo' \) 2>/dev/null
	find "$IOPD_REPO/debian" -newer "$T/start.stamp" \
		\( -name .debhelper -o -name files -o -name '*.substvars' -o -path '*/debian/iopd' \) 2>/dev/null)
is "$stray" "" "the package build wrote nothing outside \$T"

done_testing
