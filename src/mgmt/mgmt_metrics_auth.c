// SPDX-License-Identifier: MIT
/*
 * Who may read /metrics: HTTPS (libmicrohttpd's GnuTLS) with the server
 * key pair of --tls-certificates, and HTTP basic authentication against
 * one "user:password" line, which is what a Prometheus scrape config
 * (tls_config, basic_auth) sends.  The line is a secret file
 * (mgmt_secret.h: owner-only, no symlink); the comparison takes the same
 * time however much of it matches.  Basic authentication sends the
 * password with every request, so it is only worth having over HTTPS;
 * iopd warns when it is asked for over plain HTTP.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base_log.h"
#include "mgmt/mgmt_metrics.h"
#include "mgmt/mgmt_secret.h"

#define MGMT_METRICS_PEM_MAX   (64 * 1024)
#define MGMT_METRICS_CRED_MAX  1021
#define MGMT_METRICS_AUTH_HEAD 2048 /* the longest Authorization we read */

/* dir/name, whole, into *out. */
static int mgmt_metrics_pem(const char *dir, const char *name, char **out)
{
	char path[4096];
	size_t n;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	*out = f ? calloc(1, MGMT_METRICS_PEM_MAX + 1) : NULL;
	if (!f || !*out) {
		ret = f ? -ENOMEM : -errno;
		log_error("--metrics-tls: cannot read %s: %s", path,
			  strerror(-ret));
	} else {
		n = fread(*out, 1, MGMT_METRICS_PEM_MAX + 1, f);
		if (n == 0 || n > MGMT_METRICS_PEM_MAX) {
			log_error("--metrics-tls: %s: %s", path,
				  n ? "too long" : "empty");
			ret = -EINVAL;
		}
	}
	if (f)
		fclose(f);
	return ret;
}

int mgmt_metrics_auth_load(struct mgmt_metrics_auth *a,
			   const struct mgmt_metrics_limits *limits)
{
	int ret = 0;

	if (limits->tls_dir) {
		ret = mgmt_metrics_pem(limits->tls_dir, "server-cert.pem",
				       &a->cert);
		if (ret == 0)
			ret = mgmt_metrics_pem(limits->tls_dir,
					       "server-key.pem", &a->key);
	}
	if (ret == 0 && limits->auth_file) {
		ret = mgmt_secret_read("metrics auth", limits->auth_file,
				       MGMT_METRICS_CRED_MAX, &a->userpass);
		if (ret == 0 && !strchr(a->userpass, ':')) {
			log_error("--metrics-auth %s: expected one "
				  "user:password line",
				  limits->auth_file);
			ret = -EINVAL;
		}
		if (ret == 0 && !limits->tls_dir)
			log_warn("--metrics-auth without --metrics-tls: the "
				 "password crosses the network in the clear");
	}
	if (ret < 0)
		mgmt_metrics_auth_free(a);
	return ret;
}

static void mgmt_metrics_wipe(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void mgmt_metrics_auth_free(struct mgmt_metrics_auth *a)
{
	free(a->cert);
	a->cert = NULL;
	mgmt_metrics_wipe(&a->key);
	mgmt_metrics_wipe(&a->userpass);
}

/* Compare without telling by the time taken how much matched. */
static bool mgmt_metrics_equal(const char *want, const unsigned char *got,
			       size_t m)
{
	size_t n = strlen(want);
	unsigned char diff = n != m;

	if (m == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)want[i] ^ got[i % m];
	return !diff;
}

bool mgmt_metrics_auth_ok(const struct mgmt_metrics_auth *a,
			  struct MHD_Connection *c)
{
	const char *h;
	gnutls_datum_t b64, plain = { NULL, 0 };
	bool ok;

	if (!a->userpass)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Basic ", 6) != 0 ||
	    strlen(h) > MGMT_METRICS_AUTH_HEAD)
		return false;
	h += 6;
	while (*h == ' ')
		h++;
	b64.data = (unsigned char *)h;
	b64.size = (unsigned int)strlen(h);
	if (gnutls_base64_decode2(&b64, &plain) < 0)
		return false;
	ok = mgmt_metrics_equal(a->userpass, plain.data, plain.size);
	gnutls_memset(plain.data, 0, plain.size);
	gnutls_free(plain.data);
	return ok;
}
