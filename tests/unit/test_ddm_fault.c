// SPDX-License-Identifier: MIT
/*
 * The fault DDM, driven directly as the Local Transport would (no
 * sockets): settings refused at open, injected errors with every modifier
 * (once, sticky, after, range, a seeded rate, partial writes), latency
 * from a timer, the volatile cache (what a crash loses and what flush, FUA
 * and sync keep), the control verbs, and flushes from two workers at once
 * whose write-back rounds queue behind each other.  Both loop engines;
 * the inner device is ram, or a file on tmpfs where completions come
 * later from the loop.  The conformance suite runs the same DDM with no
 * fault configured (test_ddm_conformance.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/ddm.h"
#include "test.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)

struct t_ctx {
	struct ddm_dev *dev;
	struct base_loop *loop;
	void *req_priv;
};

struct t_req {
	struct ddm_req req;
	struct t_ctx *ctx;
	bool done, waiting;
	int result;
	int completions;
};

static enum base_engine cur_engine;
static struct base_loop *main_loop;
static char shm_dir[64];
static const char *inner_kind = "ram"; /* or "file" */
static char file_path[128];

static void *t_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len ? len : 1))
		abort();
	return p;
}

static void t_done(struct ddm_req *req, int result)
{
	struct t_req *t = (struct t_req *)req;

	t->completions++;
	CHECK(!t->done); /* exactly once */
	t->done = true;
	t->result = result;
	if (t->waiting)
		base_loop_stop(t->ctx->loop);
}

static int t_run(struct t_ctx *ctx, enum ddm_op op, uint32_t flags,
		 uint64_t off, uint64_t len, void *buf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct t_req t = {
		.req = { .dev = ctx->dev,
			 .loop = ctx->loop,
			 .op = op,
			 .flags = flags,
			 .offset = off,
			 .len = len,
			 .iov = buf ? &iov : NULL,
			 .iovcnt = buf ? 1 : 0,
			 .done = t_done,
			 .priv = ctx->req_priv },
		.ctx = ctx,
	};

	ctx->dev->ops->submit(&t.req);
	t.waiting = true;
	while (!t.done)
		base_loop_run(ctx->loop);
	CHECK_EQ_INT(t.completions, 1);
	return t.result;
}

/* Write len bytes of byte at off. */
static int t_fill(struct t_ctx *ctx, uint32_t flags, uint64_t off, uint64_t len,
		  unsigned char byte)
{
	unsigned char *buf = t_alloc(len);
	int ret;

	memset(buf, byte, len);
	ret = t_run(ctx, DDM_OP_WRITE, flags, off, len, buf);
	free(buf);
	return ret;
}

/* Does [off, off+len) read back as byte?  -errno of the read, 0 if it
 * does, 1 if not. */
static int t_holds(struct t_ctx *ctx, uint64_t off, uint64_t len,
		   unsigned char byte)
{
	unsigned char *buf = t_alloc(len);
	int ret = t_run(ctx, DDM_OP_READ, 0, off, len, buf);

	for (uint64_t i = 0; ret == 0 && i < len; i++)
		if (buf[i] != byte)
			ret = 1;
	free(buf);
	return ret;
}

static int t_flush(struct t_ctx *ctx)
{
	return t_run(ctx, DDM_OP_FLUSH, 0, 0, 0, NULL);
}

/* A fault device over a fresh inner one, settings "K=V&K=V". */
static struct ddm_dev dev;
static struct t_ctx ctx;

static int fault_open(const char *settings)
{
	struct ddm_option opts[16];
	char text[512];
	unsigned int n = 0;
	struct ddm_open_args args = { .size_bytes = 64 * MIB, .direct = -1 };
	int ret;

	memset(&dev, 0, sizeof(dev));
	dev.ops = ddm_find("fault");
	dev.name = "t";
	CHECK(dev.ops != NULL);
	if (!dev.ops)
		return -ENOSYS;
	dev.priv = calloc(1, dev.ops->dev_priv_size);
	snprintf(text, sizeof(text), "inner=%s%s%s", inner_kind,
		 settings[0] ? "&" : "", settings);
	CHECK_EQ_INT(ddm_options_split(text, opts, 16, &n), 0);
	if (!strcmp(inner_kind, "file")) {
		unlink(file_path);
		args.path = file_path;
	}
	args.options = opts;
	args.n_options = n;
	ret = ddm_dev_open(&dev, &args);
	if (ret < 0) {
		free(dev.priv);
		dev.priv = NULL;
		return ret;
	}
	ctx.dev = &dev;
	ctx.loop = main_loop;
	ctx.req_priv = t_alloc(dev.ops->req_priv_size);
	return 0;
}

static void fault_close(void)
{
	if (!dev.priv)
		return;
	dev.ops->close(&dev);
	free(dev.priv);
	free(ctx.req_priv);
	dev.priv = NULL;
}

static int control(const char *verb, const char *arg, char *reply, size_t len)
{
	return dev.ops->control(&dev, verb, arg, reply, len);
}

/* The number after "key=" in a control reply, or -1. */
static long long reply_num(const char *reply, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (p = reply; (p = strstr(p, pat)); p++)
		if (p == reply || p[-1] == '\n')
			return strtoll(p + strlen(pat), NULL, 10);
	return -1;
}

static void test_settings_refused(void)
{
	struct ddm_option opt = { "volatile", "1" };
	struct ddm_open_args args = { .size_bytes = MIB,
				      .options = &opt,
				      .n_options = 1 };
	struct ddm_dev ram = { .ops = ddm_find("ram"), .name = "r" };
	static const char *const bad[] = {
		"", /* no inner (added below: none) */
		"bogus=1",
		"volatile=maybe",
		"flush=EWHAT",
		"read=EIO:partial",
		"write=EIO:rate=2",
		"write=EIO:range=2M-1M",
		"write=once",
		"delay=x",
		"write=EIO:after=-1",
		"trim=EIO:range=1M",
		"volatile=1&block=1000",
		"volatile=1&block=256",
	};

	/* A DDM without configure takes no settings at all. */
	ram.priv = calloc(1, ram.ops->dev_priv_size);
	CHECK_EQ_INT(ddm_dev_open(&ram, &args), -EINVAL);
	free(ram.priv);
	for (size_t i = 1; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = fault_open(bad[i]);

		if (ret != -EINVAL)
			printf("#   \"%s\": %d\n", bad[i], ret);
		CHECK_EQ_INT(ret, -EINVAL);
		fault_close();
	}
	/* No inner, a missing inner, and fault around itself. */
	inner_kind = "";
	CHECK_EQ_INT(fault_open(""), -EINVAL);
	inner_kind = "nonesuch";
	CHECK_EQ_INT(fault_open(""), -EINVAL);
	inner_kind = "fault";
	CHECK_EQ_INT(fault_open(""), -EINVAL);
	inner_kind = "ram";
}

static void test_pass_through(void)
{
	if (fault_open("") < 0)
		return;
	CHECK(dev.caps & DDM_CAP_FLUSH);
	CHECK(!(dev.caps & DDM_CAP_EXTENTS_CHEAP));
	CHECK(dev.caps & DDM_CAP_MULTI_CONN);
	CHECK_EQ_INT(dev.size_bytes, 64 * MIB);
	CHECK_EQ_INT(t_fill(&ctx, 0, 4 * KIB, 8 * KIB, 0x5a), 0);
	CHECK_EQ_INT(t_holds(&ctx, 4 * KIB, 8 * KIB, 0x5a), 0);
	CHECK_EQ_INT(t_flush(&ctx), 0);
	CHECK_EQ_INT(
		t_run(&ctx, DDM_OP_WRITE_ZEROES, 0, 4 * KIB, 4 * KIB, NULL), 0);
	CHECK_EQ_INT(t_holds(&ctx, 4 * KIB, 4 * KIB, 0), 0);
	CHECK_EQ_INT(t_holds(&ctx, 8 * KIB, 4 * KIB, 0x5a), 0);
	fault_close();
}

static void test_errors(void)
{
	char reply[4096];

	if (fault_open("write=EIO&flush=ENOSPC:once&read=EIO:after=2") < 0)
		return;
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 4 * KIB, 1), -EIO);
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 4 * KIB, 1), -EIO);
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 0), 0); /* nothing written */
	CHECK_EQ_INT(t_flush(&ctx), -ENOSPC);
	CHECK_EQ_INT(t_flush(&ctx), 0);		       /* once */
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 0), 0); /* after=2 */
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 0), -EIO);
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 0), -EIO);
	CHECK_EQ_INT(control("stats", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "injected.write"), 2);
	CHECK_EQ_INT(reply_num(reply, "injected.flush"), 1);
	CHECK_EQ_INT(reply_num(reply, "injected.read"), 2);
	CHECK_EQ_INT(reply_num(reply, "requests.read"), 4);
	CHECK(strstr(reply, "rule.read=EIO:after=2\n"));
	CHECK_EQ_INT(reply_num(reply, "fired.flush"), 1);
	/* clear: everything passes. */
	CHECK_EQ_INT(control("clear", NULL, reply, sizeof(reply)), 0);
	CHECK(!strstr(reply, "rule."));
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 4 * KIB, 1), 0);
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 1), 0);
	/* set: one bad setting changes nothing. */
	CHECK_EQ_INT(
		control("set", "read=EIO&write=EBOGUS", reply, sizeof(reply)),
		-EINVAL);
	CHECK_EQ_INT(control("set", "volatile=1", reply, sizeof(reply)),
		     -EINVAL);
	CHECK_EQ_INT(control("set", NULL, reply, sizeof(reply)), -EINVAL);
	CHECK_EQ_INT(control("dance", NULL, reply, sizeof(reply)), -EINVAL);
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 1), 0);
	fault_close();
}

static void test_range_sticky(void)
{
	char reply[4096];

	if (fault_open("") < 0)
		return;
	CHECK_EQ_INT(control("set", "write=EROFS:sticky:range=1M+64K", reply,
			     sizeof(reply)),
		     0);
	CHECK(strstr(reply, "rule.write=EROFS:sticky:range=1048576-1114112"));
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 64 * KIB, 2), 0);
	CHECK_EQ_INT(t_fill(&ctx, 0, 1 * MIB + 64 * KIB, 4 * KIB, 2), 0);
	CHECK_EQ_INT(t_fill(&ctx, 0, 1 * MIB - 4 * KIB, 8 * KIB, 2), -EROFS);
	CHECK_EQ_INT(t_fill(&ctx, 0, 1 * MIB + 4 * KIB, 4 * KIB, 2), -EROFS);
	/* Sticky: the range stays dead; other ranges and reads work. */
	CHECK_EQ_INT(t_fill(&ctx, 0, 1 * MIB + 60 * KIB, 4 * KIB, 2), -EROFS);
	CHECK_EQ_INT(t_fill(&ctx, 0, 2 * MIB, 4 * KIB, 2), 0);
	CHECK_EQ_INT(t_holds(&ctx, 1 * MIB, 4 * KIB, 0), 0);
	fault_close();
}

/* Which of 64 reads fail at rate 0.5 with seed: a bit mask. */
static uint64_t rate_pattern(const char *seed)
{
	char reply[4096], set[64];
	unsigned char buf[512];
	uint64_t mask = 0;

	snprintf(set, sizeof(set), "seed=%s&read=EIO:rate=50%%", seed);
	CHECK_EQ_INT(control("set", set, reply, sizeof(reply)), 0);
	for (int i = 0; i < 64; i++)
		if (t_run(&ctx, DDM_OP_READ, 0, 0, sizeof(buf), buf) == -EIO)
			mask |= 1ull << i;
	return mask;
}

static void test_rate_seeded(void)
{
	uint64_t a, b, c;
	int n;

	if (fault_open("") < 0)
		return;
	a = rate_pattern("7");
	b = rate_pattern("7");
	c = rate_pattern("8");
	n = __builtin_popcountll(a);
	printf("# rate 0.5, seed 7: %d of 64 failed\n", n);
	CHECK_EQ_INT(a == b, 1);
	CHECK(a != c);
	CHECK(n > 16 && n < 48);
	fault_close();
}

static void test_partial(void)
{
	for (int v = 0; v < 2; v++) {
		if (fault_open(v ? "volatile=1&write=EIO:partial:once"
				 : "write=EIO:partial:once") < 0)
			return;
		CHECK_EQ_INT(t_fill(&ctx, 0, 0, 16 * KIB, 7), -EIO);
		CHECK_EQ_INT(t_holds(&ctx, 0, 8 * KIB, 7), 0);
		CHECK_EQ_INT(t_holds(&ctx, 8 * KIB, 8 * KIB, 0), 0);
		/* once: the next write is whole. */
		CHECK_EQ_INT(t_fill(&ctx, 0, 0, 16 * KIB, 8), 0);
		CHECK_EQ_INT(t_holds(&ctx, 0, 16 * KIB, 8), 0);
		fault_close();
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_delay(void)
{
	char reply[4096];
	uint64_t t0;

	if (fault_open("delay=30&flush=EIO:delay=60") < 0)
		return;
	t0 = now_ms();
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 4 * KIB, 3), 0);
	CHECK(now_ms() - t0 >= 29);
	t0 = now_ms();
	CHECK_EQ_INT(t_flush(&ctx), -EIO);
	CHECK(now_ms() - t0 >= 59);
	CHECK_EQ_INT(control("stats", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "delayed"), 2);
	CHECK_EQ_INT(control("set", "delay=0&flush=off", reply, sizeof(reply)),
		     0);
	t0 = now_ms();
	CHECK_EQ_INT(t_holds(&ctx, 0, 4 * KIB, 3), 0);
	CHECK_EQ_INT(t_flush(&ctx), 0);
	CHECK(now_ms() - t0 < 1000);
	fault_close();
}

static void test_volatile(void)
{
	char reply[4096];

	if (fault_open("volatile=1") < 0)
		return;
	CHECK(dev.caps & DDM_CAP_FLUSH);
	CHECK(dev.caps & DDM_CAP_FUA);
	CHECK_EQ_INT(dev.block_size_min, 4096);
	/* Unflushed: seen by reads, lost by a crash. */
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 64 * KIB, 0x11), 0);
	CHECK_EQ_INT(t_holds(&ctx, 0, 64 * KIB, 0x11), 0);
	CHECK_EQ_INT(control("stats", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "dirty_bytes"), 64 * KIB);
	CHECK_EQ_INT(control("crash", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "lost_bytes"), 64 * KIB);
	CHECK_EQ_INT(t_holds(&ctx, 0, 64 * KIB, 0), 0);
	/* Flushed: survives. */
	CHECK_EQ_INT(t_fill(&ctx, 0, 0, 64 * KIB, 0x22), 0);
	CHECK_EQ_INT(t_flush(&ctx), 0);
	CHECK_EQ_INT(t_fill(&ctx, 0, 1 * MIB, 8 * KIB, 0x33), 0);
	CHECK_EQ_INT(t_fill(&ctx, DDM_F_FUA, 2 * MIB, 8 * KIB, 0x44), 0);
	/* Zeroes over flushed data, not flushed themselves. */
	CHECK_EQ_INT(t_run(&ctx, DDM_OP_WRITE_ZEROES, 0, 0, 8 * KIB, NULL), 0);
	CHECK_EQ_INT(t_run(&ctx, DDM_OP_TRIM, 0, 8 * KIB, 8 * KIB, NULL), 0);
	CHECK_EQ_INT(t_holds(&ctx, 0, 16 * KIB, 0), 0);
	CHECK_EQ_INT(control("crash", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "lost_bytes"), 24 * KIB);
	CHECK_EQ_INT(t_holds(&ctx, 0, 64 * KIB, 0x22), 0);
	CHECK_EQ_INT(t_holds(&ctx, 1 * MIB, 8 * KIB, 0), 0);	/* lost */
	CHECK_EQ_INT(t_holds(&ctx, 2 * MIB, 8 * KIB, 0x44), 0); /* FUA */
	/* A flush that fails writes nothing back. */
	CHECK_EQ_INT(t_fill(&ctx, 0, 3 * MIB, 4 * KIB, 0x55), 0);
	CHECK_EQ_INT(control("set", "flush=EIO:once", reply, sizeof(reply)), 0);
	CHECK_EQ_INT(t_flush(&ctx), -EIO);
	CHECK_EQ_INT(control("crash", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(t_holds(&ctx, 3 * MIB, 4 * KIB, 0), 0);
	/* sync (the IOP's flush before close) writes everything through. */
	CHECK_EQ_INT(t_fill(&ctx, 0, 4 * MIB, 1 * MIB + 4 * KIB, 0x66), 0);
	CHECK_EQ_INT(dev.ops->sync(&dev), 0);
	CHECK_EQ_INT(control("crash", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "lost_bytes"), 0);
	CHECK_EQ_INT(t_holds(&ctx, 4 * MIB, 1 * MIB + 4 * KIB, 0x66), 0);
	CHECK_EQ_INT(control("stats", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "crashes"), 4);
	CHECK_EQ_INT(reply_num(reply, "cached_bytes"), 0);
	fault_close();

	/* A smaller cache block: the device's unit, and the torn-write and
	 * crash granularity. */
	if (fault_open("volatile=1&block=512") < 0)
		return;
	CHECK_EQ_INT(dev.block_size_min, 512);
	CHECK_EQ_INT(t_fill(&ctx, 0, 512, 512, 0x77), 0);
	CHECK_EQ_INT(t_fill(&ctx, DDM_F_FUA, 1024, 512, 0x78), 0);
	CHECK_EQ_INT(control("crash", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "lost_bytes"), 512);
	CHECK_EQ_INT(t_holds(&ctx, 512, 512, 0), 0);
	CHECK_EQ_INT(t_holds(&ctx, 1024, 512, 0x78), 0);
	fault_close();
}

/*
 * Two workers, each with its own loop, write their own blocks and flush,
 * over and over: flushes meet a round in progress on the other worker,
 * wait, and are completed on their own loop.  Afterwards a crash must
 * lose nothing, since every write was followed by a flush.
 */
struct conc_arg {
	unsigned int id;
	int failures;
};

static void *conc_thread(void *p)
{
	struct conc_arg *a = p;
	struct t_ctx c = { .dev = &dev };

	if (base_loop_create(&c.loop, cur_engine, 64) < 0) {
		a->failures++;
		return NULL;
	}
	c.req_priv = t_alloc(dev.ops->req_priv_size);
	for (unsigned int r = 0; r < 40; r++) {
		uint64_t off = (uint64_t)(r % 8) * 256 * KIB + a->id * 64 * KIB;

		if (t_fill(&c, 0, off, 64 * KIB, (unsigned char)(a->id + 1)) ||
		    t_flush(&c) ||
		    t_holds(&c, off, 64 * KIB, (unsigned char)(a->id + 1)))
			a->failures++;
	}
	free(c.req_priv);
	base_loop_destroy(c.loop);
	return NULL;
}

static void test_volatile_concurrent(void)
{
	struct conc_arg args[2] = { { .id = 0 }, { .id = 1 } };
	pthread_t th[2];
	char reply[4096];

	if (fault_open("volatile=1") < 0)
		return;
	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(
			pthread_create(&th[i], NULL, conc_thread, &args[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(args[i].failures, 0);
	}
	CHECK_EQ_INT(control("crash", NULL, reply, sizeof(reply)), 0);
	CHECK_EQ_INT(reply_num(reply, "lost_bytes"), 0);
	for (unsigned int r = 0; r < 8; r++)
		for (unsigned int id = 0; id < 2; id++)
			CHECK_EQ_INT(t_holds(&ctx,
					     r * 256 * KIB + id * 64 * KIB,
					     64 * KIB, (unsigned char)(id + 1)),
				     0);
	fault_close();
}

static void engine_pass(enum base_engine engine)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "settings_refused", test_settings_refused },
		{ "pass_through", test_pass_through },
		{ "errors", test_errors },
		{ "range_sticky", test_range_sticky },
		{ "rate_seeded", test_rate_seeded },
		{ "partial", test_partial },
		{ "delay", test_delay },
		{ "volatile", test_volatile },
		{ "volatile_concurrent", test_volatile_concurrent },
	};
	static const char *const inners[] = { "ram", "file" };
	char name[128];

	cur_engine = engine;
	if (base_loop_create(&main_loop, engine, 64) < 0) {
		printf("ok %d - %s # SKIP engine unavailable\n", ++test_case_no,
		       base_engine_name(engine));
		return;
	}
	for (size_t k = 0; k < 2; k++) {
		inner_kind = inners[k];
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			snprintf(name, sizeof(name), "%s/%s/%s",
				 base_engine_name(engine), inners[k],
				 cases[i].name);
			test_run(name, cases[i].fn);
		}
	}
	inner_kind = "ram";
	base_loop_destroy(main_loop);
}

int main(void)
{
	char cmd[128];

	base_log_set_level(getenv("IOPD_TEST_DEBUG") ? BASE_LOG_DEBUG
						     : BASE_LOG_ERROR + 0);
	if (!ddm_find("fault")) {
		printf("1..0 # SKIP the fault DDM is not built\n");
		return 0;
	}
	strcpy(shm_dir, "/dev/shm/ddm-fault-XXXXXX");
	if (!mkdtemp(shm_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(file_path, sizeof(file_path), "%s/img", shm_dir);
	engine_pass(BASE_ENGINE_URING);
	engine_pass(BASE_ENGINE_EPOLL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", shm_dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", shm_dir);
	return test_done();
}
