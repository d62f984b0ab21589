// SPDX-License-Identifier: MIT
/*
 * The thread rules of include/iopd/ddm.h, as the Local Transport and the
 * IOP keep them: a device opened on a thread other than main (the
 * management thread's live "export add"), used by a session opened on a
 * worker, let go of by its IOP on main, and closed on the worker whose
 * session held the last reference.  A probe DDM records which thread ran
 * open, sync and close and in which order; the file DDM shows nothing is
 * left open.  Run under ASan (make SAN=1) for the leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "local/local_priv.h"
#include "test.h"

enum probe_call { PROBE_OPEN, PROBE_SYNC, PROBE_CLOSE, PROBE_CALLS };

/* Which thread this is: "main", "mgmt", "worker" (thread ids are reused
 * once a thread is joined, so they cannot tell the threads apart). */
static __thread const char *role = "main";

static struct probe_log {
	const char *thread[PROBE_CALLS]; /* its role */
	int seq[PROBE_CALLS]; /* 1, 2, ... in call order; 0: not called */
	int count[PROBE_CALLS];
	int next_seq;
	int sync_result;
} probe;

static void probe_note(enum probe_call call)
{
	probe.thread[call] = role;
	probe.seq[call] = ++probe.next_seq;
	probe.count[call]++;
}

static int probe_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	probe_note(PROBE_OPEN);
	dev->size_bytes = 1 << 20;
	dev->caps = DDM_CAP_FLUSH;
	dev->read_only = args->read_only;
	/* What open acquires and close must release: ASan sees a leak. */
	*(void **)dev->priv = malloc(64);
	return 0;
}

static int probe_sync(struct ddm_dev *dev)
{
	probe_note(PROBE_SYNC);
	return probe.sync_result;
}

static void probe_close(struct ddm_dev *dev)
{
	probe_note(PROBE_CLOSE);
	free(*(void **)dev->priv);
}

static void probe_submit(struct ddm_req *req)
{
	ddm_req_complete(req, 0);
}

static const struct ddm_ops probe_ops = {
	.name = "probe",
	.dev_priv_size = sizeof(void *),
	.open = probe_open,
	.close = probe_close,
	.sync = probe_sync,
	.submit = probe_submit,
};

/* The work handed to a helper thread standing in for another one. */
struct job {
	const struct ddm_ops *ops;
	const char *path; /* file DDM only */
	bool read_only;
	struct local_iop_ctx *ctx;
	struct iop_session *session;
	int ret;
	const char *closer; /* the role of the thread that closed */
};

/* The management thread's "export add": a new IOP and its device. */
static void *mgmt_add(void *arg)
{
	struct job *j = arg;
	struct ddm_open_args args = { .path = j->path,
				      .read_only = j->read_only,
				      .direct = 0 };
	unsigned int index;

	role = "mgmt";
	j->ret = iop_create("threads", j->ops, &j->ctx->iop);
	if (j->ret == 0)
		j->ret = iop_dev_add(j->ctx->iop, "dev0", &args, &index);
	return NULL;
}

static void *worker_open(void *arg)
{
	struct job *j = arg;

	role = "worker";
	j->ret = local_desc_ops.session_open(
		&(struct iop_desc){ .ops = &local_desc_ops, .ctx = j->ctx }, 0,
		false, &j->session);
	return NULL;
}

static void *worker_close(void *arg)
{
	struct job *j = arg;

	role = "worker";
	local_desc_ops.session_close(j->session);
	j->closer = role;
	return NULL;
}

static void on_thread(void *(*fn)(void *), struct job *j)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, fn, j) == 0);
	CHECK(pthread_join(t, NULL) == 0);
}

/*
 * Open on "mgmt", session on a worker, the IOP lets go on main, the
 * worker's session_close drops the last reference.
 */
static void open_use_close(struct job *j)
{
	on_thread(mgmt_add, j);
	CHECK_EQ_INT(j->ret, 0);
	if (j->ret < 0)
		return;
	on_thread(worker_open, j);
	CHECK_EQ_INT(j->ret, 0);
	if (j->ret < 0) {
		iop_destroy(j->ctx->iop);
		return;
	}
	/* The session still holds the device: nothing closes yet. */
	CHECK_EQ_INT(iop_destroy(j->ctx->iop), 0);
	CHECK_EQ_INT(probe.count[PROBE_CLOSE], 0);
	on_thread(worker_close, j);
}

static void test_open_mgmt_close_worker(void)
{
	struct local_iop_ctx ctx = { .max_request_bytes = 1 << 20 };
	struct job j = { .ops = &probe_ops, .ctx = &ctx };

	memset(&probe, 0, sizeof(probe));
	on_thread(mgmt_add, &j);
	CHECK_EQ_INT(j.ret, 0);
	CHECK_EQ_INT(probe.count[PROBE_OPEN], 1);
	CHECK(!strcmp(probe.thread[PROBE_OPEN], "mgmt"));
	on_thread(worker_open, &j);
	CHECK_EQ_INT(j.ret, 0);
	CHECK_EQ_INT(iop_destroy(ctx.iop), 0);
	CHECK_EQ_INT(probe.count[PROBE_SYNC], 0);
	CHECK_EQ_INT(probe.count[PROBE_CLOSE], 0);
	on_thread(worker_close, &j);
	/* A writable device: synced, then closed, once, on the worker. */
	CHECK_EQ_INT(probe.count[PROBE_SYNC], 1);
	CHECK_EQ_INT(probe.count[PROBE_CLOSE], 1);
	CHECK(probe.seq[PROBE_SYNC] < probe.seq[PROBE_CLOSE]);
	CHECK(!strcmp(probe.thread[PROBE_SYNC], "worker"));
	CHECK(!strcmp(probe.thread[PROBE_CLOSE], "worker"));
}

static void test_read_only_closes_without_sync(void)
{
	struct local_iop_ctx ctx = { .max_request_bytes = 1 << 20 };
	struct job j = { .ops = &probe_ops, .ctx = &ctx, .read_only = true };

	memset(&probe, 0, sizeof(probe));
	open_use_close(&j);
	CHECK_EQ_INT(probe.count[PROBE_SYNC], 0);
	CHECK_EQ_INT(probe.count[PROBE_CLOSE], 1);
	CHECK(!strcmp(probe.thread[PROBE_CLOSE], "worker"));
}

/* A final flush that fails on the worker is counted, and the device is
 * closed all the same. */
static void test_failed_sync_on_worker(void)
{
	struct local_iop_ctx ctx = { .max_request_bytes = 1 << 20 };
	struct job j = { .ops = &probe_ops, .ctx = &ctx };
	unsigned long failures = local_close_failures();

	memset(&probe, 0, sizeof(probe));
	probe.sync_result = -EIO;
	open_use_close(&j);
	CHECK_EQ_INT(probe.count[PROBE_SYNC], 1);
	CHECK_EQ_INT(probe.count[PROBE_CLOSE], 1);
	CHECK(probe.seq[PROBE_SYNC] < probe.seq[PROBE_CLOSE]);
	CHECK_EQ_INT(local_close_failures(), failures + 1);
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A real DDM: the file's descriptor is gone once the worker closed. */
static void test_file_closed_on_worker(void)
{
	char path[] = "/tmp/iopd-threads-XXXXXX";
	struct local_iop_ctx ctx = { .max_request_bytes = 1 << 20 };
	struct job j = { .ops = &ddm_file_ops, .ctx = &ctx, .path = path };
	int fd = mkstemp(path), before;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(ftruncate(fd, 1 << 20), 0);
	close(fd);
	before = fd_count();
	memset(&probe, 0, sizeof(probe));
	open_use_close(&j);
	CHECK_EQ_INT(fd_count(), before);
	CHECK_EQ_INT(local_close_failures(), 1); /* the earlier test's */
	unlink(path);
}

int main(void)
{
	/* test 3's failing flush is logged as an error on purpose */
	base_log_set_level(BASE_LOG_ERROR);
	TEST_CASE(test_open_mgmt_close_worker);
	TEST_CASE(test_read_only_closes_without_sync);
	TEST_CASE(test_failed_sync_on_worker);
	TEST_CASE(test_file_closed_on_worker);
	return test_done();
}
