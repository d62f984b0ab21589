/* SPDX-License-Identifier: MIT */
/*
 * IOPD_NEVER(cond), for states our own code makes impossible (SQLite's
 * NEVER()): where the code can still survive such a state, it tests
 *
 *	if (IOPD_NEVER(slot->state != NBD_SLOT_INFLIGHT))
 *		return;
 *
 * In debug builds (IOPD_DEBUG, which `make SAN=1` sets: the sanitizer
 * build every test pass runs) a true cond logs where and aborts, so the
 * tests find the bug.  In release builds it is just cond, so a daemon
 * that meets the impossible survives it as it did before.  Never for what
 * a peer or an operator sends: that is input, and is refused, not
 * asserted.
 */
#ifndef IOPD_BASE_ASSERT_H
#define IOPD_BASE_ASSERT_H

#include <stdbool.h>
#include <stdlib.h>

#include "base/base_log.h"

/* A function, not an expression, so "IOPD_NEVER(true);" alone in a
 * switch's impossible default is a statement without a warning. */
static inline bool base_never(bool happened, const char *cond, const char *file,
			      int line)
{
#ifdef IOPD_DEBUG
	if (__builtin_expect(happened, 0)) {
		base_log(BASE_LOG_ERROR, "%s:%d: IOPD_NEVER(%s) happened", file,
			 line, cond);
		abort();
	}
#endif
	return __builtin_expect(happened, 0);
}

#define IOPD_NEVER(cond) base_never(!!(cond), #cond, __FILE__, __LINE__)

#endif
