/* SPDX-License-Identifier: MIT */
/*
 * The seam between the Connection Manager and the Remote Transports: the
 * named exports a protocol may offer, and the limits it must apply.  The
 * Connection Manager owns the exports; a Remote Transport only reads them
 * through struct conn_exports and reaches storage through each export's
 * IOP descriptor (iopd/local.h).
 */
#ifndef IOPD_CONN_H
#define IOPD_CONN_H

#include <stdbool.h>
#include <stdint.h>

struct base_acl;
struct iop_desc;

/* struct conn_export.protocols: the Remote Transports that may serve an
 * export (remote_export_access). */
#define CONN_PROTO_NBD	 (1u << 0)
#define CONN_PROTO_ISCSI (1u << 1)
#define CONN_PROTO_ALL	 (CONN_PROTO_NBD | CONN_PROTO_ISCSI)
/*
 * Who may use an export over TLS (the NBD STARTTLS checks).  An allow list
 * implies tls_required: only a TLS session can prove an identity.  A
 * client passes when no list is set, or when its verified certificate's
 * DN is on tls_dn_allow or its PSK identity is on tls_psk_allow.
 */
struct conn_tls_policy {
	bool required;		      /* never in plaintext */
	const char *const *dn_allow;  /* NULL-terminated; NULL: no list */
	const char *const *psk_allow; /* NULL-terminated; NULL: no list */
};

struct conn_export {
	const char *name;	 /* never NULL; unique */
	const char *description; /* may be NULL */
	struct iop_desc *desc;	 /* the IOP the device belongs to */
	unsigned int dev_index;	 /* the device within that IOP */
	bool read_only;		 /* the operator exported it read-only */
	/* Who may open a session on it (remote_export_access): the
	 * CONN_PROTO_ bits of the transports that may serve it, and the
	 * client addresses allowed (NULL: every address).  Replaced while
	 * iopd runs, with every worker paused between two callbacks: read
	 * them in the callback that looked the export up, like the
	 * description. */
	unsigned int protocols;
	const struct base_acl *acl;
	struct conn_tls_policy tls;
};

/*
 * A read-only view of the export table, which the management channel may
 * change while iopd runs.  Safe to call from any worker thread.  A pointer
 * returned stays valid until the calling callback returns and, once the
 * transport has stored it in conn_stats.export, while that session is
 * open: an export being removed first drains the connections using it.
 * Its description may be replaced while iopd runs (a reload): read it in
 * the callback that looked the export up, do not keep the pointer.
 */
struct conn_exports {
	/* name "" finds the default export.  NULL if there is none. */
	const struct conn_export *(*find)(void *opaque, const char *name);
	unsigned int (*count)(void *opaque);
	const struct conn_export *(*at)(void *opaque, unsigned int i);
	void *opaque;
	/* The operator hides the list of exports from clients (NBD_OPT_LIST
	 * is refused); names still work.  Changed like conn_export.acl. */
	bool list_hidden;
};

/*
 * What a Remote Transport may ask of the Connection Manager about a
 * connection other than its own, named by its id (remote_conn_args.id):
 * iSCSI session reinstatement ends the old session's connection.
 */
struct conn_control {
	/* End connection id as conn_abort does (its unsent replies are
	 * dropped; storage requests in flight complete first), on
	 * whichever worker it lives.  Asynchronous: returns at once, before
	 * the connection has closed; nothing happens if it is gone or iopd
	 * is stopping.  Any worker thread. */
	void (*abort)(void *opaque, uint64_t id);
	void *opaque;
};

/*
 * What one connection is doing, for the management channel: the Connection
 * Manager owns it, the Remote Transport updates it.  Only the connection's
 * worker thread reads or writes it (the Connection Manager reads it from a
 * callback posted to that worker), so it needs no atomics.
 */
struct conn_stats {
	/* The export a session is open on, set in the same callback that
	 * found it; NULL before (handshake).  The Connection Manager relies
	 * on it to drain the clients of an export being removed. */
	const struct conn_export *export;
	uint64_t bytes_in;  /* received from the peer */
	uint64_t bytes_out; /* sent to the peer */
	uint64_t requests;  /* storage requests submitted */
	unsigned int inflight;
	/* Bytes of request buffers held for the connection (READ data not
	 * yet sent, WRITE payloads): its share of the memory budget. */
	uint64_t buffered_bytes;
};

/* Per-connection limits chosen by the operator (doc/security.md,
 * "Connection limits and timeouts").  Deadlines are in ms, 0: none. */
struct conn_limits {
	uint32_t max_request_bytes; /* largest READ/WRITE payload; 32 MiB
				       default */
	unsigned int max_inflight;  /* request slots per connection */
	/* The whole negotiation (NBD newstyle options, iSCSI login),
	 * from the connection's start: it does not restart per byte. */
	unsigned int handshake_timeout_ms;
	/* A request whose header arrived but whose payload (or the rest
	 * of whose header) receives no byte for this long. */
	unsigned int payload_timeout_ms;
	/* NBD transmission: no request in flight and no byte received for
	 * this long. */
	unsigned int idle_timeout_ms;
	/* NBD options one connection may send; 0: no limit. */
	unsigned int max_options;
	/* Request buffers one connection may hold before it stops reading
	 * requests (remote_engine_mem_wait); 0: no limit. */
	uint64_t buffer_budget_bytes;
};

#define CONN_DEFAULT_MAX_REQUEST_BYTES (32u * 1024 * 1024)
#define CONN_DEFAULT_MAX_INFLIGHT      128u
/* The operator's defaults (mgmt_schema.c); see doc/security.md for why. */
#define CONN_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define CONN_DEFAULT_PAYLOAD_TIMEOUT_MS	  30000u
#define CONN_DEFAULT_MAX_OPTIONS	  256u
#define CONN_DEFAULT_MAX_CONNS		  1024u
#define CONN_DEFAULT_MAX_CONNS_PER_ADDR	  64u
#define CONN_DEFAULT_BUFFER_BUDGET_BYTES  (64u * 1024 * 1024)

#endif
