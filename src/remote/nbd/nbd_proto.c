// SPDX-License-Identifier: MIT
/*
 * nbd_proto: what the NBD engine gives the frame (remote_engine.h): the
 * receive states (parse, a WRITE payload received in place, a refused
 * payload dropped), backpressure, where each reply goes once sent, and
 * the engine's lifecycle.  The parsers are nbd_handshake.c (negotiation)
 * and nbd_cmd.c (transmission).  It never touches a socket and never
 * blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iopd/remote_stats.h"
#include "remote/nbd/nbd_proto_priv.h"

static struct nbd_proto *nbd_of(struct remote_engine *e)
{
	return (struct nbd_proto *)e;
}

static const struct nbd_proto *nbd_of_const(const struct remote_engine *e)
{
	return (const struct nbd_proto *)e;
}

/*
 * The one place where an errno becomes an NBD error value.  proto.md
 * restricts the wire to a fixed set and says EDQUOT and EFBIG SHOULD map to
 * NBD_ENOSPC; anything without an equivalent is an I/O error.
 */
uint32_t nbd_error_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return 0;
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case EIO:
		return NBD_EIO;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
	case EOPNOTSUPP:
#endif
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

static void nbd_tx_release(struct remote_engine *e, struct remote_tx *tx)
{
	nbd_cmd_slot_release((struct nbd_slot *)tx);
}

/* ---- receive side ---- */

/* Stop reading because of backpressure: no slot for the next request, or
 * the client is not reading its negotiation replies. */
static bool nbd_rx_paused(const struct remote_engine *e)
{
	const struct nbd_proto *proto = nbd_of_const(e);

	if (proto->rx_state != NBD_RX_PARSE)
		return false;
	if (proto->phase == NBD_PHASE_TRANSMISSION)
		return !nbd_cmd_slot_available(proto);
	return e->tx_block_bytes > NBD_HS_TX_MAX_BYTES;
}

/* A refused payload is being dropped: take what is buffered of it. */
static int nbd_rx_discard(struct nbd_proto *proto)
{
	size_t take = proto->e.rend - proto->e.rstart;
	int ret = 0;

	if (take > proto->discard_left)
		take = (size_t)proto->discard_left;
	proto->e.rstart += take;
	proto->discard_left -= take;
	if (proto->discard_left > 0)
		return 0;
	proto->rx_state = NBD_RX_PARSE;
	if (proto->phase == NBD_PHASE_TRANSMISSION)
		nbd_cmd_discarded(proto);
	else
		ret = nbd_hs_discarded(proto);
	return ret < 0 ? ret : 1;
}

static int nbd_rx_step(struct remote_engine *e)
{
	struct nbd_proto *proto = nbd_of(e);

	if (proto->rx_state == NBD_RX_DISCARD)
		return nbd_rx_discard(proto);
	if (proto->rx_state != NBD_RX_PARSE)
		return 0;
	if (proto->phase == NBD_PHASE_TRANSMISSION)
		return nbd_cmd_parse(proto);
	return nbd_hs_parse(proto);
}

/* A WRITE payload goes straight into its slot's data buffer. */
static bool nbd_rx_direct(struct remote_engine *e, void **buf, size_t *len)
{
	struct nbd_proto *proto = nbd_of(e);
	struct nbd_slot *slot = proto->rx_slot;

	if (proto->rx_state != NBD_RX_PAYLOAD)
		return false;
	*buf = slot->data + slot->rx_got;
	*len = slot->req.length - slot->rx_got;
	return true;
}

static void nbd_rx_direct_done(struct remote_engine *e, size_t n)
{
	struct nbd_proto *proto = nbd_of(e);
	struct nbd_slot *slot = proto->rx_slot;
	size_t left = slot->req.length - slot->rx_got;

	slot->rx_got += (uint32_t)(n < left ? n : left);
	if (slot->rx_got == slot->req.length)
		nbd_cmd_payload_done(proto);
}

static void nbd_rx_eof(struct remote_engine *e, bool was_open)
{
	struct nbd_proto *proto = nbd_of(e);

	if (was_open && proto->rx_slot)
		nbd_cmd_rx_abandon(proto);
}

static void nbd_engine_destroy(struct remote_engine *e)
{
	nbd_proto_destroy(nbd_of(e));
}

static const struct remote_engine_ops nbd_engine_ops = {
	.name = "nbd",
	.rx_step = nbd_rx_step,
	.rx_paused = nbd_rx_paused,
	.rx_direct = nbd_rx_direct,
	.rx_direct_done = nbd_rx_direct_done,
	.rx_eof = nbd_rx_eof,
	.tx_release = nbd_tx_release,
	.destroy = nbd_engine_destroy,
};

/* ---- lifecycle ---- */

int nbd_proto_create(const struct nbd_proto_config *cfg,
		     struct nbd_proto **protop)
{
	struct nbd_proto *proto = calloc(1, sizeof(*proto));
	int ret;

	if (!proto)
		return -ENOMEM;
	proto->cfg = *cfg;
	proto->start_ms = cfg->start_ms;
	if (proto->cfg.limits.max_request_bytes == 0)
		proto->cfg.limits.max_request_bytes =
			CONN_DEFAULT_MAX_REQUEST_BYTES;
	if (proto->cfg.limits.max_request_bytes > NBD_REQUEST_CAP_BYTES)
		proto->cfg.limits.max_request_bytes = NBD_REQUEST_CAP_BYTES;
	proto->max_slots = proto->cfg.limits.max_inflight
				   ? proto->cfg.limits.max_inflight
				   : CONN_DEFAULT_MAX_INFLIGHT;
	ret = remote_engine_init(&proto->e, &nbd_engine_ops, cfg->peer,
				 NBD_RX_HANDSHAKE_BYTES);
	if (ret < 0)
		goto err_free_proto;
	proto->e.tx_ready = cfg->tx_ready;
	proto->e.opaque = cfg->opaque;
	proto->e.loop = cfg->loop;
	proto->e.stats = cfg->stats;
	proto->e.mem_budget = cfg->limits.buffer_budget_bytes;
	/* No tx_ready for the greeting: the caller has not even got the
	 * engine pointer yet. */
	proto->e.depth = 1;
	ret = nbd_hs_greeting(proto);
	proto->e.depth = 0;
	proto->e.kick = false;
	if (ret < 0)
		goto err_fini;
	*protop = proto;
	return 0;

err_fini:
	remote_engine_fini(&proto->e);
err_free_proto:
	free(proto);
	return ret;
}

void nbd_proto_destroy(struct nbd_proto *proto)
{
	if (!proto)
		return;
	/* A negotiation the engine gave up on (a client that merely
	 * listed exports or hung up is not a failure). */
	if (proto->phase != NBD_PHASE_TRANSMISSION && proto->e.failed)
		remote_stats_handshake("nbd", false);
	remote_engine_fini(&proto->e);
	nbd_cmd_slots_free(proto);
	if (proto->session)
		proto->export->desc->ops->session_close(proto->session);
	free(proto->meta_name);
	free(proto);
}

struct remote_engine *nbd_proto_engine(struct nbd_proto *proto)
{
	return &proto->e;
}

struct nbd_proto *nbd_proto_of_engine(struct remote_engine *e)
{
	return nbd_of(e);
}

/* ---- deadlines ---- */

/* elapsed_ms of limit_ms (0: none) passed: fail the engine. */
static int nbd_deadline(struct nbd_proto *proto, unsigned int limit_ms,
			uint64_t elapsed_ms, enum remote_limit what,
			const char *why)
{
	if (limit_ms == 0 || elapsed_ms < limit_ms)
		return 0;
	remote_stats_limit("nbd", what);
	return nbd_proto_fail(proto, -ETIMEDOUT, "%s after %u s", why,
			      limit_ms / 1000);
}

int nbd_proto_tick(struct nbd_proto *proto, uint64_t now_ms)
{
	const struct conn_limits *lim = &proto->cfg.limits;
	struct remote_engine *e = &proto->e;
	/* A request is half received: its header (part of one is
	 * buffered) or its payload (in place, or being dropped). */
	bool midway = proto->rx_state != NBD_RX_PARSE || e->rend > e->rstart;
	bool quiet = !e->rx_activity && e->inflight == 0 && !nbd_rx_paused(e);

	if (e->rx_closed || e->failed)
		return 0;
	e->rx_activity = false;
	if (!proto->start_ms)
		proto->start_ms = now_ms;
	if (!quiet || !proto->quiet_since_ms)
		proto->quiet_since_ms = now_ms;
	if (proto->phase != NBD_PHASE_TRANSMISSION)
		return nbd_deadline(proto, lim->handshake_timeout_ms,
				    now_ms - proto->start_ms,
				    REMOTE_LIMIT_HANDSHAKE_TIMEOUT,
				    "negotiation not finished");
	if (midway)
		return nbd_deadline(proto, lim->payload_timeout_ms,
				    now_ms - proto->quiet_since_ms,
				    REMOTE_LIMIT_PAYLOAD_TIMEOUT,
				    "request stalled half way");
	return nbd_deadline(proto, lim->idle_timeout_ms,
			    now_ms - proto->quiet_since_ms,
			    REMOTE_LIMIT_IDLE_TIMEOUT, "idle");
}
