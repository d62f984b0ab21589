/* SPDX-License-Identifier: MIT */
/*
 * The null DDM: a device of any size that reads as zeroes and forgets
 * what is written.  It is useful for measuring the protocol and transport
 * path alone, and it is the template a new DDM copies: each member of the
 * table below says what a DDM must do there.  Copy this file to
 * src/ddm/<name>/ddm_<name>.c, rename the ddm_null_ prefix, add the table
 * to ddm.h and ddm_registry.c, and the name to the Makefile's DDMS.
 *
 * What a DDM does NOT do: validate requests (the Local Transport checked
 * range, read-only, flags and alignment against what open() declared),
 * emulate missing features (FUA by flush, zeroes by writes), or know any
 * protocol.  Keep it that way.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/base_log.h"
#include "iopd/ddm.h"

/*
 * Per-device state lives behind dev->priv: the IOP allocates
 * ops->dev_priv_size zeroed bytes before open() and frees them after
 * close().  null needs nothing, but declares the struct so a copy has
 * somewhere to put its file descriptor or table.
 */
struct ddm_null_dev {
	uint64_t reads; /* statistics only; not needed for correctness */
};

/*
 * open(): main thread, no request in flight.  Read args, acquire what the
 * device needs, and declare size, capabilities and block sizes.  Declare
 * only what is true: the Local Transport turns every cap into a promise to
 * the client (NBD flags, block status, multi-conn).  On failure log once
 * naming dev->name and return -errno; close() will not be called.
 */
static int ddm_null_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	/* Offsets travel as off_t in the kernel and as signed 64-bit in some
	 * clients; refuse what they cannot address. */
	if (args->size_bytes > INT64_MAX) {
		log_error("%s: null: size %llu is too large", dev->name,
			  (unsigned long long)args->size_bytes);
		return -EINVAL;
	}
	dev->size_bytes = args->size_bytes;
	/*
	 * No FLUSH or FUA: nothing is ever volatile.  TRIM, ZEROES and
	 * FAST_ZERO are free; EXTENTS lets clients skip the whole device,
	 * and EXTENTS_CHEAP lets a protocol answer reads as holes;
	 * MULTI_CONN holds trivially because there is no cache to share.
	 */
	dev->caps = DDM_CAP_TRIM | DDM_CAP_ZEROES | DDM_CAP_FAST_ZERO |
		    DDM_CAP_EXTENTS | DDM_CAP_EXTENTS_CHEAP | DDM_CAP_CACHE |
		    DDM_CAP_MULTI_CONN;
	dev->block_size_min = 1;     /* any byte range is fine */
	dev->block_size_pref = 4096; /* what clients should prefer */
	dev->block_size_max = 0;     /* no limit beyond the transport's */
	dev->read_only = args->read_only;
	return 0;
}

/* close(): main thread, no request in flight.  Undo open(); the IOP frees
 * dev->priv afterwards. */
static void ddm_null_close(struct ddm_dev *dev)
{
}

static void ddm_null_fill_zeroes(const struct ddm_req *req)
{
	for (int i = 0; i < req->iovcnt; i++)
		memset(req->iov[i].iov_base, 0, req->iov[i].iov_len);
}

/*
 * submit(): any worker thread, concurrently for the same device.  The
 * request is already valid.  Complete it exactly once with
 * ddm_req_complete(), either here (as null does) or later from a base_io
 * completion on req->loop; after completing, never touch req again, since
 * its owner may reuse it at once.  Per-request scratch space is req->priv
 * (ops->req_priv_size bytes).  Only ops whose capability open() declared
 * arrive, plus READ and WRITE always.
 */
static void ddm_null_submit(struct ddm_req *req)
{
	struct ddm_null_dev *nd = req->dev->priv;

	switch (req->op) {
	case DDM_OP_READ:
		ddm_null_fill_zeroes(req);
		__atomic_fetch_add(&nd->reads, 1, __ATOMIC_RELAXED);
		break;
	case DDM_OP_WRITE:
	case DDM_OP_FLUSH:
	case DDM_OP_TRIM:
	case DDM_OP_WRITE_ZEROES:
	case DDM_OP_CACHE:
		break;
	default:
		/* Not reachable past the Local Transport; fail rather than
		 * pretend. */
		ddm_req_complete(req, -EINVAL);
		return;
	}
	ddm_req_complete(req, 0);
}

/*
 * extents(): any worker thread, synchronous and quick.  Describe
 * [offset, offset+len) as consecutive extents starting at offset; stopping
 * early is allowed, claiming HOLE or ZERO for data that is not is never
 * allowed.  Only called when DDM_CAP_EXTENTS is declared.
 */
static int ddm_null_extents(struct ddm_dev *dev, uint64_t offset, uint64_t len,
			    struct ddm_extent *ext, unsigned int *n_ext)
{
	ext[0].len = len;
	ext[0].flags = DDM_EXTENT_HOLE | DDM_EXTENT_ZERO;
	*n_ext = 1;
	return 0;
}

/* The designated initialiser doubles as the DDM's feature list. */
const struct ddm_ops ddm_null_ops = {
	.name = "null",
	.spec_arg = DDM_SPEC_SIZE,
	.spec_help = "null:SIZE     reads zeroes, discards writes",
	.dev_priv_size = sizeof(struct ddm_null_dev),
	.req_priv_size = 0,
	.open = ddm_null_open,
	.close = ddm_null_close,
	.submit = ddm_null_submit,
	.extents = ddm_null_extents,
};
