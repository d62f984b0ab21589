// SPDX-License-Identifier: MIT
/*
 * Discovery on a fake sysfs tree built in a temporary directory: an NVMe
 * controller with two namespaces (and a multipath path node that is not a
 * device), a controller whose namespace is reached through such a path
 * (native multipath), a partitioned disk with a mounted partition, a mounted
 * disk, a held disk, a loop device with its backing file, an unbound loop
 * device, and an image directory; then a rescan after images come and go.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iopd/local.h"
#include "test.h"

static char root[256];

/* put("sys/block/sda/size", "2048"): the file with its parents. */
static void put(const char *rel, const char *fmt, ...)
{
	char path[1024], *p;
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static void mkd(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkdir(path, 0755);
}

static void disk(const char *dir, const char *dev, unsigned long sectors,
		 int rotational, int lbs)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/size", dir);
	put(p, "%lu", sectors);
	snprintf(p, sizeof(p), "%s/dev", dir);
	put(p, "%s", dev);
	snprintf(p, sizeof(p), "%s/ro", dir);
	put(p, "0");
	snprintf(p, sizeof(p), "%s/queue/rotational", dir);
	put(p, "%d", rotational);
	snprintf(p, sizeof(p), "%s/queue/logical_block_size", dir);
	put(p, "%d", lbs);
	snprintf(p, sizeof(p), "%s/queue/physical_block_size", dir);
	put(p, "4096");
	snprintf(p, sizeof(p), "%s/holders", dir);
	mkd(p);
}

static void part(const char *dir, const char *dev, unsigned long sectors)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/size", dir);
	put(p, "%lu", sectors);
	snprintf(p, sizeof(p), "%s/dev", dir);
	put(p, "%s", dev);
	snprintf(p, sizeof(p), "%s/partition", dir);
	put(p, "1");
	snprintf(p, sizeof(p), "%s/holders", dir);
	mkd(p);
}

static char sysfs[300], mountinfo[300], images[300];
static char *dirs[1] = { images };
static char *exts[2] = { "img", ".raw" };
static struct local_discover_config cfg;

static void build_tree(void)
{
	snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
	snprintf(mountinfo, sizeof(mountinfo), "%s/mountinfo", root);
	snprintf(images, sizeof(images), "%s/images", root);

	put("sys/class/nvme/nvme0/model", "Fake NVMe Model            ");
	put("sys/class/nvme/nvme0/serial", "SN123   ");
	disk("sys/class/nvme/nvme0/nvme0n1", "259:0", 2097152, 0, 4096);
	disk("sys/class/nvme/nvme0/nvme0n2", "259:1", 1048576, 0, 512);
	disk("sys/class/nvme/nvme0/nvme0c0n1", "259:9", 8, 0, 512);
	/* /sys/block lists the namespaces too: NVMe claims them first. */
	disk("sys/block/nvme0n1", "259:0", 2097152, 0, 4096);
	/* Native multipath: the controller holds a hidden path device,
	 * the namespace is nvme1n1 in /sys/block. */
	put("sys/class/nvme/nvme1/model", "Multipath Model");
	disk("sys/class/nvme/nvme1/nvme1c1n1", "259:7", 4096, 0, 512);
	disk("sys/block/nvme1n1", "259:8", 4096, 0, 512);

	disk("sys/block/sda", "8:0", 4194304, 1, 512);
	part("sys/block/sda/sda1", "8:1", 2048);
	part("sys/block/sda/sda2", "8:2", 4096);
	disk("sys/block/vdb", "254:16", 1024, 0, 512);
	disk("sys/block/vdc", "254:32", 1024, 0, 512);
	mkd("sys/block/vdc/holders/dm-0");
	disk("sys/block/loop0", "7:0", 20480, 0, 512);
	put("sys/block/loop0/loop/backing_file", "/srv/backing.img");
	disk("sys/block/loop1", "7:1", 0, 0, 512);

	put("mountinfo", "21 1 0:20 / / rw - tmpfs tmpfs rw\n"
			 "22 21 8:2 / /boot rw - ext4 /dev/sda2 rw\n"
			 "23 21 254:16 / /data rw - xfs /dev/vdb rw");

	put("images/a.img", "aaaa");
	put("images/b.RAW", "bb");
	put("images/notes.txt", "not an image");
	mkd("images/sub.img");

	cfg.sysfs_root = sysfs;
	cfg.mountinfo_path = mountinfo;
	cfg.dev_root = "/dev";
	cfg.scan_block = true;
	cfg.n_image_dirs = 1;
	cfg.image_dirs = dirs;
	cfg.n_image_exts = 2;
	cfg.image_exts = exts;
}

static void test_nvme_controller(void)
{
	struct local_discovery *d;
	const struct local_candidate *c;

	CHECK_EQ_INT(local_discover_scan(&cfg, &d), 0);
	c = local_discovery_find(d, "nvme0n1");
	CHECK(c != NULL);
	if (c) {
		CHECK(!strcmp(c->iop, "nvme0"));
		CHECK_EQ_INT(c->kind, LOCAL_CAND_NVME_NS);
		CHECK_EQ_INT(c->size_bytes, 2097152ull * 512);
		CHECK_EQ_INT(c->logical_block_size, 4096);
		CHECK(c->model && !strcmp(c->model, "Fake NVMe Model"));
		CHECK(c->serial && !strcmp(c->serial, "SN123"));
		CHECK(!strcmp(c->path, "/dev/nvme0n1"));
		CHECK_EQ_INT(local_cand_exportable(c, false), 0);
	}
	c = local_discovery_find(d, "nvme0n2");
	CHECK(c && !strcmp(c->iop, "nvme0") && c->logical_block_size == 512);
	CHECK(local_discovery_find(d, "nvme0c0n1") == NULL);
	c = local_discovery_find(d, "nvme1n1");
	CHECK(c != NULL);
	if (c) {
		CHECK(!strcmp(c->iop, "nvme1"));
		CHECK_EQ_INT(c->kind, LOCAL_CAND_NVME_NS);
		CHECK(c->model && !strcmp(c->model, "Multipath Model"));
		CHECK_EQ_INT(c->size_bytes, 4096 * 512);
	}
	CHECK(local_discovery_find(d, "nvme1c1n1") == NULL);
	local_discovery_free(d);
}

static void test_partitioned_disk(void)
{
	struct local_discovery *d;
	const struct local_candidate *c;

	CHECK_EQ_INT(local_discover_scan(&cfg, &d), 0);
	c = local_discovery_find(d, "sda");
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->kind, LOCAL_CAND_DISK);
		CHECK(!strcmp(c->iop, "block"));
		CHECK_EQ_INT(c->n_partitions, 2);
		CHECK(c->rotational);
		CHECK_EQ_INT(c->physical_block_size, 4096);
		/* sda2 is mounted, so the disk is in use. */
		CHECK(c->mounted_at && !strcmp(c->mounted_at, "/boot"));
		CHECK_EQ_INT(local_cand_exportable(c, false), -EBUSY);
		CHECK_EQ_INT(local_cand_exportable(c, true), 0);
	}
	c = local_discovery_find(d, "sda1");
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->kind, LOCAL_CAND_PARTITION);
		CHECK(c->parent && !strcmp(c->parent, "sda"));
		CHECK_EQ_INT(c->size_bytes, 2048 * 512);
		CHECK(c->mounted_at == NULL);
		/* partitions are listed but refused unless forced */
		CHECK_EQ_INT(local_cand_exportable(c, false), -EBUSY);
		CHECK_EQ_INT(local_cand_exportable(c, true), 0);
	}
	c = local_discovery_find(d, "sda2");
	CHECK(c && c->mounted_at && !strcmp(c->mounted_at, "/boot"));
	local_discovery_free(d);
}

static void test_mounted_and_held(void)
{
	struct local_discovery *d;
	const struct local_candidate *c;

	CHECK_EQ_INT(local_discover_scan(&cfg, &d), 0);
	c = local_discovery_find(d, "vdb");
	CHECK(c && c->mounted_at && !strcmp(c->mounted_at, "/data"));
	CHECK(c && local_cand_exportable(c, false) == -EBUSY);
	c = local_discovery_find(d, "vdc");
	CHECK(c && c->holders && !strcmp(c->holders, "dm-0"));
	CHECK(c && !c->mounted_at && local_cand_exportable(c, false) == -EBUSY);
	c = local_discovery_find(d, "loop0");
	CHECK(c && c->backing_file &&
	      !strcmp(c->backing_file, "/srv/backing.img"));
	CHECK(c && local_cand_exportable(c, false) == 0);
	/* An unbound loop device has no size: not a candidate. */
	CHECK(local_discovery_find(d, "loop1") == NULL);
	local_discovery_free(d);
}

static void test_images(void)
{
	struct local_discovery *d;
	const struct local_candidate *c;
	char path[400];

	CHECK_EQ_INT(local_discover_scan(&cfg, &d), 0);
	c = local_discovery_find(d, "a.img");
	snprintf(path, sizeof(path), "%s/a.img", images);
	CHECK(c && c->kind == LOCAL_CAND_IMAGE && !strcmp(c->path, path));
	CHECK(c && c->size_bytes == 5 && !strcmp(c->iop, "images"));
	CHECK(local_discovery_find(d, "b.RAW") != NULL);
	CHECK(local_discovery_find(d, "notes.txt") == NULL);
	CHECK(local_discovery_find(d, "sub.img") == NULL); /* a directory */
	local_discovery_free(d);

	/* No extension list: every regular file. */
	cfg.n_image_exts = 0;
	CHECK_EQ_INT(local_discover_scan(&cfg, &d), 0);
	CHECK(local_discovery_find(d, "notes.txt") != NULL);
	local_discovery_free(d);
	cfg.n_image_exts = 2;
}

static void test_rescan(void)
{
	struct local_discovery *d;
	const struct local_candidate *c;
	unsigned int appeared = 99, vanished = 99, n_before;
	char path[400];

	CHECK_EQ_INT(local_discover_scan(&cfg, &d), 0);
	n_before = d->n;
	CHECK_EQ_INT(local_discover_rescan(&cfg, d, &appeared, &vanished), 0);
	CHECK_EQ_INT(appeared, 0);
	CHECK_EQ_INT(vanished, 0);

	put("images/c.img", "cccccc");
	snprintf(path, sizeof(path), "%s/a.img", images);
	unlink(path);
	CHECK_EQ_INT(local_discover_rescan(&cfg, d, &appeared, &vanished), 0);
	CHECK_EQ_INT(appeared, 1);
	CHECK_EQ_INT(vanished, 1);
	CHECK_EQ_INT(d->n, n_before + 1);
	c = local_discovery_find(d, "c.img");
	CHECK(c && c->appeared && !c->vanished && c->size_bytes == 7);
	c = local_discovery_find(d, "a.img");
	CHECK(c && c->vanished);
	CHECK(c && local_cand_exportable(c, true) == -ENODEV);
	c = local_discovery_find(d, "sda");
	CHECK(c && !c->appeared && !c->vanished);

	/* Again: nothing new, a.img stays vanished and is not counted
	 * twice; c.img is no longer "appeared". */
	CHECK_EQ_INT(local_discover_rescan(&cfg, d, &appeared, &vanished), 0);
	CHECK_EQ_INT(appeared, 0);
	CHECK_EQ_INT(vanished, 0);
	c = local_discovery_find(d, "c.img");
	CHECK(c && !c->appeared);

	/* a.img comes back: it appeared again, in its old place. */
	put("images/a.img", "again");
	CHECK_EQ_INT(local_discover_rescan(&cfg, d, &appeared, &vanished), 0);
	CHECK_EQ_INT(appeared, 1);
	CHECK_EQ_INT(vanished, 0);
	CHECK_EQ_INT(d->n, n_before + 1);
	c = local_discovery_find(d, "a.img");
	CHECK(c && c->appeared && !c->vanished && c->size_bytes == 6);
	CHECK(c && local_cand_exportable(c, false) == 0);
	local_discovery_free(d);
}

static void test_missing_sources(void)
{
	struct local_discover_config none = {
		.sysfs_root = "/nonexistent-sysfs",
		.mountinfo_path = "/nonexistent-mountinfo",
		.scan_block = true,
	};
	struct local_discovery *d;

	/* Missing sources are warnings, not failures. */
	CHECK_EQ_INT(local_discover_scan(&none, &d), 0);
	CHECK_EQ_INT(d->n, 0);
	local_discovery_free(d);
}

int main(void)
{
	char cmd[400];

	snprintf(root, sizeof(root), "%s/iopd-discover.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	build_tree();
	TEST_CASE(test_nvme_controller);
	TEST_CASE(test_partitioned_disk);
	TEST_CASE(test_mounted_and_held);
	TEST_CASE(test_images);
	TEST_CASE(test_rescan);
	TEST_CASE(test_missing_sources);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return test_done();
}
