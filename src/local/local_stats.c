// SPDX-License-Identifier: MIT
/*
 * Request statistics: the per-device registry of sessions' counters, the
 * send handler's completion hook, and the summing reader (design in
 * iopd/local_stats.h).  The registry lives as long as the process: a
 * device's counters must survive its sessions and its removal, or a
 * Prometheus counter would go backwards.  What to export and in which
 * format is the management channel's business.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "local/local_stats.h"

struct local_stats_dev {
	struct local_stats_dev *next;
	char *iop_name;
	char *dev_name;
	struct local_stats closed;    /* folded in from closed sessions */
	struct local_stats_live live; /* list head of open sessions */
	uint64_t sessions_open;
	uint64_t sessions_total;
	int wb_error;
	uint64_t wb_errors;
};

static pthread_mutex_t local_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct local_stats_dev *local_stats_devs;

static const char *const local_stat_op_names[LOCAL_STAT_OPS] = {
	[DDM_OP_READ] = "read",
	[DDM_OP_WRITE] = "write",
	[DDM_OP_FLUSH] = "flush",
	[DDM_OP_TRIM] = "trim",
	[DDM_OP_WRITE_ZEROES] = "write_zeroes",
	[DDM_OP_CACHE] = "cache",
};

/* What the send handler and the DDMs return; the last slot is "other". */
static const int local_stat_errno_values[LOCAL_STAT_ERRNOS] = {
	EIO,	 EINVAL, EPERM,	    ENOSPC, EOVERFLOW,
	ENOTSUP, ENOMEM, ESHUTDOWN, EROFS,  0,
};

/* Prometheus-style bounds from 10 us to 2.5 s, then +Inf. */
static const uint64_t local_stat_lat_bounds_ns[LOCAL_STAT_LAT_BUCKETS] = {
	10000,	   25000,     50000,	 100000,     250000,	 500000,
	1000000,   2500000,   5000000,	 10000000,   25000000,	 50000000,
	100000000, 250000000, 500000000, 1000000000, 2500000000, UINT64_MAX,
};

const char *local_stat_op_name(unsigned int op)
{
	return op < LOCAL_STAT_OPS ? local_stat_op_names[op] : "unknown";
}

int local_stat_errno(unsigned int i)
{
	return i < LOCAL_STAT_ERRNOS ? local_stat_errno_values[i] : 0;
}

uint64_t local_stat_lat_bound_ns(unsigned int i)
{
	return i < LOCAL_STAT_LAT_BUCKETS ? local_stat_lat_bounds_ns[i]
					  : UINT64_MAX;
}

static unsigned int local_stat_errno_slot(int err)
{
	unsigned int i;

	for (i = 0; i < LOCAL_STAT_ERRNOS - 1; i++)
		if (local_stat_errno_values[i] == err)
			break;
	return i;
}

static unsigned int local_stat_lat_slot(uint64_t ns)
{
	unsigned int i = 0;

	while (ns > local_stat_lat_bounds_ns[i])
		i++; /* the last bound is UINT64_MAX */
	return i;
}

void local_stats_end(struct local_stats_live *live, unsigned int op,
		     uint64_t len, int result, uint64_t start_ns)
{
	uint64_t now = local_stats_now_ns();
	uint64_t ns = now > start_ns ? now - start_ns : 0;

	if (result < 0) {
		local_stat_add(&live->errors[op], 1);
		local_stat_add(&live->errnos[local_stat_errno_slot(-result)],
			       1);
	} else {
		local_stat_add(&live->bytes[op], len);
	}
	local_stat_add(&live->lat_buckets[local_stat_lat_slot(ns)], 1);
	local_stat_add(&live->lat_sum_ns, ns);
	atomic_store_explicit(
		&live->inflight,
		atomic_load_explicit(&live->inflight, memory_order_relaxed) - 1,
		memory_order_relaxed);
}

static struct local_stats_dev *local_stats_dev_get(const char *iop_name,
						   const char *dev_name)
{
	struct local_stats_dev *d;

	for (d = local_stats_devs; d; d = d->next)
		if (!strcmp(d->iop_name, iop_name) &&
		    !strcmp(d->dev_name, dev_name))
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->iop_name = strdup(iop_name);
	d->dev_name = strdup(dev_name);
	if (!d->iop_name || !d->dev_name) {
		free(d->iop_name);
		free(d->dev_name);
		free(d);
		return NULL;
	}
	d->live.next = d->live.prev = &d->live;
	/* Appended, so readers list devices in the order they appeared. */
	struct local_stats_dev **tail = &local_stats_devs;

	while (*tail)
		tail = &(*tail)->next;
	*tail = d;
	return d;
}

int local_stats_session_open(const char *iop_name, const char *dev_name,
			     struct local_stats_live **livep)
{
	struct local_stats_live *live = calloc(1, sizeof(*live));
	struct local_stats_dev *d;

	if (!live)
		return -ENOMEM;
	pthread_mutex_lock(&local_stats_lock);
	d = local_stats_dev_get(iop_name, dev_name);
	if (d) {
		live->dev = d;
		live->next = d->live.next;
		live->prev = &d->live;
		d->live.next->prev = live;
		d->live.next = live;
		d->sessions_open++;
		d->sessions_total++;
	}
	pthread_mutex_unlock(&local_stats_lock);
	if (!d) {
		free(live);
		return -ENOMEM;
	}
	*livep = live;
	return 0;
}

void local_stats_wb_set(const char *iop_name, const char *dev_name, int err)
{
	struct local_stats_dev *d;

	pthread_mutex_lock(&local_stats_lock);
	/* Healthy needs no record: a device appears once it had a session
	 * or an error. */
	for (d = local_stats_devs; d && !err; d = d->next)
		if (!strcmp(d->iop_name, iop_name) &&
		    !strcmp(d->dev_name, dev_name))
			d->wb_error = 0;
	d = err ? local_stats_dev_get(iop_name, dev_name) : NULL;
	if (d) {
		d->wb_errors++;
		if (!d->wb_error)
			d->wb_error = err;
	}
	pthread_mutex_unlock(&local_stats_lock);
}

#define LOCAL_STATS_ARRAYS(X)                                                  \
	X(requests) X(bytes) X(errors) X(errnos) X(lat_buckets)

static void local_stats_sum(struct local_stats *sum,
			    const struct local_stats_live *live)
{
#define LOCAL_STATS_SUM_ARRAY(f)                                               \
	for (size_t i = 0; i < sizeof(sum->f) / sizeof(sum->f[0]); i++)        \
		sum->f[i] += atomic_load_explicit(&live->f[i],                 \
						  memory_order_relaxed);
	LOCAL_STATS_ARRAYS(LOCAL_STATS_SUM_ARRAY)
#undef LOCAL_STATS_SUM_ARRAY
	sum->inflight +=
		atomic_load_explicit(&live->inflight, memory_order_relaxed);
	sum->lat_sum_ns +=
		atomic_load_explicit(&live->lat_sum_ns, memory_order_relaxed);
}

void local_stats_session_close(struct local_stats_live *live)
{
	struct local_stats_dev *d;

	if (!live)
		return;
	d = live->dev;
	pthread_mutex_lock(&local_stats_lock);
	/* Nothing is in flight on a closing session. */
	local_stats_sum(&d->closed, live);
	d->closed.inflight = 0;
	live->prev->next = live->next;
	live->next->prev = live->prev;
	d->sessions_open--;
	pthread_mutex_unlock(&local_stats_lock);
	free(live);
}

void local_stats_foreach(void (*fn)(void *opaque, const char *iop_name,
				    const char *dev_name,
				    const struct local_stats *stats),
			 void *opaque)
{
	struct local_stats sum;

	pthread_mutex_lock(&local_stats_lock);
	for (struct local_stats_dev *d = local_stats_devs; d; d = d->next) {
		sum = d->closed;
		for (struct local_stats_live *l = d->live.next; l != &d->live;
		     l = l->next)
			local_stats_sum(&sum, l);
		sum.sessions_open = d->sessions_open;
		sum.sessions_total = d->sessions_total;
		sum.wb_error = d->wb_error;
		sum.wb_errors = d->wb_errors;
		fn(opaque, d->iop_name, d->dev_name, &sum);
	}
	pthread_mutex_unlock(&local_stats_lock);
}
