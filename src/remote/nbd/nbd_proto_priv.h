/* SPDX-License-Identifier: MIT */
/*
 * nbd_proto_priv: the engine's state, shared by its three files and
 * nobody else.
 *
 *   nbd_proto.c      the frame's ops (receive states, backpressure),
 *                    lifecycle
 *   nbd_handshake.c  fixed newstyle negotiation (client flags, options)
 *   nbd_cmd.c        transmission: requests, request slots, replies
 *
 * The receive buffer and the output queue are the frame's
 * (remote_engine.h).  Output entries are a block for negotiation replies
 * or a request slot's reply (NBD_TX_SLOT), which goes back to the free
 * list once it is all sent.
 */
#ifndef IOPD_NBD_PROTO_PRIV_H
#define IOPD_NBD_PROTO_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "iopd/conn.h"
#include "iopd/local.h"
#include "remote/nbd/nbd_proto.h"
#include "remote/nbd/nbd_wire.h"
#include "remote/remote_engine.h"

/* Receive buffer while negotiating; options larger than this grow it. */
#define NBD_RX_HANDSHAKE_BYTES (4u * 1024)
/* Receive buffer in transmission: absorbs many requests (and the payloads
 * of small writes) per read. */
#define NBD_RX_BUF_BYTES (64u * 1024)
/* Largest option payload parsed; proto.md strings are at most 4096 bytes,
 * so only a long list of meta context queries comes near. */
#define NBD_OPT_MAX_BYTES (64u * 1024)
/* Larger option payloads are skipped (NBD_REP_ERR_TOO_BIG) up to this
 * size; beyond it the client is taken for hostile and dropped. */
#define NBD_OPT_SKIP_MAX_BYTES (1024u * 1024)
/* Negotiation output not yet sent beyond which no more options are read
 * (a client that never reads its replies must not grow our memory). */
#define NBD_HS_TX_MAX_BYTES (256u * 1024)
/* A WRITE whose payload we refuse is read and dropped up to this size
 * (or the maximum request size, if larger); beyond it we disconnect.
 * proto.md: lengths below 2^25 SHOULD NOT be deemed a denial of service. */
#define NBD_WRITE_SKIP_MAX_BYTES (64u * 1024 * 1024)
/* Data buffers up to this size stay with their slot for reuse, as long
 * as the free slots of a connection keep at most NBD_SLOT_KEEP_TOTAL
 * bytes: what idle slots keep is outside the memory budget. */
#define NBD_SLOT_KEEP_BYTES (1024u * 1024)
#define NBD_SLOT_KEEP_TOTAL (8u * 1024 * 1024)
/* Alignment and rounding of data buffers (O_DIRECT). */
#define NBD_BUF_ALIGN 4096u
/* Our request size ceiling: an OFFSET_DATA chunk's 32-bit length must
 * hold the data plus its 8-byte offset. */
#define NBD_REQUEST_CAP_BYTES (1u << 31)
/* READs at least this large are sent from a mapping of the file when
 * the export allows it (iop_desc_ops.read_map; a file on a memory file
 * system) and the connection is a plaintext socket.  Measured with fio
 * (sequential, qd8, tmpfs): 16 KiB reads cost 10-40 % less CPU than
 * copying (1 MiB: 40 %); at 4 KiB the gain was smaller and throughput
 * mixed.  A
 * file that can't be mapped is sent by sendfile instead. */
#define NBD_MAP_MIN_BYTES (16u * 1024)
/* Extents asked of storage per BLOCK_STATUS reply. */
#define NBD_BS_MAX_EXTENTS 64u
/* The id we give base:allocation in NBD_OPT_SET_META_CONTEXT. */
#define NBD_META_ID_BASE_ALLOCATION 1u

enum nbd_phase {
	NBD_PHASE_CLIENT_FLAGS,
	NBD_PHASE_OPTIONS,
	NBD_PHASE_TRANSMISSION,
};

enum nbd_rx_state {
	NBD_RX_PARSE,	/* bytes go to the receive buffer and are parsed */
	NBD_RX_PAYLOAD, /* bytes go straight into rx_slot's data buffer */
	NBD_RX_DISCARD, /* bytes go to the receive buffer and are dropped */
};

struct nbd_proto;

/* remote_tx.kind of a request slot's reply (struct nbd_slot). */
#define NBD_TX_SLOT 1

enum nbd_slot_state {
	NBD_SLOT_FREE,
	NBD_SLOT_RX,	   /* header parsed, payload arriving or dropped */
	NBD_SLOT_INFLIGHT, /* submitted to storage */
	NBD_SLOT_TX,	   /* reply queued */
};

/* One request from header to the last byte of its reply. */
struct nbd_slot {
	struct remote_tx tx; /* the reply; first member */
	struct nbd_proto *proto;
	struct nbd_slot *next_free;
	struct nbd_slot *next_all;
	enum nbd_slot_state state;
	struct iop_msg *msg; /* iop_desc_ops.msg_size() bytes */
	struct nbd_request req;
	uint32_t error; /* NBD_E* for the reply; 0 = success */
	bool hole;	/* READ answered by one OFFSET_HOLE chunk */
	bool zero_copy; /* READ data goes from src_fd by sendfile */
	int src_fd;
	uint64_t src_off;
	/* Or it is here: the session's read-only mapping of src_fd
	 * (iop_desc_ops.read_map), valid until the session closes. */
	const uint8_t *mapped;
	uint32_t mem_bytes;  /* charged to the memory budget */
	uint32_t rx_got;     /* WRITE payload bytes received */
	unsigned char *data; /* NBD_BUF_ALIGN-aligned, data_cap bytes */
	size_t data_cap;
	uint32_t data_len; /* bytes of data in the reply (READ, BLOCK_STATUS) */
	struct iovec data_iov;
	struct iovec iov[2];
	unsigned char hdr[NBD_CHUNK_BYTES + NBD_CHUNK_HOLE_BYTES];
};

/* What the client learns about the export it picked (or asks about). */
struct nbd_export_view {
	uint64_t size_bytes;
	uint16_t tx_flags;
	uint32_t block_min, block_pref, block_max;
	uint32_t caps;
};

struct nbd_proto {
	struct remote_engine e; /* first: the frame */
	struct nbd_proto_config cfg;
	enum nbd_phase phase;

	/* Receive side (the buffer is the frame's). */
	enum nbd_rx_state rx_state;
	uint64_t discard_left;
	struct nbd_slot *rx_slot; /* PAYLOAD, or DISCARD of a request */
	uint32_t discard_opt;	  /* DISCARD of an option: reply to it */

	/* Deadlines (nbd_proto_tick). */
	uint64_t start_ms;	 /* the connection began */
	uint64_t quiet_since_ms; /* no input (nor anything in flight) */

	/* Negotiation state. */
	uint32_t client_flags;
	unsigned int n_options; /* received, against limits.max_options */
	bool structured;
	bool meta_set;	 /* base:allocation selected ... */
	char *meta_name; /* ... for this export (canonical name) */

	/* Transmission state. */
	const struct conn_export *export;
	struct iop_session *session;
	struct nbd_export_view view;
	struct nbd_slot *free_slots;
	struct nbd_slot *all_slots;
	unsigned int n_slots;
	unsigned int max_slots;
	size_t kept_bytes; /* data buffers of free slots */
};

static inline const char *nbd_peer(const struct nbd_proto *proto)
{
	return proto->e.peer;
}

/* Mark the stream broken, logging why once.  Returns err. */
#define nbd_proto_fail(proto, err, ...)                                        \
	remote_engine_fail(&(proto)->e, err, __VA_ARGS__)

/* nbd_proto.c */
uint32_t nbd_error_from_errno(int err);

/* nbd_handshake.c */
int nbd_hs_greeting(struct nbd_proto *proto);
/* Parse negotiation input in [rstart, rend).  Returns 0 (done, or needs
 * more input) or -errno (fatal). */
int nbd_hs_parse(struct nbd_proto *proto);
/* The option whose payload was skipped has been read: reply to it. */
int nbd_hs_discarded(struct nbd_proto *proto);

/* nbd_cmd.c */
int nbd_cmd_parse(struct nbd_proto *proto);
/* The WRITE payload in rx_slot is complete. */
void nbd_cmd_payload_done(struct nbd_proto *proto);
/* The refused WRITE payload of rx_slot was dropped: send its error. */
void nbd_cmd_discarded(struct nbd_proto *proto);
/* rx stopped while rx_slot was still receiving: give it back. */
void nbd_cmd_rx_abandon(struct nbd_proto *proto);
bool nbd_cmd_slot_available(const struct nbd_proto *proto);
void nbd_cmd_slot_release(struct nbd_slot *slot);
void nbd_cmd_slots_free(struct nbd_proto *proto);

#endif
