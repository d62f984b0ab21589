/* SPDX-License-Identifier: MIT */
/*
 * Where persistent reservations are kept when an initiator asks them to
 * survive a power loss (APTPL).  The reservation code (scsi_pr.c) turns
 * a device's state into text and back; a store only keeps that text per
 * device, with a version, so that a store shared by several processes
 * can refuse an update made from a stale copy (compare and swap on the
 * version).  The one store built in keeps a file per device in a
 * directory; another (one in the image's own metadata, say) fills the
 * same table.
 */
#ifndef IOPD_SCSI_PR_STORE_H
#define IOPD_SCSI_PR_STORE_H

#include <stdint.h>

struct scsi_pr_store {
	const struct scsi_pr_store_ops *ops;
	void *ctx; /* the store's own */
};

/*
 * Called with the device's reservation lock held, on the thread of the
 * command that changed the state (or the management thread).  dev_id is
 * a stable name for the device (the same after a restart).
 */
struct scsi_pr_store_ops {
	/* The saved text of dev_id (malloc'd, NUL-terminated, the caller
	 * frees it) and its version.  -ENOENT when nothing is saved. */
	int (*load)(void *ctx, const char *dev_id, char **text,
		    uint64_t *version);
	/* Replace the saved state of dev_id with text (NULL: remove it),
	 * saved as version expect + 1, but only if the saved version is
	 * still expect (0: nothing saved): -ESTALE otherwise.  Atomic: a
	 * reader sees the old state or the new one.  0 or -errno. */
	int (*save)(void *ctx, const char *dev_id, const char *text,
		    uint64_t expect);
};

/* The file store: DIR/<dev_id escaped>.pr, written through a temporary
 * file, fsync and rename (base_file_write_atomic). */
extern const struct scsi_pr_store_ops scsi_pr_store_file_ops;

#endif
