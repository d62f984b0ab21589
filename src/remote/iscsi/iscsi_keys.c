// SPDX-License-Identifier: MIT
/*
 * The key table (iscsi_keys.h) and the negotiation of the operational
 * keys (RFC 7143 chapter 13) in login and, for the few that allow it,
 * in Text requests of the full feature phase.  Our side of each
 * negotiation is in the table: ERL 0, one connection, no markers, data
 * in order, R2T and burst limits of ISCSI_OUR_*.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "remote/iscsi/iscsi_keys.h"
#include "remote/iscsi/iscsi_priv.h"

#define ISCSI_KEEP(field) (uint16_t)(offsetof(struct iscsi_params, field) + 1)
#define ISCSI_NEG	  (ISCSI_KEY_LO | ISCSI_KEY_ONCE)

static const struct iscsi_key iscsi_keys[] = {
	/* Declarative; allowed in full feature phase too. */
	{ "MaxRecvDataSegmentLength", ISCSI_RULE_DECLARE,
	  ISCSI_KEY_FFP | ISCSI_KEY_ONCE, 512, 16777215, 0,
	  ISCSI_KEEP(ini_mrdsl) },
	{ "HeaderDigest", ISCSI_RULE_DIGEST, ISCSI_NEG, 0, 0, 0,
	  ISCSI_KEEP(header_digest) },
	{ "DataDigest", ISCSI_RULE_DIGEST, ISCSI_NEG, 0, 0, 0,
	  ISCSI_KEEP(data_digest) },
	{ "MaxBurstLength", ISCSI_RULE_MIN, ISCSI_NEG, 512, 16777215,
	  ISCSI_OUR_MAX_BURST, ISCSI_KEEP(max_burst) },
	{ "FirstBurstLength", ISCSI_RULE_MIN, ISCSI_NEG, 512, 16777215,
	  ISCSI_OUR_MAX_BURST, ISCSI_KEEP(first_burst) },
	/* Or: we would do without. */
	{ "InitialR2T", ISCSI_RULE_OR, ISCSI_NEG, 0, 0, 0,
	  ISCSI_KEEP(initial_r2t) },
	/* And: we take it. */
	{ "ImmediateData", ISCSI_RULE_AND, ISCSI_NEG, 0, 0, 1,
	  ISCSI_KEEP(immediate_data) },
	{ "MaxOutstandingR2T", ISCSI_RULE_MIN, ISCSI_NEG, 1, 65535,
	  ISCSI_OUR_MAX_R2T, ISCSI_KEEP(max_r2t) },
	{ "DataPDUInOrder", ISCSI_RULE_OR, ISCSI_NEG, 0, 0, 1, 0 },
	{ "DataSequenceInOrder", ISCSI_RULE_OR, ISCSI_NEG, 0, 0, 1, 0 },
	{ "DefaultTime2Wait", ISCSI_RULE_MAX, ISCSI_NEG, 0, 3600, 2,
	  ISCSI_KEEP(time2wait) },
	/* Level 0 keeps nothing for connection recovery. */
	{ "DefaultTime2Retain", ISCSI_RULE_MIN, ISCSI_NEG, 0, 3600, 0,
	  ISCSI_KEEP(time2retain) },
	{ "MaxConnections", ISCSI_RULE_MIN, ISCSI_NEG, 1, 65535, 1, 0 },
	{ "ErrorRecoveryLevel", ISCSI_RULE_MIN, ISCSI_NEG, 0, 2, 0, 0 },
	/* Markers are gone from RFC 7143. */
	{ "IFMarker", ISCSI_RULE_AND, ISCSI_NEG, 0, 0, 0, 0 },
	{ "OFMarker", ISCSI_RULE_AND, ISCSI_NEG, 0, 0, 0, 0 },
	{ "IFMarkInt", ISCSI_RULE_IRRELEVANT, 0, 0, 0, 0, 0 },
	{ "OFMarkInt", ISCSI_RULE_IRRELEVANT, 0, 0, 0, 0, 0 },
	{ "SendTargets", ISCSI_RULE_IRRELEVANT, 0, 0, 0, 0, 0 },
	{ "InitiatorName", ISCSI_RULE_NAME, ISCSI_KEY_LO, 0, 0, 0, 0 },
	{ "TargetName", ISCSI_RULE_NAME, ISCSI_KEY_LO, 0, 0, 0, 0 },
	{ "SessionType", ISCSI_RULE_NAME, ISCSI_KEY_LO, 0, 0, 0, 0 },
	{ "InitiatorAlias", ISCSI_RULE_NAME, ISCSI_KEY_ONCE, 0, 0, 0, 0 },
	{ "AuthMethod", ISCSI_RULE_AUTH, ISCSI_NEG, 0, 0, 0, 0 },
	{ "CHAP_A", ISCSI_RULE_CHAP, ISCSI_KEY_ONCE, 0, 0, 0, 0 },
	{ "CHAP_N", ISCSI_RULE_CHAP, ISCSI_KEY_ONCE, 0, 0, 0, 0 },
	{ "CHAP_R", ISCSI_RULE_CHAP, ISCSI_KEY_ONCE, 0, 0, 0, 0 },
	{ "CHAP_I", ISCSI_RULE_CHAP, 0, 0, 0, 0, 0 },
	{ "CHAP_C", ISCSI_RULE_CHAP, 0, 0, 0, 0, 0 },
	{ "TargetAlias", ISCSI_RULE_TARGET, 0, 0, 0, 0, 0 },
	{ "TargetAddress", ISCSI_RULE_TARGET, 0, 0, 0, 0, 0 },
	{ "TargetPortalGroupTag", ISCSI_RULE_TARGET, 0, 0, 0, 0, 0 },
};

_Static_assert(sizeof(iscsi_keys) / sizeof(iscsi_keys[0]) <= ISCSI_KEYS_MAX,
	       "a login's seen bitmap is too small for the key table");

const struct iscsi_key *iscsi_key_find(const char *name)
{
	for (size_t i = 0; i < sizeof(iscsi_keys) / sizeof(iscsi_keys[0]); i++)
		if (strcmp(name, iscsi_keys[i].name) == 0)
			return &iscsi_keys[i];
	return NULL;
}

unsigned int iscsi_key_index(const struct iscsi_key *k)
{
	return (unsigned int)(k - iscsi_keys);
}

bool iscsi_key_operational(const struct iscsi_key *k)
{
	return k->rule <= ISCSI_RULE_IRRELEVANT;
}

/* First entry of the initiator's list that we support. */
static const char *iscsi_digest_pick(const char *list)
{
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 4 && strncmp(p, "None", 4) == 0)
			return "None";
		if (len == 6 && strncmp(p, "CRC32C", 6) == 0)
			return "CRC32C";
		p = comma ? comma + 1 : NULL;
	}
	return NULL;
}

static void iscsi_key_keep(struct iscsi_params *p, const struct iscsi_key *k,
			   uint32_t num, bool b)
{
	char *field = (char *)p + k->keep - 1;

	if (!k->keep)
		return;
	if (k->rule == ISCSI_RULE_DECLARE || k->rule == ISCSI_RULE_MIN ||
	    k->rule == ISCSI_RULE_MAX)
		memcpy(field, &num, sizeof(num));
	else
		memcpy(field, &b, sizeof(b));
}

/* The numeric rules: 0, or -EINVAL for a value out of the key's range. */
static int iscsi_key_number(struct iscsi_params *p, const struct iscsi_key *k,
			    const char *val, struct iscsi_strbuf *out)
{
	uint64_t n;

	if (iscsi_parse_num(val, &n) < 0 || n < k->lo || n > k->hi)
		return -EINVAL;
	if (k->rule == ISCSI_RULE_MIN && n > k->ours)
		n = k->ours;
	else if (k->rule == ISCSI_RULE_MAX && n < k->ours)
		n = k->ours;
	iscsi_key_keep(p, k, (uint32_t)n, false);
	if (k->rule != ISCSI_RULE_DECLARE)
		iscsi_sb_add(out, k->name, "%u", (unsigned int)n);
	return 0;
}

/* The boolean and list rules: 0, or -EINVAL for a value we cannot take. */
static int iscsi_key_choice(struct iscsi_params *p, const struct iscsi_key *k,
			    const char *val, struct iscsi_strbuf *out)
{
	const char *pick;
	bool b;

	if (k->rule == ISCSI_RULE_DIGEST) {
		pick = iscsi_digest_pick(val);
		if (!pick)
			return -EINVAL;
		iscsi_key_keep(p, k, 0, pick[0] == 'C');
		iscsi_sb_add(out, k->name, "%s", pick);
		return 0;
	}
	if (iscsi_parse_bool(val, &b) < 0)
		return -EINVAL;
	b = k->rule == ISCSI_RULE_OR ? b || k->ours : b && k->ours;
	iscsi_key_keep(p, k, 0, b);
	iscsi_sb_add(out, k->name, "%s", b ? "Yes" : "No");
	return 0;
}

void iscsi_key_negotiate(struct iscsi_params *p, const struct iscsi_key *k,
			 const char *val, struct iscsi_strbuf *out)
{
	int ret;

	switch (k->rule) {
	case ISCSI_RULE_DECLARE:
	case ISCSI_RULE_MIN:
	case ISCSI_RULE_MAX:
		ret = iscsi_key_number(p, k, val, out);
		break;
	case ISCSI_RULE_DIGEST:
	case ISCSI_RULE_OR:
	case ISCSI_RULE_AND:
		ret = iscsi_key_choice(p, k, val, out);
		break;
	default:
		iscsi_sb_add(out, k->name, "Irrelevant");
		return;
	}
	if (ret < 0)
		iscsi_sb_add(out, k->name, "Reject");
}

int iscsi_param_key(struct iscsi_proto *proto, const char *key, const char *val,
		    struct iscsi_strbuf *out, bool login)
{
	const struct iscsi_key *k = iscsi_key_find(key);

	if (!k)
		return 0;
	if (login ? !iscsi_key_operational(k) : !(k->flags & ISCSI_KEY_FFP)) {
		if (login || !(k->flags & ISCSI_KEY_LO))
			return 0;
		/* A login key in a Text request. */
		iscsi_sb_add(out, key, "Reject");
		return 1;
	}
	iscsi_key_negotiate(&proto->p, k, val, out);
	return 1;
}
