/* SPDX-License-Identifier: MIT */
/*
 * The text keys a target meets in login and Text requests (RFC 7143
 * chapters 12 and 13), in one table: how each is negotiated, its valid
 * range, our side of it, where it may appear, and where the result is
 * kept.  iscsi_keys.c negotiates the operational ones; iscsi_login.c
 * handles the rest by their rule.
 */
#ifndef IOPD_ISCSI_KEYS_H
#define IOPD_ISCSI_KEYS_H

#include <stdbool.h>
#include <stdint.h>

struct iscsi_params;
struct iscsi_strbuf;

/* How a key is negotiated (RFC 7143 §13, §6.2). */
enum iscsi_key_rule {
	ISCSI_RULE_DECLARE,    /* a number the initiator declares; no answer */
	ISCSI_RULE_DIGEST,     /* a list: the first entry we support */
	ISCSI_RULE_MIN,	       /* a number: the lower of theirs and ours */
	ISCSI_RULE_MAX,	       /* a number: the higher of theirs and ours */
	ISCSI_RULE_OR,	       /* Yes/No: theirs or ours */
	ISCSI_RULE_AND,	       /* Yes/No: theirs and ours */
	ISCSI_RULE_IRRELEVANT, /* answered Irrelevant in login */
	ISCSI_RULE_NAME,       /* who and to whom: read by the first PDU */
	ISCSI_RULE_AUTH,       /* AuthMethod */
	ISCSI_RULE_CHAP,       /* CHAP_A, _N, _R, _I, _C */
	ISCSI_RULE_TARGET,     /* only a target sends it: the initiator erred */
};

/* Where a key may appear. */
#define ISCSI_KEY_FFP  0x1 /* negotiable in full feature phase too */
#define ISCSI_KEY_LO   0x2 /* login only: rejected in full feature phase */
#define ISCSI_KEY_ONCE 0x4 /* at most once per login (§6.2) */

struct iscsi_key {
	const char *name;
	enum iscsi_key_rule rule;
	uint8_t flags;
	uint32_t lo, hi; /* numbers: the valid range */
	uint32_t ours;	 /* MIN, MAX: our value; OR, AND: 1 for Yes */
	/* 1 + the offset in struct iscsi_params of the result (a uint32_t
	 * for numbers, a bool for the others); 0: not kept. */
	uint16_t keep;
};

#define ISCSI_KEYS_MAX 64u /* a login's "seen" bitmap has this many bits */

/* The table entry for name, or NULL. */
const struct iscsi_key *iscsi_key_find(const char *name);
/* The position of k in the table, below ISCSI_KEYS_MAX. */
unsigned int iscsi_key_index(const struct iscsi_key *k);
/* Negotiate an operational key (rules DECLARE to IRRELEVANT): keep the
 * result in p and append the answer (or Reject) to out. */
void iscsi_key_negotiate(struct iscsi_params *p, const struct iscsi_key *k,
			 const char *val, struct iscsi_strbuf *out);
/* Is k negotiated by iscsi_key_negotiate? */
bool iscsi_key_operational(const struct iscsi_key *k);

#endif
