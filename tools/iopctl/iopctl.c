// SPDX-License-Identifier: MIT
/*
 * iopctl: the command-line client of iopd's management channel (JSON-RPC
 * 2.0, one JSON text per line, over a Unix socket, or over TLS on TCP
 * with --connect; doc/management.md).
 * One subcommand per method, "iopctl FAMILY VERB [ARGS]"; human tables by
 * default, --json for scripts.  Exit codes: 0 done, 1 the daemon answered
 * with an error, 2 usage error, 3 cannot reach the daemon (or it hung up),
 * 4 timed out (--timeout bounds the whole exchange: connect, send, receive).
 *
 * Arguments: the positional ones a subcommand names, then any KEY=VALUE
 * (VALUE is JSON if it parses as JSON, else a string), so every parameter
 * of a method is reachable without an iopctl change.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "iopctl.h"

#define IOPCTL_EXIT_OK	    0
#define IOPCTL_EXIT_RPC	    1
#define IOPCTL_EXIT_USAGE   2
#define IOPCTL_EXIT_CONNECT 3
#define IOPCTL_EXIT_TIMEOUT 4

/* When the whole exchange must be over (CLOCK_MONOTONIC ms), and what
 * --timeout said. */
static long long iopctl_deadline_ms;
static int iopctl_timeout_s;
static bool iopctl_timed_out;

static long long iopctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left of the deadline, at least 1 ms (0 once past). */
static int iopctl_left_ms(void)
{
	long long left = iopctl_deadline_ms - iopctl_now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static void iopctl_timeout_report(const char *doing)
{
	iopctl_timed_out = true;
	fprintf(stderr, "iopctl: timed out after %d s %s (--timeout)\n",
		iopctl_timeout_s, doing);
}

/* Bound the next blocking connect, send or (TLS) receive on fd by the
 * deadline. */
static void iopctl_fd_deadline(int fd)
{
	int ms = iopctl_left_ms();
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 + (ms ? 0 : 1) };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* connect, bounded: a full backlog or a silent host times out. */
static int iopctl_connect_fd(int fd, const struct sockaddr *sa, socklen_t len,
			     const char *what)
{
	iopctl_fd_deadline(fd);
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno == EINPROGRESS || errno == EAGAIN || errno == ETIMEDOUT) {
		char doing[300];

		snprintf(doing, sizeof(doing), "connecting to %s", what);
		iopctl_timeout_report(doing);
	}
	return -1;
}

static int iopctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "iopctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || iopctl_connect_fd(fd, (struct sockaddr *)&sun,
					sizeof(sun), path) < 0) {
		if (iopctl_timed_out) {
			close(fd);
			return -1;
		}
		fprintf(stderr,
			"iopctl: cannot connect to %s: %s (is iopd running "
			"with --mgmt-socket %s?)\n",
			path, strerror(errno), path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* HOST:PORT or [V6]:PORT; host gets HOST (for TLS). */
static int iopctl_connect_tcp(const char *addr, char *host, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char *port;
	int fd = -1, ret;

	snprintf(host, len, "%s", addr);
	port = strrchr(host, ':');
	if (!port) {
		fprintf(stderr, "iopctl: --connect %s: expected HOST:PORT\n",
			addr);
		return -1;
	}
	*port++ = 0;
	if (host[0] == '[' && port[-2] == ']') {
		memmove(host, host + 1, strlen(host));
		port[-3] = 0;
	}
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		fprintf(stderr, "iopctl: %s: %s\n", addr, gai_strerror(ret));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && iopctl_connect_fd(fd, ai->ai_addr,
						 ai->ai_addrlen, addr) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0 && !iopctl_timed_out)
		fprintf(stderr, "iopctl: cannot connect to %s: %s\n", addr,
			strerror(errno));
	return fd;
}

/* Send one request line, read one response line.  NULL on failure. */
static json_t *iopctl_rpc(int fd, const char *method, json_t *params)
{
	json_t *req = json_pack("{s:s, s:i, s:s, s:O?}", "jsonrpc", "2.0", "id",
				1, "method", method, "params", params);
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len = strlen(text), off = 0, cap = 65536, have = 0;
	char *buf = malloc(cap), *nl = NULL;
	json_t *resp = NULL;
	json_error_t jerr;

	json_decref(req);
	/* A daemon that refuses us answers first and hangs up: whatever
	 * the send says, read what it answered. */
	while (off < len) {
		ssize_t n;

		iopctl_fd_deadline(fd);
		n = iopctl_io_send(fd, text + off, len - off);
		if (n < 0 && errno == EAGAIN) {
			iopctl_timeout_report("sending the request");
			goto out;
		}
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off == len && iopctl_io_send(fd, "\n", 1) != 1) {
		/* same */
	}
	while (!(nl = memchr(buf, '\n', have))) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (!iopctl_io_pending() &&
		    poll(&pfd, 1, iopctl_left_ms()) <= 0) {
			iopctl_timeout_report("waiting for the answer");
			goto out;
		}
		if (have == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		iopctl_fd_deadline(fd);
		n = iopctl_io_recv(fd, buf + have, cap - have);
		if (n < 0 && errno == EAGAIN)
			continue; /* part of a TLS record; poll says */
		if (n <= 0)
			goto out_io;
		have += (size_t)n;
	}
	resp = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	if (!resp)
		fprintf(stderr, "iopctl: bad answer from iopd: %s\n",
			jerr.text);
	goto out;
out_io:
	fprintf(stderr, "iopctl: the daemon hung up\n");
out:
	free(text);
	free(buf);
	return resp;
}

/* Output ------------------------------------------------------------------ */

static void iopctl_cell(json_t *v, const char *key, char *buf, size_t len)
{
	static const char *const units[] = { "", "K", "M", "G", "T", "P" };

	if (!v || json_is_null(v)) {
		snprintf(buf, len, "-");
	} else if (json_is_string(v)) {
		snprintf(buf, len, "%s", json_string_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	} else if (json_is_integer(v) && !strcmp(key, "size")) {
		double d = (double)json_integer_value(v);
		unsigned int u = 0;

		while (d >= 1024 && u < 5) {
			d /= 1024;
			u++;
		}
		snprintf(buf, len, u ? "%.4g%s" : "%.0f%s", d, units[u]);
	} else if (json_is_array(v)) {
		size_t i, off = 0;
		json_t *item;

		buf[0] = 0;
		json_array_foreach(v, i, item)
		{
			char one[256];

			iopctl_cell(item, "", one, sizeof(one));
			off += (size_t)snprintf(buf + off,
						off < len ? len - off : 0,
						"%s%s", i ? "," : "", one);
		}
		if (!off)
			snprintf(buf, len, "-");
	} else {
		char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		snprintf(buf, len, "%s", t ? t : "?");
		free(t);
	}
}

static void iopctl_table(json_t *rows, const struct iopctl_col *cols)
{
	size_t n_cols = 0, i, width[16] = { 0 };
	json_t *row;
	char cell[512];

	while (cols[n_cols].key)
		n_cols++;
	for (size_t c = 0; c < n_cols; c++)
		width[c] = strlen(cols[c].header);
	json_array_foreach(rows, i, row)
	{
		for (size_t c = 0; c < n_cols; c++) {
			iopctl_cell(json_object_get(row, cols[c].key),
				    cols[c].key, cell, sizeof(cell));
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	}
	for (size_t c = 0; c < n_cols; c++)
		printf("%-*s%s", c + 1 < n_cols ? (int)width[c] : 0,
		       cols[c].header, c + 1 < n_cols ? "  " : "\n");
	json_array_foreach(rows, i, row)
	{
		for (size_t c = 0; c < n_cols; c++) {
			iopctl_cell(json_object_get(row, cols[c].key),
				    cols[c].key, cell, sizeof(cell));
			printf("%-*s%s", c + 1 < n_cols ? (int)width[c] : 0,
			       cell, c + 1 < n_cols ? "  " : "\n");
		}
	}
}

static void iopctl_print(json_t *result, const struct iopctl_cmd *c,
			 bool as_json)
{
	const char *key;
	json_t *v;
	char cell[1024];

	if (as_json || (!json_is_object(result) &&
			!(json_is_array(result) && c && c->cols))) {
		char *t = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY |
						     JSON_PRESERVE_ORDER);

		printf("%s\n", t ? t : "null");
		free(t);
		return;
	}
	if (json_is_array(result)) {
		iopctl_table(result, c->cols);
		return;
	}
	if (c && !strcmp(c->method, "daemon.config")) {
		iopctl_print(result, NULL, true);
		return;
	}
	json_object_foreach(result, key, v)
	{
		iopctl_cell(v, key, cell, sizeof(cell));
		printf("%s: %s\n", key, cell);
	}
}

/* {"token": "..."} from the token file (first line). */
static json_t *iopctl_token_params(const char *file)
{
	char buf[1024];
	size_t n;
	FILE *f;
	json_t *p;

	f = file ? fopen(file, "re") : NULL;
	if (!f) {
		fprintf(stderr,
			"iopctl: --connect needs --token-file (or "
			"$IOPCTL_TOKEN_FILE)%s%s\n",
			file ? ": " : "", file ? strerror(errno) : "");
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	p = json_pack("{s:s}", "token", buf);
	explicit_bzero(buf, sizeof(buf));
	return p;
}

/* Main -------------------------------------------------------------------- */

/* What the command line asks for. */
struct iopctl_args {
	const char *path, *tcp, *token_file;
	struct iopctl_tls_opts tls;
	bool as_json;
	int timeout_s;
	const char *method;
	const struct iopctl_cmd *cmd; /* NULL for "call" */
	json_t *params;
};

/* Parsing returns this to go on, or the exit status. */
#define IOPCTL_GO (-1)

/* v empty: not given, so "--tls-psk=" drops a PSK from the environment. */
static void iopctl_tls_opt(struct iopctl_tls_opts *o, int c, const char *v)
{
	if (!v[0])
		v = NULL;
	switch (c) {
	case 'A':
		o->ca = v;
		break;
	case 'C':
		o->cert = v;
		break;
	case 'K':
		o->key = v;
		break;
	case 'P':
		o->psk = v;
		break;
	case 'I':
		o->psk_identity = v;
		break;
	default:
		o->server_name = v;
	}
}

/* The --tls-* options from $IOPCTL_TLS_*, before the command line,
 * which wins option by option. */
static void iopctl_tls_env(struct iopctl_tls_opts *o)
{
	static const struct {
		int opt;
		const char *name;
	} env[] = {
		{ 'A', "IOPCTL_TLS_CA" },
		{ 'C', "IOPCTL_TLS_CERT" },
		{ 'K', "IOPCTL_TLS_KEY" },
		{ 'P', "IOPCTL_TLS_PSK" },
		{ 'I', "IOPCTL_TLS_PSK_IDENTITY" },
		{ 'N', "IOPCTL_TLS_SERVER_NAME" },
	};
	const char *v;

	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		v = getenv(env[i].name);
		if (v)
			iopctl_tls_opt(o, env[i].opt, v);
	}
}

static int iopctl_parse_opts(int argc, char **argv, struct iopctl_args *a)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "list-commands", no_argument, NULL, 'L' },
		{ "connect", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "tls-ca", required_argument, NULL, 'A' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-psk", required_argument, NULL, 'P' },
		{ "tls-psk-identity", required_argument, NULL, 'I' },
		{ "tls-server-name", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* "+": options stop at the subcommand; its own come after it. */
	while ((c = getopt_long(argc, argv, "+s:c:jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->path = optarg;
			a->tcp = NULL;
			break;
		case 'c':
			a->tcp = optarg;
			break;
		case 'T':
			a->token_file = optarg;
			break;
		case 'A':
		case 'C':
		case 'K':
		case 'P':
		case 'I':
		case 'N':
			iopctl_tls_opt(&a->tls, c, optarg);
			break;
		case 'j':
			a->as_json = true;
			break;
		case 't':
			a->timeout_s = atoi(optarg);
			if (a->timeout_s <= 0) {
				fprintf(stderr,
					"iopctl: --timeout %s: "
					"expected seconds\n",
					optarg);
				return IOPCTL_EXIT_USAGE;
			}
			break;
		case 'h':
			iopctl_usage(stdout);
			return IOPCTL_EXIT_OK;
		case 'L':
			for (const struct iopctl_cmd *cmd = iopctl_cmds;
			     cmd->family; cmd++)
				printf("%s %s\n", cmd->family, cmd->verb);
			return IOPCTL_EXIT_OK;
		default:
			iopctl_usage(stderr);
			return IOPCTL_EXIT_USAGE;
		}
	}
	return IOPCTL_GO;
}

/* iopctl call METHOD [JSON-PARAMS] */
static int iopctl_parse_call(int argc, char **argv, struct iopctl_args *a)
{
	json_error_t jerr;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "Usage: iopctl call METHOD [JSON-PARAMS]\n");
		return IOPCTL_EXIT_USAGE;
	}
	a->method = argv[1];
	if (argc == 3 && !(a->params = json_loads(argv[2], 0, &jerr))) {
		fprintf(stderr, "iopctl call: params: %s\n", jerr.text);
		return IOPCTL_EXIT_USAGE;
	}
	return IOPCTL_GO;
}

/* iopctl FAMILY VERB [ARGS] */
static int iopctl_parse_cmd(int argc, char **argv, struct iopctl_args *a)
{
	const struct iopctl_cmd *cmd;

	cmd = argc >= 2 ? iopctl_find(argv[0], argv[1]) : NULL;
	if (!cmd) {
		fprintf(stderr,
			"iopctl: unknown subcommand \"%s%s%s\"; "
			"try iopctl --help\n",
			argv[0], argc >= 2 ? " " : "",
			argc >= 2 ? argv[1] : "");
		return IOPCTL_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			iopctl_cmd_help(stdout, cmd);
			return IOPCTL_EXIT_OK;
		}
		/* --json after the subcommand too. */
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			a->as_json = true;
			memmove(&argv[i], &argv[i + 1],
				(size_t)(argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	if (iopctl_build_params(cmd, argc - 2, argv + 2, &a->params) < 0) {
		iopctl_cmd_help(stderr, cmd);
		return IOPCTL_EXIT_USAGE;
	}
	a->cmd = cmd;
	a->method = cmd->method;
	return IOPCTL_GO;
}

static int iopctl_parse(int argc, char **argv, struct iopctl_args *a)
{
	const struct iopctl_cmd *cmd;
	int ret = iopctl_parse_opts(argc, argv, a);

	if (ret != IOPCTL_GO)
		return ret;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		iopctl_usage(stderr);
		return IOPCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help")) {
		cmd = argc >= 3 ? iopctl_find(argv[1], argv[2]) : NULL;
		if (cmd)
			iopctl_cmd_help(stdout, cmd);
		else
			iopctl_usage(stdout);
		return IOPCTL_EXIT_OK;
	}
	if (!strcmp(argv[0], "call"))
		return iopctl_parse_call(argc, argv, a);
	return iopctl_parse_cmd(argc, argv, a);
}

/* TCP: TLS first; the server accepts nothing else there. */
static int iopctl_tls_start(const struct iopctl_args *a, int fd,
			    const char *host)
{
	int ret;

	iopctl_fd_deadline(fd);
	ret = iopctl_tls_connect(fd, host, &a->tls, iopctl_left_ms());
	if (ret == -ETIMEDOUT)
		iopctl_timeout_report("in the TLS handshake");
	return ret;
}

/* Connect, authenticate over TCP, call.  Returns the response, or NULL
 * with *status set. */
static json_t *iopctl_exchange(const struct iopctl_args *a, int *status)
{
	bool tcp = a->tcp && a->tcp[0];
	json_t *resp = NULL, *auth;
	char host[256];
	int fd;

	iopctl_timeout_s = a->timeout_s;
	iopctl_deadline_ms = iopctl_now_ms() + a->timeout_s * 1000LL;
	fd = tcp ? iopctl_connect_tcp(a->tcp, host, sizeof(host))
		 : iopctl_connect(a->path);
	*status = iopctl_timed_out ? IOPCTL_EXIT_TIMEOUT : IOPCTL_EXIT_CONNECT;
	if (fd < 0)
		return NULL;
	if (tcp && iopctl_tls_start(a, fd, host) < 0) {
		*status = iopctl_timed_out ? IOPCTL_EXIT_TIMEOUT
					   : IOPCTL_EXIT_CONNECT;
		iopctl_tls_close();
		close(fd);
		return NULL;
	}
	if (tcp) {
		/* TCP: daemon.auth with the token first. */
		auth = iopctl_token_params(a->token_file);
		if (!auth) {
			iopctl_tls_close();
			close(fd);
			*status = IOPCTL_EXIT_USAGE;
			return NULL;
		}
		resp = iopctl_rpc(fd, "daemon.auth", auth);
		json_decref(auth);
	}
	if (!iopctl_timed_out && (!resp || !json_object_get(resp, "error"))) {
		json_decref(resp);
		resp = iopctl_rpc(fd, a->method, a->params);
	}
	iopctl_tls_close();
	close(fd);
	if (!resp && iopctl_timed_out)
		*status = IOPCTL_EXIT_TIMEOUT;
	return resp;
}

static int iopctl_report(json_t *resp, const struct iopctl_args *a)
{
	json_t *error = json_object_get(resp, "error"), *data;

	if (!error) {
		iopctl_print(json_object_get(resp, "result"), a->cmd,
			     a->as_json);
		return IOPCTL_EXIT_OK;
	}
	data = json_object_get(error, "data");
	if (a->as_json)
		iopctl_print(error, NULL, true);
	fprintf(stderr, "iopctl: %s (%s %lld%s%s)\n",
		json_string_value(json_object_get(error, "message")) ?: "error",
		"code",
		(long long)json_integer_value(json_object_get(error, "code")),
		data ? ", " : "",
		data ? json_string_value(json_object_get(data, "errno")) : "");
	return IOPCTL_EXIT_RPC;
}

int main(int argc, char **argv)
{
	struct iopctl_args a = {
		.path = getenv("IOPCTL_SOCKET"),
		.tcp = getenv("IOPCTL_CONNECT"),
		.token_file = getenv("IOPCTL_TOKEN_FILE"),
		.timeout_s = 60,
	};
	json_t *resp;
	int status;

	if (!a.path || !a.path[0])
		a.path = IOPCTL_DEFAULT_SOCKET;
	iopctl_tls_env(&a.tls);
	status = iopctl_parse(argc, argv, &a);
	if (status == IOPCTL_GO) {
		resp = iopctl_exchange(&a, &status);
		if (resp)
			status = iopctl_report(resp, &a);
		json_decref(resp);
	}
	json_decref(a.params);
	return status;
}
