// SPDX-License-Identifier: MIT
/*
 * Listening sockets for every Remote Transport: TCP over IPv4 and IPv6 and
 * Unix stream sockets.  Binding happens at start-up step 3, before the
 * Connection Manager admits anyone; accepting is the Connection Manager's.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/base_acl.h"
#include "base/base_addr.h"
#include "base/base_log.h"
#include "iopd/remote.h"

#define REMOTE_LISTEN_BACKLOG 1024

/* mode < 0: the umask decides, as it always did. */
static int remote_listen_unix(const char *path, int mode, int *fds)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask = 0;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("listen unix:%s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	/* A socket left by a previous run would make bind fail; anything
	 * else at that path is the operator's and stays. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto err;
	/* With a mode, the socket is born owner-only and then opened up:
	 * nobody connects while a wider umask would allow it.  Start-up is
	 * single-threaded here, so the process-wide umask is ours. */
	if (mode >= 0)
		old_mask = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (mode >= 0)
		umask(old_mask);
	if (ret < 0 || (mode >= 0 && chmod(path, (mode_t)mode) < 0) ||
	    listen(fd, REMOTE_LISTEN_BACKLOG) < 0) {
		ret = errno;
		close(fd);
		errno = ret;
		goto err;
	}
	fds[0] = fd;
	return 1;
err:
	log_error("listen unix:%s: %s", path, strerror(errno));
	return -errno;
}

/* Split "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" into host and port. */
static int remote_listen_split(const char *addr, int default_port, char *host,
			       size_t host_len, char *port, size_t port_len)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || (size_t)(end - addr - 1) >= host_len ||
		    (end[1] && end[1] != ':'))
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = 0;
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strrchr(addr, ':');
		if (colon && strchr(addr, ':') != colon)
			return -EINVAL; /* bare IPv6 needs brackets */
		size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

		if (!colon && strspn(addr, "0123456789") == strlen(addr)) {
			n = 0;
			colon = addr - 1; /* "PORT" alone */
		}
		if (n >= host_len)
			return -EINVAL;
		memcpy(host, addr, n);
		host[n] = 0;
	}
	if (colon && colon[1]) {
		char *end;
		unsigned long v = strtoul(colon + 1, &end, 10);

		/* getaddrinfo takes "999999" and truncates it. */
		if (*end || v > 65535 || !isdigit((unsigned char)colon[1]))
			return -EINVAL;
		snprintf(port, port_len, "%lu", v);
	} else {
		snprintf(port, port_len, "%d", default_port);
	}
	return 0;
}

static void remote_listen_port_set(struct addrinfo *ai, int port)
{
	if (ai->ai_family == AF_INET)
		((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(port);
	else if (ai->ai_family == AF_INET6)
		((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(port);
}

/* The port a bound socket got. */
static int remote_listen_port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	getsockname(fd, (struct sockaddr *)&ss, &sl);
	return ntohs(ss.ss_family == AF_INET
			     ? ((struct sockaddr_in *)&ss)->sin_port
			     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int remote_listen_tcp(const char *addr, int default_port, int *fds,
			     int max_fds)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	char host[256], port[16];
	int n = 0, fd, ret, one = 1;
	int bound_port = 0;

	if (remote_listen_split(addr, default_port, host, sizeof(host), port,
				sizeof(port)) < 0) {
		log_error("listen %s: expected HOST:PORT, [V6]:PORT, :PORT or "
			  "unix:PATH",
			  addr);
		return -EINVAL;
	}
	ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (ret) {
		log_error("listen %s: %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	for (ai = res; ai && n < max_fds; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* One socket per family, so "::" and "0.0.0.0" coexist. */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		/* Port 0: every address of one host name gets the same
		 * port, the one the kernel picked for the first. */
		if (bound_port)
			remote_listen_port_set(ai, bound_port);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, REMOTE_LISTEN_BACKLOG) < 0) {
			ret = -errno;
			close(fd);
			/* "localhost" may name ::1 on a host without IPv6. */
			if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT)
				continue;
			log_error("listen %s: %s", addr, strerror(-ret));
			goto err_close;
		}
		if (!bound_port)
			bound_port = remote_listen_port_of(fd);
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	if (n == 0) {
		log_error("listen %s: no usable address", addr);
		return -EADDRNOTAVAIL;
	}
	return n;

err_close:
	freeaddrinfo(res);
	while (n > 0)
		close(fds[--n]);
	return ret;
}

int remote_listen_bind(const char *addr, int default_port, int *fds,
		       int max_fds)
{
	if (max_fds < 1)
		return -EINVAL;
	if (!strncmp(addr, "unix:", 5))
		return remote_listen_unix(addr + 5, -1, fds);
	return remote_listen_tcp(addr, default_port, fds, max_fds);
}

/* One ",KEY=VALUE" of a listener spec into o. */
static int remote_listen_opt(const char *spec, bool is_unix, char *kv,
			     struct remote_listen_opts *o)
{
	char *value = strchr(kv, '='), *end;
	unsigned long mode;

	if (!value || value == kv || !value[1])
		goto err;
	*value++ = 0;
	if (!strcmp(kv, "mode") && is_unix) {
		errno = 0;
		mode = strtoul(value, &end, 8);
		if (errno || *end || mode > 0777)
			goto err;
		o->mode = (int)mode;
		return 0;
	}
	/* Address lists for TCP; peer credentials for Unix sockets. */
	if ((is_unix && (!strcmp(kv, "uid") || !strcmp(kv, "gid"))) ||
	    (!is_unix && (!strcmp(kv, "allow") || !strcmp(kv, "deny")))) {
		if (base_acl_add(&o->acl, kv, value) == 0)
			return 0;
		log_error("listen %s: %s=%s: not %s", spec, kv, value,
			  is_unix ? "a user or group (name or number)"
				  : "an address or prefix such as "
				    "10.0.0.0/8 or fd00::/8");
		return -EINVAL;
	}
	value[-1] = '=';
err:
	log_error("listen %s: unknown or bad option \"%s\" (TCP takes "
		  "allow=CIDR and deny=CIDR; unix:PATH takes mode=OCTAL, "
		  "uid=USER and gid=GROUP)",
		  spec, kv);
	return -EINVAL;
}

int remote_listen_parse(const char *spec, char *addr, size_t len,
			struct remote_listen_opts *o)
{
	const char *comma = strchr(spec, ',');
	size_t n = comma ? (size_t)(comma - spec) : strlen(spec);
	bool is_unix = !strncmp(spec, "unix:", 5);
	char *copy, *kv, *save = NULL;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	o->mode = -1;
	if (n >= len) {
		log_error("listen %s: address too long", spec);
		return -EINVAL;
	}
	memcpy(addr, spec, n);
	addr[n] = 0;
	if (!comma)
		return 0;
	copy = strdup(comma + 1);
	if (!copy)
		return -ENOMEM;
	for (kv = strtok_r(copy, ",", &save); kv && ret == 0;
	     kv = strtok_r(NULL, ",", &save))
		ret = remote_listen_opt(spec, is_unix, kv, o);
	free(copy);
	if (ret < 0)
		base_acl_fini(&o->acl);
	return ret;
}

int remote_listen_bind_spec(const char *spec, int default_port, int *fds,
			    int max_fds, struct base_acl *acl)
{
	struct remote_listen_opts o;
	char addr[4096];
	int ret = remote_listen_parse(spec, addr, sizeof(addr), &o);

	if (ret < 0)
		return ret;
	if (max_fds < 1)
		ret = -EINVAL;
	else if (!strncmp(addr, "unix:", 5))
		ret = remote_listen_unix(addr + 5, o.mode, fds);
	else
		ret = remote_listen_tcp(addr, default_port, fds, max_fds);
	if (ret < 0)
		base_acl_fini(&o.acl);
	else
		*acl = o.acl;
	return ret;
}

int remote_listen_describe(int fd, char *buf, size_t len)
{
	char addr[256];
	int ret = base_addr_of_fd(fd, 0, addr, sizeof(addr));

	if (ret < 0)
		return ret;
	if (!strncmp(addr, "unix:", 5))
		snprintf(buf, len, "unix %s", addr + 5);
	else
		snprintf(buf, len, "tcp %s", addr);
	return 0;
}
