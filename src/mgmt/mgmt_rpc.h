/* SPDX-License-Identifier: MIT */
/*
 * The management channel: JSON-RPC 2.0 over a Unix socket (doc/
 * management.md).  Framing: one JSON text per line, both ways (a request
 * is one line; its response is one line; batches are arrays).
 *
 * The server runs on its own thread, the management thread, and handles
 * one request at a time: handlers may block (open a device, wait for an
 * export's clients to drain) without holding up accepts or I/O, and they
 * never race each other.  They change the running daemon only through the
 * Connection Manager's live-change calls (connmgr.h), which are made for
 * this thread.
 *
 * Adding methods: write src/mgmt/mgmt_rpc_<family>.c with a table
 *	const struct mgmt_method mgmt_rpc_<family>_methods[] = {
 *		{ "family.verb", handler, "params: ...; what it does" },
 *		{ NULL },
 *	};
 * declare it below and add one line to mgmt_rpc_tables in mgmt_rpc.c.
 */
#ifndef IOPD_MGMT_RPC_H
#define IOPD_MGMT_RPC_H

#include <jansson.h>
#include <stdbool.h>

#include "connmgr/connmgr.h"
#include "mgmt/mgmt_config.h"

/* JSON-RPC 2.0 §5.1 */
#define MGMT_ERR_PARSE		 -32700
#define MGMT_ERR_INVALID_REQUEST -32600
#define MGMT_ERR_NO_METHOD	 -32601
#define MGMT_ERR_INVALID_PARAMS	 -32602
#define MGMT_ERR_INTERNAL	 -32603
/* Implementation-defined server errors: -32000 - errno (ENOENT -> -32002,
 * EEXIST -> -32017, EBUSY -> -32016...); data.errno names it. */
#define MGMT_ERR_ERRNO_BASE -32000

struct mgmt_error {
	int code;	   /* 0: derive it from the handler's -errno */
	char message[512]; /* "" : strerror */
};

/* What every handler works on.  Only the management thread touches it. */
struct mgmt_ctx {
	struct connmgr *cm;
	/* The running configuration: the config file's objects, kept in step
	 * with live changes, so save-config writes what runs. */
	struct mgmt_config *cfg;
	const char *config_path; /* --config, or NULL */
	const char *version;
	struct mgmt_rpc *rpc;
};

/*
 * A method.  fn runs on the management thread with params (an object, an
 * array, or NULL when the request had none; borrowed).  On success it sets
 * *result (a new reference; NULL means JSON null) and returns 0.  On
 * failure it returns -errno, optionally after mgmt_error_set.
 */
struct mgmt_method {
	const char *name;
	int (*fn)(struct mgmt_ctx *ctx, json_t *params, json_t **result,
		  struct mgmt_error *err);
	const char *help;
};

extern const struct mgmt_method mgmt_rpc_daemon_methods[];
extern const struct mgmt_method mgmt_rpc_export_methods[];
extern const struct mgmt_method mgmt_rpc_conn_methods[];
extern const struct mgmt_method mgmt_rpc_device_methods[];
extern const struct mgmt_method mgmt_rpc_iop_methods[];
extern const struct mgmt_method mgmt_rpc_discover_methods[];
extern const struct mgmt_method mgmt_rpc_stats_methods[];
extern const struct mgmt_method mgmt_rpc_alua_methods[];

/* Returns -errno (for the handler to return) after formatting message. */
int mgmt_error_set(struct mgmt_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parameter helpers: return 0, or -EINVAL after setting err (invalid
 * params).  Absent optional members leave *out unchanged. */
int mgmt_param_str(json_t *params, const char *key, bool required,
		   const char **out, struct mgmt_error *err);
int mgmt_param_bool(json_t *params, const char *key, bool *out,
		    struct mgmt_error *err);
int mgmt_param_uint(json_t *params, const char *key, bool required,
		    uint64_t *out, struct mgmt_error *err);
/* Every member of params is one of keys (NULL-terminated). */
int mgmt_params_only(json_t *params, const char *const *keys,
		     struct mgmt_error *err);

struct mgmt_rpc_config {
	const char *socket_path;  /* Unix socket; created mode 0600 */
	unsigned int socket_mode; /* 0: 0600 */
	/* TCP "HOST:PORT" (NULL: none).  Clients must first call
	 * daemon.auth with the token in token_file, which nobody but its
	 * owner may read. */
	const char *tcp_addr;
	const char *token_file;
	/* Peers allowed besides root and our own uid; -1: nobody else. */
	long allow_uid;
	/* Client slots for the Unix socket and for TCP, apart so that TCP
	 * peers never take a local one; a TCP client that has not
	 * authenticated within auth_timeout_ms is closed, and so is any
	 * client whose unread replies exceed reply_max_bytes or that reads
	 * nothing of them for write_timeout_ms.  0: the MGMT_DEFAULT_* of
	 * mgmt_config.h. */
	unsigned int local_clients, tcp_clients;
	unsigned int auth_timeout_ms;
	unsigned int reply_max_bytes;
	unsigned int write_timeout_ms;
};

struct mgmt_rpc;

/* Bind the socket (removing a stale one).  Main thread, before ready. */
int mgmt_rpc_create(const struct mgmt_rpc_config *cfg, struct mgmt_ctx *ctx,
		    struct mgmt_rpc **rpcp);
/* The i-th listener as "unix PATH" or "tcp HOST:PORT" (ready-fd lines);
 * NULL past the last. */
const char *mgmt_rpc_describe(const struct mgmt_rpc *rpc, unsigned int i);
/* Start the management thread. */
int mgmt_rpc_start(struct mgmt_rpc *rpc);
/* Ask the management thread to reload the config file (SIGHUP).  Thread
 * and async-signal safe: one write to an eventfd. */
void mgmt_rpc_request_reload(struct mgmt_rpc *rpc);
/* Stop the thread (finishing the request it runs), close and unlink the
 * socket, free. */
void mgmt_rpc_destroy(struct mgmt_rpc *rpc);

/* Handle one request line; for tests.  Returns the response text (free
 * it), or NULL for a notification. */
char *mgmt_rpc_handle_text(struct mgmt_ctx *ctx, const char *text, size_t len);

/* Reload the config file: apply the difference.  mgmt_rpc_daemon.c. */
int mgmt_reload(struct mgmt_ctx *ctx, json_t **result, struct mgmt_error *err);

#endif
