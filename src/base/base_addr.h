/* SPDX-License-Identifier: MIT */
/*
 * base_addr: socket addresses as people read them, for logs and for the
 * ready-fd protocol.  Knows nothing about what listens or connects.
 */
#ifndef IOPD_BASE_ADDR_H
#define IOPD_BASE_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "127.0.0.1:10809", "[::1]:10809" or "unix:/path" (or "unix" when the
 * socket has no path, e.g. an accepted peer).  Returns 0 or
 * -EAFNOSUPPORT. */
int base_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len);

/* The same for an fd's own address (peer false) or its peer's.  Returns 0
 * or -errno. */
int base_addr_of_fd(int fd, int peer, char *buf, size_t len);

#endif
