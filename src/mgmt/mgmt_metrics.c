// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint.  It renders what the Local Transport counts per
 * device (iopd/local_stats.h) and the Remote Transports per protocol
 * (iopd/remote_stats.h) in the Prometheus text exposition format, serves
 * it at /metrics with libmicrohttpd on a thread of its own (HTTPS and
 * basic authentication if asked for, mgmt_metrics_auth.c), and gives the
 * same figures as JSON to the "stats" RPC method.  Reading the counters
 * never stops the data path: the workers keep writing while we sum.
 *
 * A device is what an export serves, so per-device series are per-export
 * series; exports made from the command line or the config file name
 * their IOP and device after themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_fdlimit.h"
#include "base/base_log.h"
#include "iopd/local_stats.h"
#include "iopd/remote.h"
#include "iopd/remote_stats.h"
#include "mgmt/mgmt_metrics.h"
#include "remote/remote_tls.h"

/*
 * libmicrohttpd reads its key pair once, when a daemon starts.  To rotate
 * it (SIGHUP), a new generation of daemons starts on duplicates of the
 * same listening sockets with the files as they are now, and the old one
 * stops accepting (MHD_quiesce_daemon) but finishes with its clients; it
 * is stopped at the next rotation or at exit.  Each generation has its
 * own credentials, so no request ever sees them change under it.
 */
struct mgmt_metrics_gen {
	struct MHD_Daemon *daemons[MGMT_METRICS_MAX_LISTENERS];
	struct mgmt_metrics_auth auth;
};

struct mgmt_metrics {
	unsigned int n;
	int fds[MGMT_METRICS_MAX_LISTENERS]; /* ours; each daemon has a dup */
	struct mgmt_metrics_gen *cur, *old;
	struct mgmt_metrics_limits limits;
	char *tls_dir, *auth_file; /* limits' */
};

/* Text format ----------------------------------------------------------- */

/* Label values escape backslash, double quote and newline. */
static void mgmt_prom_label(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void mgmt_prom_dev(FILE *f, const char *metric, const char *iop,
			  const char *dev)
{
	fprintf(f, "%s{", metric);
	mgmt_prom_label(f, "iop", iop);
	fputc(',', f);
	mgmt_prom_label(f, "device", dev);
}

static const char *mgmt_errno_name(unsigned int slot)
{
	int e = local_stat_errno(slot);
	const char *name = e ? strerrorname_np(e) : NULL;

	return name ? name : "other";
}

struct mgmt_prom_pass {
	FILE *f;
	int what;
};

enum {
	MGMT_PROM_REQUESTS,
	MGMT_PROM_BYTES,
	MGMT_PROM_OP_ERRORS,
	MGMT_PROM_ERRNOS,
	MGMT_PROM_INFLIGHT,
	MGMT_PROM_SESSIONS,
	MGMT_PROM_SESSIONS_TOTAL,
	MGMT_PROM_LATENCY,
	MGMT_PROM_DEGRADED,
	MGMT_PROM_WB_ERRORS,
	MGMT_PROM_DEV_PASSES,
};

static const char *const mgmt_prom_head[MGMT_PROM_DEV_PASSES] = {
	"# HELP iopd_requests_total Requests an export received, by "
	"operation (failed ones too).\n"
	"# TYPE iopd_requests_total counter\n",
	"# HELP iopd_bytes_total Bytes of the requests that succeeded, by "
	"operation.\n"
	"# TYPE iopd_bytes_total counter\n",
	"# HELP iopd_request_errors_total Requests that failed, by "
	"operation.\n"
	"# TYPE iopd_request_errors_total counter\n",
	"# HELP iopd_errors_total Requests that failed, by errno.\n"
	"# TYPE iopd_errors_total counter\n",
	"# HELP iopd_requests_in_flight Requests submitted and not yet "
	"completed.\n"
	"# TYPE iopd_requests_in_flight gauge\n",
	"# HELP iopd_sessions Client sessions open on the export.\n"
	"# TYPE iopd_sessions gauge\n",
	"# HELP iopd_sessions_total Client sessions opened on the export.\n"
	"# TYPE iopd_sessions_total counter\n",
	"# HELP iopd_request_duration_seconds Time from a request's arrival "
	"in the Local Transport to its completion.\n"
	"# TYPE iopd_request_duration_seconds histogram\n",
	"# HELP iopd_device_degraded 1 after a write-back error: every flush "
	"and FUA write fails until an operator clears it.\n"
	"# TYPE iopd_device_degraded gauge\n",
	"# HELP iopd_writeback_errors_total Flushes and FUA writes that failed "
	"with a write-back error.\n"
	"# TYPE iopd_writeback_errors_total counter\n",
};

static void mgmt_prom_latency(FILE *f, const char *iop, const char *dev,
			      const struct local_stats *st)
{
	const char *m = "iopd_request_duration_seconds";
	char name[64];
	uint64_t cum = 0;

	snprintf(name, sizeof(name), "%s_bucket", m);
	for (unsigned int i = 0; i < LOCAL_STAT_LAT_BUCKETS; i++) {
		uint64_t bound = local_stat_lat_bound_ns(i);

		cum += st->lat_buckets[i];
		mgmt_prom_dev(f, name, iop, dev);
		if (bound == UINT64_MAX)
			fprintf(f, ",le=\"+Inf\"} %llu\n",
				(unsigned long long)cum);
		else
			fprintf(f, ",le=\"%g\"} %llu\n", (double)bound / 1e9,
				(unsigned long long)cum);
	}
	snprintf(name, sizeof(name), "%s_sum", m);
	mgmt_prom_dev(f, name, iop, dev);
	fprintf(f, "} %.9f\n", (double)st->lat_sum_ns / 1e9);
	snprintf(name, sizeof(name), "%s_count", m);
	mgmt_prom_dev(f, name, iop, dev);
	fprintf(f, "} %llu\n", (unsigned long long)cum);
}

static void mgmt_prom_ops(FILE *f, const char *metric, const char *iop,
			  const char *dev, const uint64_t *v)
{
	for (unsigned int op = 0; op < LOCAL_STAT_OPS; op++) {
		mgmt_prom_dev(f, metric, iop, dev);
		fprintf(f, ",op=\"%s\"} %llu\n", local_stat_op_name(op),
			(unsigned long long)v[op]);
	}
}

static void mgmt_prom_dev_pass(void *opaque, const char *iop, const char *dev,
			       const struct local_stats *st)
{
	struct mgmt_prom_pass *p = opaque;
	FILE *f = p->f;

	switch (p->what) {
	case MGMT_PROM_REQUESTS:
		mgmt_prom_ops(f, "iopd_requests_total", iop, dev, st->requests);
		break;
	case MGMT_PROM_BYTES:
		mgmt_prom_ops(f, "iopd_bytes_total", iop, dev, st->bytes);
		break;
	case MGMT_PROM_OP_ERRORS:
		mgmt_prom_ops(f, "iopd_request_errors_total", iop, dev,
			      st->errors);
		break;
	case MGMT_PROM_ERRNOS:
		for (unsigned int i = 0; i < LOCAL_STAT_ERRNOS; i++) {
			mgmt_prom_dev(f, "iopd_errors_total", iop, dev);
			fprintf(f, ",errno=\"%s\"} %llu\n", mgmt_errno_name(i),
				(unsigned long long)st->errnos[i]);
		}
		break;
	case MGMT_PROM_INFLIGHT:
		mgmt_prom_dev(f, "iopd_requests_in_flight", iop, dev);
		fprintf(f, "} %llu\n", (unsigned long long)st->inflight);
		break;
	case MGMT_PROM_SESSIONS:
		mgmt_prom_dev(f, "iopd_sessions", iop, dev);
		fprintf(f, "} %llu\n", (unsigned long long)st->sessions_open);
		break;
	case MGMT_PROM_SESSIONS_TOTAL:
		mgmt_prom_dev(f, "iopd_sessions_total", iop, dev);
		fprintf(f, "} %llu\n", (unsigned long long)st->sessions_total);
		break;
	case MGMT_PROM_LATENCY:
		mgmt_prom_latency(f, iop, dev, st);
		break;
	case MGMT_PROM_DEGRADED:
		mgmt_prom_dev(f, "iopd_device_degraded", iop, dev);
		fprintf(f, "} %d\n", st->wb_error ? 1 : 0);
		break;
	case MGMT_PROM_WB_ERRORS:
		mgmt_prom_dev(f, "iopd_writeback_errors_total", iop, dev);
		fprintf(f, "} %llu\n", (unsigned long long)st->wb_errors);
		break;
	}
}

/* Per-protocol series: one pass each, like the device families. */
struct mgmt_prom_proto_series {
	const char *head; /* HELP and TYPE; NULL: same family as before */
	const char *name;
	const char *label; /* ",result=\"ok\"" and the like, or NULL */
	size_t offset;	   /* of the value in struct remote_proto_stats */
};

#define MGMT_PROM_LIMIT(what)                                                  \
	offsetof(struct remote_proto_stats, limited) + (what) * sizeof(uint64_t)

static const struct mgmt_prom_proto_series mgmt_prom_proto[] = {
	{ "# HELP iopd_connections Client connections open, by protocol.\n"
	  "# TYPE iopd_connections gauge\n",
	  "iopd_connections", NULL,
	  offsetof(struct remote_proto_stats, conns_open) },
	{ "# HELP iopd_connections_total Client connections accepted, by "
	  "protocol.\n"
	  "# TYPE iopd_connections_total counter\n",
	  "iopd_connections_total", NULL,
	  offsetof(struct remote_proto_stats, conns_total) },
	{ "# HELP iopd_handshakes_total Negotiations that reached the data "
	  "phase (ok) or that the server rejected (failed).\n"
	  "# TYPE iopd_handshakes_total counter\n",
	  "iopd_handshakes_total", ",result=\"ok\"",
	  offsetof(struct remote_proto_stats, handshakes_ok) },
	{ NULL, "iopd_handshakes_total", ",result=\"failed\"",
	  offsetof(struct remote_proto_stats, handshakes_failed) },
	{ "# HELP iopd_auth_failures_total Logins refused for wrong "
	  "credentials (iSCSI CHAP).\n"
	  "# TYPE iopd_auth_failures_total counter\n",
	  "iopd_auth_failures_total", NULL,
	  offsetof(struct remote_proto_stats, auth_failed) },
	{ "# HELP iopd_auth_delayed_total Credential checks held back after "
	  "failures from the same address.\n"
	  "# TYPE iopd_auth_delayed_total counter\n",
	  "iopd_auth_delayed_total", NULL,
	  offsetof(struct remote_proto_stats, auth_delayed) },
	{ "# HELP iopd_connections_refused_total Connections refused at "
	  "admission by a connection cap.\n"
	  "# TYPE iopd_connections_refused_total counter\n",
	  "iopd_connections_refused_total", ",reason=\"max_connections\"",
	  MGMT_PROM_LIMIT(REMOTE_LIMIT_MAX_CONNS) },
	{ NULL, "iopd_connections_refused_total",
	  ",reason=\"max_connections_per_address\"",
	  MGMT_PROM_LIMIT(REMOTE_LIMIT_MAX_CONNS_PER_ADDR) },
	{ "# HELP iopd_connection_timeouts_total Connections closed by a "
	  "deadline, by kind.\n"
	  "# TYPE iopd_connection_timeouts_total counter\n",
	  "iopd_connection_timeouts_total", ",kind=\"handshake\"",
	  MGMT_PROM_LIMIT(REMOTE_LIMIT_HANDSHAKE_TIMEOUT) },
	{ NULL, "iopd_connection_timeouts_total", ",kind=\"payload\"",
	  MGMT_PROM_LIMIT(REMOTE_LIMIT_PAYLOAD_TIMEOUT) },
	{ NULL, "iopd_connection_timeouts_total", ",kind=\"idle\"",
	  MGMT_PROM_LIMIT(REMOTE_LIMIT_IDLE_TIMEOUT) },
};

static void mgmt_prom_proto_pass(void *opaque, const char *proto,
				 const struct remote_proto_stats *st)
{
	struct mgmt_prom_pass *p = opaque;
	const struct mgmt_prom_proto_series *ser = &mgmt_prom_proto[p->what];
	uint64_t v;

	memcpy(&v, (const char *)st + ser->offset, sizeof(v));
	fprintf(p->f, "%s{", ser->name);
	mgmt_prom_label(p->f, "protocol", proto);
	if (ser->label)
		fputs(ser->label, p->f);
	fprintf(p->f, "} %llu\n", (unsigned long long)v);
}

/* The memory budget for request buffers (doc/security.md "Memory"). */
static void mgmt_prom_mem(FILE *f)
{
	struct remote_mem_stats m;

	remote_mem_stats_get(&m);
	fprintf(f,
		"# HELP iopd_buffered_bytes Bytes of request data buffered "
		"for all connections (reads not yet sent, writes).\n"
		"# TYPE iopd_buffered_bytes gauge\n"
		"iopd_buffered_bytes %llu\n"
		"# HELP iopd_buffer_budget_bytes The daemon-wide budget for "
		"buffered request data.\n"
		"# TYPE iopd_buffer_budget_bytes gauge\n"
		"iopd_buffer_budget_bytes %llu\n"
		"# HELP iopd_buffer_pauses_total Times a connection stopped "
		"reading requests because a memory budget was reached.\n"
		"# TYPE iopd_buffer_pauses_total counter\n"
		"iopd_buffer_pauses_total %llu\n",
		(unsigned long long)m.held_bytes,
		(unsigned long long)m.budget_bytes,
		(unsigned long long)m.pauses);
}
char *mgmt_metrics_text(size_t *lenp)
{
	struct mgmt_prom_pass p;
	char *buf = NULL;
	size_t len = 0;

	p.f = open_memstream(&buf, &len);
	if (!p.f)
		return NULL;
	/* One pass per family: the format wants a family's samples
	 * together, after its HELP and TYPE lines. */
	for (p.what = 0; p.what < MGMT_PROM_DEV_PASSES; p.what++) {
		fputs(mgmt_prom_head[p.what], p.f);
		local_stats_foreach(mgmt_prom_dev_pass, &p);
	}
	for (p.what = 0; p.what < (int)(sizeof(mgmt_prom_proto) /
					sizeof(mgmt_prom_proto[0]));
	     p.what++) {
		if (mgmt_prom_proto[p.what].head)
			fputs(mgmt_prom_proto[p.what].head, p.f);
		remote_stats_foreach(mgmt_prom_proto_pass, &p);
	}
	mgmt_prom_mem(p.f);
	if (fclose(p.f) != 0) {
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

/* JSON for the stats RPC -------------------------------------------------- */

static json_t *mgmt_json_ops(const uint64_t *v)
{
	json_t *o = json_object();

	for (unsigned int op = 0; op < LOCAL_STAT_OPS; op++)
		json_object_set_new(o, local_stat_op_name(op),
				    json_integer((json_int_t)v[op]));
	return o;
}

static void mgmt_json_dev(void *opaque, const char *iop, const char *dev,
			  const struct local_stats *st)
{
	json_t *errnos = json_object(), *buckets = json_array();
	uint64_t cum = 0;

	for (unsigned int i = 0; i < LOCAL_STAT_ERRNOS; i++)
		if (st->errnos[i])
			json_object_set_new(
				errnos, mgmt_errno_name(i),
				json_integer((json_int_t)st->errnos[i]));
	for (unsigned int i = 0; i < LOCAL_STAT_LAT_BUCKETS; i++) {
		uint64_t bound = local_stat_lat_bound_ns(i);
		char le[32];

		/* "le" as the text format spells it: no binary float noise. */
		if (bound == UINT64_MAX)
			snprintf(le, sizeof(le), "+Inf");
		else
			snprintf(le, sizeof(le), "%g", (double)bound / 1e9);
		cum += st->lat_buckets[i];
		json_array_append_new(buckets,
				      json_pack("{s:s,s:I}", "le", le, "count",
						(json_int_t)cum));
	}
	json_array_append_new(
		opaque,
		json_pack(
			"{s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:{s:I,s:I,s:o}}",
			"iop", iop, "device", dev, "requests",
			mgmt_json_ops(st->requests), "bytes",
			mgmt_json_ops(st->bytes), "errors",
			mgmt_json_ops(st->errors), "errnos", errnos, "inflight",
			(json_int_t)st->inflight, "sessions",
			(json_int_t)st->sessions_open, "sessions_total",
			(json_int_t)st->sessions_total, "latency", "count",
			(json_int_t)cum, "sum_ns", (json_int_t)st->lat_sum_ns,
			"buckets", buckets));
}

static void mgmt_json_proto(void *opaque, const char *proto,
			    const struct remote_proto_stats *st)
{
	json_array_append_new(
		opaque,
		json_pack(
			"{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I},"
			"s:{s:I,s:I,s:I}}",
			"protocol", proto, "connections",
			(json_int_t)st->conns_open, "connections_total",
			(json_int_t)st->conns_total, "handshakes_ok",
			(json_int_t)st->handshakes_ok, "handshakes_failed",
			(json_int_t)st->handshakes_failed, "auth_failed",
			(json_int_t)st->auth_failed, "auth_delayed",
			(json_int_t)st->auth_delayed, "refused",
			"max_connections",
			(json_int_t)st->limited[REMOTE_LIMIT_MAX_CONNS],
			"max_connections_per_address",
			(json_int_t)
				st->limited[REMOTE_LIMIT_MAX_CONNS_PER_ADDR],
			"timeouts", "handshake",
			(json_int_t)st->limited[REMOTE_LIMIT_HANDSHAKE_TIMEOUT],
			"payload",
			(json_int_t)st->limited[REMOTE_LIMIT_PAYLOAD_TIMEOUT],
			"idle",
			(json_int_t)st->limited[REMOTE_LIMIT_IDLE_TIMEOUT]));
}

json_t *mgmt_metrics_json(void)
{
	json_t *devs = json_array(), *protos = json_array();
	struct remote_mem_stats m;

	if (!devs || !protos) {
		json_decref(devs);
		json_decref(protos);
		return NULL;
	}
	local_stats_foreach(mgmt_json_dev, devs);
	remote_stats_foreach(mgmt_json_proto, protos);
	remote_mem_stats_get(&m);
	return json_pack("{s:o,s:o,s:{s:I,s:I,s:I}}", "devices", devs,
			 "protocols", protos, "memory", "budget_bytes",
			 (json_int_t)m.budget_bytes, "buffered_bytes",
			 (json_int_t)m.held_bytes, "pauses",
			 (json_int_t)m.pauses);
}

/* HTTP ------------------------------------------------------------------ */

static enum MHD_Result mgmt_metrics_reply(struct MHD_Connection *c,
					  unsigned int status, const char *type,
					  char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result mgmt_metrics_request(void *cls, struct MHD_Connection *c,
					    const char *url, const char *method,
					    const char *version,
					    const char *upload_data,
					    size_t *upload_data_size,
					    void **con_cls)
{
	struct mgmt_metrics_gen *g = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;
	size_t len;

	if (!mgmt_metrics_auth_ok(&g->auth, c)) {
		r = MHD_create_response_from_buffer(
			strlen("authentication required\n"),
			(void *)"authentication required\n",
			MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Basic realm=\"iopd metrics\", "
					"charset=\"UTF-8\"");
		ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		body = strdup("only GET\n");
		return body ? mgmt_metrics_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
						 "text/plain", body,
						 strlen(body))
			    : MHD_NO;
	}
	if (strcmp(url, "/metrics")) {
		body = strdup("not found; try /metrics\n");
		return body ? mgmt_metrics_reply(c, MHD_HTTP_NOT_FOUND,
						 "text/plain", body,
						 strlen(body))
			    : MHD_NO;
	}
	body = mgmt_metrics_text(&len);
	if (!body)
		return MHD_NO;
	return mgmt_metrics_reply(c, MHD_HTTP_OK,
				  "text/plain; version=0.0.4; charset=utf-8",
				  body, len);
}

/*
 * libmicrohttpd accepts for itself, and out of descriptors with no client
 * connected it retries at once ("busy waiting"), logging each failure.
 * Its thread is the one that calls us: a short sleep here, growing while
 * it lasts, is the back-off it lacks; the reserve (base_fdlimit.h) makes
 * this rare.  Other messages (a refused client past a limit...) come at
 * a peer's pace: at most one a second is logged, with a count of the
 * rest.
 */
static void mgmt_metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	static _Thread_local struct base_fd_pause pause;
	static _Thread_local uint64_t next_ns, dropped;
	uint64_t now = base_fd_now_ns();
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	if (strstr(line, "accepting connection") ||
	    strstr(line, "resource limit")) {
		unsigned int ms = base_fd_pause_hit(&pause, "metrics", EMFILE);

		usleep(ms * 1000u);
		return;
	}
	base_fd_pause_clear(&pause);
	if (now < next_ns) {
		dropped++;
		return;
	}
	next_ns = now + 1000000000u;
	if (dropped)
		log_warn("metrics: %s (and %llu more messages)", line,
			 (unsigned long long)dropped);
	else
		log_warn("metrics: %s", line);
	dropped = 0;
}

static void mgmt_metrics_gen_stop(struct mgmt_metrics_gen *g)
{
	if (!g)
		return;
	/* Each daemon closes its duplicate of the listening socket. */
	for (unsigned int i = 0; i < MGMT_METRICS_MAX_LISTENERS; i++)
		if (g->daemons[i])
			MHD_stop_daemon(g->daemons[i]);
	mgmt_metrics_auth_free(&g->auth);
	free(g);
}

/* One daemon of g on a duplicate of fd. */
static struct MHD_Daemon *mgmt_metrics_daemon(const struct mgmt_metrics *m,
					      struct mgmt_metrics_gen *g,
					      int fd)
{
	const struct mgmt_metrics_limits *l = &m->limits;
	unsigned int clients = l->clients ? l->clients : 128;
	unsigned int per_ip = l->clients_per_ip ? l->clients_per_ip : clients;
	unsigned int timeout_s = (l->timeout_ms + 999) / 1000;
	/* HTTPS: the server key pair, iopd's default priorities. */
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, g->auth.key },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, g->auth.cert },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0,
		  (void *)REMOTE_TLS_DEFAULT_PRIORITY },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (dup_fd < 0)
		return NULL;
	/* ITC: MHD_quiesce_daemon needs it with an internal thread. */
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
				     MHD_USE_ITC |
				     (g->auth.cert ? MHD_USE_TLS : 0),
			     0, NULL, NULL, mgmt_metrics_request, g,
			     /* First, so that it gets every message. */
			     MHD_OPTION_EXTERNAL_LOGGER, mgmt_metrics_mhd_log,
			     NULL, MHD_OPTION_LISTEN_SOCKET, dup_fd,
			     MHD_OPTION_ARRAY, g->auth.cert ? tls : tls + 3,
			     /* Idle or slow clients must not hold every slot: a
			      * bound per address, and a deadline. */
			     MHD_OPTION_CONNECTION_LIMIT, clients,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
			     MHD_OPTION_CONNECTION_TIMEOUT,
			     timeout_s ? timeout_s : 10u, MHD_OPTION_END);
	if (!d)
		close(dup_fd);
	return d;
}

/* A generation of daemons, one per listening socket, with the
 * credentials as the files say now. */
static int mgmt_metrics_gen_start(const struct mgmt_metrics *m,
				  struct mgmt_metrics_gen **gp)
{
	struct mgmt_metrics_gen *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return -ENOMEM;
	ret = mgmt_metrics_auth_load(&g->auth, &m->limits);
	if (ret < 0) {
		free(g);
		return ret;
	}
	for (unsigned int i = 0; i < m->n; i++) {
		g->daemons[i] = mgmt_metrics_daemon(m, g, m->fds[i]);
		if (!g->daemons[i]) {
			mgmt_metrics_gen_stop(g);
			return -EIO;
		}
	}
	*gp = g;
	return 0;
}

int mgmt_metrics_start(const char *addr,
		       const struct mgmt_metrics_limits *limits,
		       struct mgmt_metrics **mp)
{
	struct mgmt_metrics *m = calloc(1, sizeof(*m));
	int n;

	if (!m)
		return -ENOMEM;
	m->limits = *limits;
	m->tls_dir = limits->tls_dir ? strdup(limits->tls_dir) : NULL;
	m->auth_file = limits->auth_file ? strdup(limits->auth_file) : NULL;
	m->limits.tls_dir = m->tls_dir;
	m->limits.auth_file = m->auth_file;
	if ((limits->tls_dir && !m->tls_dir) ||
	    (limits->auth_file && !m->auth_file))
		n = -ENOMEM;
	else
		n = remote_listen_bind(addr, 9100, m->fds,
				       MGMT_METRICS_MAX_LISTENERS);
	m->n = n > 0 ? (unsigned int)n : 0;
	if (n >= 0)
		n = mgmt_metrics_gen_start(m, &m->cur);
	if (n < 0) {
		if (n == -EIO)
			log_error("metrics %s: cannot start the HTTP server",
				  addr);
		mgmt_metrics_stop(m);
		return n;
	}
	*mp = m;
	return 0;
}

int mgmt_metrics_reload(struct mgmt_metrics *m)
{
	struct mgmt_metrics_gen *g;
	int ret;

	if (!m || (!m->tls_dir && !m->auth_file))
		return 0; /* plain HTTP for anyone: nothing to read again */
	ret = mgmt_metrics_gen_start(m, &g);
	if (ret < 0) {
		log_error("metrics: keeping the credentials it had: %s",
			  strerror(-ret));
		return ret;
	}
	/* The old one answers its clients but accepts no more. */
	mgmt_metrics_gen_stop(m->old);
	for (unsigned int i = 0; i < m->n; i++) {
		int fd = (int)MHD_quiesce_daemon(m->cur->daemons[i]);

		if (fd >= 0)
			close(fd);
	}
	m->old = m->cur;
	m->cur = g;
	log_info("metrics: credentials reloaded");
	return 0;
}

void mgmt_metrics_stop(struct mgmt_metrics *m)
{
	if (!m)
		return;
	mgmt_metrics_gen_stop(m->cur);
	mgmt_metrics_gen_stop(m->old);
	for (unsigned int i = 0; i < m->n; i++)
		close(m->fds[i]);
	free(m->tls_dir);
	free(m->auth_file);
	free(m);
}

unsigned int mgmt_metrics_listeners(const struct mgmt_metrics *m)
{
	return m ? m->n : 0;
}

int mgmt_metrics_describe(const struct mgmt_metrics *m, unsigned int i,
			  char *buf, size_t len)
{
	if (!m || i >= m->n)
		return -ENOENT;
	return remote_listen_describe(m->fds[i], buf, len);
}
