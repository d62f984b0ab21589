// SPDX-License-Identifier: MIT
/*
 * Persistent reservations over a RAM export, driven as a transport
 * drives the command set: what each type leaves to registered and
 * unregistered nexuses, the unit attentions, PREEMPT, REGISTER AND MOVE,
 * SPEC_I_PT, ALL_TG_PT, READ FULL STATUS, APTPL through the file store,
 * and the store's version check.  libiscsi's suites (test_iscsi_pr.sh)
 * cover the common paths against the real daemon; these cover the rest.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_be.h"
#include "base/base_loop.h"
#include "iopd/local.h"
#include "scsi/scsi.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_pr_store.h"
#include "scsi/scsi_priv.h"
#include "test.h"
#include "test_local_ram.h"

static struct local *local;
static struct iop_desc desc = { .ops = &local_desc_ops, .name = "ram" };
static struct conn_export export = { .name = "d0", .desc = &desc };
static struct scsi_lun_map lun0 = { .lun = 0, .export = &export };
static struct scsi_target_info target = {
	.name = "iqn.2026-11.org.iopd:pr",
	.tpg = 1,
	.n_luns = 1,
	.luns = &lun0,
};
static struct base_loop *loop;
static struct scsi_cmd cmd;
static uint8_t *buf;
static char dir[] = "/tmp/test_scsi_pr.XXXXXX";

#define A "iqn.a,i,0x000000000001"
#define B "iqn.b,i,0x000000000002"

static void cmd_done(struct scsi_cmd *c)
{
}

/* A nexus through relative port rel, its power-on UA consumed. */
static struct scsi_nexus *nexus(const char *initiator, uint16_t rel)
{
	struct scsi_nexus_args args = {
		.target = &target,
		.initiator = initiator,
		.rel_port_id = rel,
		.loop = loop,
		.max_xfer_bytes = 256 * 1024,
	};
	struct scsi_nexus *n = NULL;
	uint8_t tur[6] = { 0 };

	CHECK_EQ_INT(scsi_nexus_open(&args, &n), 0);
	memset(&cmd, 0, sizeof(cmd));
	memcpy(cmd.cdb, tur, 6);
	cmd.cdb_len = 6;
	cmd.done = cmd_done;
	scsi_cmd_submit(n, &cmd);
	return n;
}

static int run(struct scsi_nexus *n, const uint8_t *cdb, unsigned int cdb_len,
	       enum scsi_data_dir data_dir, uint32_t buf_len)
{
	memset(&cmd, 0, sizeof(cmd));
	memcpy(cmd.cdb, cdb, cdb_len);
	cmd.cdb_len = cdb_len;
	cmd.dir = data_dir;
	cmd.buf = buf;
	cmd.buf_len = buf_len;
	cmd.done = cmd_done;
	scsi_cmd_submit(n, &cmd);
	/* every PR command here completes at once (no fence waits) */
	return cmd.status;
}

static uint16_t asc(void)
{
	return cmd.status == SCSI_STATUS_CHECK_CONDITION
		       ? (uint16_t)(cmd.sense[12] << 8 | cmd.sense[13])
		       : 0;
}

/* PR OUT with the basic parameter list, flags at byte 20, and extra
 * bytes after it (SPEC_I_PT's TransportIDs). */
static int prout(struct scsi_nexus *n, uint8_t sa, uint8_t type, uint64_t key,
		 uint64_t sakey, uint8_t flags, const uint8_t *extra,
		 uint32_t extra_len)
{
	uint8_t cdb[10] = { 0x5f, sa, type };

	memset(buf, 0, 24 + extra_len);
	base_be64_put(buf, key);
	base_be64_put(buf + 8, sakey);
	buf[20] = flags;
	if (extra_len)
		memcpy(buf + 24, extra, extra_len);
	base_be32_put(cdb + 5, 24 + extra_len);
	return run(n, cdb, 10, SCSI_DIR_WRITE, 24 + extra_len);
}

static int prin(struct scsi_nexus *n, uint8_t sa)
{
	uint8_t cdb[10] = { 0x5e, sa, 0, 0, 0, 0, 0, 0x10, 0, 0 };

	return run(n, cdb, 10, SCSI_DIR_READ, 4096);
}

static int rw(struct scsi_nexus *n, bool write)
{
	uint8_t cdb[10] = { write ? 0x2a : 0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0 };

	return run(n, cdb, 10, write ? SCSI_DIR_WRITE : SCSI_DIR_READ, 512);
}

/* An iSCSI TransportID, format 01b, for name into p; its length. */
static uint32_t tid(uint8_t *p, const char *name)
{
	uint32_t n = ((uint32_t)strlen(name) + 1 + 3) & ~3u;

	memset(p, 0, 4 + n);
	p[0] = 0x45;
	base_be16_put(p + 2, (uint16_t)n);
	memcpy(p + 4, name, strlen(name));
	return 4 + n;
}

#define CONFLICT SCSI_STATUS_RESERVATION_CONFLICT

/* SPC-4 table 63 as libiscsi's ProutReserve.Access* checks it, for every
 * type: b registered, then b unregistered. */
static void test_access_per_type(void)
{
	static const struct {
		uint8_t type;
		bool reg_r, reg_w, unreg_r, unreg_w;
	} t[] = {
		{ SCSI_PR_WR_EX, true, false, true, false },
		{ SCSI_PR_EX_AC, false, false, false, false },
		{ SCSI_PR_WR_EX_RO, true, true, true, false },
		{ SCSI_PR_EX_AC_RO, true, true, false, false },
		{ SCSI_PR_WR_EX_AR, true, true, true, false },
		{ SCSI_PR_EX_AC_AR, true, true, false, false },
	};
	struct scsi_nexus *a = nexus(A, 1), *b = nexus(B, 1);

	for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_EQ_INT(prout(a, 6, 0, 0, 0xa, 0, NULL, 0), 0);
		CHECK_EQ_INT(prout(b, 6, 0, 0, 0xb, 0, NULL, 0), 0);
		CHECK_EQ_INT(prout(a, 1, t[i].type, 0xa, 0, 0, NULL, 0), 0);
		CHECK_EQ_INT(rw(a, false), 0);
		CHECK_EQ_INT(rw(a, true), 0);
		CHECK_EQ_INT(rw(b, false), t[i].reg_r ? 0 : CONFLICT);
		CHECK_EQ_INT(rw(b, true), t[i].reg_w ? 0 : CONFLICT);
		CHECK_EQ_INT(prout(b, 0, 0, 0xb, 0, 0, NULL, 0), 0);
		CHECK_EQ_INT(rw(b, false), t[i].unreg_r ? 0 : CONFLICT);
		CHECK_EQ_INT(rw(b, true), t[i].unreg_w ? 0 : CONFLICT);
		/* TEST UNIT READY and INQUIRY always run */
		CHECK_EQ_INT(
			run(b, (const uint8_t[6]){ 0 }, 6, SCSI_DIR_NONE, 0),
			0);
		CHECK_EQ_INT(prout(a, 2, t[i].type, 0xa, 0, 0, NULL, 0), 0);
		CHECK_EQ_INT(prout(a, 0, 0, 0xa, 0, 0, NULL, 0), 0);
		CHECK_EQ_INT(rw(b, true), 0);
	}
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

static void test_keys_and_errors(void)
{
	struct scsi_nexus *a = nexus(A, 1), *b = nexus(B, 1);

	/* REGISTER from an unregistered nexus with a key: conflict */
	CHECK_EQ_INT(prout(a, 0, 0, 0x5, 0xa, 0, NULL, 0), CONFLICT);
	CHECK_EQ_INT(prout(a, 0, 0, 0, 0xa, 0, NULL, 0), 0);
	CHECK_EQ_INT(prout(a, 0, 0, 0x5, 0xaa, 0, NULL, 0), CONFLICT);
	CHECK_EQ_INT(prout(a, 0, 0, 0xa, 0xaa, 0, NULL, 0), 0);
	CHECK_EQ_INT(prin(a, 0), 0);
	CHECK_EQ_INT(base_be32_get(buf), 2); /* generation */
	CHECK_EQ_INT(base_be32_get(buf + 4), 8);
	CHECK(base_be64_get(buf + 8) == 0xaa);
	/* RESERVE by the unregistered, a bad type, a bad scope */
	CHECK_EQ_INT(prout(b, 1, 1, 0, 0, 0, NULL, 0), CONFLICT);
	prout(a, 1, 2, 0xaa, 0, 0, NULL, 0);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_FIELD_CDB);
	prout(a, 1, 0x21, 0xaa, 0, 0, NULL, 0);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_FIELD_CDB);
	/* a parameter list of the wrong length; an unknown service action */
	{
		uint8_t cdb[10] = { 0x5f, 0, 0, 0, 0, 0, 0, 0, 20, 0 };

		run(a, cdb, 10, SCSI_DIR_WRITE, 20);
		CHECK_EQ_INT(asc(), SCSI_ASC_PARAM_LIST_LENGTH);
	}
	prout(a, 8, 0, 0xaa, 0, 0, NULL, 0);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_FIELD_CDB);
	prin(a, 4);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_FIELD_CDB);
	/* no store configured: APTPL is refused, and not reported */
	prout(a, 6, 0, 0, 0xab, 0x01, NULL, 0);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_FIELD_PARAM);
	CHECK_EQ_INT(prin(a, 2), 0);
	CHECK_EQ_INT(buf[2] & 0x01, 0);
	CHECK_EQ_INT(buf[4], 0xea);
	CHECK_EQ_INT(buf[5], 0x01);
	/* RELEASE of another type by the holder */
	CHECK_EQ_INT(prout(a, 1, 3, 0xaa, 0, 0, NULL, 0), 0);
	prout(a, 2, 1, 0xaa, 0, 0, NULL, 0);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_RELEASE_PR);
	/* RESERVE(6) and RELEASE(6) under registrations (SPC-4 5.14.3) */
	CHECK_EQ_INT(run(b, (const uint8_t[6]){ 0x16 }, 6, SCSI_DIR_NONE, 0),
		     CONFLICT);
	CHECK_EQ_INT(run(a, (const uint8_t[6]){ 0x17 }, 6, SCSI_DIR_NONE, 0),
		     0);
	CHECK_EQ_INT(prin(b, 1), 0);
	CHECK_EQ_INT(base_be32_get(buf + 4), 16); /* still reserved */
	CHECK_EQ_INT(prout(a, 3, 0, 0xaa, 0, 0, NULL, 0), 0);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

static void test_preempt_and_uas(void)
{
	struct scsi_nexus *a = nexus(A, 1), *b = nexus(B, 1);

	CHECK_EQ_INT(prout(a, 6, 0, 0, 0xa, 0, NULL, 0), 0);
	CHECK_EQ_INT(prout(b, 6, 0, 0, 0xb, 0, NULL, 0), 0);
	CHECK_EQ_INT(prout(a, 1, SCSI_PR_WR_EX_RO, 0xa, 0, 0, NULL, 0), 0);
	/* releasing a registrants-only reservation tells the others */
	CHECK_EQ_INT(prout(a, 2, SCSI_PR_WR_EX_RO, 0xa, 0, 0, NULL, 0), 0);
	rw(b, false);
	CHECK_EQ_INT(asc(), SCSI_ASC_RESERVATIONS_RELEASED);
	CHECK_EQ_INT(rw(a, false), 0);
	/* b preempts a, which holds EX_AC: a is unregistered and told */
	CHECK_EQ_INT(prout(a, 1, SCSI_PR_EX_AC, 0xa, 0, 0, NULL, 0), 0);
	prout(b, 4, SCSI_PR_WR_EX, 0xb, 0, 0, NULL, 0);
	CHECK_EQ_INT(asc(), SCSI_ASC_INVALID_FIELD_PARAM);
	CHECK_EQ_INT(prout(b, 4, SCSI_PR_WR_EX, 0xb, 0x77, 0, NULL, 0),
		     CONFLICT);
	CHECK_EQ_INT(prout(b, 5, SCSI_PR_WR_EX, 0xb, 0xa, 0, NULL, 0), 0);
	rw(a, false);
	CHECK_EQ_INT(asc(), SCSI_ASC_REGISTRATIONS_PREEMPTED);
	CHECK_EQ_INT(rw(a, false), 0);
	CHECK_EQ_INT(rw(a, true), CONFLICT);
	CHECK_EQ_INT(prin(a, 1), 0);
	CHECK(base_be64_get(buf + 8) == 0xb);
	CHECK_EQ_INT(buf[21], SCSI_PR_WR_EX);
	/* CLEAR tells every other registrant */
	CHECK_EQ_INT(prout(a, 6, 0, 0, 0xa, 0, NULL, 0), 0);
	CHECK_EQ_INT(prout(b, 3, 0, 0xb, 0, 0, NULL, 0), 0);
	rw(a, false);
	CHECK_EQ_INT(asc(), SCSI_ASC_RESERVATIONS_PREEMPTED);
	CHECK_EQ_INT(prin(a, 0), 0);
	CHECK_EQ_INT(base_be32_get(buf + 4), 0);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

static void test_spec_i_pt_move_all_tg_pt(void)
{
	struct scsi_nexus *a = nexus(A, 1), *b = nexus(B, 1), *a2;
	uint8_t ids[64];
	uint32_t n;

	/* a registers b too (SPEC_I_PT); b may reserve with that key */
	n = tid(ids, B);
	memmove(ids + 4, ids, n);
	base_be32_put(ids, n);
	CHECK_EQ_INT(prout(a, 0, 0, 0, 0xc, 0x08, ids, 4 + n), 0);
	CHECK_EQ_INT(prin(a, 0), 0);
	CHECK_EQ_INT(base_be32_get(buf + 4), 16);
	CHECK_EQ_INT(prout(b, 1, SCSI_PR_WR_EX, 0xc, 0, 0, NULL, 0), 0);
	/* READ FULL STATUS: b holds, with its TransportID */
	CHECK_EQ_INT(prin(a, 3), 0);
	CHECK_EQ_INT(base_be32_get(buf + 4), 2 * (24 + 28));
	CHECK_EQ_INT(buf[8 + 52 + 12], 0x01);
	CHECK_EQ_INT(buf[8 + 52 + 13], SCSI_PR_WR_EX);
	CHECK_EQ_INT(buf[8 + 52 + 24], 0x45);
	CHECK(!strcmp((char *)buf + 8 + 52 + 28, B));
	/* b moves the reservation to a and leaves (UNREG) */
	memset(buf, 0, 64);
	base_be64_put(buf, 0xc);
	base_be64_put(buf + 8, 0xd);
	buf[17] = 0x02;
	base_be16_put(buf + 18, 1);
	n = tid(buf + 24, A);
	base_be32_put(buf + 20, n);
	{
		uint8_t cdb[10] = { 0x5f, 7, SCSI_PR_WR_EX };

		base_be32_put(cdb + 5, 24 + n);
		CHECK_EQ_INT(run(b, cdb, 10, SCSI_DIR_WRITE, 24 + n), 0);
	}
	CHECK_EQ_INT(prin(a, 1), 0);
	CHECK(base_be64_get(buf + 8) == 0xd);
	CHECK_EQ_INT(rw(a, true), 0);
	CHECK_EQ_INT(rw(b, true), CONFLICT);
	CHECK_EQ_INT(prout(a, 3, 0, 0xd, 0, 0, NULL, 0), 0);
	/* ALL_TG_PT: a's registration holds on its other target port */
	CHECK_EQ_INT(prout(a, 6, 0, 0, 0xe, 0x04, NULL, 0), 0);
	a2 = nexus(A, 2);
	CHECK_EQ_INT(prout(a2, 1, SCSI_PR_EX_AC, 0xe, 0, 0, NULL, 0), 0);
	CHECK_EQ_INT(prout(b, 6, 0, 0, 0xf, 0, NULL, 0), 0);
	CHECK_EQ_INT(rw(b, false), CONFLICT);
	CHECK_EQ_INT(rw(a, false), 0);
	CHECK_EQ_INT(prout(b, 3, 0, 0xf, 0, 0, NULL, 0), 0);
	scsi_nexus_close(a2);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

/* The file store: versions compared, files written and removed. */
static void test_store(void)
{
	const struct scsi_pr_store_ops *ops = &scsi_pr_store_file_ops;
	char *text = NULL, path[512];
	uint64_t v = 0;

	CHECK_EQ_INT(ops->load((void *)dir, "x/0", &text, &v), -ENOENT);
	CHECK_EQ_INT(ops->save((void *)dir, "x/0", "generation 1\n", 0), 0);
	CHECK_EQ_INT(ops->save((void *)dir, "x/0", "generation 2\n", 0),
		     -ESTALE);
	CHECK_EQ_INT(ops->save((void *)dir, "x/0", "generation 3\n", 1), 0);
	CHECK_EQ_INT(ops->load((void *)dir, "x/0", &text, &v), 0);
	CHECK(v == 2);
	CHECK(text && !strcmp(text, "generation 3\n"));
	free(text);
	snprintf(path, sizeof(path), "%s/x%%2F0.pr", dir);
	CHECK_EQ_INT(access(path, F_OK), 0);
	CHECK_EQ_INT(ops->save((void *)dir, "x/0", NULL, 2), 0);
	CHECK(access(path, F_OK) < 0);
	/* a name cannot leave the directory */
	CHECK_EQ_INT(ops->save((void *)dir, "../y", "generation 1\n", 0), 0);
	snprintf(path, sizeof(path), "%s/%%2E.%%2Fy.pr", dir);
	CHECK_EQ_INT(access(path, F_OK), 0);
	unlink(path);
}

/* APTPL: the state is saved with each change, restored by a fresh
 * state (what a restart builds), and removed when APTPL is turned off. */
static void test_aptpl(void)
{
	struct scsi_nexus *a, *b;
	struct scsi_pr *pr;
	struct scsi_pr_info info;
	char path[512];

	CHECK_EQ_INT(scsi_pr_configure(dir), 0);
	a = nexus(A, 1);
	b = nexus(B, 1);
	CHECK_EQ_INT(prout(a, 6, 0, 0, 0x1, 0x01, NULL, 0), 0);
	CHECK_EQ_INT(prout(b, 6, 0, 0, 0x2, 0x01, NULL, 0), 0);
	CHECK_EQ_INT(prout(a, 1, SCSI_PR_EX_AC_RO, 0x1, 0, 0, NULL, 0), 0);
	CHECK_EQ_INT(prin(a, 2), 0);
	CHECK_EQ_INT(buf[2] & 0x01, 1); /* PTPL_C */
	CHECK_EQ_INT(buf[3] & 0x01, 1); /* PTPL_A */
	snprintf(path, sizeof(path), "%s/ram%%2F0.pr", dir);
	CHECK_EQ_INT(access(path, F_OK), 0);
	/* what a restart would read back */
	pr = calloc(1, sizeof(*pr));
	pr->dev_id = strdup("ram/0");
	pthread_mutex_init(&pr->lock, NULL);
	CHECK_EQ_INT(scsi_pr_load(pr), 0);
	CHECK_EQ_INT(pr->n_regs, 2);
	CHECK_EQ_INT(pr->type, SCSI_PR_EX_AC_RO);
	CHECK(pr->holder && pr->holder->key == 0x1 &&
	      !strcmp(pr->holder->initiator, A));
	CHECK(pr->aptpl);
	for (unsigned int i = 0; i < pr->n_regs; i++)
		scsi_pr_reg_free(pr->regs[i]);
	free(pr->dev_id);
	free(pr);
	/* the operators' view, then their clear */
	CHECK_EQ_INT(scsi_pr_info_get(&export, &info), 0);
	CHECK_EQ_INT(info.n_regs, 2);
	CHECK(info.aptpl && info.regs[0].holder && !info.regs[1].holder);
	scsi_pr_info_free(&info);
	CHECK_EQ_INT(scsi_pr_clear_export(&export), 0);
	CHECK(access(path, F_OK) < 0);
	rw(b, false);
	CHECK_EQ_INT(asc(), SCSI_ASC_RESERVATIONS_PREEMPTED);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
	scsi_pr_configure(NULL);
}

static void never_done(void *arg, int result)
{
	(void)result;
	++*(int *)arg;
}

/* The messages between gateways tell a reset from a PR change by their
 * first line, and a device no other gateway shares resets at once. */
static void test_note_kinds(void)
{
	struct scsi_nexus *a = nexus("iqn.a", 1), *b = nexus("iqn.b", 1);
	uint8_t tur[6] = { 0 };
	int calls = 0;

	CHECK_EQ_INT(scsi_pr_note_kind(SCSI_PR_NOTE_RESET_TEXT),
		     SCSI_PR_NOTE_RESET);
	CHECK_EQ_INT(scsi_pr_note_kind("iopd-reset"), SCSI_PR_NOTE_RESET);
	CHECK_EQ_INT(scsi_pr_note_kind("iopd-pr 3\nua 2a03 0 i t\n"),
		     SCSI_PR_NOTE_PR);
	CHECK_EQ_INT(scsi_pr_note_kind("iopd-resetting\n"), SCSI_PR_NOTE_PR);
	CHECK_EQ_INT(scsi_pr_note_kind("iopd-rese"), SCSI_PR_NOTE_PR);
	CHECK_EQ_INT(scsi_pr_note_kind(""), SCSI_PR_NOTE_PR);
	CHECK_EQ_INT(scsi_pr_note_kind(NULL), SCSI_PR_NOTE_PR);
	CHECK_EQ_INT(scsi_nexus_tmf_async(a, SCSI_TMF_LUN_RESET, 0, never_done,
					  &calls),
		     0);
	CHECK_EQ_INT(calls, 0);
	CHECK_EQ_INT(run(b, tur, 6, SCSI_DIR_NONE, 0),
		     SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ_INT(asc(), SCSI_ASC_BUS_DEVICE_RESET);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

/* The shared record's RESERVE(6) holder: written only while one is
 * held (a record without one is what gateways before it wrote), read
 * back, refused when malformed or twice, and swapped in with the rest. */
static void test_res6_record(void)
{
	struct scsi_pr *pr = calloc(1, sizeof(*pr)), *tmp;
	char *text;

	pr->dev_id = strdup("rbd/0");
	pthread_mutex_init(&pr->lock, NULL);
	CHECK_EQ_INT(scsi_pr_parse(pr, "generation 3\naptpl 0\n"), 0);
	text = scsi_pr_text(pr);
	CHECK(text && !strcmp(text, "generation 3\naptpl 0\n"));
	free(text);
	CHECK_EQ_INT(scsi_pr_parse(pr,
				   "generation 4\n"
				   "reg 0000000000000001 0 1 " A " t,t,0x0001\n"
				   "aptpl 0\n"
				   "reserve6 " B " t,t,0x0002\n"),
		     0);
	CHECK_EQ_INT(pr->n_regs, 1);
	CHECK(pr->res6_initiator && !strcmp(pr->res6_initiator, B));
	CHECK(pr->res6_tport && !strcmp(pr->res6_tport, "t,t,0x0002"));
	text = scsi_pr_text(pr);
	CHECK(text && strstr(text, "\nreserve6 " B " t,t,0x0002\n"));
	/* what it reads back is what it wrote */
	tmp = scsi_pr_scratch(pr);
	CHECK_EQ_INT(scsi_pr_parse(tmp, text), 0);
	CHECK(tmp->res6_initiator && !strcmp(tmp->res6_initiator, B));
	free(text);
	/* installed: the holder moves over, the old one goes with tmp */
	free(tmp->res6_tport);
	tmp->res6_tport = strdup("t,t,0x0003");
	tmp->version = 7;
	CHECK(scsi_pr_install(pr, tmp));
	CHECK(!strcmp(pr->res6_tport, "t,t,0x0003"));
	CHECK(tmp->res6_tport && !strcmp(tmp->res6_tport, "t,t,0x0002"));
	scsi_pr_scratch_free(tmp);
	/* malformed, or two holders: the whole record is refused */
	CHECK_EQ_INT(scsi_pr_parse(pr, "reserve6 " B "\n"), -EBADMSG);
	CHECK(!pr->res6_initiator && !pr->n_regs);
	CHECK_EQ_INT(scsi_pr_parse(pr, "reserve6 " A " t,t,0x0001\n"
				       "reserve6 " B " t,t,0x0002\n"),
		     -EBADMSG);
	CHECK(!pr->res6_initiator);
	/* a line this version does not know is refused too: it cannot
	 * be rewritten without losing it */
	CHECK_EQ_INT(scsi_pr_parse(pr, "generation 1\nfuture 1\n"), -EBADMSG);
	scsi_pr_regs_clear(pr);
	pthread_mutex_destroy(&pr->lock);
	free(pr->dev_id);
	free(pr);
}

/* A shared device's scsi_dev.reserved follows the record's holder: the
 * nexus here it names, a stand-in when it names another gateway's, and
 * nobody once it is gone. */
static void test_res6_apply(void)
{
	struct scsi_nexus *a = nexus(A, 1), *b = nexus(B, 2);
	struct scsi_dev *dev = a->lus[0].dev;
	struct scsi_pr *pr = dev->pr;

	pthread_mutex_lock(&pr->lock);
	pr->shared = (struct ddm_dev *)&pr; /* only tested for NULL here */
	pr->res6_initiator = strdup(B);
	pr->res6_tport = strdup("iqn.2026-11.org.iopd:pr,t,0x0002");
	CHECK(!scsi_pr_res6_is(pr, &a->lus[0]) &&
	      scsi_pr_res6_is(pr, &b->lus[0]));
	scsi_pr_res6_apply(pr, dev);
	pthread_mutex_unlock(&pr->lock);
	CHECK(atomic_load(&dev->reserved) == b);
	CHECK_EQ_INT(rw(a, false), CONFLICT);
	CHECK_EQ_INT(rw(b, false), 0);
	/* the same initiator through another port is another nexus */
	pthread_mutex_lock(&pr->lock);
	free(pr->res6_initiator);
	pr->res6_initiator = strdup(A);
	scsi_pr_res6_apply(pr, dev);
	pthread_mutex_unlock(&pr->lock);
	CHECK(atomic_load(&dev->reserved) == &scsi_res6_elsewhere);
	CHECK_EQ_INT(rw(a, false), CONFLICT);
	CHECK_EQ_INT(rw(b, false), CONFLICT);
	pthread_mutex_lock(&pr->lock);
	scsi_pr_regs_clear(pr);
	scsi_pr_res6_apply(pr, dev);
	pr->shared = NULL;
	pthread_mutex_unlock(&pr->lock);
	CHECK(atomic_load(&dev->reserved) == NULL);
	CHECK_EQ_INT(rw(a, false), 0);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

int main(void)
{
	if (test_local_ram_scan(1 << 20, &local) < 0 ||
	    base_loop_create(&loop, BASE_ENGINE_AUTO, 0) < 0 || !mkdtemp(dir)) {
		printf("Bail out! no RAM export, loop or directory\n");
		return 1;
	}
	desc.ctx = local_iop_context(local, 0);
	buf = aligned_alloc(4096, 1 << 16);
	TEST_CASE(test_access_per_type);
	TEST_CASE(test_keys_and_errors);
	TEST_CASE(test_preempt_and_uas);
	TEST_CASE(test_spec_i_pt_move_all_tg_pt);
	TEST_CASE(test_store);
	TEST_CASE(test_aptpl);
	TEST_CASE(test_note_kinds);
	TEST_CASE(test_res6_record);
	TEST_CASE(test_res6_apply);
	rmdir(dir);
	free(buf);
	base_loop_destroy(loop);
	local_destroy(local);
	return test_done();
}
