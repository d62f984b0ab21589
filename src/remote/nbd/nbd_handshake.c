// SPDX-License-Identifier: MIT
/*
 * nbd_handshake: fixed newstyle negotiation.  Parses the client flags and
 * one option at a time from the engine's receive buffer, answers each
 * option, and on NBD_OPT_EXPORT_NAME or a successful NBD_OPT_GO opens the
 * session on the chosen export and hands over to nbd_cmd.c.
 *
 * Supported: EXPORT_NAME, ABORT, LIST, INFO, GO, STRUCTURED_REPLY,
 * LIST_META_CONTEXT and SET_META_CONTEXT (base:allocation only), and
 * STARTTLS unless --tls=off; everything else gets NBD_REP_ERR_UNSUP.
 *
 * TLS (proto.md "TLS support"): --tls=off is its NOTLS mode (STARTTLS gets
 * NBD_REP_ERR_UNSUP), on is SELECTIVETLS (exports whose policy requires
 * TLS answer NBD_REP_ERR_TLS_REQD in plaintext; EXPORT_NAME of one ends
 * the connection, having no error reply), require is FORCEDTLS (before
 * STARTTLS every option but STARTTLS and ABORT gets NBD_REP_ERR_TLS_REQD,
 * and EXPORT_NAME ends the connection).  STARTTLS is answered in
 * plaintext, then the socket side runs the TLS handshake
 * (remote_engine_starttls) and everything negotiated before it is
 * forgotten.  An export's allow lists (conn_tls_policy) are checked where
 * an export is chosen or described: GO, INFO, EXPORT_NAME and the meta
 * context options (NBD_REP_ERR_POLICY, or the disconnect).
 *
 * Block size policy: NBD_INFO_BLOCK_SIZE is sent when asked for, and also
 * unasked when the device's minimum is above 1 (proto.md lets the server
 * send information the client did not request).  A client that went to
 * transmission without asking is still served (proto.md "Maximum
 * interoperability": servers SHOULD NOT require block size negotiation);
 * requests it sends outside the constraints fail cleanly with NBD_EINVAL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "iopd/remote.h"
#include "iopd/remote_stats.h"
#include "remote/nbd/nbd_proto_priv.h"
#include "remote/remote_tls.h"

/* An export name, NUL-terminated for the exports table. */
struct nbd_name {
	char s[NBD_MAX_STRING_BYTES + 1];
};

int nbd_hs_greeting(struct nbd_proto *proto)
{
	unsigned char g[NBD_GREETING_BYTES], *p = g;

	p = base_be64_put(p, NBD_MAGIC);
	p = base_be64_put(p, NBD_IHAVEOPT);
	base_be16_put(p, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	return remote_engine_tx_bytes(&proto->e, g, sizeof(g), NULL, 0);
}

/* Queue one option reply.  Returns 0 or -errno (fatal). */
static int nbd_hs_reply(struct nbd_proto *proto, uint32_t option, uint32_t type,
			const void *data, size_t len)
{
	unsigned char h[NBD_OPTION_REPLY_BYTES], *p = h;

	p = base_be64_put(p, NBD_REP_MAGIC);
	p = base_be32_put(p, option);
	p = base_be32_put(p, type);
	base_be32_put(p, (uint32_t)len);
	if (remote_engine_tx_bytes(&proto->e, h, sizeof(h), data, len) < 0)
		return nbd_proto_fail(proto, -ENOMEM, "out of memory");
	return 0;
}

/* Copy a wire string; proto.md: strings MUST NOT contain NUL and MUST be
 * no longer than 4096 bytes.  Returns 0 or -EINVAL. */
static int nbd_name_copy(const unsigned char *p, uint32_t len,
			 struct nbd_name *name)
{
	if (len > NBD_MAX_STRING_BYTES || memchr(p, '\0', len))
		return -EINVAL;
	memcpy(name->s, p, len);
	name->s[len] = '\0';
	return 0;
}

static const struct sockaddr *nbd_peer_addr(const struct nbd_proto *proto)
{
	const struct sockaddr_storage *ss = &proto->cfg.peer_addr;

	return ss->ss_family == AF_UNSPEC ? NULL : (const void *)ss;
}

/*
 * The export called name, if this client may use it over NBD; else NULL
 * with *rep the refusal: NBD_REP_ERR_UNKNOWN when there is none, or when
 * it is not offered over NBD at all (it is absent from NBD_OPT_LIST too,
 * so an NBD client cannot even learn that an iSCSI-only LUN exists);
 * NBD_REP_ERR_POLICY when the export's address list refuses the client
 * (proto.md: "known by this server, but ... unsupported due to a policy",
 * nbd-server's answer to its authfile), so the operator can tell a typo
 * from a refusal.
 */
static const struct conn_export *
nbd_export_find(struct nbd_proto *proto, const char *name, uint32_t *rep)
{
	const struct conn_exports *exports = proto->cfg.exports;
	const struct conn_export *exp = NULL;
	int ret;

	*rep = NBD_REP_ERR_UNKNOWN;
	if (exports && exports->find)
		exp = exports->find(exports->opaque, name);
	if (!exp)
		return NULL;
	ret = remote_export_access(exp, CONN_PROTO_NBD, nbd_peer_addr(proto));
	if (ret == 0)
		return exp;
	if (ret == -EACCES)
		*rep = NBD_REP_ERR_POLICY;
	log_info("%s: export '%.64s' %s", nbd_peer(proto), name,
		 ret == -EACCES ? "refuses this address" : "is not on NBD");
	return NULL;
}

static bool nbd_str_listed(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* May this client use exp?  0, or the NBD_REP_ERR_* that refuses it. */
static uint32_t nbd_hs_tls_refusal(const struct nbd_proto *proto,
				   const struct conn_export *exp)
{
	const struct conn_tls_policy *p = &exp->tls;
	const bool lists = p->dn_allow || p->psk_allow;

	if (!proto->e.tls)
		return p->required || lists ? NBD_REP_ERR_TLS_REQD : 0;
	if (!lists)
		return 0;
	if (proto->e.tls_dn && nbd_str_listed(p->dn_allow, proto->e.tls_dn))
		return 0;
	if (proto->e.tls_psk && nbd_str_listed(p->psk_allow, proto->e.tls_psk))
		return 0;
	return NBD_REP_ERR_POLICY;
}

static void nbd_hs_tls_log(const struct nbd_proto *proto, uint32_t refusal)
{
	log_info("%s: export refused: %s", nbd_peer(proto),
		 refusal == NBD_REP_ERR_TLS_REQD
			 ? "it requires TLS"
			 : "the client's identity is not on its allow list");
}

static uint32_t nbd_pow2_ceil(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

/* What the client will see of exp through session s. */
static void nbd_hs_view(struct nbd_proto *proto, const struct conn_export *exp,
			struct iop_session *s, struct nbd_export_view *v)
{
	struct iop_dev_info info;
	uint32_t min, pref, max, floor;
	uint16_t flags = NBD_FLAG_HAS_FLAGS;
	bool ro;

	memset(&info, 0, sizeof(info));
	exp->desc->ops->session_info(s, &info);
	ro = exp->read_only || info.read_only;
	/* Flush always works (it may do nothing on a device without a
	 * volatile cache); CACHE is advisory and always accepted. */
	flags |= NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_CACHE;
	if (ro)
		flags |= NBD_FLAG_READ_ONLY;
	if (info.caps & DDM_CAP_FUA)
		flags |= NBD_FLAG_SEND_FUA;
	if (!ro && (info.caps & DDM_CAP_TRIM))
		flags |= NBD_FLAG_SEND_TRIM;
	if (!ro && (info.caps & DDM_CAP_ZEROES)) {
		flags |= NBD_FLAG_SEND_WRITE_ZEROES;
		/* proto.md: SEND_FAST_ZERO MUST be clear without
		 * SEND_WRITE_ZEROES. */
		if (info.caps & DDM_CAP_FAST_ZERO)
			flags |= NBD_FLAG_SEND_FAST_ZERO;
	}
	/* proto.md: SEND_DF MUST be clear unless structured replies were
	 * negotiated. */
	if (proto->structured)
		flags |= NBD_FLAG_SEND_DF;
	if (info.caps & DDM_CAP_MULTI_CONN)
		flags |= NBD_FLAG_CAN_MULTI_CONN;

	/* proto.md "Block size constraints": minimum a power of 2 no larger
	 * than 2^16; preferred a power of 2 at least max(minimum, 512);
	 * maximum a multiple of the minimum. */
	min = info.block_size_min;
	if (min == 0 || (min & (min - 1)) || min > NBD_MAX_MIN_BLOCK_BYTES)
		min = 1;
	floor = min > 512 ? min : 512;
	pref = nbd_pow2_ceil(info.block_size_pref > floor ? info.block_size_pref
							  : floor);
	max = proto->cfg.limits.max_request_bytes;
	if (info.max_request_bytes && info.max_request_bytes < max)
		max = info.max_request_bytes;
	max -= max % min;
	if (max < min)
		max = min;

	v->size_bytes = info.size_bytes;
	v->tx_flags = flags;
	v->block_min = min;
	v->block_pref = pref;
	v->block_max = max;
	v->caps = info.caps;
}

static int nbd_hs_session_open(struct nbd_proto *proto,
			       const struct conn_export *exp,
			       struct iop_session **sessionp)
{
	int ret = exp->desc->ops->session_open(exp->desc, exp->dev_index,
					       exp->read_only, sessionp);

	if (ret < 0)
		log_info("%s: cannot open export '%s': %s", nbd_peer(proto),
			 exp->name, strerror(-ret));
	return ret;
}

/* The option negotiation is over: serve exp through session. */
static int nbd_hs_transmission(struct nbd_proto *proto,
			       const struct conn_export *exp,
			       struct iop_session *session,
			       const struct nbd_export_view *view)
{
	proto->export = exp;
	proto->session = session;
	if (proto->cfg.stats)
		proto->cfg.stats->export = exp;
	proto->view = *view;
	/* proto.md: BLOCK_STATUS needs SET_META_CONTEXT to have named the
	 * export that was finally selected. */
	if (proto->meta_set &&
	    (!proto->meta_name || strcmp(proto->meta_name, exp->name) != 0))
		proto->meta_set = false;
	proto->phase = NBD_PHASE_TRANSMISSION;
	remote_stats_handshake("nbd", true);
	log_debug("%s: serving export '%s'", nbd_peer(proto), exp->name);
	/* Last: the option payload being parsed lives in this buffer. */
	if (remote_engine_rx_reserve(&proto->e, NBD_RX_BUF_BYTES) < 0)
		return nbd_proto_fail(proto, -ENOMEM, "out of memory");
	return 0;
}

/* proto.md NBD_OPT_EXPORT_NAME: there is no way to report an error, so
 * "the server MUST terminate the session". */
static int nbd_opt_export_name(struct nbd_proto *proto,
			       const unsigned char *data, uint32_t len)
{
	unsigned char r[NBD_EXPORT_NAME_REPLY_BYTES + NBD_EXPORT_NAME_ZEROES];
	const struct conn_export *exp;
	struct iop_session *session;
	struct nbd_export_view view;
	struct nbd_name name;
	char esc[BASE_LOG_ESC_BYTES];
	size_t rlen = sizeof(r);
	uint32_t rep;

	if (nbd_name_copy(data, len, &name) < 0)
		return nbd_proto_fail(proto, -EPROTO, "invalid export name");
	exp = nbd_export_find(proto, name.s, &rep);
	if (!exp)
		return nbd_proto_fail(
			proto, -ENOENT, "no export '%s'",
			base_log_escape(esc, sizeof(esc), name.s));
	if (nbd_hs_tls_refusal(proto, exp)) {
		nbd_hs_tls_log(proto, nbd_hs_tls_refusal(proto, exp));
		return nbd_proto_fail(proto, -EACCES, "EXPORT_NAME refused");
	}
	if (nbd_hs_session_open(proto, exp, &session) < 0)
		return nbd_proto_fail(
			proto, -EIO, "export '%s' failed",
			base_log_escape(esc, sizeof(esc), name.s));
	nbd_hs_view(proto, exp, session, &view);
	memset(r, 0, sizeof(r));
	base_be16_put(base_be64_put(r, view.size_bytes), view.tx_flags);
	/* proto.md: with NBD_FLAG_C_NO_ZEROES the server MUST NOT send the
	 * 124 bytes of zeroes. */
	if (proto->client_flags & NBD_FLAG_C_NO_ZEROES)
		rlen = NBD_EXPORT_NAME_REPLY_BYTES;
	if (remote_engine_tx_bytes(&proto->e, r, rlen, NULL, 0) < 0) {
		exp->desc->ops->session_close(session);
		return nbd_proto_fail(proto, -ENOMEM, "out of memory");
	}
	return nbd_hs_transmission(proto, exp, session, &view);
}

static int nbd_opt_list(struct nbd_proto *proto, uint32_t len)
{
	const struct conn_exports *exports = proto->cfg.exports;
	unsigned int n =
		exports && exports->count ? exports->count(exports->opaque) : 0;
	int ret;

	/* proto.md: the server SHOULD reject data with NBD_REP_ERR_INVALID. */
	if (len != 0)
		return nbd_hs_reply(proto, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
				    NULL, 0);
	/* proto.md: NBD_REP_ERR_POLICY "if ... the server ... does not
	 * wish to list the exports"; nbd-server's allowlist = false. */
	if (exports && exports->list_hidden)
		return nbd_hs_reply(proto, NBD_OPT_LIST, NBD_REP_ERR_POLICY,
				    NULL, 0);
	for (unsigned int i = 0; i < n; i++) {
		const struct conn_export *exp = exports->at(exports->opaque, i);
		size_t nlen, dlen;
		unsigned char *p;

		/* Only what this client could open. */
		if (!exp || remote_export_access(exp, CONN_PROTO_NBD,
						 nbd_peer_addr(proto)) < 0)
			continue;
		/* Name, then the description as the "details suitable for
		 * direct display" proto.md allows after it. */
		nlen = strlen(exp->name);
		dlen = exp->description ? strlen(exp->description) : 0;
		p = malloc(4 + nlen + dlen);
		if (!p)
			return nbd_proto_fail(proto, -ENOMEM, "out of memory");
		base_be32_put(p, (uint32_t)nlen);
		memcpy(p + 4, exp->name, nlen);
		if (dlen)
			memcpy(p + 4 + nlen, exp->description, dlen);
		ret = nbd_hs_reply(proto, NBD_OPT_LIST, NBD_REP_SERVER, p,
				   4 + nlen + dlen);
		free(p);
		if (ret < 0)
			return ret;
	}
	return nbd_hs_reply(proto, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

/* One NBD_REP_INFO carrying a 16-bit type and a string. */
static int nbd_info_string(struct nbd_proto *proto, uint32_t option,
			   uint16_t type, const char *s)
{
	size_t len = strlen(s);
	unsigned char *p = malloc(2 + len);
	int ret;

	if (!p)
		return nbd_proto_fail(proto, -ENOMEM, "out of memory");
	base_be16_put(p, type);
	memcpy(p + 2, s, len);
	ret = nbd_hs_reply(proto, option, NBD_REP_INFO, p, 2 + len);
	free(p);
	return ret;
}

static int nbd_info_replies(struct nbd_proto *proto, uint32_t option,
			    const struct conn_export *exp,
			    const struct nbd_export_view *v, bool want_name,
			    bool want_desc, bool want_bs)
{
	unsigned char e[NBD_INFO_EXPORT_BYTES];
	unsigned char b[NBD_INFO_BLOCK_SIZE_BYTES], *p;
	int ret;

	p = base_be16_put(e, NBD_INFO_EXPORT);
	base_be16_put(base_be64_put(p, v->size_bytes), v->tx_flags);
	ret = nbd_hs_reply(proto, option, NBD_REP_INFO, e, sizeof(e));
	if (ret == 0 && want_name)
		ret = nbd_info_string(proto, option, NBD_INFO_NAME, exp->name);
	if (ret == 0 && want_desc && exp->description)
		ret = nbd_info_string(proto, option, NBD_INFO_DESCRIPTION,
				      exp->description);
	if (ret == 0 && (want_bs || v->block_min > 1)) {
		p = base_be16_put(b, NBD_INFO_BLOCK_SIZE);
		p = base_be32_put(p, v->block_min);
		p = base_be32_put(p, v->block_pref);
		base_be32_put(p, v->block_max);
		ret = nbd_hs_reply(proto, option, NBD_REP_INFO, b, sizeof(b));
	}
	return ret;
}

/* NBD_OPT_INFO and NBD_OPT_GO share their format (proto.md). */
static int nbd_opt_info(struct nbd_proto *proto, uint32_t option,
			const unsigned char *data, uint32_t len)
{
	bool want_name = false, want_desc = false, want_bs = false;
	const struct conn_export *exp;
	struct iop_session *session;
	struct nbd_export_view view;
	struct nbd_name name;
	uint32_t name_len, rep, refusal;
	uint16_t n_req;
	int ret;

	/* proto.md: name length "MUST be no larger than the option data
	 * length - 6"; then 16-bit count and that many 16-bit requests. */
	if (len < 6)
		goto invalid;
	name_len = base_be32_get(data);
	if (name_len > len - 6)
		goto invalid;
	n_req = base_be16_get(data + 4 + name_len);
	if (len != 6 + name_len + 2u * n_req)
		goto invalid;
	if (nbd_name_copy(data + 4, name_len, &name) < 0)
		goto invalid;
	for (uint16_t i = 0; i < n_req; i++) {
		uint16_t type = base_be16_get(data + 6 + name_len + 2u * i);

		/* proto.md: the server MUST ignore requests it does not
		 * understand. */
		want_name |= type == NBD_INFO_NAME;
		want_desc |= type == NBD_INFO_DESCRIPTION;
		want_bs |= type == NBD_INFO_BLOCK_SIZE;
	}
	exp = nbd_export_find(proto, name.s, &rep);
	if (!exp)
		return nbd_hs_reply(proto, option, rep, NULL, 0);
	refusal = nbd_hs_tls_refusal(proto, exp);
	if (refusal) {
		nbd_hs_tls_log(proto, refusal);
		return nbd_hs_reply(proto, option, refusal, NULL, 0);
	}
	if (nbd_hs_session_open(proto, exp, &session) < 0)
		return nbd_hs_reply(proto, option, NBD_REP_ERR_UNKNOWN, NULL,
				    0);
	nbd_hs_view(proto, exp, session, &view);
	ret = nbd_info_replies(proto, option, exp, &view, want_name, want_desc,
			       want_bs);
	if (ret == 0)
		ret = nbd_hs_reply(proto, option, NBD_REP_ACK, NULL, 0);
	if (ret < 0 || option == NBD_OPT_INFO) {
		exp->desc->ops->session_close(session);
		return ret;
	}
	return nbd_hs_transmission(proto, exp, session, &view);

invalid:
	return nbd_hs_reply(proto, option, NBD_REP_ERR_INVALID, NULL, 0);
}

static bool nbd_meta_is(const unsigned char *q, uint32_t len, const char *s)
{
	return len == strlen(s) && memcmp(q, s, len) == 0;
}

/*
 * NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT.  proto.md: the
 * server MUST ignore queries of unknown namespaces and unknown base:
 * leaf-names; "base:" lists every base: context but MUST be ignored by
 * SET; zero queries list everything but select nothing.
 */
static int nbd_opt_meta(struct nbd_proto *proto, uint32_t option,
			const unsigned char *data, uint32_t len)
{
	const bool set = option == NBD_OPT_SET_META_CONTEXT;
	unsigned char r[4 + sizeof("base:allocation") - 1];
	const struct conn_export *exp;
	uint32_t name_len, n_q, pos, rep;
	struct nbd_name name;
	bool match;
	int ret;

	/* proto.md: SET replaces the selection "including when this
	 * command fails". */
	if (set) {
		proto->meta_set = false;
		free(proto->meta_name);
		proto->meta_name = NULL;
		/* proto.md: SET "MUST NOT be requested unless structured
		 * replies have been negotiated first"; SHOULD be INVALID. */
		if (!proto->structured)
			goto invalid;
	}
	if (len < 8)
		goto invalid;
	name_len = base_be32_get(data);
	if (name_len > len - 8 || nbd_name_copy(data + 4, name_len, &name) < 0)
		goto invalid;
	pos = 4 + name_len;
	n_q = base_be32_get(data + pos);
	pos += 4;
	match = n_q == 0 && !set;
	for (uint32_t i = 0; i < n_q; i++) {
		uint32_t q_len;

		if (len - pos < 4)
			goto invalid;
		q_len = base_be32_get(data + pos);
		pos += 4;
		if (q_len > len - pos || q_len > NBD_MAX_STRING_BYTES)
			goto invalid;
		if (nbd_meta_is(data + pos, q_len, "base:allocation") ||
		    (!set && nbd_meta_is(data + pos, q_len, "base:")))
			match = true;
		pos += q_len;
	}
	if (pos != len)
		goto invalid;
	exp = nbd_export_find(proto, name.s, &rep);
	if (!exp)
		return nbd_hs_reply(proto, option, rep, NULL, 0);
	if (nbd_hs_tls_refusal(proto, exp))
		return nbd_hs_reply(proto, option,
				    nbd_hs_tls_refusal(proto, exp), NULL, 0);
	if (match) {
		/* proto.md: LIST's context ids are reserved, SHOULD be 0. */
		base_be32_put(r, set ? NBD_META_ID_BASE_ALLOCATION : 0);
		memcpy(r + 4, "base:allocation", sizeof(r) - 4);
		ret = nbd_hs_reply(proto, option, NBD_REP_META_CONTEXT, r,
				   sizeof(r));
		if (ret < 0)
			return ret;
	}
	if (set && match) {
		proto->meta_name = strdup(exp->name);
		if (!proto->meta_name)
			return nbd_proto_fail(proto, -ENOMEM, "out of memory");
		proto->meta_set = true;
	}
	return nbd_hs_reply(proto, option, NBD_REP_ACK, NULL, 0);

invalid:
	return nbd_hs_reply(proto, option, NBD_REP_ERR_INVALID, NULL, 0);
}

/* proto.md: after STARTTLS "the server MUST ignore" what the options
 * before it negotiated (a man in the middle could have chosen them). */
static void nbd_hs_forget(struct nbd_proto *proto)
{
	proto->structured = false;
	proto->meta_set = false;
	free(proto->meta_name);
	proto->meta_name = NULL;
}

static int nbd_opt_starttls(struct nbd_proto *proto, uint32_t len)
{
	int ret;

	/* proto.md NOTLS mode: MUST respond with NBD_REP_ERR_POLICY or
	 * NBD_REP_ERR_UNSUP. */
	if (remote_tls_mode() == REMOTE_TLS_OFF)
		return nbd_hs_reply(proto, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP,
				    NULL, 0);
	/* proto.md: data SHOULD be refused with NBD_REP_ERR_INVALID, as
	 * SHOULD a second STARTTLS once TLS is up. */
	if (len != 0 || proto->e.tls)
		return nbd_hs_reply(proto, NBD_OPT_STARTTLS,
				    NBD_REP_ERR_INVALID, NULL, 0);
	ret = nbd_hs_reply(proto, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
	if (ret < 0)
		return ret;
	nbd_hs_forget(proto);
	/* Under TLS every byte goes through the record layer: READ data
	 * is copied, never sent from the file by sendfile. */
	proto->cfg.zero_copy = false;
	remote_engine_starttls(&proto->e);
	return 0;
}

/* --tls=require before STARTTLS: refuse (proto.md FORCEDTLS mode).
 * Returns 1 when the option was handled so, else 0. */
static int nbd_hs_tls_forced(struct nbd_proto *proto, uint32_t option, int *ret)
{
	if (remote_tls_mode() != REMOTE_TLS_REQUIRE || proto->e.tls ||
	    option == NBD_OPT_STARTTLS || option == NBD_OPT_ABORT)
		return 0;
	if (option == NBD_OPT_EXPORT_NAME)
		*ret = nbd_proto_fail(
			proto, -EACCES,
			"EXPORT_NAME without TLS (--tls=require)");
	else
		*ret = nbd_hs_reply(proto, option, NBD_REP_ERR_TLS_REQD, NULL,
				    0);
	return 1;
}

static int nbd_hs_option(struct nbd_proto *proto, uint32_t option,
			 const unsigned char *data, uint32_t len)
{
	int ret;

	if (nbd_hs_tls_forced(proto, option, &ret))
		return ret;
	switch (option) {
	case NBD_OPT_EXPORT_NAME:
		return nbd_opt_export_name(proto, data, len);
	case NBD_OPT_ABORT:
		/* proto.md: the server MUST reply with NBD_REP_ACK (and
		 * SHOULD ignore any data). */
		ret = nbd_hs_reply(proto, option, NBD_REP_ACK, NULL, 0);
		proto->e.rx_closed = true;
		return ret;
	case NBD_OPT_LIST:
		return nbd_opt_list(proto, len);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return nbd_opt_info(proto, option, data, len);
	case NBD_OPT_STRUCTURED_REPLY:
		if (len != 0)
			return nbd_hs_reply(proto, option, NBD_REP_ERR_INVALID,
					    NULL, 0);
		proto->structured = true;
		return nbd_hs_reply(proto, option, NBD_REP_ACK, NULL, 0);
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return nbd_opt_meta(proto, option, data, len);
	case NBD_OPT_STARTTLS:
		return nbd_opt_starttls(proto, len);
	default:
		return nbd_hs_reply(proto, option, NBD_REP_ERR_UNSUP, NULL, 0);
	}
}

int nbd_hs_discarded(struct nbd_proto *proto)
{
	int ret;

	if (proto->discard_opt == NBD_OPT_ABORT)
		return nbd_hs_option(proto, NBD_OPT_ABORT, NULL, 0);
	ret = nbd_hs_reply(proto, proto->discard_opt, NBD_REP_ERR_TOO_BIG, NULL,
			   0);
	return ret < 0 ? ret : 1;
}

int nbd_hs_parse(struct nbd_proto *proto)
{
	const unsigned char *p = proto->e.rbuf + proto->e.rstart;
	size_t avail = proto->e.rend - proto->e.rstart;
	struct nbd_option opt;
	uint32_t flags;
	int ret;

	if (proto->phase == NBD_PHASE_CLIENT_FLAGS) {
		if (avail < NBD_CLIENT_FLAGS_BYTES)
			return 0;
		flags = base_be32_get(p);
		proto->e.rstart += NBD_CLIENT_FLAGS_BYTES;
		/* proto.md: the server MUST drop the connection if the
		 * client sets an unknown flag. */
		if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
			return nbd_proto_fail(proto, -EPROTO,
					      "unknown client flags 0x%x",
					      flags);
		proto->client_flags = flags;
		proto->phase = NBD_PHASE_OPTIONS;
		return 1;
	}
	if (avail < NBD_OPTION_BYTES)
		return 0;
	nbd_option_decode(p, &opt);
	if (opt.magic != NBD_IHAVEOPT)
		return nbd_proto_fail(proto, -EPROTO, "bad option magic");
	/* Like nbdkit's cap: a client looping on options (each may list
	 * every export) must not keep a worker busy until the deadline.
	 * n_options counts options consumed, so one parsed again while its
	 * payload arrives is counted once. */
	if (proto->cfg.limits.max_options &&
	    proto->n_options >= proto->cfg.limits.max_options)
		return nbd_proto_fail(proto, -EPROTO, "more than %u options",
				      proto->cfg.limits.max_options);
	if (opt.length > NBD_OPT_MAX_BYTES) {
		/* EXPORT_NAME cannot be answered with an error; a huge
		 * payload otherwise is a denial of service (proto.md: the
		 * server MAY then initiate a hard disconnect). */
		if (opt.option == NBD_OPT_EXPORT_NAME ||
		    opt.length > NBD_OPT_SKIP_MAX_BYTES)
			return nbd_proto_fail(proto, -EMSGSIZE,
					      "option %u of %u bytes",
					      opt.option, opt.length);
		proto->e.rstart += NBD_OPTION_BYTES;
		proto->n_options++;
		proto->rx_state = NBD_RX_DISCARD;
		proto->discard_left = opt.length;
		proto->discard_opt = opt.option;
		return 1;
	}
	if (avail < NBD_OPTION_BYTES + opt.length) {
		if (remote_engine_rx_reserve(&proto->e,
					     NBD_OPTION_BYTES + opt.length) < 0)
			return nbd_proto_fail(proto, -ENOMEM, "out of memory");
		return 0;
	}
	proto->e.rstart += NBD_OPTION_BYTES + opt.length;
	proto->n_options++;
	ret = nbd_hs_option(proto, opt.option, p + NBD_OPTION_BYTES,
			    opt.length);
	return ret < 0 ? ret : 1;
}
