# SPDX-License-Identifier: MIT
# iopd build.  One static library per box of DESIGN.md; each box links only
# against the boxes beneath it (checked by `make check-layers`).
#
#   make                 release build in build/
#   make SAN=1           ASan+UBSan build in build-asan/
#   make check           everything the README's test command runs
#                        (`make deps check`: deps installs the packages)
#   make install         PREFIX (/usr/local), DESTDIR; make uninstall
#   make check-package   tests/integration/test_install.sh with the .deb build
#   make fuzz            libFuzzer (clang) in build-fuzz/, FUZZ_SECONDS each
#   make coverage        --coverage build in build-cov/, tests, src/ line coverage
#   make DDMS="file ram" build only some DDMs (null is always built; rbd
#                        by default only where librbd-dev is installed)
#   make TRANSPORTS=nbd  build only some Remote Transports (nbd iscsi)
#   make check-transports  each transport alone, with its share of tests

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# IOPD_NEVER() (src/base/base_assert.h) aborts here instead of surviving.
DEBUGFLAGS := -DIOPD_DEBUG=1
else
BUILD ?= build
SANFLAGS :=
DEBUGFLAGS :=
endif

# rbd (Ceph RBD through librbd) is built where librbd's headers are.
HAVE_LIBRBD := $(if $(wildcard /usr/include/rbd/librbd.h),1)
DDMS ?= null ram file bdev fault $(if $(HAVE_LIBRBD),rbd)
override DDMS := null $(filter-out null,$(DDMS))
TRANSPORTS ?= nbd iscsi

CC ?= cc
PKGS := liburing jansson libmicrohttpd libsystemd nettle gnutls libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -luring -ljansson -lmicrohttpd -lsystemd -lnettle -lgnutls -lseccomp)

WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wformat=2 \
	-Wimplicit-fallthrough -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread -fPIC $(WARN) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(DEBUGFLAGS) \
	-Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP \
	$(foreach d,$(DDMS),-DIOPD_DDM_$(shell echo $(d) | tr a-z A-Z)=1) \
	$(foreach t,$(TRANSPORTS),-DIOPD_TRANSPORT_$(shell echo $(t) | tr a-z A-Z)=1)
LDFLAGS_ALL := -pthread $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lm $(if $(filter rbd,$(DDMS)),-lrbd -lrados)

# Boxes, lowest first.
BOX_base     := $(wildcard src/base/*.c)
BOX_ddm      := $(wildcard src/ddm/*.c) \
		$(foreach d,$(DDMS),$(wildcard src/ddm/$(d)/*.c))
BOX_local    := $(wildcard src/iop/*.c src/local/*.c)
BOX_scsi     := $(wildcard src/scsi/*.c)
BOX_remote   := $(wildcard src/remote/*.c) \
		$(foreach t,$(TRANSPORTS),$(wildcard src/remote/$(t)/*.c))
BOX_connmgr  := $(wildcard src/connmgr/*.c)
BOX_mgmt     := $(wildcard src/mgmt/*.c)
BOXES := base ddm local scsi remote connmgr mgmt

obj = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(1))
lib = $(BUILD)/lib/libiopd_$(1).a
# Libraries in link order: highest box first.
LINK_LIBS := $(foreach b,mgmt connmgr remote scsi local ddm base,$(call lib,$(b)))

all: $(BUILD)/iopd $(BUILD)/iopctl


$(foreach b,$(BOXES),$(eval $(call lib,$(b)): $(call obj,$(BOX_$(b)))))

$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -c -o $@ $<

# The transport registry's table depends on TRANSPORTS
# (-DIOPD_TRANSPORT_*): a stamp holding them, rewritten when they change,
# rebuilds it even in the same build directory.
TRANSPORTS_STAMP := $(BUILD)/obj/transports.stamp
$(shell mkdir -p $(BUILD)/obj && echo '$(TRANSPORTS)' | \
	cmp -s - $(TRANSPORTS_STAMP) 2>/dev/null || \
	echo '$(TRANSPORTS)' >$(TRANSPORTS_STAMP))
$(BUILD)/obj/remote/remote_registry.o: $(TRANSPORTS_STAMP)
# and the DDM registry's on DDMS, likewise.
DDMS_STAMP := $(BUILD)/obj/ddms.stamp
$(shell mkdir -p $(BUILD)/obj && echo '$(DDMS)' | \
	cmp -s - $(DDMS_STAMP) 2>/dev/null || \
	echo '$(DDMS)' >$(DDMS_STAMP))
$(BUILD)/obj/ddm/ddm_registry.o: $(DDMS_STAMP)

# iopctl, the management client: jansson and GnuTLS, none of the daemon's
# boxes.
$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

IOPCTL_OBJS := $(BUILD)/obj/tools/iopctl/iopctl.o \
	       $(BUILD)/obj/tools/iopctl/iopctl_cmds.o \
	       $(BUILD)/obj/tools/iopctl/iopctl_tls.o
$(BUILD)/iopctl: $(IOPCTL_OBJS)
	$(CC) $(LDFLAGS_ALL) -o $@ $(IOPCTL_OBJS) $(LIBS)

$(BUILD)/iopd: $(BUILD)/obj/main.o $(LINK_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LINK_LIBS) $(LIBS)

# Unit tests: tests/unit/test_<box>_*.c, each its own program, linked only
# with its box and the boxes beneath it (so tests respect the layering too).
# A transport's own tests (test_nbd_*, test_iscsi_*; its fuzzer) are built
# only when it is in TRANSPORTS.
ALL_TRANSPORTS := nbd iscsi
NOT_BUILT := $(filter-out $(TRANSPORTS),$(ALL_TRANSPORTS))
UNIT_SRCS := $(filter-out $(foreach t,$(NOT_BUILT),tests/unit/test_$(t)_%), \
		$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
LIBS_base := $(call lib,base)
LIBS_ddm := $(call lib,ddm) $(LIBS_base)
LIBS_local := $(call lib,local) $(LIBS_ddm)
LIBS_scsi := $(call lib,scsi) $(LIBS_local)
LIBS_remote := $(call lib,remote) $(LIBS_scsi)
LIBS_nbd := $(LIBS_remote)
LIBS_iscsi := $(LIBS_nbd)
LIBS_connmgr := $(call lib,connmgr) $(LIBS_nbd)
LIBS_mgmt := $(call lib,mgmt) $(LIBS_connmgr)
define unit_rule
$(BUILD)/tests/test_$(1)_%: $(BUILD)/obj/tests/unit/test_$(1)_%.o $(LIBS_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$< $(LIBS_$(1)) $$(LIBS)
endef
$(foreach b,base ddm local scsi remote nbd iscsi connmgr mgmt,$(eval $(call unit_rule,$(b))))

# Fuzz targets built as plain replay programs (tests/fuzz/*_fuzz.c define
# LLVMFuzzerTestOneInput; tests/fuzz/fuzz_replay.c supplies main()).
FUZZ_SRCS := $(filter-out $(foreach t,$(NOT_BUILT),tests/fuzz/$(t)_%), \
		$(wildcard tests/fuzz/*_fuzz.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/fuzz_replay.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LINK_LIBS) $(LIBS)

tests: $(BUILD)/iopd $(UNIT_BINS) $(FUZZ_BINS)

# Each box must link against only the boxes beneath it.
check-layers: $(LINK_LIBS)
	@set -e; below=""; \
	for b in base ddm local scsi remote connmgr mgmt; do \
		l=$(BUILD)/lib/libiopd_$$b.a; \
		if [ -n "$$(ar t $$l)" ]; then \
			$(CC) -shared $(SANFLAGS) -o $(BUILD)/lib/layer_$$b.so \
				-Wl,--whole-archive $$l -Wl,--no-whole-archive \
				$$below $(LIBS) -Wl,--no-undefined \
				|| { echo "layer check: $$b reaches above itself"; exit 1; }; \
		fi; \
		below="$$l $$below"; \
	done; echo "layer check: ok"

# The README's two commands, `make run` and `make deps check`: deps
# installs what they need from Debian (run depends on it, check does not).
deps:
	scripts/install-deps.sh

run: deps
	$(MAKE) all
	$(BUILD)/iopd $(or $(EXPORTS),ram:1G)

# Release build on both engines, then the ASan+UBSan build; tests/run.sh
# prints the closing "N passed, N failed" line.  Each transport alone
# builds and passes its unit tests too (check-transports-quick: about 45 s
# from scratch on two cores).
check:
	$(MAKE) all tests check-layers check-format
	$(MAKE) SAN=1 all tests
	$(MAKE) check-transports-quick
	tests/run.sh

# Each Remote Transport alone (TRANSPORTS=nbd in build-nbd/, and so on):
# build, check-layers, the unit tests and fuzz replays, and then the
# integration tests that build can run; those needing a transport it
# lacks skip (tests/integration/lib.sh reads the transports from the last
# line of iopd --help).  TRANSPORT_TESTS: a run.sh pattern (grep -E)
# for the integration part, e.g. 'iscsi|nbdinfo' (default: all of it).
# check-transports-quick stops before the integration tests.
TRANSPORT_TESTS ?=
check-transports-quick:
	@st=0; for t in $(ALL_TRANSPORTS); do \
		$(MAKE) TRANSPORTS=$$t BUILD=build-$$t all tests check-layers \
		&& IOPD_TEST_PASSES=release:uring IOPD_RELEASE_BUILD=build-$$t \
			IOPD_TEST_LOGS=build-$$t/unit-logs tests/run.sh unit/ fuzz/ \
		|| st=1; \
	done; exit $$st

check-transports: check-transports-quick
	@st=0; for t in $(ALL_TRANSPORTS); do \
		echo "== TRANSPORTS=$$t: integration tests"; \
		IOPD_TEST_PASSES=release:uring IOPD_RELEASE_BUILD=build-$$t \
			IOPD_TEST_LOGS=build-$$t/test-logs \
			tests/run.sh '$(or $(TRANSPORT_TESTS),integration/)' || st=1; \
	done; exit $$st

# Power cuts (tests/integration/test_durability.sh): the full matrix of
# storage, direct modes and clients, on both engines, against $(BUILD)/iopd.
# Needs root, /dev/fuse and loop devices.  Prints each engine's matrix.
check-durability: deps
	$(MAKE) all
	IOPD_DURABILITY_FULL=1 IOPD_TEST_PASSES="release:uring release:epoll" \
		IOPD_RELEASE_BUILD=$(BUILD) IOPD_TEST_LOGS=$(BUILD)/durability-logs \
		IOPD_TEST_SCRIPT_TIMEOUT=3600 tests/run.sh integration/test_durability; \
	st=$$?; for l in $(BUILD)/durability-logs/*test_durability.log; do \
		sed -n '/durability matrix/,/^# disk F\/U/p' $$l; done; exit $$st

# Install.  Both programs go to sbin: iopctl talks to a socket only root
# and iopd's user may use.  The units' ExecStart= names $(SBINDIR)/iopd
# (contrib/systemd says /usr/local/sbin, replaced as they are installed).
# Debian's package (debian/rules) uses PREFIX=/usr and
# SYSTEMDUNITDIR=/lib/systemd/system.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/iopd
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
UNITS := $(wildcard contrib/systemd/*.service contrib/systemd/*.socket)
EXAMPLES := $(wildcard doc/*.example.json)

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 755 $(BUILD)/iopd $(BUILD)/iopctl $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 644 doc/iopd.8 doc/iopctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 644 tools/iopctl/iopctl.bash $(DESTDIR)$(BASHCOMPDIR)/iopctl
	$(INSTALL) -m 644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	@set -e; for u in $(UNITS); do \
		echo "install $$u -> $(DESTDIR)$(SYSTEMDUNITDIR)/ (iopd is $(SBINDIR)/iopd)"; \
		sed 's#/usr/local/sbin/#$(SBINDIR)/#g' $$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}; \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/iopd $(DESTDIR)$(SBINDIR)/iopctl \
		$(DESTDIR)$(MANDIR)/man8/iopd.8 $(DESTDIR)$(MANDIR)/man8/iopctl.8 \
		$(DESTDIR)$(BASHCOMPDIR)/iopctl \
		$(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNITS))) \
		$(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(EXAMPLES)))
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

# The Debian package too: test_install.sh with IOPD_TEST_PACKAGE=1 builds
# the .deb (dpkg-buildpackage in a copy of the tree in a temporary
# directory) and checks what it holds.  Needs dpkg-dev and debhelper.
check-package: all
	IOPD=$(BUILD)/iopd IOPD_TEST_PACKAGE=1 bash tests/integration/test_install.sh

# libFuzzer for real: every tests/fuzz/*_fuzz.c built with clang into
# build-fuzz/libfuzzer/, each run FUZZ_SECONDS on a temporary copy of its
# corpus (tests/fuzz/corpus/<name>/ is not written; FUZZ_MERGE=1 merges
# the new inputs into it).  Crashes land in build-fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
LIBFUZZER_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/libfuzzer/%,$(FUZZ_SRCS))
$(BUILD)/libfuzzer/%: $(BUILD)/obj/tests/fuzz/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(LINK_LIBS) $(LIBS)

fuzz-build: $(LIBFUZZER_BINS)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang SANFLAGS="$(FUZZ_SAN)" fuzz-build
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; st=0; \
	mkdir -p build-fuzz/artifacts; \
	for n in $(notdir $(basename $(FUZZ_SRCS))); do \
		c=tests/fuzz/corpus/$$n; [ -d $$c ] || c=tests/fuzz/corpus/$${n%_fuzz}; \
		mkdir -p $$tmp/$$n; [ -d $$c ] && cp -R $$c/. $$tmp/$$n/; \
		before=$$(ls $$tmp/$$n | wc -l); \
		echo "== fuzz $$n: $(FUZZ_SECONDS) s from $$before inputs ($$c)"; \
		if build-fuzz/libfuzzer/$$n -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$n- \
			$(FUZZ_FLAGS) $$tmp/$$n >build-fuzz/$$n.log 2>&1; then \
			echo "   $$(grep -m1 '^Done' build-fuzz/$$n.log), $$(grep -m1 'stat::peak_rss_mb' build-fuzz/$$n.log)"; \
			echo "   corpus $$before -> $$(ls $$tmp/$$n | wc -l) inputs"; \
			if [ "$(FUZZ_MERGE)" = 1 ]; then \
				build-fuzz/libfuzzer/$$n -merge=1 $$c $$tmp/$$n >>build-fuzz/$$n.log 2>&1 && \
				echo "   merged into $$c: $$(ls $$c | wc -l) inputs"; \
			fi; \
		else \
			st=1; echo "   FAILED (log build-fuzz/$$n.log):"; \
			grep -E 'ERROR|SUMMARY|artifact|runtime error' build-fuzz/$$n.log | head -n 20 | sed 's/^/   /'; \
		fi; \
	done; exit $$st

# Line coverage of src/: a --coverage build in build-cov/, the unit tests,
# fuzz replays and integration tests (COVERAGE_PASSES, as tests/run.sh's
# IOPD_TEST_PASSES) against it, then gcovr (else gcov, .c files only).
# IOPD_COVERAGE_DIR lets the sandboxed daemon (Landlock) write its .gcda
# files; after changing flags, rm -rf build-cov (make does not track them).
# The last line is "src/ line coverage: NN.N%"; the status is the tests'.
COVERAGE_PASSES ?= release:uring release:epoll
coverage:
	$(MAKE) BUILD=build-cov CFLAGS="-O0 -g" SANFLAGS=--coverage \
		CPPFLAGS='-DIOPD_COVERAGE_DIR=\"$(abspath build-cov)\"' all tests
	find build-cov -name '*.gcda' -delete
	@IOPD_TEST_PASSES="$(COVERAGE_PASSES)" IOPD_RELEASE_BUILD=build-cov \
		IOPD_TEST_LOGS=build-cov/test-logs tests/run.sh; st=$$?; \
	if command -v gcovr >/dev/null 2>&1; then \
		gcovr -r . -f 'src/' -j 2 --txt build-cov/coverage.txt \
			--print-summary build-cov >build-cov/coverage.summary 2>build-cov/coverage.err; \
		pct=$$(sed -n 's/^lines: *\([0-9.]*\)%.*/\1/p' build-cov/coverage.summary); \
		echo "per file: build-cov/coverage.txt"; \
	else \
		pct=$$(find build-cov/obj -name '*.gcno' ! -path '*/obj/tests/*' ! -path '*/obj/tools/*' | \
			while read -r g; do (cd build-cov && gcov -n -o "$${g%/*}" "../$$g" 2>/dev/null); done | \
			awk -F"'" '/^File / { f = $$2; next } \
				/^Lines executed:/ && f ~ /^(\.\.\/)?src\/.*\.c$$/ { \
					split($$0, a, /[:% ]+/); n = a[5]; c += a[3] * n / 100; t += n; f = "" } \
				END { if (t) printf "%.1f", 100 * c / t }'); \
	fi; \
	echo "src/ line coverage: $${pct:-unknown}%"; exit $$st

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	@echo "format check: ok"

clean:
	rm -rf build build-asan build-fuzz build-cov $(addprefix build-,$(ALL_TRANSPORTS))

# Keep test and fuzz objects: they are not worth rebuilding every time.
.SECONDARY:
.PHONY: all tests deps run check check-layers check-format format clean \
	check-durability install uninstall check-package fuzz fuzz-build coverage \
	check-transports check-transports-quick
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
