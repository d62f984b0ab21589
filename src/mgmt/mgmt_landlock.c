// SPDX-License-Identifier: MIT
/*
 * The file rules (mgmt_privs.h), with Landlock (kernel 5.13+, raw system
 * calls: glibc has no wrappers).  After start-up iopd opens files for
 * few reasons: an export added or reloaded (its directory, the image
 * directories, "allowed_paths", /dev for block devices), save-config
 * and a reload (the config file's directory), the pid file and the Unix
 * sockets it removes at exit (their directories), discovery (/sys,
 * /proc/self, /dev), what glibc and the TLS library read (a few files
 * of /etc), and the credentials a SIGHUP reads again (read only).
 * Everything else is refused by the kernel with EACCES, whatever iopd's
 * own checks (mgmt_path.c) say.
 *
 * Landlock binds the calling thread and the threads it starts after, so
 * this runs on the main thread before any other starts.  It does not
 * restrict ioctl (LANDLOCK_ACCESS_FS_IOCTL_DEV is left unhandled: block
 * devices need theirs), nor rename across directories (REFER: never
 * done).  A path that does not exist yet is left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_privs.h"

/* Newer than Debian 12's <linux/landlock.h>. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#define LL_R	  LANDLOCK_ACCESS_FS_READ_FILE
#define LL_RX	  (LL_R | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE)
#define LL_RDIR	  (LL_R | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_RW	  (LL_RDIR | LANDLOCK_ACCESS_FS_WRITE_FILE | LL_TRUNC)
#define LL_CREATE (LL_RW | LANDLOCK_ACCESS_FS_MAKE_REG)
/* save-config's and the pid file's rename, sockets removed at exit */
#define LL_RUNTIME                                                             \
	(LL_CREATE | LANDLOCK_ACCESS_FS_REMOVE_FILE |                          \
	 LANDLOCK_ACCESS_FS_MAKE_SOCK)
#define LL_TRUNC LANDLOCK_ACCESS_FS_TRUNCATE
/* What a rule on a file (not a directory) may carry. */
#define LL_FILE_RIGHTS                                                         \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |          \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

struct mgmt_landlock {
	int fd;
	__u64 handled;
};

/* Read by glibc (time zone, name service, getaddrinfo), libsystemd and
 * the TLS library; never /etc as a whole (shadow, ssh keys). */
static const char *const mgmt_landlock_etc[] = {
	"/etc/localtime",     "/etc/hosts",	      "/etc/resolv.conf",
	"/etc/nsswitch.conf", "/etc/gai.conf",	      "/etc/host.conf",
	"/etc/services",      "/etc/protocols",	      "/etc/passwd",
	"/etc/group",	      "/etc/ld.so.cache",     "/etc/gnutls",
	"/etc/ssl",	      "/etc/crypto-policies", "/etc/iopd",
};

static const char *const mgmt_landlock_libs[] = {
	"/usr", "/lib", "/lib64", "/lib32", "/usr/local",
};

static void mgmt_landlock_add(struct mgmt_landlock *ll, const char *path,
			      __u64 access)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;

	if (!path || path[0] != '/')
		return;
	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0) {
		log_debug("landlock: %s: %s (left out)", path, strerror(errno));
		return;
	}
	if (fstat(pb.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LL_FILE_RIGHTS;
	pb.allowed_access = access & ll->handled;
	if (pb.allowed_access &&
	    syscall(SYS_landlock_add_rule, ll->fd, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) < 0)
		log_warn("landlock: %s: %s", path, strerror(errno));
	else
		log_debug("landlock: %s: %#llx", path,
			  (unsigned long long)pb.allowed_access);
	close(pb.parent_fd);
}

/* The directory of path, and that of what it resolves to (an export
 * named through a symlink is opened where the link points). */
static void mgmt_landlock_add_dir_of(struct mgmt_landlock *ll, const char *path,
				     __u64 access)
{
	char buf[PATH_MAX], *real;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(buf))
		return;
	if (!strncmp(path, "/dev/", 5)) {
		mgmt_landlock_add(ll, "/dev", LL_RW);
		return;
	}
	strcpy(buf, path);
	mgmt_landlock_add(ll, dirname(buf), access);
	real = realpath(path, NULL);
	if (real) {
		mgmt_landlock_add(ll, dirname(real), access);
		free(real);
	}
}

static void mgmt_landlock_add_exports(struct mgmt_landlock *ll,
				      const struct mgmt_config *cfg)
{
	for (unsigned int i = 0; i < cfg->n_exports; i++)
		mgmt_landlock_add_dir_of(ll, cfg->exports[i].path, LL_CREATE);
	for (unsigned int i = 0; i < cfg->n_iops; i++)
		for (unsigned int j = 0; j < cfg->iops[i].n_devs; j++)
			mgmt_landlock_add_dir_of(ll, cfg->iops[i].devs[j].path,
						 LL_CREATE);
	for (unsigned int i = 0; i < cfg->n_allowed_paths; i++)
		mgmt_landlock_add(ll, cfg->allowed_paths[i], LL_CREATE);
}

static void mgmt_landlock_add_system(struct mgmt_landlock *ll,
				     const struct mgmt_config *cfg)
{
	const struct mgmt_ops *ops = cfg->ops;
	bool block = !ops || ops->discover.scan_block;
	char self[32];

	for (size_t i = 0; i < sizeof(mgmt_landlock_etc) / sizeof(char *); i++)
		mgmt_landlock_add(ll, mgmt_landlock_etc[i], LL_RDIR);
#if IOPD_DDM_RBD
	/* librados' ceph.conf and keyrings, for rbd exports added while
	 * iopd runs (those given at start-up open before confinement). */
	mgmt_landlock_add(ll, "/etc/ceph", LL_RDIR);
#endif
	for (size_t i = 0; i < sizeof(mgmt_landlock_libs) / sizeof(char *); i++)
		mgmt_landlock_add(ll, mgmt_landlock_libs[i], LL_RX);
	/* This process only (mountinfo, maps), not /proc/PID/environ of
	 * others; /proc/sys for the TLS library's FIPS switch. */
	snprintf(self, sizeof(self), "/proc/%ld", (long)getpid());
	mgmt_landlock_add(ll, self, LL_RDIR);
	mgmt_landlock_add(ll, "/proc/sys", LL_RDIR);
	mgmt_landlock_add(ll, "/sys", LL_RDIR);
	/* Discovery offers block devices for export, which opens them. */
	if (block)
		mgmt_landlock_add(ll, "/dev", LL_RW);
	mgmt_landlock_add(ll, "/dev/null", LL_RW);
	mgmt_landlock_add(ll, "/dev/urandom", LL_R);
	mgmt_landlock_add(ll, "/dev/random", LL_R);
	for (unsigned int i = 0; ops && i < ops->discover.n_image_dirs; i++)
		mgmt_landlock_add(ll, ops->image_dirs[i], LL_CREATE);
#ifdef IOPD_COVERAGE_DIR
	/* make coverage's build: gcov writes its .gcda files there at
	 * exit, and without this rule the daemon's coverage is lost. */
	mgmt_landlock_add(ll, IOPD_COVERAGE_DIR, LL_CREATE);
#endif
}

/* The files of --tls-certificates that remote_tls.c and the metrics
 * endpoint read. */
static const char *const mgmt_landlock_tls_files[] = {
	"ca-cert.pem",
	"ca-crl.pem",
	"server-cert.pem",
	"server-key.pem",
};

/* path resolved: the credentials may be named relative to the working
 * directory, and a link's target is what is opened. */
static void mgmt_landlock_add_real(struct mgmt_landlock *ll, const char *path,
				   __u64 access)
{
	char *real = path ? realpath(path, NULL) : NULL;

	if (!real) {
		if (path)
			log_debug("landlock: %s: %s (left out)", path,
				  strerror(errno));
		return;
	}
	mgmt_landlock_add(ll, real, access);
	free(real);
}

/* What a SIGHUP reads again (remote_tls_reload, mgmt_metrics_reload),
 * read only.  The certificate directory beneath, so a file replaced
 * whole (renamed into place) is readable too, and the directory each
 * of its files links to (certbot's live/ links into archive/, where
 * the next certificate appears).  A single file (--tls-psk,
 * --metrics-auth) only itself: its directory may hold other secrets,
 * so it must be rewritten in place (doc/security.md). */
static void mgmt_landlock_add_credentials(struct mgmt_landlock *ll,
					  const struct mgmt_config *cfg)
{
	const char *dir = cfg->tls_certificates;
	size_t n = sizeof(mgmt_landlock_tls_files) / sizeof(char *);
	char path[PATH_MAX], *real, *real_dir;

	real_dir = dir ? realpath(dir, NULL) : NULL;
	mgmt_landlock_add(ll, real_dir, LL_R);
	for (size_t i = 0; real_dir && i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", real_dir,
			 mgmt_landlock_tls_files[i]);
		real = realpath(path, NULL);
		/* dirname cuts real at its last slash, in place */
		if (real && strcmp(dirname(real), real_dir))
			mgmt_landlock_add(ll, real, LL_R);
		free(real);
	}
	free(real_dir);
	mgmt_landlock_add_real(ll, cfg->tls_psk, LL_R);
	mgmt_landlock_add_real(ll, cfg->metrics_auth, LL_R);
}

static void mgmt_landlock_add_runtime(struct mgmt_landlock *ll,
				      const struct mgmt_config *cfg,
				      const char *pidfile)
{
	mgmt_landlock_add_dir_of(ll, cfg->config_file, LL_RUNTIME);
	mgmt_landlock_add_dir_of(ll, cfg->mgmt_socket, LL_RUNTIME);
	mgmt_landlock_add_dir_of(ll, pidfile, LL_RUNTIME);
	mgmt_landlock_add(ll, cfg->mgmt_token_file, LL_R);
	/* APTPL reservations: temporary file, rename, removal */
	mgmt_landlock_add(ll, cfg->pr_dir, LL_RUNTIME);
	for (unsigned int i = 0; i < cfg->n_listen; i++)
		if (!strncmp(cfg->listen[i], "unix:", 5))
			mgmt_landlock_add_dir_of(ll, cfg->listen[i] + 5,
						 LL_RUNTIME);
}

/* The rights this kernel's Landlock ABI knows, minus REFER and
 * IOCTL_DEV (see the top). */
static __u64 mgmt_landlock_handled(int abi)
{
	__u64 all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return all;
}

int mgmt_landlock_apply(const struct mgmt_config *cfg, const char *pidfile)
{
	struct landlock_ruleset_attr attr = { 0 };
	struct mgmt_landlock ll;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);
	int ret = 0;

	if (abi < 0) {
		log_info("landlock: not available (%s); file access is not "
			 "restricted",
			 strerror(errno));
		return 0;
	}
	ll.handled = mgmt_landlock_handled((int)abi);
	attr.handled_access_fs = ll.handled;
	ll.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr),
			     0);
	if (ll.fd < 0) {
		ret = -errno;
		log_error("landlock: creating the ruleset: %s", strerror(-ret));
		return ret;
	}
	mgmt_landlock_add_system(&ll, cfg);
	mgmt_landlock_add_exports(&ll, cfg);
	mgmt_landlock_add_runtime(&ll, cfg, pidfile);
	mgmt_landlock_add_credentials(&ll, cfg);
	if (syscall(SYS_landlock_restrict_self, ll.fd, 0) < 0) {
		ret = -errno;
		log_error("landlock: %s", strerror(-ret));
	} else {
		log_info("landlock: file access restricted (ABI %ld)", abi);
	}
	close(ll.fd);
	return ret;
}
