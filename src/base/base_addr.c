// SPDX-License-Identifier: MIT
/* Socket addresses as text; see base_addr.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>

#include "base/base_addr.h"

int base_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
		return 0;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		return 0;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const void *)ss;

		if (sun->sun_path[0])
			snprintf(buf, len, "unix:%s", sun->sun_path);
		else
			snprintf(buf, len, "unix");
		return 0;
	}
	}
	return -EAFNOSUPPORT;
}

int base_addr_of_fd(int fd, int peer, char *buf, size_t len)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	int ret = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
		       : getsockname(fd, (struct sockaddr *)&ss, &sl);

	if (ret < 0)
		return -errno;
	return base_addr_format(&ss, buf, len);
}
