/* SPDX-License-Identifier: MIT */
/*
 * base_fdlimit: living with a descriptor limit.  The soft RLIMIT_NOFILE
 * is raised to the hard one at start; the top of the range is kept as a
 * reserve that client connections may not hold, so the management
 * channel and the metrics endpoint still get descriptors while clients
 * have taken all the others; and an accept that fails for want of
 * descriptors backs off and logs once per interval with a count, instead
 * of retrying (and logging) at once.
 */
#ifndef IOPD_BASE_FDLIMIT_H
#define IOPD_BASE_FDLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define BASE_FD_RESERVE_DEFAULT 32
#define BASE_FD_BACKOFF_MIN_MS	10
#define BASE_FD_BACKOFF_MAX_MS	1000
#define BASE_FD_LOG_INTERVAL_MS 10000

/* Raise the soft descriptor limit to the hard one and remember it.
 * Returns the soft limit now in force.  Main thread, at start. */
unsigned long base_fd_limit_raise(void);
/* Keep this many descriptors (the highest numbers) away from client
 * connections; clamped to a quarter of the limit.  Main thread, at
 * start; read by any thread afterwards. */
void base_fd_reserve_set(unsigned int n);
/* fd, just accepted for a client, lies in the reserve: close it. */
bool base_fd_in_reserve(int fd);

/* An accept path's state while descriptors run out.  Zero-initialised;
 * one per accepting thread (no locking). */
struct base_fd_pause {
	unsigned int backoff_ms; /* 0: accepting normally */
	uint64_t refused;	 /* since the last log line */
	uint64_t next_log_ns;
};

/* accept returned -err (or a client landed in the reserve, err = 0):
 * count it, log at most once per BASE_FD_LOG_INTERVAL_MS naming what,
 * and return how long to stop accepting (0: go on at once). */
unsigned int base_fd_pause_hit(struct base_fd_pause *p, const char *what,
			       int err);
/* An accept succeeded: back to normal. */
void base_fd_pause_clear(struct base_fd_pause *p);
/* err is one that more descriptors would cure. */
bool base_fd_exhausted(int err);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t base_fd_now_ns(void);

#endif
