// SPDX-License-Identifier: MIT
/*
 * CHAP with MD5 (RFC 7143 §12.1.3, RFC 1994), one way or mutual.  The
 * secrets come from struct iscsi_config; this file only computes and
 * compares, and answers in key=value text.
 */
#include <string.h>
#include <sys/random.h>

#include <nettle/md5.h>

#include "base/base_log.h"
#include "remote/iscsi/iscsi_chap.h"
#include "remote/iscsi/iscsi_priv.h"

static void iscsi_chap_md5(uint8_t id, const char *secret, const uint8_t *chal,
			   size_t chal_len, uint8_t out[MD5_DIGEST_SIZE])
{
	struct md5_ctx ctx;

	md5_init(&ctx);
	md5_update(&ctx, 1, &id);
	md5_update(&ctx, strlen(secret), (const uint8_t *)secret);
	md5_update(&ctx, chal_len, chal);
	md5_digest(&ctx, MD5_DIGEST_SIZE, out);
}

bool iscsi_chap_key(struct iscsi_chap_in *in, const char *key, const char *val)
{
	if (strcmp(key, "CHAP_A") == 0)
		in->a = val;
	else if (strcmp(key, "CHAP_N") == 0)
		in->n = val;
	else if (strcmp(key, "CHAP_R") == 0)
		in->r = val;
	else if (strcmp(key, "CHAP_I") == 0)
		in->i = val;
	else if (strcmp(key, "CHAP_C") == 0)
		in->c = val;
	else
		return false;
	return true;
}

int iscsi_chap_challenge(struct iscsi_proto *proto, struct iscsi_chap_state *st,
			 const char *alg, struct iscsi_strbuf *out)
{
	char hex[2 * ISCSI_CHAP_C_BYTES + 3];

	if (!iscsi_list_has(alg, "5")) {
		iscsi_sb_add(out, "CHAP_A", "Reject");
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	if (getrandom(st->c, sizeof(st->c), 0) != (ssize_t)sizeof(st->c) ||
	    getrandom(&st->id, 1, 0) != 1) {
		log_error("%s: getrandom failed", iscsi_peer(proto));
		return ISCSI_LOGIN_TARGET_ERROR;
	}
	iscsi_hex_encode(st->c, sizeof(st->c), hex);
	iscsi_sb_add(out, "CHAP_A", "5");
	iscsi_sb_add(out, "CHAP_I", "%u", st->id);
	iscsi_sb_add(out, "CHAP_C", "%s", hex);
	return 0;
}

/* Mutual CHAP: the initiator challenges us in turn. */
static int iscsi_chap_answer(struct iscsi_proto *proto,
			     const struct iscsi_chap_state *st,
			     const struct iscsi_chap_in *in,
			     struct iscsi_strbuf *out)
{
	uint8_t want[MD5_DIGEST_SIZE], chal[ISCSI_CHAP_MAX_BYTES];
	char hex[2 * MD5_DIGEST_SIZE + 3];
	uint64_t id;
	int clen;

	if (!in->i || !in->c || !st->mutual || !st->mutual->user)
		return ISCSI_LOGIN_AUTH_FAILED;
	clen = iscsi_hex_decode(in->c, chal, sizeof(chal));
	if (iscsi_parse_num(in->i, &id) < 0 || id > 255 || clen <= 0)
		return ISCSI_LOGIN_AUTH_FAILED;
	/* A short challenge lets an impostor collect every answer there
	 * is to it (RFC 7143 §12.1.3 asks for at least as many bytes as
	 * the hash, 16 for MD5). */
	if ((size_t)clen < ISCSI_CHAP_MIN_PEER_BYTES) {
		log_info("%s: mutual CHAP challenge of %d bytes refused "
			 "(at least %u)",
			 iscsi_peer(proto), clen, ISCSI_CHAP_MIN_PEER_BYTES);
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	/* A challenge equal to ours is a reflection attack: our answer
	 * would be the one the initiator owes us. */
	if ((size_t)clen == sizeof(st->c) &&
	    memcmp(chal, st->c, sizeof(st->c)) == 0) {
		log_info("%s: mutual CHAP challenge equal to ours refused",
			 iscsi_peer(proto));
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	iscsi_chap_md5((uint8_t)id, st->mutual->secret, chal, (size_t)clen,
		       want);
	iscsi_hex_encode(want, sizeof(want), hex);
	iscsi_sb_add(out, "CHAP_N", "%s", st->mutual->user);
	iscsi_sb_add(out, "CHAP_R", "%s", hex);
	return 0;
}

int iscsi_chap_verify(struct iscsi_proto *proto,
		      const struct iscsi_chap_state *st,
		      const struct iscsi_chap_in *in, struct iscsi_strbuf *out)
{
	uint8_t want[MD5_DIGEST_SIZE], got[ISCSI_CHAP_MAX_BYTES];
	int n;

	if (!in->n || !in->r)
		return ISCSI_LOGIN_AUTH_FAILED;
	n = iscsi_hex_decode(in->r, got, sizeof(got));
	iscsi_chap_md5(st->id, st->chap->secret, st->c, sizeof(st->c), want);
	if (strcmp(in->n, st->chap->user) != 0 || n != MD5_DIGEST_SIZE ||
	    memcmp(got, want, MD5_DIGEST_SIZE) != 0) {
		char esc[BASE_LOG_ESC_BYTES];

		log_info("%s: CHAP authentication of \"%s\" failed",
			 iscsi_peer(proto),
			 base_log_escape(esc, sizeof(esc), in->n));
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	if (!in->i && !in->c)
		return 0;
	return iscsi_chap_answer(proto, st, in, out);
}

bool iscsi_chap_same(const struct iscsi_chap *a, const struct iscsi_chap *b)
{
	bool a_on = a && a->user, b_on = b && b->user;

	if (!a_on || !b_on)
		return a_on == b_on;
	return !strcmp(a->user, b->user) && !strcmp(a->secret, b->secret);
}
