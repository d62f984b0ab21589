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
};

struct connmgr_config {
	unsigned int n_workers; /* 0 = one per CPU */
	enum base_engine engine;
	struct conn_limits limits;
	const char *default_export;    /* NULL = the first export */
	unsigned int drain_timeout_ms; /* then connections are aborted;
					* 0 = the default, 10 s */
	/* Workers poll this long for the next event before sleeping
	 * (base_loop_set_busy_poll); 0 = never. */
	unsigned int busy_poll_us;
	unsigned int n_exports;
	const struct connmgr_export_spec *exports;
};

/* Steps 4 of start-up: descriptors and exports.  Returns 0 or -errno. */
int connmgr_create(const struct connmgr_config *cfg, struct local *local,
		   struct connmgr **cmp);
void connmgr_destroy(struct connmgr *cm);

/* Hand a bound, listening socket to the Connection Manager (it closes it
 * at shutdown); clients accepted on it are served by transport, which
 * gets transport_ctx (its own configuration, e.g. iSCSI targets; may be
 * NULL) in remote_conn_args.  Clients are not admitted before
 * connmgr_run. */
int connmgr_listener_add(struct connmgr *cm, int fd,
			 const struct remote_transport_ops *transport,
			 void *transport_ctx);

/* Start the worker threads.  Call with termination signals blocked. */
int connmgr_workers_start(struct connmgr *cm);

/*
 * Admit clients until a signal arrives on signal_fd (a signalfd for
 * SIGTERM/SIGINT), then stop admitting, drain every connection (aborting
 * those still open after drain_timeout_ms) and stop the workers.  Returns
 * 0 after a clean drain, -ETIMEDOUT if some connection had to be aborted.
 */
int connmgr_run(struct connmgr *cm, int signal_fd);

/* Serve exactly one connection on rx_fd/tx_fd (stdin/stdout) on the
 * calling thread, then return. */
int connmgr_serve_stdio(struct connmgr *cm, int rx_fd, int tx_fd);

#endif
