// SPDX-License-Identifier: MIT
/*
 * The management channel's TCP authentication: the token, read at start
 * from a file nobody but its owner can read, and daemon.auth, which a TCP
 * session must call with it before anything else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_rpc_server.h"
#include "mgmt/mgmt_secret.h"

#define MGMT_RPC_MIN_TOKEN 16
#define MGMT_RPC_MAX_TOKEN 1021

/* Compare without telling by the time taken how much matched. */
static bool mgmt_rpc_token_equal(const char *want, const char *got)
{
	size_t n = strlen(want), m = strlen(got);
	unsigned char diff = n != m;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)want[i] ^
			(unsigned char)got[i % (m + 1)];
	return !diff;
}

/* daemon.auth, which only a TCP session needs and sees. */
json_t *mgmt_rpc_auth(struct mgmt_rpc_session *s, json_t *id, json_t *params)
{
	json_t *token = json_object_get(params, "token");

	if (!json_is_string(token) ||
	    !mgmt_rpc_token_equal(s->rpc->token, json_string_value(token))) {
		/* No second guess on this connection; no token in the log. */
		log_warn("mgmt: a TCP client failed to authenticate");
		s->hang_up = true;
		return mgmt_rpc_error(id, -32001,
				      "permission denied: bad token", 0);
	}
	s->authed = true;
	return json_pack("{s:s, s:O?, s:{s:b}}", "jsonrpc", "2.0", "id", id,
			 "result", "authenticated", true);
}

/* The token: one line, from a file nobody but its owner can read. */
int mgmt_rpc_token_load(struct mgmt_rpc *rpc, const char *path)
{
	int ret;

	if (!path) {
		log_error("mgmt listen: a token file is required "
			  "(--mgmt-token-file)");
		return -EINVAL;
	}
	ret = mgmt_secret_read("mgmt token", path, MGMT_RPC_MAX_TOKEN,
			       &rpc->token);
	if (ret < 0)
		return ret;
	if (strlen(rpc->token) < MGMT_RPC_MIN_TOKEN) {
		log_error("mgmt token file %s: the token needs at least %d "
			  "characters",
			  path, MGMT_RPC_MIN_TOKEN);
		explicit_bzero(rpc->token, strlen(rpc->token));
		free(rpc->token);
		rpc->token = NULL;
		return -EINVAL;
	}
	return 0;
}
