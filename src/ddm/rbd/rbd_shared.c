// SPDX-License-Identifier: MIT
/*
 * The rbd DDM's shared metadata (ddm_shared_ops in include/iopd/ddm.h):
 * one record per image, which every gateway exporting the image reads and
 * updates (SCSI persistent reservations), and a channel to tell the other
 * gateways at once.
 *
 * The record is RBD image metadata, so it lives and goes with the image
 * (`rbd image-meta get IMAGE iopd.pr` shows it): the keys iopd.pr (the
 * version, a newline, the text) and iopd.pr.version, both in the omap of
 * the image's header object, where librbd keeps metadata as
 * "metadata_<key>".  librbd's rbd_metadata_set has no compare-and-swap,
 * so set is one RADOS write operation on the header object: an omap
 * comparison of iopd.pr.version with the version the caller read, then
 * both keys.  The OSD runs the operation atomically on the object (its
 * operations on one object are serialised by the primary), so of two
 * gateways updating from the same version one wins and the other's
 * comparison fails (-ECANCELED, returned as -ESTALE): it rereads and
 * tries again.  A missing key compares as empty, which is version 0.  The
 * version only grows, so no update can be mistaken for another (no ABA).
 *
 * The channel is RADOS watch/notify on a small object of its own,
 * iopd_pr.<image id> in the image's pool and namespace, rather than on
 * the header object: librbd watches the header and notifies on it for its
 * own purposes, and waits for every watcher's answer.  Notifications from
 * this process itself are acknowledged at once and not passed on.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/rbd/rbd_priv.h"

#define RBD_SH_KEY	   "iopd.pr"
#define RBD_SH_OMAP	   "metadata_iopd.pr"
#define RBD_SH_OMAP_VER	   "metadata_iopd.pr.version"
#define RBD_SH_CHAN_PREFIX "iopd_pr."

static void rbd_sh_rewatch(struct ddm_dev *dev, struct rbd_dev *rd);

/* The header object's and the channel's names, from the image's id. */
static int rbd_sh_names(struct ddm_dev *dev, struct rbd_dev *rd)
{
	char id[96];
	int ret;

	if (rd->sh.header[0])
		return 0;
	ret = rbd_get_id(rd->image, id, sizeof(id));
	if (ret < 0) {
		log_error("%s: rbd: image id: %s", dev->name, strerror(-ret));
		return ret;
	}
	snprintf(rd->sh.header, sizeof(rd->sh.header), "rbd_header.%s", id);
	snprintf(rd->sh.chan, sizeof(rd->sh.chan), RBD_SH_CHAN_PREFIX "%s", id);
	return 0;
}

static int rbd_sh_get(struct ddm_dev *dev, char **textp, uint64_t *version)
{
	struct rbd_dev *rd = dev->priv;
	size_t len = 4096;
	char *buf = NULL, *nl;
	int ret;

	rbd_sh_rewatch(dev, rd);
	for (;;) {
		char *nbuf = realloc(buf, len);

		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		ret = rbd_metadata_get(rd->image, RBD_SH_KEY, buf, &len);
		if (ret != -ERANGE)
			break;
	}
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[len ? len - 1 : 0] = 0;
	nl = strchr(buf, '\n');
	if (!nl || sscanf(buf, "%" SCNu64, version) != 1) {
		free(buf);
		return -EBADMSG;
	}
	memmove(buf, nl + 1, strlen(nl + 1) + 1);
	*textp = buf;
	return 0;
}

static int rbd_sh_set(struct ddm_dev *dev, const char *text, uint64_t expect)
{
	struct rbd_dev *rd = dev->priv;
	const char *keys[] = { RBD_SH_OMAP, RBD_SH_OMAP_VER };
	char old[24] = "", ver[24], *val;
	const char *vals[2];
	size_t lens[2];
	rados_write_op_t op;
	int ret, cmp = 0, n;

	ret = rbd_sh_names(dev, rd);
	if (ret < 0)
		return ret;
	if (expect)
		snprintf(old, sizeof(old), "%" PRIu64, expect);
	snprintf(ver, sizeof(ver), "%" PRIu64, expect + 1);
	n = asprintf(&val, "%s\n%s", ver, text ? text : "");
	if (n < 0)
		return -ENOMEM;
	vals[0] = val;
	lens[0] = (size_t)n;
	vals[1] = ver;
	lens[1] = strlen(ver);
	op = rados_create_write_op();
	if (!op) {
		free(val);
		return -ENOMEM;
	}
	rados_write_op_omap_cmp(op, RBD_SH_OMAP_VER, LIBRADOS_CMPXATTR_OP_EQ,
				old, strlen(old), &cmp);
	rados_write_op_omap_set(op, keys, vals, lens, 2);
	ret = rados_write_op_operate(op, rd->ioctx, rd->sh.header, NULL, 0);
	rados_release_write_op(op);
	free(val);
	if (ret == -ECANCELED || cmp == -ECANCELED)
		return -ESTALE;
	return ret;
}

static void rbd_sh_watched(void *arg, uint64_t notify_id, uint64_t handle,
			   uint64_t notifier_id, void *data, size_t len)
{
	struct ddm_dev *dev = arg;
	struct rbd_dev *rd = dev->priv;

	(void)handle;
	if (notifier_id == rados_get_instance_id(rd->cluster) || !notify_id) {
		rados_notify_ack(rd->ioctx, rd->sh.chan, notify_id,
				 rd->sh.cookie, NULL, 0);
		return;
	}
	rd->sh.cb(rd->sh.arg, notify_id, data, len);
}

/* The watch broke (an OSD went away, the session timed out): what was
 * notified meanwhile is lost, so the watcher rereads the record (on a
 * thread of its own), and that get sets the watch up again. */
static void rbd_sh_watch_error(void *arg, uint64_t cookie, int err)
{
	struct ddm_dev *dev = arg;
	struct rbd_dev *rd = dev->priv;

	(void)cookie;
	log_warn("%s: rbd: the gateways' channel broke: %s", dev->name,
		 strerror(-err));
	atomic_store(&rd->sh.broken, true);
	rd->sh.cb(rd->sh.arg, 0, NULL, 0);
}

static int rbd_sh_watch_start(struct ddm_dev *dev, struct rbd_dev *rd)
{
	rados_write_op_t op = rados_create_write_op();
	int ret;

	if (!op)
		return -ENOMEM;
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	ret = rados_write_op_operate(op, rd->ioctx, rd->sh.chan, NULL, 0);
	rados_release_write_op(op);
	if (ret == 0)
		ret = rados_watch2(rd->ioctx, rd->sh.chan, &rd->sh.cookie,
				   rbd_sh_watched, rbd_sh_watch_error, dev);
	if (ret < 0) {
		log_error("%s: rbd: watch %s: %s", dev->name, rd->sh.chan,
			  strerror(-ret));
		return ret;
	}
	rd->sh.watching = true;
	return 0;
}

/* After the watch broke: a new one (the next get or notify tries again
 * if this fails). */
static void rbd_sh_rewatch(struct ddm_dev *dev, struct rbd_dev *rd)
{
	if (!atomic_load(&rd->sh.broken))
		return;
	pthread_mutex_lock(&rd->sh.lock);
	if (rd->sh.wanted && atomic_exchange(&rd->sh.broken, false)) {
		if (rd->sh.watching)
			rados_unwatch2(rd->ioctx, rd->sh.cookie);
		rd->sh.watching = false;
		if (rbd_sh_watch_start(dev, rd) < 0)
			atomic_store(&rd->sh.broken, true);
		else
			log_info("%s: rbd: the gateways' channel is back",
				 dev->name);
	}
	pthread_mutex_unlock(&rd->sh.lock);
}

static int rbd_sh_watch(struct ddm_dev *dev, ddm_shared_cb *cb, void *arg)
{
	struct rbd_dev *rd = dev->priv;
	int ret = rbd_sh_names(dev, rd);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&rd->sh.lock);
	rd->sh.cb = cb;
	rd->sh.arg = arg;
	rd->sh.wanted = true;
	ret = rbd_sh_watch_start(dev, rd);
	pthread_mutex_unlock(&rd->sh.lock);
	return ret;
}

static void rbd_sh_unwatch(struct ddm_dev *dev)
{
	struct rbd_dev *rd = dev->priv;

	pthread_mutex_lock(&rd->sh.lock);
	rd->sh.wanted = false;
	if (rd->sh.watching) {
		rados_unwatch2(rd->ioctx, rd->sh.cookie);
		/* No callback of the old watch runs after this. */
		rados_watch_flush(rd->cluster);
		rd->sh.watching = false;
	}
	pthread_mutex_unlock(&rd->sh.lock);
}

static void rbd_sh_ack(struct ddm_dev *dev, uint64_t notify_id)
{
	struct rbd_dev *rd = dev->priv;

	if (notify_id)
		rados_notify_ack(rd->ioctx, rd->sh.chan, notify_id,
				 rd->sh.cookie, NULL, 0);
}

static int rbd_sh_notify(struct ddm_dev *dev, const char *msg, size_t len,
			 unsigned int timeout_ms)
{
	struct rbd_dev *rd = dev->priv;
	char *reply = NULL;
	size_t reply_len = 0;
	int ret = rbd_sh_names(dev, rd);

	if (ret < 0)
		return ret;
	rbd_sh_rewatch(dev, rd);
	ret = rados_notify2(rd->ioctx, rd->sh.chan, msg, (int)len, timeout_ms,
			    &reply, &reply_len);
	if (reply)
		rados_buffer_free(reply);
	return ret;
}

void rbd_shared_init(struct rbd_dev *rd)
{
	pthread_mutex_init(&rd->sh.lock, NULL);
}

void rbd_shared_close(struct ddm_dev *dev)
{
	struct rbd_dev *rd = dev->priv;

	rbd_sh_unwatch(dev);
	pthread_mutex_destroy(&rd->sh.lock);
}

const struct ddm_shared_ops rbd_shared_ops = {
	.get = rbd_sh_get,
	.set = rbd_sh_set,
	.watch = rbd_sh_watch,
	.unwatch = rbd_sh_unwatch,
	.ack = rbd_sh_ack,
	.notify = rbd_sh_notify,
};
