// SPDX-License-Identifier: MIT
/*
 * The rbd DDM: a Ceph RBD image through librbd's asynchronous calls.
 *
 * Spec "rbd:[POOL/[NAMESPACE/]]IMAGE[@SNAP]" (the option image=), with
 * settings pool, namespace, snap, conf (ceph.conf), id (client id, default
 * admin), keyring, mon_host, rados_osd_op_timeout, rados_mon_op_timeout
 * and client_mount_timeout (seconds; rbd_config.c).  A snapshot is always
 * opened read-only.
 *
 * Every request is one rbd_aio_* call with a completion; librbd runs the
 * completion on its own threads, which hand the request back to its worker
 * with ddm_req_complete_foreign (no lock or allocation of ours per I/O;
 * librbd allocates its completion).  FUA is left to the Local Transport
 * (write, then rbd_aio_flush): librbd's own FUA flag only bypasses its
 * cache for that write.  Trim is rbd_aio_discard, write-zeroes
 * rbd_aio_write_zeroes (NO_HOLE: thick-provisioned), extents
 * rbd_diff_iterate2 at whole-object granularity, declared only where the
 * image's fast-diff object map makes it a memory lookup.  All connections
 * share one image handle, so a flush covers every completed write
 * (multi-conn).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/rbd/rbd_priv.h"

/* Extents asked for at most this far ahead (diff_iterate walks objects). */
#define RBD_EXTENTS_SPAN (256ull << 20)

static void rbd_done(rbd_completion_t c, void *arg)
{
	struct ddm_req *req = arg;
	ssize_t ret = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	/* Reads return the bytes read: within the image, all of them. */
	ddm_req_complete_foreign(req, ret < 0 ? (int)ret : 0);
}

static int rbd_start(struct ddm_req *req, rbd_image_t img, rbd_completion_t c)
{
	int zflags;

	switch (req->op) {
	case DDM_OP_READ:
		return rbd_aio_readv(img, req->iov, req->iovcnt, req->offset,
				     c);
	case DDM_OP_WRITE:
		return rbd_aio_writev(img, req->iov, req->iovcnt, req->offset,
				      c);
	case DDM_OP_FLUSH:
		return rbd_aio_flush(img, c);
	case DDM_OP_TRIM:
		return rbd_aio_discard(img, req->offset, req->len, c);
	case DDM_OP_WRITE_ZEROES:
		zflags = req->flags & DDM_F_NO_HOLE
				 ? RBD_WRITE_ZEROES_FLAG_THICK_PROVISION
				 : 0;
		return rbd_aio_write_zeroes(img, req->offset, req->len, c,
					    zflags, 0);
	default:
		return -EOPNOTSUPP;
	}
}

static void rbd_submit(struct ddm_req *req)
{
	struct rbd_dev *rd = req->dev->priv;
	rbd_completion_t c;
	int ret;

	if (req->op == DDM_OP_CACHE) {
		ddm_req_complete(req, 0);
		return;
	}
	ret = rbd_aio_create_completion(req, rbd_done, &c);
	if (ret < 0) {
		ddm_req_complete(req, ret);
		return;
	}
	ret = rbd_start(req, rd->image, c);
	if (ret < 0) {
		/* Not started: the callback never runs. */
		rbd_aio_release(c);
		ddm_req_complete(req, ret);
	}
}

static int rbd_open_image(struct ddm_dev *dev, struct rbd_dev *rd, bool ro)
{
	const struct rbd_settings *s = &rd->set;
	int ret;

	if (ro)
		ret = rbd_open_read_only(rd->ioctx, s->image, &rd->image,
					 s->snap);
	else
		ret = rbd_open(rd->ioctx, s->image, &rd->image, NULL);
	if (ret < 0) {
		log_error("%s: rbd: image %s/%s%s%s: %s", dev->name, s->pool,
			  s->image, s->snap ? "@" : "", s->snap ? s->snap : "",
			  strerror(-ret));
		return ret;
	}
	rd->have_image = true;
	return 0;
}

/* Extents only where the fast-diff object map answers from memory. */
static bool rbd_extents_cheap(struct rbd_dev *rd)
{
	uint64_t features = 0, flags = 0;

	return rbd_get_features(rd->image, &features) == 0 &&
	       (features & RBD_FEATURE_FAST_DIFF) &&
	       rbd_get_flags(rd->image, &flags) == 0 &&
	       !(flags &
		 (RBD_FLAG_FAST_DIFF_INVALID | RBD_FLAG_OBJECT_MAP_INVALID));
}

static int rbd_declare(struct ddm_dev *dev, struct rbd_dev *rd, bool ro)
{
	uint64_t size;
	int ret = rbd_get_size(rd->image, &size);

	if (ret < 0) {
		log_error("%s: rbd: size: %s", dev->name, strerror(-ret));
		return ret;
	}
	dev->size_bytes = size;
	dev->read_only = ro;
	dev->block_size_min = 512;
	dev->block_size_pref = 4096;
	dev->block_size_max = 0;
	dev->caps = DDM_CAP_FLUSH | DDM_CAP_MULTI_CONN;
	if (!ro)
		dev->caps |= DDM_CAP_TRIM | DDM_CAP_ZEROES;
	if (rbd_extents_cheap(rd))
		dev->caps |= DDM_CAP_EXTENTS;
	dev->durability = "fua:write+rbd_aio_flush flush:rbd_aio_flush";
	return 0;
}

static void rbd_release(struct rbd_dev *rd)
{
	if (rd->have_image)
		rbd_close(rd->image);
	if (rd->have_ioctx)
		rados_ioctx_destroy(rd->ioctx);
	if (rd->connected)
		rados_shutdown(rd->cluster);
	rd->have_image = rd->have_ioctx = rd->connected = false;
	rbd_settings_free(&rd->set);
}

static int rbd_dev_open_masked(struct ddm_dev *dev,
			       const struct ddm_open_args *args);

/*
 * librados and librbd start their threads while connecting and opening;
 * a thread inherits its creator's signal mask, and iopd takes SIGTERM,
 * SIGINT and SIGHUP only through a signalfd, so none of them may be left
 * to those threads (the default action of SIGTERM would end iopd).  Block
 * everything while they are created, whichever thread opens.
 */
static int rbd_dev_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = rbd_dev_open_masked(dev, args);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static int rbd_dev_open_masked(struct ddm_dev *dev,
			       const struct ddm_open_args *args)
{
	struct rbd_dev *rd = dev->priv;
	bool ro = args->read_only || rd->set.snap;
	int ret;

	if (!rd->set.image || !rd->set.pool) {
		log_error("%s: rbd: which image?  Give rbd:POOL/IMAGE or "
			  "image= and pool=",
			  dev->name);
		ret = -EINVAL;
		goto err;
	}
	ret = rbd_connect(dev, rd);
	if (ret == 0)
		ret = rbd_open_image(dev, rd, ro);
	if (ret == 0)
		ret = rbd_declare(dev, rd, ro);
	if (ret < 0)
		goto err;
	rbd_shared_init(rd);
	log_debug("%s: rbd: %s/%s%s%s, %" PRIu64 " bytes%s", dev->name,
		  rd->set.pool, rd->set.image, rd->set.snap ? "@" : "",
		  rd->set.snap ? rd->set.snap : "", dev->size_bytes,
		  ro ? ", read-only" : "");
	return 0;
err:
	rbd_release(rd);
	return ret;
}

static void rbd_dev_close(struct ddm_dev *dev)
{
	rbd_shared_close(dev);
	rbd_release(dev->priv);
}

static int rbd_sync(struct ddm_dev *dev)
{
	struct rbd_dev *rd = dev->priv;
	int ret = rbd_flush(rd->image);

	if (ret < 0)
		log_error("%s: rbd: flush: %s", dev->name, strerror(-ret));
	return ret;
}

struct rbd_ext_walk {
	uint64_t pos, end;
	struct ddm_extent *ext;
	unsigned int n, max;
};

static int rbd_ext_add(struct rbd_ext_walk *w, uint64_t len, uint32_t flags)
{
	if (!len)
		return 0;
	if (w->n && w->ext[w->n - 1].flags == flags) {
		w->ext[w->n - 1].len += len;
	} else {
		if (w->n == w->max)
			return -ENOSPC; /* enough: stop the walk */
		w->ext[w->n++] =
			(struct ddm_extent){ .len = len, .flags = flags };
	}
	w->pos += len;
	return 0;
}

/* diff_iterate2's callback: [off, off+len) holds data (whole objects, so
 * it may start before w->pos or end past w->end). */
static int rbd_ext_cb(uint64_t off, size_t len, int exists, void *arg)
{
	struct rbd_ext_walk *w = arg;
	uint64_t end = off + len < w->end ? off + len : w->end;
	int ret;

	if (!exists || end <= w->pos)
		return 0;
	if (off > w->pos) {
		ret = rbd_ext_add(w, off - w->pos,
				  DDM_EXTENT_HOLE | DDM_EXTENT_ZERO);
		if (ret < 0)
			return ret;
	}
	return rbd_ext_add(w, end - w->pos, 0);
}

static int rbd_extents(struct ddm_dev *dev, uint64_t offset, uint64_t len,
		       struct ddm_extent *ext, unsigned int *n_ext)
{
	struct rbd_dev *rd = dev->priv;
	struct rbd_ext_walk w = { .pos = offset, .ext = ext, .max = *n_ext };
	int ret;

	if (len > RBD_EXTENTS_SPAN)
		len = RBD_EXTENTS_SPAN;
	w.end = offset + len;
	ret = rbd_diff_iterate2(rd->image, NULL, offset, len, 1, 1, rbd_ext_cb,
				&w);
	if (ret < 0 && ret != -ENOSPC)
		return ret;
	if (ret == 0)
		rbd_ext_add(&w, w.end - w.pos,
			    DDM_EXTENT_HOLE | DDM_EXTENT_ZERO);
	*n_ext = w.n;
	return w.n ? 0 : -EIO;
}

static int rbd_dev_resize(struct ddm_dev *dev, uint64_t size_bytes)
{
	struct rbd_dev *rd = dev->priv;
	int ret = rbd_resize(rd->image, size_bytes);

	if (ret < 0) {
		log_error("%s: rbd: resize to %" PRIu64 ": %s", dev->name,
			  size_bytes, strerror(-ret));
		return ret;
	}
	dev->size_bytes = size_bytes;
	return 0;
}

rbd_image_t rbd_dev_image(struct ddm_dev *dev)
{
	struct rbd_dev *rd = dev->priv;

	if (dev->ops != &ddm_rbd_ops || !rd->have_image)
		return NULL;
	return rd->image;
}

const struct ddm_ops ddm_rbd_ops = {
	.name = "rbd",
	.spec_arg = DDM_SPEC_OPTION,
	.spec_key = "image",
	.spec_help = "rbd:POOL/IMAGE[@SNAP]  Ceph RBD image (a snapshot: "
		     "read-only)",
	.option_keys = rbd_option_keys,
	.dev_priv_size = sizeof(struct rbd_dev),
	.req_priv_size = 0,
	.open = rbd_dev_open,
	.close = rbd_dev_close,
	.sync = rbd_sync,
	.configure = rbd_configure,
	.submit = rbd_submit,
	.extents = rbd_extents,
	.resize = rbd_dev_resize,
	.shared = &rbd_shared_ops,
	.list = rbd_pool_list,
};
