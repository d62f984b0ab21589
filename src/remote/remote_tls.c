// SPDX-License-Identifier: MIT
/*
 * remote_tls: process-wide TLS credentials and the GnuTLS transform
 * (remote_tls.h).  GnuTLS runs over two memory buffers, never the socket:
 * pull takes from the bytes the stream read, push appends to the bytes
 * the stream will write.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "iopd/remote.h"
#include "remote/remote_engine.h"
#include "remote/remote_stream.h"
#include "remote/remote_tls.h"

/* Wire bytes received and not yet taken by GnuTLS: a few records. */
#define TLS_RX_BYTES (64u * 1024)
/* Wire bytes waiting to be written beyond which no more output is
 * encrypted (a client that stops reading must not grow our memory). */
#define TLS_TX_HIGH_BYTES (256u * 1024)
/* Output pieces below this are gathered into one record (cork). */
#define TLS_CORK_BYTES (16u * 1024)
/* File bytes copied per pread when zero copy falls back. */
#define TLS_FILE_CHUNK (64u * 1024)

struct tls_psk_key {
	char *identity;
	gnutls_datum_t key;
};

/* One generation of credentials; sessions hold a reference. */
struct tls_creds {
	atomic_int refs;
	gnutls_certificate_credentials_t x509; /* NULL: none */
	gnutls_psk_server_credentials_t psk;   /* NULL: none */
	struct tls_psk_key *keys;
	unsigned int n_keys;
	gnutls_priority_t prio;
	bool verify_peer;
};

static struct {
	pthread_mutex_t lock;
	enum remote_tls_mode mode;
	char *cert_dir, *psk_file, *priority;
	bool verify_peer;
	bool load; /* credentials wanted: mode on/require, or load_always */
	struct tls_creds *creds; /* under lock */
} tls_global = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct tls_buf {
	unsigned char *p;
	size_t start, end, cap;
};

struct remote_tls {
	struct remote_xform x; /* first */
	gnutls_session_t session;
	struct tls_creds *creds;
	const char *peer;
	/* out is filled by GnuTLS; wire is what the stream is writing, never
	 * moved while a write may be in flight (they swap when wire is
	 * empty). */
	struct tls_buf in, out, wire;
	bool handshaken, in_pump, again, bye_sent;
	bool key_update_due; /* the peer asked for our KeyUpdate */
	char *dn, *psk_identity;
	unsigned char *file_buf; /* TLS_FILE_CHUNK, for file bytes */
	char *own_peer;		 /* remote_tls_fd_session's copy of peer */
};

/* ---- credentials ---- */

static void tls_creds_put(struct tls_creds *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->x509)
		gnutls_certificate_free_credentials(c->x509);
	if (c->psk)
		gnutls_psk_free_server_credentials(c->psk);
	for (unsigned int i = 0; i < c->n_keys; i++) {
		free(c->keys[i].identity);
		gnutls_memset(c->keys[i].key.data, 0, c->keys[i].key.size);
		gnutls_free(c->keys[i].key.data);
	}
	free(c->keys);
	if (c->prio)
		gnutls_priority_deinit(c->prio);
	free(c);
}

static bool tls_file_exists(const char *dir, const char *name, char *path,
			    size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	return access(path, R_OK) == 0;
}

static int tls_gnutls_error(const char *what, const char *path, int ret)
{
	log_error("TLS: %s %s: %s", what, path, gnutls_strerror(ret));
	return -EINVAL;
}

/* ca-cert.pem, ca-crl.pem and the server's key pair from dir. */
static int tls_load_x509(struct tls_creds *c, const char *dir)
{
	char path[4096], key[4096];
	int ret = gnutls_certificate_allocate_credentials(&c->x509);

	if (ret < 0)
		return -ENOMEM;
	if (tls_file_exists(dir, "ca-cert.pem", path, sizeof(path))) {
		ret = gnutls_certificate_set_x509_trust_file(
			c->x509, path, GNUTLS_X509_FMT_PEM);
		if (ret < 0)
			return tls_gnutls_error("cannot read", path, ret);
	} else if (c->verify_peer) {
		log_error("TLS: --tls-verify-peer needs %s", path);
		return -ENOENT;
	}
	if (tls_file_exists(dir, "ca-crl.pem", path, sizeof(path))) {
		ret = gnutls_certificate_set_x509_crl_file(c->x509, path,
							   GNUTLS_X509_FMT_PEM);
		if (ret < 0)
			return tls_gnutls_error("cannot read", path, ret);
	}
	tls_file_exists(dir, "server-cert.pem", path, sizeof(path));
	tls_file_exists(dir, "server-key.pem", key, sizeof(key));
	ret = gnutls_certificate_set_x509_key_file(c->x509, path, key,
						   GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return tls_gnutls_error("cannot read", path, ret);
	gnutls_certificate_set_known_dh_params(c->x509,
					       GNUTLS_SEC_PARAM_MEDIUM);
	return 0;
}

/* One "identity:hexkey" line of a psktool file. */
static int tls_psk_line(struct tls_creds *c, char *line, const char *path,
			unsigned int lineno)
{
	char *colon = strchr(line, ':');
	gnutls_datum_t hex;
	struct tls_psk_key *k;
	int ret;

	line[strcspn(line, "\r\n")] = '\0';
	if (!line[0] || line[0] == '#')
		return 0;
	if (!colon || colon == line) {
		log_error("TLS: %s:%u: not identity:hexkey", path, lineno);
		return -EINVAL;
	}
	*colon = '\0';
	k = realloc(c->keys, (c->n_keys + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	c->keys = k;
	k = &c->keys[c->n_keys];
	hex.data = (unsigned char *)colon + 1;
	hex.size = (unsigned int)strlen(colon + 1);
	ret = gnutls_hex_decode2(&hex, &k->key);
	if (ret < 0 || k->key.size == 0) {
		log_error("TLS: %s:%u: the key is not hexadecimal", path,
			  lineno);
		return -EINVAL;
	}
	k->identity = strdup(line);
	if (!k->identity) {
		gnutls_free(k->key.data);
		return -ENOMEM;
	}
	c->n_keys++;
	return 0;
}

static int tls_psk_lookup(gnutls_session_t session, const char *identity,
			  gnutls_datum_t *key)
{
	struct remote_tls *t = gnutls_session_get_ptr(session);
	const struct tls_creds *c = t->creds;

	for (unsigned int i = 0; i < c->n_keys; i++) {
		if (strcmp(c->keys[i].identity, identity) != 0)
			continue;
		key->data = gnutls_malloc(c->keys[i].key.size);
		if (!key->data)
			return -1;
		key->size = c->keys[i].key.size;
		memcpy(key->data, c->keys[i].key.data, key->size);
		return 0;
	}
	/* The handshake then fails; the identity is not logged here (it
	 * is the peer's string). */
	log_info("%s: TLS: unknown PSK identity", t->peer);
	return -1;
}

static int tls_load_psk(struct tls_creds *c, const char *path)
{
	char line[1024];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f) {
		ret = -errno;
		log_error("TLS: cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	while (ret == 0 && fgets(line, sizeof(line), f))
		ret = tls_psk_line(c, line, path, ++lineno);
	gnutls_memset(line, 0, sizeof(line));
	fclose(f);
	if (ret == 0 && c->n_keys == 0) {
		log_error("TLS: %s holds no key", path);
		ret = -EINVAL;
	}
	if (ret == 0 && gnutls_psk_allocate_server_credentials(&c->psk) < 0)
		ret = -ENOMEM;
	if (ret == 0) {
		gnutls_psk_set_server_credentials_function(c->psk,
							   tls_psk_lookup);
		gnutls_psk_set_server_known_dh_params(c->psk,
						      GNUTLS_SEC_PARAM_MEDIUM);
	}
	return ret;
}

static int tls_load_priority(struct tls_creds *c)
{
	char prio[1024];
	const char *err = NULL;
	int ret;

	if (tls_global.priority)
		snprintf(prio, sizeof(prio), "%s", tls_global.priority);
	else
		snprintf(prio, sizeof(prio), "%s%s",
			 REMOTE_TLS_DEFAULT_PRIORITY,
			 c->psk ? REMOTE_TLS_PSK_PRIORITY : "");
	ret = gnutls_priority_init(&c->prio, prio, &err);
	if (ret < 0) {
		log_error("TLS: priority string \"%s\": %s at \"%s\"", prio,
			  gnutls_strerror(ret), err ? err : "");
		c->prio = NULL;
		return -EINVAL;
	}
	return 0;
}

static struct tls_creds *tls_creds_load(void)
{
	struct tls_creds *c = calloc(1, sizeof(*c));
	int ret = 0;

	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->verify_peer = tls_global.verify_peer;
	if (tls_global.cert_dir)
		ret = tls_load_x509(c, tls_global.cert_dir);
	if (ret == 0 && tls_global.psk_file)
		ret = tls_load_psk(c, tls_global.psk_file);
	if (ret == 0)
		ret = tls_load_priority(c);
	if (ret < 0) {
		tls_creds_put(c);
		return NULL;
	}
	return c;
}

static int tls_strdup_opt(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

int remote_tls_setup(const struct remote_tls_settings *st)
{
	remote_tls_cleanup();
	tls_global.mode = st->mode;
	tls_global.verify_peer = st->verify_peer;
	tls_global.load = st->mode != REMOTE_TLS_OFF || st->load_always;
	if (tls_strdup_opt(st->cert_dir, &tls_global.cert_dir) < 0 ||
	    tls_strdup_opt(st->psk_file, &tls_global.psk_file) < 0 ||
	    tls_strdup_opt(st->priority, &tls_global.priority) < 0)
		return -ENOMEM;
	if (!tls_global.load)
		return 0;
	if (!st->cert_dir && !st->psk_file) {
		if (st->mode == REMOTE_TLS_OFF)
			return 0; /* the other channel says what it lacks */
		log_error("--tls=%s needs --tls-certificates or --tls-psk",
			  remote_tls_mode_name(st->mode));
		return -EINVAL;
	}
	return remote_tls_reload();
}

int remote_tls_reload(void)
{
	struct tls_creds *c, *old;

	if (!tls_global.load || (!tls_global.cert_dir && !tls_global.psk_file))
		return 0;
	c = tls_creds_load();
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&tls_global.lock);
	old = tls_global.creds;
	tls_global.creds = c;
	pthread_mutex_unlock(&tls_global.lock);
	if (old)
		log_info("TLS: credentials reloaded");
	tls_creds_put(old);
	return 0;
}

void remote_tls_cleanup(void)
{
	pthread_mutex_lock(&tls_global.lock);
	tls_creds_put(tls_global.creds);
	tls_global.creds = NULL;
	pthread_mutex_unlock(&tls_global.lock);
	free(tls_global.cert_dir);
	free(tls_global.psk_file);
	free(tls_global.priority);
	tls_global.cert_dir = tls_global.psk_file = tls_global.priority = NULL;
}

bool remote_tls_has_credentials(void)
{
	bool has;

	pthread_mutex_lock(&tls_global.lock);
	has = tls_global.creds != NULL;
	pthread_mutex_unlock(&tls_global.lock);
	return has;
}

enum remote_tls_mode remote_tls_mode(void)
{
	return tls_global.mode;
}

void remote_tls_set_mode(enum remote_tls_mode mode)
{
	tls_global.mode = mode;
}

static const char *const tls_mode_names[] = { "off", "on", "require" };

const char *remote_tls_mode_name(enum remote_tls_mode mode)
{
	return tls_mode_names[mode];
}

int remote_tls_mode_parse(const char *s, enum remote_tls_mode *mode)
{
	for (unsigned int i = 0; i < 3; i++)
		if (!strcmp(s, tls_mode_names[i])) {
			*mode = (enum remote_tls_mode)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- GnuTLS over memory ---- */

static struct remote_tls *tls_of(struct remote_xform *x)
{
	return (struct remote_tls *)x;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct remote_tls *t = ptr;
	size_t avail = t->in.end - t->in.start;

	if (avail == 0) {
		gnutls_transport_set_errno(t->session, EAGAIN);
		return -1;
	}
	if (len > avail)
		len = avail;
	/* No compaction here: a read may be in flight into in.p + in.end
	 * (tls_rx_buf compacts, before the stream arms the next one). */
	memcpy(data, t->in.p + t->in.start, len);
	t->in.start += len;
	return (ssize_t)len;
}

static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct remote_tls *t = ptr;

	return t->in.end > t->in.start ? 1 : 0;
}

/* Output is only ever buffered: its size is bounded by how much the pump
 * encrypts before the stream has written it (TLS_TX_HIGH_BYTES). */
static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data,
			size_t len)
{
	struct remote_tls *t = ptr;
	struct tls_buf *b = &t->out;

	if (b->cap - b->end < len) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		unsigned char *p;

		while (cap - (b->end - b->start) < len)
			cap *= 2;
		if (b->start > 0) {
			memmove(b->p, b->p + b->start, b->end - b->start);
			b->end -= b->start;
			b->start = 0;
		}
		if (cap > b->cap) {
			p = realloc(b->p, cap);
			if (!p) {
				gnutls_transport_set_errno(t->session, ENOMEM);
				return -1;
			}
			b->p = p;
			b->cap = cap;
		}
	}
	memcpy(b->p + b->end, data, len);
	b->end += len;
	return (ssize_t)len;
}

/* Session keys are never written anywhere: GnuTLS would otherwise
 * honour SSLKEYLOGFILE from the environment. */
static int tls_keylog_none(gnutls_session_t session, const char *label,
			   const gnutls_datum_t *secret)
{
	return 0;
}

static void tls_rx_buf(struct remote_xform *x, void **buf, size_t *len)
{
	struct remote_tls *t = tls_of(x);

	if (t->in.start > 0) {
		memmove(t->in.p, t->in.p + t->in.start,
			t->in.end - t->in.start);
		t->in.end -= t->in.start;
		t->in.start = 0;
	}
	*buf = t->in.p + t->in.end;
	*len = t->in.cap - t->in.end;
}

static void tls_rx_done(struct remote_xform *x, size_t n)
{
	tls_of(x)->in.end += n;
}

static size_t tls_tx_pending(const struct remote_tls *t)
{
	return (t->out.end - t->out.start) + (t->wire.end - t->wire.start);
}

static int tls_tx_iov(struct remote_xform *x, struct iovec *iov, int max_iov)
{
	struct remote_tls *t = tls_of(x);

	if (t->wire.end == t->wire.start) {
		struct tls_buf tmp = t->wire;

		t->wire = t->out;
		t->out = tmp;
		t->out.start = t->out.end = 0;
	}
	if (t->wire.end == t->wire.start || max_iov < 1)
		return 0;
	iov[0].iov_base = t->wire.p + t->wire.start;
	iov[0].iov_len = t->wire.end - t->wire.start;
	return 1;
}

static void tls_tx_done(struct remote_xform *x, size_t n)
{
	struct remote_tls *t = tls_of(x);

	t->wire.start += n;
	if (t->wire.start >= t->wire.end)
		t->wire.start = t->wire.end = 0;
}

static void tls_destroy(struct remote_xform *x)
{
	struct remote_tls *t = tls_of(x);

	if (t->session)
		gnutls_deinit(t->session);
	tls_creds_put(t->creds);
	free(t->in.p);
	free(t->out.p);
	free(t->wire.p);
	free(t->file_buf);
	free(t->dn);
	free(t->psk_identity);
	free(t->own_peer);
	free(t);
}

/* "ECDHE-PSK", "DHE-PSK" or "PSK" (no forward secrecy): TLS 1.3's
 * session description leaves the key exchange out. */
static const char *tls_kx_name(gnutls_session_t s)
{
	const char *name = gnutls_kx_get_name(gnutls_kx_get(s));

	return name ? name : "unknown";
}

/* The client certificate's DN, when it verified against our CA. */
static void tls_peer_dn(struct remote_tls *t)
{
	const gnutls_datum_t *certs;
	unsigned int n = 0, status = 1;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };

	if (!t->creds->x509 ||
	    gnutls_auth_get_type(t->session) != GNUTLS_CRD_CERTIFICATE)
		return;
	certs = gnutls_certificate_get_peers(t->session, &n);
	if (!certs || n == 0)
		return;
	if (gnutls_certificate_verify_peers2(t->session, &status) < 0 ||
	    status != 0) {
		log_info("%s: TLS: the client certificate does not verify; "
			 "no DN is trusted",
			 t->peer);
		return;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		t->dn = strndup((const char *)dn.data, dn.size);
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
}

/* After GNUTLS_E_AGAIN (or another non-fatal result): call GnuTLS again?
 * It answers so after taking a record that gave no data (a TLS 1.3
 * KeyUpdate, a warning alert) even when more records are buffered: the
 * socket may never bring the input it seems to wait for.  Only when the
 * call took input, so this cannot spin. */
static bool tls_more_input(struct remote_tls *t, size_t start_before)
{
	return t->in.start != start_before &&
	       (t->in.end > t->in.start ||
		gnutls_record_check_pending(t->session) > 0);
}

/* A TLS 1.3 KeyUpdate received: with update_requested (1), ours is due. */
static int tls_key_update_hook(gnutls_session_t session, unsigned int htype,
			       unsigned int when, unsigned int incoming,
			       const gnutls_datum_t *msg)
{
	struct remote_tls *t = gnutls_session_get_ptr(session);

	if (incoming && htype == GNUTLS_HANDSHAKE_KEY_UPDATE &&
	    msg->size >= 1 && msg->data[0] == 1)
		t->key_update_due = true;
	return 0;
}

static int tls_handshake(struct remote_tls *t, struct remote_engine *e)
{
	const char *psk;
	char *desc;
	size_t start;
	int ret;

	do {
		start = t->in.start;
		ret = gnutls_handshake(t->session);
		if (ret < 0 && !gnutls_error_is_fatal(ret) &&
		    !tls_more_input(t, start))
			return 0;
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		log_warn("%s: TLS handshake failed: %s", t->peer,
			 gnutls_strerror(ret));
		return -EPROTO;
	}
	t->handshaken = true;
	psk = t->creds->psk ? gnutls_psk_server_get_username(t->session) : NULL;
	if (psk && psk[0] && !(t->psk_identity = strdup(psk)))
		return -ENOMEM;
	tls_peer_dn(t);
	desc = gnutls_session_get_desc(t->session);
	log_info("%s: TLS %s%s%s%s%s", t->peer, desc ? desc : "",
		 t->psk_identity ? ", PSK identity " : "",
		 t->psk_identity ? t->psk_identity : "",
		 t->psk_identity ? ", key exchange " : "",
		 t->psk_identity ? tls_kx_name(t->session) : "");
	if (t->dn)
		log_info("%s: TLS client certificate %s", t->peer, t->dn);
	gnutls_free(desc);
	remote_engine_secured(e, t->dn, t->psk_identity);
	return 0;
}

/* Decrypt into the engine while it takes input. */
static int tls_decrypt(struct remote_tls *t, struct remote_engine *e)
{
	for (;;) {
		void *buf;
		size_t len, start;
		ssize_t r;

		remote_engine_rx_buf(e, &buf, &len);
		if (len == 0)
			return 0;
		start = t->in.start;
		r = gnutls_record_recv(t->session, buf, len);
		if (r > 0) {
			if (remote_engine_rx_done(e, (size_t)r) < 0)
				return -EPROTO;
			continue;
		}
		if (r == 0)
			return REMOTE_XFORM_EOF;
		if (r == GNUTLS_E_AGAIN && !tls_more_input(t, start))
			return 0;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
		    !gnutls_error_is_fatal((int)r))
			continue;
		log_warn("%s: TLS: %s", t->peer, gnutls_strerror((int)r));
		return -EPROTO;
	}
}

static int tls_send(struct remote_tls *t, const void *p, size_t len)
{
	const unsigned char *q = p;

	while (len > 0) {
		ssize_t r = gnutls_record_send(t->session, q, len);

		if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN)
			continue;
		if (r < 0) {
			log_warn("%s: TLS: %s", t->peer,
				 gnutls_strerror((int)r));
			return -EIO;
		}
		/* A KeyUpdate that was due went out before this record
		 * (sends are uncorked while one is due: tls_encrypt_some). */
		t->key_update_due = false;
		q += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The front of the output is file bytes (a zero-copy READ queued before
 * TLS, or a protocol that always offers them): copy them through. */
static ssize_t tls_encrypt_file(struct remote_tls *t, struct remote_engine *e,
				size_t room)
{
	uint64_t off;
	size_t len;
	ssize_t n;
	int fd;

	if (!remote_engine_tx_file(e, &fd, &off, &len))
		return 0;
	if (!t->file_buf && !(t->file_buf = malloc(TLS_FILE_CHUNK)))
		return -ENOMEM;
	if (len > TLS_FILE_CHUNK)
		len = TLS_FILE_CHUNK;
	if (len > room)
		len = room;
	n = pread(fd, t->file_buf, len, (off_t)off);
	if (n <= 0) {
		log_warn("%s: export shrank under a read: disconnecting",
			 t->peer);
		return -EIO;
	}
	return tls_send(t, t->file_buf, (size_t)n) < 0 ? -EIO : n;
}

/* Encrypt what the engine has queued, small pieces corked into shared
 * records, until TLS_TX_HIGH_BYTES wait to be written.  Returns the
 * plaintext bytes taken (acknowledged to the engine) or -errno. */
static ssize_t tls_encrypt_some(struct remote_tls *t, struct remote_engine *e)
{
	struct iovec iov[64];
	size_t room = TLS_TX_HIGH_BYTES - tls_tx_pending(t);
	size_t taken = 0;
	int n = remote_engine_tx_iov(e, iov, 64);
	int ret = 0;

	if (n == 0)
		return tls_encrypt_file(t, e, room);
	/* GnuTLS sends the KeyUpdate a peer asked for before its next
	 * record, but gnutls_record_cork() forgets that one is due: the
	 * first piece goes uncorked then. */
	if (t->key_update_due) {
		taken = iov[0].iov_len < room ? iov[0].iov_len : room;
		ret = tls_send(t, iov[0].iov_base, taken);
		iov[0].iov_len = 0;
	}
	gnutls_record_cork(t->session);
	for (int i = 0; i < n && taken < room && ret == 0; i++) {
		size_t len = iov[i].iov_len;

		if (len > room - taken)
			len = room - taken;
		if (len >= TLS_CORK_BYTES &&
		    gnutls_record_uncork(t->session, 0) < 0)
			ret = -EIO;
		if (ret == 0)
			ret = tls_send(t, iov[i].iov_base, len);
		if (len >= TLS_CORK_BYTES)
			gnutls_record_cork(t->session);
		taken += len;
	}
	if (gnutls_record_uncork(t->session, 0) < 0)
		ret = -EIO;
	return ret < 0 ? ret : (ssize_t)taken;
}

static int tls_encrypt(struct remote_tls *t, struct remote_engine *e)
{
	while (tls_tx_pending(t) < TLS_TX_HIGH_BYTES) {
		ssize_t n = tls_encrypt_some(t, e);

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		remote_engine_tx_done(e, (size_t)n);
	}
	/* The conversation is over: say so (close_notify), so the client
	 * can tell our close from a truncation. */
	if (remote_engine_finished(e) && !t->bye_sent) {
		t->bye_sent = true;
		gnutls_bye(t->session, GNUTLS_SHUT_WR);
	}
	return 0;
}

static int tls_pump_once(struct remote_tls *t, struct remote_engine *e)
{
	int ret = 0, wret;

	if (!t->handshaken)
		ret = tls_handshake(t, e);
	if (ret == 0 && t->handshaken)
		ret = tls_decrypt(t, e);
	if (ret >= 0 && t->handshaken) {
		wret = tls_encrypt(t, e);
		if (wret < 0)
			ret = wret;
	}
	return ret;
}

static int tls_pump(struct remote_xform *x, struct remote_engine *e)
{
	struct remote_tls *t = tls_of(x);
	int ret;

	/* The engine's tx_ready may run the stream's pump, and so this,
	 * from inside rx_done or tx_done below: the outer call goes round
	 * again instead (acknowledged output may have freed request slots
	 * that input decrypted but held back is waiting for). */
	if (t->in_pump) {
		t->again = true;
		return 0;
	}
	t->in_pump = true;
	do {
		t->again = false;
		ret = tls_pump_once(t, e);
	} while (ret == 0 && t->again);
	t->in_pump = false;
	return ret;
}

static const struct remote_xform_ops tls_xform_ops = {
	.name = "tls",
	.rx_buf = tls_rx_buf,
	.rx_done = tls_rx_done,
	.pump = tls_pump,
	.tx_iov = tls_tx_iov,
	.tx_done = tls_tx_done,
	.destroy = tls_destroy,
};

/* A server session for t: over memory (fd < 0) or over fd itself. */
static int tls_session_init(struct remote_tls *t, int fd)
{
	gnutls_session_t s;
	int ret = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK |
					  GNUTLS_NO_SIGNAL);

	if (ret < 0)
		return ret;
	t->session = s;
	ret = gnutls_priority_set(s, t->creds->prio);
	if (ret == 0 && t->creds->x509) {
		ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
					     t->creds->x509);
		/* Ask for a client certificate always (a DN allow list can
		 * only trust one that verified); require and verify it in
		 * the handshake with --tls-verify-peer. */
		gnutls_certificate_server_set_request(
			s, t->creds->verify_peer ? GNUTLS_CERT_REQUIRE
						 : GNUTLS_CERT_REQUEST);
		if (t->creds->verify_peer)
			gnutls_session_set_verify_cert(s, NULL, 0);
	}
	if (ret == 0 && t->creds->psk)
		ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, t->creds->psk);
	gnutls_session_set_ptr(s, t);
	gnutls_session_set_keylog_function(s, tls_keylog_none);
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_KEY_UPDATE,
					   GNUTLS_HOOK_PRE,
					   tls_key_update_hook);
	if (fd >= 0) {
		gnutls_transport_set_int(s, fd);
		return ret;
	}
	gnutls_transport_set_ptr(s, t);
	gnutls_transport_set_pull_function(s, tls_pull);
	gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
	gnutls_transport_set_push_function(s, tls_push);
	return ret;
}

struct remote_xform *remote_tls_server_new(const char *peer)
{
	struct remote_tls *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return NULL;
	t->x.ops = &tls_xform_ops;
	t->peer = peer;
	pthread_mutex_lock(&tls_global.lock);
	t->creds = tls_global.creds;
	if (t->creds)
		atomic_fetch_add(&t->creds->refs, 1);
	pthread_mutex_unlock(&tls_global.lock);
	t->in.cap = TLS_RX_BYTES;
	t->in.p = malloc(TLS_RX_BYTES);
	if (!t->creds || !t->in.p) {
		log_warn("%s: STARTTLS: %s", peer,
			 t->creds ? "out of memory" : "TLS is not set up");
		tls_destroy(&t->x);
		return NULL;
	}
	ret = tls_session_init(t, -1);
	if (ret < 0) {
		log_warn("%s: STARTTLS: %s", peer, gnutls_strerror(ret));
		tls_destroy(&t->x);
		return NULL;
	}
	return &t->x;
}

/* ---- TLS on a socket that its owner reads and writes itself ---- */

gnutls_session_t remote_tls_fd_session(int fd, const char *peer)
{
	struct remote_tls *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return NULL;
	t->x.ops = &tls_xform_ops; /* only for tls_destroy */
	t->own_peer = strdup(peer);
	t->peer = t->own_peer;
	pthread_mutex_lock(&tls_global.lock);
	t->creds = tls_global.creds;
	if (t->creds)
		atomic_fetch_add(&t->creds->refs, 1);
	pthread_mutex_unlock(&tls_global.lock);
	if (!t->creds || !t->own_peer) {
		log_warn("%s: TLS: %s", peer,
			 t->creds ? "out of memory" : "TLS is not set up");
		tls_destroy(&t->x);
		return NULL;
	}
	ret = tls_session_init(t, fd);
	if (ret < 0) {
		log_warn("%s: TLS: %s", peer, gnutls_strerror(ret));
		tls_destroy(&t->x);
		return NULL;
	}
	return t->session;
}

void remote_tls_fd_session_free(gnutls_session_t session)
{
	if (session)
		tls_destroy(
			&((struct remote_tls *)gnutls_session_get_ptr(session))
				 ->x);
}

void remote_tls_fd_session_log(gnutls_session_t session)
{
	struct remote_tls *t = gnutls_session_get_ptr(session);
	const char *psk =
		t->creds->psk ? gnutls_psk_server_get_username(session) : NULL;
	char *desc = gnutls_session_get_desc(session);

	tls_peer_dn(t);
	log_info("%s: TLS %s%s%s%s%s%s%s", t->peer, desc ? desc : "",
		 psk && psk[0] ? ", PSK identity " : "",
		 psk && psk[0] ? psk : "",
		 psk && psk[0] ? ", key exchange " : "",
		 psk && psk[0] ? tls_kx_name(session) : "",
		 t->dn ? ", certificate " : "", t->dn ? t->dn : "");
	gnutls_free(desc);
}

/* ---- an export's TLS policy against a connection already open ---- */

static bool tls_listed(const char *const *list, const char *s)
{
	for (; s && list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

int remote_conn_tls_access(struct remote_conn *conn,
			   const struct conn_export *exp)
{
	const struct remote_engine *e = conn->s.engine;
	const struct conn_tls_policy *p = &exp->tls;
	const bool lists = p->dn_allow || p->psk_allow;

	/* The same rules as the NBD handshake's (nbd_handshake.c). */
	if (!e || !e->tls)
		return p->required || lists ? -EACCES : 0;
	if (!lists || tls_listed(p->dn_allow, e->tls_dn) ||
	    tls_listed(p->psk_allow, e->tls_psk))
		return 0;
	return -EACCES;
}
