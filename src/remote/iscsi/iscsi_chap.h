/* SPDX-License-Identifier: MIT */
/*
 * CHAP for the login's security stage (RFC 7143 §12.1.3, RFC 1994): the
 * target's challenge, the check of the initiator's response and, for
 * mutual CHAP, our response to the initiator's challenge.  Only MD5
 * (CHAP_A=5).  Which stage a key may come in and what AuthMethod was
 * agreed are the login's business (iscsi_login.c).
 */
#ifndef IOPD_ISCSI_CHAP_H
#define IOPD_ISCSI_CHAP_H

#include <stdbool.h>
#include <stdint.h>

#define ISCSI_CHAP_C_BYTES   16u
#define ISCSI_CHAP_MAX_BYTES 1024u
/* The shortest mutual-CHAP challenge we answer: the MD5 digest's size. */
#define ISCSI_CHAP_MIN_PEER_BYTES 16u

struct iscsi_chap;
struct iscsi_proto;
struct iscsi_strbuf;

/* One login's exchange.  chap and mutual point into the configuration
 * the connection runs with (iscsi_proto_reconfigure may repoint them);
 * a NULL or user-less chap means no authentication is required. */
struct iscsi_chap_state {
	const struct iscsi_chap *chap, *mutual;
	uint8_t id;
	uint8_t c[ISCSI_CHAP_C_BYTES];
};

/* The CHAP keys of one login PDU; values point into the PDU's text. */
struct iscsi_chap_in {
	const char *n, *r, *i, *c, *a;
};

/* Record key=val in in if key is one of CHAP_A, _N, _R, _I, _C. */
bool iscsi_chap_key(struct iscsi_chap_in *in, const char *key, const char *val);
/* CHAP_A offered: answer with CHAP_A, CHAP_I and a fresh CHAP_C.
 * Returns 0 or the login status to refuse with. */
int iscsi_chap_challenge(struct iscsi_proto *proto, struct iscsi_chap_state *st,
			 const char *alg, struct iscsi_strbuf *out);
/* CHAP_N and CHAP_R (and CHAP_I, CHAP_C for mutual CHAP): check them and
 * answer the initiator's challenge.  Returns 0 (authenticated) or the
 * login status to refuse with. */
int iscsi_chap_verify(struct iscsi_proto *proto,
		      const struct iscsi_chap_state *st,
		      const struct iscsi_chap_in *in, struct iscsi_strbuf *out);
/* Same user and secret, or both off? */
bool iscsi_chap_same(const struct iscsi_chap *a, const struct iscsi_chap *b);

#endif
