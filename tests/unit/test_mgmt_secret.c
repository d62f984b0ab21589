// SPDX-License-Identifier: MIT
/*
 * mgmt_secret_read's policy, one rule per case, on files made in a temp
 * directory: the accepted forms (line ends), then each refusal (symbolic
 * link, not a regular file, group or other permission, a foreign owner,
 * too large, not one line, missing), each with a message that says why
 * and never holds the secret.  The owner cases need root to chown; they
 * are skipped (and said so) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_secret.h"
#include "test.h"

#define MAX    32
#define SECRET "s3cret-s3cret-s3cret"

static char dir[] = "/tmp/test_mgmt_secret.XXXXXX";
static char msg[512];

static const char *path_of(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_file(const char *name, const char *text, size_t len,
		       mode_t mode)
{
	const char *path = path_of(name);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, len) == (ssize_t)len);
	close(fd);
	CHECK_EQ_INT(chmod(path, mode), 0);
}

/* Read name; returns the result, *out gets the secret (or stays NULL). */
static int rd(const char *name, char **out)
{
	int ret;

	*out = NULL;
	msg[0] = 0;
	base_log_capture(msg, sizeof(msg));
	ret = mgmt_secret_read("test", path_of(name), MAX, out);
	base_log_capture(NULL, 0);
	if (ret < 0) {
		CHECK(*out == NULL);
		CHECK(!strstr(msg, SECRET)); /* never in a message */
	}
	return ret;
}

/* name is refused with err, and the message contains why. */
static void refused(const char *name, int err, const char *why)
{
	char *s;

	CHECK_EQ_INT(rd(name, &s), err);
	if (!strstr(msg, why))
		printf("#   want \"%s\" in \"%s\"\n", why, msg);
	CHECK(strstr(msg, why) != NULL);
	free(s);
}

static void accepted(const char *name, const char *want)
{
	char *s;

	CHECK_EQ_INT(rd(name, &s), 0);
	CHECK(s && !strcmp(s, want));
	free(s);
}

static void test_accepted(void)
{
	write_file("plain", SECRET, strlen(SECRET), 0600);
	accepted("plain", SECRET);
	write_file("nl", SECRET "\n", strlen(SECRET) + 1, 0400);
	accepted("nl", SECRET);
	write_file("crlf", SECRET "\r\n", strlen(SECRET) + 2, 0600);
	accepted("crlf", SECRET);
	/* max bytes, with its line end: the largest file allowed */
	write_file("max", "0123456789abcdef0123456789abcdef\r\n", MAX + 2,
		   0600);
	accepted("max", "0123456789abcdef0123456789abcdef");
}

static void test_not_regular(void)
{
	write_file("target", SECRET, strlen(SECRET), 0600);
	unlink(path_of("link"));
	CHECK_EQ_INT(symlink("target", path_of("link")), 0);
	refused("link", -ELOOP, "symbolic link");
	CHECK_EQ_INT(mkdir(path_of("subdir"), 0700), 0);
	refused("subdir", -EINVAL, "not a regular file");
	/* A FIFO must be refused, not block the daemon. */
	CHECK_EQ_INT(mkfifo(path_of("fifo"), 0600), 0);
	refused("fifo", -EINVAL, "not a regular file");
	refused("missing", -ENOENT, "No such file");
}

static void test_mode(void)
{
	static const mode_t bad[] = { 0640, 0604, 0620, 0602,
				      0610, 0601, 0644, 0660 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file("open", SECRET, strlen(SECRET), bad[i]);
		refused("open", -EINVAL, "group or others");
		CHECK(strstr(msg, "chmod 600") != NULL);
	}
}

static void test_owner(void)
{
	if (geteuid() != 0) {
		printf("# skip: chown needs root\n");
		return;
	}
	write_file("theirs", SECRET, strlen(SECRET), 0600);
	CHECK_EQ_INT(chown(path_of("theirs"), 65534, 65534), 0);
	refused("theirs", -EINVAL, "uid 65534");
	/* root's own, and a file of iopd's user while it runs unprivileged */
	write_file("roots", SECRET, strlen(SECRET), 0600);
	accepted("roots", SECRET);
	CHECK_EQ_INT(chown(path_of("theirs"), 0, 0), 0);
	accepted("theirs", SECRET);
}

static void test_contents(void)
{
	static const char big[] = "0123456789abcdef0123456789abcdef012";

	write_file("big", big, MAX + 3, 0600);
	refused("big", -EINVAL, "too large");
	write_file("long", "0123456789abcdef0123456789abcdef0\n", MAX + 2,
		   0600);
	refused("long", -EINVAL, "one line");
	write_file("empty", "", 0, 0600);
	refused("empty", -EINVAL, "one line");
	write_file("newline", "\n", 1, 0600);
	refused("newline", -EINVAL, "one line");
	write_file("two", "first\nsecond\n", 13, 0600);
	refused("two", -EINVAL, "one line");
	write_file("nul", "abc\0def", 7, 0600);
	refused("nul", -EINVAL, "one line");
}

/* mgmt_secret_read_lines: the same policy, several lines. */
static void test_lines(void)
{
	char *s = NULL;

	write_file("two", "first\nsecond\n", 13, 0600);
	CHECK_EQ_INT(mgmt_secret_read_lines("test", path_of("two"), MAX, &s),
		     0);
	CHECK(s && !strcmp(s, "first\nsecond"));
	free(s);
	s = NULL;
	CHECK_EQ_INT(chmod(path_of("two"), 0640), 0);
	CHECK_EQ_INT(mgmt_secret_read_lines("test", path_of("two"), MAX, &s),
		     -EINVAL);
	CHECK(s == NULL);
	write_file("nul", "abc\0def", 7, 0600);
	CHECK_EQ_INT(mgmt_secret_read_lines("test", path_of("nul"), MAX, &s),
		     -EINVAL);
	write_file("empty", "", 0, 0600);
	CHECK_EQ_INT(mgmt_secret_read_lines("test", path_of("empty"), MAX, &s),
		     -EINVAL);
	CHECK(s == NULL);
}

int main(void)
{
	static const char *const names[] = {
		"plain", "nl",	    "crlf",   "max",   "target", "link",
		"fifo",	 "open",    "theirs", "roots", "big",	 "long",
		"empty", "newline", "two",    "nul",
	};

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	TEST_CASE(test_accepted);
	TEST_CASE(test_not_regular);
	TEST_CASE(test_mode);
	TEST_CASE(test_owner);
	TEST_CASE(test_contents);
	TEST_CASE(test_lines);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_of(names[i]));
	rmdir(path_of("subdir"));
	rmdir(dir);
	return test_done();
}
