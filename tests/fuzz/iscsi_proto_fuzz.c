// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the iSCSI engine (src/remote/iscsi/): the input
 * is an initiator byte stream after two bytes that pick the conditions:
 * byte 0 bit 0 holds SCSI commands until the end of each chunk (TMF and
 * logout then wait), bit 1 a CHAP-protected configured target, bit 2
 * acknowledges output a few bytes at a time, bit 3 small task limits,
 * bits 4-5 ticks of the liveness clock; byte 1 is the feed chunk size.
 * The engine runs over the stub SCSI command set of
 * tests/unit/test_iscsi_fake.h.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks that a
 * conversation always ends: after eof, once the commands have completed
 * and the output was taken, the engine must report finished.
 *
 *   clang -fsanitize=fuzzer,address,undefined ... or plain gcc with
 *   tests/fuzz/fuzz_replay.c to replay the corpus.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../unit/test_iscsi_fake.h"
#include "base/base_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_drain(struct iscsi_proto *p, bool slow)
{
	struct iovec iov[8];
	int n;

	while ((n = remote_engine_tx_iov(iscsi_proto_engine(p), iov, 8)) > 0) {
		size_t total = 0;

		for (int i = 0; i < n; i++)
			total += iov[i].iov_len;
		if (slow && total > 5)
			total = 5;
		remote_engine_tx_done(iscsi_proto_engine(p), total);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct iscsi_lun_cfg luns[] = {
		{ 0, "disk0", false, 0 },
		{ 3, "missing", true, 0 },
	};
	static const char *const inis[] = { "iqn.x" };
	static const struct iscsi_target_cfg tgt = {
		.name = "iqn.t:one",
		.n_luns = 2,
		.luns = luns,
		.chap = { "alice", "secretsecret" },
		.mutual = { "target", "mutualsecret" },
		.n_initiators = 1,
		.initiators = inis,
	};
	static const struct iscsi_config chap_cfg = {
		.n_targets = 1,
		.targets = &tgt,
		.discovery_chap = { "disc", "discsecret" },
		.nop_interval_s = 1,
		.nop_timeout_s = 1,
	};
	struct iscsi_proto_config cfg = { 0 };
	struct iscsi_proto *p;
	size_t pos = 2, chunk;
	uint64_t now = 1;
	uint8_t mode;
	int stuck = 0;

	if (size < 2)
		return 0;
	base_log_set_level(BASE_LOG_ERROR);
	mode = data[0];
	chunk = data[1] ? data[1] : 4096;
	fx_setup(3);
	fs.hold = false;
	fs.n_held = 0;
	fs.n_open = 0;
	cfg.iscsi = mode & 2 ? &chap_cfg : NULL;
	cfg.scsi = &fs_ops;
	cfg.exports = &fx_table;
	cfg.limits.max_inflight = mode & 8 ? 2 : 16;
	cfg.limits.max_request_bytes = mode & 8 ? 8192 : 256 * 1024;
	cfg.peer = "fuzz";
	cfg.portal = "127.0.0.1:3260";
	if (iscsi_proto_create(&cfg, &p) < 0)
		abort();

	while (pos < size && stuck < 3) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		long ret;

		fs.hold = mode & 1;
		ret = remote_engine_feed(iscsi_proto_engine(p), data + pos, n);
		if (ret < 0)
			break;
		pos += (size_t)ret;
		stuck = ret == 0 ? stuck + 1 : 0;
		fuzz_drain(p, mode & 4);
		fs.hold = false;
		fs_complete();
		fuzz_drain(p, mode & 4);
		if (mode & 0x30) {
			now += (uint64_t)((mode >> 4) & 3) * 700;
			if (iscsi_proto_tick(p, now) < 0)
				break;
			fuzz_drain(p, mode & 4);
		}
	}

	remote_engine_rx_eof(iscsi_proto_engine(p));
	fs.hold = false;
	fs_complete();
	fuzz_drain(p, false);
	if (remote_engine_inflight(iscsi_proto_engine(p)) != 0 ||
	    !remote_engine_finished(iscsi_proto_engine(p)))
		abort();
	iscsi_proto_destroy(p);
	if (fs.n_open != 0)
		abort();
	return 0;
}
