/* SPDX-License-Identifier: MIT */
/* Private to the Connection Manager. */
#ifndef IOPD_CONNMGR_PRIV_H
#define IOPD_CONNMGR_PRIV_H

#include <pthread.h>

#include "connmgr/connmgr.h"
#include "iopd/remote.h"

#define CONNMGR_MAX_LISTENERS		 32
#define CONNMGR_DEFAULT_DRAIN_TIMEOUT_MS 10000u
#define CONNMGR_TRIM_EVERY_CLOSES	 256u

struct connmgr_conn {
	struct connmgr_conn *prev, *next;
	struct connmgr_worker *worker;
	struct remote_conn *rc;
	const struct remote_transport_ops *transport;
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
};

struct connmgr_listener {
	struct connmgr *cm;
	const struct remote_transport_ops *transport;
	void *transport_ctx;
	int fd;
	bool closing;
	struct base_io io;
};

struct connmgr {
	struct connmgr_config cfg;
	unsigned int n_descs;
	struct iop_desc *descs;
	unsigned int n_exports;
	struct conn_export *exports;
	unsigned int default_export;
	struct conn_exports view;

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

int connmgr_exports_build(struct connmgr *cm, struct local *local);
void connmgr_exports_free(struct connmgr *cm);

#endif
