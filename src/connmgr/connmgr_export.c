// SPDX-License-Identifier: MIT
/*
 * IOP descriptors and the export table.  One descriptor per IOP (the
 * Local Transport's function table plus its context); each export names a
 * device in one IOP.  Remote Transports see the table through struct
 * conn_exports only.
 *
 * The table changes while iopd runs.  Only the management thread changes
 * it, under cm->lock; workers look exports up under the same lock (at
 * handshake time only, never on the data path).  An export being removed
 * leaves the table first, then every worker stops the connections whose
 * conn_stats.export is that export, and its memory is freed once they
 * have closed: the callback posted to each worker is also the point after
 * which no worker can still hold a pointer it looked up before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"

/* Looking up, for the Remote Transports ---------------------------------- */

struct connmgr_export *connmgr_export_by_name(struct connmgr *cm,
					      const char *name)
{
	for (unsigned int i = 0; i < cm->n_exports; i++)
		if (!strcmp(cm->exports[i]->pub.name, name))
			return cm->exports[i];
	return NULL;
}

static struct connmgr_export *connmgr_export_default(struct connmgr *cm)
{
	struct connmgr_export *e = NULL;

	if (cm->default_export)
		e = connmgr_export_by_name(cm, cm->default_export);
	if (!e && cm->n_exports)
		e = cm->exports[0];
	return e;
}

static const struct conn_export *connmgr_view_find(void *opaque,
						   const char *name)
{
	struct connmgr *cm = opaque;
	struct connmgr_export *e;

	pthread_mutex_lock(&cm->lock);
	e = name[0] ? connmgr_export_by_name(cm, name)
		    : connmgr_export_default(cm);
	pthread_mutex_unlock(&cm->lock);
	return e ? &e->pub : NULL;
}

static unsigned int connmgr_view_count(void *opaque)
{
	struct connmgr *cm = opaque;
	unsigned int n;

	pthread_mutex_lock(&cm->lock);
	n = cm->n_exports;
	pthread_mutex_unlock(&cm->lock);
	return n;
}

static const struct conn_export *connmgr_view_at(void *opaque, unsigned int i)
{
	struct connmgr *cm = opaque;
	const struct conn_export *exp;

	pthread_mutex_lock(&cm->lock);
	exp = i < cm->n_exports ? &cm->exports[i]->pub : NULL;
	pthread_mutex_unlock(&cm->lock);
	return exp;
}

/* IOPs ----------------------------------------------------------------------
 */

static struct iop_desc *connmgr_desc_find(struct connmgr *cm, const char *name)
{
	for (unsigned int i = 0; i < cm->n_descs; i++)
		if (!strcmp(cm->descs[i]->name, name))
			return cm->descs[i];
	return NULL;
}

static int connmgr_desc_new(struct connmgr *cm, void *ctx)
{
	struct iop_desc **descs, *desc;

	descs = realloc(cm->descs, (cm->n_descs + 1) * sizeof(*descs));
	if (!descs)
		return -ENOMEM;
	cm->descs = descs;
	desc = calloc(1, sizeof(*desc));
	if (!desc)
		return -ENOMEM;
	desc->ops = &local_desc_ops;
	desc->ctx = ctx;
	desc->index = cm->n_descs;
	desc->name = local_iop_name(ctx);
	pthread_mutex_lock(&cm->lock);
	cm->descs[cm->n_descs++] = desc;
	pthread_mutex_unlock(&cm->lock);
	return 0;
}

static void connmgr_zombies_reap(struct connmgr *cm);

int connmgr_iop_add(struct connmgr *cm, const struct local_iop_spec *spec)
{
	void *ctx;
	int ret;

	connmgr_zombies_reap(cm);
	ret = local_iop_add(cm->local, spec, &ctx);
	if (ret < 0)
		return ret;
	ret = connmgr_desc_new(cm, ctx);
	if (ret < 0)
		local_iop_remove(cm->local, ctx);
	return ret;
}

/* Close desc's IOP unless an export, or a removed export other than
 * except that a connection may still reach it through, uses it. */
static int connmgr_iop_close(struct connmgr *cm, struct iop_desc *desc,
			     const struct connmgr_export *except)
{
	const char *name = desc->name;
	unsigned int i;
	int ret;

	for (i = 0; i < cm->n_exports; i++) {
		if (cm->exports[i]->pub.desc == desc) {
			log_error("iop %s: export %s uses it", name,
				  cm->exports[i]->pub.name);
			return -EBUSY;
		}
	}
	for (struct connmgr_export *z = cm->zombies; z; z = z->next_zombie) {
		if (z != except && z->pub.desc == desc) {
			log_error("iop %s: clients of the removed export %s "
				  "still use it",
				  name, z->pub.name);
			return -EBUSY;
		}
	}
	ret = local_iop_remove(cm->local, desc->ctx);
	if (ret < 0) {
		log_error("iop %s: cannot close it: %s", name, strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&cm->lock);
	for (i = 0; cm->descs[i] != desc; i++)
		;
	memmove(&cm->descs[i], &cm->descs[i + 1],
		(cm->n_descs - i - 1) * sizeof(*cm->descs));
	cm->n_descs--;
	for (i = 0; i < cm->n_descs; i++)
		cm->descs[i]->index = i;
	pthread_mutex_unlock(&cm->lock);
	free(desc);
	return 0;
}

int connmgr_iop_remove(struct connmgr *cm, const char *name)
{
	struct iop_desc *desc;

	connmgr_zombies_reap(cm);
	desc = connmgr_desc_find(cm, name);
	if (!desc) {
		log_error("iop %s: no such IOP", name);
		return -ENOENT;
	}
	return connmgr_iop_close(cm, desc, NULL);
}

int connmgr_iop_rename(struct connmgr *cm, const char *name,
		       const char *new_name)
{
	struct iop_desc *desc = connmgr_desc_find(cm, name);
	int ret;

	if (!desc) {
		log_error("iop %s: no such IOP", name);
		return -ENOENT;
	}
	if (connmgr_desc_find(cm, new_name)) {
		log_error("iop %s: exists already", new_name);
		return -EEXIST;
	}
	pthread_mutex_lock(&cm->lock);
	ret = local_iop_rename(desc->ctx, new_name);
	desc->name = local_iop_name(desc->ctx);
	pthread_mutex_unlock(&cm->lock);
	return ret;
}

struct iop_desc *connmgr_iop_at(struct connmgr *cm, unsigned int i)
{
	return i < cm->n_descs ? cm->descs[i] : NULL;
}

/* Adding and listing exports -------------------------------------------- */

void connmgr_acl_free(struct base_acl *acl)
{
	if (acl)
		base_acl_fini(acl);
	free(acl);
}

/* A copy of acl, or NULL for an empty one (every address). */
int connmgr_acl_dup(const struct base_acl *acl, struct base_acl **out)
{
	*out = NULL;
	if (!acl || base_acl_is_empty(acl))
		return 0;
	*out = calloc(1, sizeof(**out));
	if (!*out || base_acl_copy(*out, acl) < 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

void connmgr_strv_free(const char *const *v)
{
	for (const char *const *p = v; p && *p; p++)
		free((char *)*p);
	free((void *)v);
}

/* A copy of a NULL-terminated list; NULL stays NULL.  -ENOMEM. */
int connmgr_strv_dup(const char *const *src, const char *const **out)
{
	size_t n = 0;
	char **v;

	*out = NULL;
	if (!src)
		return 0;
	while (src[n])
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*out = (const char *const *)v;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(src[i])))
			return -ENOMEM;
	return 0;
}

static void connmgr_export_free(struct connmgr_export *e)
{
	if (!e)
		return;
	connmgr_strv_free(e->pub.tls.dn_allow);
	connmgr_strv_free(e->pub.tls.psk_allow);
	free((char *)e->pub.name);
	free((char *)e->pub.description);
	free(e->iop_name);
	free(e->dev_name);
	connmgr_acl_free(e->acl);
	free(e);
}

int connmgr_export_add(struct connmgr *cm,
		       const struct connmgr_export_spec *spec)
{
	struct connmgr_export **exports, *e;
	struct iop_desc *desc;
	int dev;

	connmgr_zombies_reap(cm);
	if (!spec->name[0] || strlen(spec->name) > 4096) {
		log_error("export \"%s\": a name must have 1 to 4096 bytes",
			  spec->name);
		return -EINVAL;
	}
	if (connmgr_export_by_name(cm, spec->name)) {
		log_error("export %s: exists already", spec->name);
		return -EEXIST;
	}
	desc = connmgr_desc_find(cm, spec->iop);
	dev = desc ? local_iop_dev_find(desc->ctx, spec->dev) : -ENOENT;
	if (dev < 0) {
		log_error("export %s: no device %s in IOP %s", spec->name,
			  spec->dev, spec->iop);
		return -ENOENT;
	}
	exports = realloc(cm->exports, (cm->n_exports + 1) * sizeof(*exports));
	if (!exports)
		return -ENOMEM;
	cm->exports = exports;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->pub.name = strdup(spec->name);
	e->pub.description =
		spec->description ? strdup(spec->description) : NULL;
	e->iop_name = strdup(spec->iop);
	e->dev_name = strdup(spec->dev);
	e->pub.tls.required = spec->tls.required;
	if (!e->pub.name || (spec->description && !e->pub.description) ||
	    !e->iop_name || !e->dev_name ||
	    connmgr_acl_dup(spec->acl, &e->acl) < 0 ||
	    connmgr_strv_dup(spec->tls.dn_allow, &e->pub.tls.dn_allow) < 0 ||
	    connmgr_strv_dup(spec->tls.psk_allow, &e->pub.tls.psk_allow) < 0) {
		connmgr_export_free(e);
		return -ENOMEM;
	}
	e->pub.desc = desc;
	e->pub.dev_index = (unsigned int)dev;
	e->pub.read_only = spec->read_only;
	e->pub.protocols = spec->protocols ? spec->protocols : CONN_PROTO_ALL;
	e->pub.acl = e->acl;
	e->iop_owned = spec->iop_owned;
	pthread_mutex_lock(&cm->lock);
	cm->exports[cm->n_exports++] = e;
	pthread_mutex_unlock(&cm->lock);
	return 0;
}

static void connmgr_export_fill(struct connmgr *cm, struct connmgr_export *e,
				struct connmgr_export_info *info)
{
	info->name = e->pub.name;
	info->description = e->pub.description;
	info->iop = e->iop_name;
	info->dev = e->dev_name;
	info->read_only = e->pub.read_only;
	info->iop_owned = e->iop_owned;
	info->is_default = e == connmgr_export_default(cm);
	info->protocols = e->pub.protocols;
	info->acl = e->acl;
	info->desc = e->pub.desc;
	info->dev_index = e->pub.dev_index;
}

int connmgr_export_info(struct connmgr *cm, unsigned int i,
			struct connmgr_export_info *info)
{
	if (i >= cm->n_exports)
		return -ENOENT;
	connmgr_export_fill(cm, cm->exports[i], info);
	return 0;
}

int connmgr_export_lookup(struct connmgr *cm, const char *name,
			  struct connmgr_export_info *info)
{
	struct connmgr_export *e = connmgr_export_by_name(cm, name);

	if (!e)
		return -ENOENT;
	connmgr_export_fill(cm, e, info);
	return 0;
}

/* Take export name out of the table, so new clients stop finding it;
 * retiring marks it for good.  Returns it and its index, or NULL after
 * logging. */
static struct connmgr_export *connmgr_export_unlink(struct connmgr *cm,
						    const char *name,
						    bool retiring,
						    unsigned int *index)
{
	struct connmgr_export *e = connmgr_export_by_name(cm, name);
	unsigned int i;

	if (!e) {
		log_error("export %s: no such export", name);
		return NULL;
	}
	pthread_mutex_lock(&cm->lock);
	for (i = 0; cm->exports[i] != e; i++)
		;
	memmove(&cm->exports[i], &cm->exports[i + 1],
		(cm->n_exports - i - 1) * sizeof(*cm->exports));
	cm->n_exports--;
	if (retiring)
		e->retiring = true;
	pthread_mutex_unlock(&cm->lock);
	*index = i;
	return e;
}

/* A callback that does nothing: once every worker has run it, none
 * holds a pointer it looked up before. */
static void connmgr_barrier_on(struct connmgr_worker *w, void *arg)
{
}

int connmgr_export_exclusive(struct connmgr *cm, const char *name,
			     int (*fn)(struct iop_desc *desc,
				       unsigned int dev_index, void *arg),
			     void *arg)
{
	unsigned int i;
	struct connmgr_export *e = connmgr_export_unlink(cm, name, false, &i);
	int ret;

	if (!e)
		return -ENOENT;
	/* After the barrier no worker holds a pointer it looked up before;
	 * sessions opened before are what fn checks for. */
	ret = connmgr_workers_call(cm, connmgr_barrier_on, NULL);
	if (ret == 0)
		ret = fn(e->pub.desc, e->pub.dev_index, arg);
	/* Back at its place: the array still has room for it. */
	pthread_mutex_lock(&cm->lock);
	memmove(&cm->exports[i + 1], &cm->exports[i],
		(cm->n_exports - i) * sizeof(*cm->exports));
	cm->exports[i] = e;
	cm->n_exports++;
	pthread_mutex_unlock(&cm->lock);
	return ret;
}

/* Removing an export ----------------------------------------------------- */

bool connmgr_conn_uses(struct connmgr_conn *conn,
		       const struct connmgr_export *e)
{
	if (conn->transport->conn_uses)
		return conn->transport->conn_uses(conn->rc, &e->pub);
	return conn->stats.export == &e->pub;
}

/* Worker: stop every connection on the export being removed. */
static void connmgr_export_retire_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_export *e = arg;
	struct connmgr *cm = w->cm;
	struct connmgr_conn *conn, *next;
	unsigned int n = 0;

	for (conn = w->conns.next; conn != &w->conns; conn = conn->next) {
		if (!conn->retiring && connmgr_conn_uses(conn, e)) {
			conn->retiring = e;
			n++;
		}
	}
	pthread_mutex_lock(&cm->lock);
	e->conns_left += n;
	pthread_mutex_unlock(&cm->lock);
	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		if (conn->retiring == e)
			conn->transport->conn_shutdown(conn->rc);
	}
}

/* Worker: the drain timed out; drop what is left now. */
static void connmgr_export_abort_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_export *e = arg;
	struct connmgr_conn *conn, *next;

	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		if (conn->retiring == e)
			conn->transport->conn_abort(conn->rc);
	}
}

void connmgr_export_conn_closed(struct connmgr *cm, struct connmgr_conn *conn)
{
	struct connmgr_export *e = conn->retiring;

	if (!e)
		return;
	pthread_mutex_lock(&cm->lock);
	e->conns_left--;
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);
}

/* Wait until the export's connections have closed, or ms have passed. */
static int connmgr_export_wait(struct connmgr *cm, struct connmgr_export *e,
			       unsigned int ms)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cm->lock);
	while (e->conns_left && ret == 0)
		ret = -pthread_cond_timedwait(&cm->cond, &cm->lock, &deadline);
	ret = e->conns_left ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&cm->lock);
	return ret;
}

int connmgr_export_remove(struct connmgr *cm, const char *name)
{
	unsigned int i, left;
	struct connmgr_export *e = connmgr_export_unlink(cm, name, true, &i);
	int ret, sync_ret;

	if (!e)
		return -ENOENT;

	ret = connmgr_workers_call(cm, connmgr_export_retire_on, e);
	if (ret == 0)
		ret = connmgr_export_wait(cm, e, cm->cfg.drain_timeout_ms);
	if (ret == -ETIMEDOUT) {
		log_warn("export %s: clients still connected after %u ms: "
			 "closing them",
			 name, cm->cfg.drain_timeout_ms);
		ret = connmgr_workers_call(cm, connmgr_export_abort_on, e);
		if (ret == 0)
			ret = connmgr_export_wait(cm, e, 10000);
	}
	pthread_mutex_lock(&cm->lock);
	left = e->conns_left;
	pthread_mutex_unlock(&cm->lock);
	/* Removal is a flush point: what its clients wrote is made durable
	 * now, even if others still share the device (logged, sticky). */
	sync_ret = local_iop_dev_sync(e->pub.desc->ctx, e->pub.dev_index);
	if (sync_ret < 0)
		log_error("export %s: the flush on removal failed: %s", name,
			  strerror(-sync_ret));
	/* A session still open on its device may still point at it (a
	 * transport that did not say it uses it): keep the memory. */
	if (ret == 0 && !left) {
		struct local_dev_info dev = { .sessions = 0 };

		local_iop_dev_info(e->pub.desc->ctx, e->pub.dev_index, &dev);
		if (dev.sessions) {
			/* Legitimate when other exports share the device. */
			if (e->iop_owned)
				log_warn("export %s: removed, but %u sessions "
					 "remain on its device",
					 name, dev.sessions);
			e->next_zombie = cm->zombies;
			cm->zombies = e;
			return sync_ret;
		}
	}
	if (ret < 0 || left) {
		/* Shutting down, or a connection that will not die: its
		 * memory goes with the Connection Manager. */
		log_warn("export %s: removed, %u connections still closing",
			 name, left);
		e->next_zombie = cm->zombies;
		cm->zombies = e;
		return ret < 0 ? ret : -ETIMEDOUT;
	}
	log_info("export %s: removed", name);
	if (e->iop_owned)
		connmgr_iop_remove(cm, e->iop_name);
	connmgr_export_free(e);
	return sync_ret;
}

/*
 * Free the removed exports whose last connection or session has gone
 * since (and close their own IOPs), so that their names can be used
 * again.  Management thread, before adding anything.
 */
static void connmgr_zombies_reap(struct connmgr *cm)
{
	struct connmgr_export **pp = &cm->zombies, *e;

	while ((e = *pp)) {
		struct local_dev_info dev = { .sessions = 0 };
		unsigned int left;

		pthread_mutex_lock(&cm->lock);
		left = e->conns_left;
		pthread_mutex_unlock(&cm->lock);
		local_iop_dev_info(e->pub.desc->ctx, e->pub.dev_index, &dev);
		if (left || dev.sessions ||
		    (e->iop_owned &&
		     connmgr_iop_close(cm, e->pub.desc, e) < 0)) {
			pp = &e->next_zombie;
			continue;
		}
		*pp = e->next_zombie;
		log_debug("export %s: its last user went", e->pub.name);
		connmgr_export_free(e);
	}
}

/* Start-up and shutdown --------------------------------------------------- */

int connmgr_exports_build(struct connmgr *cm, struct local *local)
{
	const struct connmgr_config *cfg = &cm->cfg;
	int ret;

	cm->local = local;
	cm->view.find = connmgr_view_find;
	cm->view.count = connmgr_view_count;
	cm->view.at = connmgr_view_at;
	cm->view.opaque = cm;
	cm->view.list_hidden = cfg->list_hidden;
	/* Claim 23: ask the Local Transport how many IOPs there are, then
	 * build one descriptor per IOP. */
	for (unsigned int i = 0; i < local_iop_count(local); i++) {
		ret = connmgr_desc_new(cm, local_iop_context(local, i));
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < cfg->n_exports; i++) {
		ret = connmgr_export_add(cm, &cfg->exports[i]);
		if (ret < 0)
			return ret;
	}
	if (cfg->default_export) {
		if (!cfg->default_export[0] ||
		    !connmgr_export_by_name(cm, cfg->default_export)) {
			log_error("default export %s: no such export",
				  cfg->default_export);
			return -ENOENT;
		}
		cm->default_export = strdup(cfg->default_export);
		if (!cm->default_export)
			return -ENOMEM;
	} else if (cm->n_exports) {
		/* The first export stays the default while it exists, even
		 * when a reload re-creates it at the end of the table. */
		cm->default_export = strdup(cm->exports[0]->pub.name);
		if (!cm->default_export)
			return -ENOMEM;
	}
	cm->cfg.exports = NULL;
	cm->cfg.n_exports = 0;
	cm->cfg.default_export = NULL;
	return 0;
}

void connmgr_exports_free(struct connmgr *cm)
{
	for (unsigned int i = 0; i < cm->n_exports; i++)
		connmgr_export_free(cm->exports[i]);
	free(cm->exports);
	while (cm->zombies) {
		struct connmgr_export *e = cm->zombies;

		cm->zombies = e->next_zombie;
		connmgr_export_free(e);
	}
	for (unsigned int i = 0; i < cm->n_descs; i++)
		free(cm->descs[i]);
	free(cm->descs);
	free(cm->default_export);
}
