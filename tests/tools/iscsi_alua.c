/* SPDX-License-Identifier: MIT */
/*
 * iscsi_alua: an iSCSI initiator for tests/integration/test_alua.sh that
 * shows what no Debian command line tool shows for a target reached
 * over the network (sg_rtpg needs a kernel device): the ALUA picture.
 *
 *   iscsi_alua URL [COMMAND...]
 *
 * URL is iscsi://HOST:PORT/IQN/LUN.  It logs in once (and sends no
 * command of its own: the first one sees POWER ON/RESET), then runs each
 * COMMAND (or, without any, each line read from stdin, so a test can
 * hold the session across an operator's change) and prints one line
 * for each:
 *   tpgs      the TPGS field of the standard INQUIRY: "tpgs N"
 *   devid     VPD 0x83: "relport N group N"
 *   rtpg      REPORT TARGET PORT GROUPS, length-only header
 *   rtpg-ext  the same with the extended header
 *             "rtpg SUP G:STATE:PREF:STATUS:PORT[,PORT] ..." (SUP: the
 *             supported-states byte of the first descriptor, in hex;
 *             "-ext" adds "hdr=FORMAT/TIME" first)
 *   stpg:S:G[,S:G...]
 *             SET TARGET PORT GROUPS: group G to state S (hex code, as
 *             rtpg prints it), for each pair; "stpg:" sends an empty
 *             list, "stpg-cut:S:G" one cut short (6 bytes)
 *   rsoc-stpg REPORT SUPPORTED OPERATION CODES for SET TARGET PORT
 *             GROUPS: "rsoc N" (SUPPORT: 1 no, 3 yes)
 *   tur, read, write, luns, modesense
 *             TEST UNIT READY, READ(10) and WRITE(10) of block 0,
 *             REPORT LUNS, MODE SENSE(6)
 * A command that ends GOOD prints its result (or "good"); CHECK
 * CONDITION prints "sense KEY ASCASCQ" in hex ("sense 2 040b"); other
 * status "status 0xNN".  Unit attentions are printed like any sense,
 * never consumed silently.  Exit status 0, or 1 if the login failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define INITIATOR "iqn.2026-11.org.iopd:alua-client"

static struct iscsi_context *iscsi;
static int lun;

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static unsigned int be16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* Prints the line for a task that did not end GOOD; true if it did. */
static int good(struct scsi_task *t)
{
	if (!t) {
		printf("error %s\n", iscsi_get_error(iscsi));
		return 0;
	}
	if (t->status == SCSI_STATUS_GOOD)
		return 1;
	if (t->status == SCSI_STATUS_CHECK_CONDITION)
		printf("sense %x %04x\n", t->sense.key, t->sense.ascq);
	else
		printf("status 0x%02x\n", t->status);
	scsi_free_scsi_task(t);
	return 0;
}

static void rtpg(int ext)
{
	unsigned char cdb[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x10, 0 };
	struct scsi_task *t;
	unsigned char *p;
	uint32_t len, off;

	if (ext)
		cdb[1] |= 0x20;
	t = scsi_create_task(12, cdb, SCSI_XFER_READ, 4096);
	if (!t) {
		printf("error no memory\n");
		return;
	}
	if (!good(iscsi_scsi_command_sync(iscsi, lun, t, NULL)))
		return;
	p = t->datain.data;
	len = t->datain.size >= 4 ? be32(p) + 4 : 0;
	if (len > (uint32_t)t->datain.size)
		len = (uint32_t)t->datain.size;
	off = ext ? 8 : 4;
	printf("rtpg");
	if (ext)
		printf(" hdr=%u/%u", p[4] >> 4, p[5]);
	printf(" %02x", len > off ? p[off + 1] : 0);
	while (off + 8 <= len) {
		unsigned int n = p[off + 7];

		printf(" %u:%x:%u:%u:", be16(p + off + 2), p[off] & 0x0f,
		       p[off] >> 7, p[off + 5]);
		for (unsigned int i = 0; i < n && off + 12 + 4 * i <= len; i++)
			printf("%s%u", i ? "," : "",
			       be16(p + off + 10 + 4 * i));
		off += 8 + 4 * n;
	}
	printf("\n");
	scsi_free_scsi_task(t);
}

/* SET TARGET PORT GROUPS (SPC-4 6.49) with the pairs in arg. */
static void stpg(const char *arg, int cut)
{
	unsigned char cdb[12] = { 0xa4, 0x0a };
	unsigned char param[4 + 4 * 32] = { 0 };
	unsigned int len = 4, state, group;
	struct scsi_task *t;
	struct iscsi_data d;
	int used;

	while (*arg && len + 4 <= sizeof(param) &&
	       sscanf(arg, "%x:%u%n", &state, &group, &used) == 2) {
		param[len] = (unsigned char)state;
		param[len + 2] = (unsigned char)(group >> 8);
		param[len + 3] = (unsigned char)group;
		len += 4;
		arg += used;
		if (*arg == ',')
			arg++;
	}
	if (len == 4)
		len = 0; /* an empty list: no parameter data at all */
	if (cut)
		len = 6;
	cdb[9] = (unsigned char)len;
	t = scsi_create_task(12, cdb, len ? SCSI_XFER_WRITE : SCSI_XFER_NONE,
			     len);
	if (!t) {
		printf("error no memory\n");
		return;
	}
	d.size = len;
	d.data = param;
	t = iscsi_scsi_command_sync(iscsi, lun, t, len ? &d : NULL);
	if (good(t)) {
		printf("good\n");
		scsi_free_scsi_task(t);
	}
}

static void rsoc_stpg(void)
{
	unsigned char cdb[12] = {
		0xa3, 0x0c, 0x02, 0xa4, 0, 0x0a, 0, 0, 0, 64
	};
	struct scsi_task *t = scsi_create_task(12, cdb, SCSI_XFER_READ, 64);

	if (!t) {
		printf("error no memory\n");
		return;
	}
	t = iscsi_scsi_command_sync(iscsi, lun, t, NULL);
	if (good(t)) {
		printf("rsoc %u\n",
		       t->datain.size > 1 ? t->datain.data[1] & 7 : 0);
		scsi_free_scsi_task(t);
	}
}

static void devid(void)
{
	struct scsi_task *t = iscsi_inquiry_sync(iscsi, lun, 1, 0x83, 1024);
	unsigned char *p;
	unsigned int rel = 0, grp = 0, len, off = 4;

	if (!good(t))
		return;
	p = t->datain.data;
	len = be16(p + 2) + 4;
	if (len > (unsigned int)t->datain.size)
		len = (unsigned int)t->datain.size;
	for (; off + 4 <= len; off += 4 + p[off + 3]) {
		unsigned int type = p[off + 1] & 0x0f;
		unsigned int assoc = (p[off + 1] >> 4) & 3;

		if (assoc == 1 && type == 4)
			rel = be16(p + off + 6);
		if (assoc == 1 && type == 5)
			grp = be16(p + off + 6);
	}
	printf("relport %u group %u\n", rel, grp);
	scsi_free_scsi_task(t);
}

static void run(const char *cmd)
{
	static unsigned char block[4096];
	struct scsi_task *t = NULL;

	if (!strcmp(cmd, "rtpg") || !strcmp(cmd, "rtpg-ext")) {
		rtpg(cmd[4] != 0);
		return;
	}
	if (!strncmp(cmd, "stpg:", 5) || !strncmp(cmd, "stpg-cut:", 9)) {
		stpg(strchr(cmd, ':') + 1, cmd[4] == '-');
		return;
	}
	if (!strcmp(cmd, "rsoc-stpg")) {
		rsoc_stpg();
		return;
	}
	if (!strcmp(cmd, "devid")) {
		devid();
		return;
	}
	if (!strcmp(cmd, "tpgs")) {
		t = iscsi_inquiry_sync(iscsi, lun, 0, 0, 96);
		if (good(t)) {
			printf("tpgs %u\n", (t->datain.data[5] >> 4) & 3);
			scsi_free_scsi_task(t);
		}
		return;
	}
	if (!strcmp(cmd, "tur"))
		t = iscsi_testunitready_sync(iscsi, lun);
	else if (!strcmp(cmd, "read"))
		t = iscsi_read10_sync(iscsi, lun, 0, 512, 512, 0, 0, 0, 0, 0);
	else if (!strcmp(cmd, "write"))
		t = iscsi_write10_sync(iscsi, lun, 0, block, 512, 512, 0, 0, 0,
				       0, 0);
	else if (!strcmp(cmd, "luns"))
		t = iscsi_reportluns_sync(iscsi, 0, 256);
	else if (!strcmp(cmd, "modesense"))
		t = iscsi_modesense6_sync(
			iscsi, lun, 1, SCSI_MODESENSE_PC_CURRENT,
			SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255);
	else {
		printf("unknown %s\n", cmd);
		return;
	}
	if (good(t)) {
		printf("good\n");
		scsi_free_scsi_task(t);
	}
}

int main(int argc, char **argv)
{
	struct iscsi_url *url;
	char line[256];

	if (argc < 2) {
		fprintf(stderr, "usage: iscsi_alua URL [COMMAND...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	iscsi = iscsi_create_context(INITIATOR);
	url = iscsi ? iscsi_parse_full_url(iscsi, argv[1]) : NULL;
	if (!url) {
		fprintf(stderr, "iscsi_alua: bad URL %s\n", argv[1]);
		return 1;
	}
	lun = url->lun;
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	/* Not iscsi_full_connect_sync: its TEST UNIT READY fails the login
	 * on a standby path. */
	if (iscsi_connect_sync(iscsi, url->portal) != 0 ||
	    iscsi_login_sync(iscsi) != 0) {
		fprintf(stderr, "iscsi_alua: login to %s failed: %s\n", argv[1],
			iscsi_get_error(iscsi));
		return 1;
	}
	printf("ready\n");
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			run(argv[i]);
	} else {
		while (fgets(line, sizeof(line), stdin)) {
			line[strcspn(line, "\r\n")] = 0;
			if (line[0])
				run(line);
		}
	}
	iscsi_logout_sync(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return 0;
}
