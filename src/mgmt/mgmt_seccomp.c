// SPDX-License-Identifier: MIT
/*
 * The system call filter (mgmt_privs.h): after start-up iopd serves
 * sockets, files and block devices it already knows how to reach, so
 * everything else -- execve, ptrace, mount, module loading, keyrings,
 * bpf, namespaces, changing ids -- is refused.  The list holds what iopd
 * and its libraries call once running: glibc (threads, memory, time,
 * getaddrinfo on a reload), liburing, libmicrohttpd, jansson, libsystemd
 * (sd_notify and the journal: sendmsg on a Unix socket, memfd_create for
 * long entries), GnuTLS/nettle (getrandom), and the sanitizers in
 * IOPD_DEBUG builds.  It was collected with strace -f -c over the
 * integration suites; a call missing here shows as an abort with its
 * number in the debug build (tests/run.sh runs one).
 *
 * io_uring: requests run by the kernel (and its iou-wrk threads) are not
 * system calls and pass no filter; only io_uring_setup/enter/register
 * are checked.  Landlock still applies to what they open.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_privs.h"

static const char *const mgmt_seccomp_allowed[] = {
	/* I/O on descriptors */
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"preadv",
	"pwritev",
	"preadv2",
	"pwritev2",
	"lseek",
	"sendfile",
	"splice",
	"copy_file_range",
	"fsync",
	"fdatasync",
	"sync_file_range",
	"fallocate",
	"ftruncate",
	"fadvise64",
	"ioctl",
	"fcntl",
	"close",
	"close_range",
	"dup",
	"dup2",
	"dup3",
	"pipe",
	"pipe2",
	"flock",
	/* files: exports, save-config, the pid file, discovery */
	"openat",
	"open",
	"openat2",
	"newfstatat",
	"fstat",
	"stat",
	"lstat",
	"statx",
	"statfs",
	"fstatfs",
	"readlink",
	"readlinkat",
	"getdents64",
	"getcwd",
	"access",
	"faccessat",
	"faccessat2",
	"unlink",
	"unlinkat",
	"rename",
	"renameat",
	"renameat2",
	"fchmod",
	"umask",
	"memfd_create",
	/* event loops and timers */
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"poll",
	"ppoll",
	"select",
	"pselect6",
	"eventfd",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"signalfd",
	"signalfd4",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	/* sockets */
	"socket",
	"socketpair",
	"bind",
	"listen",
	"accept",
	"accept4",
	"connect",
	"getsockname",
	"getpeername",
	"getsockopt",
	"setsockopt",
	"shutdown",
	"sendto",
	"recvfrom",
	"sendmsg",
	"recvmsg",
	"sendmmsg",
	"recvmmsg",
	/* memory */
	"brk",
	"mmap",
	"munmap",
	"mremap",
	"mprotect",
	"madvise",
	"mincore",
	"membarrier",
	/* threads, signals, time */
	"clone",
	"clone3",
	"exit",
	"exit_group",
	"futex",
	"futex_waitv",
	"set_robust_list",
	"get_robust_list",
	"rseq",
	"set_tid_address",
	"gettid",
	"getpid",
	"getppid",
	"tgkill",
	"tkill",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigtimedwait",
	"sigaltstack",
	"restart_syscall",
	"sched_yield",
	"sched_getaffinity",
	"sched_setaffinity",
	"sched_getparam",
	"sched_getscheduler",
	"nanosleep",
	"clock_nanosleep",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	"prctl",
	"arch_prctl",
	/* identity and limits (reads only) */
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getgroups",
	"getresuid",
	"getresgid",
	"uname",
	"getrlimit",
	"prlimit64",
	"getrusage",
	"sysinfo",
	"times",
	"getrandom",
};

#if defined(__SANITIZE_ADDRESS__) || defined(IOPD_DEBUG)
/* AddressSanitizer's and LeakSanitizer's own: LeakSanitizer stops the
 * threads from a helper it clones and ptrace()s them at exit; a report
 * runs the symbolizer.  Debug builds only. */
static const char *const mgmt_seccomp_debug_allowed[] = {
	"ptrace",   "wait4",  "waitid",	  "kill",      "fork",	"vfork",
	"getdents", "execve", "execveat", "setrlimit", "mlock", "munlock",
};
#endif

/* SCMP_ACT_TRAP: the kernel sends SIGSYS with the number of the call.
 * Only async-signal-safe calls here; write and abort are allowed. */
static size_t mgmt_seccomp_append(char *buf, size_t at, const char *s)
{
	while (*s)
		buf[at++] = *s++;
	return at;
}

static void mgmt_seccomp_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[128], num[16];
	int n = si->si_syscall, len = 0;
	size_t at = mgmt_seccomp_append(msg, 0, "iopd: seccomp: system call ");

	do {
		num[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n && len < (int)sizeof(num));
	while (len)
		msg[at++] = num[--len];
	at = mgmt_seccomp_append(msg, at,
				 " denied (ausyscall names it); "
				 "aborting\n");
	if (write(2, msg, at) < 0) {
		/* nowhere left to say it */
	}
	abort();
}

static int mgmt_seccomp_allow(scmp_filter_ctx ctx, const char *const *names,
			      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int ret;

		/* Calls this architecture does not have (open on arm64). */
		if (nr == __NR_SCMP_ERROR)
			continue;
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (ret < 0) {
			log_error("seccomp: allowing %s: %s", names[i],
				  strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int mgmt_seccomp_build(scmp_filter_ctx ctx)
{
	int ret;

	/* Every thread, including the metrics endpoint's, which already
	 * runs; it fails rather than leave one out. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret < 0)
		return ret;
	ret = mgmt_seccomp_allow(ctx, mgmt_seccomp_allowed,
				 sizeof(mgmt_seccomp_allowed) /
					 sizeof(mgmt_seccomp_allowed[0]));
#if defined(__SANITIZE_ADDRESS__) || defined(IOPD_DEBUG)
	if (ret == 0)
		ret = mgmt_seccomp_allow(
			ctx, mgmt_seccomp_debug_allowed,
			sizeof(mgmt_seccomp_debug_allowed) /
				sizeof(mgmt_seccomp_debug_allowed[0]));
#endif
	return ret;
}

int mgmt_seccomp_install(enum mgmt_seccomp_deny deny)
{
	struct sigaction sa = { .sa_sigaction = mgmt_seccomp_sigsys,
				.sa_flags = SA_SIGINFO };
	uint32_t action = SCMP_ACT_ERRNO(EPERM);
	scmp_filter_ctx ctx;
	int ret;

	if (deny == MGMT_SECCOMP_ABORT) {
		action = SCMP_ACT_TRAP;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return -errno;
	}
	ctx = seccomp_init(action);
	if (!ctx) {
		log_error("seccomp: cannot start a filter");
		return -ENOMEM;
	}
	ret = mgmt_seccomp_build(ctx);
	if (ret == 0)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret < 0) {
		log_error("seccomp: installing the filter: %s",
			  strerror(ret == -ESRCH ? EBUSY : -ret));
		return ret;
	}
	log_info("seccomp: %zu system calls allowed, others %s",
		 sizeof(mgmt_seccomp_allowed) / sizeof(mgmt_seccomp_allowed[0]),
		 deny == MGMT_SECCOMP_ABORT ? "abort" : "fail with EPERM");
	return 0;
}
