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

struct remote_proto_stats {
	uint64_t conns_open;  /* attached now */
	uint64_t conns_total; /* attached since start */
	uint64_t handshakes_ok;
	uint64_t handshakes_failed;
	uint64_t auth_failed;  /* wrong credentials (iSCSI CHAP) */
	uint64_t auth_delayed; /* checks held for the peer's failures */
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

/* Call fn for every protocol that had a connection, under the lock. */
void remote_stats_foreach(void (*fn)(void *opaque, const char *proto,
				     const struct remote_proto_stats *stats),
			  void *opaque);

#endif
