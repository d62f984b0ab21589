#!/bin/bash
# SPDX-License-Identifier: MIT
#
# install-deps.sh: install the Debian 12 packages iopd needs to build and
# to run its tests.  Idempotent: when every package is already installed
# it touches nothing (no apt-get update).  Runs apt-get as root, or via
# sudo when not root.
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config liburing-dev libjansson-dev libsystemd-dev
	libmicrohttpd-dev nettle-dev
	# NBD over TLS: the GnuTLS record layer (remote_tls.c)
	libgnutls28-dev
	# the system call filter iopd installs after start-up (--sandbox)
	libseccomp-dev
	# fuzz targets and sanitizers with clang (gcc's libasan comes with gcc)
	clang libclang-rt-14-dev
	# the formatter `make check` verifies
	clang-format
	# integration tests: NBD clients and tools
	python3 libnbd-bin nbdkit fuse3 qemu-utils fio curl
	# test_nbd_tls.sh: certtool and psktool make its credentials; nbdsh
	# and the libnbd binding send the refused plaintext options
	gnutls-bin python3-libnbd
	# integration tests and benchmark: iSCSI clients (iscsi-ls, iscsi-inq,
	# iscsi-test-cu, iscsi-perf), qemu's iscsi:// driver, tgt to compare
	libiscsi-bin qemu-block-extra tgt
	# integration tests: loop devices, filesystems, system tools
	e2fsprogs xfsprogs util-linux mount coreutils diffutils procps iproute2
	# test_durability.sh: tests/tools/iscsi_wce.c (MODE SELECT, WCE=0)
	libiscsi-dev
	# test_install.sh: the .deb build (dpkg-buildpackage, dh), the tree
	# copy (git ls-files), systemd-analyze verify, the man page check
	dpkg-dev debhelper git systemd groff-base man-db
	# the rbd DDM (librbd, librados) and test_rbd.sh's single-node Ceph
	# cluster (tests/integration/ceph.sh: a monitor and a memstore OSD)
	librbd-dev librados-dev ceph-mon ceph-osd ceph-common
	# make coverage (without it the Makefile falls back to plain gcov)
	gcovr
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		as_root=(sudo)
	else
		echo "install-deps: missing ${missing[*]}; run this script as root" >&2
		exit 1
	fi
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends "${missing[@]}"
