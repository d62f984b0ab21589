/* SPDX-License-Identifier: MIT */
/*
 * The DDM-specific settings of an export's own device (struct
 * ddm_option, handed to ddm_ops.configure): from the command line's
 * "SPEC?KEY=VALUE&KEY=VALUE" and "fault:SPEC", and from the config
 * object's "options" ({"KEY": "VALUE"}), back to JSON for save-config.
 */
#ifndef IOPD_MGMT_CONFIG_OPTIONS_H
#define IOPD_MGMT_CONFIG_OPTIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "mgmt/mgmt_config.h"

/* Append KEY=VALUE (copied) to e's options.  Returns 0 or -ENOMEM. */
int mgmt_options_add(struct mgmt_export *e, const char *key, const char *value);
void mgmt_options_free(struct mgmt_export *e);
/* "KEY=VALUE&KEY=VALUE" (a URL query; "KEY" alone means KEY=1).
 * Returns 0 or -errno after logging. */
int mgmt_options_parse_query(struct mgmt_export *e, const char *query);
/* {"KEY": "VALUE" | number | boolean}.  Returns 0 or -errno after
 * logging. */
int mgmt_options_parse_json(struct mgmt_export *e, json_t *obj);
json_t *mgmt_options_to_json(const struct mgmt_export *e);
bool mgmt_options_equal(const struct mgmt_export *a,
			const struct mgmt_export *b);
/* Copy src's options to dst (which has none).  Returns 0 or -ENOMEM. */
int mgmt_options_copy(struct mgmt_export *dst, const struct mgmt_export *src);
/* Make e's device the inner one of a wrapping DDM: the option inner=
 * gets e->ddm, which becomes ddm ("fault").  Returns 0 or -ENOMEM. */
int mgmt_options_wrap(struct mgmt_export *e, const char *ddm);

#endif
