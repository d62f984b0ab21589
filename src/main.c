// SPDX-License-Identifier: MIT
/*
 * iopd's entry point: parse the command line and config, then start the
 * subsystems in the order of DESIGN.md (claims 19 and 23):
 *   1. configuration;  2. the Local Transport scans and opens the IOPs;
 *   3. the Remote Transport binds its listeners, admitting nobody yet;
 *   4. the Connection Manager builds one descriptor per IOP and the
 *      exports;  5. iopd reports ready and starts admitting clients.
 * Shutdown runs the other way.  Only this file exits the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "base/base_file.h"
#include "base/base_fdlimit.h"
#include "base/base_log.h"
#include "connmgr/connmgr.h"
#include "iopd/ddm.h"
#include "iopd/iscsi.h"
#include "iopd/remote.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_ops.h"
#include "mgmt/mgmt_privs.h"
#include "mgmt/mgmt_config_alua.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_schema.h"
#include "scsi/scsi.h"

#define IOPD_VERSION	    "0.1.0"
#define IOPD_MAX_LISTEN_FDS 64
#define IOPD_MAX_OPTS	    64
/* getopt's value for a long option without a short one: this + its index
 * in mgmt_opts. */
#define IOPD_OPT_LONG 256

struct iopd_opts {
	const char *config_path;
	const char *pidfile;
	int ready_fd;
	bool daemon;
	bool stdio;
};

/* getopt's tables, built from the option schema (mgmt_schema.h). */
static struct option iopd_long_opts[IOPD_MAX_OPTS + 1];
static char iopd_short_opts[3 * IOPD_MAX_OPTS + 1];

static void iopd_opts_build(void)
{
	char *s = iopd_short_opts;
	size_t n = 0;

	for (size_t i = 0; mgmt_opts[i].name || mgmt_opts[i].key; i++) {
		const struct mgmt_opt *o = &mgmt_opts[i];

		if (!o->name || n == IOPD_MAX_OPTS)
			continue;
		iopd_long_opts[n++] = (struct option){
			.name = o->name,
			.has_arg = o->arg ? required_argument : no_argument,
			.val = o->short_name ? o->short_name
					     : IOPD_OPT_LONG + (int)i,
		};
		if (o->short_name) {
			*s++ = o->short_name;
			if (o->arg)
				*s++ = ':';
		}
	}
	*s = 0;
}

/* The schema's entry for what getopt_long returned; NULL: an error. */
static const struct mgmt_opt *iopd_opt_find(int c)
{
	if (c >= IOPD_OPT_LONG)
		return &mgmt_opts[c - IOPD_OPT_LONG];
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++)
		if (o->name && o->short_name == c)
			return o;
	return NULL;
}

/* The last line of --help, which tests/integration/lib.sh reads to learn
 * what this binary serves (iopd_has_transport). */
static void iopd_usage_transports(FILE *f)
{
	char names[128];

	fprintf(f, "\nDDMs built in: %s\n", ddm_names(names, sizeof(names)));
	fprintf(f, "Transports built in: %s\n",
		remote_transport_names(names, sizeof(names)));
}

/* A DDM's spec_help is "SPEC  WHAT IT IS": the length of SPEC. */
static int iopd_spec_width(const char *help)
{
	const char *gap = strstr(help, "  ");

	return (int)(gap ? (size_t)(gap - help) : strlen(help));
}

/* The spec column as wide as its widest entry (rbd's is long). */
static void iopd_usage_specs(FILE *f)
{
	const struct ddm_ops *ddm;
	int width = (int)strlen("PATH");

	for (unsigned int i = 0; (ddm = ddm_at(i)); i++)
		if (ddm->spec_help && iopd_spec_width(ddm->spec_help) > width)
			width = iopd_spec_width(ddm->spec_help);
	for (unsigned int i = 0; (ddm = ddm_at(i)); i++) {
		const char *h = ddm->spec_help, *what;
		int n;

		if (!h)
			continue;
		n = iopd_spec_width(h);
		for (what = h + n; *what == ' ';)
			what++;
		fprintf(f, "  %-*.*s  %s\n", width, n, h, what);
	}
	fprintf(f, "  %-*s  a file or block device, by its type\n", width,
		"PATH");
}

static void iopd_usage(FILE *f)
{
	fprintf(f, "Usage: iopd [OPTION]... [EXPORT]...\n"
		   "Export local storage over NBD and iSCSI.\n"
		   "\n"
		   "EXPORT is [NAME=]SPEC[?KEY=VALUE&...][,ro][,desc=TEXT], "
		   "SPEC one of:\n");
	iopd_usage_specs(f);
	fprintf(f, "?KEY=VALUE&... are settings of SPEC's DDM.  The first "
		   "export is the default\n(what a client asking for \"\" "
		   "gets).\n"
		   "\n");
	mgmt_opts_usage(f);
	fprintf(f, "\nExample: iopd ram:1G, then: nbdinfo nbd://localhost\n");
	iopd_usage_transports(f);
}

static int iopd_parse_uint(const char *text, unsigned int max,
			   unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/*
 * First pass: only the config file, so that the environment and then
 * every option given on the command line override what it says.
 */
static int iopd_parse_config(int argc, char **argv, struct mgmt_config *cfg,
			     struct iopd_opts *opts)
{
	const char *env = getenv("IOPD_ENGINE");
	/* getopt permutes what it scans, so the first pass gets a copy. */
	char **scan = calloc((size_t)argc + 1, sizeof(*scan));
	int c;

	if (!scan)
		return -1;
	memcpy(scan, argv, (size_t)argc * sizeof(*scan));
	opterr = 0;
	while ((c = getopt_long(argc, scan, iopd_short_opts, iopd_long_opts,
				NULL)) != -1)
		if (c == 'c')
			opts->config_path = optarg;
	free(scan);
	opterr = 1;
	optind = 0; /* glibc: start over */
	if (opts->config_path &&
	    mgmt_config_load_file(cfg, opts->config_path) < 0)
		return -1;
	if (env && env[0] && base_engine_parse(env, &cfg->engine) < 0) {
		log_error("IOPD_ENGINE=%s: expected auto, uring or epoll", env);
		return -1;
	}
	if (env && env[0])
		mgmt_opt_mark_cli(cfg, "engine");
	return 0;
}

/* The options that are main's, not the configuration's.  Returns 0, 1
 * for "exit 0 now" (help, version), or -1 on a usage error. */
static int iopd_main_opt(const struct mgmt_opt *o, const char *arg,
			 struct iopd_opts *opts)
{
	unsigned int n;

	if (!strcmp(o->name, "pidfile")) {
		opts->pidfile = arg;
	} else if (!strcmp(o->name, "ready-fd")) {
		if (iopd_parse_uint(arg, 65535, &n) < 0 || n < 3 ||
		    fcntl((int)n, F_GETFD) < 0) {
			log_error(
				"--ready-fd %s: not an open descriptor above 2",
				arg);
			return -1;
		}
		opts->ready_fd = (int)n;
	} else if (o->short_name == 'd') {
		opts->daemon = true;
	} else if (o->short_name == 's') {
		opts->stdio = true;
	} else if (o->short_name == 'h') {
		iopd_usage(stdout);
		return 1;
	} else if (o->short_name == 'V') {
		char names[128];

		printf("iopd %s\nDDMs built in: %s\n", IOPD_VERSION,
		       ddm_names(names, sizeof(names)));
		return 1;
	}
	return 0; /* -c: read by the first pass */
}

/* What the options say together. */
static int iopd_args_check(struct mgmt_config *cfg,
			   const struct iopd_opts *opts)
{
	if (cfg->n_exports == 0) {
		log_error("nothing to export; try: iopd ram:1G");
		return -1;
	}
	if (mgmt_iscsi_check(cfg) < 0)
		return -1;
	/* ALUA target port groups: fixed before the first session. */
	if (cfg->iscsi && mgmt_alua_apply(cfg->iscsi->alua) < 0)
		return -1;
	if (opts->stdio && mgmt_iscsi_get(cfg)) {
		log_error(
			"--stdio serves NBD on stdin/stdout: no iSCSI portals");
		return -1;
	}
	if (cfg->no_listen && !opts->stdio && !mgmt_iscsi_get(cfg)) {
		log_error("no NBD listener (--listen none) and no iSCSI "
			  "portal: nothing to serve; give --iscsi-listen");
		return -1;
	}
	if (opts->stdio && (opts->daemon || cfg->n_listen)) {
		log_error(
			"--stdio serves stdin/stdout: no --listen or --daemon");
		return -1;
	}
	return 0;
}

/* Returns 0, 1 for "exit 0 now" (help, version), or -1 on a usage error. */
static int iopd_parse_args(int argc, char **argv, struct mgmt_config *cfg,
			   struct iopd_opts *opts)
{
	const struct mgmt_opt *o;
	int c, ret;

	iopd_opts_build();
	if (iopd_parse_config(argc, argv, cfg, opts) < 0)
		return -1;
	while ((c = getopt_long(argc, argv, iopd_short_opts, iopd_long_opts,
				NULL)) != -1) {
		o = iopd_opt_find(c);
		if (!o) {
			fprintf(stderr, "Try 'iopd --help'.\n");
			return -1;
		}
		if (o->kind == MGMT_OPT_MAIN)
			ret = iopd_main_opt(o, optarg, opts);
		else
			ret = mgmt_opt_set_cli(cfg, o, optarg) < 0 ? -1 : 0;
		if (ret)
			return ret;
		/* For the messages of the options after it. */
		if (o->short_name == 'v')
			base_log_set_level(cfg->log_level);
	}
	for (int i = optind; i < argc; i++)
		if (mgmt_config_add_export_spec(cfg, argv[i]) < 0)
			return -1;
	return iopd_args_check(cfg, opts);
}

/* Write the pidfile atomically so a reader never sees it half written,
 * and through base_file so a symlink planted in its directory is never
 * followed. */
static int iopd_pidfile_write(const char *path)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	int ret = base_file_write_atomic(path, text, (size_t)len, 0644);

	if (ret < 0)
		log_error("pidfile %s: %s", path, strerror(-ret));
	return ret;
}

/*
 * systemd socket activation (sd_listen_fds(3) protocol): the listeners
 * are fds 3.. when LISTEN_PID is us.  Lets `nbdinfo -- [ iopd ... ]`
 * start a private server.
 */
static int iopd_activation_fds(int *fds, int max)
{
	/* libsystemd checks LISTEN_PID, sets FD_CLOEXEC and, with 1,
	 * unsets the variables so no child inherits them. */
	int n = sd_listen_fds(1);

	if (n <= 0)
		return 0;
	if (n > max) {
		log_warn("socket activation: %d sockets, using the first %d", n,
			 max);
		n = max;
	}
	for (int i = 0; i < n; i++) {
		fds[i] = SD_LISTEN_FDS_START + i;
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	}
	return n;
}

/* Options asking for a transport this iopd was built without (the
 * Makefile's TRANSPORTS) fail here, before anything starts. */
static int iopd_transports_check(const struct mgmt_config *cfg,
				 const struct iopd_opts *opts)
{
	bool nbd = remote_transport_find("nbd") != NULL;
	const char *what = NULL, *name = "nbd";
	char built[128];

	if (mgmt_iscsi_get(cfg) && !remote_transport_find("iscsi")) {
		what = "--iscsi-listen (or the config file's iscsi.listen)";
		name = "iscsi";
	} else if (!nbd && opts->stdio) {
		what = "--stdio";
	} else if (!nbd && cfg->n_listen) {
		what = "--listen (or the config file's listen)";
	} else if (!nbd && !mgmt_iscsi_get(cfg)) {
		/* NBD on localhost is the default listener. */
		log_error("nothing to listen on: this iopd was built without "
			  "the nbd transport (it has: %s); give --iscsi-listen",
			  remote_transport_names(built, sizeof(built)));
		return -1;
	}
	if (!what)
		return 0;
	log_error("%s needs the %s transport, which this iopd was built "
		  "without (it has: %s)",
		  what, name, remote_transport_names(built, sizeof(built)));
	return -1;
}

/* Bind each listener spec of specs[0..n) after fds[0..at), its allow
 * lists in acls[] at the same indexes.  Returns the new fd count or
 * -errno. */
static int iopd_bind_specs(char *const *specs, unsigned int n, int port,
			   int *fds, struct base_acl *acls, int at, int max)
{
	int first = at, ret = 0;

	for (unsigned int i = 0; i < n && ret >= 0; i++) {
		struct base_acl acl = { 0 };

		ret = remote_listen_bind_spec(specs[i], port, fds + at,
					      max - at, &acl);
		/* Every fd of a host name gets the same lists. */
		for (int j = at; j < at + ret; j++)
			if (base_acl_copy(&acls[j], &acl) < 0)
				ret = -ENOMEM;
		base_acl_fini(&acl);
		if (ret > 0)
			at += ret;
	}
	if (ret >= 0)
		return at;
	while (at > first)
		close(fds[--at]);
	return ret;
}

static int iopd_bind(struct mgmt_config *cfg, int *fds, struct base_acl *acls,
		     int max)
{
	int n = iopd_activation_fds(fds, max);

	if (n > 0)
		return n;
	/* NBD on localhost by default, when there is NBD and the operator
	 * did not turn it off (--listen none, "listen": []). */
	if (cfg->n_listen == 0 && !cfg->no_listen &&
	    remote_transport_find("nbd") &&
	    mgmt_config_add_listen(cfg, "localhost") < 0)
		return -ENOMEM;
	return iopd_bind_specs(cfg->listen, cfg->n_listen, MGMT_DEFAULT_PORT,
			       fds, acls, 0, max);
}

/* iSCSI portals, after the NBD listeners in the same fd array. */
static int iopd_bind_iscsi(const struct mgmt_config *cfg, int *fds,
			   struct base_acl *acls, int at, int max)
{
	const struct mgmt_iscsi *is = mgmt_iscsi_get(cfg);

	if (!is)
		return at;
	return iopd_bind_specs(is->listen, is->n_listen, ISCSI_DEFAULT_PORT,
			       fds, acls, at, max);
}

/* Listeners name their transport; the Connection Manager finds it in the
 * registry (iopd/remote.h). */
static int iopd_listener_add(struct connmgr *cm, const struct mgmt_config *cfg,
			     int fd, bool iscsi, const struct base_acl *acl)
{
	int ret;

	/* The portal's transport_ctx: the iSCSI targets, which live as
	 * long as cfg, i.e. until after connmgr_destroy. */
	if (iscsi)
		ret = connmgr_listener_add(cm, fd, "iscsi",
					   (void *)&mgmt_iscsi_get(cfg)->cfg);
	else
		ret = connmgr_listener_add(cm, fd, "nbd", NULL);
	if (ret == 0 && !base_acl_is_empty(acl))
		ret = connmgr_listener_set_access(cm, fd, acl);
	return ret;
}

/* What a user types to reach the listener described by "tcp H:P" or
 * "unix PATH". */
static void iopd_client_hint(const char *listener)
{
	if (!strncmp(listener, "tcp ", 4))
		log_info("ready; try: nbdinfo --list nbd://%s", listener + 4);
	else if (!strncmp(listener, "unix ", 5))
		log_info("ready; try: nbdinfo --list 'nbd+unix:///?socket=%s'",
			 listener + 5);
}

/* fds[0..n_nbd) are NBD listeners, the rest iSCSI portals, announced as
 * "iscsi H:P" instead of "tcp H:P". */
static void iopd_ready(const struct iopd_opts *opts, const int *fds, int n,
		       int n_nbd, int daemon_fd)
{
	char line[512], first[512] = "", portal[512] = "";

	for (int i = 0; i < n; i++) {
		if (remote_listen_describe(fds[i], line, sizeof(line)) < 0)
			continue;
		if (i >= n_nbd) {
			if (strncmp(line, "tcp ", 4))
				continue;
			memmove(line + 5, line + 3, strlen(line + 3) + 1);
			memcpy(line, "iscsi", 5);
			if (!portal[0])
				snprintf(portal, sizeof(portal), "%s",
					 line + 6);
		}
		log_info("listening on %s", line);
		if (!first[0] && i < n_nbd)
			snprintf(first, sizeof(first), "%s", line);
		if (opts->ready_fd > 0)
			dprintf(opts->ready_fd, "LISTEN %s\n", line);
	}
	iopd_client_hint(first);
	if (portal[0])
		log_info("iSCSI ready; try: iscsi-ls -s iscsi://%s", portal);
	if (opts->ready_fd > 0) {
		dprintf(opts->ready_fd, "READY\n");
		close(opts->ready_fd);
	}
	if (daemon_fd >= 0) {
		if (write(daemon_fd, "R", 1) < 0) {
			/* the parent died: nothing to tell */
		}
		close(daemon_fd);
	}
}

/*
 * Fork before any thread exists.  The parent waits until the child is
 * ready (or dies) and exits with that result.  Returns the fd the child
 * writes its readiness to.
 */
static int iopd_daemonize(void)
{
	int pipefd[2], devnull;
	pid_t pid;
	char c;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pipefd[1]);
		_exit(read(pipefd[0], &c, 1) == 1 ? 0 : 1);
	}
	close(pipefd[0]);
	setsid();
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	base_log_use_syslog("iopd");
	return pipefd[1];
}

static int iopd_signal_fd(void)
{
	sigset_t set;

	/* Blocked in every thread (workers inherit the mask) and read
	 * through a signalfd on the main loop. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

struct iopd_hup_arg {
	struct mgmt_rpc *rpc;
	struct mgmt_config *cfg;
};

/* Main thread, on SIGHUP: the management thread reloads. */
static void iopd_hup(void *arg)
{
	struct iopd_hup_arg *hup = arg;

	log_info("SIGHUP: reloading the configuration");
	/* New TLS sessions get the files as they are now; connected
	 * clients keep the credentials they started with. */
	mgmt_tls_reload();
	mgmt_ops_reload(hup->cfg); /* the same for /metrics over HTTPS */
	mgmt_rpc_request_reload(hup->rpc);
}

/* The management channel: its thread always (SIGHUP reloads run there),
 * its socket when asked for. */
static int iopd_mgmt_create(struct mgmt_ctx *mctx, struct mgmt_rpc **rpcp)
{
	struct mgmt_rpc_config rcfg = {
		.socket_path = mctx->cfg->mgmt_socket,
		.tcp_addr = mctx->cfg->mgmt_listen,
		.token_file = mctx->cfg->mgmt_token_file,
		.allow_uid = -1,
		.local_clients = mctx->cfg->mgmt_local_clients,
		.tcp_clients = mctx->cfg->mgmt_tcp_clients,
		.auth_timeout_ms = mctx->cfg->mgmt_auth_timeout_ms,
		.reply_max_bytes = mctx->cfg->mgmt_reply_max_bytes,
		.write_timeout_ms = mctx->cfg->mgmt_write_timeout_ms,
	};

	return mgmt_rpc_create(&rcfg, mctx, rpcp);
}

/* Step 1: the command line and config file, the descriptor limit, TLS
 * credentials, detaching and logging.  Returns 0 to go on, 1 when done
 * (--help, --version), -1 on failure. */
static int iopd_setup(int argc, char **argv, struct mgmt_config *cfg,
		      struct iopd_opts *opts, int *daemon_fd)
{
	int ret = iopd_parse_args(argc, argv, cfg, opts);

	if (ret != 0)
		return ret > 0 ? 1 : -1;
	base_log_set_level(cfg->log_level);
	if (iopd_transports_check(cfg, opts) < 0)
		return -1;
	/* Before anything opens a descriptor that the reserve would count. */
	base_fd_limit_raise();
	base_fd_reserve_set(cfg->fd_reserve);
	if (mgmt_config_specs(cfg) < 0 || mgmt_tls_setup(cfg) < 0)
		return -1;
	if (opts->daemon) {
		*daemon_fd = iopd_daemonize();
		if (*daemon_fd < 0)
			return -1;
	}
	mgmt_ops_log_setup(cfg, opts->daemon);
	return 0;
}

/* Step 3: NBD listeners, then iSCSI portals, in one fd array with their
 * allow lists; *n_nbd gets how many are NBD.  Returns the count, or -1
 * with none left open. */
static int iopd_bind_all(struct mgmt_config *cfg, int *fds,
			 struct base_acl *acls, int *n_nbd)
{
	int n = iopd_bind(cfg, fds, acls, IOPD_MAX_LISTEN_FDS), ret;

	if (n < 0)
		return -1;
	ret = iopd_bind_iscsi(cfg, fds, acls, n, IOPD_MAX_LISTEN_FDS);
	if (ret < 0) {
		while (n > 0)
			close(fds[--n]);
		return -1;
	}
	*n_nbd = n;
	return ret;
}

/* Steps 4 and 5 once the Connection Manager exists: hand it the
 * listeners (fds[i] becomes -1 as it takes each), start metrics, the
 * management channel and the workers, announce readiness, and serve
 * until a signal.  Returns the exit status. */
static int iopd_serve(struct connmgr *cm, struct mgmt_ctx *mctx,
		      const struct iopd_opts *opts, int *fds,
		      const struct base_acl *acls, int n_fds, int n_nbd,
		      int daemon_fd, struct mgmt_privs *privs)
{
	struct mgmt_config *cfg = mctx->cfg;
	int listen_fds[IOPD_MAX_LISTEN_FDS], sfd = -1;
	int status = EXIT_FAILURE;
	struct mgmt_rpc *rpc = NULL;
	struct iopd_hup_arg hup = { .cfg = cfg };

	for (int i = 0; i < n_fds; i++) {
		if (iopd_listener_add(cm, cfg, fds[i], i >= n_nbd, &acls[i]) <
		    0)
			return EXIT_FAILURE;
		listen_fds[i] = fds[i];
		fds[i] = -1; /* the Connection Manager owns it now */
	}
	sfd = iopd_signal_fd();
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	/* NoNewPrivs and Landlock: before the first thread starts. */
	if (mgmt_privs_confine(cfg, opts->pidfile, privs) < 0)
		goto out;
	/* Metrics and the first discovery scan, before the management
	 * thread that reads them starts. */
	if (mgmt_ops_start(cfg) < 0)
		goto out;
	mctx->cm = cm;
	mctx->config_path = opts->config_path;
	if (iopd_mgmt_create(mctx, &rpc) < 0)
		goto out;
	/* The pid file before --user: its directory may be root's. */
	if (opts->pidfile && iopd_pidfile_write(opts->pidfile) < 0)
		goto out;
	if (mgmt_privs_drop(cfg, privs) < 0 || connmgr_workers_start(cm) < 0 ||
	    mgmt_rpc_start(rpc) < 0)
		goto out;
	hup.rpc = rpc;
	connmgr_hup_set(cm, iopd_hup, &hup);
	connmgr_stop_set(cm, mgmt_ops_stopping, NULL);
	/* Step 5: ready; then admit clients until a signal. */
	for (unsigned int i = 0;
	     opts->ready_fd > 0 && mgmt_rpc_describe(rpc, i); i++)
		dprintf(opts->ready_fd, "LISTEN mgmt %s\n",
			mgmt_rpc_describe(rpc, i));
	mgmt_ops_ready(cfg, opts->ready_fd);
	iopd_ready(opts, listen_fds, n_fds, n_nbd, daemon_fd);
	status = connmgr_run(cm, sfd) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
out:
	/* Joins the management thread, which may use cm until then. */
	mgmt_rpc_destroy(rpc);
	mgmt_ops_stop(cfg);
	close(sfd);
	return status;
}

int main(int argc, char **argv)
{
	struct iopd_opts opts = { .ready_fd = -1 };
	struct mgmt_config cfg;
	struct mgmt_ctx mctx = { .cfg = &cfg, .version = IOPD_VERSION };
	struct mgmt_privs privs = { 0 };
	struct local *local = NULL;
	struct connmgr *cm = NULL;
	int fds[IOPD_MAX_LISTEN_FDS];
	struct base_acl acls[IOPD_MAX_LISTEN_FDS] = { 0 };
	int n_fds = 0, n_nbd = 0, daemon_fd = -1, ret;
	int status = EXIT_FAILURE;

	/* A peer that vanishes must not kill us: writes get EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	mgmt_config_init(&cfg);
	ret = iopd_setup(argc, argv, &cfg, &opts, &daemon_fd);
	if (ret != 0) {
		status = ret > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	/* Where persistent reservations that ask for it (APTPL) are kept;
	 * the first nexus on a device reads them back. */
	if (scsi_pr_configure(cfg.pr_dir) < 0)
		goto out;
	/* Step 2: the Local Transport scans and opens the IOPs. */
	if (local_scan(&cfg.local, &local) < 0)
		goto out;
	/* Step 3: the Remote Transport binds, admitting nobody yet. */
	if (!opts.stdio) {
		n_fds = iopd_bind_all(&cfg, fds, acls, &n_nbd);
		if (n_fds < 0) {
			n_fds = 0;
			goto out_local;
		}
	}
	/* Step 4: descriptors and exports. */
	if (connmgr_create(&cfg.connmgr, local, &cm) < 0)
		goto out_close_fds;
	if (opts.stdio)
		status = connmgr_serve_stdio(cm, "nbd", 0, 1) < 0
				 ? EXIT_FAILURE
				 : EXIT_SUCCESS;
	else
		status = iopd_serve(cm, &mctx, &opts, fds, acls, n_fds, n_nbd,
				    daemon_fd, &privs);
	connmgr_destroy(cm);
out_close_fds:
	for (int i = 0; i < n_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
out_local:
	/* Stopping is a flush point: every device is flushed before it is
	 * closed, and a failure (or an uncleared write-back error, or one
	 * met when an export was removed) makes the exit status 1. */
	if (local_destroy(local) < 0 || local_close_failures())
		status = EXIT_FAILURE;
	if (opts.pidfile && status == EXIT_SUCCESS)
		unlink(opts.pidfile);
out:
	for (int i = 0; i < IOPD_MAX_LISTEN_FDS; i++)
		base_acl_fini(&acls[i]);
	mgmt_tls_cleanup();
	mgmt_privs_fini(&privs);
	mgmt_config_fini(&cfg);
	return status;
}
