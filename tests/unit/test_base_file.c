// SPDX-License-Identifier: MIT
/*
 * base_file_write_atomic: the new contents replace the old, with the
 * mode asked for; a symlink at the target is replaced, never followed;
 * nothing is left behind; a missing directory fails cleanly.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_file.h"
#include "test.h"

static char dir[] = "/tmp/base-file-XXXXXX";

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

static unsigned int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' ||
		     (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	if (d)
		closedir(d);
	return n;
}

static void test_replace(void)
{
	char path[256], buf[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cfg", dir);
	CHECK_EQ_INT(base_file_write_atomic(path, "one\n", 4, 0600), 0);
	CHECK_EQ_INT(base_file_write_atomic(path, "two\n", 4, 0644), 0);
	slurp(path, buf, sizeof(buf));
	CHECK(strcmp(buf, "two\n") == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_EQ_INT(entries(), 1);
	unlink(path);
}

static void test_symlink_not_followed(void)
{
	char path[256], victim[256], buf[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/pid", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	CHECK_EQ_INT(base_file_write_atomic(victim, "precious", 8, 0600), 0);
	CHECK(symlink(victim, path) == 0);
	CHECK_EQ_INT(base_file_write_atomic(path, "42\n", 3, 0644), 0);
	slurp(victim, buf, sizeof(buf));
	CHECK(strcmp(buf, "precious") == 0);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_EQ_INT(entries(), 2);
	unlink(path);
	unlink(victim);
}

static void test_refusals(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/no/such/dir/f", dir);
	CHECK_EQ_INT(base_file_write_atomic(path, "x", 1, 0600), -ENOENT);
	snprintf(path, sizeof(path), "%s/", dir);
	CHECK_EQ_INT(base_file_write_atomic(path, "x", 1, 0600), -EISDIR);
	CHECK_EQ_INT(base_file_write_atomic("", "x", 1, 0600), -EINVAL);
	CHECK_EQ_INT(entries(), 0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	TEST_CASE(test_replace);
	TEST_CASE(test_symlink_not_followed);
	TEST_CASE(test_refusals);
	rmdir(dir);
	return test_done();
}
