/* SPDX-License-Identifier: MIT */
/*
 * Private to the Local Transport: a session's live counters (see
 * iopd/local_stats.h for the design) and the send handler's hooks.
 */
#ifndef IOPD_LOCAL_STATS_PRIV_H
#define IOPD_LOCAL_STATS_PRIV_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "iopd/local_stats.h"

struct local_stats_dev;

/* One per session; written only by the session's worker thread. */
struct local_stats_live {
	struct local_stats_live *prev, *next; /* the device's sessions */
	struct local_stats_dev *dev;
	_Atomic uint64_t requests[LOCAL_STAT_OPS];
	_Atomic uint64_t bytes[LOCAL_STAT_OPS];
	_Atomic uint64_t errors[LOCAL_STAT_OPS];
	_Atomic uint64_t errnos[LOCAL_STAT_ERRNOS];
	_Atomic uint64_t inflight;
	_Atomic uint64_t lat_buckets[LOCAL_STAT_LAT_BUCKETS];
	_Atomic uint64_t lat_sum_ns;
};

/* Session open and close (not the data path): register the session's
 * counters under its device's names, and fold them into the device's
 * totals.  Returns 0 or -ENOMEM. */
int local_stats_session_open(const char *iop_name, const char *dev_name,
			     struct local_stats_live **livep);
void local_stats_session_close(struct local_stats_live *live);

/* The single writer's increment: a relaxed load and store, which other
 * threads may read at any time without tearing. */
static inline void local_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline uint64_t local_stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A request arrives (op < LOCAL_STAT_OPS); returns its start time. */
static inline uint64_t local_stats_begin(struct local_stats_live *live,
					 unsigned int op)
{
	local_stat_add(&live->requests[op], 1);
	local_stat_add(&live->inflight, 1);
	return local_stats_now_ns();
}

/* A flush or FUA write of the device failed (err), or an operator
 * cleared that state (err 0) on the device called iop_name/dev_name, so
 * the metrics show it degraded or healthy.  Rare: takes the lock. */
void local_stats_wb_set(const char *iop_name, const char *dev_name, int err);

/* The request begun at start_ns ends with result (0 or -errno). */
void local_stats_end(struct local_stats_live *live, unsigned int op,
		     uint64_t len, int result, uint64_t start_ns);

#endif
