// SPDX-License-Identifier: MIT
/*
 * Byte-level transcripts of the iSCSI engine (src/remote/iscsi/) over a
 * stub SCSI command set (test_iscsi_fake.h): login and negotiation,
 * status classes, CHAP, discovery and multi-PDU text, SCSI reads and
 * writes (immediate data, unsolicited data, R2T, Data-In segmentation,
 * residuals), NOP, liveness, task management, logout, rejects and
 * disconnects, digests.
 */
#include <nettle/md5.h>

#include "base/base_log.h"
#include "test.h"
#include "test_iscsi_fake.h"

#define TGT "iqn.2026-11.org.iopd:disk0"

static uint8_t rsp[ISCSI_BHS_BYTES];
static uint8_t *rdata;
static uint32_t rlen;

static void test_crc32c(void)
{
	uint8_t zeros[32] = { 0 }, ones[32], inc[32];

	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	/* RFC 3720 appendix B.4 */
	CHECK_EQ_INT(iscsi_crc32c(zeros, 32), 0x8a9136aa);
	CHECK_EQ_INT(iscsi_crc32c(ones, 32), 0x62a8ab43);
	CHECK_EQ_INT(iscsi_crc32c(inc, 32), 0x46dd794e);
}

static void test_login_discovery_sendtargets(void)
{
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };
	char text[64];
	uint32_t n;

	fx_setup(2);
	CHECK_EQ_INT(cli_create(&c, NULL), 0);
	CHECK_EQ_INT(cli_login(&c, NULL, NULL), 0);
	cli_recv(&c, rsp, NULL, NULL);
	bhs[0] = ISCSI_OP_TEXT_REQ;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, 7);
	base_be32_put(bhs + 20, ISCSI_RSVD_TAG);
	base_be32_put(bhs + 24, c.cmdsn++);
	n = cli_keys("SendTargets=All\n", text);
	cli_send(&c, bhs, text, n);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TEXT_RSP);
	CHECK(rsp[1] & ISCSI_FLAG_F);
	CHECK_EQ_INT(base_be32_get(rsp + 16), 7);
	CHECK(rlen > 0 && memmem(rdata, rlen, "TargetName=" TGT,
				 strlen("TargetName=" TGT)));
	CHECK(memmem(rdata, rlen, "TargetAddress=127.0.0.1:3260,1", 30));
	CHECK(memmem(rdata, rlen, "a-rather-long-export-name-1", 27));
	/* a SCSI command in a discovery session is refused */
	{
		uint8_t cdb[16] = { 0 };

		cli_cmd(&c, ISCSI_FLAG_F, cdb, 0, NULL, 0, false);
		CHECK(cli_recv(&c, rsp, NULL, NULL));
		CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
		CHECK_EQ_INT(rsp[2], ISCSI_REJECT_PROTOCOL);
	}
	CHECK(!remote_engine_finished(iscsi_proto_engine(c.p)));
	cli_destroy(&c);
}

static void test_sendtargets_multi_pdu(void)
{
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };
	char text[128], all[16384];
	size_t got = 0;
	uint32_t n;
	int pdus = 0;

	fx_setup(40);
	CHECK_EQ_INT(cli_create(&c, NULL), 0);
	CHECK_EQ_INT(cli_login(&c, NULL, "MaxRecvDataSegmentLength=512\n"), 0);
	cli_recv(&c, rsp, NULL, NULL);
	bhs[0] = ISCSI_OP_TEXT_REQ;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, 9);
	base_be32_put(bhs + 20, ISCSI_RSVD_TAG);
	base_be32_put(bhs + 24, c.cmdsn++);
	n = cli_keys("SendTargets=All\n", text);
	cli_send(&c, bhs, text, n);
	while (cli_recv(&c, rsp, &rdata, &rlen)) {
		CHECK_EQ_INT(rsp[0], ISCSI_OP_TEXT_RSP);
		CHECK(rlen <= 512);
		if (got + rlen <= sizeof(all)) {
			memcpy(all + got, rdata, rlen);
			got += rlen;
		}
		pdus++;
		if (rsp[1] & ISCSI_FLAG_F) {
			CHECK_EQ_INT(base_be32_get(rsp + 20), ISCSI_RSVD_TAG);
			break;
		}
		/* ask for more with the TTT */
		CHECK(base_be32_get(rsp + 20) != ISCSI_RSVD_TAG);
		memset(bhs, 0, sizeof(bhs));
		bhs[0] = ISCSI_OP_TEXT_REQ;
		bhs[1] = ISCSI_FLAG_F;
		base_be32_put(bhs + 16, 9);
		memcpy(bhs + 20, rsp + 20, 4);
		base_be32_put(bhs + 24, c.cmdsn++);
		cli_send(&c, bhs, NULL, 0);
	}
	CHECK(pdus > 3);
	CHECK(memmem(all, got, "a-rather-long-export-name-39", 28));
	CHECK(memmem(all, got, "TargetName=" TGT, strlen("TargetName=" TGT)));
	/* a wrong TTT is rejected */
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_TEXT_REQ;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, 9);
	base_be32_put(bhs + 20, 12345);
	base_be32_put(bhs + 24, c.cmdsn++);
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
	cli_destroy(&c);
	fx_setup(1);
}

static void normal_login(struct cli *c, const char *extra);

/* A Text Request continued with the C bit, in full feature phase. */
static void test_text_continuation(void)
{
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };
	char text[128];
	uint32_t n;

	normal_login(&c, NULL);
	cli_recv(&c, rsp, NULL, NULL);
	bhs[0] = ISCSI_OP_TEXT_REQ;
	bhs[1] = ISCSI_FLAG_TEXT_C;
	base_be32_put(bhs + 16, 11);
	base_be32_put(bhs + 20, ISCSI_RSVD_TAG);
	base_be32_put(bhs + 24, c.cmdsn++);
	n = cli_keys("SendTarg", text);
	cli_send(&c, bhs, text, n);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TEXT_RSP);
	CHECK_EQ_INT(rlen, 0);
	CHECK(!(rsp[1] & ISCSI_FLAG_F));
	bhs[1] = ISCSI_FLAG_F;
	memcpy(bhs + 20, rsp + 20, 4);
	base_be32_put(bhs + 24, c.cmdsn++);
	n = cli_keys("ets=\nMaxRecvDataSegmentLength=8192\nHeaderDigest=None\n"
		     "Foo=1\n",
		     text);
	cli_send(&c, bhs, text, n);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TEXT_RSP);
	CHECK(rsp[1] & ISCSI_FLAG_F);
	CHECK(cli_key(rdata, rlen, "TargetName") != NULL);
	CHECK(strcmp(cli_key(rdata, rlen, "HeaderDigest"), "Reject") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "Foo"), "NotUnderstood") == 0);
	CHECK(cli_key(rdata, rlen, "MaxRecvDataSegmentLength") == NULL);
	/* C and F together is a protocol error */
	bhs[1] = ISCSI_FLAG_F | ISCSI_FLAG_TEXT_C;
	base_be32_put(bhs + 20, ISCSI_RSVD_TAG);
	cli_send(&c, bhs, text, n);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
	cli_destroy(&c);
}

static void test_login_status_classes(void)
{
	struct cli c;

	fx_setup(1);
	cli_create(&c, NULL);
	CHECK_EQ_INT(cli_login(&c, "iqn.2026-11.org.iopd:nope", NULL), 0x0203);
	CHECK(remote_engine_finished(iscsi_proto_engine(c.p)));
	cli_destroy(&c);

	cli_create(&c, NULL);
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_OP_FFP, "SessionType=Discovery\n",
				   rsp, NULL, NULL),
		     0x0207);
	cli_destroy(&c);

	cli_create(&c, NULL);
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_OP_FFP,
				   "InitiatorName=iqn.x\nSessionType=Normal\n",
				   rsp, NULL, NULL),
		     0x0207);
	cli_destroy(&c);

	cli_create(&c, NULL);
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_OP_FFP,
				   "InitiatorName=iqn.x\nSessionType=Weird\n",
				   rsp, NULL, NULL),
		     0x0209);
	cli_destroy(&c);

	/* a key twice in one login */
	cli_create(&c, NULL);
	CHECK_EQ_INT(cli_login(&c, TGT,
			       "MaxBurstLength=512\nMaxBurstLength="
			       "1024\n"),
		     0x0200);
	cli_destroy(&c);

	/* a pair without '=' */
	cli_create(&c, NULL);
	CHECK_EQ_INT(cli_login(&c, TGT, "garbage\n"), 0x0200);
	cli_destroy(&c);

	/* an oversized initiator name */
	{
		char keys[600];

		memset(keys, 'a', sizeof(keys));
		memcpy(keys, "InitiatorName=", 14);
		strcpy(keys + 400, "\nSessionType=Discovery\n");
		cli_create(&c, NULL);
		CHECK_EQ_INT(
			cli_login_pdu(&c, LOGIN_OP_FFP, keys, rsp, NULL, NULL),
			0x0200);
		cli_destroy(&c);
	}
}

static void test_login_version_and_tsih(void)
{
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };
	char text[128];
	uint32_t n =
		cli_keys("InitiatorName=iqn.x\nSessionType=Discovery\n", text);

	cli_create(&c, NULL);
	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = LOGIN_OP_FFP;
	bhs[2] = 2;
	bhs[3] = 1; /* version-min 1 */
	cli_send(&c, bhs, text, n);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[36] << 8 | rsp[37], 0x0205);
	cli_destroy(&c);

	cli_create(&c, NULL);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = LOGIN_OP_FFP;
	base_be16_put(bhs + 14, 77); /* TSIH of a session we do not have */
	cli_send(&c, bhs, text, n);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[36] << 8 | rsp[37], 0x020a);
	cli_destroy(&c);
}

static void test_bad_input_before_login(void)
{
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };

	cli_create(&c, NULL);
	bhs[0] = ISCSI_OP_SCSI_CMD;
	CHECK(cli_send(&c, bhs, NULL, 0) < 0);
	CHECK(remote_engine_finished(iscsi_proto_engine(c.p)));
	cli_destroy(&c);

	/* a huge data segment */
	cli_create(&c, NULL);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	base_be24_put(bhs + 5, 0xffffff);
	c.fed = (int)remote_engine_feed(iscsi_proto_engine(c.p), bhs,
					sizeof(bhs));
	CHECK(c.fed < 0);
	cli_destroy(&c);
}

static void test_negotiation(void)
{
	struct cli c;
	int st;

	fx_setup(1);
	cli_create(&c, NULL);
	st = cli_login_pdu(
		&c, LOGIN_OP_FFP,
		"InitiatorName=iqn.x\nSessionType=Normal\nTargetName=" TGT "\n"
		"HeaderDigest=CRC32C,None\nDataDigest=None\n"
		"MaxRecvDataSegmentLength=4096\nMaxBurstLength=65536\n"
		"FirstBurstLength=131072\nInitialR2T=No\nImmediateData=Yes\n"
		"MaxOutstandingR2T=16\nMaxConnections=4\nErrorRecoveryLevel=2\n"
		"IFMarker=Yes\nOFMarkInt=2048\nX-com.example.foo=1\n"
		"DefaultTime2Wait=1\nDataPDUInOrder=No\nBogusKey=1\n",
		rsp, &rdata, &rlen);
	CHECK_EQ_INT(st, 0);
	CHECK(rsp[1] & ISCSI_FLAG_LOGIN_T);
	CHECK_EQ_INT(rsp[1] & 3, 3);
	CHECK(base_be16_get(rsp + 14) != 0); /* TSIH */
	CHECK(strcmp(cli_key(rdata, rlen, "HeaderDigest"), "CRC32C") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "DataDigest"), "None") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "MaxBurstLength"), "65536") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "FirstBurstLength"), "131072") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "InitialR2T"), "No") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "MaxOutstandingR2T"), "4") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "MaxConnections"), "1") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "ErrorRecoveryLevel"), "0") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "IFMarker"), "No") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "OFMarkInt"), "Irrelevant") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "X-com.example.foo"),
		     "NotUnderstood") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "BogusKey"), "NotUnderstood") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "DefaultTime2Wait"), "2") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "DataPDUInOrder"), "Yes") == 0);
	CHECK(strcmp(cli_key(rdata, rlen, "TargetPortalGroupTag"), "1") == 0);
	CHECK(cli_key(rdata, rlen, "MaxRecvDataSegmentLength") != NULL);
	CHECK_EQ_INT(fs.n_open, 1);
	cli_destroy(&c);
	CHECK_EQ_INT(fs.n_open, 0);
}

static void test_login_stages_and_continuation(void)
{
	struct cli c;

	cli_create(&c, NULL);
	/* security stage with no auth, continued text in two PDUs */
	CHECK_EQ_INT(cli_login_pdu(&c, ISCSI_FLAG_LOGIN_C | 0,
				   "InitiatorName=iqn.x\nSessionType=Disc", rsp,
				   NULL, NULL),
		     0);
	CHECK(!(rsp[1] & ISCSI_FLAG_LOGIN_T));
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_SEC_OP,
				   "overy\nAuthMethod=None,CHAP\n", rsp, &rdata,
				   &rlen),
		     0);
	CHECK(rsp[1] & ISCSI_FLAG_LOGIN_T);
	CHECK_EQ_INT(rsp[1] & 3, 1);
	CHECK(strcmp(cli_key(rdata, rlen, "AuthMethod"), "None") == 0);
	/* back to the security stage is an error */
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_SEC_OP, "", rsp, NULL, NULL),
		     0x0200);
	cli_destroy(&c);
}

static void chap_response(uint8_t id, const char *secret, const uint8_t *ch,
			  size_t chl, char *hex)
{
	struct md5_ctx ctx;
	uint8_t d[16];

	md5_init(&ctx);
	md5_update(&ctx, 1, &id);
	md5_update(&ctx, strlen(secret), (const uint8_t *)secret);
	md5_update(&ctx, chl, ch);
	md5_digest(&ctx, 16, d);
	strcpy(hex, "0x");
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 + 2 * i, "%02x", d[i]);
}

static int hexval(char ch)
{
	return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

/* Runs a CHAP login; returns the final status. */
static bool short_chal; /* chap_login sends a 15-byte mutual challenge */

static int chap_login(const struct iscsi_config *ic, const char *secret,
		      bool mutual, const char *mutual_secret)
{
	struct cli c;
	char keys[1024], r[40];
	uint8_t ch[64];
	size_t chl = 0;
	uint64_t id;
	const char *v;
	int st;

	cli_create(&c, ic);
	st = cli_login_pdu(&c, LOGIN_SEC_OP,
			   "InitiatorName=iqn.x\nSessionType=Normal\n"
			   "TargetName=iqn.t:one\nAuthMethod=CHAP,None\n",
			   rsp, &rdata, &rlen);
	if (st)
		goto out;
	CHECK(!(rsp[1] & ISCSI_FLAG_LOGIN_T));
	CHECK(strcmp(cli_key(rdata, rlen, "AuthMethod"), "CHAP") == 0);
	st = cli_login_pdu(&c, LOGIN_SEC_OP, "CHAP_A=7,5\n", rsp, &rdata,
			   &rlen);
	if (st)
		goto out;
	CHECK(strcmp(cli_key(rdata, rlen, "CHAP_A"), "5") == 0);
	id = strtoull(cli_key(rdata, rlen, "CHAP_I"), NULL, 10);
	v = cli_key(rdata, rlen, "CHAP_C");
	CHECK(v && v[0] == '0' && v[1] == 'x');
	for (const char *p = v + 2; p[0] && p[1] && chl < sizeof(ch); p += 2)
		ch[chl++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	chap_response((uint8_t)id, secret, ch, chl, r);
	snprintf(keys, sizeof(keys), "CHAP_N=alice\nCHAP_R=%s\n%s", r,
		 !mutual ? ""
		 : short_chal
			 ? "CHAP_I=9\nCHAP_C=0x010203040506070809101112131415\n"
			 : "CHAP_I=9\nCHAP_C="
			   "0x01020304050607080910111213141516\n");
	st = cli_login_pdu(&c, LOGIN_SEC_OP, keys, rsp, &rdata, &rlen);
	if (st)
		goto out;
	CHECK(rsp[1] & ISCSI_FLAG_LOGIN_T);
	if (mutual) {
		static const uint8_t mc[] = { 1,    2,	  3,	4,
					      5,    6,	  7,	8,
					      9,    0x10, 0x11, 0x12,
					      0x13, 0x14, 0x15, 0x16 };

		chap_response(9, mutual_secret, mc, sizeof(mc), r);
		CHECK(strcmp(cli_key(rdata, rlen, "CHAP_N"), "target") == 0);
		CHECK(strcmp(cli_key(rdata, rlen, "CHAP_R"), r) == 0);
	}
	st = cli_login_pdu(&c, LOGIN_OP_FFP, "", rsp, NULL, NULL);
out:
	cli_destroy(&c);
	return st;
}

static void test_chap(void)
{
	static const struct iscsi_lun_cfg luns[] = { { 0, "disk0", false, 0 } };
	static const char *const inis[] = { "iqn.x" };
	struct iscsi_target_cfg t = {
		.name = "iqn.t:one",
		.n_luns = 1,
		.luns = luns,
		.chap = { "alice", "secretsecret" },
		.mutual = { "target", "mutualsecret" },
		.n_initiators = 1,
		.initiators = inis,
	};
	struct iscsi_config ic = { .n_targets = 1, .targets = &t };
	struct cli c;

	fx_setup(1);
	CHECK_EQ_INT(chap_login(&ic, "secretsecret", false, NULL), 0);
	CHECK_EQ_INT(chap_login(&ic, "wrong", false, NULL), 0x0201);
	CHECK_EQ_INT(chap_login(&ic, "secretsecret", true, "mutualsecret"), 0);
	/* a 15-byte mutual challenge is not answered */
	short_chal = true;
	CHECK_EQ_INT(chap_login(&ic, "secretsecret", true, "mutualsecret"),
		     0x0201);
	short_chal = false;
	/* mutual asked but the target has no identity for it */
	t.mutual.user = NULL;
	CHECK_EQ_INT(chap_login(&ic, "secretsecret", true, "x"), 0x0201);
	/* skipping security with CHAP required */
	cli_create(&c, &ic);
	CHECK_EQ_INT(
		cli_login_pdu(&c, LOGIN_OP_FFP,
			      "InitiatorName=iqn.x\nTargetName=iqn.t:one\n",
			      rsp, NULL, NULL),
		0x0201);
	cli_destroy(&c);
	/* offering only None */
	cli_create(&c, &ic);
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_SEC_OP,
				   "InitiatorName=iqn.x\nTargetName=iqn.t:one\n"
				   "AuthMethod=None\n",
				   rsp, NULL, NULL),
		     0x0201);
	cli_destroy(&c);
	/* ACL */
	t.chap.user = NULL;
	cli_create(&c, &ic);
	CHECK_EQ_INT(cli_login_pdu(&c, LOGIN_OP_FFP,
				   "InitiatorName=iqn.other\n"
				   "TargetName=iqn.t:one\n",
				   rsp, NULL, NULL),
		     0x0202);
	cli_destroy(&c);
}

/* Normal session with given extra keys; leaves the login response read. */
static void normal_login(struct cli *c, const char *extra)
{
	fx_setup(1);
	CHECK_EQ_INT(cli_create(c, NULL), 0);
	CHECK_EQ_INT(cli_login(c, TGT, extra), 0);
}

static void test_read_data_in_segments(void)
{
	struct cli c;
	uint8_t cdb[16];
	uint32_t off = 0, datasn = 0;
	bool s = false;

	for (int i = 0; i < 2048; i++)
		fs.disk[4096 + i] = (uint8_t)(i * 7);
	normal_login(&c, "MaxRecvDataSegmentLength=512\n");
	cdb_rw10(cdb, 0x28, 8, 4);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 2048, NULL, 0, false);
	while (cli_recv(&c, rsp, &rdata, &rlen)) {
		CHECK_EQ_INT(rsp[0], ISCSI_OP_DATA_IN);
		CHECK_EQ_INT(rlen, 512);
		CHECK_EQ_INT(base_be32_get(rsp + 36), datasn++);
		CHECK_EQ_INT(base_be32_get(rsp + 40), off);
		CHECK(memcmp(rdata, fs.disk + 4096 + off, rlen) == 0);
		off += rlen;
		if (rsp[1] & ISCSI_FLAG_DATA_S) {
			s = true;
			CHECK_EQ_INT(rsp[3], 0);
			CHECK(rsp[1] & ISCSI_FLAG_F);
			break;
		}
	}
	CHECK(s);
	CHECK_EQ_INT(off, 2048);
	/* underflow: expected 4096, got 2048 */
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 4096, NULL, 0, false);
	for (int i = 0; i < 4; i++)
		CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK(rsp[1] & ISCSI_FLAG_DATA_S);
	CHECK(rsp[1] & ISCSI_FLAG_DATA_U);
	CHECK_EQ_INT(base_be32_get(rsp + 44), 2048);
	/* overflow: expected 1000 of 2048 */
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 1000, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rlen, 1000 - 512);
	CHECK(rsp[1] & ISCSI_FLAG_DATA_O);
	CHECK_EQ_INT(base_be32_get(rsp + 44), 1048);
	/* an error: SCSI Response with sense */
	cdb_rw10(cdb, 0x28, 1u << 30, 1);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 512, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	CHECK_EQ_INT(rsp[3], SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ_INT(rlen, 20);
	CHECK_EQ_INT(base_be16_get(rdata), 18);
	CHECK_EQ_INT(rdata[2 + 2], 0x05);
	cli_destroy(&c);
}

static void test_write_immediate_unsolicited_r2t(void)
{
	struct cli c;
	static uint8_t buf[8192];
	uint8_t cdb[16], bhs[ISCSI_BHS_BYTES];
	uint32_t ttt, off, len;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	normal_login(&c, "InitialR2T=No\nImmediateData=Yes\n"
			 "FirstBurstLength=2048\nMaxBurstLength=2048\n");
	/* immediate only, all of it */
	cdb_rw10(cdb, 0x2a, 0, 2);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_W, cdb, 1024, buf, 1024,
		false);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	CHECK_EQ_INT(rsp[3], 0);
	CHECK(memcmp(fs.disk, buf, 1024) == 0);

	/* 8 KiB: 1 KiB immediate, 1 KiB unsolicited, then R2Ts of 2 KiB */
	cdb_rw10(cdb, 0x2a, 16, 16);
	cli_cmd(&c, ISCSI_FLAG_CMD_W, cdb, 8192, buf, 1024, false);
	CHECK(!cli_recv(&c, rsp, NULL, NULL));
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_DATA_OUT;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, c.itt);
	base_be32_put(bhs + 20, ISCSI_RSVD_TAG);
	base_be32_put(bhs + 36, 0);
	base_be32_put(bhs + 40, 1024);
	cli_send(&c, bhs, buf + 1024, 1024);
	for (int r = 0; r < 3; r++) {
		CHECK(cli_recv(&c, rsp, NULL, NULL));
		CHECK_EQ_INT(rsp[0], ISCSI_OP_R2T);
		CHECK_EQ_INT(base_be32_get(rsp + 36), r); /* R2TSN */
		ttt = base_be32_get(rsp + 20);
		off = base_be32_get(rsp + 40);
		len = base_be32_get(rsp + 44);
		CHECK_EQ_INT(off, 2048 + 2048 * r);
		CHECK_EQ_INT(len, 2048);
		/* answer each R2T in two PDUs */
		for (int k = 0; k < 2; k++) {
			memset(bhs, 0, sizeof(bhs));
			bhs[0] = ISCSI_OP_DATA_OUT;
			bhs[1] = k ? ISCSI_FLAG_F : 0;
			base_be32_put(bhs + 16, c.itt);
			base_be32_put(bhs + 20, ttt);
			base_be32_put(bhs + 36, k);
			base_be32_put(bhs + 40, off + 1024 * k);
			cli_send(&c, bhs, buf + off + 1024 * k, 1024);
		}
	}
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	CHECK_EQ_INT(rsp[3], 0);
	CHECK_EQ_INT(base_be32_get(rsp + 36), 3); /* ExpDataSN = R2Ts */
	CHECK(memcmp(fs.disk + 16 * 512, buf, 8192) == 0);

	/* a Data-Out with the wrong DataSN ends the task */
	cdb_rw10(cdb, 0x2a, 40, 4);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_W, cdb, 2048, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_R2T);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_DATA_OUT;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, c.itt);
	memcpy(bhs + 20, rsp + 20, 4);
	base_be32_put(bhs + 36, 5);
	cli_send(&c, bhs, buf, 2048);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	CHECK_EQ_INT(rsp[3], SCSI_STATUS_CHECK_CONDITION);

	/* immediate data beyond FirstBurstLength is a protocol error */
	cdb_rw10(cdb, 0x2a, 0, 8);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_W, cdb, 4096, buf, 4096,
		false);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
	CHECK_EQ_INT(rsp[2], ISCSI_REJECT_PROTOCOL);
	cli_destroy(&c);
}

static void test_digests(void)
{
	struct cli c;
	uint8_t cdb[16], bhs[ISCSI_BHS_BYTES] = { 0 };
	static uint8_t buf[1024];

	normal_login(&c, "HeaderDigest=CRC32C\nDataDigest=CRC32C\n");
	c.hd = c.dd = true;
	memset(buf, 0x5a, sizeof(buf));
	cdb_rw10(cdb, 0x2a, 100, 2);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_W, cdb, 1024, buf, 1024,
		false);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	cdb_rw10(cdb, 0x28, 100, 2);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 1024, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_DATA_IN);
	CHECK(rlen == 1024 && memcmp(rdata, buf, 1024) == 0);
	/* a bad data digest on immediate data: Reject */
	c.dd = false;
	cdb_rw10(cdb, 0x2a, 100, 1);
	{
		static uint8_t raw[ISCSI_BHS_BYTES + 4 + 512 + 4];

		bhs[0] = ISCSI_OP_SCSI_CMD;
		bhs[1] = ISCSI_FLAG_F | ISCSI_FLAG_CMD_W;
		base_be24_put(bhs + 5, 512);
		base_be32_put(bhs + 16, 0x999);
		base_be32_put(bhs + 20, 512);
		base_be32_put(bhs + 24, c.cmdsn++);
		memcpy(bhs + 32, cdb, 16);
		memcpy(raw, bhs, 48);
		iscsi_crc32c_put(raw + 48, iscsi_crc32c(bhs, 48));
		memset(raw + 52, 1, 512);
		iscsi_crc32c_put(raw + 52 + 512, 0x12345678);
		CHECK(remote_engine_feed(iscsi_proto_engine(c.p), raw,
					 sizeof(raw)) > 0);
		c.dd = true;
		CHECK(cli_recv(&c, rsp, NULL, NULL));
		CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
		CHECK_EQ_INT(rsp[2], ISCSI_REJECT_DATA_DIGEST);
		/* a bad header digest: disconnect */
		iscsi_crc32c_put(raw + 48, 0x12345678);
		CHECK(remote_engine_feed(iscsi_proto_engine(c.p), raw,
					 sizeof(raw)) < 0);
	}
	cli_destroy(&c);
}

static void test_nop_and_liveness(void)
{
	static const struct iscsi_config ic = { .nop_interval_s = 2,
						.nop_timeout_s = 3 };
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };

	fx_setup(1);
	cli_create(&c, &ic);
	CHECK_EQ_INT(cli_login(&c, TGT, NULL), 0);
	bhs[0] = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, 0x42);
	base_be32_put(bhs + 20, ISCSI_RSVD_TAG);
	base_be32_put(bhs + 24, c.cmdsn);
	cli_send(&c, bhs, "ping", 4);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_NOP_IN);
	CHECK_EQ_INT(base_be32_get(rsp + 16), 0x42);
	CHECK(rlen == 4 && memcmp(rdata, "ping", 4) == 0);
	/* silence: a ping after the interval, answered */
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 1000), 0);
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 2500), 0);
	CHECK(!cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 3100), 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_NOP_IN);
	CHECK_EQ_INT(base_be32_get(rsp + 16), ISCSI_RSVD_TAG);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, ISCSI_RSVD_TAG);
	memcpy(bhs + 20, rsp + 20, 4);
	cli_send(&c, bhs, NULL, 0);
	CHECK(!cli_recv(&c, rsp, NULL, NULL)); /* no answer to an answer */
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 4000), 0);
	/* then silence again: ping, then drop */
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 6100), 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 8000), 0);
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 9200), -ETIMEDOUT);
	cli_destroy(&c);

	/* a login that stalls */
	cli_create(&c, &ic);
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 1000), 0);
	CHECK_EQ_INT(iscsi_proto_tick(c.p, 7000), -ETIMEDOUT);
	cli_destroy(&c);
}

static void test_tmf(void)
{
	struct cli c;
	uint8_t cdb[16], bhs[ISCSI_BHS_BYTES];
	uint32_t itt, sn;

	normal_login(&c, NULL);
	fs.hold = true;
	cdb_rw10(cdb, 0x28, 0, 1);
	sn = c.cmdsn;
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 512, NULL, 0, false);
	itt = c.itt;
	CHECK_EQ_INT(remote_engine_inflight(iscsi_proto_engine(c.p)), 1);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_F | ISCSI_TMF_ABORT_TASK;
	base_be32_put(bhs + 16, 0x777);
	base_be32_put(bhs + 20, itt);
	base_be32_put(bhs + 24, c.cmdsn);
	base_be32_put(bhs + 32, sn);
	cli_send(&c, bhs, NULL, 0);
	/* waits for the running command */
	CHECK(!cli_recv(&c, rsp, NULL, NULL));
	fs_complete();
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TMF_RSP);
	CHECK_EQ_INT(rsp[2], ISCSI_TMF_RSP_COMPLETE);
	CHECK(!cli_recv(&c, rsp, NULL, NULL)); /* no response to the read */
	/* the same task again: it does not exist any more */
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[2], ISCSI_TMF_RSP_NO_TASK);
	/* LUN RESET goes to the command set */
	fs.hold = false;
	bhs[1] = ISCSI_FLAG_F | ISCSI_TMF_LUN_RESET;
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[2], ISCSI_TMF_RSP_COMPLETE);
	CHECK_EQ_INT(fs.last_tmf, SCSI_TMF_LUN_RESET);
	bhs[9] = 5; /* LUN 5 */
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[2], ISCSI_TMF_RSP_NO_LUN);
	/* a LUN RESET the command set finishes later (other gateways to
	 * tell) is answered then, and holds the session meanwhile */
	bhs[9] = 0;
	fs.tmf_later = true;
	cli_send(&c, bhs, NULL, 0);
	CHECK(!cli_recv(&c, rsp, NULL, NULL));
	CHECK(fs.tmf_done != NULL);
	CHECK_EQ_INT(remote_engine_inflight(iscsi_proto_engine(c.p)), 1);
	fs.tmf_later = false;
	fs.tmf_done(fs.tmf_arg, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TMF_RSP);
	CHECK_EQ_INT(rsp[2], ISCSI_TMF_RSP_COMPLETE);
	CHECK_EQ_INT(remote_engine_inflight(iscsi_proto_engine(c.p)), 0);
	/* a write waiting for data is dropped at once */
	cdb_rw10(cdb, 0x2a, 0, 4);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_W, cdb, 2048, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_R2T);
	bhs[9] = 0;
	bhs[1] = ISCSI_FLAG_F | ISCSI_TMF_ABORT_TASK_SET;
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TMF_RSP);
	CHECK_EQ_INT(rsp[2], ISCSI_TMF_RSP_COMPLETE);
	/* aborted while its R2T is still queued: the task outlives it */
	{
		static uint8_t raw[2 * ISCSI_BHS_BYTES];
		uint8_t cmd[ISCSI_BHS_BYTES] = { 0 };

		cmd[0] = ISCSI_OP_SCSI_CMD;
		cmd[1] = ISCSI_FLAG_F | ISCSI_FLAG_CMD_W;
		base_be32_put(cmd + 16, 0x4444);
		base_be32_put(cmd + 20, 4096);
		base_be32_put(cmd + 24, c.cmdsn++);
		memcpy(cmd + 32, cdb, 16);
		memcpy(raw, cmd, ISCSI_BHS_BYTES);
		base_be32_put(bhs + 24, c.cmdsn);
		memcpy(raw + ISCSI_BHS_BYTES, bhs, ISCSI_BHS_BYTES);
		CHECK_EQ_INT(remote_engine_feed(iscsi_proto_engine(c.p), raw,
						sizeof(raw)),
			     (long)sizeof(raw));
		CHECK(cli_recv(&c, rsp, NULL, NULL));
		CHECK_EQ_INT(rsp[0], ISCSI_OP_R2T);
		CHECK(cli_recv(&c, rsp, NULL, NULL));
		CHECK_EQ_INT(rsp[0], ISCSI_OP_TMF_RSP);
		/* its Data-Out is dropped quietly */
		memset(cmd, 0, sizeof(cmd));
		cmd[0] = ISCSI_OP_DATA_OUT;
		cmd[1] = ISCSI_FLAG_F;
		base_be32_put(cmd + 16, 0x4444);
		base_be32_put(cmd + 20, 1);
		cli_send(&c, cmd, raw, 64);
		CHECK(!cli_recv(&c, rsp, NULL, NULL));
	}
	/* TARGET COLD RESET ends the connection after its response */
	bhs[1] = ISCSI_FLAG_F | ISCSI_TMF_TARGET_COLD_RESET;
	base_be32_put(bhs + 24, c.cmdsn);
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_TMF_RSP);
	CHECK_EQ_INT(fs.last_tmf, SCSI_TMF_TARGET_COLD_RESET);
	CHECK(remote_engine_finished(iscsi_proto_engine(c.p)));
	cli_destroy(&c);
}

static void test_logout_and_rejects(void)
{
	struct cli c;
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 }, cdb[16];

	normal_login(&c, NULL);
	bhs[0] = 0x1c; /* no such opcode */
	bhs[1] = ISCSI_FLAG_F;
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
	CHECK_EQ_INT(rsp[2], ISCSI_REJECT_NOT_SUPPORTED);
	CHECK_EQ_INT(rlen, 48);
	CHECK_EQ_INT(rdata[0], 0x1c);
	bhs[0] = ISCSI_OP_SNACK;
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
	bhs[0] = ISCSI_OP_LOGIN_REQ;
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_REJECT);
	/* CmdSN beyond the window: ignored */
	cdb_rw10(cdb, 0x00, 0, 0);
	c.cmdsn += 100000;
	cli_cmd(&c, ISCSI_FLAG_F, cdb, 0, NULL, 0, false);
	CHECK(!cli_recv(&c, rsp, NULL, NULL));
	c.cmdsn -= 100001;
	cli_cmd(&c, ISCSI_FLAG_F, cdb, 0, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	CHECK_EQ_INT(base_be32_get(rsp + 28), c.cmdsn); /* ExpCmdSN */
	CHECK(base_be32_get(rsp + 32) >= c.cmdsn);	/* MaxCmdSN */
	/* logout for recovery is not supported at level 0 */
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_LOGOUT | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_F | ISCSI_LOGOUT_RECOVERY;
	base_be32_put(bhs + 16, 0x55);
	base_be32_put(bhs + 24, c.cmdsn);
	cli_send(&c, bhs, NULL, 0);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_LOGOUT_RSP);
	CHECK_EQ_INT(rsp[2], ISCSI_LOGOUT_RSP_NO_RECOVERY);
	/* close the session: waits for the running command */
	fs.hold = true;
	cli_cmd(&c, ISCSI_FLAG_F, cdb, 0, NULL, 0, false);
	bhs[1] = ISCSI_FLAG_F | ISCSI_LOGOUT_SESSION;
	base_be32_put(bhs + 24, c.cmdsn);
	cli_send(&c, bhs, NULL, 0);
	CHECK(!cli_recv(&c, rsp, NULL, NULL));
	fs.hold = false;
	fs_complete();
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_SCSI_RSP);
	CHECK(cli_recv(&c, rsp, NULL, NULL));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_LOGOUT_RSP);
	CHECK_EQ_INT(rsp[2], ISCSI_LOGOUT_RSP_OK);
	CHECK(remote_engine_finished(iscsi_proto_engine(c.p)));
	cli_destroy(&c);
}

static void test_inquiry_and_bad_lun(void)
{
	struct cli c;
	uint8_t cdb[16] = { 0x12, 0, 0, 0, 255 };

	normal_login(&c, NULL);
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 255, NULL, 0, false);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_DATA_IN);
	CHECK_EQ_INT(rlen, 36);
	CHECK(rsp[1] & ISCSI_FLAG_DATA_U);
	CHECK_EQ_INT(base_be32_get(rsp + 44), 255 - 36);
	/* an immediate command */
	cli_cmd(&c, ISCSI_FLAG_F | ISCSI_FLAG_CMD_R, cdb, 36, NULL, 0, true);
	CHECK(cli_recv(&c, rsp, &rdata, &rlen));
	CHECK_EQ_INT(rsp[0], ISCSI_OP_DATA_IN);
	cli_destroy(&c);
}

static void test_configured_target_luns(void)
{
	static const struct iscsi_lun_cfg luns[] = {
		{ 0, "disk0", false, 0 },
		{ 3, "missing", false, 0 },
		{ 7, "a-rather-long-export-name-1", true, 4096 },
	};
	static const struct iscsi_target_cfg t = {
		.name = "iqn.t:multi",
		.alias = "three LUNs",
		.n_luns = 3,
		.luns = luns,
	};
	static const struct iscsi_config ic = { .n_targets = 1, .targets = &t };
	struct cli c;

	fx_setup(2);
	cli_create(&c, &ic);
	CHECK_EQ_INT(
		cli_login_pdu(&c, LOGIN_OP_FFP,
			      "InitiatorName=iqn.x\nTargetName=IQN.T:Multi\n",
			      rsp, &rdata, &rlen),
		0);
	CHECK(strcmp(cli_key(rdata, rlen, "TargetAlias"), "three LUNs") == 0);
	CHECK(strcmp(fs.last_target.name, "iqn.t:multi") == 0);
	CHECK_EQ_INT(fs.last_target.tpg, 1);
	CHECK_EQ_INT(fs.last_target.n_luns, 2); /* "missing" left out */
	CHECK_EQ_INT(fs.last_luns[0].lun, 0);
	CHECK(fs.last_luns[0].export == &fx_exports[0]);
	CHECK_EQ_INT(fs.last_luns[1].lun, 7);
	CHECK(fs.last_luns[1].read_only);
	CHECK_EQ_INT(fs.last_luns[1].block_size, 4096);
	CHECK(strcmp(fs.last_initiator, "iqn.x,i,0x800000000001") == 0);
	cli_destroy(&c);
	/* the per-export targets are not offered beside configured ones */
	cli_create(&c, &ic);
	CHECK_EQ_INT(cli_login(&c, TGT, NULL), 0x0203);
	cli_destroy(&c);
	fx_setup(1);
}

int main(void)
{
	base_log_set_level(BASE_LOG_WARN);
	TEST_CASE(test_crc32c);
	TEST_CASE(test_login_discovery_sendtargets);
	TEST_CASE(test_sendtargets_multi_pdu);
	TEST_CASE(test_text_continuation);
	TEST_CASE(test_login_status_classes);
	TEST_CASE(test_login_version_and_tsih);
	TEST_CASE(test_bad_input_before_login);
	TEST_CASE(test_negotiation);
	TEST_CASE(test_login_stages_and_continuation);
	TEST_CASE(test_chap);
	TEST_CASE(test_read_data_in_segments);
	TEST_CASE(test_write_immediate_unsolicited_r2t);
	TEST_CASE(test_digests);
	TEST_CASE(test_nop_and_liveness);
	TEST_CASE(test_tmf);
	TEST_CASE(test_logout_and_rejects);
	TEST_CASE(test_inquiry_and_bad_lun);
	TEST_CASE(test_configured_target_luns);
	return test_done();
}
