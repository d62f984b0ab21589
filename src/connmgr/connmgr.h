/* SPDX-License-Identifier: MIT */
/*
 * The Connection Manager: builds one IOP descriptor per IOP from the Local
 * Transport, names the exports, and owns connection services: accepting
 * on the listeners the Remote Transports bound, admitting, attaching each
 * connection to a worker, draining, and the ordered shutdown.
 */
#ifndef IOPD_CONNMGR_H
#define IOPD_CONNMGR_H

#include <stdbool.h>
#include <time.h>

#include "base/base_acl.h"
#include "base/base_loop.h"
#include "iopd/conn.h"
#include "iopd/local.h"
#include "iopd/remote.h"

struct connmgr;

struct connmgr_export_spec {
	const char *name;
	const char *description; /* may be NULL */
	const char *iop;	 /* IOP name */
	const char *dev;	 /* device name within the IOP */
	bool read_only;
	bool iop_owned; /* removing the export removes its IOP */
	/* CONN_PROTO_ bits (0: every protocol) and the client addresses
	 * allowed (NULL: all); copied. */
	unsigned int protocols;
	const struct base_acl *acl;
	struct conn_tls_policy tls; /* copied */
};

struct connmgr_config {
	unsigned int n_workers; /* 0 = one per CPU */
	enum base_engine engine;
	struct conn_limits limits;
	/* Request buffers all connections together may hold
	 * (remote_mem_budget_set); 0 = an eighth of physical memory. */
	uint64_t buffer_budget_bytes;
	const char *default_export;    /* NULL = the first export */
	unsigned int drain_timeout_ms; /* then connections are aborted;
					* 0 = the default, 10 s */
	/* Workers poll this long for the next event before sleeping
	 * (base_loop_set_busy_poll); 0 = never. */
	unsigned int busy_poll_us;
	bool list_hidden; /* conn_exports.list_hidden */
	/* Client connections at once, all transports, and from one address
	 * (an IPv6 /64); 0: no cap.  A client over a cap is refused the
	 * transport's way (remote_transport_ops.conn_refuse). */
	unsigned int max_conns, max_conns_per_addr;
	unsigned int n_exports;
	const struct connmgr_export_spec *exports;
};

/* Steps 4 of start-up: descriptors and exports.  Returns 0 or -errno. */
int connmgr_create(const struct connmgr_config *cfg, struct local *local,
		   struct connmgr **cmp);
void connmgr_destroy(struct connmgr *cm);

/* Hand a bound, listening socket to the Connection Manager (it closes it
 * at shutdown); clients accepted on it are served by the registered
 * transport called transport ("nbd", "iscsi": remote_transport_find),
 * which gets transport_ctx (its own configuration, e.g. iSCSI targets;
 * may be NULL) in remote_conn_args.  Clients are not admitted before
 * connmgr_run.  -EPROTONOSUPPORT (logged) when this iopd was built
 * without that transport; the caller still owns fd then. */
int connmgr_listener_add(struct connmgr *cm, int fd, const char *transport,
			 void *transport_ctx);

/* Refuse clients of the listener on fd whose address (or, on a Unix
 * socket, SO_PEERCRED user and group) acl does not allow, before reading
 * or writing a byte.  acl is copied.  Before connmgr_run.  Returns 0,
 * -ENOENT (no such listener) or -ENOMEM. */
int connmgr_listener_set_access(struct connmgr *cm, int fd,
				const struct base_acl *acl);

/* Start the worker threads.  Call with termination signals blocked. */
int connmgr_workers_start(struct connmgr *cm);

/*
 * Admit clients until a signal arrives on signal_fd (a signalfd for
 * SIGTERM/SIGINT; SIGHUP calls the connmgr_hup_set hook instead), then stop
 * admitting, drain every connection (aborting those still open after
 * drain_timeout_ms) and stop the workers.  Returns 0 after a clean drain,
 * -ETIMEDOUT if some connection had to be aborted.
 */
int connmgr_run(struct connmgr *cm, int signal_fd);

/*
 * Live changes, from the management thread (one thread at a time; the main
 * thread before connmgr_run).  Functions returning int return 0 or -errno
 * after logging why; -ESHUTDOWN once shutdown has begun.
 */

/* Open an IOP through the Local Transport and give it a descriptor. */
int connmgr_iop_add(struct connmgr *cm, const struct local_iop_spec *spec);
/* Close an IOP no export uses (-EBUSY otherwise). */
int connmgr_iop_remove(struct connmgr *cm, const char *name);
int connmgr_iop_rename(struct connmgr *cm, const char *name,
		       const char *new_name);
/* The i-th IOP's descriptor (its ctx feeds local_iop_* ), or NULL. */
struct iop_desc *connmgr_iop_at(struct connmgr *cm, unsigned int i);

/* New connections find it at once. */
int connmgr_export_add(struct connmgr *cm,
		       const struct connmgr_export_spec *spec);
/*
 * New connections stop finding it at once; connections using it are
 * asked to end (in-flight requests complete and are answered, then the
 * connection closes), and aborted after the drain timeout.  Returns once
 * they have closed, after removing the export's own IOP if it has one.
 */
int connmgr_export_remove(struct connmgr *cm, const char *name);
/* For sessions opened from now on; open ones keep their mode (with
 * connmgr_export_kick, they reconnect and get it). */
int connmgr_export_set_read_only(struct connmgr *cm, const char *name,
				 bool read_only);
/* In place (NULL: none): handshakes and listings from now on show it;
 * connections stay.  Changed while every worker is paused between two
 * callbacks (workers read it outside the lock).  Returns 0 or -errno. */
int connmgr_export_set_description(struct connmgr *cm, const char *name,
				   const char *description);
/*
 * Run fn on the export's device while no client can reach it: the export
 * leaves the table, every worker passes a barrier, fn runs, the export
 * comes back at its place.  New clients asking for it meanwhile are told
 * there is no such export.  For changes a DDM makes only with no session
 * open (fn checks that).  Returns fn's result or -errno.
 */
int connmgr_export_exclusive(struct connmgr *cm, const char *name,
			     int (*fn)(struct iop_desc *desc,
				       unsigned int dev_index, void *arg),
			     void *arg);
/* Ask the connections using the export to end as at shutdown (requests
 * in flight complete), so that they reconnect and see a new mode or
 * size; the export stays.  Returns how many were asked, or -errno. */
int connmgr_export_kick(struct connmgr *cm, const char *name);
/*
 * Which protocols may serve the export (CONN_PROTO_ bits, 0: all), which
 * client addresses (NULL: all) and its NBD TLS policy (copied), in place
 * for new sessions; the export's open connections that the new rules
 * refuse are asked to end, as by connmgr_export_kick, and the others
 * stay.  Returns how many were asked, or -errno.
 */
int connmgr_export_set_access(struct connmgr *cm, const char *name,
			      unsigned int protocols,
			      const struct base_acl *acl,
			      const struct conn_tls_policy *tls);
/* conn_exports.list_hidden, in place.  Returns 0 or -errno. */
int connmgr_list_hidden_set(struct connmgr *cm, bool hidden);
/* NULL or "": the first export. */
int connmgr_default_export_set(struct connmgr *cm, const char *name);

struct connmgr_export_info {
	const char *name;
	const char *description; /* may be NULL */
	const char *iop, *dev;
	bool read_only;
	bool iop_owned;
	bool is_default;
	unsigned int protocols;	    /* CONN_PROTO_ bits */
	const struct base_acl *acl; /* NULL: every address */
	struct iop_desc *desc;
	unsigned int dev_index;
};
/* Strings stay valid until the next change.  -ENOENT past the end. */
int connmgr_export_info(struct connmgr *cm, unsigned int i,
			struct connmgr_export_info *info);
int connmgr_export_lookup(struct connmgr *cm, const char *name,
			  struct connmgr_export_info *info);

struct connmgr_conn_info {
	uint64_t id;
	char peer[64];
	char protocol[16];
	char export[256]; /* "" during the handshake */
	unsigned int worker;
	time_t since;
	struct conn_stats stats; /* stats.export is not to be followed */
};
/* A snapshot of every connection; free *infos.  Management thread. */
int connmgr_conns_list(struct connmgr *cm, struct connmgr_conn_info **infos,
		       unsigned int *n);
/* Ask connection id to end like at shutdown (force: drop it now). */
int connmgr_conn_disconnect(struct connmgr *cm, uint64_t id, bool force);

/*
 * Give the listeners that were given transport_ctx old_ctx new_ctx
 * instead (a reloaded transport configuration): connections accepted from
 * now on get it, and every open connection that has old_ctx is handed
 * new_ctx through its transport's conn_reconfigure (which must exist),
 * and asked to end (as by connmgr_export_kick) when it says its session
 * would not be admitted under the new configuration.  On return no
 * connection uses old_ctx any more: the caller may free it.  Returns how
 * many connections were asked to end, or -errno (then connections may
 * still use old_ctx: keep it).
 */
int connmgr_transport_ctx_replace(struct connmgr *cm, const void *old_ctx,
				  void *new_ctx);

/* Called on the main thread on SIGHUP (see connmgr_run). */
void connmgr_hup_set(struct connmgr *cm, void (*fn)(void *arg), void *arg);
/* Called on the main thread when a termination signal starts the
 * shutdown, before the drain (sd_notify STOPPING=1). */
void connmgr_stop_set(struct connmgr *cm, void (*fn)(void *arg), void *arg);

/* Serve exactly one connection of the registered transport called
 * transport on rx_fd/tx_fd (stdin/stdout) on the calling thread, then
 * return.  -EPROTONOSUPPORT (logged) when it is not built in. */
int connmgr_serve_stdio(struct connmgr *cm, const char *transport, int rx_fd,
			int tx_fd);

#endif
