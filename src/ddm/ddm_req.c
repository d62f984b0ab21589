// SPDX-License-Identifier: MIT
/*
 * Completing a request from a thread other than its worker's
 * (include/iopd/ddm.h, ddm_req_complete_foreign): the request rides its
 * worker's lock-free message list (base_loop_send) and completes there.
 */
#include <stddef.h>

#include "iopd/ddm.h"

static void ddm_req_foreign_done(struct base_msg *msg)
{
	struct ddm_req *req =
		(struct ddm_req *)((char *)msg -
				   offsetof(struct ddm_req, foreign));

	ddm_req_complete(req, req->foreign_result);
}

void ddm_req_complete_foreign(struct ddm_req *req, int result)
{
	req->foreign_result = result;
	req->foreign.fn = ddm_req_foreign_done;
	base_loop_send(req->loop, &req->foreign);
}
