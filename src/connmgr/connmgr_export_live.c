// SPDX-License-Identifier: MIT
/*
 * Changing a live export: read-only, the default export, its description,
 * who may reach it, hiding the export list, and kicking its clients.  The
 * management thread makes each change; where workers hold what changes,
 * they are paused between two callbacks (connmgr_call.c) or each is sent
 * the export to act on its own connections.  The table itself is in
 * connmgr_export.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"

int connmgr_export_set_read_only(struct connmgr *cm, const char *name,
				 bool read_only)
{
	struct connmgr_export *e = connmgr_export_by_name(cm, name);

	if (!e) {
		log_error("export %s: no such export", name);
		return -ENOENT;
	}
	/* A worker reads it when it opens a session. */
	pthread_mutex_lock(&cm->lock);
	e->pub.read_only = read_only;
	pthread_mutex_unlock(&cm->lock);
	log_info("export %s: %s for new connections", name,
		 read_only ? "read-only" : "writable");
	return 0;
}

int connmgr_default_export_set(struct connmgr *cm, const char *name)
{
	char *copy = NULL;

	if (name && name[0]) {
		if (!connmgr_export_by_name(cm, name)) {
			log_error("default export %s: no such export", name);
			return -ENOENT;
		}
		copy = strdup(name);
		if (!copy)
			return -ENOMEM;
	}
	pthread_mutex_lock(&cm->lock);
	free(cm->default_export);
	cm->default_export = copy;
	pthread_mutex_unlock(&cm->lock);
	return 0;
}

struct connmgr_describe {
	struct connmgr_export *e;
	char *text; /* in: the new one; out: the old one */
};

static void connmgr_describe_paused(struct connmgr *cm, void *arg)
{
	struct connmgr_describe *d = arg;
	char *old = (char *)d->e->pub.description;

	d->e->pub.description = d->text;
	d->text = old;
}

int connmgr_export_set_description(struct connmgr *cm, const char *name,
				   const char *description)
{
	struct connmgr_describe d = { .e = connmgr_export_by_name(cm, name) };
	int ret;

	if (!d.e) {
		log_error("export %s: no such export", name);
		return -ENOENT;
	}
	if (description && !(d.text = strdup(description)))
		return -ENOMEM;
	/* Workers read it outside the lock (a handshake's option, a login's
	 * first PDU, a listing), length then bytes: change it while none is
	 * in a callback. */
	ret = connmgr_workers_pause(cm, connmgr_describe_paused, &d);
	free(d.text);
	return ret;
}

struct connmgr_access {
	struct connmgr_export *e;
	unsigned int protocols;
	struct base_acl *acl;	    /* in: the new one; out: the old one */
	struct conn_tls_policy tls; /* in: the new one; out: the old one */
	unsigned int n; /* connections asked to end, under cm->lock */
};

static void connmgr_access_paused(struct connmgr *cm, void *arg)
{
	struct connmgr_access *a = arg;
	struct base_acl *old = a->e->acl;
	struct conn_tls_policy old_tls = a->e->pub.tls;

	a->e->pub.protocols = a->protocols;
	a->e->acl = a->acl;
	a->e->pub.acl = a->acl;
	a->acl = old;
	a->e->pub.tls = a->tls;
	a->tls = old_tls;
}

/* Does the export's rules now refuse conn (its worker thread)? */
static bool connmgr_access_refuses(struct connmgr_conn *conn,
				   const struct conn_export *exp)
{
	unsigned int proto = remote_proto_bit(conn->transport->name);
	const struct sockaddr *peer =
		conn->peer_addr.ss_family == AF_INET ||
				conn->peer_addr.ss_family == AF_INET6
			? (const struct sockaddr *)&conn->peer_addr
			: NULL;

	if (remote_export_access(exp, proto, peer) < 0)
		return true;
	/* The TLS policy is NBD's (STARTTLS); iSCSI has its own CHAP. */
	return proto == CONN_PROTO_NBD &&
	       remote_conn_tls_access(conn->rc, exp) < 0;
}

/* Worker: end the export's connections that its new rules refuse. */
static void connmgr_access_check_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_access *a = arg;
	struct connmgr_conn *conn, *next;
	unsigned int n = 0;

	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		if (!connmgr_conn_uses(conn, a->e) ||
		    !connmgr_access_refuses(conn, &a->e->pub))
			continue;
		log_info("%s: export %s: no longer allowed, disconnecting",
			 conn->peer, a->e->pub.name);
		conn->transport->conn_shutdown(conn->rc);
		n++;
	}
	pthread_mutex_lock(&w->cm->lock);
	a->n += n;
	pthread_mutex_unlock(&w->cm->lock);
}

/* The policy's lists, copied into a->tls. */
static int connmgr_access_tls_dup(struct connmgr_access *a,
				  const struct conn_tls_policy *tls)
{
	a->tls.required = tls && tls->required;
	if (!tls)
		return 0;
	if (connmgr_strv_dup(tls->dn_allow, &a->tls.dn_allow) < 0 ||
	    connmgr_strv_dup(tls->psk_allow, &a->tls.psk_allow) < 0)
		return -ENOMEM;
	return 0;
}

static void connmgr_access_tls_free(struct connmgr_access *a)
{
	connmgr_strv_free(a->tls.dn_allow);
	connmgr_strv_free(a->tls.psk_allow);
}

int connmgr_export_set_access(struct connmgr *cm, const char *name,
			      unsigned int protocols,
			      const struct base_acl *acl,
			      const struct conn_tls_policy *tls)
{
	struct connmgr_access a = { .e = connmgr_export_by_name(cm, name) };
	int ret;

	if (!a.e) {
		log_error("export %s: no such export", name);
		return -ENOENT;
	}
	a.protocols = protocols ? protocols : CONN_PROTO_ALL;
	if (connmgr_access_tls_dup(&a, tls) < 0 ||
	    connmgr_acl_dup(acl, &a.acl) < 0) {
		connmgr_access_tls_free(&a);
		return -ENOMEM;
	}
	/* Workers read them outside the lock, in the callback that looked
	 * the export up: change them while none is in a callback. */
	ret = connmgr_workers_pause(cm, connmgr_access_paused, &a);
	connmgr_acl_free(a.acl);
	connmgr_access_tls_free(&a);
	if (ret < 0)
		return ret;
	ret = connmgr_workers_call(cm, connmgr_access_check_on, &a);
	if (ret < 0)
		return ret;
	log_info("export %s: access changed; %u connections refused now", name,
		 a.n);
	return (int)a.n;
}

static void connmgr_list_hidden_paused(struct connmgr *cm, void *arg)
{
	cm->view.list_hidden = *(bool *)arg;
}

int connmgr_list_hidden_set(struct connmgr *cm, bool hidden)
{
	return connmgr_workers_pause(cm, connmgr_list_hidden_paused, &hidden);
}

struct connmgr_kick {
	const struct connmgr_export *e;
	unsigned int n; /* under cm->lock */
};

static void connmgr_export_kick_on(struct connmgr_worker *w, void *arg)
{
	struct connmgr_kick *kick = arg;
	struct connmgr_conn *conn, *next;
	unsigned int n = 0;

	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		if (connmgr_conn_uses(conn, kick->e)) {
			conn->transport->conn_shutdown(conn->rc);
			n++;
		}
	}
	pthread_mutex_lock(&w->cm->lock);
	kick->n += n;
	pthread_mutex_unlock(&w->cm->lock);
}

int connmgr_export_kick(struct connmgr *cm, const char *name)
{
	struct connmgr_kick kick = { .e = connmgr_export_by_name(cm, name) };
	int ret;

	if (!kick.e) {
		log_error("export %s: no such export", name);
		return -ENOENT;
	}
	ret = connmgr_workers_call(cm, connmgr_export_kick_on, &kick);
	if (ret < 0)
		return ret;
	log_info("export %s: asked its %u connections to reconnect", name,
		 kick.n);
	return (int)kick.n;
}
