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

#endif
