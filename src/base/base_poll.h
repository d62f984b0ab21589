/* SPDX-License-Identifier: MIT */
/*
 * base_poll: the governor that decides whether a loop busy polls.
 * Polling pays only when it makes clients send requests sooner: a client
 * that waits for each reply before it sends the next (queue depth 1)
 * does, because the wake-up a sleeping worker costs is part of every
 * round trip; a client that sends at a pace of its own (a rate limit, a
 * steady stream of independent requests) does not, and there polling
 * would spin through every gap between requests.  The governor tells the
 * two apart by trying: the loop runs in epochs, mostly in the mode it
 * has settled on, now and then one epoch in the other mode, and it
 * compares how much work gets done per second in that epoch with the
 * settled epochs on either side, when those two agree (the load was
 * steady).  Work is bytes moved, not operations
 * completed: at a fixed offered load, polling picks each request up as it
 * arrives, one receive and one send per request instead of one for
 * several, so it completes more operations per second for the same
 * requests, and judged by operations it would win every probe and spin
 * through every gap.  Polling is adopted only when it
 * raises that rate clearly in two probes in a row, and given up as soon
 * as sleeping does as well.  A probe that changes nothing is tried less and
 * less often, so an experiment costs a fraction of a percent of a core.
 *
 * Pure bookkeeping: base_loop.c feeds it the clock and its completion
 * count; the unit test feeds it made-up ones.
 */
#ifndef IOPD_BASE_POLL_H
#define IOPD_BASE_POLL_H

#include <stdbool.h>
#include <stdint.h>

/* An epoch is at least this long and counts at least this many
 * completions, so a rate is not judged on a handful of events. */
#define BASE_POLL_EPOCH_NS     (10u * 1000 * 1000)
#define BASE_POLL_EPOCH_EVENTS 200u
/* An epoch that had fewer events after this long is too quiet to judge. */
#define BASE_POLL_EPOCH_MAX_NS (200u * 1000 * 1000)
/* Settled epochs between two probes: from the first to the last, doubling
 * after every probe that changed nothing. */
#define BASE_POLL_PROBE_FIRST 4u
#define BASE_POLL_PROBE_LAST  256u
/* Polling must raise the completion rate by this many percent to be
 * adopted, and is given up when sleeping comes within the smaller one. */
#define BASE_POLL_GAIN_PCT 10u
#define BASE_POLL_KEEP_PCT 5u
/* A polling probe is judged only when the settled epochs on either side
 * of it agree within this many percent: the load was steady. */
#define BASE_POLL_STEADY_PCT 20u
/* A load that halves or doubles for this many settled epochs in a row is
 * probed again at once (two while polling, where the probe sleeps). */
#define BASE_POLL_FAR_EPOCHS 3u

enum base_poll_phase {
	BASE_POLL_SETTLED, /* running in the settled mode */
	BASE_POLL_PROBE,   /* one epoch in the other mode */
	BASE_POLL_CONFIRM, /* one settled epoch after the probe */
};

struct base_poll {
	bool settled_spin; /* the mode the governor has settled on */
	bool spin;	   /* the mode of the current epoch */
	enum base_poll_phase phase;
	uint64_t epoch_start_ns;
	uint64_t epoch_start_count, epoch_start_work;
	/* Work (bytes) per second: the settled epoch before the probe, the
	 * probe, and the rate when the mode was last decided. */
	uint64_t rate_before, rate_probe, rate_decided;
	unsigned int countdown; /* settled epochs until the next probe */
	unsigned int interval;	/* countdown after a probe */
	unsigned int wins;	/* probes polling has won in a row */
	/* Settled epochs in a row far from rate_decided, and which way:
	 * 1 above, -1 below. */
	unsigned int far;
	int far_way;
	uint64_t probes, switches; /* for tests and curiosity */
};

void base_poll_init(struct base_poll *p, uint64_t now_ns, uint64_t count,
		    uint64_t work);
/*
 * The loop is about to wait at now_ns, count completions delivered and
 * work bytes moved so far.  Returns whether it should poll rather than
 * sleep.
 */
bool base_poll_tick(struct base_poll *p, uint64_t now_ns, uint64_t count,
		    uint64_t work);

#endif
