// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the config-file loader (src/mgmt/mgmt_config.c and
 * the option schema it hands each key to): the input is the text of a
 * config file, loaded with mgmt_config_load_text as --config and reload
 * load one.  What loads is then checked the way start-up checks it
 * (export paths, iSCSI LUNs) and saved as save-config would (to JSON
 * only: nothing here writes a file; a CHAP secret_file named in the input
 * is read, as the daemon would).
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks the
 * round trip save-config relies on: what was loaded, saved and loaded
 * again saves to the same JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Load text into a fresh config; its saved form, or NULL if it failed. */
static char *fuzz_load_save(const char *text, size_t len)
{
	struct mgmt_config cfg;
	char *out = NULL;
	json_t *j;

	mgmt_config_init(&cfg);
	if (mgmt_config_load_text(&cfg, text, len) == 0) {
		mgmt_iscsi_check(&cfg);
		mgmt_path_check_config(&cfg);
		j = mgmt_config_to_json(&cfg);
		out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
	}
	mgmt_config_fini(&cfg);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *first, *second;

	base_log_set_level(BASE_LOG_ERROR);
	first = fuzz_load_save((const char *)data, size);
	if (!first)
		return 0;
	second = fuzz_load_save(first, strlen(first));
	/* What save-config writes must load, and load the same. */
	if (!second || strcmp(first, second) != 0)
		abort();
	free(first);
	free(second);
	return 0;
}
