// SPDX-License-Identifier: MIT
/*
 * The table of Remote Transports compiled into this build.  The Makefile
 * builds src/remote/<name>/ and defines IOPD_TRANSPORT_<NAME>=1 for each
 * name in TRANSPORTS, so the table names only transports that exist; a
 * new transport adds its directory, a line here and its name to the
 * Makefile's default TRANSPORTS.
 */
#include <stdio.h>
#include <string.h>

#include "remote/remote_registry.h"

static const struct remote_transport_ops *const remote_transport_table[] = {
#if IOPD_TRANSPORT_NBD
	&nbd_transport_ops,
#endif
#if IOPD_TRANSPORT_ISCSI
	&iscsi_transport_ops,
#endif
};

#define REMOTE_TRANSPORT_TABLE_LEN                                             \
	(sizeof(remote_transport_table) / sizeof(remote_transport_table[0]))

const struct remote_transport_ops *remote_transport_at(unsigned int i)
{
	return i < REMOTE_TRANSPORT_TABLE_LEN ? remote_transport_table[i]
					      : NULL;
}

const struct remote_transport_ops *remote_transport_find(const char *name)
{
	const struct remote_transport_ops *t;

	for (unsigned int i = 0; name && (t = remote_transport_at(i)); i++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

const char *remote_transport_names(char *buf, size_t len)
{
	const struct remote_transport_ops *t;
	size_t used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (unsigned int i = 0; (t = remote_transport_at(i)); i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "",
				 t->name);

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}
