/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP producer for unit tests.  Each TEST_CASE prints "ok N - name"
 * or "not ok N - name"; tests/run.sh adds them up.  CHECK() records a
 * failure with file and line and keeps going, so one run shows every
 * broken assertion.
 */
#ifndef IOPD_TEST_H
#define IOPD_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_case_no;
static int test_case_failed;
static int test_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stdout, "#   %s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                    \
			test_case_failed = 1;                                  \
		}                                                              \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                     \
	do {                                                                   \
		long long va_ = (long long)(a), vb_ = (long long)(b);          \
		if (va_ != vb_) {                                              \
			fprintf(stdout, "#   %s:%d: %s == %lld, want %lld\n",  \
				__FILE__, __LINE__, #a, va_, vb_);             \
			test_case_failed = 1;                                  \
		}                                                              \
	} while (0)

static inline void test_run(const char *name, void (*fn)(void))
{
	test_case_failed = 0;
	fn();
	test_case_no++;
	printf("%s %d - %s\n", test_case_failed ? "not ok" : "ok", test_case_no,
	       name);
	fflush(stdout);
	if (test_case_failed)
		test_failures++;
}

#define TEST_CASE(fn) test_run(#fn, fn)

static inline int test_done(void)
{
	printf("1..%d\n", test_case_no);
	return test_failures ? 1 : 0;
}

#endif
