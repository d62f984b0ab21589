/* SPDX-License-Identifier: MIT */
/*
 * iscsi_proto: the iSCSI target engine for one connection (RFC 7143,
 * error recovery level 0, one connection per session), a byte-in/byte-out
 * state machine like nbd_proto.h: the caller moves bytes between the
 * engine and a socket (iscsi_server.c) or a transcript (tests, fuzzers).
 *
 * The byte stream is the frame's (remote_engine.h), driven through
 * iscsi_proto_engine(): input lands in the frame's buffer, or in a
 * command's data buffer while a large Data-Out or immediate-data payload
 * arrives; Data-In goes out straight from the buffer the storage filled.
 *
 * SCSI commands go to the SCSI command set (src/scsi/scsi.h) through
 * struct iscsi_scsi_ops, so tests can put a stub under the transport;
 * iscsi_scsi_default_ops calls the real one.
 *
 * Threads: everything on one worker thread, the one of cfg->loop.
 */
#ifndef IOPD_ISCSI_PROTO_H
#define IOPD_ISCSI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <sys/socket.h>

#include "iopd/conn.h"
#include "iopd/iscsi.h"
#include "remote/remote_engine.h"
#include "scsi/scsi.h"

struct base_loop;
struct iscsi_proto;

struct iscsi_scsi_ops {
	int (*nexus_open)(const struct scsi_nexus_args *args,
			  struct scsi_nexus **nexusp);
	void (*nexus_close)(struct scsi_nexus *nexus);
	void (*cmd_submit)(struct scsi_nexus *nexus, struct scsi_cmd *cmd);
	/* scsi_nexus_tmf_async: 1 means done(arg, result) comes later. */
	int (*tmf)(struct scsi_nexus *nexus, enum scsi_tmf tmf, uint64_t lun,
		   scsi_tmf_done_fn *done, void *arg);
};

/* The real SCSI command set (defined in iscsi_server.c). */
extern const struct iscsi_scsi_ops iscsi_scsi_default_ops;

struct iscsi_proto_config {
	const struct iscsi_config *iscsi; /* NULL = defaults */
	const struct iscsi_scsi_ops *scsi;
	const struct conn_exports *exports;
	struct conn_limits limits;
	struct base_loop *loop;
	const char *peer; /* for logs */
	/* For the exports' allow lists; AF_UNSPEC when the peer has no
	 * address. */
	struct sockaddr_storage peer_addr;
	/* The address the connection came in on, "10.0.0.1:3260" or
	 * "[fe80::1]:3260": SendTargets' TargetAddress. */
	const char *portal;
	uint16_t tpg; /* target portal group tag; 0 = 1 */
	/* The Connection Manager's record of this connection; may be NULL.
	 * The engine keeps export (the lowest-numbered LUN's export of a
	 * normal session), requests (SCSI commands handed to the command
	 * set) and inflight; the caller counts bytes. */
	struct conn_stats *stats;
	/* The connection's id and the Connection Manager's control: a
	 * session reinstating this one (same InitiatorName, ISID, target
	 * and portal group) ends this connection through it.  NULL: the
	 * session takes no part in reinstatement (tests, fuzzers). */
	uint64_t conn_id;
	const struct conn_control *control;
	void (*tx_ready)(void *opaque);
	void *opaque;
	/* When the connection started (CLOCK_MONOTONIC ms), for the login
	 * deadline (limits.handshake_timeout_ms); 0: at the first tick. */
	uint64_t start_ms;
	/* The Connection Manager refused the client (a connection cap):
	 * answer its first Login "out of resources" and end. */
	bool refused;
};

/* Returns 0 or -ENOMEM. */
int iscsi_proto_create(const struct iscsi_proto_config *cfg,
		       struct iscsi_proto **protop);
/* Precondition: remote_engine_inflight() == 0. */
void iscsi_proto_destroy(struct iscsi_proto *proto);

/* The frame the caller drives: rx_buf, rx_done, rx_eof, tx_iov, tx_done,
 * inflight (commands handed to the SCSI command set and not yet done),
 * finished (nothing in flight, all output taken: close the connection)
 * and destroy. */
struct remote_engine *iscsi_proto_engine(struct iscsi_proto *proto);

/* Does the session have exp as one of its LUNs?  False before the
 * session starts (login holds no export) and for discovery sessions. */
bool iscsi_proto_uses(const struct iscsi_proto *proto,
		      const struct conn_export *exp);

/* A reload gave the transport icfg (not NULL) instead of the
 * configuration the engine was created with, which is freed after this
 * returns: use icfg from now on.  Returns false when the session would
 * not be admitted under it (its target gone, its initiator no longer
 * allowed, its LUNs changed or one became read-only; a login in progress
 * whose CHAP settings changed: then the engine has failed it already);
 * the caller ends the connection. */
bool iscsi_proto_reconfigure(struct iscsi_proto *proto,
			     const struct iscsi_config *icfg);

/*
 * Liveness and deadlines, called about once a second with a monotonic
 * clock: sends a NOP-In ping after nop_interval_s without input in full
 * feature phase, and returns -ETIMEDOUT (the caller disconnects) when
 * nop_timeout_s more pass without input; when the login has not
 * finished limits.handshake_timeout_ms after start_ms (whatever arrives
 * meanwhile); or when a PDU, or write data a command still waits for,
 * receives no byte for limits.payload_timeout_ms (not counting time the
 * engine itself paused reading).
 */
int iscsi_proto_tick(struct iscsi_proto *proto, uint64_t now_ms);
/* Nonzero: the engine wants a tick at this CLOCK_MONOTONIC millisecond
 * (a login held after failed CHAP logins from its address). */
uint64_t iscsi_proto_wake_ms(const struct iscsi_proto *proto);

#endif
