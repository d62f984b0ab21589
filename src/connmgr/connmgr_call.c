// SPDX-License-Identifier: MIT
/*
 * The management thread's view of the connections.  A connection lives on
 * one worker and only that thread touches it, so the management thread
 * asks every worker with a posted callback and waits for all of them
 * (connmgr_workers_call): a snapshot of the connections, one of them
 * asked to end, or a reloaded transport configuration handed to them.
 * Nothing here is on the data path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"

struct connmgr_call {
	struct connmgr *cm;
	void (*fn)(struct connmgr_worker *w, void *arg);
	void *arg;
	unsigned int pending; /* under cm->lock */
};

struct connmgr_call_shim {
	struct connmgr_call *call;
	struct connmgr_worker *worker;
};

static void connmgr_call_run(void *arg)
{
	struct connmgr_call_shim *shim = arg;
	struct connmgr_call *call = shim->call;
	struct connmgr *cm = call->cm;

	call->fn(shim->worker, call->arg);
	pthread_mutex_lock(&cm->lock);
	call->pending--;
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);
}

int connmgr_workers_call(struct connmgr *cm,
			 void (*fn)(struct connmgr_worker *w, void *arg),
			 void *arg)
{
	struct connmgr_call call = { .cm = cm, .fn = fn, .arg = arg };
	struct connmgr_call_shim *shims;
	int ret = 0;

	shims = calloc(cm->n_workers ? cm->n_workers : 1, sizeof(*shims));
	if (!shims)
		return -ENOMEM;
	/* Under the lock so that shutdown cannot start in between: what is
	 * posted before the workers' drain runs before it. */
	pthread_mutex_lock(&cm->lock);
	if (cm->shutting_down) {
		ret = -ESHUTDOWN;
		goto out_unlock;
	}
	for (unsigned int i = 0; i < cm->n_workers; i++) {
		shims[i].call = &call;
		shims[i].worker = &cm->workers[i];
		if (base_loop_post(cm->workers[i].loop, connmgr_call_run,
				   &shims[i]) < 0) {
			ret = -ENOMEM;
			break;
		}
		call.pending++;
	}
	while (call.pending)
		pthread_cond_wait(&cm->cond, &cm->lock);
out_unlock:
	pthread_mutex_unlock(&cm->lock);
	free(shims);
	return ret;
}

struct connmgr_pause {
	struct connmgr *cm;
	unsigned int parked, left; /* under cm->lock */
	bool release;
};

/* Worker: wait here until the management thread is done. */
static void connmgr_pause_run(void *arg)
{
	struct connmgr_pause *pause = arg;
	struct connmgr *cm = pause->cm;

	pthread_mutex_lock(&cm->lock);
	pause->parked++;
	pthread_cond_broadcast(&cm->cond);
	while (!pause->release)
		pthread_cond_wait(&cm->cond, &cm->lock);
	pause->left--;
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);
}

int connmgr_workers_pause(struct connmgr *cm,
			  void (*fn)(struct connmgr *cm, void *arg), void *arg)
{
	struct connmgr_pause pause = { .cm = cm };
	unsigned int posted = 0;
	int ret = 0;

	pthread_mutex_lock(&cm->lock);
	if (cm->shutting_down) {
		ret = -ESHUTDOWN;
		goto out_unlock;
	}
	for (unsigned int i = 0; i < cm->n_workers; i++) {
		if (base_loop_post(cm->workers[i].loop, connmgr_pause_run,
				   &pause) < 0) {
			ret = -ENOMEM;
			break;
		}
		posted++;
	}
	pause.left = posted;
	while (pause.parked < posted)
		pthread_cond_wait(&cm->cond, &cm->lock);
	if (ret == 0)
		fn(cm, arg);
	pause.release = true;
	pthread_cond_broadcast(&cm->cond);
	while (pause.left)
		pthread_cond_wait(&cm->cond, &cm->lock);
out_unlock:
	pthread_mutex_unlock(&cm->lock);
	return ret;
}

struct connmgr_snapshot {
	pthread_mutex_t lock; /* workers fill it concurrently */
	struct connmgr_conn_info *infos;
	unsigned int n, cap;
	int error;
};

static void connmgr_snapshot_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_snapshot *snap = arg;
	struct connmgr_conn *conn;

	pthread_mutex_lock(&snap->lock);
	for (conn = w->conns.next; conn != &w->conns; conn = conn->next) {
		struct connmgr_conn_info *info;

		if (snap->n == snap->cap) {
			unsigned int cap = snap->cap ? snap->cap * 2 : 16;
			void *p = realloc(snap->infos, cap * sizeof(*info));

			if (!p) {
				snap->error = -ENOMEM;
				break;
			}
			snap->infos = p;
			snap->cap = cap;
		}
		info = &snap->infos[snap->n++];
		memset(info, 0, sizeof(*info));
		info->id = conn->id;
		info->worker = w->index;
		info->since = conn->since;
		info->stats = conn->stats;
		snprintf(info->peer, sizeof(info->peer), "%s", conn->peer);
		snprintf(info->protocol, sizeof(info->protocol), "%s",
			 conn->transport->name);
		if (conn->stats.export)
			snprintf(info->export, sizeof(info->export), "%s",
				 conn->stats.export->name);
	}
	pthread_mutex_unlock(&snap->lock);
}

static int connmgr_info_cmp(const void *a, const void *b)
{
	const struct connmgr_conn_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int connmgr_conns_list(struct connmgr *cm, struct connmgr_conn_info **infos,
		       unsigned int *n)
{
	struct connmgr_snapshot snap = { .error = 0 };
	int ret;

	pthread_mutex_init(&snap.lock, NULL);
	ret = connmgr_workers_call(cm, connmgr_snapshot_on, &snap);
	pthread_mutex_destroy(&snap.lock);
	if (ret == 0)
		ret = snap.error;
	if (ret < 0) {
		free(snap.infos);
		return ret;
	}
	if (snap.n)
		qsort(snap.infos, snap.n, sizeof(*snap.infos),
		      connmgr_info_cmp);
	*infos = snap.infos;
	*n = snap.n;
	return 0;
}

struct connmgr_kill {
	uint64_t id;
	bool force;
	bool found; /* only the connection's own worker sets it */
};

static void connmgr_kill_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_kill *kill = arg;
	struct connmgr_conn *conn;

	for (conn = w->conns.next; conn != &w->conns; conn = conn->next) {
		if (conn->id != kill->id)
			continue;
		kill->found = true;
		if (kill->force)
			conn->transport->conn_abort(conn->rc);
		else
			conn->transport->conn_shutdown(conn->rc);
		return;
	}
}

int connmgr_conn_disconnect(struct connmgr *cm, uint64_t id, bool force)
{
	struct connmgr_kill kill = { .id = id, .force = force };
	int ret;

	ret = connmgr_workers_call(cm, connmgr_kill_on, &kill);
	if (ret < 0)
		return ret;
	if (!kill.found) {
		log_error("connection %llu: no such connection",
			  (unsigned long long)id);
		return -ENOENT;
	}
	log_info("connection %llu: disconnected by the operator%s",
		 (unsigned long long)id, force ? " (forced)" : "");
	return 0;
}

/* conn_control.abort: a worker asks, for a connection that may live on
 * another worker.  Unlike connmgr_conn_disconnect it cannot wait (the
 * asking worker may be the one to run it): each worker gets its own
 * posted note and looks for the id among its connections. */
struct connmgr_abort_note {
	struct connmgr_worker *worker;
	uint64_t id;
};

static void connmgr_abort_run(void *arg)
{
	struct connmgr_abort_note *note = arg;
	struct connmgr_worker *w = note->worker;
	struct connmgr_conn *conn;

	for (conn = w->conns.next; conn != &w->conns; conn = conn->next) {
		if (conn->id == note->id) {
			conn->transport->conn_abort(conn->rc);
			break;
		}
	}
	free(note);
}

static void connmgr_control_abort(void *opaque, uint64_t id)
{
	struct connmgr *cm = opaque;
	struct connmgr_abort_note *note;

	/* Under the lock, like connmgr_workers_call: after shutdown began
	 * nothing is posted, and the drain ends the connection anyway. */
	pthread_mutex_lock(&cm->lock);
	for (unsigned int i = 0; i < cm->n_workers && !cm->shutting_down; i++) {
		note = malloc(sizeof(*note));
		if (!note) {
			log_warn("connection %llu: out of memory: cannot end "
				 "it",
				 (unsigned long long)id);
			break;
		}
		note->worker = &cm->workers[i];
		note->id = id;
		if (base_loop_post(cm->workers[i].loop, connmgr_abort_run,
				   note) < 0) {
			log_warn("connection %llu: cannot end it",
				 (unsigned long long)id);
			free(note);
			break;
		}
	}
	pthread_mutex_unlock(&cm->lock);
}

void connmgr_control_init(struct connmgr *cm)
{
	cm->control.abort = connmgr_control_abort;
	cm->control.opaque = cm;
}

struct connmgr_reconf {
	const void *old_ctx;
	void *new_ctx;
	unsigned int ended; /* under cm->lock */
};

static void connmgr_reconf_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_reconf *rc = arg;
	struct connmgr_conn *conn, *next;
	unsigned int n = 0;

	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		if (conn->transport_ctx != rc->old_ctx)
			continue;
		conn->transport_ctx = rc->new_ctx;
		if (!conn->transport->conn_reconfigure(conn->rc, rc->new_ctx)) {
			conn->transport->conn_shutdown(conn->rc);
			n++;
		}
	}
	pthread_mutex_lock(&w->cm->lock);
	rc->ended += n;
	pthread_mutex_unlock(&w->cm->lock);
}

int connmgr_transport_ctx_replace(struct connmgr *cm, const void *old_ctx,
				  void *new_ctx)
{
	struct connmgr_reconf rc = { .old_ctx = old_ctx, .new_ctx = new_ctx };
	unsigned int i;
	int ret;

	for (i = 0; i < cm->n_listeners; i++) {
		if (cm->listeners[i].transport_ctx == old_ctx &&
		    !cm->listeners[i].transport->conn_reconfigure) {
			log_error("%s: its transport cannot take a new "
				  "configuration while it runs",
				  cm->listeners[i].transport->name);
			return -ENOTSUP;
		}
	}
	/* Connections starting after this get new_ctx; those that started
	 * before are on a worker's list when connmgr_reconf_on runs there
	 * (connmgr_conn_attach reads the listener's under the lock). */
	pthread_mutex_lock(&cm->lock);
	for (i = 0; i < cm->n_listeners; i++)
		if (cm->listeners[i].transport_ctx == old_ctx)
			cm->listeners[i].transport_ctx = new_ctx;
	pthread_mutex_unlock(&cm->lock);
	ret = connmgr_workers_call(cm, connmgr_reconf_on, &rc);
	if (ret < 0)
		return ret;
	return (int)rc.ended;
}

void connmgr_hup_set(struct connmgr *cm, void (*fn)(void *arg), void *arg)
{
	cm->hup_fn = fn;
	cm->hup_arg = arg;
}

void connmgr_stop_set(struct connmgr *cm, void (*fn)(void *arg), void *arg)
{
	cm->stop_fn = fn;
	cm->stop_arg = arg;
}
