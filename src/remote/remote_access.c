// SPDX-License-Identifier: MIT
/*
 * Who may open a session on an export: the one check every Remote
 * Transport makes when a client names an export (NBD_OPT_GO/INFO,
 * NBD_OPT_EXPORT_NAME, an iSCSI login mapping its LUNs), and that the
 * Connection Manager repeats for open connections when an export's
 * access changes.  Listener-wide lists are checked earlier, at accept,
 * by the Connection Manager.
 */
#include <errno.h>
#include <string.h>

#include "base/base_acl.h"
#include "iopd/remote.h"

unsigned int remote_proto_bit(const char *name)
{
	if (!strcmp(name, "nbd"))
		return CONN_PROTO_NBD;
	if (!strcmp(name, "iscsi"))
		return CONN_PROTO_ISCSI;
	return 0;
}

int remote_export_access(const struct conn_export *exp, unsigned int proto,
			 const struct sockaddr *peer)
{
	/* 0 is "every protocol": exports made before protocols existed
	 * (unit tests, fakes) keep being served. */
	if (exp->protocols && !(exp->protocols & proto))
		return -ENOENT;
	if (!base_acl_allows(exp->acl, peer))
		return -EACCES;
	return 0;
}
