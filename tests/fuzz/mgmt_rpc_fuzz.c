// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the management channel's JSON-RPC request parser
 * (src/mgmt/mgmt_rpc.c): the input is one request line, a single request
 * or a batch, handled by mgmt_rpc_handle_text as the management thread
 * handles what a client sends.
 *
 * There is no running daemon behind it (no Connection Manager), so only
 * the methods that need none are dispatched: daemon.version,
 * daemon.methods, daemon.log_level, daemon.config and daemon.reload
 * (which, with no config file, refuses).  A request naming any other
 * method is rewritten to an unknown name before it is handled, keeping
 * its id and params, so the error paths still run; the raw text is what
 * the parser sees whenever nothing needed rewriting.  Nothing here writes
 * a file.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks that every
 * response is a single line of JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_safe[] = { "daemon.version",   "daemon.methods",
					 "daemon.log_level", "daemon.config",
					 "daemon.reload",    NULL };

/* Make one request safe; true if it was changed. */
static bool fuzz_defuse(json_t *req)
{
	json_t *m = json_object_get(req, "method");

	if (!json_is_string(m))
		return false;
	for (unsigned int i = 0; fuzz_safe[i]; i++)
		if (!strcmp(json_string_value(m), fuzz_safe[i]))
			return false;
	json_object_set_new(req, "method", json_string("fuzz.not_run"));
	return true;
}

static void fuzz_check_response(char *out)
{
	json_t *r;

	if (!out)
		return;
	if (strchr(out, '\n'))
		abort(); /* the framing is one line per response */
	r = json_loads(out, 0, NULL);
	if (!r)
		abort();
	json_decref(r);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mgmt_config cfg;
	static struct mgmt_ctx ctx = { .cfg = &cfg, .version = "fuzz" };
	static bool init;
	json_t *req;
	bool changed = false;
	char *text;

	if (!init) {
		mgmt_config_init(&cfg);
		init = true;
	}
	base_log_set_level(BASE_LOG_ERROR);
	req = json_loadb((const char *)data, size,
			 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (json_is_object(req)) {
		changed = fuzz_defuse(req);
	} else if (json_is_array(req)) {
		size_t i;
		json_t *item;

		json_array_foreach(req, i, item)
		{
			if (json_is_object(item) && fuzz_defuse(item))
				changed = true;
		}
	}
	if (!changed) {
		fuzz_check_response(
			mgmt_rpc_handle_text(&ctx, (const char *)data, size));
	} else {
		text = json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text)
			fuzz_check_response(
				mgmt_rpc_handle_text(&ctx, text, strlen(text)));
		free(text);
	}
	json_decref(req);
	return 0;
}
