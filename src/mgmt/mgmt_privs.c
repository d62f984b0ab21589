// SPDX-License-Identifier: MIT
/*
 * Giving up root (mgmt_privs.h): the user and group switch and the order
 * of the steps.  The rules themselves are in mgmt_landlock.c (files) and
 * mgmt_seccomp.c (system calls).  Nothing here keeps a capability: what
 * a later call needs (a block device exported live, save-config, a
 * reload) must be reachable by the user's own rights, which
 * doc/security.md lists.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_privs.h"

/* A name or a number. */
static int mgmt_privs_lookup_user(const char *name, struct passwd **pwp)
{
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	errno = 0;
	*pwp = *end || end == name ? getpwnam(name) : getpwuid((uid_t)n);
	if (*pwp)
		return 0;
	log_error("--user %s: %s", name,
		  errno ? strerror(errno) : "no such user");
	return errno ? -errno : -ENOENT;
}

static int mgmt_privs_lookup_group(const char *name, gid_t *gid)
{
	char *end;
	unsigned long n = strtoul(name, &end, 10);
	struct group *gr;

	errno = 0;
	gr = *end || end == name ? getgrnam(name) : getgrgid((gid_t)n);
	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	log_error("--group %s: %s", name,
		  errno ? strerror(errno) : "no such group");
	return errno ? -errno : -ENOENT;
}

/* The user's supplementary groups, read while /etc is still readable
 * (before Landlock).  Without --user: none, only the group. */
static int mgmt_privs_groups(const struct passwd *pw, struct mgmt_privs *p)
{
	int n = 16;

	if (!pw)
		return 0;
	for (;;) {
		gid_t *g = realloc(p->groups, (size_t)n * sizeof(*g));

		if (!g)
			return -ENOMEM;
		p->groups = g;
		if (getgrouplist(pw->pw_name, p->gid, g, &n) >= 0)
			break;
	}
	p->n_groups = n;
	return 0;
}

static int mgmt_privs_resolve(const struct mgmt_config *cfg,
			      struct mgmt_privs *p)
{
	struct passwd *pw = NULL;
	int ret;

	p->switch_user = cfg->user || cfg->group;
	if (!p->switch_user)
		return 0;
	if (getuid() != 0 && geteuid() != 0) {
		log_error("--user/--group: iopd must be started as root to "
			  "switch");
		return -EPERM;
	}
	p->uid = getuid();
	p->gid = getgid();
	if (cfg->user) {
		ret = mgmt_privs_lookup_user(cfg->user, &pw);
		if (ret < 0)
			return ret;
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
	}
	if (cfg->group) {
		ret = mgmt_privs_lookup_group(cfg->group, &p->gid);
		if (ret < 0)
			return ret;
	}
	return mgmt_privs_groups(pw, p);
}

int mgmt_privs_confine(struct mgmt_config *cfg, const char *pidfile,
		       struct mgmt_privs *p)
{
	int ret = mgmt_privs_resolve(cfg, p);

	if (ret < 0)
		return ret;
	/* Never again gain privileges through execve (setuid binaries,
	 * file capabilities): iopd executes nothing, so this costs
	 * nothing, and Landlock and seccomp need it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		log_error("PR_SET_NO_NEW_PRIVS: %s", strerror(-ret));
		return ret;
	}
	if (!cfg->sandbox)
		return 0;
	return mgmt_landlock_apply(cfg, pidfile);
}

/* After setresuid, no way back: a process that can still become root (or
 * kept a capability) has not dropped anything. */
static int mgmt_privs_verify(const struct mgmt_privs *p)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_error("--user: could become root again; refusing to run");
		return -EPERM;
	}
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    r != p->uid || e != p->uid || s != p->uid || rg != p->gid ||
	    eg != p->gid || sg != p->gid) {
		log_error("--user: the switch did not take on every id");
		return -EPERM;
	}
	return 0;
}

static int mgmt_privs_switch(struct mgmt_privs *p)
{
	/* glibc applies each of these to every thread (the metrics
	 * endpoint's already runs). */
	if (setgroups((size_t)p->n_groups, p->groups) < 0 ||
	    setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0) {
		int ret = -errno;

		log_error("switching to uid %u gid %u: %s", (unsigned)p->uid,
			  (unsigned)p->gid, strerror(-ret));
		return ret;
	}
	if (mgmt_privs_verify(p) < 0)
		return -EPERM;
#ifdef IOPD_DEBUG
	/* The uid change made the process undumpable; LeakSanitizer
	 * attaches to its own threads with ptrace at exit. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	log_info("running as uid %u gid %u (%d supplementary groups)",
		 (unsigned)p->uid, (unsigned)p->gid, p->n_groups);
	return 0;
}

int mgmt_privs_drop(const struct mgmt_config *cfg, struct mgmt_privs *p)
{
	int ret;

	if (p->switch_user) {
		ret = mgmt_privs_switch(p);
		if (ret < 0)
			return ret;
	}
	if (!cfg->sandbox)
		return 0;
#ifdef IOPD_DEBUG
	return mgmt_seccomp_install(MGMT_SECCOMP_ABORT);
#else
	return mgmt_seccomp_install(MGMT_SECCOMP_EPERM);
#endif
}

void mgmt_privs_fini(struct mgmt_privs *p)
{
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
}
