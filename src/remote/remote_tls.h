/* SPDX-License-Identifier: MIT */
/*
 * remote_tls: the byte-transform layer between a connection's socket and
 * its protocol engine, and the GnuTLS server that is its one transform.
 *
 * The socket side (remote_stream.c) holds a struct remote_xform pointer
 * per connection.  NULL is plaintext: bytes go between the socket and the
 * engine's own buffers exactly as without this layer (reads in place,
 * writev of the engine's iovecs, sendfile of file bytes).  A transform
 * sits in between: the stream reads the wire bytes into the transform's
 * buffer and writes the wire bytes the transform produced, and the
 * transform moves plaintext to and from the engine (remote_engine_rx_buf/
 * rx_done, tx_iov/tx_file/tx_done) in its pump.  It never touches the fd,
 * so both loop engines (io_uring, epoll) drive it through the same
 * base_io reads and writes as plaintext, and a protocol needs nothing but
 * remote_engine_starttls() to use it (NBD today, iSCSI later).
 *
 * The GnuTLS transform runs GnuTLS over memory: its pull and push
 * functions read from the received-bytes buffer and append to the
 * to-send buffer, so gnutls_handshake and gnutls_record_recv/send never
 * block and never see the socket.  File bytes (zero-copy reads) are
 * copied with pread and encrypted like any other output.
 *
 * Credentials are process-wide: read once by remote_tls_setup() at start
 * and again by remote_tls_reload() (SIGHUP).  Each session holds a
 * reference to the set it started with, so a reload changes what new
 * connections get and leaves connected clients alone.
 */
#ifndef IOPD_REMOTE_TLS_H
#define IOPD_REMOTE_TLS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct remote_engine;

/* nbdkit's names: off (STARTTLS refused), on (offered; exports that do
 * not require it are served in plaintext too), require (nothing but
 * STARTTLS and ABORT before TLS). */
enum remote_tls_mode {
	REMOTE_TLS_OFF,
	REMOTE_TLS_ON,
	REMOTE_TLS_REQUIRE,
};

/*
 * GnuTLS's NORMAL set (its maintained choice of ciphers, key exchanges
 * and signature algorithms, "secure" by their review, which drops what
 * becomes weak on library updates without us editing a string) limited
 * to TLS 1.3 and 1.2: NORMAL still allows 1.0 and 1.1 (deprecated by
 * RFC 8996), and 1.3 is preferred because it is listed first and every
 * client we test negotiates it.  With PSK credentials the PSK key
 * exchanges are added (NORMAL has none), only those with an ephemeral
 * (EC)DH share: ECDHE-PSK and DHE-PSK in TLS 1.2, psk_dhe_ke in TLS 1.3
 * (RFC 8446 §4.2.9).  Plain PSK derives every session key from the
 * long-lived key alone, so whoever steals keys.psk later decrypts every
 * recorded session; libnbd, qemu and nbdkit all offer ECDHE-PSK.
 */
#define REMOTE_TLS_DEFAULT_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define REMOTE_TLS_PSK_PRIORITY	    ":+ECDHE-PSK:+DHE-PSK"

struct remote_tls_settings {
	enum remote_tls_mode mode;
	const char *cert_dir; /* ca-cert.pem, server-cert.pem, server-key.pem,
				 ca-crl.pem; NULL: no X.509 */
	const char *psk_file; /* psktool's "identity:hexkey" lines; NULL */
	const char *priority; /* NULL: the default above */
	bool verify_peer;     /* a client certificate signed by the CA */
	/* Read the credentials even with mode off: another channel (the
	 * management listener over TCP) serves TLS with them. */
	bool load_always;
};

/* Read the credentials (copying the settings for reloads).  Mode off
 * needs none (and reads none unless load_always); on and require need a
 * certificate or a PSK file.  Main
 * thread, before any connection.  Returns 0 or -errno after logging. */
int remote_tls_setup(const struct remote_tls_settings *settings);
/* Read the files again; new sessions use them, sessions already running
 * keep theirs.  On failure the old credentials stay.  Any thread.
 * Returns 0 or -errno after logging. */
int remote_tls_reload(void);
/* Drop the credentials (sessions still open keep theirs alive). */
void remote_tls_cleanup(void);
enum remote_tls_mode remote_tls_mode(void);
/* Whether credentials are loaded (for a channel that needs them). */
bool remote_tls_has_credentials(void);
/* For transcripts and fuzzers: the mode without credentials (a STARTTLS
 * then fails at the socket side, which they do not have). */
void remote_tls_set_mode(enum remote_tls_mode mode);
const char *remote_tls_mode_name(enum remote_tls_mode mode);
/* "off", "on", "require".  Returns 0 or -EINVAL. */
int remote_tls_mode_parse(const char *s, enum remote_tls_mode *mode);

/* ---- the transform a stream drives ---- */

struct remote_xform;

/* remote_xform_ops.pump's result besides 0 and -errno. */
#define REMOTE_XFORM_EOF 1 /* the peer ended its side cleanly */

struct remote_xform_ops {
	const char *name; /* "tls" */
	/* Where the next wire bytes go; *len == 0: no room now.  Only
	 * while no read is in flight: it may move what is buffered. */
	void (*rx_buf)(struct remote_xform *x, void **buf, size_t *len);
	/* n wire bytes landed there. */
	void (*rx_done)(struct remote_xform *x, size_t n);
	/* Handshake, then plaintext in and out of e as far as buffers
	 * allow.  Returns 0, REMOTE_XFORM_EOF or -errno (drop the
	 * connection; logged).  Safe to re-enter from e's tx_ready. */
	int (*pump)(struct remote_xform *x, struct remote_engine *e);
	/* Wire bytes to write now (one iovec); 0: none. */
	int (*tx_iov)(struct remote_xform *x, struct iovec *iov, int max_iov);
	void (*tx_done)(struct remote_xform *x, size_t n);
	void (*destroy)(struct remote_xform *x);
};

struct remote_xform {
	const struct remote_xform_ops *ops;
};

/* A TLS server session with the current credentials, for peer (logs).
 * NULL (logged) when TLS is not set up or out of memory. */
struct remote_xform *remote_tls_server_new(const char *peer);

/* ---- TLS on a socket that its owner reads and writes itself ---- */

/*
 * A channel with its own small poll loop (the management listener) runs
 * GnuTLS straight on its non-blocking socket: a server session over fd
 * with the current credentials (a reference, kept across a reload), the
 * same priority, client-certificate request and PSK lookup as NBD.  The
 * owner calls gnutls_handshake, gnutls_record_recv/send on it (they
 * return GNUTLS_E_AGAIN; gnutls_record_get_direction says which way to
 * wait).  peer is copied, for logs.  NULL (logged) without credentials.
 */
gnutls_session_t remote_tls_fd_session(int fd, const char *peer);
void remote_tls_fd_session_free(gnutls_session_t session);
/* After the handshake: log what was negotiated and who the peer is. */
void remote_tls_fd_session_log(gnutls_session_t session);

#endif
