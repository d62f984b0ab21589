/* SPDX-License-Identifier: MIT */
/*
 * Per-protocol counters: connections (the Connection Manager counts them
 * as it attaches and closes them) and handshakes (each Remote Transport
 * reports how its negotiation ended).  These events are rare next to
 * requests, so one lock guards them all; request counters live with the
 * sessions (iopd/local_stats.h).
 */
#ifndef IOPD_REMOTE_STATS_H
#define IOPD_REMOTE_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* Why a limit ended a connection (doc/security.md). */
enum remote_limit {
	REMOTE_LIMIT_MAX_CONNS,		 /* refused: the global cap */
	REMOTE_LIMIT_MAX_CONNS_PER_ADDR, /* refused: its address's cap */
	REMOTE_LIMIT_HANDSHAKE_TIMEOUT,	 /* negotiation/login deadline */
	REMOTE_LIMIT_PAYLOAD_TIMEOUT,	 /* a request's data stalled */
	REMOTE_LIMIT_IDLE_TIMEOUT,	 /* idle in transmission */
	REMOTE_LIMIT_COUNT
};

struct remote_proto_stats {
	uint64_t conns_open;  /* attached now */
	uint64_t conns_total; /* attached since start */
	uint64_t handshakes_ok;
	uint64_t handshakes_failed;
	uint64_t auth_failed;  /* wrong credentials (iSCSI CHAP) */
	uint64_t auth_delayed; /* checks held for the peer's failures */
	/* Connections ended by a limit (enum remote_limit). */
	uint64_t limited[REMOTE_LIMIT_COUNT];
};

/* proto is the transport's name ("nbd"), a string that outlives iopd's
 * use of it (remote_transport_ops.name).  Any thread. */
void remote_stats_conn_open(const char *proto);
void remote_stats_conn_close(const char *proto);
/* ok: the client reached the data phase (NBD transmission, iSCSI full
 * feature phase); !ok: the transport rejected the negotiation (protocol
 * error, failed authentication). */
void remote_stats_handshake(const char *proto, bool ok);
/* An authentication failed; one was held back after earlier failures
 * from the same address. */
void remote_stats_auth_failed(const char *proto);
void remote_stats_auth_delayed(const char *proto);
/* A limit refused or ended one connection of proto. */
void remote_stats_limit(const char *proto, enum remote_limit what);

/* Call fn for every protocol that had a connection, under the lock. */
void remote_stats_foreach(void (*fn)(void *opaque, const char *proto,
				     const struct remote_proto_stats *stats),
			  void *opaque);

/*
 * The memory budget for buffered request data (READ data waiting to be
 * sent, WRITE payloads), shared by every connection of every protocol
 * (remote_engine.h has the per-connection side).  Set it before clients
 * are served: bytes, or 0 for the default, an eighth of physical memory
 * within [REMOTE_MEM_BUDGET_MIN, REMOTE_MEM_BUDGET_MAX].  Any thread.
 */
#define REMOTE_MEM_BUDGET_MIN (256ull * 1024 * 1024)
#define REMOTE_MEM_BUDGET_MAX (4ull * 1024 * 1024 * 1024 - 1)
void remote_mem_budget_set(uint64_t bytes);

struct remote_mem_stats {
	uint64_t budget_bytes;
	uint64_t held_bytes; /* charged now, all connections */
	uint64_t pauses;     /* times a connection stopped reading for it */
};
void remote_mem_stats_get(struct remote_mem_stats *stats);

#endif
