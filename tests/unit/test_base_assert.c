// SPDX-License-Identifier: MIT
/*
 * IOPD_NEVER: a false condition is 0 everywhere and has no effect; a true
 * one is 1 in release builds (the code survives it) and, in debug builds
 * (IOPD_DEBUG, make SAN=1), logs the condition and aborts, shown in a
 * child process.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base_assert.h"
#include "test.h"

static int evaluated;

static bool count(bool v)
{
	evaluated++;
	return v;
}

static void test_false(void)
{
	evaluated = 0;
	CHECK_EQ_INT(IOPD_NEVER(count(false)), 0);
	CHECK_EQ_INT(evaluated, 1); /* cond is evaluated exactly once */
	CHECK_EQ_INT(IOPD_NEVER(0), 0);
}

static void test_true(void)
{
	pid_t pid;
	int status;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Quiet: the child's log line is expected. */
		base_log_set_level(BASE_LOG_ERROR);
		_exit(IOPD_NEVER(count(true)) == 1 ? 0 : 2);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
#ifdef IOPD_DEBUG
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
}

int main(void)
{
	TEST_CASE(test_false);
	TEST_CASE(test_true);
	return test_done();
}
