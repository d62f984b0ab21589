// SPDX-License-Identifier: MIT
/*
 * Replays fuzz inputs without libFuzzer: runs LLVMFuzzerTestOneInput over
 * every file named on the command line and every regular file in every
 * directory named there (not recursive).  The test run uses it to replay
 * the checked-in corpora with an ordinary (sanitizer) build.  Exits 1 if a
 * path cannot be read; a bug in the target crashes or aborts it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;
	int ret = -1;

	if (!fp) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		goto out_close;
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, fp) != (size_t)len)
		goto out_free;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	ret = 0;
out_free:
	free(buf);
out_close:
	if (ret < 0)
		fprintf(stderr, "%s: cannot read\n", path);
	fclose(fp);
	return ret;
}

static int replay_path(const char *path, unsigned int *count)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir))) {
		char full[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		(*count)++;
		if (replay_file(full) < 0)
			ret = -1;
	}
	closedir(dir);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned int count = 0;
	int status = 0;

	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) < 0)
			status = 1;
	printf("replayed %u inputs\n", count);
	return status;
}
