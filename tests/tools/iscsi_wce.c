/* SPDX-License-Identifier: MIT */
/*
 * iscsi_wce: an iSCSI initiator for tests/integration/test_durability.sh
 * doing what no Debian command line tool does: turn a LUN's write cache
 * off (MODE SELECT on the caching page, WCE=0), then write without FUA
 * and never send SYNCHRONIZE CACHE.  A target must then make every
 * acknowledged write durable by itself (SBC-3 4.15: with WCE=0 a write
 * completes only once its data is on the medium).
 *
 *   iscsi_wce [--keep-wce] [--hold] URL FILE:OFFSET...
 *
 * URL is iscsi://HOST:PORT/IQN/LUN.  Each FILE's whole contents are
 * written with WRITE(10) (no FUA, no DPO) at byte OFFSET (a multiple of
 * the LUN's block size).  Without --keep-wce the caching mode page is
 * read (MODE SENSE(10)), written back with WCE cleared (MODE SELECT(10))
 * and read again: WCE must now read 0.  --keep-wce leaves the cache as
 * it is: plain unflushed writes, a negative control.
 *
 * Prints "wce N" (the cache bit the writes ran under), "wrote LEN at
 * OFFSET" per acknowledged write, then "done".  With --hold it then waits
 * until killed with the session still logged in; without it, it exits at
 * once, without logging out.
 * Either way there is no SYNCHRONIZE CACHE.  Exit status 0 if every step
 * succeeded, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define INITIATOR "iqn.2026-11.org.iopd:durability-client"

static struct iscsi_context *iscsi;
static int lun;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "iscsi_wce: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (iscsi)
		fprintf(stderr, " (%s)", iscsi_get_error(iscsi));
	fputc('\n', stderr);
	exit(1);
}

/* A task that must have ended GOOD: returns it, or dies. */
static struct scsi_task *good(struct scsi_task *task, const char *what)
{
	if (!task)
		die("%s: no task", what);
	if (task->status != SCSI_STATUS_GOOD)
		die("%s: status 0x%x, sense key 0x%x, ascq 0x%04x", what,
		    task->status, task->sense.key, task->sense.ascq);
	return task;
}

/* The first command of a new nexus reports POWER ON/RESET (and a
 * MODE SELECT may raise MODE PARAMETERS CHANGED on other nexuses):
 * TEST UNIT READY until the unit attentions are consumed. */
static void settle(void)
{
	for (int i = 0; i < 8; i++) {
		struct scsi_task *t = iscsi_testunitready_sync(iscsi, lun);

		if (t && t->status == SCSI_STATUS_GOOD) {
			scsi_free_scsi_task(t);
			return;
		}
		if (t)
			scsi_free_scsi_task(t);
	}
	die("TEST UNIT READY keeps failing");
}

/* MODE SENSE(10) of the current caching page; the task owns *page. */
static struct scsi_task *caching_page(struct scsi_mode_page **page)
{
	struct scsi_task *t;
	struct scsi_mode_sense *ms;

	t = good(iscsi_modesense10_sync(iscsi, lun, 0, 1,
					SCSI_MODESENSE_PC_CURRENT,
					SCSI_MODEPAGE_CACHING, 0, 255),
		 "MODE SENSE(10) caching page");
	ms = scsi_datain_unmarshall(t);
	if (!ms)
		die("MODE SENSE(10): cannot parse the reply");
	*page = scsi_modesense_get_page(ms, SCSI_MODEPAGE_CACHING, 0);
	if (!*page)
		die("MODE SENSE(10): no caching page in the reply");
	return t;
}

static uint32_t block_size(void)
{
	struct scsi_task *t;
	struct scsi_readcapacity10 *rc;
	uint32_t bs;

	t = good(iscsi_readcapacity10_sync(iscsi, lun, 0, 0),
		 "READ CAPACITY(10)");
	rc = scsi_datain_unmarshall(t);
	if (!rc || !rc->block_size)
		die("READ CAPACITY(10): cannot parse the reply");
	bs = rc->block_size;
	scsi_free_scsi_task(t);
	return bs;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", path, strerror(errno));
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		die("out of memory");
	n = read(fd, buf, st.st_size);
	if (n != st.st_size)
		die("%s: short read", path);
	close(fd);
	*len = st.st_size;
	return buf;
}

int main(int argc, char **argv)
{
	struct iscsi_url *url;
	struct scsi_task *t;
	struct scsi_mode_page *page;
	int keep_wce = 0, hold = 0, wce, i = 1;
	uint32_t bs;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--keep-wce"))
			keep_wce = 1;
		else if (!strcmp(argv[i], "--hold"))
			hold = 1;
		else
			break;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: iscsi_wce [--keep-wce] [--hold] URL "
				"FILE:OFFSET...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	iscsi = iscsi_create_context(INITIATOR);
	if (!iscsi)
		die("cannot create an iSCSI context");
	url = iscsi_parse_full_url(iscsi, argv[i]);
	if (!url)
		die("bad URL %s", argv[i]);
	lun = url->lun;
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	if (iscsi_full_connect_sync(iscsi, url->portal, lun) != 0)
		die("login to %s failed", argv[i]);
	settle();
	bs = block_size();

	t = caching_page(&page);
	wce = page->caching.wce;
	if (!keep_wce && wce) {
		page->caching.wce = 0;
		page->ps = 0; /* reserved in MODE SELECT data */
		scsi_free_scsi_task(
			good(iscsi_modeselect10_sync(iscsi, lun, 1, 0, page),
			     "MODE SELECT(10) caching page, WCE=0"));
		scsi_free_scsi_task(t);
		settle();
		t = caching_page(&page);
		wce = page->caching.wce;
		if (wce)
			die("WCE still reads 1 after MODE SELECT");
	}
	scsi_free_scsi_task(t);
	printf("wce %d\n", wce);

	for (i++; i < argc; i++) {
		char *colon = strrchr(argv[i], ':');
		unsigned char *data;
		size_t len;
		uint64_t off;

		if (!colon)
			die("%s: expected FILE:OFFSET", argv[i]);
		*colon = '\0';
		off = strtoull(colon + 1, NULL, 0);
		data = slurp(argv[i], &len);
		if (off % bs || len % bs || !len || off / bs > UINT32_MAX)
			die("%s: %zu bytes at %" PRIu64
			    " do not suit %u-byte blocks",
			    argv[i], len, off, bs);
		scsi_free_scsi_task(good(
			iscsi_write10_sync(iscsi, lun, (uint32_t)(off / bs),
					   data, (uint32_t)len, (int)bs, 0, 0,
					   0, 0, 0),
			"WRITE(10)"));
		printf("wrote %zu at %" PRIu64 "\n", len, off);
		free(data);
	}
	printf("done\n");
	/* Keep the session: the power cut comes while logged in. */
	while (hold)
		pause();
	/* No SYNCHRONIZE CACHE, no logout: the process just ends. */
	_exit(0);
}
