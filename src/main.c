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

#include "base/base_log.h"
#include "connmgr/connmgr.h"
#include "iopd/iscsi.h"
#include "iopd/remote.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_ops.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_rpc.h"

#define IOPD_VERSION	    "0.1.0"
#define IOPD_MAX_LISTEN_FDS 64
#define IOPD_SHORT_OPTS	    "l:rc:t:e:dsv:hV"

struct iopd_opts {
	const char *config_path;
	const char *pidfile;
	int ready_fd;
	bool daemon;
	bool stdio;
};

enum {
	OPT_DIRECT = 256,
	OPT_MAX_REQUEST,
	OPT_DEFAULT_EXPORT,
	OPT_PIDFILE,
	OPT_READY_FD,
	OPT_DRAIN_TIMEOUT,
	OPT_ISCSI_LISTEN,
	OPT_ISCSI_TARGET,
	OPT_IQN_PREFIX,
	OPT_METRICS_LISTEN,
	OPT_LOG_TARGET,
	OPT_IMAGE_DIR,
	OPT_MGMT_SOCKET,
	OPT_MGMT_LISTEN,
	OPT_MGMT_TOKEN_FILE,
	OPT_BUSY_POLL,
};

static const struct option iopd_long_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "read-only", no_argument, NULL, 'r' },
	{ "config", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 't' },
	{ "engine", required_argument, NULL, 'e' },
	{ "direct", required_argument, NULL, OPT_DIRECT },
	{ "max-request", required_argument, NULL, OPT_MAX_REQUEST },
	{ "default-export", required_argument, NULL, OPT_DEFAULT_EXPORT },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "iscsi-listen", required_argument, NULL, OPT_ISCSI_LISTEN },
	{ "iscsi-target", required_argument, NULL, OPT_ISCSI_TARGET },
	{ "iqn-prefix", required_argument, NULL, OPT_IQN_PREFIX },
	{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
	{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
	{ "image-dir", required_argument, NULL, OPT_IMAGE_DIR },
	{ "mgmt-socket", required_argument, NULL, OPT_MGMT_SOCKET },
	{ "mgmt-listen", required_argument, NULL, OPT_MGMT_LISTEN },
	{ "mgmt-token-file", required_argument, NULL, OPT_MGMT_TOKEN_FILE },
	{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
	{ "daemon", no_argument, NULL, 'd' },
	{ "stdio", no_argument, NULL, 's' },
	{ "log-level", required_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void iopd_usage(FILE *f)
{
	fprintf(f,
		"Usage: iopd [OPTION]... [EXPORT]...\n"
		"Export local storage over NBD and iSCSI.\n"
		"\n"
		"EXPORT is [NAME=]SPEC[,ro][,desc=TEXT], SPEC one of:\n"
		"  ram:SIZE      sparse RAM disk (SIZE like 512M, 1G)\n"
		"  null:SIZE     reads zeroes, discards writes\n"
		"  file:PATH     regular file      bdev:PATH  block device\n"
		"  PATH          a file or block device, by its type\n"
		"The first export is the default (what a client asking for "
		"\"\" gets).\n"
		"\n"
		"  -l, --listen=ADDR       HOST:PORT, [V6]:PORT, :PORT or "
		"unix:PATH;\n"
		"                          repeatable; port 0 picks a free "
		"port\n"
		"                          (default: localhost:%d)\n"
		"  -r, --read-only         export everything read-only\n"
		"  -c, --config=FILE       JSON config file (see iopd(8))\n"
		"  -t, --threads=N         worker threads (default: one per "
		"CPU)\n"
		"  -e, --engine=ENGINE     auto, uring or epoll (env "
		"IOPD_ENGINE)\n"
		"      --direct=MODE       O_DIRECT for files and block "
		"devices:\n"
		"                          auto (default), on, off\n"
		"      --max-request=SIZE  largest read or write (default "
		"32M)\n"
		"      --default-export=NAME\n"
		"      --drain-timeout=SECONDS  on SIGTERM, wait this long "
		"for\n"
		"                          clients to finish (default 10), "
		"then\n"
		"                          close them and exit 1\n"
		"      --iscsi-listen=ADDR serve iSCSI on this portal "
		"(HOST:PORT,\n"
		"                          [V6]:PORT or :PORT; default port "
		"%d);\n"
		"                          repeatable; iSCSI is off without "
		"it\n"
		"                          (or the config file's "
		"iscsi.listen)\n"
		"      --iscsi-target=IQN=EXPORT[,EXPORT...]\n"
		"                          an iSCSI target with these exports "
		"as\n"
		"                          LUNs 0, 1...; repeatable (default: "
		"one\n"
		"                          target per export, LUN 0)\n"
		"      --iqn-prefix=IQN    default target names are "
		"IQN:EXPORT\n"
		"                          (default %s)\n"
		"      --metrics-listen=ADDR  serve Prometheus metrics at "
		"http://ADDR/metrics\n"
		"                          (HOST:PORT, [V6]:PORT or :PORT; "
		"off by default)\n"
		"      --image-dir=DIR     discovery lists the images in DIR; "
		"repeatable\n"
		"      --log-target=WHERE  stderr (default), syslog (default "
		"with\n"
		"                          --daemon) or journal\n"
		"      --mgmt-socket=PATH  serve the management channel "
		"(JSON-RPC,\n"
		"                          iopctl) on this Unix socket, mode "
		"0600;\n"
		"                          none: off (the default)\n"
		"      --mgmt-listen=HOST:PORT  the management channel over "
		"TCP too;\n"
		"                          clients authenticate with the token "
		"in\n"
		"      --mgmt-token-file=FILE  (mode 0600 or stricter)\n"
		"      --busy-poll=USEC    while requests keep coming, workers "
		"poll\n"
		"                          this long for the next before "
		"sleeping\n"
		"                          (default 50; 0 = never)\n"
		"      --pidfile=FILE      write the PID once ready\n"
		"      --ready-fd=N        once ready, write LISTEN lines and "
		"READY\n"
		"                          to fd N, then close it\n"
		"  -d, --daemon            detach once ready; log to syslog\n"
		"  -s, --stdio             serve one connection on "
		"stdin/stdout\n"
		"  -v, --log-level=LEVEL   error, warn, info (default) or "
		"debug\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n"
		"\n"
		"Example: iopd ram:1G, then: nbdinfo nbd://localhost\n",
		MGMT_DEFAULT_PORT, ISCSI_DEFAULT_PORT,
		ISCSI_DEFAULT_IQN_PREFIX);
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

/* Returns 0, 1 for "exit 0 now" (help, version), or -1 on a usage error. */
static int iopd_parse_args(int argc, char **argv, struct mgmt_config *cfg,
			   struct iopd_opts *opts)
{
	const char *env = getenv("IOPD_ENGINE");
	uint64_t bytes;
	unsigned int n;
	int c;

	bool cli_listen = false;

	/* First pass: only the config file, so that the environment and then
	 * every option given on the command line override what it says. */
	/* getopt permutes what it scans, so the first pass gets a copy. */
	char **scan = calloc((size_t)argc + 1, sizeof(*scan));

	if (!scan)
		return -1;
	memcpy(scan, argv, (size_t)argc * sizeof(*scan));
	opterr = 0;
	while ((c = getopt_long(argc, scan, IOPD_SHORT_OPTS, iopd_long_opts,
				NULL)) != -1)
		if (c == 'c')
			opts->config_path = optarg;
	free(scan);
	if (opts->config_path &&
	    mgmt_config_load_file(cfg, opts->config_path) < 0)
		return -1;
	if (env && env[0] && base_engine_parse(env, &cfg->engine) < 0) {
		log_error("IOPD_ENGINE=%s: expected auto, uring or epoll", env);
		return -1;
	}
	opterr = 1;
	optind = 0; /* glibc: start over */
	while ((c = getopt_long(argc, argv, IOPD_SHORT_OPTS, iopd_long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			/* --listen replaces the file's addresses. */
			if (!cli_listen)
				mgmt_config_clear_listen(cfg);
			cli_listen = true;
			if (mgmt_config_add_listen(cfg, optarg) < 0)
				return -1;
			break;
		case 'r':
			cfg->read_only = true;
			break;
		case 'c':
			break;
		case 't':
			if (iopd_parse_uint(optarg, 1024, &n) < 0 || n == 0) {
				log_error("--threads %s: expected 1 to 1024",
					  optarg);
				return -1;
			}
			cfg->threads = n;
			break;
		case 'e':
			if (base_engine_parse(optarg, &cfg->engine) < 0) {
				log_error(
					"--engine %s: expected auto, uring or "
					"epoll",
					optarg);
				return -1;
			}
			break;
		case OPT_DIRECT:
			if (mgmt_direct_parse(optarg, &cfg->direct) < 0) {
				log_error(
					"--direct %s: expected auto, on or off",
					optarg);
				return -1;
			}
			break;
		case OPT_MAX_REQUEST:
			if (mgmt_size_parse(optarg, &bytes) < 0 ||
			    bytes < 4096 || bytes > UINT32_MAX) {
				log_error(
					"--max-request %s: expected 4K to 4G-1",
					optarg);
				return -1;
			}
			cfg->max_request_bytes = (uint32_t)bytes;
			break;
		case OPT_DEFAULT_EXPORT:
			free(cfg->default_export);
			cfg->default_export = strdup(optarg);
			break;
		case OPT_BUSY_POLL:
			if (iopd_parse_uint(optarg, 10000, &n) < 0) {
				log_error("--busy-poll %s: expected 0 to 10000 "
					  "microseconds",
					  optarg);
				return -1;
			}
			cfg->busy_poll_us = (int)n;
			break;
		case OPT_DRAIN_TIMEOUT:
			if (iopd_parse_uint(optarg, 3600, &n) < 0 || n == 0) {
				log_error("--drain-timeout %s: expected 1 to "
					  "3600 seconds",
					  optarg);
				return -1;
			}
			cfg->drain_timeout_ms = n * 1000;
			break;
		case OPT_ISCSI_LISTEN:
			if (mgmt_iscsi_add_cli_listen(cfg, optarg) < 0)
				return -1;
			break;
		case OPT_ISCSI_TARGET:
			if (mgmt_iscsi_add_target_spec(cfg, optarg) < 0)
				return -1;
			break;
		case OPT_IQN_PREFIX:
			if (mgmt_iscsi_set_iqn_prefix(cfg, optarg) < 0)
				return -1;
			break;
		case OPT_METRICS_LISTEN:
			if (mgmt_ops_set_metrics_listen(cfg, optarg) < 0)
				return -1;
			break;
		case OPT_LOG_TARGET:
			if (mgmt_ops_set_log_target(cfg, optarg) < 0)
				return -1;
			break;
		case OPT_IMAGE_DIR:
			if (mgmt_ops_add_image_dir(cfg, optarg) < 0)
				return -1;
			break;
		case OPT_MGMT_SOCKET:
			free(cfg->mgmt_socket);
			cfg->mgmt_socket =
				strcmp(optarg, "none") ? strdup(optarg) : NULL;
			break;
		case OPT_MGMT_LISTEN:
			free(cfg->mgmt_listen);
			cfg->mgmt_listen =
				strcmp(optarg, "none") ? strdup(optarg) : NULL;
			break;
		case OPT_MGMT_TOKEN_FILE:
			free(cfg->mgmt_token_file);
			cfg->mgmt_token_file = strdup(optarg);
			break;
		case OPT_PIDFILE:
			opts->pidfile = optarg;
			break;
		case OPT_READY_FD:
			if (iopd_parse_uint(optarg, 65535, &n) < 0 || n < 3 ||
			    fcntl((int)n, F_GETFD) < 0) {
				log_error(
					"--ready-fd %s: not an open descriptor "
					"above 2",
					optarg);
				return -1;
			}
			opts->ready_fd = (int)n;
			break;
		case 'd':
			opts->daemon = true;
			break;
		case 's':
			opts->stdio = true;
			break;
		case 'v':
			if (base_log_parse_level(optarg, &cfg->log_level) < 0) {
				log_error(
					"--log-level %s: expected error, warn, "
					"info or debug",
					optarg);
				return -1;
			}
			base_log_set_level(cfg->log_level);
			break;
		case 'h':
			iopd_usage(stdout);
			return 1;
		case 'V':
			printf("iopd %s\n", IOPD_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try 'iopd --help'.\n");
			return -1;
		}
	}
	for (int i = optind; i < argc; i++)
		if (mgmt_config_add_export_spec(cfg, argv[i]) < 0)
			return -1;
	if (cfg->n_exports == 0) {
		log_error("nothing to export; try: iopd ram:1G");
		return -1;
	}
	if (mgmt_iscsi_check(cfg) < 0)
		return -1;
#ifndef IOPD_TRANSPORT_ISCSI
	if (mgmt_iscsi_get(cfg)) {
		log_error("this iopd was built without iSCSI (TRANSPORTS)");
		return -1;
	}
#endif
	if (opts->stdio && mgmt_iscsi_get(cfg)) {
		log_error(
			"--stdio serves NBD on stdin/stdout: no iSCSI portals");
		return -1;
	}
	if (opts->stdio && (opts->daemon || cfg->n_listen)) {
		log_error(
			"--stdio serves stdin/stdout: no --listen or --daemon");
		return -1;
	}
	return 0;
}

/* Write the pidfile atomically so a reader never sees it half written. */
static int iopd_pidfile_write(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) < 0) {
		log_error("pidfile %s: %s", path, strerror(errno));
		unlink(tmp);
		return -errno;
	}
	return 0;
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

static int iopd_bind(struct mgmt_config *cfg, int *fds, int max)
{
	int n = iopd_activation_fds(fds, max), ret;

	if (n > 0)
		return n;
	if (cfg->n_listen == 0 && mgmt_config_add_listen(cfg, "localhost") < 0)
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->n_listen; i++) {
		ret = remote_listen_bind(cfg->listen[i], MGMT_DEFAULT_PORT,
					 fds + n, max - n);
		if (ret < 0)
			goto err_close;
		n += ret;
	}
	return n;
err_close:
	while (n > 0)
		close(fds[--n]);
	return ret;
}

/* iSCSI portals, after the NBD listeners in the same fd array. */
static int iopd_bind_iscsi(const struct mgmt_config *cfg, int *fds, int max)
{
	const struct mgmt_iscsi *is = mgmt_iscsi_get(cfg);
	int n = 0, ret;

	for (unsigned int i = 0; is && i < is->n_listen; i++) {
		ret = remote_listen_bind(is->listen[i], ISCSI_DEFAULT_PORT,
					 fds + n, max - n);
		if (ret < 0)
			goto err_close;
		n += ret;
	}
	return n;
err_close:
	while (n > 0)
		close(fds[--n]);
	return ret;
}

static int iopd_listener_add(struct connmgr *cm, const struct mgmt_config *cfg,
			     int fd, bool iscsi)
{
#ifdef IOPD_TRANSPORT_ISCSI
	/* The portal's transport_ctx: the iSCSI targets, which live as
	 * long as cfg, i.e. until after connmgr_destroy. */
	if (iscsi)
		return connmgr_listener_add(cm, fd, &iscsi_transport_ops,
					    (void *)&mgmt_iscsi_get(cfg)->cfg);
#endif
	return connmgr_listener_add(cm, fd, &nbd_transport_ops, NULL);
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

/* Main thread, on SIGHUP: the management thread reloads. */
static void iopd_hup(void *arg)
{
	log_info("SIGHUP: reloading the configuration");
	mgmt_rpc_request_reload(arg);
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
	};

	return mgmt_rpc_create(&rcfg, mctx, rpcp);
}

int main(int argc, char **argv)
{
	struct iopd_opts opts = { .ready_fd = -1 };
	struct mgmt_config cfg;
	struct mgmt_ctx mctx = { .cfg = &cfg, .version = IOPD_VERSION };
	struct mgmt_rpc *rpc = NULL;
	struct local *local = NULL;
	struct connmgr *cm = NULL;
	int fds[IOPD_MAX_LISTEN_FDS], listen_fds[IOPD_MAX_LISTEN_FDS];
	int n_fds = 0, n_nbd = 0, sfd = -1, daemon_fd = -1, ret;
	int status = EXIT_FAILURE;

	/* A peer that vanishes must not kill us: writes get EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	mgmt_config_init(&cfg);
	ret = iopd_parse_args(argc, argv, &cfg, &opts);
	if (ret != 0) {
		status = ret > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	base_log_set_level(cfg.log_level);
	if (mgmt_config_specs(&cfg) < 0)
		goto out;
	if (opts.daemon) {
		daemon_fd = iopd_daemonize();
		if (daemon_fd < 0)
			goto out;
	}
	mgmt_ops_log_setup(&cfg, opts.daemon);

	/* Step 2: the Local Transport scans and opens the IOPs. */
	if (local_scan(&cfg.local, &local) < 0)
		goto out;
	/* Step 3: the Remote Transport binds, admitting nobody yet. */
	if (!opts.stdio) {
		n_fds = iopd_bind(&cfg, fds, IOPD_MAX_LISTEN_FDS);
		if (n_fds < 0)
			goto out_local;
		n_nbd = n_fds;
		ret = iopd_bind_iscsi(&cfg, fds + n_fds,
				      IOPD_MAX_LISTEN_FDS - n_fds);
		if (ret < 0)
			goto out_close_fds;
		n_fds += ret;
	}
	/* Step 4: descriptors and exports. */
	if (connmgr_create(&cfg.connmgr, local, &cm) < 0)
		goto out_close_fds;
	if (opts.stdio) {
		status = connmgr_serve_stdio(cm, 0, 1) < 0 ? EXIT_FAILURE
							   : EXIT_SUCCESS;
		goto out_connmgr;
	}
	for (int i = 0; i < n_fds; i++) {
		if (iopd_listener_add(cm, &cfg, fds[i], i >= n_nbd) < 0)
			goto out_connmgr;
		listen_fds[i] = fds[i];
		fds[i] = -1; /* the Connection Manager owns it now */
	}
	sfd = iopd_signal_fd();
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		goto out_connmgr;
	}
	/* Metrics and the first discovery scan, before the management
	 * thread that reads them starts. */
	if (mgmt_ops_start(&cfg) < 0)
		goto out_connmgr;
	mctx.cm = cm;
	mctx.config_path = opts.config_path;
	if (iopd_mgmt_create(&mctx, &rpc) < 0)
		goto out_connmgr;
	if (connmgr_workers_start(cm) < 0)
		goto out_connmgr;
	if (mgmt_rpc_start(rpc) < 0)
		goto out_connmgr;
	connmgr_hup_set(cm, iopd_hup, rpc);
	connmgr_stop_set(cm, mgmt_ops_stopping, NULL);
	/* Step 5: ready; then admit clients until a signal. */
	if (opts.pidfile && iopd_pidfile_write(opts.pidfile) < 0)
		goto out_connmgr;
	for (unsigned int i = 0; opts.ready_fd > 0 && mgmt_rpc_describe(rpc, i);
	     i++)
		dprintf(opts.ready_fd, "LISTEN mgmt %s\n",
			mgmt_rpc_describe(rpc, i));
	mgmt_ops_ready(&cfg, opts.ready_fd);
	iopd_ready(&opts, listen_fds, n_fds, n_nbd, daemon_fd);
	status = connmgr_run(cm, sfd) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
out_connmgr:
	/* Joins the management thread, which may use cm until then. */
	mgmt_rpc_destroy(rpc);
	mgmt_ops_stop(&cfg);
	if (sfd >= 0)
		close(sfd);
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
	mgmt_config_fini(&cfg);
	return status;
}
