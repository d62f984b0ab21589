/* SPDX-License-Identifier: MIT */
/*
 * Which files an export may serve.  Everywhere: never anything under
 * /proc or /sys (or on a procfs or sysfs mounted elsewhere), never the
 * config file itself, the management token file or a CHAP secret_file.
 * Through the management channel (export.add, iop.add) also: an absolute
 * path only, and, when the config file's "allowed_paths" lists prefixes,
 * a file under one of them.  Every check is on the path with its symlinks
 * resolved (realpath), so a symlink inside an allowed directory pointing
 * out of it is refused.  The device's open (ddm_fd.c) then refuses what is
 * not a regular file or a block device.
 */
#ifndef IOPD_MGMT_PATH_H
#define IOPD_MGMT_PATH_H

#include <jansson.h>
#include <stdbool.h>

struct mgmt_config;

/* The config file's "allowed_paths": a list of absolute directories.
 * Returns 0 or -errno after logging. */
int mgmt_path_load_allowed(struct mgmt_config *cfg, json_t *v);
/* Set "allowed_paths" in root when there are any (save-config). */
void mgmt_path_to_json(const struct mgmt_config *cfg, json_t *root);
void mgmt_path_free_allowed(struct mgmt_config *cfg);
/* Move next's list into cfg (reload). */
void mgmt_path_take_allowed(struct mgmt_config *cfg, struct mgmt_config *next);

/*
 * May what (an export or device name, for the message) serve path?  rpc:
 * it comes through the management channel.  Returns 0, or -EINVAL
 * (relative over RPC) or -EACCES (refused) after logging why.
 */
int mgmt_path_check(const struct mgmt_config *cfg, const char *what,
		    const char *path, bool rpc);
/* mgmt_path_check(rpc = false) on every export and IOP device of cfg. */
int mgmt_path_check_config(const struct mgmt_config *cfg);

#endif
