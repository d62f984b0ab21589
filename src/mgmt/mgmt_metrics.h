/* SPDX-License-Identifier: MIT */
/*
 * The metrics endpoint: Prometheus text format at /metrics over HTTP
 * (libmicrohttpd, its own thread), off unless the operator gives an
 * address, and the same figures as JSON for the "stats" RPC method.
 */
#ifndef IOPD_MGMT_METRICS_H
#define IOPD_MGMT_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MGMT_METRICS_MAX_LISTENERS 4

struct mgmt_metrics;

/* Bind addr ("HOST:PORT", "[V6]:PORT", ":PORT"; port 0 picks one) and
 * serve /metrics from a thread of its own.  Returns 0 or -errno after
 * logging why. */
struct mgmt_metrics_limits {
	unsigned int clients;	     /* at once; 0: the default */
	unsigned int clients_per_ip; /* of those, from one address */
	unsigned int timeout_ms;     /* an idle client is closed */
	/* Who may read: HTTPS with tls_dir/server-cert.pem and
	 * server-key.pem (NULL: plain HTTP), and HTTP basic authentication
	 * against auth_file's "user:password" lines (NULL: anyone). */
	const char *tls_dir;
	const char *auth_file;
};

int mgmt_metrics_start(const char *addr,
		       const struct mgmt_metrics_limits *limits,
		       struct mgmt_metrics **mp);
void mgmt_metrics_stop(struct mgmt_metrics *m);
/* Read the key pair and the basic-auth file again (SIGHUP): clients
 * that connect from now on get them; connected ones finish with the old
 * ones.  On error (logged) the old ones stay.  Returns 0 or -errno. */
int mgmt_metrics_reload(struct mgmt_metrics *m);
/* Listening sockets, and "tcp 127.0.0.1:9100" for each (0 or -errno). */
unsigned int mgmt_metrics_listeners(const struct mgmt_metrics *m);
int mgmt_metrics_describe(const struct mgmt_metrics *m, unsigned int i,
			  char *buf, size_t len);

/* mgmt_metrics_auth.c: the HTTPS key pair and the basic-auth line. */
struct mgmt_metrics_auth {
	char *cert, *key; /* PEM text; NULL: plain HTTP */
	char *userpass;	  /* "user:password" lines, '\n' between them;
			   * NULL: no authentication */
};
struct MHD_Connection;

/* Read what limits names.  Returns 0 or -errno after logging. */
int mgmt_metrics_auth_load(struct mgmt_metrics_auth *a,
			   const struct mgmt_metrics_limits *limits);
/* Wipe and free. */
void mgmt_metrics_auth_free(struct mgmt_metrics_auth *a);
/* The request's credentials are right (or none are asked for). */
bool mgmt_metrics_auth_ok(const struct mgmt_metrics_auth *a,
			  struct MHD_Connection *c);

/* Everything counted so far in Prometheus text exposition format 0.0.4;
 * the caller frees it.  NULL when out of memory. */
char *mgmt_metrics_text(size_t *lenp);
/* The same figures as a JSON object (new reference), or NULL. */
json_t *mgmt_metrics_json(void);

#endif
