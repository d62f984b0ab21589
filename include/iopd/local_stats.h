/* SPDX-License-Identifier: MIT */
/*
 * Request statistics kept by the Local Transport's send handler, and how
 * the management channel reads them.
 *
 * Every session (one client connection on one device) owns its counters
 * and is their only writer: the send handler updates them on the session's
 * worker thread with relaxed atomic loads and stores, no lock and no
 * read-modify-write instruction, so counting costs the data path a few
 * plain memory operations.  Readers (the metrics endpoint, the stats RPC)
 * sum them per device under a lock that only session open and close take;
 * a closing session folds its counters into its device's totals, so
 * counters never go backwards (Prometheus counter semantics).
 *
 * Devices are identified by IOP and device name; a device that is removed
 * and added again under the same names continues its counters.
 */
#ifndef IOPD_LOCAL_STATS_H
#define IOPD_LOCAL_STATS_H

#include <stdint.h>

#include "iopd/ddm.h"

/* Operations counted: the DDM operations, by enum ddm_op value. */
#define LOCAL_STAT_OPS DDM_OP_COUNT

/* Errors are counted by errno for these values; anything else is "other"
 * (the last slot). */
#define LOCAL_STAT_ERRNOS 10

/* Latency histogram: upper bounds in nanoseconds of the first
 * LOCAL_STAT_LAT_BUCKETS - 1 buckets; the last bucket is +Inf. */
#define LOCAL_STAT_LAT_BUCKETS 18

struct local_stats {
	uint64_t requests[LOCAL_STAT_OPS]; /* submitted, failed ones too */
	uint64_t bytes[LOCAL_STAT_OPS];	   /* of requests that succeeded */
	uint64_t errors[LOCAL_STAT_OPS];   /* requests that failed */
	uint64_t errnos[LOCAL_STAT_ERRNOS];
	uint64_t inflight;
	/* Non-cumulative counts per bucket (a reader accumulates them for
	 * Prometheus' "le" buckets); their sum is the number of completed
	 * requests, lat_sum_ns their total latency. */
	uint64_t lat_buckets[LOCAL_STAT_LAT_BUCKETS];
	uint64_t lat_sum_ns;
	uint64_t sessions_open;
	uint64_t sessions_total;
	/* The device's sticky write-back error (-errno; 0: healthy) and
	 * how many flushes or FUA writes failed with one, in total. */
	int wb_error;
	uint64_t wb_errors;
};

/* "read", "write", "flush", "trim", "write_zeroes", "cache". */
const char *local_stat_op_name(unsigned int op);
/* The errno counted in slot i, or 0 for the last ("other") slot. */
int local_stat_errno(unsigned int i);
/* Upper bound of bucket i in nanoseconds; UINT64_MAX for the last. */
uint64_t local_stat_lat_bound_ns(unsigned int i);

/*
 * Call fn once per device that ever had a session, with the sum of its
 * live sessions' counters and its closed sessions' totals.  Any thread;
 * fn runs with the statistics lock held and must not open or close
 * sessions.
 */
void local_stats_foreach(void (*fn)(void *opaque, const char *iop_name,
				    const char *dev_name,
				    const struct local_stats *stats),
			 void *opaque);

#endif
