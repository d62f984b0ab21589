/* SPDX-License-Identifier: MIT */
/*
 * The rbd DDM's device state, shared by its files, and the one internal
 * way for other code in iopd (a SCSI persistent-reservation store keeping
 * its state in the image's metadata, say) to reach an open device's
 * librbd handle: rbd_dev_image().
 */
#ifndef IOPD_DDM_RBD_PRIV_H
#define IOPD_DDM_RBD_PRIV_H

#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "iopd/ddm.h"

/* What configure collected (strings are owned, NULL when not given). */
struct rbd_settings {
	char *pool, *ns, *image, *snap;
	char *conf, *id, *keyring, *mon_host;
	char *osd_op_timeout, *mon_op_timeout, *mount_timeout;
};

/* The shared metadata and the gateways' channel (rbd_shared.c). */
struct rbd_shared {
	char header[128];     /* rbd_header.<id>: the record, in its omap */
	char chan[128];	      /* iopd_pr.<id>: watched and notified */
	pthread_mutex_t lock; /* the watch: set up, broken, undone */
	uint64_t cookie;
	bool wanted;	     /* between watch and unwatch */
	bool watching;	     /* cookie is a live watch */
	_Atomic bool broken; /* the watch failed: set it up again */
	ddm_shared_cb *cb;
	void *arg;
};

struct rbd_dev {
	struct rbd_settings set;
	struct rbd_shared sh;
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	bool connected, have_ioctx, have_image;
};

/* configure and what open needs from it (rbd_config.c). */
int rbd_configure(struct ddm_dev *dev, const char *key, const char *value);
int rbd_connect(struct ddm_dev *dev, struct rbd_dev *rd);
void rbd_settings_free(struct rbd_settings *set);
extern const char *const rbd_option_keys[];

/* rbd_shared.c: the metadata shared by the gateways exporting an image
 * (ddm_ops.shared), and what close undoes of it. */
extern const struct ddm_shared_ops rbd_shared_ops;
void rbd_shared_init(struct rbd_dev *rd);
void rbd_shared_close(struct ddm_dev *dev);

/* ddm_ops.list: the images of a pool (rbd_pool.c). */
int rbd_pool_list(const struct ddm_option *options, unsigned int n_options,
		  ddm_list_fn found, void *arg);

/* The image of an open rbd device; NULL when dev is not one.  Use only
 * while the device is open, and only librbd calls that are safe next to
 * the DDM's own asynchronous I/O. */
rbd_image_t rbd_dev_image(struct ddm_dev *dev);

#endif
