// SPDX-License-Identifier: MIT
/*
 * Text requests in full feature phase (RFC 7143 §11.10, §11.11): key
 * exchange, SendTargets (Appendix C) in discovery and normal sessions,
 * requests continued with the C bit, and long responses cut to the
 * initiator's MaxRecvDataSegmentLength and handed out one Text Response
 * at a time, each further piece asked for with the Target Transfer Tag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base_log.h"
#include "remote/iscsi/iscsi_priv.h"

#define ISCSI_TEXT_KEYS_MAX 64u

void iscsi_text_free(struct iscsi_proto *proto)
{
	free(proto->text_in);
	proto->text_in = NULL;
	proto->text_in_len = 0;
	free(proto->text_out);
	proto->text_out = NULL;
	proto->text_out_len = proto->text_out_off = 0;
}

static void iscsi_send_target(struct iscsi_proto *proto,
			      const struct iscsi_target_view *v,
			      struct iscsi_strbuf *out)
{
	iscsi_sb_add(out, "TargetName", "%s", v->name);
	if (proto->cfg.portal)
		iscsi_sb_add(out, "TargetAddress", "%s,%u", proto->cfg.portal,
			     proto->cfg.tpg);
}

/* Appendix C: "All" lists every target this initiator may log in to;
 * a name lists that one; empty (normal sessions) the current one. */
static void iscsi_send_targets(struct iscsi_proto *proto, const char *val,
			       struct iscsi_strbuf *out)
{
	struct iscsi_target_view v;
	int n;

	if (strcmp(val, "All") == 0) {
		n = iscsi_target_count(proto);
		for (int i = 0; i < n; i++)
			if (iscsi_target_at(proto, i, &v) &&
			    iscsi_target_allows(&v, proto->initiator))
				iscsi_send_target(proto, &v, out);
		return;
	}
	if (*val == '\0') {
		if (!proto->discovery)
			iscsi_send_target(proto, &proto->target, out);
		return;
	}
	if (iscsi_target_lookup(proto, val, &v) &&
	    iscsi_target_allows(&v, proto->initiator))
		iscsi_send_target(proto, &v, out);
}

/* Queue the next piece of text_out, at most the initiator's MRDSL, cut
 * after a whole key=value pair where possible. */
static int iscsi_text_next(struct iscsi_proto *proto, const uint8_t *bhs)
{
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };
	size_t left = proto->text_out_len - proto->text_out_off;
	size_t len = left;
	const char *p = proto->text_out + proto->text_out_off;
	bool more = false, split = false;
	int ret;

	if (len > proto->p.ini_mrdsl) {
		len = proto->p.ini_mrdsl;
		while (len > 0 && p[len - 1] != '\0')
			len--;
		if (len == 0) {
			len = proto->p.ini_mrdsl;
			split = true;
		}
		more = true;
	}
	rsp[0] = ISCSI_OP_TEXT_RSP;
	rsp[1] = more ? (split ? ISCSI_FLAG_TEXT_C : 0) : ISCSI_FLAG_F;
	memcpy(rsp + 8, bhs + 8, 8);
	base_be32_put(rsp + 16, proto->text_itt);
	if (more) {
		proto->text_ttt = (proto->text_ttt + 1) & 0x7fffffffu;
		base_be32_put(rsp + 20, proto->text_ttt);
	} else {
		base_be32_put(rsp + 20, ISCSI_RSVD_TAG);
	}
	iscsi_stamp(proto, rsp, true);
	ret = iscsi_tx_pdu(proto, rsp, p, (uint32_t)len, false);
	proto->text_out_off += len;
	if (!more) {
		free(proto->text_out);
		proto->text_out = NULL;
		proto->text_out_len = proto->text_out_off = 0;
	}
	return ret;
}

/* §11.10.2: acknowledge a request with C set with an empty response
 * that invites the rest. */
static int iscsi_text_ack(struct iscsi_proto *proto, const uint8_t *bhs)
{
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };

	rsp[0] = ISCSI_OP_TEXT_RSP;
	memcpy(rsp + 8, bhs + 8, 8);
	base_be32_put(rsp + 16, base_be32_get(bhs + 16)); /* ITT */
	proto->text_ttt = (proto->text_ttt + 1) & 0x7fffffffu;
	base_be32_put(rsp + 20, proto->text_ttt);
	iscsi_stamp(proto, rsp, true);
	return iscsi_tx_pdu(proto, rsp, NULL, 0, false);
}

/* The whole request is in: answer its keys, and send the first piece of
 * the answer. */
static int iscsi_text_answer(struct iscsi_proto *proto, const uint8_t *bhs)
{
	struct iscsi_kv kv[ISCSI_TEXT_KEYS_MAX];
	struct iscsi_strbuf out = { 0 };
	int n;

	n = iscsi_text_parse(proto->text_in ? proto->text_in : (char *)"",
			     proto->text_in_len, kv, ISCSI_TEXT_KEYS_MAX);
	if (n < 0) {
		iscsi_text_free(proto);
		return iscsi_reject(proto, ISCSI_REJECT_PROTOCOL, bhs);
	}
	for (int i = 0; i < n; i++) {
		if (strlen(kv[i].val) > ISCSI_VAL_MAX)
			iscsi_sb_add(&out, kv[i].key, "Reject");
		else if (strcmp(kv[i].key, "SendTargets") == 0)
			iscsi_send_targets(proto, kv[i].val, &out);
		else if (!iscsi_param_key(proto, kv[i].key, kv[i].val, &out,
					  false))
			iscsi_sb_add(&out, kv[i].key, "NotUnderstood");
	}
	free(proto->text_in);
	proto->text_in = NULL;
	proto->text_in_len = 0;
	if (out.oom) {
		iscsi_sb_free(&out);
		return iscsi_reject(proto, ISCSI_REJECT_NO_RESOURCES, bhs);
	}
	proto->text_out = out.p;
	proto->text_out_len = out.len;
	proto->text_out_off = 0;
	if (!proto->text_out) {
		/* Nothing to say: an empty final response. */
		proto->text_out = malloc(1);
		if (!proto->text_out)
			return iscsi_proto_fail(proto, -ENOMEM,
						"out of memory");
	}
	return iscsi_text_next(proto, bhs);
}

int iscsi_text_pdu(struct iscsi_proto *proto, const uint8_t *bhs,
		   const uint8_t *data, uint32_t dlen)
{
	uint32_t itt = base_be32_get(bhs + 16), ttt = base_be32_get(bhs + 20);
	bool cont = bhs[1] & ISCSI_FLAG_TEXT_C;

	if (cont && (bhs[1] & ISCSI_FLAG_F))
		return iscsi_reject(proto, ISCSI_REJECT_PROTOCOL, bhs);
	if (!iscsi_cmd_sn_ok(proto, bhs))
		return 0;
	if (ttt != ISCSI_RSVD_TAG &&
	    (ttt != proto->text_ttt || itt != proto->text_itt ||
	     (!proto->text_out && !proto->text_in)))
		return iscsi_reject(proto, ISCSI_REJECT_INVALID_FIELD, bhs);
	if (ttt != ISCSI_RSVD_TAG && proto->text_out) {
		/* The initiator asks for the next piece of our answer. */
		return iscsi_text_next(proto, bhs);
	}
	/* A new request resets any exchange in progress (§11.10.4). */
	if (ttt == ISCSI_RSVD_TAG && (proto->text_itt != itt || !cont)) {
		iscsi_text_free(proto);
		proto->text_itt = itt;
	}
	free(proto->text_out);
	proto->text_out = NULL;
	proto->text_out_len = proto->text_out_off = 0;
	if (iscsi_text_append(&proto->text_in, &proto->text_in_len, data,
			      dlen) < 0) {
		iscsi_text_free(proto);
		return iscsi_reject(proto, ISCSI_REJECT_NO_RESOURCES, bhs);
	}
	if (cont)
		return iscsi_text_ack(proto, bhs);
	return iscsi_text_answer(proto, bhs);
}
