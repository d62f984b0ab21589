// SPDX-License-Identifier: MIT
/*
 * The Connection Manager's connection services against a fake Remote
 * Transport (handed over with connmgr_listener_add_ops, as the registry
 * would): admitting clients from a listener, attaching each to a worker
 * round robin with the listener's transport_ctx, a conn_start that fails,
 * the operator's disconnect, a reload's new transport_ctx, the drain at
 * shutdown, and the abort after the drain timeout.  Also the registry
 * itself: the transports this build has, found by name.
 *
 * connmgr_run runs on a thread of its own (the test thread plays the
 * management thread); a pipe stands in for the signalfd, a write of a
 * signalfd_siginfo on it for the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"
#include "iopd/remote_stats.h"
#include "test.h"

#define MAX_CONNS  16
#define WAIT_MS	   5000
#define N_WORKERS  2
#define DRAIN_MS   200
#define FAKE_PROTO "fake"

/* The fake transport: what it was asked, under fk.lock. */
struct remote_conn {
	int fd;
	struct base_loop *loop;
	void (*closed)(void *opaque, struct remote_conn *conn);
	void *opaque;
	void *ctx;
	bool stubborn; /* ignores conn_shutdown: only conn_abort ends it */
};

struct fake_start {
	pthread_t thread;
	struct base_loop *loop;
	void *ctx;
	char peer[64];
	struct conn_limits limits;
	const struct conn_exports *exports;
	bool has_stats, has_opaque;
	struct remote_conn *conn;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int starts, shutdowns, aborts, closes, reconfigures;
	struct fake_start start[MAX_CONNS];
	bool fail_next; /* the next conn_start returns -EIO */
	bool stubborn;	/* conns started from now on are stubborn */
	bool reconf_ok; /* what conn_reconfigure answers */
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void fake_count(unsigned int *counter)
{
	pthread_mutex_lock(&fk.lock);
	(*counter)++;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

/* Wait until *counter reaches want; false after WAIT_MS. */
static bool fake_wait(const unsigned int *counter, unsigned int want)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&fk.lock);
	while (*counter < want && ok)
		ok = pthread_cond_timedwait(&fk.cond, &fk.lock, &until) == 0;
	ok = *counter >= want;
	pthread_mutex_unlock(&fk.lock);
	return ok;
}

/* Worker: like a real transport, close from a posted callback. */
static void fake_close(void *arg)
{
	struct remote_conn *c = arg;

	close(c->fd);
	c->closed(c->opaque, c);
	free(c);
	fake_count(&fk.closes);
}

static int fake_conn_start(const struct remote_conn_args *args,
			   struct remote_conn **connp)
{
	struct remote_conn *c = calloc(1, sizeof(*c));
	struct fake_start *s;

	pthread_mutex_lock(&fk.lock);
	if (fk.fail_next || !c || fk.starts == MAX_CONNS) {
		fk.fail_next = false;
		pthread_mutex_unlock(&fk.lock);
		free(c);
		close(args->rx_fd); /* the transport owned it */
		fake_count(&fk.starts);
		return -EIO;
	}
	c->fd = args->rx_fd;
	c->loop = args->loop;
	c->closed = args->closed;
	c->opaque = args->opaque;
	c->ctx = args->transport_ctx;
	c->stubborn = fk.stubborn;
	s = &fk.start[fk.starts];
	s->thread = pthread_self();
	s->loop = args->loop;
	s->ctx = args->transport_ctx;
	snprintf(s->peer, sizeof(s->peer), "%s", args->peer);
	s->limits = args->limits;
	s->exports = args->exports;
	s->has_stats = args->stats != NULL;
	s->has_opaque = args->opaque != NULL;
	s->conn = c;
	pthread_mutex_unlock(&fk.lock);
	*connp = c;
	fake_count(&fk.starts);
	return 0;
}

static void fake_conn_shutdown(struct remote_conn *c)
{
	fake_count(&fk.shutdowns);
	if (!c->stubborn)
		base_loop_post(c->loop, fake_close, c);
}

static void fake_conn_abort(struct remote_conn *c)
{
	fake_count(&fk.aborts);
	base_loop_post(c->loop, fake_close, c);
}

static bool fake_conn_reconfigure(struct remote_conn *c, void *ctx)
{
	c->ctx = ctx;
	fake_count(&fk.reconfigures);
	return fk.reconf_ok;
}

static const struct remote_transport_ops fake_ops = {
	.name = FAKE_PROTO,
	.conn_start = fake_conn_start,
	.conn_shutdown = fake_conn_shutdown,
	.conn_abort = fake_conn_abort,
	.conn_reconfigure = fake_conn_reconfigure,
};

static void fake_reset(void)
{
	pthread_mutex_lock(&fk.lock);
	fk.starts = fk.shutdowns = fk.aborts = fk.closes = 0;
	fk.reconfigures = 0;
	fk.fail_next = fk.stubborn = false;
	memset(fk.start, 0, sizeof(fk.start));
	pthread_mutex_unlock(&fk.lock);
}

/* A running Connection Manager ------------------------------------------ */

/* Every case runs on both engines: the accept, the signal and the drain
 * timer are reads the engine completes. */
static enum base_engine test_engine;

struct fixture {
	struct local *local;
	struct connmgr *cm;
	int sig[2]; /* the "signalfd": sig[0] is connmgr_run's */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t runner;
	bool running;
	int run_result;
	unsigned int hups;
	int ctx_a, ctx_b; /* transport_ctx tokens */
};

static void *fixture_run(void *arg)
{
	struct fixture *f = arg;

	f->run_result = connmgr_run(f->cm, f->sig[0]);
	return NULL;
}

static void fixture_hup(void *arg)
{
	struct fixture *f = arg;

	__atomic_add_fetch(&f->hups, 1, __ATOMIC_SEQ_CST);
}

static int fixture_listen(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(f->path, sizeof(f->path), "/tmp/iopd-test-connmgr.%ld",
		 (long)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	unlink(f->path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One null device exported as "e0", a fake listener with ctx_a, workers
 * started and connmgr_run running. */
static int fixture_start(struct fixture *f, unsigned int drain_ms)
{
	static struct local_dev_spec dev = {
		.name = "n0", .args = { .size_bytes = 1 << 20 }
	};
	static struct local_iop_spec iop = {
		.name = "nulls", .ddm = "null", .n_devs = 1, .devs = &dev
	};
	static const struct local_config lcfg = {
		.n_iops = 1, .iops = &iop, .max_request_bytes = 1 << 20
	};
	static const struct connmgr_export_spec exp = { .name = "e0",
							.iop = "nulls",
							.dev = "n0" };
	struct connmgr_config cfg = {
		.n_workers = N_WORKERS,
		.engine = test_engine,
		.drain_timeout_ms = drain_ms,
		.n_exports = 1,
		.exports = &exp,
	};
	int fd;

	memset(f, 0, sizeof(*f));
	fake_reset();
	if (local_scan(&lcfg, &f->local) < 0 ||
	    connmgr_create(&cfg, f->local, &f->cm) < 0 ||
	    pipe2(f->sig, O_CLOEXEC) < 0)
		return -1;
	fd = fixture_listen(f);
	if (fd < 0 ||
	    connmgr_listener_add_ops(f->cm, fd, &fake_ops, &f->ctx_a) < 0)
		return -1;
	connmgr_hup_set(f->cm, fixture_hup, f);
	if (connmgr_workers_start(f->cm) < 0 ||
	    pthread_create(&f->runner, NULL, fixture_run, f) != 0)
		return -1;
	f->running = true;
	return 0;
}

static void fixture_signal(struct fixture *f, int signo)
{
	struct signalfd_siginfo si = { .ssi_signo = (uint32_t)signo };

	if (write(f->sig[1], &si, sizeof(si)) != sizeof(si))
		CHECK(!"write to the signal pipe");
}

/* SIGTERM, then connmgr_run's result (-EINTR: it did not return). */
static int fixture_stop(struct fixture *f)
{
	struct timespec until;

	if (!f->running)
		return -EINTR;
	fixture_signal(f, SIGTERM);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000 + 5;
	if (pthread_timedjoin_np(f->runner, NULL, &until) != 0) {
		printf("Bail out! connmgr_run did not return\n");
		exit(1);
	}
	f->running = false;
	return f->run_result;
}

static void fixture_free(struct fixture *f)
{
	if (f->running)
		fixture_stop(f);
	connmgr_destroy(f->cm);
	local_destroy(f->local);
	close(f->sig[0]);
	close(f->sig[1]);
	unlink(f->path);
}

static int client_connect(const struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The server closed the client's connection (EOF within WAIT_MS). */
static bool client_sees_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, WAIT_MS) == 1 && recv(fd, &c, 1, 0) == 0;
}

static unsigned int conns_listed(struct connmgr *cm)
{
	struct connmgr_conn_info *infos = NULL;
	unsigned int n = 0;

	if (connmgr_conns_list(cm, &infos, &n) < 0)
		CHECK(!"connmgr_conns_list");
	free(infos);
	return n;
}

static void stats_fn(void *opaque, const char *proto,
		     const struct remote_proto_stats *stats)
{
	if (!strcmp(proto, FAKE_PROTO))
		*(uint64_t *)opaque = stats->conns_open;
}

static uint64_t fake_conns_open(void)
{
	uint64_t n = 0;

	remote_stats_foreach(stats_fn, &n);
	return n;
}

/* The cases -----------------------------------------------------------------
 */

/* The transports this build has, each found by its name; a listener
 * naming one it does not have is refused. */
static void test_registry(void)
{
	const struct remote_transport_ops *t;
	char names[128], want[128] = "";
	struct fixture f;
	unsigned int n = 0;

	for (; (t = remote_transport_at(n)); n++) {
		CHECK(remote_transport_find(t->name) == t);
		CHECK(t->conn_start && t->conn_shutdown && t->conn_abort);
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%s%s", n ? " " : "", t->name);
	}
	CHECK(n >= 1);
	CHECK_EQ_INT(strcmp(remote_transport_names(names, sizeof(names)), want),
		     0);
#if IOPD_TRANSPORT_NBD
	CHECK(remote_transport_find("nbd") != NULL);
#else
	CHECK(remote_transport_find("nbd") == NULL);
#endif
#if IOPD_TRANSPORT_ISCSI
	CHECK(remote_transport_find("iscsi") != NULL);
#else
	CHECK(remote_transport_find("iscsi") == NULL);
#endif
	CHECK(remote_transport_find("nvme-tcp") == NULL);
	CHECK(remote_transport_find(NULL) == NULL);
	CHECK(remote_transport_find(FAKE_PROTO) == NULL);

	CHECK_EQ_INT(fixture_start(&f, 0), 0);
	CHECK_EQ_INT(connmgr_listener_add(f.cm, -1, "nvme-tcp", NULL),
		     -EPROTONOSUPPORT);
	CHECK_EQ_INT(connmgr_serve_stdio(f.cm, "nvme-tcp", -1, -1),
		     -EPROTONOSUPPORT);
	CHECK_EQ_INT(fixture_stop(&f), 0);
	fixture_free(&f);
}

/* Check what conn_start was given for four clients. */
static void check_starts(const struct fixture *f, pthread_t self)
{
	const struct conn_export *e;
	unsigned int per_loop[N_WORKERS] = { 0 };
	struct base_loop *loops[N_WORKERS] = { NULL };

	for (unsigned int i = 0; i < 4; i++) {
		const struct fake_start *s = &fk.start[i];

		CHECK(!pthread_equal(s->thread, self));
		CHECK(!pthread_equal(s->thread, f->runner));
		CHECK(s->ctx == &f->ctx_a);
		CHECK(!strncmp(s->peer, "unix:", 5));
		CHECK(s->has_stats && s->has_opaque);
		CHECK_EQ_INT(s->limits.max_inflight, CONN_DEFAULT_MAX_INFLIGHT);
		CHECK_EQ_INT(s->limits.max_request_bytes,
			     CONN_DEFAULT_MAX_REQUEST_BYTES);
		e = s->exports->find(s->exports->opaque, "");
		CHECK(e && !strcmp(e->name, "e0"));
		CHECK(s->exports->find(s->exports->opaque, "nope") == NULL);
		/* round robin: conns 0, 2 on one worker, 1, 3 on the other */
		if (!loops[i % N_WORKERS])
			loops[i % N_WORKERS] = s->loop;
		CHECK(s->loop == loops[i % N_WORKERS]);
		per_loop[i % N_WORKERS]++;
	}
	CHECK(loops[0] && loops[1] && loops[0] != loops[1]);
	CHECK_EQ_INT(per_loop[0], 2);
}

/* Four clients: admitted, attached round robin to the two workers, each
 * given the listener's transport_ctx and the export view; listed. */
static void test_admit_attach(void)
{
	struct connmgr_conn_info *infos = NULL;
	struct fixture f;
	unsigned int n = 0;
	int cl[4];

	CHECK_EQ_INT(fixture_start(&f, 0), 0);
	for (int i = 0; i < 4; i++) {
		cl[i] = client_connect(&f);
		CHECK(cl[i] >= 0);
		/* one at a time, so that the order is the accept order */
		CHECK(fake_wait(&fk.starts, (unsigned int)i + 1));
	}
	check_starts(&f, pthread_self());
	CHECK_EQ_INT(connmgr_conns_list(f.cm, &infos, &n), 0);
	CHECK_EQ_INT(n, 4);
	for (unsigned int i = 0; i < n; i++) {
		CHECK(!strcmp(infos[i].protocol, FAKE_PROTO));
		CHECK_EQ_INT(infos[i].worker, i % N_WORKERS);
		CHECK(i == 0 || infos[i].id > infos[i - 1].id);
		CHECK(!strcmp(infos[i].export, ""));
	}
	free(infos);
	CHECK_EQ_INT(fake_conns_open(), 4);
	/* SIGHUP is the reload hook's, not a shutdown */
	fixture_signal(&f, SIGHUP);
	CHECK_EQ_INT(conns_listed(f.cm), 4);
	CHECK_EQ_INT(fixture_stop(&f), 0);
	CHECK_EQ_INT(f.hups, 1);
	CHECK_EQ_INT(fk.closes, 4);
	CHECK_EQ_INT(fake_conns_open(), 0);
	for (int i = 0; i < 4; i++) {
		CHECK(client_sees_eof(cl[i]));
		close(cl[i]);
	}
	fixture_free(&f);
}

/* A conn_start that fails: the client is dropped, nothing is listed, the
 * next client is served. */
static void test_start_fails(void)
{
	struct fixture f;
	int a, b;

	CHECK_EQ_INT(fixture_start(&f, 0), 0);
	fk.fail_next = true;
	a = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 1));
	CHECK(client_sees_eof(a));
	CHECK_EQ_INT(conns_listed(f.cm), 0);
	CHECK_EQ_INT(fake_conns_open(), 0);
	b = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 2));
	CHECK_EQ_INT(conns_listed(f.cm), 1);
	CHECK_EQ_INT(fixture_stop(&f), 0);
	CHECK_EQ_INT(fk.closes, 1);
	close(a);
	close(b);
	fixture_free(&f);
}

/* The operator's disconnect: conn_shutdown, or conn_abort when forced,
 * on that connection only. */
static void test_disconnect(void)
{
	struct connmgr_conn_info *infos = NULL;
	struct fixture f;
	unsigned int n = 0;
	int cl[3];

	CHECK_EQ_INT(fixture_start(&f, 0), 0);
	for (int i = 0; i < 3; i++)
		cl[i] = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 3));
	CHECK_EQ_INT(connmgr_conns_list(f.cm, &infos, &n), 0);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_EQ_INT(connmgr_conn_disconnect(f.cm, infos[0].id, false),
			     0);
		CHECK(fake_wait(&fk.closes, 1));
		CHECK_EQ_INT(fk.shutdowns, 1);
		CHECK_EQ_INT(connmgr_conn_disconnect(f.cm, infos[1].id, true),
			     0);
		CHECK(fake_wait(&fk.closes, 2));
		CHECK_EQ_INT(fk.aborts, 1);
		CHECK_EQ_INT(connmgr_conn_disconnect(f.cm, infos[0].id, false),
			     -ENOENT);
	}
	free(infos);
	CHECK_EQ_INT(conns_listed(f.cm), 1);
	CHECK_EQ_INT(fake_conns_open(), 1);
	CHECK_EQ_INT(fixture_stop(&f), 0);
	CHECK_EQ_INT(fk.shutdowns, 2);
	for (int i = 0; i < 3; i++) {
		CHECK(client_sees_eof(cl[i]));
		close(cl[i]);
	}
	fixture_free(&f);
}

/* A reload's new transport_ctx reaches the open connections through
 * conn_reconfigure (those it would not admit end) and the next clients. */
static void test_ctx_replace(void)
{
	struct fixture f;
	int cl[3];

	CHECK_EQ_INT(fixture_start(&f, 0), 0);
	cl[0] = client_connect(&f);
	cl[1] = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 2));
	fk.reconf_ok = true;
	CHECK_EQ_INT(connmgr_transport_ctx_replace(f.cm, &f.ctx_a, &f.ctx_b),
		     0);
	CHECK_EQ_INT(fk.reconfigures, 2);
	CHECK(fk.start[0].conn->ctx == &f.ctx_b);
	cl[2] = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 3));
	CHECK(fk.start[2].ctx == &f.ctx_b);
	/* the old ctx is no one's any more: nothing to tell */
	CHECK_EQ_INT(connmgr_transport_ctx_replace(f.cm, &f.ctx_a, &f.ctx_b),
		     0);
	CHECK_EQ_INT(fk.reconfigures, 2);
	fk.reconf_ok = false;
	CHECK_EQ_INT(connmgr_transport_ctx_replace(f.cm, &f.ctx_b, &f.ctx_a),
		     3);
	CHECK(fake_wait(&fk.closes, 3));
	CHECK_EQ_INT(conns_listed(f.cm), 0);
	CHECK_EQ_INT(fixture_stop(&f), 0);
	for (int i = 0; i < 3; i++) {
		CHECK(client_sees_eof(cl[i]));
		close(cl[i]);
	}
	fixture_free(&f);
}

/* Shutdown with a connection that ignores conn_shutdown: the others close,
 * it is aborted after the drain timeout, connmgr_run says so, and the
 * listener no longer accepts. */
static void test_drain_timeout(void)
{
	struct timespec t0, t1;
	struct fixture f;
	long ms;
	int a, b;

	CHECK_EQ_INT(fixture_start(&f, DRAIN_MS), 0);
	a = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 1));
	fk.stubborn = true;
	b = client_connect(&f);
	CHECK(fake_wait(&fk.starts, 2));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(fixture_stop(&f), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= DRAIN_MS - 10);
	CHECK_EQ_INT(fk.shutdowns, 2);
	CHECK_EQ_INT(fk.aborts, 1);
	CHECK_EQ_INT(fk.closes, 2);
	CHECK(client_sees_eof(a));
	CHECK(client_sees_eof(b));
	CHECK(client_connect(&f) < 0);
	close(a);
	close(b);
	fixture_free(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	base_log_set_level(BASE_LOG_WARN);
	TEST_CASE(test_registry);
	for (int e = 0; e < 2; e++) {
		test_engine = e ? BASE_ENGINE_EPOLL : BASE_ENGINE_AUTO;
		printf("# engine %s\n", e ? "epoll" : "auto");
		TEST_CASE(test_admit_attach);
		TEST_CASE(test_start_fails);
		TEST_CASE(test_disconnect);
		TEST_CASE(test_ctx_replace);
		TEST_CASE(test_drain_timeout);
	}
	return test_done();
}
