// SPDX-License-Identifier: MIT
/*
 * iopctl's side of TLS on the management channel over TCP: iopd serves
 * only TLS there (doc/security.md), so --connect always speaks it.  The
 * server's certificate is verified, against --tls-ca or the system's
 * trust store, and its name or IP address against the host of
 * --connect (or --tls-server-name); --tls-cert/--tls-key present a
 * client certificate (for iopd --tls-verify-peer); --tls-psk uses a
 * pre-shared key from a psktool file instead of certificates.
 *
 * One connection per run, so the session is this file's.  The socket
 * stays blocking; every wait is bounded by socket timeouts that the
 * caller sets from --timeout, which GnuTLS reports as GNUTLS_E_AGAIN.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iopctl.h"

/* iopd's default (remote_tls.h): TLS 1.3 and 1.2 only, and with a PSK
 * only the forward-secret PSK key exchanges. */
#define IOPCTL_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define IOPCTL_TLS_PSK	    ":+ECDHE-PSK:+DHE-PSK"

static gnutls_session_t iopctl_tls;
static gnutls_certificate_credentials_t iopctl_x509;
static gnutls_psk_client_credentials_t iopctl_psk;

static int iopctl_tls_fail(const char *what, const char *file, int ret)
{
	fprintf(stderr, "iopctl: TLS: %s%s%s: %s\n", what, file ? " " : "",
		file ? file : "", gnutls_strerror(ret));
	return -1;
}

/* The identity:hexkey line of a psktool file for identity (the first
 * line when NULL). */
static int iopctl_tls_psk_creds(const char *file, const char *identity)
{
	char line[1024], *colon = NULL;
	gnutls_datum_t key;
	FILE *f = fopen(file, "re");
	int ret = -1;

	if (!f) {
		fprintf(stderr, "iopctl: --tls-psk %s: %s\n", file,
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		colon = strchr(line, ':');
		if (line[0] == '#' || !colon || colon == line)
			continue;
		*colon = 0;
		if (!identity || !strcmp(line, identity))
			break;
		colon = NULL;
	}
	fclose(f);
	if (!colon) {
		fprintf(stderr, "iopctl: --tls-psk %s: no key%s%s\n", file,
			identity ? " for " : "", identity ? identity : "");
	} else {
		key.data = (unsigned char *)colon + 1;
		key.size = (unsigned int)strlen(colon + 1);
		ret = gnutls_psk_allocate_client_credentials(&iopctl_psk);
		if (ret == 0)
			ret = gnutls_psk_set_client_credentials(
				iopctl_psk, line, &key, GNUTLS_PSK_KEY_HEX);
		if (ret < 0)
			ret = iopctl_tls_fail("--tls-psk", file, ret);
	}
	explicit_bzero(line, sizeof(line));
	return ret;
}

static int iopctl_tls_x509_creds(const struct iopctl_tls_opts *o)
{
	int ret = gnutls_certificate_allocate_credentials(&iopctl_x509);

	if (ret < 0)
		return iopctl_tls_fail("credentials", NULL, ret);
	if (o->ca)
		ret = gnutls_certificate_set_x509_trust_file(
			iopctl_x509, o->ca, GNUTLS_X509_FMT_PEM);
	else
		ret = gnutls_certificate_set_x509_system_trust(iopctl_x509);
	if (ret <= 0)
		return iopctl_tls_fail(
			o->ca ? "--tls-ca" : "system trust store", o->ca,
			ret ? ret : GNUTLS_E_NO_CERTIFICATE_FOUND);
	if (!o->cert != !o->key) {
		fprintf(stderr,
			"iopctl: --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (o->cert) {
		ret = gnutls_certificate_set_x509_key_file(
			iopctl_x509, o->cert, o->key, GNUTLS_X509_FMT_PEM);
		if (ret < 0)
			return iopctl_tls_fail("--tls-cert", o->cert, ret);
	}
	return 0;
}

/* The session, its credentials and what it checks of the server. */
static int iopctl_tls_session(const struct iopctl_tls_opts *o, const char *host)
{
	const char *name = o->server_name ? o->server_name : host;
	int ret;

	ret = gnutls_init(&iopctl_tls, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
	if (ret < 0)
		return iopctl_tls_fail("session", NULL, ret);
	ret = gnutls_priority_set_direct(
		iopctl_tls,
		o->psk ? IOPCTL_TLS_PRIORITY IOPCTL_TLS_PSK
		       : IOPCTL_TLS_PRIORITY,
		NULL);
	if (ret < 0)
		return iopctl_tls_fail("priority", NULL, ret);
	if (o->psk) {
		if (iopctl_tls_psk_creds(o->psk, o->psk_identity) < 0)
			return -1;
		ret = gnutls_credentials_set(iopctl_tls, GNUTLS_CRD_PSK,
					     iopctl_psk);
	} else {
		if (iopctl_tls_x509_creds(o) < 0)
			return -1;
		ret = gnutls_credentials_set(iopctl_tls, GNUTLS_CRD_CERTIFICATE,
					     iopctl_x509);
		/* The handshake fails unless the certificate chains to the
		 * CA and names the host (DNS name or IP address). */
		gnutls_session_set_verify_cert(iopctl_tls, name, 0);
	}
	if (ret < 0)
		return iopctl_tls_fail("credentials", NULL, ret);
	return 0;
}

int iopctl_tls_connect(int fd, const char *host,
		       const struct iopctl_tls_opts *o, int timeout_ms)
{
	int ret;

	if (iopctl_tls_session(o, host) < 0)
		return -1;
	gnutls_transport_set_int(iopctl_tls, fd);
	gnutls_handshake_set_timeout(iopctl_tls, (unsigned int)timeout_ms);
	do {
		ret = gnutls_handshake(iopctl_tls);
	} while (ret < 0 && ret != GNUTLS_E_AGAIN &&
		 !gnutls_error_is_fatal(ret));
	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_TIMEDOUT)
		return -ETIMEDOUT;
	if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t why = { NULL, 0 };
		unsigned int status =
			gnutls_session_get_verify_cert_status(iopctl_tls);

		gnutls_certificate_verification_status_print(
			status, GNUTLS_CRT_X509, &why, 0);
		fprintf(stderr, "iopctl: TLS: the server's certificate: %s\n",
			why.data ? (const char *)why.data : "rejected");
		gnutls_free(why.data);
		return -1;
	}
	if (ret < 0)
		return iopctl_tls_fail("handshake with", host, ret);
	return 0;
}

/* GnuTLS's result as send/recv would give it. */
static ssize_t iopctl_tls_result(ssize_t r)
{
	if (r >= 0)
		return r;
	errno = r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ? EAGAIN
								 : EPROTO;
	if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	return -1;
}

ssize_t iopctl_io_send(int fd, const void *buf, size_t len)
{
	if (iopctl_tls)
		return iopctl_tls_result(
			gnutls_record_send(iopctl_tls, buf, len));
	return send(fd, buf, len, MSG_NOSIGNAL);
}

ssize_t iopctl_io_recv(int fd, void *buf, size_t len)
{
	if (iopctl_tls)
		return iopctl_tls_result(
			gnutls_record_recv(iopctl_tls, buf, len));
	return recv(fd, buf, len, 0);
}

bool iopctl_io_pending(void)
{
	return iopctl_tls && gnutls_record_check_pending(iopctl_tls);
}

void iopctl_tls_close(void)
{
	if (iopctl_tls) {
		gnutls_bye(iopctl_tls, GNUTLS_SHUT_WR);
		gnutls_deinit(iopctl_tls);
	}
	if (iopctl_x509)
		gnutls_certificate_free_credentials(iopctl_x509);
	if (iopctl_psk)
		gnutls_psk_free_client_credentials(iopctl_psk);
	iopctl_tls = NULL;
	iopctl_x509 = NULL;
	iopctl_psk = NULL;
}
