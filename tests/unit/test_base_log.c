// SPDX-License-Identifier: MIT
/*
 * base_log: level names, filtering, and the one-line "iopd[pid]: level:"
 * format on stderr (captured through a pipe).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "test.h"

static void test_parse_level(void)
{
	enum base_log_level l;

	CHECK(base_log_parse_level("error", &l) == 0 && l == BASE_LOG_ERROR);
	CHECK(base_log_parse_level("warn", &l) == 0 && l == BASE_LOG_WARN);
	CHECK(base_log_parse_level("warning", &l) == 0 && l == BASE_LOG_WARN);
	CHECK(base_log_parse_level("INFO", &l) == 0 && l == BASE_LOG_INFO);
	CHECK(base_log_parse_level("debug", &l) == 0 && l == BASE_LOG_DEBUG);
	CHECK_EQ_INT(base_log_parse_level("loud", &l), -EINVAL);
	CHECK_EQ_INT(base_log_parse_level("", &l), -EINVAL);
	CHECK_EQ_INT(base_log_parse_level(NULL, &l), -EINVAL);
}

/* Runs fn with stderr redirected into buf. */
static void capture(void (*fn)(void), char *buf, size_t len)
{
	int p[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	CHECK(pipe(p) == 0);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(p[0], buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
}

static void log_some(void)
{
	errno = EXDEV;
	log_warn("disk %s is %d%% full", "vda", 93);
	CHECK_EQ_INT(errno, EXDEV);
	log_info("hidden");
	log_debug("hidden too");
	log_error("shown");
}

static void test_format_and_filter(void)
{
	char buf[512], want[256];

	CHECK_EQ_INT(base_log_get_level(), BASE_LOG_INFO);
	base_log_set_level(BASE_LOG_WARN);
	capture(log_some, buf, sizeof(buf));
	snprintf(want, sizeof(want),
		 "iopd[%d]: warn: disk vda is 93%% full\n"
		 "iopd[%d]: error: shown\n",
		 (int)getpid(), (int)getpid());
	CHECK(strcmp(buf, want) == 0);
	base_log_set_level(BASE_LOG_INFO);
}

static void log_long(void)
{
	char big[4000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_error("%s", big);
}

static void test_truncated_line_ends_in_newline(void)
{
	char buf[8192];
	size_t n;

	capture(log_long, buf, sizeof(buf));
	n = strlen(buf);
	CHECK(n > 100 && n < 2000);
	CHECK(n > 0 && buf[n - 1] == '\n');
	CHECK(strchr(buf, '\n') == buf + n - 1);
}

/* Peer text: no control byte, no raw escape, bounded, backslash doubled. */
static void test_escape(void)
{
	char buf[BASE_LOG_ESC_BYTES], small[12], big[1000];
	const char *r;

	r = base_log_escape(buf, sizeof(buf), "iqn.x\nerror: forged\x1b[2J");
	CHECK(strcmp(r, "iqn.x\\x0aerror: forged\\x1b[2J") == 0);
	CHECK(strcmp(base_log_escape(buf, sizeof(buf), "a\\b\x7f\xc3"),
		     "a\\\\b\\x7f\\xc3") == 0);
	CHECK(strcmp(base_log_escape(buf, sizeof(buf), NULL), "(null)") == 0);
	CHECK(strcmp(base_log_escape_n(buf, sizeof(buf), "a\0b", 3),
		     "a\\x00b") == 0);
	/* Cut to fit a small buffer, marked. */
	CHECK(strcmp(base_log_escape(small, sizeof(small), "\n\n\n"),
		     "\\x0a\\x0a...") == 0);
	/* Cut at BASE_LOG_ESC_MAX bytes of input, whatever they are. */
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r = base_log_escape(buf, sizeof(buf), big);
	CHECK_EQ_INT(strlen(r), 4 * BASE_LOG_ESC_MAX + 3);
	CHECK(strchr(r, '\n') == NULL);
	memset(big, 'a', sizeof(big) - 1);
	r = base_log_escape(buf, sizeof(buf), big);
	CHECK_EQ_INT(strlen(r), BASE_LOG_ESC_MAX + 3);
}

int main(void)
{
	TEST_CASE(test_parse_level);
	TEST_CASE(test_format_and_filter);
	TEST_CASE(test_truncated_line_ends_in_newline);
	TEST_CASE(test_escape);
	return test_done();
}
