/* SPDX-License-Identifier: MIT */
/* Private to the Connection Manager. */
#ifndef IOPD_CONNMGR_PRIV_H
#define IOPD_CONNMGR_PRIV_H

#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "base/base_fdlimit.h"
#include "connmgr/connmgr.h"
#include "iopd/remote.h"

#define CONNMGR_MAX_LISTENERS		 32
#define CONNMGR_DEFAULT_DRAIN_TIMEOUT_MS 10000u
#define CONNMGR_TRIM_EVERY_CLOSES	 256u
#define CONNMGR_ADDR_BUCKETS		 256u

/* An export and what the Connection Manager needs to remove it. */
struct connmgr_export {
	struct conn_export pub; /* what Remote Transports see */
	char *iop_name, *dev_name;
	bool iop_owned;	      /* its IOP goes when it goes */
	struct base_acl *acl; /* pub.acl; NULL: every address */
	/* Removal, under cm->lock: connections yet to close. */
	bool retiring;
	unsigned int conns_left;
	/* Removed while a connection would not close: freed at the end. */
	struct connmgr_export *next_zombie;
};

struct connmgr_addr_count;

struct connmgr_conn {
	struct connmgr_conn *prev, *next;
	struct connmgr_worker *worker;
	struct remote_conn *rc;
	const struct remote_transport_ops *transport;
	void *transport_ctx; /* what its transport was given */
	uint64_t id;
	time_t since;
	struct conn_stats stats;
	/* The export being removed that this connection was counted for
	 * (in its conns_left); NULL otherwise. */
	struct connmgr_export *retiring;
	char peer[64];
	struct sockaddr_storage peer_addr; /* AF_UNSPEC: none */
	/* Only being told it is refused (conn_refuse): holds a refusing
	 * place instead of a cap's (connmgr_limit_release). */
	bool refusing;
};

struct connmgr_worker {
	struct connmgr *cm;
	unsigned int index;
	pthread_t thread;
	struct base_loop *loop;
	struct connmgr_conn conns; /* list head */
	unsigned int n_conns;
	unsigned int closes_since_trim;
	bool draining;
	bool stopped; /* main thread's view: reported drained */
	int start_result;
	/* The deadline sweep (connmgr_limit.c): a 1 s timerfd read while
	 * some connection's transport has conn_tick. */
	int tick_fd;
	bool tick_busy;
	struct base_io tick_io;
	uint64_t tick_buf;
};

struct connmgr_listener {
	struct connmgr *cm;
	const struct remote_transport_ops *transport;
	void *transport_ctx;
	struct base_acl *acl; /* NULL: everyone */
	int fd;
	bool closing;
	struct base_io io; /* the accept, or the pause timer's read */
	/* Out of descriptors: accepting waits on this timerfd (made at
	 * connmgr_run, while descriptors are still there). */
	int pause_fd;
	uint64_t pause_buf;
	struct base_fd_pause pause;
};

struct connmgr {
	struct connmgr_config cfg;
	struct local *local;
	/* The IOP descriptors and the export table.  Only the management
	 * thread (the main thread before connmgr_run) changes them, under
	 * lock; workers look exports up under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a removal or a worker call progressed */
	bool shutting_down;  /* under lock: post nothing more to workers */
	unsigned int n_descs;
	struct iop_desc **descs;
	unsigned int n_exports;
	struct connmgr_export **exports;
	char *default_export; /* NULL: the first export */
	struct connmgr_export *zombies;
	struct conn_exports view;
	struct conn_control control; /* connmgr_call.c */
	/* Connection caps (connmgr_limit.c), under limit_lock: clients
	 * admitted, refused ones being told, per-address counts. */
	pthread_mutex_t limit_lock;
	unsigned int n_admitted, n_refusing;
	struct connmgr_addr_count *addr_counts[CONNMGR_ADDR_BUCKETS];
	uint64_t refused_unlogged, refused_next_log_ns; /* main thread */
	uint64_t next_conn_id;				/* main thread */
	void (*hup_fn)(void *arg);
	void *hup_arg;
	void (*stop_fn)(void *arg); /* connmgr_stop_set */
	void *stop_arg;

	unsigned int n_workers;
	struct connmgr_worker *workers;
	unsigned int next_worker;
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned int n_started;

	struct base_loop *main_loop;
	unsigned int n_listeners;
	struct connmgr_listener listeners[CONNMGR_MAX_LISTENERS];
	unsigned int listeners_open;
	bool stopping;
	bool aborted;
	unsigned int workers_running;
	struct base_io signal_io;
	unsigned char signal_buf[128];
	int drain_timer_fd;
	struct base_io drain_io;
	uint64_t drain_expirations;
};

/* connmgr_listener_add with the transport's table itself, found in the
 * registry; the unit tests hand it a fake transport. */
int connmgr_listener_add_ops(struct connmgr *cm, int fd,
			     const struct remote_transport_ops *transport,
			     void *transport_ctx);
int connmgr_exports_build(struct connmgr *cm, struct local *local);
void connmgr_exports_free(struct connmgr *cm);
/* Fill cm->control: a transport ends another connection by id. */
void connmgr_control_init(struct connmgr *cm);
/* Run fn(w, arg) on every worker and wait until all have.  Management
 * thread.  Returns 0, or -ESHUTDOWN once shutdown has begun. */
int connmgr_workers_call(struct connmgr *cm,
			 void (*fn)(struct connmgr_worker *w, void *arg),
			 void *arg);
/* Park every worker (each runs a posted callback that waits), run fn on
 * the calling (management) thread under cm->lock, then let them go: fn
 * changes what workers read outside the lock, and no worker is in the
 * middle of a callback meanwhile.  Returns 0, or -errno without running
 * fn (-ESHUTDOWN once shutdown has begun). */
int connmgr_workers_pause(struct connmgr *cm,
			  void (*fn)(struct connmgr *cm, void *arg), void *arg);
/* connmgr_limit.c */
enum connmgr_admission {
	CONNMGR_ADMITTED, /* took a place under the caps */
	CONNMGR_REFUSING, /* refused; tell it with conn_refuse */
	CONNMGR_DROPPED,  /* refused; close it at once */
};
/* Main thread, before the client is handed to a worker: check the caps
 * for the client at addr (counted, logged at most every few seconds). */
enum connmgr_admission connmgr_limit_admit(struct connmgr *cm,
					   const struct connmgr_listener *l,
					   const struct sockaddr_storage *addr,
					   const char *peer);
/* Any thread: the client admitted (or being refused) has gone. */
void connmgr_limit_release(struct connmgr *cm,
			   const struct sockaddr_storage *addr, bool refusing);
void connmgr_limit_fini(struct connmgr *cm);
/* Worker thread: its timerfd (init, on the worker), start ticking (a
 * connection that wants conn_tick attached), close it (after the loop
 * is destroyed). */
void connmgr_sweep_init(struct connmgr_worker *w);
void connmgr_sweep_start(struct connmgr_worker *w);
void connmgr_sweep_fini(struct connmgr_worker *w);
/* Worker: conn closed; settle its export's removal count. */
void connmgr_export_conn_closed(struct connmgr *cm, struct connmgr_conn *conn);
/* The export table's helpers that connmgr_export_live.c shares: the
 * export called name (under cm->lock; NULL: none), a copy of an address
 * list (NULL for an empty one) and its release, and whether conn is a
 * session of export e. */
struct connmgr_export *connmgr_export_by_name(struct connmgr *cm,
					      const char *name);
int connmgr_acl_dup(const struct base_acl *acl, struct base_acl **out);
/* NULL-terminated string lists (an export's TLS allow lists). */
int connmgr_strv_dup(const char *const *src, const char *const **out);
void connmgr_strv_free(const char *const *v);
void connmgr_acl_free(struct base_acl *acl);
bool connmgr_conn_uses(struct connmgr_conn *conn,
		       const struct connmgr_export *e);

#endif
