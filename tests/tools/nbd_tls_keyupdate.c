/* SPDX-License-Identifier: MIT */
/*
 * nbd_tls_keyupdate: an NBD client for tests/integration/test_nbd_tls.sh
 * that sends TLS 1.3 KeyUpdate messages in the middle of a session, which
 * no NBD tool does (libnbd, qemu and nbdkit's clients never update keys).
 *
 *   nbd_tls_keyupdate HOST PORT EXPORT CA-CERT [ROUNDS]
 *
 * Fixed newstyle negotiation in plaintext, NBD_OPT_STARTTLS, a TLS 1.3
 * handshake that verifies the server's certificate (for "localhost")
 * against CA-CERT, NBD_OPT_GO on EXPORT, then ROUNDS (default 6) times:
 * WRITE a pattern and wait for its reply; a KeyUpdate (even rounds ask
 * the server to update its keys too, odd ones update ours only) sent in
 * the same TCP segment as a pipelined WRITE and READ of another block;
 * both replies, the data read back, and on even rounds the server's own
 * KeyUpdate.  Every wait gives up after 5 s: a stalled server fails the
 * test instead of hanging it.  Prints one line a round; exit status 0
 * only when every reply arrived and matched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 5000
#define BLOCK	4096

#define OPT_MAGIC	    0x49484156454F5054ull /* "IHAVEOPT" */
#define REP_MAGIC	    0x3e889045565a9ull
#define REQ_MAGIC	    0x25609513u
#define SIMPLE_MAGIC	    0x67446698u
#define OPT_STARTTLS	    5
#define OPT_GO		    7
#define REP_ACK		    1
#define REP_INFO	    3
#define FLAG_FIXED_NEWSTYLE 1
#define FLAG_NO_ZEROES	    2
#define CMD_READ	    0
#define CMD_WRITE	    1
#define CMD_DISC	    2

static int fd = -1;
static gnutls_session_t session;
static unsigned int peer_key_updates;
static uint64_t next_handle = 1;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("nbd_tls_keyupdate: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- transport: plaintext before STARTTLS, TLS after ---- */

static void plain_read(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, WAIT_MS) != 1)
			die("no plaintext reply within %d ms", WAIT_MS);
		n = read(fd, p, len);
		if (n <= 0)
			die("plaintext read: %s", n ? strerror(errno) : "EOF");
		p += n;
		len -= (size_t)n;
	}
}

static void plain_write(const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("plaintext write: %s", strerror(errno));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* GnuTLS waits with poll() for at most WAIT_MS (gnutls_record_set_timeout)
 * and answers GNUTLS_E_AGAIN after a post-handshake message (the server's
 * KeyUpdate): go on reading, within the same deadline. */
static void tls_read(void *buf, size_t len, const char *what)
{
	unsigned char *p = buf;
	double deadline = now() + WAIT_MS / 1000.0;

	while (len > 0) {
		ssize_t n = gnutls_record_recv(session, p, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			if (now() > deadline)
				die("%s: no reply within %d ms", what, WAIT_MS);
			continue;
		}
		if (n == GNUTLS_E_TIMEDOUT)
			die("%s: no reply within %d ms (the server stalled)",
			    what, WAIT_MS);
		if (n <= 0)
			die("%s: %s", what,
			    n ? gnutls_strerror((int)n) : "EOF");
		p += n;
		len -= (size_t)n;
	}
}

static void tls_write(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = gnutls_record_send(session, p, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			die("TLS write: %s", gnutls_strerror((int)n));
		p += n;
		len -= (size_t)n;
	}
}

/* ---- negotiation ---- */

static void opt_send(uint32_t opt, const void *data, uint32_t len, bool tls)
{
	unsigned char h[16];

	put64(h, OPT_MAGIC);
	put32(h + 8, opt);
	put32(h + 12, len);
	if (tls) {
		tls_write(h, sizeof(h));
		tls_write(data, len);
	} else {
		plain_write(h, sizeof(h));
		plain_write(data, len);
	}
}

/* One option reply: its type; its data (at most cap bytes) in buf. */
static uint32_t opt_reply(uint32_t opt, void *buf, size_t cap, bool tls)
{
	unsigned char h[20], skip[256];
	uint32_t type, len;

	if (tls)
		tls_read(h, sizeof(h), "option reply");
	else
		plain_read(h, sizeof(h));
	type = get32(h + 12);
	len = get32(h + 16);
	if (get64(h) != REP_MAGIC || get32(h + 8) != opt)
		die("bad reply to option %u", opt);
	if (type & 0x80000000u)
		die("option %u refused: reply type 0x%x", opt, type);
	if (len > cap && len > sizeof(skip))
		die("option %u: reply of %u bytes", opt, len);
	if (tls)
		tls_read(len > cap ? skip : buf, len, "option reply data");
	else
		plain_read(len > cap ? skip : buf, len);
	return type;
}

static void greet(void)
{
	unsigned char g[18], flags[4];

	plain_read(g, sizeof(g));
	if (memcmp(g, "NBDMAGIC", 8) || get64(g + 8) != OPT_MAGIC)
		die("not a newstyle NBD server");
	if (!(g[17] & FLAG_FIXED_NEWSTYLE))
		die("the server does not offer fixed newstyle");
	put32(flags, FLAG_FIXED_NEWSTYLE | (g[17] & FLAG_NO_ZEROES));
	plain_write(flags, sizeof(flags));
	opt_send(OPT_STARTTLS, NULL, 0, false);
	if (opt_reply(OPT_STARTTLS, NULL, 0, false) != REP_ACK)
		die("STARTTLS not acknowledged");
}

/* The server's KeyUpdate messages, as GnuTLS receives them. */
static int count_key_update(gnutls_session_t s, unsigned int htype,
			    unsigned int when, unsigned int incoming,
			    const gnutls_datum_t *msg)
{
	if (incoming && htype == GNUTLS_HANDSHAKE_KEY_UPDATE)
		peer_key_updates++;
	return 0;
}

static void tls_start(const char *ca)
{
	gnutls_certificate_credentials_t cred;
	int ret;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, ca,
						   GNUTLS_X509_FMT_PEM) <= 0)
		die("cannot load %s", ca);
	if (gnutls_init(&session, GNUTLS_CLIENT) < 0 ||
	    gnutls_set_default_priority(session) < 0 ||
	    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred) < 0 ||
	    gnutls_server_name_set(session, GNUTLS_NAME_DNS, "localhost", 9))
		die("cannot set up the TLS session");
	gnutls_session_set_verify_cert(session, "localhost", 0);
	gnutls_transport_set_int(session, fd);
	gnutls_handshake_set_timeout(session, WAIT_MS);
	gnutls_record_set_timeout(session, WAIT_MS);
	gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_KEY_UPDATE,
					   GNUTLS_HOOK_PRE, count_key_update);
	do
		ret = gnutls_handshake(session);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		die("TLS handshake: %s", gnutls_strerror(ret));
	if (gnutls_protocol_get_version(session) != GNUTLS_TLS1_3)
		die("TLS 1.3 was not negotiated (KeyUpdate needs it)");
}

static void go(const char *name)
{
	size_t n = strlen(name);
	unsigned char d[4 + 256 + 2] = { 0 }, r[64];
	uint32_t type;

	if (n > 256)
		die("export name too long");
	put32(d, (uint32_t)n);
	memcpy(d + 4, name, n);
	opt_send(OPT_GO, d, (uint32_t)(4 + n + 2), true);
	while ((type = opt_reply(OPT_GO, r, sizeof(r), true)) != REP_ACK)
		if (type != REP_INFO)
			die("GO: unexpected reply type %u", type);
}

/* ---- transmission ---- */

static uint64_t request(uint16_t cmd, uint64_t off, uint32_t len,
			const void *data)
{
	unsigned char h[28] = { 0 };
	uint64_t handle = next_handle++;

	put32(h, REQ_MAGIC);
	h[6] = (unsigned char)(cmd >> 8);
	h[7] = (unsigned char)cmd;
	put64(h + 8, handle);
	put64(h + 16, off);
	put32(h + 24, len);
	tls_write(h, sizeof(h));
	if (data)
		tls_write(data, len);
	return handle;
}

/* A simple reply: its handle; a READ's data (the one whose handle is
 * read_handle) into buf. */
static uint64_t reply(uint64_t read_handle, void *buf, const char *what)
{
	unsigned char h[16];
	uint64_t handle;

	tls_read(h, sizeof(h), what);
	if (get32(h) != SIMPLE_MAGIC)
		die("%s: bad reply magic 0x%08x", what, get32(h));
	if (get32(h + 4) != 0)
		die("%s: NBD error %u", what, get32(h + 4));
	handle = get64(h + 8);
	if (handle == read_handle)
		tls_read(buf, BLOCK, what);
	return handle;
}

static void cork(int on)
{
	setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

/* One round: see the comment at the top. */
static void round_trip(unsigned int i)
{
	unsigned char w[BLOCK], r[BLOCK];
	unsigned int flags = i % 2 ? 0 : GNUTLS_KU_PEER;
	unsigned int before = peer_key_updates;
	uint64_t off = (uint64_t)i * 2 * BLOCK, hw, hr, h1, h2;
	int ret;

	memset(w, 'a' + (int)(i % 26), sizeof(w));
	hw = request(CMD_WRITE, off, BLOCK, w);
	if (reply(0, NULL, "WRITE before the key update") != hw)
		die("round %u: a reply for another request", i);
	memset(w, 'A' + (int)(i % 26), sizeof(w));
	/* The KeyUpdate and the requests after it in one segment: the
	 * server finds the requests buffered behind the KeyUpdate. */
	cork(1);
	ret = gnutls_session_key_update(session, flags);
	if (ret < 0)
		die("round %u: key update: %s", i, gnutls_strerror(ret));
	hw = request(CMD_WRITE, off + BLOCK, BLOCK, w);
	hr = request(CMD_READ, off + BLOCK, BLOCK, NULL);
	cork(0);
	h1 = reply(hr, r, "WRITE or READ after the key update");
	h2 = reply(hr, r, "WRITE or READ after the key update");
	if (!((h1 == hw && h2 == hr) || (h1 == hr && h2 == hw)))
		die("round %u: replies for other requests", i);
	if (memcmp(r, w, BLOCK))
		die("round %u: READ after the key update returned other data",
		    i);
	if (flags && peer_key_updates == before)
		die("round %u: the server did not update its keys when asked",
		    i);
	printf("round %u: key update (%s) ok, server key updates %u\n", i,
	       flags ? "both directions" : "ours only", peer_key_updates);
}

static void connect_to(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };

	if (getaddrinfo(host, port, &hints, &ai))
		die("cannot resolve %s:%s", host, port);
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect %s:%s: %s", host, port, strerror(errno));
	freeaddrinfo(ai);
	/* Writes are small; this only keeps a stuck write from hanging. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int main(int argc, char **argv)
{
	unsigned int rounds = argc > 5 ? (unsigned int)atoi(argv[5]) : 6;
	unsigned char d[BLOCK], want[BLOCK];

	if (argc < 5)
		die("usage: nbd_tls_keyupdate HOST PORT EXPORT CA-CERT "
		    "[ROUNDS]");
	setvbuf(stdout, NULL, _IOLBF, 0);
	connect_to(argv[1], argv[2]);
	greet();
	tls_start(argv[4]);
	go(argv[3]);
	for (unsigned int i = 0; i < rounds; i++)
		round_trip(i);
	/* The blocks written before each key update are still there. */
	for (unsigned int i = 0; i < rounds; i++) {
		uint64_t h =
			request(CMD_READ, (uint64_t)i * 2 * BLOCK, BLOCK, NULL);

		memset(want, 'a' + (int)(i % 26), sizeof(want));
		if (reply(h, d, "final READ") != h || memcmp(d, want, BLOCK))
			die("block %u lost across the key updates", i * 2);
	}
	request(CMD_DISC, 0, 0, NULL);
	gnutls_bye(session, GNUTLS_SHUT_WR);
	printf("all replies arrived\n");
	return 0;
}
