/* SPDX-License-Identifier: MIT */
/*
 * Secrets kept in files (the management token, CHAP secrets): one reader
 * with one policy, so no secret is accepted from a file others could read
 * or replace, and none lingers in memory iopd no longer uses.
 */
#ifndef IOPD_MGMT_SECRET_H
#define IOPD_MGMT_SECRET_H

#include <stddef.h>

/*
 * Read the secret in path: one line of 1 to max_len bytes (a trailing
 * "\n" or "\r\n" is dropped; no NUL, no second line).  The policy:
 *   - path itself is a regular file, not a symbolic link (O_NOFOLLOW) nor
 *     a device, FIFO or directory;
 *   - owned by root or by the user iopd runs as (its effective uid);
 *   - no permission at all for group or others (mode & 077 == 0);
 *   - at most max_len + 2 bytes long.
 * what names the secret in log messages ("config: iscsi: target CHAP").
 * *out gets a malloc'd copy, which the caller wipes (explicit_bzero) and
 * frees; every buffer used here is wiped on every path.  Returns 0, or
 * -errno having logged why, never with the secret: open's error (-ENOENT,
 * -EACCES, -ELOOP for a symbolic link), -EINVAL for a file the policy
 * refuses or whose contents are not one such line, -ENOMEM.
 */
int mgmt_secret_read(const char *what, const char *path, size_t max_len,
		     char **out);
/* The same policy for a file of several lines, max_len bytes in all
 * (the last line's end dropped; no NUL): *out gets them, '\n' between
 * them, each as the file has it (the caller checks their form). */
int mgmt_secret_read_lines(const char *what, const char *path, size_t max_len,
			   char **out);

#endif
