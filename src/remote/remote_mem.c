// SPDX-License-Identifier: MIT
/*
 * remote_mem: memory budgets for request buffers (remote_engine.h,
 * iopd/remote_stats.h).  A connection charges the buffer of each READ
 * and WRITE it takes and gives it back when the reply is sent; a
 * request that would take the connection over its own budget, or the
 * daemon over the daemon-wide one, is left unparsed and input pauses.
 *
 * The connection's budget is its own worker's business: its replies
 * draining is what lets it go on (remote_engine_tx_done re-parses).
 * The daemon-wide one is shared by every worker: its total is an atomic
 * counter, and an engine waiting for it is put on its worker's list; a
 * worker giving bytes back while anyone waits posts a wake-up to each
 * worker with waiters, which kicks them on their own thread.  Waiting is
 * rare (a budget reached), so the lists share one lock; the data path
 * costs an atomic add and subtract per request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/conn.h"
#include "iopd/remote_stats.h"
#include "remote/remote_mem.h"

/* One per worker loop that ever had a waiter; kept until exit, so a
 * posted wake-up always finds it. */
struct remote_mem_worker {
	struct remote_mem_worker *next;
	struct base_loop *loop;
	struct remote_engine *head, *tail; /* waiting engines, in order */
	unsigned int n_waiting;
	bool posted; /* a wake-up is queued on loop */
};

static _Atomic uint64_t remote_mem_budget; /* 0: unlimited */
static _Atomic uint64_t remote_mem_held;
static _Atomic uint64_t remote_mem_pauses;
static _Atomic unsigned int remote_mem_waiting;
static pthread_mutex_t remote_mem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct remote_mem_worker *remote_mem_workers;

/* A request this small from a connection holding nothing never waits
 * for the daemon budget. */
#define REMOTE_MEM_SMALL_BYTES (1024u * 1024)

void remote_mem_budget_set(uint64_t bytes)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (bytes == 0 && pages > 0 && page > 0) {
		bytes = (uint64_t)pages * (uint64_t)page / 8;
		if (bytes < REMOTE_MEM_BUDGET_MIN)
			bytes = REMOTE_MEM_BUDGET_MIN;
		if (bytes > REMOTE_MEM_BUDGET_MAX)
			bytes = REMOTE_MEM_BUDGET_MAX;
	}
	atomic_store(&remote_mem_budget, bytes);
}

void remote_mem_stats_get(struct remote_mem_stats *stats)
{
	stats->budget_bytes = atomic_load(&remote_mem_budget);
	stats->held_bytes = atomic_load(&remote_mem_held);
	stats->pauses = atomic_load(&remote_mem_pauses);
}

/*
 * The daemon holding nothing fits any request, so one larger than the
 * whole budget still runs, alone.  And a connection holding nothing may
 * always take one small request: stuck peers that filled the budget must
 * not stall everyone's 4 KiB reads, and this costs at most
 * REMOTE_MEM_SMALL_BYTES per connection beyond the budget.
 */
static bool remote_mem_daemon_fits(const struct remote_engine *e, size_t bytes)
{
	uint64_t budget = atomic_load(&remote_mem_budget);
	uint64_t held = atomic_load(&remote_mem_held);

	return budget == 0 || held == 0 || held + bytes <= budget ||
	       (e->mem_held == 0 && bytes <= REMOTE_MEM_SMALL_BYTES);
}

/* Likewise a connection holding nothing fits its own budget. */
static bool remote_mem_conn_fits(const struct remote_engine *e, size_t bytes)
{
	return e->mem_budget == 0 || e->mem_held == 0 ||
	       e->mem_held + e->tx_block_bytes + bytes <= e->mem_budget;
}

bool remote_engine_mem_fits(const struct remote_engine *e, size_t bytes)
{
	return remote_mem_conn_fits(e, bytes) &&
	       (!e->loop || remote_mem_daemon_fits(e, bytes));
}

/* Called with the lock held. */
static struct remote_mem_worker *remote_mem_worker_get(struct base_loop *loop)
{
	struct remote_mem_worker *w;

	for (w = remote_mem_workers; w; w = w->next)
		if (w->loop == loop)
			return w;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = loop;
	w->next = remote_mem_workers;
	remote_mem_workers = w;
	return w;
}

/* Called with the lock held. */
static void remote_mem_unlink(struct remote_engine *e)
{
	struct remote_mem_worker *w = e->mem_worker;

	if (e->mem_prev)
		e->mem_prev->mem_next = e->mem_next;
	else
		w->head = e->mem_next;
	if (e->mem_next)
		e->mem_next->mem_prev = e->mem_prev;
	else
		w->tail = e->mem_prev;
	e->mem_next = e->mem_prev = NULL;
	e->mem_worker = NULL;
	w->n_waiting--;
	atomic_fetch_sub(&remote_mem_waiting, 1);
}

void remote_engine_mem_unwait(struct remote_engine *e)
{
	if (!e->loop)
		return;
	pthread_mutex_lock(&remote_mem_lock);
	if (e->mem_worker)
		remote_mem_unlink(e);
	pthread_mutex_unlock(&remote_mem_lock);
}

/* Wait on the worker's list for daemon-wide room.  Returns false when
 * the room came free meanwhile (or the list could not grow): go on. */
static bool remote_mem_daemon_wait(struct remote_engine *e, size_t bytes)
{
	struct remote_mem_worker *w;

	pthread_mutex_lock(&remote_mem_lock);
	if (!e->mem_worker) {
		w = remote_mem_worker_get(e->loop);
		if (!w) {
			pthread_mutex_unlock(&remote_mem_lock);
			return false;
		}
		e->mem_worker = w;
		e->mem_prev = w->tail;
		e->mem_next = NULL;
		if (w->tail)
			w->tail->mem_next = e;
		else
			w->head = e;
		w->tail = e;
		w->n_waiting++;
		atomic_fetch_add(&remote_mem_waiting, 1);
	}
	/* Bytes given back between the first check and joining the list
	 * saw nobody waiting: check again now that we are on it. */
	if (remote_mem_daemon_fits(e, bytes)) {
		remote_mem_unlink(e);
		pthread_mutex_unlock(&remote_mem_lock);
		return false;
	}
	pthread_mutex_unlock(&remote_mem_lock);
	return true;
}

bool remote_engine_mem_wait(struct remote_engine *e, size_t bytes)
{
	bool wait;

	if (!remote_mem_conn_fits(e, bytes))
		wait = true;
	else if (!e->loop || remote_mem_daemon_fits(e, bytes))
		wait = false;
	else
		wait = remote_mem_daemon_wait(e, bytes);
	if (!wait) {
		if (e->mem_worker)
			remote_engine_mem_unwait(e);
		e->mem_want = 0;
		return false;
	}
	if (!e->mem_want) {
		atomic_fetch_add(&remote_mem_pauses, 1);
		log_debug("%s: %zu bytes of replies buffered; pausing input",
			  e->peer, e->mem_held);
	}
	e->mem_want = bytes;
	return true;
}

void remote_engine_mem_charge(struct remote_engine *e, size_t bytes)
{
	e->mem_held += bytes;
	atomic_fetch_add(&remote_mem_held, bytes);
	if (e->stats)
		e->stats->buffered_bytes = e->mem_held;
}

/* On a worker with waiters: kick each engine that was waiting when the
 * wake-up ran, once.  Its next rx_buf asks again (remote_engine_mem_wait),
 * and one that still does not fit joins the tail. */
static void remote_mem_wake(void *arg)
{
	struct remote_mem_worker *w = arg;
	struct remote_engine *e;
	unsigned int n;

	pthread_mutex_lock(&remote_mem_lock);
	w->posted = false;
	n = w->n_waiting;
	pthread_mutex_unlock(&remote_mem_lock);
	while (n-- > 0) {
		pthread_mutex_lock(&remote_mem_lock);
		e = w->head;
		if (e)
			remote_mem_unlink(e);
		pthread_mutex_unlock(&remote_mem_lock);
		if (!e)
			break;
		remote_engine_kick(e);
	}
}

static void remote_mem_wake_all(void)
{
	pthread_mutex_lock(&remote_mem_lock);
	for (struct remote_mem_worker *w = remote_mem_workers; w; w = w->next)
		if (w->n_waiting && !w->posted &&
		    base_loop_post(w->loop, remote_mem_wake, w) == 0)
			w->posted = true;
	pthread_mutex_unlock(&remote_mem_lock);
}

bool remote_mem_contended(void)
{
	return atomic_load_explicit(&remote_mem_waiting,
				    memory_order_relaxed) != 0;
}

void remote_engine_mem_put(struct remote_engine *e, size_t bytes)
{
	if (!bytes)
		return;
	e->mem_held -= bytes;
	atomic_fetch_sub(&remote_mem_held, bytes);
	if (e->stats)
		e->stats->buffered_bytes = e->mem_held;
	if (atomic_load(&remote_mem_waiting))
		remote_mem_wake_all();
}
