/* SPDX-License-Identifier: MIT */
/*
 * base_file: writing a small file (the saved configuration, the pidfile)
 * so that a reader sees the old contents or the new ones, never half, and
 * so that nobody who can write the target's directory can redirect the
 * write: the temporary file has an unpredictable name and is created with
 * O_EXCL|O_NOFOLLOW, so a symlink planted in the directory is never
 * followed; rename() then replaces the target's directory entry itself (a
 * symlink there is replaced, its target left alone).
 */
#ifndef IOPD_BASE_FILE_H
#define IOPD_BASE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write len bytes of data to path through a temporary file in path's
 * directory: create it (mode, O_EXCL|O_NOFOLLOW), write, fsync, rename
 * over path, fsync the directory.  Returns 0 or -errno; on failure path
 * is unchanged and the temporary file removed.  Does not log.
 */
int base_file_write_atomic(const char *path, const void *data, size_t len,
			   mode_t mode);

#endif
