// SPDX-License-Identifier: MIT
/*
 * The Local Transport's send handler and message layer: the function
 * table every IOP descriptor exports (local_desc_ops).
 *
 * A request is validated here once, for every protocol above: range,
 * read-only, flags, alignment, maximum size.  What a DDM lacks is
 * emulated here so every DDM stays small: FUA by a flush after the write,
 * WRITE_ZEROES by writes from the shared zero buffer.  Protocol error codes
 * are not this file's business: it returns -errno and each Remote Transport
 * converts in its one function.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "base/base_log.h"
#include "local/local_priv.h"
#include "local/local_stats.h"

enum local_stage {
	LOCAL_STAGE_MAIN = 0, /* the operation itself */
	LOCAL_STAGE_ZERO,     /* emulated WRITE_ZEROES: one chunk of writes */
	LOCAL_STAGE_FLUSH,    /* emulated FUA: the flush after it */
};

#define LOCAL_ZERO_CHUNK_BYTES                                                 \
	((uint64_t)DDM_ZERO_BUF_BYTES *                                        \
	 (sizeof(((struct iop_msg *)0)->zero_iov) / sizeof(struct iovec)))

#define LOCAL_WRITE_FLAGS (DDM_F_FUA)
#define LOCAL_ZERO_FLAGS  (DDM_F_FUA | DDM_F_NO_HOLE | DDM_F_FAST_ZERO)

static bool local_op_writes(enum ddm_op op)
{
	return op == DDM_OP_WRITE || op == DDM_OP_TRIM ||
	       op == DDM_OP_WRITE_ZEROES;
}

static int local_session_open(struct iop_desc *desc, unsigned int dev_index,
			      bool read_only, struct iop_session **sessionp)
{
	struct local_iop_ctx *ctx = desc->ctx;
	struct iop_session *session;

	if (dev_index >= ctx->iop->n_devs)
		return -ENOENT;
	session = calloc(1, sizeof(*session));
	if (!session)
		return -ENOMEM;
	if (local_stats_session_open(ctx->iop->name,
				     ctx->iop->devs[dev_index]->name,
				     &session->stats) < 0) {
		free(session);
		return -ENOMEM;
	}
	session->ctx = ctx;
	session->dev = ctx->iop->devs[dev_index];
	session->read_only = read_only || session->dev->ddm.read_only;
	iop_dev_get(session->dev);
	*sessionp = session;
	return 0;
}

static void local_session_close(struct iop_session *session)
{
	if (!session)
		return;
	if (session->map)
		munmap((void *)session->map, session->map_len);
	iop_dev_put(session->dev);
	local_stats_session_close(session->stats);
	free(session);
}

static void local_session_info(const struct iop_session *session,
			       struct iop_dev_info *info)
{
	const struct ddm_dev *ddm = &session->dev->ddm;
	uint32_t max = session->ctx->max_request_bytes;

	if (ddm->block_size_max && ddm->block_size_max < max)
		max = ddm->block_size_max;
	info->size_bytes = ddm->size_bytes;
	info->caps = ddm->caps;
	info->block_size_min = ddm->block_size_min;
	info->block_size_pref = ddm->block_size_pref;
	info->max_request_bytes = max;
	info->read_only = session->read_only;
	if (session->read_only)
		info->caps &= ~(DDM_CAP_TRIM | DDM_CAP_ZEROES |
				DDM_CAP_FAST_ZERO | DDM_CAP_FUA);
	else
		info->caps |= DDM_CAP_FUA | DDM_CAP_ZEROES; /* emulated */
}

static size_t local_msg_priv_offset(void)
{
	return (sizeof(struct iop_msg) + 15) & ~(size_t)15;
}

static size_t local_msg_size(const struct iop_session *session)
{
	return local_msg_priv_offset() + session->dev->ddm.ops->req_priv_size;
}

static void local_msg_init(struct iop_session *session, struct iop_msg *msg)
{
	msg->session = session;
	msg->req.dev = &session->dev->ddm;
	msg->req.priv = (char *)msg + local_msg_priv_offset();
}

/* Returns 0, or the -errno the request fails with. */
static int local_msg_validate(const struct iop_session *session,
			      const struct iop_msg *msg)
{
	const struct ddm_dev *ddm = &session->dev->ddm;
	uint32_t allowed = 0;
	uint64_t end;

	switch (msg->op) {
	case DDM_OP_READ:
	case DDM_OP_WRITE:
		if (msg->len > session->ctx->max_request_bytes ||
		    (ddm->block_size_max && msg->len > ddm->block_size_max))
			return -EOVERFLOW;
		allowed = msg->op == DDM_OP_WRITE ? LOCAL_WRITE_FLAGS : 0;
		break;
	case DDM_OP_TRIM:
		allowed = DDM_F_FUA;
		break;
	case DDM_OP_WRITE_ZEROES:
		allowed = LOCAL_ZERO_FLAGS;
		break;
	case DDM_OP_FLUSH:
	case DDM_OP_CACHE:
		break;
	default:
		return -EINVAL;
	}
	if (msg->flags & ~allowed)
		return -EINVAL;
	if (local_op_writes(msg->op) && session->read_only)
		return -EPERM;
	if (msg->op == DDM_OP_FLUSH)
		return 0;
	if (__builtin_add_overflow(msg->offset, msg->len, &end) ||
	    end > ddm->size_bytes)
		return local_op_writes(msg->op) ? -ENOSPC : -EINVAL;
	if (msg->op != DDM_OP_CACHE &&
	    ((msg->offset | msg->len) % ddm->block_size_min))
		return -EINVAL;
	if ((msg->flags & DDM_F_FAST_ZERO) && !(ddm->caps & DDM_CAP_FAST_ZERO))
		return -ENOTSUP;
	return 0;
}

/* Does msg promise durability: a flush, or a write with FUA? */
static bool local_durability_point(const struct iop_msg *msg)
{
	return msg->op == DDM_OP_FLUSH ||
	       (local_op_writes(msg->op) && (msg->flags & DDM_F_FUA));
}

/*
 * A durability point failed: did it fail for reasons of its own (the
 * write could not be done at all), or may earlier acknowledged writes be
 * gone?  A failed fdatasync is always the latter (the kernel says so once,
 * then forgets); so is a failed RWF_DSYNC write, which reports the file's
 * write-back errors too, unless the write itself was refused.
 */
static bool local_wb_error(const struct iop_msg *msg, int result)
{
	if (msg->op == DDM_OP_FLUSH || msg->stage == LOCAL_STAGE_FLUSH)
		return true;
	if (!(msg->req.flags & DDM_F_FUA) || msg->stage != LOCAL_STAGE_MAIN)
		return false;
	return result != -ENOSPC && result != -EDQUOT && result != -EINVAL &&
	       result != -ENOTSUP && result != -EOPNOTSUPP && result != -EFBIG;
}

/* Make the device degraded: for every connection, and in the metrics. */
static void local_wb_fail(struct iop_session *session, int err)
{
	iop_dev_wb_fail(session->dev, err);
	local_stats_wb_set(session->ctx->iop->name, session->dev->name, err);
}

static void local_msg_finish(struct iop_msg *msg, int result)
{
	atomic_fetch_sub(&msg->session->dev->inflight, 1);
	local_stats_end(msg->session->stats, msg->op, msg->len, result,
			msg->start_ns);
	msg->done(msg, result);
}

static void local_dispatch(struct iop_msg *msg, enum ddm_op op, uint32_t flags,
			   uint64_t offset, uint64_t len)
{
	struct ddm_req *req = &msg->req;

	req->loop = msg->loop;
	req->op = op;
	req->flags = flags;
	req->offset = offset;
	req->len = len;
	req->iov = msg->iov;
	req->iovcnt = msg->iovcnt;
	req->dev->ops->submit(req);
}

/* Emulated WRITE_ZEROES: write the next chunk from the zero buffer. */
static void local_zero_next(struct iop_msg *msg)
{
	uint64_t left = msg->len - msg->zero_done;
	uint64_t chunk =
		left < LOCAL_ZERO_CHUNK_BYTES ? left : LOCAL_ZERO_CHUNK_BYTES;
	uint64_t piece;
	int n = 0;

	for (uint64_t off = 0; off < chunk; off += piece) {
		piece = chunk - off < DDM_ZERO_BUF_BYTES ? chunk - off
							 : DDM_ZERO_BUF_BYTES;
		msg->zero_iov[n].iov_base = (void *)ddm_zero_buf;
		msg->zero_iov[n++].iov_len = piece;
	}
	msg->stage = LOCAL_STAGE_ZERO;
	msg->req.loop = msg->loop;
	msg->req.op = DDM_OP_WRITE;
	msg->req.flags = 0;
	msg->req.offset = msg->offset + msg->zero_done;
	msg->req.len = chunk;
	msg->req.iov = msg->zero_iov;
	msg->req.iovcnt = n;
	msg->zero_done += chunk;
	msg->req.dev->ops->submit(&msg->req);
}

/* After the operation: the flush that stands in for a FUA the DDM lacks. */
static bool local_fua_pending(const struct iop_msg *msg)
{
	const struct ddm_dev *ddm = msg->req.dev;

	/* Emulated zero writes went down without FUA even on a DDM that has
	 * it, so they need the flush too. */
	return (msg->flags & DDM_F_FUA) && (ddm->caps & DDM_CAP_FLUSH) &&
	       (!(ddm->caps & DDM_CAP_FUA) || msg->stage == LOCAL_STAGE_ZERO);
}

/* A native WRITE_ZEROES the DDM declined, which the zero writes can do
 * instead?  Not with FAST_ZERO: -ENOTSUP is that request's answer. */
static bool local_zero_declined(const struct iop_msg *msg)
{
	return msg->op == DDM_OP_WRITE_ZEROES &&
	       msg->stage == LOCAL_STAGE_MAIN &&
	       !(msg->flags & DDM_F_FAST_ZERO);
}

static void local_req_done(struct ddm_req *req, int result)
{
	struct iop_msg *msg =
		(struct iop_msg *)((char *)req - offsetof(struct iop_msg, req));

	if (result == -EOPNOTSUPP && local_zero_declined(msg)) {
		/* ddm.h: the DDM could not zero natively after all. */
		msg->zero_done = 0;
		local_zero_next(msg);
		return;
	}
	if (result < 0) {
		if (local_wb_error(msg, result))
			local_wb_fail(msg->session, result);
		local_msg_finish(msg, result);
		return;
	}
	if (msg->stage == LOCAL_STAGE_ZERO && msg->zero_done < msg->len) {
		local_zero_next(msg);
		return;
	}
	if (msg->stage != LOCAL_STAGE_FLUSH && local_fua_pending(msg)) {
		msg->stage = LOCAL_STAGE_FLUSH;
		local_dispatch(msg, DDM_OP_FLUSH, 0, 0, 0);
		return;
	}
	local_msg_finish(msg, 0);
}

static void local_submit(struct iop_session *session, struct iop_msg *msg)
{
	uint32_t caps = session->dev->ddm.caps;
	uint32_t flags = msg->flags;
	int ret;

	ret = local_msg_validate(session, msg);
	/* After a write-back error no flush may report success again. */
	if (ret == 0 && local_durability_point(msg))
		ret = atomic_load(&session->dev->wb_error);
	if (ret < 0) {
		/* Refused requests count too, with no time spent. */
		if (msg->op < LOCAL_STAT_OPS) {
			msg->start_ns =
				local_stats_begin(session->stats, msg->op);
			local_stats_end(session->stats, msg->op, 0, ret,
					msg->start_ns);
		}
		msg->done(msg, ret);
		return;
	}
	msg->start_ns = local_stats_begin(session->stats, msg->op);
	msg->session = session;
	msg->stage = LOCAL_STAGE_MAIN;
	msg->req.done = local_req_done;
	atomic_fetch_add(&session->dev->inflight, 1);

	if (!(caps & DDM_CAP_FUA))
		flags &= ~DDM_F_FUA;
	switch (msg->op) {
	case DDM_OP_FLUSH:
		if (!(caps & DDM_CAP_FLUSH))
			goto done_nothing;
		break;
	case DDM_OP_TRIM:
		/* proto.md: trim is advisory, so a DDM without it succeeds */
		if (!(caps & DDM_CAP_TRIM))
			goto done_nothing;
		break;
	case DDM_OP_CACHE:
		if (!(caps & DDM_CAP_CACHE))
			goto done_nothing;
		break;
	case DDM_OP_WRITE_ZEROES:
		if (!(caps & DDM_CAP_ZEROES)) {
			msg->zero_done = 0;
			if (msg->len == 0)
				goto done_nothing;
			local_zero_next(msg);
			return;
		}
		break;
	default:
		if (msg->len == 0)
			goto done_nothing;
		break;
	}
	local_dispatch(msg, msg->op, flags, msg->offset, msg->len);
	return;

done_nothing:
	local_req_done(&msg->req, 0);
}

static int local_extents(struct iop_session *session, uint64_t offset,
			 uint64_t len, struct ddm_extent *ext,
			 unsigned int *n_ext)
{
	struct ddm_dev *ddm = &session->dev->ddm;
	uint64_t end;

	if (__builtin_add_overflow(offset, len, &end) ||
	    end > ddm->size_bytes || len == 0 || *n_ext == 0)
		return -EINVAL;
	if (ddm->caps & DDM_CAP_EXTENTS)
		return ddm->ops->extents(ddm, offset, len, ext, n_ext);
	ext[0].len = len;
	ext[0].flags = 0;
	*n_ext = 1;
	return 0;
}

static int local_read_source(struct iop_session *session, uint64_t offset,
			     uint64_t len, int *fd, uint64_t *fd_offset)
{
	struct ddm_dev *ddm = &session->dev->ddm;
	struct iop_msg probe = {
		.op = DDM_OP_READ,
		.offset = offset,
		.len = len,
	};
	int ret;

	uint64_t start;

	if (!ddm->ops->read_source)
		return -ENOTSUP;
	ret = local_msg_validate(session, &probe);
	if (ret == 0)
		ret = ddm->ops->read_source(ddm, offset, len, fd, fd_offset);
	if (ret == -ENOTSUP)
		return ret; /* the caller submits it: counted there */
	/* A READ all the same, served by the time its reply is queued. */
	start = local_stats_begin(session->stats, DDM_OP_READ);
	local_stats_end(session->stats, DDM_OP_READ, ret == 0 ? len : 0, ret,
			start);
	return ret;
}

/* Map the file read_source named (fd) once per session; false if it
 * can't be. */
static bool local_session_map(struct iop_session *session, int fd)
{
	size_t len = (size_t)session->dev->ddm.size_bytes;
	void *p;

	if (!session->map_tried) {
		session->map_tried = true;
		p = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0)
			: MAP_FAILED;
		if (p != MAP_FAILED) {
			session->map = p;
			session->map_len = len;
			session->map_fd = fd;
		}
	}
	return session->map && session->map_fd == fd;
}

static int local_read_map(struct iop_session *session, uint64_t offset,
			  uint64_t len, int *fd, uint64_t *fd_offset,
			  const uint8_t **data)
{
	int ret = local_read_source(session, offset, len, fd, fd_offset);

	*data = NULL;
	if (ret == 0 && local_session_map(session, *fd) &&
	    *fd_offset <= session->map_len &&
	    len <= session->map_len - *fd_offset)
		*data = session->map + *fd_offset;
	return ret;
}

static struct ddm_dev *local_shared_dev(struct iop_session *session)
{
	struct ddm_dev *ddm = &session->dev->ddm;

	return ddm->ops->shared ? ddm : NULL;
}

const struct iop_desc_ops local_desc_ops = {
	.session_open = local_session_open,
	.session_close = local_session_close,
	.session_info = local_session_info,
	.msg_size = local_msg_size,
	.msg_init = local_msg_init,
	.submit = local_submit,
	.extents = local_extents,
	.read_source = local_read_source,
	.read_map = local_read_map,
	.shared_dev = local_shared_dev,
};
