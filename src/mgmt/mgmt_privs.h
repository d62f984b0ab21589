/* SPDX-License-Identifier: MIT */
/*
 * Least privilege (doc/security.md "Privileges"): what a root-started
 * iopd gives up once everything that needs root is open.  Two steps,
 * because Landlock binds only the thread that asks and the threads it
 * starts later, while the user switch must wait for the management
 * socket and the pid file:
 *
 *   mgmt_privs_confine  main thread, before any other thread starts:
 *                       look the user up, PR_SET_NO_NEW_PRIVS, Landlock;
 *   mgmt_privs_drop     after the listeners, the devices, the metrics
 *                       endpoint, the management socket and the pid
 *                       file: setgroups/setgid/setuid (checked), then
 *                       the seccomp filter on every thread.
 *
 * --sandbox=off leaves out Landlock and seccomp; NoNewPrivs and the user
 * switch stay.  Each returns 0 or -errno after logging.
 */
#ifndef IOPD_MGMT_PRIVS_H
#define IOPD_MGMT_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

struct mgmt_config;

struct mgmt_privs {
	bool switch_user; /* --user or --group given */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* the user's supplementary groups */
	int n_groups;
};

int mgmt_privs_confine(struct mgmt_config *cfg, const char *pidfile,
		       struct mgmt_privs *p);
int mgmt_privs_drop(const struct mgmt_config *cfg, struct mgmt_privs *p);
void mgmt_privs_fini(struct mgmt_privs *p);

/* What a denied system call does: fail with EPERM (release builds), or
 * log its number and abort (IOPD_DEBUG builds, SCMP_ACT_TRAP). */
enum mgmt_seccomp_deny {
	MGMT_SECCOMP_EPERM,
	MGMT_SECCOMP_ABORT,
};

/* Install iopd's system call filter on every thread of the process
 * (mgmt_seccomp.c).  Needs NoNewPrivs or CAP_SYS_ADMIN. */
int mgmt_seccomp_install(enum mgmt_seccomp_deny deny);

/* Restrict file access to the paths cfg needs (mgmt_landlock.c); the
 * calling thread and the threads it starts later.  0 also when the
 * kernel has no Landlock (logged once). */
int mgmt_landlock_apply(const struct mgmt_config *cfg, const char *pidfile);

#endif
