// SPDX-License-Identifier: MIT
/*
 * The rbd DDM's settings (ddm_ops.configure) and its connection to the
 * cluster.  The spec "rbd:POOL/IMAGE@SNAP" arrives as image=POOL/IMAGE@SNAP
 * and is split here like rbd(8) splits it ([POOL/[NAMESPACE/]]IMAGE[@SNAP]);
 * pool=, namespace= and snap= given as well win whichever comes later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/rbd/rbd_priv.h"

const char *const rbd_option_keys[] = {
	"image",
	"pool",
	"namespace",
	"snap",
	"conf",
	"id",
	"keyring",
	"mon_host",
	"rados_osd_op_timeout",
	"rados_mon_op_timeout",
	"client_mount_timeout",
	NULL,
};

void rbd_settings_free(struct rbd_settings *set)
{
	char **all[] = { &set->pool,	       &set->ns,
			 &set->image,	       &set->snap,
			 &set->conf,	       &set->id,
			 &set->keyring,	       &set->mon_host,
			 &set->osd_op_timeout, &set->mon_op_timeout,
			 &set->mount_timeout };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

static int rbd_set_str(char **slot, const char *value, size_t len)
{
	char *copy = strndup(value, len);

	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* [POOL/[NAMESPACE/]]IMAGE[@SNAP] */
static int rbd_set_image(struct ddm_dev *dev, struct rbd_settings *set,
			 const char *value)
{
	const char *img = value, *at, *s1 = strchr(value, '/'), *s2 = NULL;
	int ret = 0;

	if (s1) {
		s2 = strchr(s1 + 1, '/');
		ret = rbd_set_str(&set->pool, value, (size_t)(s1 - value));
		if (ret == 0 && s2)
			ret = rbd_set_str(&set->ns, s1 + 1,
					  (size_t)(s2 - s1 - 1));
		img = s2 ? s2 + 1 : s1 + 1;
	}
	at = strchr(img, '@');
	if (ret == 0 && at)
		ret = rbd_set_str(&set->snap, at + 1, strlen(at + 1));
	if (ret == 0)
		ret = rbd_set_str(&set->image, img,
				  at ? (size_t)(at - img) : strlen(img));
	if (ret == 0 &&
	    (!set->image[0] || strchr(img, '/') ||
	     (set->pool && !set->pool[0]) || (set->snap && !set->snap[0]))) {
		log_error("%s: rbd: image=%s: expected "
			  "[POOL/[NAMESPACE/]]IMAGE[@SNAP]",
			  dev->name, value);
		ret = -EINVAL;
	}
	return ret;
}

/* A timeout in whole seconds, as librados takes it. */
static int rbd_set_seconds(struct ddm_dev *dev, char **slot, const char *key,
			   const char *value)
{
	char *end;
	unsigned long v = strtoul(value, &end, 10);

	if (!value[0] || *end || v > 86400) {
		log_error("%s: rbd: %s=%s: expected seconds (0 to 86400)",
			  dev->name, key, value);
		return -EINVAL;
	}
	return rbd_set_str(slot, value, strlen(value));
}

static int rbd_configure_one(struct ddm_dev *dev, const char *key,
			     const char *value)
{
	struct rbd_settings *set = &((struct rbd_dev *)dev->priv)->set;
	size_t n = strlen(value);

	if (!strcmp(key, "image"))
		return rbd_set_image(dev, set, value);
	if (!strcmp(key, "rados_osd_op_timeout"))
		return rbd_set_seconds(dev, &set->osd_op_timeout, key, value);
	if (!strcmp(key, "rados_mon_op_timeout"))
		return rbd_set_seconds(dev, &set->mon_op_timeout, key, value);
	if (!strcmp(key, "client_mount_timeout"))
		return rbd_set_seconds(dev, &set->mount_timeout, key, value);
	if (!n) {
		log_error("%s: rbd: %s: empty value", dev->name, key);
		return -EINVAL;
	}
	if (!strcmp(key, "pool"))
		return rbd_set_str(&set->pool, value, n);
	if (!strcmp(key, "namespace"))
		return rbd_set_str(&set->ns, value, n);
	if (!strcmp(key, "snap"))
		return rbd_set_str(&set->snap, value, n);
	if (!strcmp(key, "conf"))
		return rbd_set_str(&set->conf, value, n);
	if (!strcmp(key, "id"))
		return rbd_set_str(&set->id, value, n);
	if (!strcmp(key, "keyring"))
		return rbd_set_str(&set->keyring, value, n);
	if (!strcmp(key, "mon_host"))
		return rbd_set_str(&set->mon_host, value, n);
	/* ddm_dev_open checked the key against rbd_option_keys. */
	return -EINVAL;
}

/* open is not reached after a failed configure, so nothing collected so
 * far may stay behind. */
int rbd_configure(struct ddm_dev *dev, const char *key, const char *value)
{
	int ret = rbd_configure_one(dev, key, value);

	if (ret < 0)
		rbd_settings_free(&((struct rbd_dev *)dev->priv)->set);
	return ret;
}

/* The settings librados takes by name, after the config file. */
static int rbd_conf_apply(struct ddm_dev *dev, struct rbd_dev *rd)
{
	const struct rbd_settings *s = &rd->set;
	const char *names[] = { "keyring", "mon_host", "rados_osd_op_timeout",
				"rados_mon_op_timeout",
				"client_mount_timeout" };
	const char *values[] = { s->keyring, s->mon_host, s->osd_op_timeout,
				 s->mon_op_timeout, s->mount_timeout };
	int ret;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!values[i])
			continue;
		ret = rados_conf_set(rd->cluster, names[i], values[i]);
		if (ret < 0) {
			log_error("%s: rbd: %s=%s: %s", dev->name, names[i],
				  values[i], strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* rados_create, the config (conf=, else CEPH_CONF or /etc/ceph), the
 * settings, rados_connect and the pool's I/O context.  Blocks for at most
 * client_mount_timeout. */
int rbd_connect(struct ddm_dev *dev, struct rbd_dev *rd)
{
	const struct rbd_settings *s = &rd->set;
	int ret;

	ret = rados_create(&rd->cluster, s->id);
	if (ret < 0) {
		log_error("%s: rbd: rados_create: %s", dev->name,
			  strerror(-ret));
		return ret;
	}
	rd->connected = true; /* rados_shutdown from here on */
	ret = rados_conf_read_file(rd->cluster, s->conf);
	if (ret < 0 && (s->conf || !s->mon_host)) {
		log_error("%s: rbd: reading %s: %s", dev->name,
			  s->conf ? s->conf : "the Ceph configuration",
			  strerror(-ret));
		return ret;
	}
	ret = rbd_conf_apply(dev, rd);
	if (ret == 0)
		ret = rados_connect(rd->cluster);
	if (ret < 0) {
		log_error("%s: rbd: connecting to the cluster: %s", dev->name,
			  strerror(-ret));
		return ret;
	}
	ret = rados_ioctx_create(rd->cluster, s->pool, &rd->ioctx);
	if (ret < 0) {
		log_error("%s: rbd: pool %s: %s", dev->name, s->pool,
			  strerror(-ret));
		return ret;
	}
	rd->have_ioctx = true;
	if (s->ns)
		rados_ioctx_set_namespace(rd->ioctx, s->ns);
	return 0;
}
