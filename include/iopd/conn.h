/* SPDX-License-Identifier: MIT */
/*
 * The seam between the Connection Manager and the Remote Transports: the
 * named exports a protocol may offer, and the limits it must apply.  The
 * Connection Manager owns the exports; a Remote Transport only reads them
 * through struct conn_exports and reaches storage through each export's
 * IOP descriptor (iopd/local.h).
 */
#ifndef IOPD_CONN_H
#define IOPD_CONN_H

#include <stdbool.h>
#include <stdint.h>

struct iop_desc;

struct conn_export {
	const char *name;	 /* never NULL; unique */
	const char *description; /* may be NULL */
	struct iop_desc *desc;	 /* the IOP the device belongs to */
	unsigned int dev_index;	 /* the device within that IOP */
	bool read_only;		 /* the operator exported it read-only */
};

/*
 * A read-only view of the export table.  Safe to call from any worker
 * thread; the export pointers stay valid while a session on them is open.
 */
struct conn_exports {
	/* name "" finds the default export.  NULL if there is none. */
	const struct conn_export *(*find)(void *opaque, const char *name);
	unsigned int (*count)(void *opaque);
	const struct conn_export *(*at)(void *opaque, unsigned int i);
	void *opaque;
};

/* Per-connection limits chosen by the operator. */
struct conn_limits {
	uint32_t max_request_bytes; /* largest READ/WRITE payload; 32 MiB
				       default */
	unsigned int max_inflight;  /* request slots per connection */
};

#define CONN_DEFAULT_MAX_REQUEST_BYTES (32u * 1024 * 1024)
#define CONN_DEFAULT_MAX_INFLIGHT      128u

#endif
