/* SPDX-License-Identifier: MIT */
/*
 * Private to the Remote Transports box: the tables the transports built
 * into this iopd define, which only remote_registry.c names.  Everything
 * above asks the registry by name (remote_transport_find in iopd/remote.h),
 * so a build without one of them still links.
 */
#ifndef IOPD_REMOTE_REGISTRY_H
#define IOPD_REMOTE_REGISTRY_H

#include "iopd/remote.h"

extern const struct remote_transport_ops nbd_transport_ops;   /* nbd/ */
extern const struct remote_transport_ops iscsi_transport_ops; /* iscsi/ */

#endif
