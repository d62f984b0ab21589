// SPDX-License-Identifier: MIT
/*
 * Who may read /metrics: HTTPS (libmicrohttpd's GnuTLS) with the server
 * key pair of --tls-certificates, and HTTP basic authentication against
 * "user:password" lines, one per scraper, which is what a Prometheus
 * scrape config (tls_config, basic_auth) sends.  The lines are a secret
 * file (mgmt_secret.h: owner-only, no symlink); a request is compared
 * with every line, each comparison taking the same time however much of
 * it matches, so the time tells neither how close a guess came nor
 * which user it named.  SIGHUP reads both again (mgmt_metrics.c).
 * Basic authentication sends the
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
#define MGMT_METRICS_CRED_MAX  1021	   /* one user:password line */
#define MGMT_METRICS_AUTH_MAX  (16 * 1024) /* the whole file */
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

/*
 * Check the user:password lines of text and leave them '\n'-separated,
 * without '\r' line ends or blank lines.  Returns 0 or -EINVAL after
 * logging which line is wrong (never its contents).
 */
static int mgmt_metrics_auth_lines(char *text, const char *path)
{
	char *in = text, *out = text;
	unsigned int line = 0, n = 0;

	while (*in) {
		size_t len = strcspn(in, "\n");
		char *next = in + len + (in[len] == '\n');

		line++;
		if (len && in[len - 1] == '\r')
			len--;
		if (len &&
		    (!memchr(in, ':', len) || len > MGMT_METRICS_CRED_MAX)) {
			log_error("--metrics-auth %s: line %u: expected "
				  "user:password (at most %d bytes)",
				  path, line, MGMT_METRICS_CRED_MAX);
			return -EINVAL;
		}
		if (len) {
			if (n++)
				*out++ = '\n';
			memmove(out, in, len);
			out += len;
		}
		in = next;
	}
	explicit_bzero(out, strlen(out));
	if (!n) {
		log_error("--metrics-auth %s: no user:password line", path);
		return -EINVAL;
	}
	return 0;
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
		ret = mgmt_secret_read_lines("metrics auth", limits->auth_file,
					     MGMT_METRICS_AUTH_MAX,
					     &a->userpass);
		if (ret == 0)
			ret = mgmt_metrics_auth_lines(a->userpass,
						      limits->auth_file);
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

/* Compare want (n bytes) and got (m) without telling by the time taken
 * how much matched. */
static unsigned char mgmt_metrics_differ(const char *want, size_t n,
					 const unsigned char *got, size_t m)
{
	unsigned char diff = n != m;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)want[i] ^ got[i % m];
	return diff;
}

/* got matches one of the lines: every line is compared (no early exit),
 * so the time does not tell which. */
static bool mgmt_metrics_match(const char *lines, const unsigned char *got,
			       size_t m)
{
	unsigned int matched = 0;

	if (m == 0)
		return false;
	for (const char *p = lines; *p;) {
		size_t len = strcspn(p, "\n");

		matched |= mgmt_metrics_differ(p, len, got, m) == 0;
		p += len + (p[len] == '\n');
	}
	return matched;
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
	ok = mgmt_metrics_match(a->userpass, plain.data, plain.size);
	gnutls_memset(plain.data, 0, plain.size);
	gnutls_free(plain.data);
	return ok;
}
