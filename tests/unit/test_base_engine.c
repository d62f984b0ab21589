// SPDX-License-Identifier: MIT
/*
 * Engine selection: names and parsing (IOPD_ENGINE, --engine), auto
 * picking io_uring where it works, and auto falling back to epoll, with
 * one warning, where a seccomp filter refuses io_uring_setup as a
 * locked-down container would.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base_loop.h"
#include "test.h"

static void test_parse_and_names(void)
{
	enum base_engine e;

	CHECK(base_engine_parse("auto", &e) == 0 && e == BASE_ENGINE_AUTO);
	CHECK(base_engine_parse("uring", &e) == 0 && e == BASE_ENGINE_URING);
	CHECK(base_engine_parse("io_uring", &e) == 0 && e == BASE_ENGINE_URING);
	CHECK(base_engine_parse("epoll", &e) == 0 && e == BASE_ENGINE_EPOLL);
	CHECK(base_engine_parse("fallback", &e) == 0 && e == BASE_ENGINE_EPOLL);
	CHECK_EQ_INT(base_engine_parse("kqueue", &e), -EINVAL);
	CHECK_EQ_INT(base_engine_parse("", &e), -EINVAL);
	CHECK_EQ_INT(base_engine_parse(NULL, &e), -EINVAL);
	CHECK(strcmp(base_engine_name(BASE_ENGINE_AUTO), "auto") == 0);
	CHECK(strcmp(base_engine_name(BASE_ENGINE_URING), "io_uring") == 0);
	CHECK(strcmp(base_engine_name(BASE_ENGINE_EPOLL), "epoll") == 0);
}

static void test_auto_prefers_uring(void)
{
	struct base_loop *loop = NULL;

	/* The test machines have io_uring; auto must pick it. */
	CHECK_EQ_INT(base_loop_create(&loop, BASE_ENGINE_AUTO, 0), 0);
	if (loop)
		CHECK_EQ_INT(base_loop_engine(loop), BASE_ENGINE_URING);
	base_loop_destroy(loop);
}

static int deny_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Child: exit status says what happened; stderr goes to the pipe. */
static int fallback_child(void)
{
	struct base_loop *a = NULL, *b = NULL;
	int ret = 0;

	if (deny_io_uring() < 0)
		return 10;
	if (base_loop_create(&a, BASE_ENGINE_URING, 0) != -EPERM)
		ret = 11;
	else if (base_loop_create(&a, BASE_ENGINE_AUTO, 0) < 0 ||
		 base_loop_create(&b, BASE_ENGINE_AUTO, 0) < 0)
		ret = 12;
	else if (base_loop_engine(a) != BASE_ENGINE_EPOLL ||
		 base_loop_engine(b) != BASE_ENGINE_EPOLL)
		ret = 13;
	base_loop_destroy(a);
	base_loop_destroy(b);
	return ret;
}

static void test_auto_falls_back(void)
{
	char log[2048] = "", *first;
	int p[2], status = -1;
	ssize_t n, got = 0;
	pid_t pid;

	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		_exit(fallback_child());
	}
	close(p[1]);
	while ((n = read(p[0], log + got, sizeof(log) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
	first = strstr(log, "io_uring unavailable (Operation not permitted), "
			    "using the epoll fallback engine");
	CHECK(first != NULL);
	/* Once per process, not once per loop. */
	if (first)
		CHECK(strstr(first + 1, "io_uring unavailable") == NULL);
}

int main(void)
{
	TEST_CASE(test_parse_and_names);
	TEST_CASE(test_auto_prefers_uring);
	TEST_CASE(test_auto_falls_back);
	return test_done();
}
