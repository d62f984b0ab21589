// SPDX-License-Identifier: MIT
/*
 * Descriptor limit, reserve and accept back-off (base_fdlimit.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/base_fdlimit.h"
#include "base/base_log.h"

/* The lowest descriptor number of the reserve; 0: no reserve. */
static atomic_long base_fd_reserve_start;

unsigned long base_fd_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = old;
	}
	return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)1 << 20
					    : (unsigned long)rl.rlim_cur;
}

void base_fd_reserve_set(unsigned int n)
{
	struct rlimit rl;
	unsigned long limit;

	if (n == 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		atomic_store(&base_fd_reserve_start, 0);
		return;
	}
	limit = rl.rlim_cur == RLIM_INFINITY ? (unsigned long)1 << 20
					     : (unsigned long)rl.rlim_cur;
	if (n > limit / 4)
		n = (unsigned int)(limit / 4);
	atomic_store(&base_fd_reserve_start, (long)(limit - n));
}

bool base_fd_in_reserve(int fd)
{
	long start = atomic_load(&base_fd_reserve_start);

	/* Descriptors are handed out lowest first: a client given one
	 * this high means fewer than the reserve are left free. */
	return start > 0 && fd >= start;
}

uint64_t base_fd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool base_fd_exhausted(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM;
}

unsigned int base_fd_pause_hit(struct base_fd_pause *p, const char *what,
			       int err)
{
	uint64_t now = base_fd_now_ns();

	p->refused++;
	if (now >= p->next_log_ns) {
		log_warn(
			"%s: out of descriptors (%s): %llu client(s) refused "
			"or delayed since the last report (see \"Descriptors\" "
			"in doc/security.md)",
			what, err ? strerrorname_np(err) : "reserve reached",
			(unsigned long long)p->refused);
		p->refused = 0;
		p->next_log_ns =
			now + (uint64_t)BASE_FD_LOG_INTERVAL_MS * 1000000u;
	}
	if (!err)
		return 0; /* the client was closed: the backlog moved on */
	p->backoff_ms =
		p->backoff_ms ? p->backoff_ms * 2 : BASE_FD_BACKOFF_MIN_MS;
	if (p->backoff_ms > BASE_FD_BACKOFF_MAX_MS)
		p->backoff_ms = BASE_FD_BACKOFF_MAX_MS;
	return p->backoff_ms;
}

void base_fd_pause_clear(struct base_fd_pause *p)
{
	p->backoff_ms = 0;
}
