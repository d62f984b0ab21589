// SPDX-License-Identifier: MIT
/*
 * Connection limits (doc/security.md, "Connection limits and timeouts"):
 * the global and per-address caps checked at admission, and each
 * worker's once-a-second sweep that lets the transports check their
 * connections' deadlines (remote_transport_ops.conn_tick).
 *
 * Caps: the main thread takes a place when it admits a client, the
 * worker gives it back when the connection closes, so the counts sit
 * under one lock, taken once per connection and never on the data path.
 * An IPv6 client is counted by its /64: one host usually owns a whole
 * /64, and counting single addresses would let it open 2^64 times the
 * cap.  Unix-socket clients count against the global cap only.
 *
 * Refused clients of a transport that answers refusals (iSCSI) live for
 * a moment to be told so; at most CONNMGR_MAX_REFUSING of them at once,
 * further ones are closed at once, so refusing cannot itself cost
 * unbounded memory.
 *
 * The sweep, rather than a timer per connection: one timerfd per worker
 * (not one descriptor and one pending read per connection), armed only
 * while the worker has a connection whose transport wants ticks.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"
#include "iopd/remote_stats.h"

/* Why not this number: a refused client waits for its first Login PDU
 * at most the handshake deadline; 64 of them cost 64 small engines. */
#define CONNMGR_MAX_REFUSING 64u
/* A refusal is logged at most this often, with a count. */
#define CONNMGR_REFUSE_LOG_NS (10ull * 1000 * 1000 * 1000)

struct connmgr_addr_count {
	struct connmgr_addr_count *next;
	uint8_t key[16];
	unsigned int n;
};

/* The bytes a client is counted by: 4 for IPv4 (and IPv4-mapped IPv6),
 * the /64 for IPv6.  0: none (a Unix socket). */
static size_t connmgr_addr_key(const struct sockaddr_storage *ss,
			       uint8_t key[16])
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(key, sin6->sin6_addr.s6_addr + 12, 4);
		return 4;
	}
	memcpy(key, sin6->sin6_addr.s6_addr, 8);
	key[15] = 6; /* never equal to an IPv4 key */
	return 16;
}

static struct connmgr_addr_count **connmgr_addr_slot(struct connmgr *cm,
						     const uint8_t key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	struct connmgr_addr_count **pp;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	pp = &cm->addr_counts[h % CONNMGR_ADDR_BUCKETS];
	while (*pp && memcmp((*pp)->key, key, 16))
		pp = &(*pp)->next;
	return pp;
}

/* Main thread: log a refusal, at most once per interval. */
static void connmgr_refuse_log(struct connmgr *cm, const char *peer,
			       enum remote_limit why)
{
	uint64_t now = base_fd_now_ns();

	cm->refused_unlogged++;
	if (now < cm->refused_next_log_ns)
		return;
	log_warn("%s: refused: %s (%u connections at most%s); %llu refused "
		 "since the last such line",
		 peer,
		 why == REMOTE_LIMIT_MAX_CONNS ? "too many connections"
					       : "too many from its address",
		 why == REMOTE_LIMIT_MAX_CONNS ? cm->cfg.max_conns
					       : cm->cfg.max_conns_per_addr,
		 why == REMOTE_LIMIT_MAX_CONNS ? "" : " per address",
		 (unsigned long long)cm->refused_unlogged);
	cm->refused_unlogged = 0;
	cm->refused_next_log_ns = now + CONNMGR_REFUSE_LOG_NS;
}

/* Take a place for h's client.  Returns 0, or the cap that refuses it. */
static int connmgr_limit_try(struct connmgr *cm,
			     const struct sockaddr_storage *addr,
			     enum remote_limit *why)
{
	struct connmgr_addr_count **pp = NULL, *c;
	uint8_t key[16];

	if (cm->cfg.max_conns && cm->n_admitted >= cm->cfg.max_conns) {
		*why = REMOTE_LIMIT_MAX_CONNS;
		return -EMFILE;
	}
	if (cm->cfg.max_conns_per_addr && connmgr_addr_key(addr, key)) {
		pp = connmgr_addr_slot(cm, key);
		if (*pp && (*pp)->n >= cm->cfg.max_conns_per_addr) {
			*why = REMOTE_LIMIT_MAX_CONNS_PER_ADDR;
			return -EMFILE;
		}
		if (!*pp) {
			c = calloc(1, sizeof(*c));
			if (!c)
				return -ENOMEM;
			memcpy(c->key, key, 16);
			*pp = c;
		}
		(*pp)->n++;
	}
	cm->n_admitted++;
	return 0;
}

enum connmgr_admission connmgr_limit_admit(struct connmgr *cm,
					   const struct connmgr_listener *l,
					   const struct sockaddr_storage *addr,
					   const char *peer)
{
	enum remote_limit why = REMOTE_LIMIT_MAX_CONNS;
	enum connmgr_admission ret = CONNMGR_ADMITTED;
	int err;

	pthread_mutex_lock(&cm->limit_lock);
	err = connmgr_limit_try(cm, addr, &why);
	if (err == 0) {
		pthread_mutex_unlock(&cm->limit_lock);
		return CONNMGR_ADMITTED;
	}
	if (err == -ENOMEM) {
		ret = CONNMGR_DROPPED;
	} else if (l->transport->conn_refuse &&
		   cm->n_refusing < CONNMGR_MAX_REFUSING) {
		cm->n_refusing++;
		ret = CONNMGR_REFUSING;
	} else {
		ret = CONNMGR_DROPPED;
	}
	pthread_mutex_unlock(&cm->limit_lock);
	if (err == -ENOMEM)
		return ret;
	remote_stats_limit(l->transport->name, why);
	connmgr_refuse_log(cm, peer, why);
	return ret;
}

void connmgr_limit_release(struct connmgr *cm,
			   const struct sockaddr_storage *addr, bool refusing)
{
	struct connmgr_addr_count **pp, *c;
	uint8_t key[16];

	pthread_mutex_lock(&cm->limit_lock);
	if (refusing) {
		cm->n_refusing--;
		pthread_mutex_unlock(&cm->limit_lock);
		return;
	}
	cm->n_admitted--;
	if (cm->cfg.max_conns_per_addr && connmgr_addr_key(addr, key)) {
		pp = connmgr_addr_slot(cm, key);
		c = *pp;
		if (c && --c->n == 0) {
			*pp = c->next;
			free(c);
		}
	}
	pthread_mutex_unlock(&cm->limit_lock);
}

void connmgr_limit_fini(struct connmgr *cm)
{
	for (unsigned int i = 0; i < CONNMGR_ADDR_BUCKETS; i++) {
		while (cm->addr_counts[i]) {
			struct connmgr_addr_count *c = cm->addr_counts[i];

			cm->addr_counts[i] = c->next;
			free(c);
		}
	}
}

/* The sweep ----------------------------------------------------------- */

static uint64_t connmgr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void connmgr_sweep_set(struct connmgr_worker *w, bool on)
{
	struct itimerspec its = { { on, 0 }, { on, 0 } };

	timerfd_settime(w->tick_fd, 0, &its, NULL);
}

static void connmgr_sweep_done(struct base_io *io, int result)
{
	struct connmgr_worker *w = io->data;
	struct connmgr_conn *conn, *next;
	uint64_t now = connmgr_now_ms();
	bool wanted = false;

	w->tick_busy = false;
	/* closed() of a connection ending now runs later (posted), so the
	 * next pointer stays valid. */
	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		if (conn->transport->conn_tick && conn->rc) {
			conn->transport->conn_tick(conn->rc, now);
			wanted = true;
		}
	}
	if (!wanted) {
		connmgr_sweep_set(w, false);
		return;
	}
	connmgr_sweep_start(w);
}

void connmgr_sweep_start(struct connmgr_worker *w)
{
	if (w->tick_busy || w->tick_fd < 0)
		return;
	connmgr_sweep_set(w, true);
	if (base_io_read(w->loop, &w->tick_io, w->tick_fd, &w->tick_buf,
			 sizeof(w->tick_buf), connmgr_sweep_done, w) == 0)
		w->tick_busy = true;
}

void connmgr_sweep_init(struct connmgr_worker *w)
{
	/* Blocking, like the drain timer: io_uring completes a read of a
	 * non-blocking timerfd with -EAGAIN at once. */
	w->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (w->tick_fd < 0)
		log_warn("worker %u: timerfd: %s; no connection deadlines",
			 w->index, strerror(errno));
}

void connmgr_sweep_fini(struct connmgr_worker *w)
{
	if (w->tick_fd >= 0)
		close(w->tick_fd);
	w->tick_fd = -1;
}
