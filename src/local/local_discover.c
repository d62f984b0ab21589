// SPDX-License-Identifier: MIT
/*
 * Discovery: the Local Transport "scans the local bus" for candidates --
 * block devices (/sys/block), NVMe controllers with their namespaces
 * (/sys/class/nvme) and image files in configured directories -- and
 * records each one's state: size, block sizes, rotational, read-only,
 * partitions, whether it or a partition is mounted (/proc/self/mountinfo,
 * matched by major:minor so no path needs resolving) or held by another
 * driver (holders/), a loop device's backing file.  Configured storage
 * pools are asked for their devices through their DDM (ddm_ops.list).  It opens
 * nothing and exports nothing: the management channel decides, and refuses
 * devices in use unless forced.  The sysfs root and the mountinfo file are
 * parameters so tests can build a fake tree.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "iopd/local.h"

#define LOCAL_DISC_PATH_MAX 4096

struct local_disc_scan {
	const struct local_discover_config *cfg;
	struct local_discovery *d;
	char **mounts_dev;   /* "major:minor" of each mounted file system */
	char **mounts_point; /* and where */
	unsigned int n_mounts;
	char block_dir[LOCAL_DISC_PATH_MAX]; /* SYSFS/block */
};

static const char *local_disc_sysfs(const struct local_disc_scan *s)
{
	return s->cfg->sysfs_root ? s->cfg->sysfs_root : "/sys";
}

static const char *local_disc_devroot(const struct local_disc_scan *s)
{
	return s->cfg->dev_root ? s->cfg->dev_root : "/dev";
}

/* The first line of a sysfs attribute, without its newline. */
static int local_disc_read(const char *dir, const char *attr, char *buf,
			   size_t len)
{
	char path[LOCAL_DISC_PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static uint64_t local_disc_read_u64(const char *dir, const char *attr)
{
	char buf[64];

	if (local_disc_read(dir, attr, buf, sizeof(buf)) < 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

static char *local_disc_read_str(const char *dir, const char *attr)
{
	char buf[512];
	size_t n;

	if (local_disc_read(dir, attr, buf, sizeof(buf)) < 0)
		return NULL;
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0; /* NVMe model and serial are space padded */
	return n ? strdup(buf) : NULL;
}

/* Mountinfo ------------------------------------------------------------- */

static void local_disc_mounts_load(struct local_disc_scan *s)
{
	const char *path = s->cfg->mountinfo_path ? s->cfg->mountinfo_path
						  : "/proc/self/mountinfo";
	char *line = NULL, dev[64], point[LOCAL_DISC_PATH_MAX];
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		log_warn("discover: %s: %s; cannot tell mounted devices", path,
			 strerror(errno));
		return;
	}
	/* proc(5): ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ... */
	while (getline(&line, &cap, f) > 0) {
		char **d, **p;

		if (sscanf(line, "%*u %*u %63s %*s %4095s", dev, point) != 2)
			continue;
		d = realloc(s->mounts_dev, (s->n_mounts + 1) * sizeof(*d));
		if (!d)
			break;
		s->mounts_dev = d;
		p = realloc(s->mounts_point, (s->n_mounts + 1) * sizeof(*p));
		if (!p)
			break;
		s->mounts_point = p;
		d[s->n_mounts] = strdup(dev);
		p[s->n_mounts] = strdup(point);
		if (!d[s->n_mounts] || !p[s->n_mounts]) {
			free(d[s->n_mounts]);
			free(p[s->n_mounts]);
			break;
		}
		s->n_mounts++;
	}
	free(line);
	fclose(f);
}

/* Where the block device whose sysfs directory is dir is mounted. */
static const char *local_disc_mounted(const struct local_disc_scan *s,
				      const char *dir)
{
	char dev[64];

	if (local_disc_read(dir, "dev", dev, sizeof(dev)) < 0)
		return NULL;
	for (unsigned int i = 0; i < s->n_mounts; i++)
		if (!strcmp(s->mounts_dev[i], dev))
			return s->mounts_point[i];
	return NULL;
}

/* "dm-0,md0" from dir/holders, or NULL if nobody holds it. */
static char *local_disc_holders(const char *dir)
{
	char path[LOCAL_DISC_PATH_MAX], out[512] = "";
	struct dirent *e;
	DIR *h;

	snprintf(path, sizeof(path), "%s/holders", dir);
	h = opendir(path);
	if (!h)
		return NULL;
	while ((e = readdir(h))) {
		if (e->d_name[0] == '.')
			continue;
		if (out[0])
			strncat(out, ",", sizeof(out) - strlen(out) - 1);
		strncat(out, e->d_name, sizeof(out) - strlen(out) - 1);
	}
	closedir(h);
	return out[0] ? strdup(out) : NULL;
}

/* Candidates ------------------------------------------------------------ */

static struct local_candidate *local_disc_add(struct local_discovery *d,
					      const char *name, const char *iop)
{
	struct local_candidate *c;

	for (unsigned int i = 0; i < d->n; i++)
		if (!strcmp(d->cands[i].name, name))
			return NULL; /* first one found wins */
	c = realloc(d->cands, (d->n + 1) * sizeof(*c));
	if (!c)
		return NULL;
	d->cands = c;
	c = &d->cands[d->n];
	memset(c, 0, sizeof(*c));
	c->name = strdup(name);
	c->iop = strdup(iop);
	if (!c->name || !c->iop) {
		free(c->name);
		free(c->iop);
		return NULL;
	}
	d->n++;
	return c;
}

static void local_cand_fini(struct local_candidate *c)
{
	free(c->name);
	free(c->iop);
	free(c->path);
	free(c->parent);
	free(c->mounted_at);
	free(c->holders);
	free(c->backing_file);
	free(c->model);
	free(c->serial);
	free(c->ddm);
	for (unsigned int i = 0; i < c->n_options; i++) {
		free((char *)c->options[i].key);
		free((char *)c->options[i].value);
	}
	free(c->options);
}

/* Size, block sizes, flags, mount and holders of a block device or
 * partition whose sysfs directory is dir (queue/ lives with the disk). */
static void local_disc_blockinfo(const struct local_disc_scan *s,
				 struct local_candidate *c, const char *dir,
				 const char *disk_dir)
{
	char path[LOCAL_DISC_PATH_MAX];
	const char *mnt = local_disc_mounted(s, dir);

	snprintf(path, sizeof(path), "%s/%s", local_disc_devroot(s), c->name);
	c->path = strdup(path);
	/* sysfs sizes are in 512-byte sectors whatever the block size. */
	c->size_bytes = local_disc_read_u64(dir, "size") * 512;
	snprintf(path, sizeof(path), "%s/queue", disk_dir);
	c->logical_block_size =
		(uint32_t)local_disc_read_u64(path, "logical_block_size");
	c->physical_block_size =
		(uint32_t)local_disc_read_u64(path, "physical_block_size");
	if (!c->logical_block_size)
		c->logical_block_size = 512;
	if (!c->physical_block_size)
		c->physical_block_size = c->logical_block_size;
	c->rotational = local_disc_read_u64(path, "rotational") != 0;
	c->read_only = local_disc_read_u64(dir, "ro") != 0;
	c->mounted_at = mnt ? strdup(mnt) : NULL;
	c->holders = local_disc_holders(dir);
}

/* A partition is a subdirectory with a "partition" attribute. */
static bool local_disc_is_partition(const char *disk_dir, const char *name)
{
	char path[LOCAL_DISC_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/partition", disk_dir, name);
	return access(path, F_OK) == 0;
}

/* A disk (or NVMe namespace) and its partitions.  A mounted or held
 * partition makes its disk in use too. */
static void local_disc_disk(struct local_disc_scan *s, const char *disk_dir,
			    const char *name, const char *iop,
			    enum local_cand_kind kind)
{
	char pdir[LOCAL_DISC_PATH_MAX];
	struct local_candidate *c;
	unsigned int disk_index;
	struct dirent *e;
	DIR *dir;

	if (local_disc_read_u64(disk_dir, "size") == 0)
		return; /* unbound loop devices, empty card readers */
	c = local_disc_add(s->d, name, iop);
	if (!c)
		return;
	disk_index = (unsigned int)(c - s->d->cands);
	c->kind = kind;
	local_disc_blockinfo(s, c, disk_dir, disk_dir);
	c->backing_file = local_disc_read_str(disk_dir, "loop/backing_file");

	dir = opendir(disk_dir);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		struct local_candidate *p, *disk;

		if (e->d_name[0] == '.' ||
		    !local_disc_is_partition(disk_dir, e->d_name))
			continue;
		snprintf(pdir, sizeof(pdir), "%s/%s", disk_dir, e->d_name);
		p = local_disc_add(s->d, e->d_name, iop);
		if (!p)
			continue;
		disk = &s->d->cands[disk_index]; /* the array may move */
		p->kind = LOCAL_CAND_PARTITION;
		p->parent = strdup(name);
		local_disc_blockinfo(s, p, pdir, disk_dir);
		p->read_only |= disk->read_only;
		disk->n_partitions++;
		if (p->mounted_at && !disk->mounted_at)
			disk->mounted_at = strdup(p->mounted_at);
		if (p->holders && !disk->holders)
			disk->holders = strdup(p->holders);
	}
	closedir(dir);
}

/* Digits at p; returns where they end, or NULL if there are none. */
static const char *local_disc_digits(const char *p)
{
	const char *q = p;

	while (isdigit((unsigned char)*q))
		q++;
	return q > p ? q : NULL;
}

/*
 * Is the entry name of controller directory ctrl a namespace?  Without
 * native multipath it is the block device itself: "nvme0n1" in "nvme0",
 * and the namespace's directory is the entry's.  With it (Debian's
 * default) the entry is a hidden path device "nvme0c0n1" and the block
 * device is "nvme0n1" (subsystem 0, namespace 1) in /sys/block.  Fills ns
 * with the block device's name; *in_ctrl tells where its directory is.
 */
static bool local_disc_ns_name(const char *ctrl, const char *name, char *ns,
			       size_t len, bool *in_ctrl)
{
	size_t n = strlen(ctrl);
	const char *sub, *c, *nsid;

	if (!strncmp(name, ctrl, n) && name[n] == 'n') {
		c = local_disc_digits(name + n + 1);
		if (!c || *c)
			return false;
		*in_ctrl = true;
		return snprintf(ns, len, "%s", name) < (int)len;
	}
	if (strncmp(name, "nvme", 4))
		return false;
	sub = local_disc_digits(name + 4);
	if (!sub || *sub != 'c')
		return false;
	c = local_disc_digits(sub + 1);
	if (!c || *c != 'n')
		return false;
	nsid = local_disc_digits(c + 1);
	if (!nsid || *nsid)
		return false;
	*in_ctrl = false;
	return snprintf(ns, len, "nvme%.*sn%s", (int)(sub - name - 4), name + 4,
			c + 1) < (int)len;
}

static void local_disc_nvme_ctrl(struct local_disc_scan *s, const char *cdir,
				 const char *ctrl_name)
{
	char nsdir[LOCAL_DISC_PATH_MAX], ns[256];
	char *model, *serial;
	struct dirent *ne;
	bool in_ctrl;
	DIR *ctrl = opendir(cdir);

	if (!ctrl)
		return;
	model = local_disc_read_str(cdir, "model");
	serial = local_disc_read_str(cdir, "serial");
	while ((ne = readdir(ctrl))) {
		unsigned int before = s->d->n;

		if (!local_disc_ns_name(ctrl_name, ne->d_name, ns, sizeof(ns),
					&in_ctrl) ||
		    local_discovery_find(s->d, ns))
			continue; /* another path to it came first */
		if (snprintf(nsdir, sizeof(nsdir), "%s/%s",
			     in_ctrl ? cdir : s->block_dir,
			     in_ctrl ? ne->d_name : ns) >= (int)sizeof(nsdir))
			continue;
		local_disc_disk(s, nsdir, ns, ctrl_name, LOCAL_CAND_NVME_NS);
		for (unsigned int i = before; i < s->d->n; i++) {
			struct local_candidate *c = &s->d->cands[i];

			c->model = model ? strdup(model) : NULL;
			c->serial = serial ? strdup(serial) : NULL;
		}
	}
	free(model);
	free(serial);
	closedir(ctrl);
}

static void local_disc_nvme(struct local_disc_scan *s)
{
	char cdir[LOCAL_DISC_PATH_MAX];
	struct dirent *ce;
	DIR *classdir;

	snprintf(cdir, sizeof(cdir), "%s/class/nvme", local_disc_sysfs(s));
	classdir = opendir(cdir);
	if (!classdir)
		return; /* no NVMe driver loaded: nothing to find */
	while ((ce = readdir(classdir))) {
		if (ce->d_name[0] == '.')
			continue;
		if (snprintf(cdir, sizeof(cdir), "%s/class/nvme/%s",
			     local_disc_sysfs(s),
			     ce->d_name) >= (int)sizeof(cdir))
			continue;
		local_disc_nvme_ctrl(s, cdir, ce->d_name);
	}
	closedir(classdir);
}

/* Whatever /sys/block holds that NVMe did not claim already. */
static void local_disc_block(struct local_disc_scan *s)
{
	char dir[LOCAL_DISC_PATH_MAX];
	struct dirent *e;
	DIR *blk;

	snprintf(dir, sizeof(dir), "%s/block", local_disc_sysfs(s));
	blk = opendir(dir);
	if (!blk) {
		log_warn("discover: %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(blk))) {
		if (e->d_name[0] == '.' ||
		    local_discovery_find(s->d, e->d_name))
			continue;
		snprintf(dir, sizeof(dir), "%s/block/%s", local_disc_sysfs(s),
			 e->d_name);
		local_disc_disk(s, dir, e->d_name, "block", LOCAL_CAND_DISK);
	}
	closedir(blk);
}

static bool local_disc_ext_ok(const struct local_discover_config *cfg,
			      const char *name)
{
	const char *dot = strrchr(name, '.');

	if (cfg->n_image_exts == 0)
		return true;
	if (!dot)
		return false;
	for (unsigned int i = 0; i < cfg->n_image_exts; i++) {
		const char *ext = cfg->image_exts[i];

		if (ext[0] == '.')
			ext++;
		if (!strcasecmp(dot + 1, ext))
			return true;
	}
	return false;
}

static void local_disc_images(struct local_disc_scan *s, const char *dirpath)
{
	char path[LOCAL_DISC_PATH_MAX];
	struct local_candidate *c;
	struct dirent *e;
	struct stat st;
	DIR *dir = opendir(dirpath);

	if (!dir) {
		log_warn("discover: image directory %s: %s", dirpath,
			 strerror(errno));
		return;
	}
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' ||
		    !local_disc_ext_ok(s->cfg, e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
		/* stat, not lstat: a symlink to an image is an image. */
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		c = local_disc_add(s->d, e->d_name, "images");
		if (!c) {
			log_warn("discover: %s: the name %s is taken; skipped",
				 path, e->d_name);
			continue;
		}
		c->kind = LOCAL_CAND_IMAGE;
		c->path = strdup(path);
		c->size_bytes = (uint64_t)st.st_size;
		c->logical_block_size = 512;
		c->physical_block_size = (uint32_t)st.st_blksize;
		c->read_only = access(path, W_OK) != 0;
	}
	closedir(dir);
}

/* Storage pools ------------------------------------------------------- */

struct local_disc_pool_walk {
	struct local_disc_scan *s;
	const struct local_disc_pool *pool;
	const struct ddm_ops *ops;
};

static int local_disc_opt_copy(struct local_candidate *c, const char *key,
			       const char *value)
{
	struct ddm_option *o = &c->options[c->n_options];

	o->key = strdup(key);
	o->value = strdup(value ? value : "");
	if (!o->key || !o->value) {
		free((char *)o->key);
		free((char *)o->value);
		return -ENOMEM;
	}
	c->n_options++;
	return 0;
}

/* The pool's options, then spec_key=spec_value: what opens the device. */
static int local_disc_pool_opts(struct local_candidate *c,
				const struct local_disc_pool_walk *w,
				const struct ddm_listed *l)
{
	const struct local_disc_pool *p = w->pool;
	int ret = 0;

	c->options = calloc(p->n_options + 1, sizeof(*c->options));
	if (!c->options)
		return -ENOMEM;
	for (unsigned int i = 0; ret == 0 && i < p->n_options; i++)
		ret = local_disc_opt_copy(c, p->options[i].key,
					  p->options[i].value);
	if (ret == 0)
		ret = local_disc_opt_copy(c, w->ops->spec_key, l->spec_value);
	return ret;
}

static void local_disc_pool_found(void *arg, const struct ddm_listed *l)
{
	struct local_disc_pool_walk *w = arg;
	struct local_candidate *c;

	c = local_disc_add(w->s->d, l->name, w->pool->iop);
	if (!c) {
		log_warn("discover: %s: the name %s is taken; skipped",
			 w->pool->iop, l->name);
		return;
	}
	c->kind = LOCAL_CAND_POOL;
	c->ddm = strdup(w->ops->name);
	c->path = strdup(l->spec_value);
	c->size_bytes = l->size_bytes;
	c->logical_block_size = 512;
	c->physical_block_size = 4096;
	c->read_only = l->read_only;
	if (!c->ddm || !c->path || local_disc_pool_opts(c, w, l) < 0) {
		log_warn("discover: %s: %s: out of memory; skipped",
			 w->pool->iop, l->name);
		local_cand_fini(c);
		w->s->d->n--; /* the last one added */
	}
}

static void local_disc_unlisted(struct local_discovery *d, const char *iop)
{
	char **u = realloc(d->unlisted, (d->n_unlisted + 1) * sizeof(*u));

	if (!u)
		return;
	d->unlisted = u;
	u[d->n_unlisted] = strdup(iop);
	if (u[d->n_unlisted])
		d->n_unlisted++;
}

static bool local_disc_is_unlisted(const struct local_discovery *d,
				   const char *iop)
{
	for (unsigned int i = 0; i < d->n_unlisted; i++)
		if (!strcmp(d->unlisted[i], iop))
			return true;
	return false;
}

static void local_disc_pool(struct local_disc_scan *s,
			    const struct local_disc_pool *pool)
{
	struct local_disc_pool_walk w = { .s = s, .pool = pool };
	int ret;

	w.ops = ddm_find(pool->ddm);
	if (!w.ops || !w.ops->list || !w.ops->spec_key) {
		log_warn("discover: %s: the %s device driver %s", pool->iop,
			 pool->ddm,
			 w.ops ? "cannot list a pool" : "is not in this build");
		return;
	}
	ret = w.ops->list(pool->options, pool->n_options, local_disc_pool_found,
			  &w);
	if (ret < 0) {
		log_warn("discover: %s: %s pool not listed: %s", pool->iop,
			 pool->ddm, strerror(-ret));
		local_disc_unlisted(s->d, pool->iop);
	}
}

int local_discover_scan(const struct local_discover_config *cfg,
			struct local_discovery **dp)
{
	struct local_disc_scan s = { .cfg = cfg };

	s.d = calloc(1, sizeof(*s.d));
	if (!s.d)
		return -ENOMEM;
	snprintf(s.block_dir, sizeof(s.block_dir), "%s/block",
		 local_disc_sysfs(&s));
	if (cfg->scan_block) {
		local_disc_mounts_load(&s);
		local_disc_nvme(&s);
		local_disc_block(&s);
	}
	for (unsigned int i = 0; i < cfg->n_image_dirs; i++)
		local_disc_images(&s, cfg->image_dirs[i]);
	for (unsigned int i = 0; i < cfg->n_pools; i++)
		local_disc_pool(&s, &cfg->pools[i]);
	for (unsigned int i = 0; i < s.n_mounts; i++) {
		free(s.mounts_dev[i]);
		free(s.mounts_point[i]);
	}
	free(s.mounts_dev);
	free(s.mounts_point);
	*dp = s.d;
	return 0;
}

int local_discover_rescan(const struct local_discover_config *cfg,
			  struct local_discovery *d, unsigned int *appeared,
			  unsigned int *vanished)
{
	struct local_discovery *now;
	unsigned int n_new = 0, n_gone = 0;
	int ret;

	ret = local_discover_scan(cfg, &now);
	if (ret < 0)
		return ret;
	/* Old entries first, in their old order: refreshed, or marked. */
	for (unsigned int i = 0; i < d->n; i++) {
		struct local_candidate *old = &d->cands[i];
		struct local_candidate *cur =
			(struct local_candidate *)local_discovery_find(
				now, old->name);

		bool back = old->vanished;

		old->appeared = false;
		if (!cur && local_disc_is_unlisted(now, old->iop))
			continue; /* not known to be gone: as it was */
		if (!cur) {
			n_gone += !old->vanished;
			old->vanished = true;
			continue;
		}
		local_cand_fini(old);
		*old = *cur;
		memset(cur, 0, sizeof(*cur)); /* moved: mark it taken */
		/* A device that comes back has appeared again. */
		old->appeared = back;
		n_new += back;
	}
	for (unsigned int i = 0; i < now->n; i++) {
		struct local_candidate *c, *cur = &now->cands[i];

		if (!cur->name)
			continue;
		c = realloc(d->cands, (d->n + 1) * sizeof(*c));
		if (!c) {
			ret = -ENOMEM;
			break;
		}
		d->cands = c;
		d->cands[d->n] = *cur;
		d->cands[d->n++].appeared = true;
		memset(cur, 0, sizeof(*cur));
		n_new++;
	}
	local_discovery_free(now);
	if (appeared)
		*appeared = n_new;
	if (vanished)
		*vanished = n_gone;
	return ret;
}

void local_discovery_free(struct local_discovery *d)
{
	if (!d)
		return;
	for (unsigned int i = 0; i < d->n; i++)
		local_cand_fini(&d->cands[i]);
	for (unsigned int i = 0; i < d->n_unlisted; i++)
		free(d->unlisted[i]);
	free(d->unlisted);
	free(d->cands);
	free(d);
}

const struct local_candidate *
local_discovery_find(const struct local_discovery *d, const char *name)
{
	for (unsigned int i = 0; i < d->n; i++)
		if (d->cands[i].name && !strcmp(d->cands[i].name, name))
			return &d->cands[i];
	return NULL;
}

const char *local_cand_kind_name(enum local_cand_kind kind)
{
	switch (kind) {
	case LOCAL_CAND_DISK:
		return "disk";
	case LOCAL_CAND_PARTITION:
		return "partition";
	case LOCAL_CAND_NVME_NS:
		return "nvme-namespace";
	case LOCAL_CAND_IMAGE:
		return "image";
	case LOCAL_CAND_POOL:
		return "pool-device";
	}
	return "unknown";
}

int local_cand_exportable(const struct local_candidate *c, bool force)
{
	if (c->vanished)
		return -ENODEV;
	if (!force &&
	    (c->kind == LOCAL_CAND_PARTITION || c->mounted_at || c->holders))
		return -EBUSY;
	return 0;
}
