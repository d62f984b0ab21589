// SPDX-License-Identifier: MIT
/*
 * nbd_cmd: the transmission phase.  Parses request headers, validates
 * them (so that each error is the one proto.md asks for and the stream
 * stays in step even for refused WRITEs), turns them into iop_msg frames
 * for the export's IOP descriptor, and builds simple or structured replies
 * when storage completes.
 *
 * Each request lives in a request slot from its header to the last byte
 * of its reply; slots are allocated on first use, up to
 * limits.max_inflight, and then recycled.  Storage may complete inside
 * submit (RAM, null): the completion only queues the reply, so the parser
 * never sees a slot change under it.
 *
 * Supported: READ (DF; sparse reads as one OFFSET_HOLE chunk), WRITE,
 * DISC, FLUSH, TRIM, CACHE, WRITE_ZEROES (NO_HOLE, FAST_ZERO),
 * BLOCK_STATUS (base:allocation, REQ_ONE); FUA on everything once
 * advertised.  Not supported: RESIZE and extended headers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_assert.h"
#include "base/base_log.h"
#include "remote/nbd/nbd_proto_priv.h"

bool nbd_cmd_slot_available(const struct nbd_proto *proto)
{
	return proto->free_slots || proto->n_slots < proto->max_slots;
}

static struct nbd_slot *nbd_slot_get(struct nbd_proto *proto)
{
	const struct iop_desc_ops *ops = proto->export->desc->ops;
	struct nbd_slot *slot = proto->free_slots;
	size_t msg_size;

	if (slot) {
		proto->free_slots = slot->next_free;
		proto->kept_bytes -= slot->data_cap;
	} else {
		slot = calloc(1, sizeof(*slot));
		if (!slot)
			return NULL;
		msg_size = ops->msg_size(proto->session);
		if (msg_size < sizeof(struct iop_msg))
			msg_size = sizeof(struct iop_msg);
		slot->msg = calloc(1, msg_size);
		if (!slot->msg) {
			free(slot);
			return NULL;
		}
		ops->msg_init(proto->session, slot->msg);
		slot->proto = proto;
		slot->tx.kind = NBD_TX_SLOT;
		slot->next_all = proto->all_slots;
		proto->all_slots = slot;
		proto->n_slots++;
	}
	slot->next_free = NULL;
	slot->state = NBD_SLOT_RX;
	slot->error = 0;
	slot->hole = false;
	slot->zero_copy = false;
	slot->mapped = NULL;
	slot->tx.has_file = false;
	slot->rx_got = 0;
	slot->data_len = 0;
	return slot;
}

/* The slot's buffer holds no reply data any more (or never got any). */
static void nbd_slot_uncharge(struct nbd_slot *slot)
{
	remote_engine_mem_put(&slot->proto->e, slot->mem_bytes);
	slot->mem_bytes = 0;
}

void nbd_cmd_slot_release(struct nbd_slot *slot)
{
	struct nbd_proto *proto = slot->proto;

	nbd_slot_uncharge(slot);
	if (slot->data_cap > NBD_SLOT_KEEP_BYTES ||
	    proto->kept_bytes + slot->data_cap > NBD_SLOT_KEEP_TOTAL) {
		free(slot->data);
		slot->data = NULL;
		slot->data_cap = 0;
	}
	proto->kept_bytes += slot->data_cap;
	slot->state = NBD_SLOT_FREE;
	slot->next_free = proto->free_slots;
	proto->free_slots = slot;
}

void nbd_cmd_slots_free(struct nbd_proto *proto)
{
	struct nbd_slot *slot, *next;

	for (slot = proto->all_slots; slot; slot = next) {
		next = slot->next_all;
		free(slot->msg);
		free(slot->data);
		free(slot);
	}
	proto->all_slots = NULL;
	proto->free_slots = NULL;
	proto->n_slots = 0;
	proto->kept_bytes = 0;
}

/* Make the slot's data buffer hold len bytes: aligned and rounded for
 * O_DIRECT.  Returns 0 or -ENOMEM. */
static int nbd_slot_data(struct nbd_slot *slot, size_t len)
{
	size_t size = (len + NBD_BUF_ALIGN - 1) & ~(size_t)(NBD_BUF_ALIGN - 1);
	void *p;

	if (slot->data_cap >= len && slot->data)
		return 0;
	free(slot->data);
	slot->data = NULL;
	slot->data_cap = 0;
	if (size == 0)
		size = NBD_BUF_ALIGN;
	if (posix_memalign(&p, NBD_BUF_ALIGN, size) != 0)
		return -ENOMEM;
	slot->data = p;
	slot->data_cap = size;
	return 0;
}

static unsigned char *nbd_chunk(unsigned char *p, uint16_t type,
				uint64_t handle, uint32_t length)
{
	p = base_be32_put(p, NBD_STRUCTURED_REPLY_MAGIC);
	p = base_be16_put(p, NBD_REPLY_FLAG_DONE);
	p = base_be16_put(p, type);
	p = base_be64_put(p, handle);
	return base_be32_put(p, length);
}

/*
 * Queue the reply for slot.  Every reply is a single message or a single
 * chunk flagged DONE.  proto.md: with structured replies a READ MUST NOT
 * get a simple reply; other commands get NBD_REPLY_TYPE_NONE.  Without
 * them, a failed READ's simple reply carries no payload.
 */
static void nbd_cmd_reply(struct nbd_slot *slot, uint32_t error)
{
	struct nbd_proto *proto = slot->proto;
	const struct nbd_request *req = &slot->req;
	unsigned char *h = slot->hdr, *p;
	bool read_data = req->type == NBD_CMD_READ && req->length > 0;
	size_t hlen;
	int n = 1;

	slot->error = error;
	if (error || slot->hole || slot->zero_copy)
		nbd_slot_uncharge(slot);
	if (!proto->structured) {
		p = base_be32_put(h, NBD_SIMPLE_REPLY_MAGIC);
		p = base_be32_put(p, error);
		base_be64_put(p, req->handle);
		hlen = NBD_SIMPLE_REPLY_BYTES;
		if (!error && read_data)
			slot->data_len = req->length;
	} else if (error) {
		p = nbd_chunk(h, NBD_REPLY_TYPE_ERROR, req->handle,
			      NBD_CHUNK_ERROR_BYTES);
		p = base_be32_put(p, error);
		base_be16_put(p, 0);
		hlen = NBD_CHUNK_BYTES + NBD_CHUNK_ERROR_BYTES;
	} else if (read_data && slot->hole) {
		p = nbd_chunk(h, NBD_REPLY_TYPE_OFFSET_HOLE, req->handle,
			      NBD_CHUNK_HOLE_BYTES);
		p = base_be64_put(p, req->offset);
		base_be32_put(p, req->length);
		hlen = NBD_CHUNK_BYTES + NBD_CHUNK_HOLE_BYTES;
	} else if (read_data) {
		p = nbd_chunk(h, NBD_REPLY_TYPE_OFFSET_DATA, req->handle,
			      8 + req->length);
		base_be64_put(p, req->offset);
		hlen = NBD_CHUNK_BYTES + 8;
		slot->data_len = req->length;
	} else if (req->type == NBD_CMD_BLOCK_STATUS) {
		nbd_chunk(h, NBD_REPLY_TYPE_BLOCK_STATUS, req->handle,
			  slot->data_len);
		hlen = NBD_CHUNK_BYTES;
	} else {
		nbd_chunk(h, NBD_REPLY_TYPE_NONE, req->handle, 0);
		hlen = NBD_CHUNK_BYTES;
	}
	slot->iov[0].iov_base = h;
	slot->iov[0].iov_len = hlen;
	if (!error && slot->data_len > 0) {
		slot->iov[1].iov_base = slot->zero_copy ? NULL : slot->data;
		slot->iov[1].iov_len = slot->data_len;
		n = 2;
		if (slot->mapped) {
			slot->iov[1].iov_base = (void *)slot->mapped;
		} else if (slot->zero_copy) {
			slot->tx.has_file = true;
			slot->tx.file_iov = 1;
			slot->tx.file_fd = slot->src_fd;
			slot->tx.file_off = slot->src_off;
		}
	}
	slot->tx.iov = slot->iov;
	slot->tx.iovcnt = n;
	slot->state = NBD_SLOT_TX;
	remote_engine_tx_push(&proto->e, &slot->tx);
}

static void nbd_cmd_done(struct iop_msg *msg, int result)
{
	struct nbd_slot *slot = msg->cookie;
	struct nbd_proto *proto = slot->proto;

	/* done runs exactly once (iopd/local.h). */
	if (IOPD_NEVER(slot->state != NBD_SLOT_INFLIGHT))
		return;
	proto->e.inflight--;
	if (proto->cfg.stats)
		proto->cfg.stats->inflight--;
	if (result < 0)
		log_debug("%s: request type %u at %llu+%u: %s", nbd_peer(proto),
			  slot->req.type, (unsigned long long)slot->req.offset,
			  slot->req.length, strerror(-result));
	nbd_cmd_reply(slot, result < 0 ? nbd_error_from_errno(result) : 0);
}

static void nbd_cmd_submit(struct nbd_proto *proto, struct nbd_slot *slot,
			   enum ddm_op op, uint32_t flags)
{
	struct iop_msg *msg = slot->msg;

	msg->op = op;
	msg->flags = flags;
	msg->offset = op == DDM_OP_FLUSH ? 0 : slot->req.offset;
	msg->len = op == DDM_OP_FLUSH ? 0 : slot->req.length;
	if (op == DDM_OP_READ || op == DDM_OP_WRITE) {
		slot->data_iov.iov_base = slot->data;
		slot->data_iov.iov_len = slot->req.length;
		msg->iov = &slot->data_iov;
		msg->iovcnt = 1;
	} else {
		msg->iov = NULL;
		msg->iovcnt = 0;
	}
	msg->loop = proto->cfg.loop;
	msg->done = nbd_cmd_done;
	msg->cookie = slot;
	slot->state = NBD_SLOT_INFLIGHT;
	proto->e.inflight++;
	if (proto->cfg.stats) {
		proto->cfg.stats->inflight++;
		proto->cfg.stats->requests++;
	}
	proto->export->desc->ops->submit(proto->session, msg);
}

/* proto.md: the command must be known and its flags allowed for it and
 * negotiated.  *writes: it writes.  Returns 0 or NBD_EINVAL. */
static uint32_t nbd_cmd_check_flags(const struct nbd_export_view *v,
				    const struct nbd_request *req, bool *writes)
{
	uint16_t allowed = 0;

	*writes = false;
	switch (req->type) {
	case NBD_CMD_READ:
		allowed = NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
		*writes = true;
		break;
	case NBD_CMD_WRITE_ZEROES:
		allowed = NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
		*writes = true;
		break;
	case NBD_CMD_FLUSH:
	case NBD_CMD_CACHE:
		break;
	case NBD_CMD_BLOCK_STATUS:
		allowed = NBD_CMD_FLAG_REQ_ONE;
		break;
	default:
		/* proto.md: SHOULD return NBD_EINVAL for an unknown command. */
		return NBD_EINVAL;
	}
	/* proto.md: FUA "is valid for all commands, provided
	 * NBD_FLAG_SEND_FUA has been negotiated"; DF and FAST_ZERO only if
	 * advertised; any other flag SHOULD get NBD_EINVAL. */
	if (v->tx_flags & NBD_FLAG_SEND_FUA)
		allowed |= NBD_CMD_FLAG_FUA;
	if (!(v->tx_flags & NBD_FLAG_SEND_DF))
		allowed &= (uint16_t)~NBD_CMD_FLAG_DF;
	if (!(v->tx_flags & NBD_FLAG_SEND_FAST_ZERO))
		allowed &= (uint16_t)~NBD_CMD_FLAG_FAST_ZERO;
	return req->flags & ~allowed ? NBD_EINVAL : 0;
}

/* What each command asks of its own: negotiated, and its offset and
 * length within what it may carry.  Returns 0 or NBD_EINVAL. */
static uint32_t nbd_cmd_check_type(const struct nbd_proto *proto,
				   const struct nbd_request *req)
{
	const struct nbd_export_view *v = &proto->view;

	switch (req->type) {
	case NBD_CMD_FLUSH:
		/* proto.md: offset and length MUST be zero. */
		return req->offset || req->length ? NBD_EINVAL : 0;
	case NBD_CMD_TRIM:
		if (!(v->tx_flags & NBD_FLAG_SEND_TRIM))
			return NBD_EINVAL;
		break;
	case NBD_CMD_WRITE_ZEROES:
		if (!(v->tx_flags & NBD_FLAG_SEND_WRITE_ZEROES))
			return NBD_EINVAL;
		break;
	case NBD_CMD_BLOCK_STATUS:
		/* proto.md: SHOULD be NBD_EINVAL without a selected
		 * context; a zero length cannot be answered with the
		 * nonzero descriptor the reply needs. */
		if (!proto->meta_set || req->length == 0)
			return NBD_EINVAL;
		break;
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
		/* proto.md: SHOULD be NBD_EINVAL beyond the advertised
		 * maximum block size. */
		if (req->length > v->block_max)
			return NBD_EINVAL;
		break;
	}
	return 0;
}

/* The range: within the export and aligned.  Returns 0 or the error. */
static uint32_t nbd_cmd_check_range(const struct nbd_export_view *v,
				    const struct nbd_request *req)
{
	/* proto.md: NBD_ENOSPC for writes (and write zeroes) beyond the
	 * end, NBD_EINVAL for reads, trims and block status. */
	if (req->offset > v->size_bytes ||
	    req->length > v->size_bytes - req->offset)
		return req->type == NBD_CMD_WRITE ||
				       req->type == NBD_CMD_WRITE_ZEROES
			       ? NBD_ENOSPC
			       : NBD_EINVAL;
	/* proto.md: SHOULD be NBD_EINVAL if not aligned to the minimum
	 * block size.  Block status replies are clipped instead. */
	if (v->block_min > 1 && req->type != NBD_CMD_BLOCK_STATUS &&
	    ((req->offset | req->length) & (v->block_min - 1)))
		return NBD_EINVAL;
	return 0;
}

/* Everything proto.md asks the server to check before doing the work,
 * in the order that decides which error a request gets.  Returns 0 or
 * the NBD error to reply with. */
static uint32_t nbd_cmd_validate(const struct nbd_proto *proto,
				 const struct nbd_request *req)
{
	bool writes;
	uint32_t err = nbd_cmd_check_flags(&proto->view, req, &writes);

	if (err)
		return err;
	/* proto.md: SHOULD return NBD_EPERM for a write, trim or write
	 * zeroes on a read-only export. */
	if (writes && (proto->view.tx_flags & NBD_FLAG_READ_ONLY))
		return NBD_EPERM;
	err = nbd_cmd_check_type(proto, req);
	if (err)
		return err;
	return nbd_cmd_check_range(&proto->view, req);
}

/* A read of an all-zero range (on a device that knows its holes cheaply)
 * is answered with one OFFSET_HOLE chunk, without reading storage.  Only
 * where extents come from memory: the file DDM's lseek(SEEK_DATA) costs
 * more than the read it would save (measured: ~0.5 ms on tmpfs). */
static bool nbd_cmd_read_is_hole(struct nbd_proto *proto,
				 const struct nbd_request *req)
{
	struct ddm_extent ext[8];
	unsigned int n = 8;
	uint64_t covered = 0;

	if (!(proto->view.caps & DDM_CAP_EXTENTS_CHEAP))
		return false;
	if (proto->export->desc->ops->extents(proto->session, req->offset,
					      req->length, ext, &n) < 0)
		return false;
	for (unsigned int i = 0; i < n && i < 8 && covered < req->length; i++) {
		if (ext[i].len == 0 || !(ext[i].flags & DDM_EXTENT_ZERO))
			return false;
		covered += ext[i].len;
	}
	return covered >= req->length;
}

/*
 * proto.md NBD_REPLY_TYPE_BLOCK_STATUS: one chunk per selected context,
 * descriptors with nonzero 32-bit lengths, exactly one with REQ_ONE and
 * then not longer than the request.  We never go past the request.
 */
static void nbd_cmd_block_status(struct nbd_proto *proto, struct nbd_slot *slot)
{
	const struct nbd_request *req = &slot->req;
	struct ddm_extent ext[NBD_BS_MAX_EXTENTS];
	unsigned int n =
		req->flags & NBD_CMD_FLAG_REQ_ONE ? 1 : NBD_BS_MAX_EXTENTS;
	uint32_t left = req->length, count = 0, prev = 0;
	unsigned char *p, *last = NULL;
	int ret;

	ret = proto->export->desc->ops->extents(proto->session, req->offset,
						req->length, ext, &n);
	if (ret < 0) {
		nbd_cmd_reply(slot, nbd_error_from_errno(ret));
		return;
	}
	if (nbd_slot_data(slot, 4 + NBD_BLOCK_DESCRIPTOR_BYTES *
						NBD_BS_MAX_EXTENTS) < 0) {
		nbd_cmd_reply(slot, NBD_ENOMEM);
		return;
	}
	p = base_be32_put(slot->data, NBD_META_ID_BASE_ALLOCATION);
	for (unsigned int i = 0; i < n && i < NBD_BS_MAX_EXTENTS && left > 0;
	     i++) {
		uint32_t len = ext[i].len < left ? (uint32_t)ext[i].len : left;
		uint32_t flags = 0;

		if (len == 0)
			break;
		if (ext[i].flags & DDM_EXTENT_HOLE)
			flags |= NBD_STATE_HOLE;
		if (ext[i].flags & DDM_EXTENT_ZERO)
			flags |= NBD_STATE_ZERO;
		/* proto.md: SHOULD use different status values between
		 * consecutive descriptors. */
		if (last && flags == prev) {
			base_be32_put(last, base_be32_get(last) + len);
		} else {
			last = p;
			p = base_be32_put(base_be32_put(p, len), flags);
			count++;
		}
		prev = flags;
		left -= len;
	}
	if (count == 0) {
		nbd_cmd_reply(slot, NBD_EIO);
		return;
	}
	slot->data_len = 4 + NBD_BLOCK_DESCRIPTOR_BYTES * count;
	nbd_cmd_reply(slot, 0);
}

/* A validated request other than WRITE. */
/* A READ the export lets us send straight from its file: reply at once
 * with a pointer into the session's mapping of the file (only the
 * socket write reads it), or, if the file could not be mapped, with the
 * data following by sendfile.  Returns false to read it the usual
 * way. */
static bool nbd_cmd_read_zero_copy(struct nbd_proto *proto,
				   struct nbd_slot *slot)
{
	const struct iop_desc_ops *ops = proto->export->desc->ops;
	const struct nbd_request *req = &slot->req;
	int ret;

	if (!proto->cfg.zero_copy || !ops->read_map ||
	    req->length < NBD_MAP_MIN_BYTES)
		return false;
	ret = ops->read_map(proto->session, req->offset, req->length,
			    &slot->src_fd, &slot->src_off, &slot->mapped);
	if (ret == -ENOTSUP)
		return false;
	if (proto->cfg.stats)
		proto->cfg.stats->requests++; /* served without a submit */
	slot->zero_copy = ret == 0;
	nbd_cmd_reply(slot, ret < 0 ? nbd_error_from_errno(ret) : 0);
	return true;
}

static void nbd_cmd_start(struct nbd_proto *proto, struct nbd_slot *slot)
{
	const struct nbd_request *req = &slot->req;
	uint32_t fua = req->flags & NBD_CMD_FLAG_FUA ? DDM_F_FUA : 0;
	uint32_t flags = fua;

	/* proto.md: a zero length is unspecified but SHOULD NOT cause a
	 * disconnect: succeed without bothering storage. */
	if (req->length == 0 && req->type != NBD_CMD_FLUSH) {
		nbd_cmd_reply(slot, 0);
		return;
	}
	switch (req->type) {
	case NBD_CMD_READ:
		if (proto->structured && nbd_cmd_read_is_hole(proto, req)) {
			slot->hole = true;
			nbd_cmd_reply(slot, 0);
		} else if (nbd_cmd_read_zero_copy(proto, slot)) {
			return;
		} else if (nbd_slot_data(slot, req->length) < 0) {
			nbd_cmd_reply(slot, NBD_ENOMEM);
		} else {
			nbd_cmd_submit(proto, slot, DDM_OP_READ, 0);
		}
		return;
	case NBD_CMD_FLUSH:
		nbd_cmd_submit(proto, slot, DDM_OP_FLUSH, 0);
		return;
	case NBD_CMD_TRIM:
		nbd_cmd_submit(proto, slot, DDM_OP_TRIM, fua);
		return;
	case NBD_CMD_CACHE:
		nbd_cmd_submit(proto, slot, DDM_OP_CACHE, 0);
		return;
	case NBD_CMD_WRITE_ZEROES:
		if (req->flags & NBD_CMD_FLAG_NO_HOLE)
			flags |= DDM_F_NO_HOLE;
		if (req->flags & NBD_CMD_FLAG_FAST_ZERO)
			flags |= DDM_F_FAST_ZERO;
		nbd_cmd_submit(proto, slot, DDM_OP_WRITE_ZEROES, flags);
		return;
	case NBD_CMD_BLOCK_STATUS:
		nbd_cmd_block_status(proto, slot);
		return;
	default:
		nbd_cmd_reply(slot, NBD_EINVAL);
		return;
	}
}

static void nbd_cmd_write_submit(struct nbd_proto *proto, struct nbd_slot *slot)
{
	nbd_cmd_submit(proto, slot, DDM_OP_WRITE,
		       slot->req.flags & NBD_CMD_FLAG_FUA ? DDM_F_FUA : 0);
}

void nbd_cmd_payload_done(struct nbd_proto *proto)
{
	struct nbd_slot *slot = proto->rx_slot;

	proto->rx_slot = NULL;
	proto->rx_state = NBD_RX_PARSE;
	nbd_cmd_write_submit(proto, slot);
}

void nbd_cmd_discarded(struct nbd_proto *proto)
{
	struct nbd_slot *slot = proto->rx_slot;

	proto->rx_slot = NULL;
	nbd_cmd_reply(slot, slot->error);
}

void nbd_cmd_rx_abandon(struct nbd_proto *proto)
{
	struct nbd_slot *slot = proto->rx_slot;

	proto->rx_slot = NULL;
	proto->rx_state = NBD_RX_PARSE;
	nbd_cmd_slot_release(slot);
}

/*
 * A WRITE header was parsed: take its payload.  What is already buffered is
 * copied; the rest is received straight into the data buffer (rx_buf
 * points there).  A refused payload is read and dropped so the stream
 * stays in step, unless it is too large to be anything but an attack.
 */
static int nbd_cmd_write(struct nbd_proto *proto, struct nbd_slot *slot,
			 uint32_t error)
{
	uint32_t len = slot->req.length;
	uint64_t skip_max = NBD_WRITE_SKIP_MAX_BYTES;
	size_t take = proto->e.rend - proto->e.rstart;

	if (!error && len > 0 && nbd_slot_data(slot, len) < 0)
		error = NBD_ENOMEM;
	if (error) {
		nbd_slot_uncharge(slot);
		if (proto->view.block_max > skip_max)
			skip_max = proto->view.block_max;
		if (len > skip_max) {
			nbd_cmd_slot_release(slot);
			return nbd_proto_fail(proto, -EMSGSIZE,
					      "refused write of %u bytes", len);
		}
		slot->error = error;
		proto->rx_slot = slot;
		proto->rx_state = NBD_RX_DISCARD;
		proto->discard_left = len;
		return 1;
	}
	if (len == 0) {
		nbd_cmd_reply(slot, 0);
		return 1;
	}
	if (take > len)
		take = len;
	memcpy(slot->data, proto->e.rbuf + proto->e.rstart, take);
	proto->e.rstart += take;
	slot->rx_got = (uint32_t)take;
	if (take == len) {
		nbd_cmd_write_submit(proto, slot);
		return 1;
	}
	proto->rx_slot = slot;
	proto->rx_state = NBD_RX_PAYLOAD;
	return 1;
}

/* The data buffer a request will hold until its reply is sent: READ and
 * WRITE within the advertised maximum (larger ones are refused without
 * one). */
static uint32_t nbd_cmd_buffer_bytes(const struct nbd_proto *proto,
				     const struct nbd_request *req)
{
	if (req->type != NBD_CMD_READ && req->type != NBD_CMD_WRITE)
		return 0;
	return req->length <= proto->view.block_max ? req->length : 0;
}

int nbd_cmd_parse(struct nbd_proto *proto)
{
	struct nbd_request req;
	struct nbd_slot *slot;
	uint32_t error, need;

	if (proto->e.rend - proto->e.rstart < NBD_REQUEST_BYTES)
		return 0;
	nbd_request_decode(proto->e.rbuf + proto->e.rstart, &req);
	if (req.magic != NBD_REQUEST_MAGIC)
		return nbd_proto_fail(proto, -EPROTO,
				      "bad request magic 0x%08x", req.magic);
	if (req.type == NBD_CMD_DISC) {
		/* proto.md: the server MUST handle all outstanding requests
		 * and close; the client sends nothing more, and gets no
		 * reply. */
		proto->e.rstart += NBD_REQUEST_BYTES;
		proto->e.rx_closed = true;
		log_debug("%s: disconnect requested", nbd_peer(proto));
		return 0;
	}
	if (!nbd_cmd_slot_available(proto))
		return 0;
	need = nbd_cmd_buffer_bytes(proto, &req);
	if (need && remote_engine_mem_wait(&proto->e, need))
		return 0;
	proto->e.rstart += NBD_REQUEST_BYTES;
	slot = nbd_slot_get(proto);
	if (!slot)
		return nbd_proto_fail(proto, -ENOMEM, "out of memory");
	slot->req = req;
	slot->mem_bytes = need;
	remote_engine_mem_charge(&proto->e, need);
	error = nbd_cmd_validate(proto, &req);
	if (req.type == NBD_CMD_WRITE)
		return nbd_cmd_write(proto, slot, error);
	if (error)
		nbd_cmd_reply(slot, error);
	else
		nbd_cmd_start(proto, slot);
	return 1;
}
