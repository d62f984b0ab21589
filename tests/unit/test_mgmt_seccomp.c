// SPDX-License-Identifier: MIT
/*
 * The system call filter (mgmt_seccomp.c), installed in a forked child so
 * the test process stays free: a call iopd never makes (mount, reboot's
 * cousin swapoff, ptrace outside debug builds) fails with EPERM under
 * the release action and kills the child with SIGABRT, after a line
 * naming the call, under the debug one; the calls iopd does make keep
 * working.  Skipped where seccomp is not available.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/ptrace.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mgmt/mgmt_privs.h"
#include "test.h"

/* Child: install with deny, run what, exit with its errno (0: success);
 * or the signal that killed it.  Returns the wait status. */
static int in_child(enum mgmt_seccomp_deny deny, int (*what)(void), char *err,
		    size_t err_len)
{
	int pipefd[2], status = 0;
	size_t at = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    mgmt_seccomp_install(deny) < 0)
			_exit(100);
		_exit(what());
	}
	close(pipefd[1]);
	while (at < err_len - 1 &&
	       (n = read(pipefd[0], err + at, err_len - 1 - at)) > 0)
		at += (size_t)n;
	err[at] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return status;
}

static int do_mount(void)
{
	/* Without the filter: ENOENT (or EPERM without root). */
	if (mount("none", "/nonexistent-iopd-test", "tmpfs", 0, NULL) == 0)
		return 0;
	return errno;
}

static int do_swapoff(void)
{
	return swapoff("/nonexistent-iopd-test") == 0 ? 0 : errno;
}

/* What iopd does all day. */
static int do_allowed(void)
{
	char buf[8];
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0 || write(fd, "x", 1) != 1 || read(fd, buf, 1) != 0 ||
	    getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		return errno ? errno : 1;
	close(fd);
	return 0;
}

static void test_release_eperm(void)
{
	char err[512];
	int st = in_child(MGMT_SECCOMP_EPERM, do_mount, err, sizeof(err));

	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), EPERM);
	st = in_child(MGMT_SECCOMP_EPERM, do_swapoff, err, sizeof(err));
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), EPERM);
}

static void test_debug_abort(void)
{
	char err[512], want[64];
	int st = in_child(MGMT_SECCOMP_ABORT, do_mount, err, sizeof(err));

	CHECK(WIFSIGNALED(st));
	CHECK_EQ_INT(WIFSIGNALED(st) ? WTERMSIG(st) : 0, SIGABRT);
	snprintf(want, sizeof(want), "system call %d denied", SYS_mount);
	CHECK(strstr(err, want) != NULL);
	if (!strstr(err, want))
		printf("#   stderr: %s\n", err);
}

static void test_allowed(void)
{
	char err[512];
	int st = in_child(MGMT_SECCOMP_ABORT, do_allowed, err, sizeof(err));

	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
}

int main(void)
{
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
		printf("1..0 # SKIP seccomp not available\n");
		return 0;
	}
	TEST_CASE(test_release_eperm);
	TEST_CASE(test_debug_abort);
	TEST_CASE(test_allowed);
	return test_done();
}
