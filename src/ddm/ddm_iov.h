/* SPDX-License-Identifier: MIT */
/* A cursor over a request's iovec array, for the DDMs that copy between
 * it and memory of their own (ram, fault's write cache); private to
 * src/ddm/. */
#ifndef IOPD_DDM_IOV_H
#define IOPD_DDM_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* A position in a request's iovec array. */
struct ddm_iov_cursor {
	const struct iovec *iov;
	int idx;
	size_t off;
};

enum ddm_iov_copy {
	DDM_IOV_FROM, /* iovecs -> buf */
	DDM_IOV_TO,   /* buf -> iovecs; buf NULL: zeroes */
	DDM_IOV_SKIP, /* only move */
};

/* Move the cursor n bytes on, copying them as how says; buf (when not
 * NULL) moves with it.  The iovecs must hold n more bytes. */
void ddm_iov_cursor_move(struct ddm_iov_cursor *cur, unsigned char *buf,
			 size_t n, enum ddm_iov_copy how);

#endif
