// SPDX-License-Identifier: MIT
/*
 * iopctl: the command-line client of iopd's management channel (JSON-RPC
 * 2.0, one JSON text per line, over a Unix socket; doc/management.md).
 * One subcommand per method, "iopctl FAMILY VERB [ARGS]"; human tables by
 * default, --json for scripts.  Exit codes: 0 done, 1 the daemon answered
 * with an error, 2 usage error, 3 cannot reach the daemon (or it hung up).
 *
 * Arguments: the positional ones a subcommand names, then any KEY=VALUE
 * (VALUE is JSON if it parses as JSON, else a string), so every parameter
 * of a method is reachable without an iopctl change.
 */
#include <errno.h>
#include <getopt.h>
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

#define IOPCTL_DEFAULT_SOCKET "/run/iopd/iopd.sock"
#define IOPCTL_EXIT_OK	      0
#define IOPCTL_EXIT_RPC	      1
#define IOPCTL_EXIT_USAGE     2
#define IOPCTL_EXIT_CONNECT   3

struct iopctl_col {
	const char *key, *header;
};

struct iopctl_cmd {
	const char *family, *verb, *method;
	const char *args; /* positional parameter names, space separated */
	const char *usage, *help;
	/* Columns for a list result; NULL: print the result as key: value. */
	const struct iopctl_col *cols;
	/* Turn argv into params beyond the generic rules; may be NULL. */
	int (*build)(int argc, char **argv, json_t *params);
};

static const struct iopctl_col iopctl_export_cols[] = {
	{ "name", "NAME" },	  { "ddm", "DDM" },
	{ "size", "SIZE" },	  { "read_only", "RO" },
	{ "default", "DEFAULT" }, { "sessions", "SESSIONS" },
	{ "state", "STATE" },	  { "path", "PATH" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_conn_cols[] = {
	{ "id", "ID" },
	{ "peer", "PEER" },
	{ "protocol", "PROTO" },
	{ "export", "EXPORT" },
	{ "bytes_in", "IN" },
	{ "bytes_out", "OUT" },
	{ "requests", "REQUESTS" },
	{ "inflight", "INFLIGHT" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_device_cols[] = {
	{ "iop", "IOP" },
	{ "name", "NAME" },
	{ "ddm", "DDM" },
	{ "size", "SIZE" },
	{ "block_size_min", "BLOCK" },
	{ "read_only", "RO" },
	{ "sessions", "SESSIONS" },
	{ "inflight", "INFLIGHT" },
	{ "state", "STATE" },
	{ "durability", "DURABILITY" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_iop_cols[] = {
	{ "name", "NAME" },	  { "ddm", "DDM" }, { "devices", "DEVICES" },
	{ "exports", "EXPORTS" }, { NULL, NULL },
};
static const struct iopctl_col iopctl_method_cols[] = {
	{ "name", "METHOD" },
	{ "help", "HELP" },
	{ NULL, NULL },
};
/* Discovery candidates and statistics (mgmt_rpc_discover.c,
 * mgmt_rpc_stats.c). */
static const struct iopctl_col iopctl_cand_cols[] = {
	{ "name", "NAME" },
	{ "iop", "IOP" },
	{ "kind", "KIND" },
	{ "size", "SIZE" },
	{ "state", "STATE" },
	{ "exportable", "EXPORTABLE" },
	{ "exported_as", "EXPORT" },
	{ "path", "PATH" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_stats_dev_cols[] = {
	{ "iop", "IOP" },
	{ "device", "DEVICE" },
	{ "reads", "READS" },
	{ "writes", "WRITES" },
	{ "read_bytes", "READ_BYTES" },
	{ "write_bytes", "WRITE_BYTES" },
	{ "errors", "ERRORS" },
	{ "inflight", "INFLIGHT" },
	{ "sessions", "SESSIONS" },
	{ "avg_latency_us", "AVG_US" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_stats_proto_cols[] = {
	{ "protocol", "PROTOCOL" },
	{ "connections", "CONNECTIONS" },
	{ "connections_total", "TOTAL" },
	{ "handshakes_ok", "HANDSHAKES_OK" },
	{ "handshakes_failed", "HANDSHAKES_FAILED" },
	{ NULL, NULL },
};

/* "ram:1G", "null:1G", "file:PATH", "bdev:PATH" or a path, then ",ro". */
static int iopctl_build_export_add(int argc, char **argv, json_t *params)
{
	json_t *spec = json_object_get(params, "spec");
	char *copy, *colon;
	size_t n;

	if (!spec)
		return 0;
	if (!json_is_string(spec))
		return -1;
	copy = strdup(json_string_value(spec));
	json_object_del(params, "spec");
	n = strlen(copy);
	if (n > 3 && !strcmp(copy + n - 3, ",ro")) {
		copy[n - 3] = 0;
		json_object_set_new(params, "read_only", json_true());
	}
	colon = strchr(copy, ':');
	if (!strncmp(copy, "fault:", 6) || strchr(copy, '?')) {
		/* Wrappers and DDM options: the daemon parses them. */
		json_object_set_new(params, "spec", json_string(copy));
	} else if (colon &&
		   (!strncmp(copy, "ram:", 4) || !strncmp(copy, "null:", 5))) {
		*colon = 0;
		json_object_set_new(params, "ddm", json_string(copy));
		json_object_set_new(params, "size", json_string(colon + 1));
	} else if (colon &&
		   (!strncmp(copy, "file:", 5) || !strncmp(copy, "bdev:", 5))) {
		*colon = 0;
		json_object_set_new(params, "ddm", json_string(copy));
		json_object_set_new(params, "path", json_string(colon + 1));
	} else {
		json_object_set_new(params, "ddm",
				    json_string(strncmp(copy, "/dev/", 5)
							? "file"
							: "bdev"));
		json_object_set_new(params, "path", json_string(copy));
	}
	free(copy);
	return 0;
}

/* EXPORT VERB [ARG...]: the words after VERB are the DDM's argument,
 * joined with '&' ("set flush=EIO:once read=EIO"). */
static int iopctl_build_device_control(int argc, char **argv, json_t *params)
{
	char arg[4096];
	size_t off = 0;

	json_object_clear(params);
	if (argc < 2)
		return -1;
	json_object_set_new(params, "export", json_string(argv[0]));
	json_object_set_new(params, "verb", json_string(argv[1]));
	arg[0] = 0;
	for (int i = 2; i < argc; i++)
		off += (size_t)snprintf(
			arg + off, off < sizeof(arg) ? sizeof(arg) - off : 0,
			"%s%s", i > 2 ? "&" : "", argv[i]);
	if (off >= sizeof(arg))
		return -1;
	if (argc > 2)
		json_object_set_new(params, "arg", json_string(arg));
	return 0;
}

static const struct iopctl_cmd iopctl_cmds[] = {
	{ "export", "list", "export.list", "name", "[NAME]",
	  "List the exports (one, given NAME).", iopctl_export_cols, NULL },
	{ "export", "add", "export.add", "name spec",
	  "NAME [SPEC] [KEY=VALUE...]",
	  "Export a new device.  SPEC is ram:SIZE, null:SIZE, file:PATH, "
	  "bdev:PATH or a PATH, optionally wrapped as fault:SPEC and "
	  "followed by ?KEY=VALUE&... for its DDM (quote it), with ,ro for "
	  "read-only; or give iop=IOP "
	  "device=DEV to export a device of an existing IOP.  Other keys: "
	  "description=TEXT read_only=true.",
	  NULL, iopctl_build_export_add },
	{ "export", "remove", "export.remove", "name", "NAME",
	  "Remove an export: new clients stop finding it at once, its "
	  "clients finish their requests and are disconnected.",
	  NULL, NULL },
	{ "export", "set-read-only", "export.set_read_only", "name read_only",
	  "NAME [true|false]",
	  "Make an export read-only (or writable again) for new "
	  "connections; disconnect=true asks the current ones to "
	  "reconnect.",
	  NULL, NULL },
	{ "export", "clear-error", "export.clear_error", "name", "NAME",
	  "Acknowledge a degraded export's write-back error, so flushes "
	  "may succeed again (check the data first: acknowledged writes "
	  "may have been lost).",
	  NULL, NULL },
	{ "export", "set-default", "export.set_default", "name", "[NAME]",
	  "Choose what clients asking for the export \"\" get.", NULL, NULL },
	{ "export", "resize", "export.resize", "name size", "NAME SIZE",
	  "Resize an export's device (ram, file), e.g. 2G; clients see the "
	  "new size when they reconnect (disconnect=true asks them to).",
	  NULL, NULL },
	{ "conn", "list", "conn.list", "export", "[EXPORT]",
	  "List client connections: peer, protocol, export, bytes, "
	  "requests, requests in flight.",
	  iopctl_conn_cols, NULL },
	{ "conn", "disconnect", "conn.disconnect", "id", "ID [force=true]",
	  "Disconnect one client (after its requests in flight complete).",
	  NULL, NULL },
	{ "device", "list", "device.list", "iop", "[IOP]",
	  "List the open devices of every IOP.", iopctl_device_cols, NULL },
	{ "device", "control", "device.control", "export verb arg",
	  "EXPORT VERB [ARG...]",
	  "Send a command to the DDM of an export's device.  fault: crash "
	  "(drop unflushed writes), set KEY=VALUE... (change injection "
	  "rules), clear, stats.",
	  NULL, iopctl_build_device_control },
	{ "iop", "list", "iop.list", "", "", "List the IOPs.", iopctl_iop_cols,
	  NULL },
	{ "iop", "add", "iop.add", "name ddm", "NAME DDM devices=JSON",
	  "Open a group of devices, e.g. devices='[{\"name\":\"d0\","
	  "\"path\":\"/srv/a.img\"}]'.",
	  NULL, NULL },
	{ "iop", "remove", "iop.remove", "name", "NAME",
	  "Close an IOP that no export uses.", NULL, NULL },
	{ "daemon", "version", "daemon.version", "", "",
	  "Show iopd's version and pid.", NULL, NULL },
	{ "daemon", "methods", "daemon.methods", "", "",
	  "List every method the daemon serves.", iopctl_method_cols, NULL },
	{ "daemon", "log-level", "daemon.log_level", "level", "[LEVEL]",
	  "Show or set the log level: error, warn, info, debug.", NULL, NULL },
	{ "daemon", "config", "daemon.config", "", "",
	  "Print the running configuration in the config file's format.", NULL,
	  NULL },
	{ "daemon", "save-config", "daemon.save_config", "path", "[PATH]",
	  "Save the running configuration (default: iopd's --config file).",
	  NULL, NULL },
	{ "daemon", "reload", "daemon.reload", "", "",
	  "Reload the config file and apply the difference (like SIGHUP).",
	  NULL, NULL },
	{ "iop", "scan", "iop.scan", "", "",
	  "Scan the local bus (/sys/block, NVMe, image directories) from "
	  "scratch and list the candidates; nothing is exported.",
	  iopctl_cand_cols, NULL },
	{ "iop", "rescan", "iop.rescan", "", "",
	  "Scan again: what appeared and what vanished (vanished devices "
	  "are marked; their exports keep serving).",
	  NULL, NULL },
	{ "device", "discovered", "device.discovered", "", "",
	  "List the candidates of the last scan with their state.",
	  iopctl_cand_cols, NULL },
	{ "device", "export", "device.export", "device name",
	  "DEVICE [NAME] [read_only=true] [force=true]",
	  "Export a discovered device (as NAME, default its own name); "
	  "partitions and devices in use need force=true.",
	  NULL, NULL },
	{ "stats", "show", "stats.show", "", "",
	  "Every counter of the metrics endpoint (best with --json).", NULL,
	  NULL },
	{ "stats", "devices", "stats.devices", "", "",
	  "Requests, bytes, errors, in flight and latency per device.",
	  iopctl_stats_dev_cols, NULL },
	{ "stats", "protocols", "stats.protocols", "", "",
	  "Connections and handshakes per protocol.", iopctl_stats_proto_cols,
	  NULL },
	{ NULL },
};

static void iopctl_usage(FILE *f)
{
	fprintf(f, "Usage: iopctl [-s SOCKET] [--json] FAMILY VERB [ARGS]\n"
		   "       iopctl [-s SOCKET] call METHOD [JSON-PARAMS]\n"
		   "       iopctl FAMILY VERB --help\n"
		   "Manage a running iopd through its management socket.\n\n"
		   "  -s, --socket=PATH  default: $IOPCTL_SOCKET "
		   "or " IOPCTL_DEFAULT_SOCKET "\n"
		   "  -c, --connect=HOST:PORT  a TCP management listener "
		   "instead\n"
		   "      --token-file=FILE  its token (default: "
		   "$IOPCTL_TOKEN_FILE)\n"
		   "  -j, --json         print the result as JSON\n"
		   "  -t, --timeout=SEC  give up waiting after SEC seconds "
		   "(default 60)\n"
		   "  -h, --help         this text\n\n"
		   "Subcommands:\n");
	for (const struct iopctl_cmd *c = iopctl_cmds; c->family; c++)
		fprintf(f, "  %-6s %-14s %s\n", c->family, c->verb, c->usage);
	fprintf(f, "\nExit status: 0 done, 1 the daemon reported an error, 2 "
		   "usage error,\n3 cannot reach the daemon.\n");
}

static void iopctl_cmd_help(FILE *f, const struct iopctl_cmd *c)
{
	fprintf(f,
		"Usage: iopctl %s %s %s\n%s\nMethod: %s (see "
		"doc/management.md).\n",
		c->family, c->verb, c->usage, c->help, c->method);
}

/* KEY=VALUE: VALUE as JSON when it is JSON, else as a string. */
static json_t *iopctl_value(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	return v ? v : json_string(text);
}

static int iopctl_build_params(const struct iopctl_cmd *c, int argc,
			       char **argv, json_t **paramsp)
{
	json_t *params = json_object();
	char names[256], *save = NULL, *name;
	int i = 0;

	snprintf(names, sizeof(names), "%s", c->args);
	name = strtok_r(names, " ", &save);
	for (; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		/* KEY=VALUE only where KEY can be a parameter's name: a spec
		 * such as fault:ram:1G?volatile=1 is positional. */
		if (eq && eq != argv[i] &&
		    strspn(argv[i], "abcdefghijklmnopqrstuvwxyz_0123456789") ==
			    (size_t)(eq - argv[i])) {
			*eq = 0;
			json_object_set_new(params, argv[i],
					    iopctl_value(eq + 1));
			*eq = '=';
			continue;
		}
		if (!name) {
			fprintf(stderr, "iopctl %s %s: unexpected \"%s\"\n",
				c->family, c->verb, argv[i]);
			json_decref(params);
			return -1;
		}
		/* Numbers and booleans where the method wants them. */
		if (!strcmp(name, "id") || !strcmp(name, "read_only"))
			json_object_set_new(params, name,
					    iopctl_value(argv[i]));
		else
			json_object_set_new(params, name, json_string(argv[i]));
		name = strtok_r(NULL, " ", &save);
	}
	if (c->build && c->build(argc, argv, params) < 0) {
		json_decref(params);
		return -1;
	}
	*paramsp = params;
	return 0;
}

/* Transport --------------------------------------------------------------- */

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
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
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

/* HOST:PORT or [V6]:PORT. */
static int iopctl_connect_tcp(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[256], *port;
	int fd = -1, ret;

	snprintf(host, sizeof(host), "%s", addr);
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
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "iopctl: cannot connect to %s: %s\n", addr,
			strerror(errno));
	return fd;
}

/* Send one request line, read one response line.  NULL on failure. */
static json_t *iopctl_rpc(int fd, const char *method, json_t *params,
			  int timeout_s)
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
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off == len && send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		/* same */
	}
	while (!(nl = memchr(buf, '\n', have))) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, timeout_s * 1000) <= 0) {
			fprintf(stderr, "iopctl: no answer within %d s\n",
				timeout_s);
			goto out;
		}
		if (have == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		n = recv(fd, buf + have, cap - have, 0);
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

static const struct iopctl_cmd *iopctl_find(const char *family,
					    const char *verb)
{
	for (const struct iopctl_cmd *c = iopctl_cmds; c->family; c++)
		if (!strcmp(c->family, family) && !strcmp(c->verb, verb))
			return c;
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "list-commands", no_argument, NULL, 'L' },
		{ "connect", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("IOPCTL_SOCKET"), *method;
	const char *tcp = getenv("IOPCTL_CONNECT");
	const char *token_file = getenv("IOPCTL_TOKEN_FILE");
	const struct iopctl_cmd *cmd = NULL;
	json_t *params = NULL, *resp, *error;
	bool as_json = false;
	int c, fd, timeout_s = 60, status;

	if (!path || !path[0])
		path = IOPCTL_DEFAULT_SOCKET;
	/* "+": options stop at the subcommand; its own come after it. */
	while ((c = getopt_long(argc, argv, "+s:c:jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			tcp = NULL;
			break;
		case 'c':
			tcp = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0) {
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
			for (cmd = iopctl_cmds; cmd->family; cmd++)
				printf("%s %s\n", cmd->family, cmd->verb);
			return IOPCTL_EXIT_OK;
		default:
			iopctl_usage(stderr);
			return IOPCTL_EXIT_USAGE;
		}
	}
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
	if (!strcmp(argv[0], "call")) {
		json_error_t jerr;

		if (argc < 2 || argc > 3) {
			fprintf(stderr, "Usage: iopctl call METHOD "
					"[JSON-PARAMS]\n");
			return IOPCTL_EXIT_USAGE;
		}
		method = argv[1];
		if (argc == 3 && !(params = json_loads(argv[2], 0, &jerr))) {
			fprintf(stderr, "iopctl call: params: %s\n", jerr.text);
			return IOPCTL_EXIT_USAGE;
		}
		argc = 0;
	} else {
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
			if (!strcmp(argv[i], "--help") ||
			    !strcmp(argv[i], "-h")) {
				iopctl_cmd_help(stdout, cmd);
				return IOPCTL_EXIT_OK;
			}
			/* --json after the subcommand too. */
			if (!strcmp(argv[i], "--json") ||
			    !strcmp(argv[i], "-j")) {
				as_json = true;
				memmove(&argv[i], &argv[i + 1],
					(size_t)(argc - i - 1) * sizeof(*argv));
				argc--;
				i--;
			}
		}
		if (iopctl_build_params(cmd, argc - 2, argv + 2, &params) < 0) {
			iopctl_cmd_help(stderr, cmd);
			return IOPCTL_EXIT_USAGE;
		}
		method = cmd->method;
	}
	fd = tcp && tcp[0] ? iopctl_connect_tcp(tcp) : iopctl_connect(path);
	if (fd < 0) {
		json_decref(params);
		return IOPCTL_EXIT_CONNECT;
	}
	resp = NULL;
	if (tcp && tcp[0]) {
		/* TCP: daemon.auth with the token first. */
		json_t *auth = iopctl_token_params(token_file);

		resp = auth ? iopctl_rpc(fd, "daemon.auth", auth, timeout_s)
			    : NULL;
		json_decref(auth);
		if (!auth) {
			close(fd);
			json_decref(params);
			return IOPCTL_EXIT_USAGE;
		}
	}
	if (!resp || !json_object_get(resp, "error")) {
		json_decref(resp);
		resp = iopctl_rpc(fd, method, params, timeout_s);
	}
	close(fd);
	json_decref(params);
	if (!resp)
		return IOPCTL_EXIT_CONNECT;
	error = json_object_get(resp, "error");
	if (error) {
		json_t *data = json_object_get(error, "data");

		if (as_json)
			iopctl_print(error, NULL, true);
		fprintf(stderr, "iopctl: %s (%s %lld%s%s)\n",
			json_string_value(json_object_get(error, "message"))
				?: "error",
			"code",
			(long long)json_integer_value(
				json_object_get(error, "code")),
			data ? ", " : "",
			data ? json_string_value(json_object_get(data, "errno"))
			     : "");
		status = IOPCTL_EXIT_RPC;
	} else {
		iopctl_print(json_object_get(resp, "result"), cmd, as_json);
		status = IOPCTL_EXIT_OK;
	}
	json_decref(resp);
	return status;
}
