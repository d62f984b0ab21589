// SPDX-License-Identifier: MIT
/*
 * An RBD pool as an IOP (ddm_ops.list): the images of pool= (and
 * namespace=), for the Local Transport's discovery, so an operator exports
 * them by name.  The settings are the DDM's own (conf, id, keyring,
 * mon_host, the timeouts), parsed by the same configure as an export's,
 * and the listing connects as an open would, but waits 10 s at most for
 * an unanswering cluster unless they say otherwise (a pool that cannot be
 * listed keeps its earlier candidates: local_discover.c).  Each image is
 * opened read-only, only to learn its size: that takes no exclusive lock
 * from a client serving it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/rbd/rbd_priv.h"

/* Seconds a listing waits for the monitors or the OSDs, unless the
 * pool's options say otherwise. */
#define RBD_POOL_TIMEOUT "10"
static const char *const rbd_pool_timeouts[] = {
	"client_mount_timeout",
	"rados_mon_op_timeout",
	"rados_osd_op_timeout",
	NULL,
};

static void rbd_pool_release(struct rbd_dev *rd)
{
	if (rd->have_ioctx)
		rados_ioctx_destroy(rd->ioctx);
	if (rd->connected)
		rados_shutdown(rd->cluster);
	rd->have_ioctx = rd->connected = false;
	rbd_settings_free(&rd->set);
}

/* rbd_list2's answer, asking again with room for all when it grew. */
static int rbd_pool_names(struct ddm_dev *dev, struct rbd_dev *rd,
			  rbd_image_spec_t **specs, size_t *n)
{
	size_t max = 64;
	int ret;

	for (;;) {
		*specs = calloc(max, sizeof(**specs));
		if (!*specs)
			return -ENOMEM;
		*n = max;
		ret = rbd_list2(rd->ioctx, *specs, n);
		if (ret >= 0)
			return 0;
		free(*specs);
		*specs = NULL;
		if (ret != -ERANGE || *n <= max) {
			log_error("%s: rbd: listing pool %s: %s", dev->name,
				  rd->set.pool, strerror(-ret));
			return ret;
		}
		max = *n;
	}
}

/* One image: its size from a read-only open (it may vanish meanwhile:
 * then it is not listed). */
static void rbd_pool_one(struct rbd_dev *rd, const rbd_image_spec_t *spec,
			 ddm_list_fn found, void *arg)
{
	char value[1024];
	struct ddm_listed l = { .name = spec->name };
	rbd_image_t img;

	if (rbd_open_by_id_read_only(rd->ioctx, spec->id, &img, NULL) < 0)
		return;
	if (rbd_get_size(img, &l.size_bytes) < 0)
		l.size_bytes = 0;
	rbd_close(img);
	if (snprintf(value, sizeof(value), "%s/%s%s%s", rd->set.pool,
		     rd->set.ns ? rd->set.ns : "", rd->set.ns ? "/" : "",
		     spec->name) >= (int)sizeof(value))
		return;
	l.spec_value = value;
	found(arg, &l);
}

/* ddm_dev_open checks an export's keys before configure; here that is
 * ours to do. */
static int rbd_pool_key_known(const char *key)
{
	for (const char *const *k = rbd_option_keys; *k; k++)
		if (!strcmp(*k, key))
			return 0;
	log_error("discover: rbd: unknown option \"%s\"", key);
	return -EINVAL;
}

static int rbd_pool_list_masked(const struct ddm_option *options,
				unsigned int n_options, ddm_list_fn found,
				void *arg)
{
	struct rbd_dev rd = { .connected = false };
	struct ddm_dev dev = { .ops = &ddm_rbd_ops,
			       .name = "discover",
			       .priv = &rd };
	rbd_image_spec_t *specs = NULL;
	size_t n = 0;
	int ret = 0;

	/* A scan runs on the management thread: a cluster that does not
	 * answer must not hold it for librados' minutes (the pool's own
	 * settings, applied after, win). */
	for (const char *const *k = rbd_pool_timeouts; ret == 0 && *k; k++)
		ret = rbd_configure(&dev, *k, RBD_POOL_TIMEOUT);
	for (unsigned int i = 0; ret == 0 && i < n_options; i++) {
		ret = rbd_pool_key_known(options[i].key);
		if (ret == 0)
			ret = rbd_configure(&dev, options[i].key,
					    options[i].value ? options[i].value
							     : "");
	}
	if (ret < 0)
		return ret; /* logged; configure freed the settings */
	if (!rd.set.pool || rd.set.image || rd.set.snap) {
		log_error("discover: rbd: give pool= (and not image= or "
			  "snap=) to list a pool's images");
		rbd_settings_free(&rd.set);
		return -EINVAL;
	}
	ret = rbd_connect(&dev, &rd);
	if (ret == 0)
		ret = rbd_pool_names(&dev, &rd, &specs, &n);
	for (size_t i = 0; ret == 0 && i < n; i++)
		rbd_pool_one(&rd, &specs[i], found, arg);
	if (specs) {
		rbd_image_spec_list_cleanup(specs, n);
		free(specs);
	}
	rbd_pool_release(&rd);
	return ret;
}

/* Signals blocked while librados starts its threads: see rbd_dev_open. */
int rbd_pool_list(const struct ddm_option *options, unsigned int n_options,
		  ddm_list_fn found, void *arg)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = rbd_pool_list_masked(options, n_options, found, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}
