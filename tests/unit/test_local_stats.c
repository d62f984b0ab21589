// SPDX-License-Identifier: MIT
/*
 * Request statistics: counting by operation, bytes only for successes,
 * errors by errno, the latency histogram's buckets, in-flight, closed
 * sessions folded into their device (counters never go backwards), and
 * a reader summing while two writer threads count (no lock on the
 * writers' side: every read must still see monotonic totals).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "local/local_stats.h"
#include "test.h"

struct snap {
	const char *iop;
	const char *dev;
	struct local_stats st;
	int found;
};

static void snap_fn(void *opaque, const char *iop, const char *dev,
		    const struct local_stats *st)
{
	struct snap *s = opaque;

	if (!strcmp(iop, s->iop) && !strcmp(dev, s->dev)) {
		s->st = *st;
		s->found++;
	}
}

static struct local_stats get(const char *iop, const char *dev, int *found)
{
	struct snap s = { .iop = iop, .dev = dev };

	local_stats_foreach(snap_fn, &s);
	*found = s.found;
	return s.st;
}

static unsigned int errno_slot(int e)
{
	for (unsigned int i = 0; i < LOCAL_STAT_ERRNOS; i++)
		if (local_stat_errno(i) == e)
			return i;
	return LOCAL_STAT_ERRNOS - 1;
}

static unsigned int lat_slot(uint64_t ns)
{
	unsigned int i = 0;

	while (ns > local_stat_lat_bound_ns(i))
		i++;
	return i;
}

static void test_counting(void)
{
	struct local_stats_live *a, *b;
	struct local_stats st;
	uint64_t t;
	int found;

	CHECK_EQ_INT(local_stats_session_open("iop1", "dev1", &a), 0);
	CHECK_EQ_INT(local_stats_session_open("iop1", "dev1", &b), 0);
	st = get("iop1", "dev1", &found);
	CHECK_EQ_INT(found, 1);
	CHECK_EQ_INT(st.sessions_open, 2);

	t = local_stats_begin(a, DDM_OP_WRITE);
	st = get("iop1", "dev1", &found);
	CHECK_EQ_INT(st.inflight, 1);
	CHECK_EQ_INT(st.requests[DDM_OP_WRITE], 1);
	local_stats_end(a, DDM_OP_WRITE, 4096, 0, t);
	t = local_stats_begin(b, DDM_OP_READ);
	local_stats_end(b, DDM_OP_READ, 8192, -EIO, t);
	/* A request that took 3 ms lands in the 5 ms bucket. */
	t = local_stats_begin(b, DDM_OP_READ);
	local_stats_end(b, DDM_OP_READ, 512, 0, t - 3000000);
	t = local_stats_begin(b, DDM_OP_FLUSH);
	local_stats_end(b, DDM_OP_FLUSH, 0, -ENOSYS, t);

	st = get("iop1", "dev1", &found);
	CHECK_EQ_INT(st.inflight, 0);
	CHECK_EQ_INT(st.requests[DDM_OP_WRITE], 1);
	CHECK_EQ_INT(st.bytes[DDM_OP_WRITE], 4096);
	CHECK_EQ_INT(st.requests[DDM_OP_READ], 2);
	CHECK_EQ_INT(st.bytes[DDM_OP_READ], 512); /* the failed one: none */
	CHECK_EQ_INT(st.errors[DDM_OP_READ], 1);
	CHECK_EQ_INT(st.errors[DDM_OP_FLUSH], 1);
	CHECK_EQ_INT(st.errnos[errno_slot(EIO)], 1);
	CHECK_EQ_INT(st.errnos[LOCAL_STAT_ERRNOS - 1], 1); /* ENOSYS */
	CHECK_EQ_INT(local_stat_errno(LOCAL_STAT_ERRNOS - 1), 0);
	CHECK_EQ_INT(st.lat_buckets[lat_slot(3000000)], 1);
	CHECK_EQ_INT(local_stat_lat_bound_ns(lat_slot(3000000)), 5000000);
	{
		uint64_t n = 0;

		for (unsigned int i = 0; i < LOCAL_STAT_LAT_BUCKETS; i++)
			n += st.lat_buckets[i];
		CHECK_EQ_INT(n, 4);
		CHECK(st.lat_sum_ns >= 3000000);
	}
	CHECK_EQ_INT(local_stat_lat_bound_ns(LOCAL_STAT_LAT_BUCKETS - 1),
		     UINT64_MAX);

	/* Closing folds a session into its device: nothing goes back. */
	local_stats_session_close(a);
	local_stats_session_close(b);
	st = get("iop1", "dev1", &found);
	CHECK_EQ_INT(st.sessions_open, 0);
	CHECK_EQ_INT(st.sessions_total, 2);
	CHECK_EQ_INT(st.requests[DDM_OP_READ], 2);
	CHECK_EQ_INT(st.bytes[DDM_OP_WRITE], 4096);

	/* The same names later continue the same counters. */
	CHECK_EQ_INT(local_stats_session_open("iop1", "dev1", &a), 0);
	t = local_stats_begin(a, DDM_OP_WRITE);
	local_stats_end(a, DDM_OP_WRITE, 4096, 0, t);
	local_stats_session_close(a);
	st = get("iop1", "dev1", &found);
	CHECK_EQ_INT(found, 1);
	CHECK_EQ_INT(st.requests[DDM_OP_WRITE], 2);
	CHECK_EQ_INT(st.sessions_total, 3);
	get("iop1", "other", &found);
	CHECK_EQ_INT(found, 0);
	CHECK(!strcmp(local_stat_op_name(DDM_OP_WRITE_ZEROES), "write_zeroes"));
}

#define WRITER_REQUESTS 200000

static atomic_int writers_done;

static void *writer(void *arg)
{
	struct local_stats_live *live = arg;

	for (int i = 0; i < WRITER_REQUESTS; i++) {
		uint64_t t = local_stats_begin(live, DDM_OP_WRITE);

		local_stats_end(live, DDM_OP_WRITE, 512, 0, t);
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

static void test_concurrent_readers(void)
{
	struct local_stats_live *l[2];
	pthread_t th[2];
	uint64_t last = 0, reads = 0;
	int found, bad = 0;
	struct local_stats st;

	CHECK_EQ_INT(local_stats_session_open("iop2", "d", &l[0]), 0);
	CHECK_EQ_INT(local_stats_session_open("iop2", "d", &l[1]), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, writer, l[i]);
	while (atomic_load(&writers_done) < 2) {
		st = get("iop2", "d", &found);
		if (st.requests[DDM_OP_WRITE] < last)
			bad++;
		last = st.requests[DDM_OP_WRITE];
		reads++;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	st = get("iop2", "d", &found);
	CHECK_EQ_INT(bad, 0);
	CHECK(reads > 0);
	CHECK_EQ_INT(st.requests[DDM_OP_WRITE], 2 * WRITER_REQUESTS);
	CHECK_EQ_INT(st.bytes[DDM_OP_WRITE], 2 * WRITER_REQUESTS * 512);
	CHECK_EQ_INT(st.inflight, 0);
	local_stats_session_close(l[0]);
	local_stats_session_close(l[1]);
}

int main(void)
{
	TEST_CASE(test_counting);
	TEST_CASE(test_concurrent_readers);
	return test_done();
}
