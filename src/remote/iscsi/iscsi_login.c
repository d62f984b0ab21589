// SPDX-License-Identifier: MIT
/*
 * The login phase (RFC 7143 §6, §11.12, §11.13): stages and transitions,
 * the security stage with AuthMethod None or CHAP (MD5, mutual), the
 * operational negotiation of chapter 13, target lookup and initiator
 * ACLs, and the status class of every refusal.  Targets are resolved
 * here from struct iscsi_config and the exports; the session itself
 * (nexus, TSIH) starts in iscsi_cmd.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <nettle/md5.h>

#include "base/base_log.h"
#include "remote/iscsi/iscsi_priv.h"

#define ISCSI_LOGIN_KEYS_MAX 128u
#define ISCSI_CHAP_C_BYTES   16u
#define ISCSI_CHAP_MAX_BYTES 1024u

enum iscsi_auth {
	ISCSI_AUTH_START,
	ISCSI_AUTH_CHAP_A, /* AuthMethod=CHAP agreed, CHAP_A expected */
	ISCSI_AUTH_CHAP_R, /* challenge sent, CHAP_N/CHAP_R expected */
	ISCSI_AUTH_OK,
};

struct iscsi_login {
	bool started;
	int stage;
	char *in;
	size_t in_len;
	enum iscsi_auth auth;
	bool auth_required;
	const struct iscsi_chap *chap, *mutual;
	uint8_t chap_id;
	uint8_t chap_c[ISCSI_CHAP_C_BYTES];
	bool sent_tpgt, sent_mrdsl;
	uint64_t seen;
};

void iscsi_login_free(struct iscsi_proto *proto)
{
	if (!proto->login)
		return;
	free(proto->login->in);
	free(proto->login);
	proto->login = NULL;
}

/* ---- targets ---- */

static const char *iscsi_prefix(const struct iscsi_proto *proto)
{
	return proto->icfg->iqn_prefix ? proto->icfg->iqn_prefix
				       : ISCSI_DEFAULT_IQN_PREFIX;
}

int iscsi_target_count(struct iscsi_proto *proto)
{
	const struct conn_exports *ex = proto->cfg.exports;

	if (proto->icfg->n_targets)
		return (int)proto->icfg->n_targets;
	return ex ? (int)ex->count(ex->opaque) : 0;
}

bool iscsi_target_at(struct iscsi_proto *proto, int i,
		     struct iscsi_target_view *view)
{
	const struct conn_exports *ex = proto->cfg.exports;
	const struct conn_export *e;

	memset(view, 0, sizeof(*view));
	if (proto->icfg->n_targets) {
		const struct iscsi_target_cfg *t = &proto->icfg->targets[i];

		if (strlen(t->name) > ISCSI_NAME_MAX)
			return false;
		strcpy(view->name, t->name);
		view->alias = t->alias;
		view->cfg = t;
		return true;
	}
	e = ex->at(ex->opaque, (unsigned int)i);
	if (!e ||
	    snprintf(view->name, sizeof(view->name), "%s:%s",
		     iscsi_prefix(proto), e->name) >= (int)sizeof(view->name))
		return false;
	view->alias = e->description;
	view->lun0.lun = 0;
	view->lun0.export = e;
	view->lun0.read_only = e->read_only;
	return true;
}

/* iSCSI names compare case-insensitively (RFC 7143 §4.2.7.2: they are
 * normalised to lower case). */
bool iscsi_target_lookup(struct iscsi_proto *proto, const char *name,
			 struct iscsi_target_view *view)
{
	int n = iscsi_target_count(proto);

	for (int i = 0; i < n; i++)
		if (iscsi_target_at(proto, i, view) &&
		    strcasecmp(view->name, name) == 0)
			return true;
	return false;
}

bool iscsi_target_allows(const struct iscsi_target_view *view,
			 const char *initiator)
{
	const struct iscsi_target_cfg *t = view->cfg;

	if (!t || t->n_initiators == 0)
		return true;
	for (unsigned int i = 0; i < t->n_initiators; i++)
		if (strcasecmp(t->initiators[i], initiator) == 0)
			return true;
	return false;
}

/* ---- a new configuration (reload) ---- */

static bool iscsi_chap_same(const struct iscsi_chap *a,
			    const struct iscsi_chap *b)
{
	bool a_on = a && a->user, b_on = b && b->user;

	if (!a_on || !b_on)
		return a_on == b_on;
	return !strcmp(a->user, b->user) && !strcmp(a->secret, b->secret);
}

/* Would a login to v now give the session the LUNs it has?  NULL if so
 * (or only a LUN's read-only flag went off: the session keeps its
 * stricter mode until it logs in again), else why not. */
static const char *iscsi_luns_differ(struct iscsi_proto *proto,
				     const struct iscsi_target_view *v)
{
	const struct scsi_target_info *have = &proto->target.info;
	const struct conn_exports *ex = proto->cfg.exports;
	struct iscsi_lun_cfg one = { .lun = 0 };
	const struct iscsi_lun_cfg *luns = v->cfg ? v->cfg->luns : &one;
	unsigned int n_luns = v->cfg ? v->cfg->n_luns : 1, n = 0;

	for (unsigned int i = 0; i < n_luns; i++) {
		const struct scsi_lun_map *m = NULL;
		const struct conn_export *e;

		/* As iscsi_session_start maps them. */
		e = v->cfg ? (ex ? ex->find(ex->opaque, luns[i].export) : NULL)
			   : v->lun0.export;
		if (!e)
			continue;
		n++;
		for (unsigned int j = 0; j < have->n_luns; j++)
			if (have->luns[j].lun == luns[i].lun)
				m = &have->luns[j];
		if (!m || m->export != e || m->block_size != luns[i].block_size)
			return "its LUNs changed";
		if (luns[i].read_only && !m->read_only)
			return "a LUN of it became read-only";
	}
	return n == have->n_luns ? NULL : "its LUNs changed";
}

bool iscsi_proto_reconfigure(struct iscsi_proto *proto,
			     const struct iscsi_config *icfg)
{
	struct iscsi_login *lg = proto->login;
	const struct iscsi_chap *chap = NULL, *mutual = NULL;
	struct iscsi_target_view v;
	const char *why = NULL;
	bool found = false;

	/* The old configuration is valid until this returns, and freed
	 * after: nothing may point into it from here on. */
	proto->icfg = icfg;
	proto->cfg.iscsi = icfg;
	if (proto->phase == ISCSI_PHASE_LOGIN && (!lg || !lg->started))
		return true; /* nothing looked up yet */
	if (proto->discovery) {
		chap = &icfg->discovery_chap;
		mutual = &icfg->discovery_mutual;
	} else {
		found = iscsi_target_lookup(proto, proto->target.name, &v);
		if (!found)
			why = "its target is gone";
		else if (!iscsi_target_allows(&v, proto->initiator))
			why = "its initiator is no longer allowed";
		else if (proto->phase == ISCSI_PHASE_FFP)
			why = iscsi_luns_differ(proto, &v);
		if (found && v.cfg) {
			chap = &v.cfg->chap;
			mutual = &v.cfg->mutual;
		}
		proto->target.cfg = found ? v.cfg : NULL;
		proto->target.alias = found ? v.alias : NULL;
	}
	if (proto->phase == ISCSI_PHASE_LOGIN) {
		/* Half-way through authentication: only with the same
		 * secrets (and the same need for them). */
		if (!why && (!iscsi_chap_same(lg->chap, chap) ||
			     !iscsi_chap_same(lg->mutual, mutual)))
			why = "its CHAP settings changed during its login";
		lg->chap = chap;
		lg->mutual = mutual;
	}
	if (!why)
		return true;
	if (proto->phase == ISCSI_PHASE_LOGIN)
		/* No further login PDU is parsed (rx_closed). */
		iscsi_proto_fail(proto, -ECANCELED,
				 "login of %s to %s: %s after a reload",
				 proto->initiator,
				 proto->discovery ? "discovery"
						  : proto->target.name,
				 why);
	else
		log_info("%s: session of %s to %s: %s after a reload: "
			 "ending it",
			 iscsi_peer(proto), proto->initiator,
			 proto->discovery ? "discovery" : proto->target.name,
			 why);
	return false;
}

/* ---- operational keys (chapter 13) ---- */

static bool iscsi_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == wl && strncmp(p, word, wl) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
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

static int iscsi_num_key(const char *val, uint64_t lo, uint64_t hi,
			 uint64_t *num)
{
	if (iscsi_parse_num(val, num) < 0 || *num < lo || *num > hi)
		return -EINVAL;
	return 0;
}

int iscsi_param_key(struct iscsi_proto *proto, const char *key, const char *val,
		    struct iscsi_strbuf *out, bool login)
{
	struct iscsi_params *p = &proto->p;
	uint64_t n;
	bool b;

	if (strcmp(key, "MaxRecvDataSegmentLength") == 0) {
		/* Declarative; allowed in full feature phase too. */
		if (iscsi_num_key(val, 512, 16777215, &n) < 0)
			iscsi_sb_add(out, key, "Reject");
		else
			p->ini_mrdsl = (uint32_t)n;
		return 1;
	}
	if (!login) {
		static const char *const lo_keys[] = {
			"HeaderDigest",
			"DataDigest",
			"MaxBurstLength",
			"FirstBurstLength",
			"InitialR2T",
			"ImmediateData",
			"MaxOutstandingR2T",
			"DataPDUInOrder",
			"DataSequenceInOrder",
			"DefaultTime2Wait",
			"DefaultTime2Retain",
			"MaxConnections",
			"ErrorRecoveryLevel",
			"IFMarker",
			"OFMarker",
			"SessionType",
			"InitiatorName",
			"TargetName",
			"AuthMethod",
		};

		for (size_t i = 0; i < sizeof(lo_keys) / sizeof(lo_keys[0]);
		     i++)
			if (strcmp(key, lo_keys[i]) == 0) {
				iscsi_sb_add(out, key, "Reject");
				return 1;
			}
		return 0;
	}
	if (strcmp(key, "HeaderDigest") == 0 ||
	    strcmp(key, "DataDigest") == 0) {
		const char *pick = iscsi_digest_pick(val);

		if (!pick) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		if (key[0] == 'H')
			p->header_digest = pick[0] == 'C';
		else
			p->data_digest = pick[0] == 'C';
		iscsi_sb_add(out, key, "%s", pick);
	} else if (strcmp(key, "MaxBurstLength") == 0 ||
		   strcmp(key, "FirstBurstLength") == 0) {
		if (iscsi_num_key(val, 512, 16777215, &n) < 0) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		if (n > ISCSI_OUR_MAX_BURST)
			n = ISCSI_OUR_MAX_BURST;
		if (key[0] == 'M')
			p->max_burst = (uint32_t)n;
		else
			p->first_burst = (uint32_t)n;
		iscsi_sb_add(out, key, "%u", (unsigned int)n);
	} else if (strcmp(key, "InitialR2T") == 0) {
		/* Or: we would do without. */
		if (iscsi_parse_bool(val, &b) < 0) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		p->initial_r2t = b;
		iscsi_sb_add(out, key, "%s", b ? "Yes" : "No");
	} else if (strcmp(key, "ImmediateData") == 0) {
		/* And: we take it. */
		if (iscsi_parse_bool(val, &b) < 0) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		p->immediate_data = b;
		iscsi_sb_add(out, key, "%s", b ? "Yes" : "No");
	} else if (strcmp(key, "DataPDUInOrder") == 0 ||
		   strcmp(key, "DataSequenceInOrder") == 0) {
		/* Or with our Yes. */
		if (iscsi_parse_bool(val, &b) < 0)
			iscsi_sb_add(out, key, "Reject");
		else
			iscsi_sb_add(out, key, "Yes");
	} else if (strcmp(key, "IFMarker") == 0 ||
		   strcmp(key, "OFMarker") == 0) {
		/* And with our No (markers are gone from RFC 7143). */
		if (iscsi_parse_bool(val, &b) < 0)
			iscsi_sb_add(out, key, "Reject");
		else
			iscsi_sb_add(out, key, "No");
	} else if (strcmp(key, "IFMarkInt") == 0 ||
		   strcmp(key, "OFMarkInt") == 0) {
		iscsi_sb_add(out, key, "Irrelevant");
	} else if (strcmp(key, "MaxOutstandingR2T") == 0) {
		if (iscsi_num_key(val, 1, 65535, &n) < 0) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		p->max_r2t =
			n < ISCSI_OUR_MAX_R2T ? (uint32_t)n : ISCSI_OUR_MAX_R2T;
		iscsi_sb_add(out, key, "%u", p->max_r2t);
	} else if (strcmp(key, "DefaultTime2Wait") == 0) {
		if (iscsi_num_key(val, 0, 3600, &n) < 0) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		p->time2wait = n > 2 ? (uint32_t)n : 2;
		iscsi_sb_add(out, key, "%u", p->time2wait);
	} else if (strcmp(key, "DefaultTime2Retain") == 0) {
		if (iscsi_num_key(val, 0, 3600, &n) < 0) {
			iscsi_sb_add(out, key, "Reject");
			return 1;
		}
		/* Level 0 keeps nothing for connection recovery. */
		p->time2retain = 0;
		iscsi_sb_add(out, key, "0");
	} else if (strcmp(key, "MaxConnections") == 0) {
		if (iscsi_num_key(val, 1, 65535, &n) < 0)
			iscsi_sb_add(out, key, "Reject");
		else
			iscsi_sb_add(out, key, "1");
	} else if (strcmp(key, "ErrorRecoveryLevel") == 0) {
		if (iscsi_num_key(val, 0, 2, &n) < 0)
			iscsi_sb_add(out, key, "Reject");
		else
			iscsi_sb_add(out, key, "0");
	} else {
		return 0;
	}
	return 1;
}

/* ---- CHAP (RFC 7143 §12.1.3, RFC 1994) ---- */

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

struct iscsi_chap_in {
	const char *n, *r, *i, *c, *a;
};

static int iscsi_chap_challenge(struct iscsi_proto *proto,
				struct iscsi_login *lg, const char *alg,
				struct iscsi_strbuf *out)
{
	char hex[2 * ISCSI_CHAP_C_BYTES + 3];

	if (!iscsi_list_has(alg, "5")) {
		iscsi_sb_add(out, "CHAP_A", "Reject");
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	if (getrandom(lg->chap_c, sizeof(lg->chap_c), 0) !=
		    (ssize_t)sizeof(lg->chap_c) ||
	    getrandom(&lg->chap_id, 1, 0) != 1) {
		log_error("%s: getrandom failed", iscsi_peer(proto));
		return ISCSI_LOGIN_TARGET_ERROR;
	}
	iscsi_hex_encode(lg->chap_c, sizeof(lg->chap_c), hex);
	iscsi_sb_add(out, "CHAP_A", "5");
	iscsi_sb_add(out, "CHAP_I", "%u", lg->chap_id);
	iscsi_sb_add(out, "CHAP_C", "%s", hex);
	lg->auth = ISCSI_AUTH_CHAP_R;
	return 0;
}

static int iscsi_chap_verify(struct iscsi_proto *proto, struct iscsi_login *lg,
			     const struct iscsi_chap_in *in,
			     struct iscsi_strbuf *out)
{
	uint8_t want[MD5_DIGEST_SIZE], got[ISCSI_CHAP_MAX_BYTES];
	uint8_t chal[ISCSI_CHAP_MAX_BYTES];
	char hex[2 * MD5_DIGEST_SIZE + 3];
	uint64_t id;
	int n, clen;

	if (!in->n || !in->r)
		return ISCSI_LOGIN_AUTH_FAILED;
	n = iscsi_hex_decode(in->r, got, sizeof(got));
	iscsi_chap_md5(lg->chap_id, lg->chap->secret, lg->chap_c,
		       sizeof(lg->chap_c), want);
	if (strcmp(in->n, lg->chap->user) != 0 || n != MD5_DIGEST_SIZE ||
	    memcmp(got, want, MD5_DIGEST_SIZE) != 0) {
		log_info("%s: CHAP authentication of \"%s\" failed",
			 iscsi_peer(proto), in->n);
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	if (!in->i && !in->c) {
		lg->auth = ISCSI_AUTH_OK;
		return 0;
	}
	/* Mutual CHAP: the initiator challenges us. */
	if (!in->i || !in->c || !lg->mutual || !lg->mutual->user)
		return ISCSI_LOGIN_AUTH_FAILED;
	clen = iscsi_hex_decode(in->c, chal, sizeof(chal));
	if (iscsi_parse_num(in->i, &id) < 0 || id > 255 || clen <= 0)
		return ISCSI_LOGIN_AUTH_FAILED;
	/* A challenge equal to ours is a reflection attack. */
	if ((size_t)clen == sizeof(lg->chap_c) &&
	    memcmp(chal, lg->chap_c, sizeof(lg->chap_c)) == 0)
		return ISCSI_LOGIN_AUTH_FAILED;
	iscsi_chap_md5((uint8_t)id, lg->mutual->secret, chal, (size_t)clen,
		       want);
	iscsi_hex_encode(want, sizeof(want), hex);
	iscsi_sb_add(out, "CHAP_N", "%s", lg->mutual->user);
	iscsi_sb_add(out, "CHAP_R", "%s", hex);
	lg->auth = ISCSI_AUTH_OK;
	return 0;
}

/* ---- the login PDU ---- */

static int iscsi_login_respond(struct iscsi_proto *proto, const uint8_t *bhs,
			       uint8_t flags, uint16_t status,
			       const struct iscsi_strbuf *out)
{
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };

	rsp[0] = ISCSI_OP_LOGIN_RSP;
	rsp[1] = flags;
	rsp[2] = 0; /* version-max */
	rsp[3] = 0; /* version-active */
	memcpy(rsp + 8, bhs + 8, 6);
	iscsi_put16(rsp + 14, status == 0 ? proto->tsih : 0);
	memcpy(rsp + 16, bhs + 16, 4);
	iscsi_stamp(proto, rsp, true);
	rsp[36] = (uint8_t)(status >> 8);
	rsp[37] = (uint8_t)status;
	if (status) {
		log_info("%s: login refused (status 0x%04x)", iscsi_peer(proto),
			 status);
		iscsi_handshake_result(proto, false);
	}
	return iscsi_tx_pdu(proto, rsp, out ? out->p : NULL,
			    out ? (uint32_t)out->len : 0, status != 0);
}

static int iscsi_login_fail(struct iscsi_proto *proto, const uint8_t *bhs,
			    uint16_t status)
{
	uint8_t flags = bhs[1] & 0x0c; /* keep CSG */

	return iscsi_login_respond(proto, bhs, flags, status, NULL);
}

/* What the first PDU must establish: who, to whom, which session type. */
static uint16_t iscsi_login_first(struct iscsi_proto *proto,
				  struct iscsi_login *lg, struct iscsi_kv *kv,
				  int n, int csg)
{
	const char *ini = NULL, *tgt = NULL, *type = NULL;

	for (int i = 0; i < n; i++) {
		if (strcmp(kv[i].key, "InitiatorName") == 0)
			ini = kv[i].val;
		else if (strcmp(kv[i].key, "TargetName") == 0)
			tgt = kv[i].val;
		else if (strcmp(kv[i].key, "SessionType") == 0)
			type = kv[i].val;
	}
	if (!ini || !*ini)
		return ISCSI_LOGIN_MISSING_PARAM;
	if (strlen(ini) > ISCSI_NAME_MAX ||
	    (tgt && strlen(tgt) > ISCSI_NAME_MAX))
		return ISCSI_LOGIN_INITIATOR_ERROR;
	strcpy(proto->initiator, ini);
	if (type && strcmp(type, "Discovery") == 0) {
		proto->discovery = true;
		lg->chap = &proto->icfg->discovery_chap;
		lg->mutual = &proto->icfg->discovery_mutual;
	} else if (!type || strcmp(type, "Normal") == 0) {
		if (!tgt || !*tgt)
			return ISCSI_LOGIN_MISSING_PARAM;
		if (!iscsi_target_lookup(proto, tgt, &proto->target)) {
			log_info("%s: no target \"%s\"", iscsi_peer(proto),
				 tgt);
			return ISCSI_LOGIN_NOT_FOUND;
		}
		if (!iscsi_target_allows(&proto->target, ini)) {
			log_info("%s: \"%s\" may not log in to \"%s\"",
				 iscsi_peer(proto), ini, tgt);
			return ISCSI_LOGIN_NOT_ALLOWED;
		}
		if (proto->target.cfg) {
			lg->chap = &proto->target.cfg->chap;
			lg->mutual = &proto->target.cfg->mutual;
		}
	} else {
		return ISCSI_LOGIN_SESSION_TYPE;
	}
	lg->auth_required = lg->chap && lg->chap->user;
	if (lg->auth_required && csg != ISCSI_STAGE_SECURITY)
		return ISCSI_LOGIN_AUTH_FAILED;
	return 0;
}

static const char *const iscsi_login_once_keys[] = {
	"HeaderDigest",
	"DataDigest",
	"MaxRecvDataSegmentLength",
	"MaxBurstLength",
	"FirstBurstLength",
	"InitialR2T",
	"ImmediateData",
	"MaxOutstandingR2T",
	"DataPDUInOrder",
	"DataSequenceInOrder",
	"DefaultTime2Wait",
	"DefaultTime2Retain",
	"MaxConnections",
	"ErrorRecoveryLevel",
	"AuthMethod",
	"CHAP_A",
	"CHAP_N",
	"CHAP_R",
	"IFMarker",
	"OFMarker",
	"InitiatorAlias",
};

/* RFC 7143 §6.2: a key may be negotiated only once per login. */
static bool iscsi_login_repeated(struct iscsi_login *lg, const char *key)
{
	size_t n = sizeof(iscsi_login_once_keys) /
		   sizeof(iscsi_login_once_keys[0]);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, iscsi_login_once_keys[i]) != 0)
			continue;
		if (lg->seen & (1ull << i))
			return true;
		lg->seen |= 1ull << i;
		return false;
	}
	return false;
}

static uint16_t iscsi_login_keys(struct iscsi_proto *proto,
				 struct iscsi_login *lg, struct iscsi_kv *kv,
				 int n, int csg, struct iscsi_strbuf *out)
{
	struct iscsi_chap_in chap = { 0 };
	uint16_t st;

	for (int i = 0; i < n; i++) {
		const char *key = kv[i].key, *val = kv[i].val;
		size_t vmax = strncmp(key, "CHAP_", 5) == 0
				      ? 2 * ISCSI_CHAP_MAX_BYTES + 2
				      : ISCSI_VAL_MAX;

		if (strlen(val) > vmax || iscsi_login_repeated(lg, key))
			return ISCSI_LOGIN_INITIATOR_ERROR;
		if (strcmp(key, "InitiatorName") == 0 ||
		    strcmp(key, "TargetName") == 0 ||
		    strcmp(key, "SessionType") == 0 ||
		    strcmp(key, "InitiatorAlias") == 0)
			continue;
		if (strcmp(key, "AuthMethod") == 0) {
			if (csg != ISCSI_STAGE_SECURITY) {
				iscsi_sb_add(out, key, "Irrelevant");
			} else if (lg->auth_required) {
				if (!iscsi_list_has(val, "CHAP"))
					return ISCSI_LOGIN_AUTH_FAILED;
				iscsi_sb_add(out, key, "CHAP");
				lg->auth = ISCSI_AUTH_CHAP_A;
			} else {
				if (!iscsi_list_has(val, "None"))
					return ISCSI_LOGIN_AUTH_FAILED;
				iscsi_sb_add(out, key, "None");
				lg->auth = ISCSI_AUTH_OK;
			}
			continue;
		}
		if (strncmp(key, "CHAP_", 5) == 0) {
			if (csg != ISCSI_STAGE_SECURITY)
				return ISCSI_LOGIN_INITIATOR_ERROR;
			if (strcmp(key, "CHAP_A") == 0)
				chap.a = val;
			else if (strcmp(key, "CHAP_N") == 0)
				chap.n = val;
			else if (strcmp(key, "CHAP_R") == 0)
				chap.r = val;
			else if (strcmp(key, "CHAP_I") == 0)
				chap.i = val;
			else if (strcmp(key, "CHAP_C") == 0)
				chap.c = val;
			else
				iscsi_sb_add(out, key, "NotUnderstood");
			continue;
		}
		if (iscsi_param_key(proto, key, val, out, true))
			continue;
		if (strcmp(key, "TargetAlias") == 0 ||
		    strcmp(key, "TargetAddress") == 0 ||
		    strcmp(key, "TargetPortalGroupTag") == 0)
			return ISCSI_LOGIN_INITIATOR_ERROR;
		if (strcmp(key, "SendTargets") == 0) {
			iscsi_sb_add(out, key, "Irrelevant");
			continue;
		}
		iscsi_sb_add(out, key, "NotUnderstood");
	}
	if (chap.a) {
		if (lg->auth != ISCSI_AUTH_CHAP_A)
			return ISCSI_LOGIN_INITIATOR_ERROR;
		st = (uint16_t)iscsi_chap_challenge(proto, lg, chap.a, out);
		if (st)
			return st;
	} else if (chap.n || chap.r || chap.i || chap.c) {
		if (lg->auth != ISCSI_AUTH_CHAP_R)
			return ISCSI_LOGIN_INITIATOR_ERROR;
		st = (uint16_t)iscsi_chap_verify(proto, lg, &chap, out);
		if (st)
			return st;
	}
	return 0;
}

int iscsi_login_pdu(struct iscsi_proto *proto, const uint8_t *bhs,
		    const uint8_t *data, uint32_t dlen)
{
	struct iscsi_kv kv[ISCSI_LOGIN_KEYS_MAX];
	struct iscsi_strbuf out = { 0 };
	struct iscsi_login *lg = proto->login;
	bool transit = bhs[1] & ISCSI_FLAG_LOGIN_T;
	bool cont = bhs[1] & ISCSI_FLAG_LOGIN_C;
	int csg = (bhs[1] >> 2) & 3, nsg = bhs[1] & 3;
	uint8_t flags;
	uint16_t st = 0;
	int n, ret;

	if (!lg) {
		lg = proto->login = calloc(1, sizeof(*lg));
		if (!lg)
			return iscsi_proto_fail(proto, -ENOMEM,
						"out of memory");
	}
	if (!lg->started) {
		/* RFC 7143 §11.12: we speak version 0 only. */
		if (bhs[3] > 0)
			return iscsi_login_fail(proto, bhs,
						ISCSI_LOGIN_UNSUPPORTED_VER);
		memcpy(proto->isid, bhs + 8, 6);
		proto->cid = iscsi_get16(bhs + 20);
		proto->exp_cmd_sn = iscsi_get32(bhs + 24);
		proto->stat_sn = iscsi_get32(bhs + 28);
		lg->stage = csg;
		/* One connection per session: no joining, no reinstating a
		 * session we do not know. */
		if (iscsi_get16(bhs + 14) != 0)
			return iscsi_login_fail(proto, bhs,
						ISCSI_LOGIN_NO_SESSION);
	}
	if (csg != lg->stage || csg == 2 || csg == ISCSI_STAGE_FFP ||
	    (transit && (nsg <= csg || nsg == 2)) || (transit && cont))
		return iscsi_login_fail(proto, bhs,
					ISCSI_LOGIN_INITIATOR_ERROR);
	ret = iscsi_text_append(&lg->in, &lg->in_len, data, dlen);
	if (ret < 0)
		return iscsi_login_fail(proto, bhs,
					ISCSI_LOGIN_INITIATOR_ERROR);
	if (cont) {
		/* §11.12.2: more text follows; answer with an empty
		 * response and wait for the rest. */
		return iscsi_login_respond(proto, bhs, (uint8_t)(csg << 2), 0,
					   NULL);
	}
	n = iscsi_text_parse(lg->in ? lg->in : (char *)"", lg->in_len, kv,
			     ISCSI_LOGIN_KEYS_MAX);
	if (n < 0) {
		st = ISCSI_LOGIN_INITIATOR_ERROR;
		goto done;
	}
	if (!lg->started) {
		st = iscsi_login_first(proto, lg, kv, n, csg);
		lg->started = true;
		if (st)
			goto done;
		if (!proto->discovery) {
			iscsi_sb_add(&out, "TargetPortalGroupTag", "%u",
				     proto->cfg.tpg);
			if (proto->target.alias)
				iscsi_sb_add(&out, "TargetAlias", "%s",
					     proto->target.alias);
		}
	}
	st = iscsi_login_keys(proto, lg, kv, n, csg, &out);
	if (st)
		goto done;
	if (transit && csg == ISCSI_STAGE_SECURITY &&
	    lg->auth != ISCSI_AUTH_OK) {
		if (lg->auth_required && lg->auth == ISCSI_AUTH_START) {
			st = ISCSI_LOGIN_AUTH_FAILED;
			goto done;
		}
		/* CHAP still running: stay in the security stage. */
		if (lg->auth != ISCSI_AUTH_START)
			transit = false;
	}
	if (transit &&
	    (nsg == ISCSI_STAGE_FFP || nsg == ISCSI_STAGE_OPERATIONAL) &&
	    !lg->sent_mrdsl) {
		iscsi_sb_add(&out, "MaxRecvDataSegmentLength", "%u",
			     ISCSI_OUR_MRDSL);
		lg->sent_mrdsl = true;
	}
	/* §6.1: login text is limited to 8192 bytes per PDU whatever
	 * MaxRecvDataSegmentLength says (it applies from full feature
	 * phase on). */
	if (out.oom || out.len > 8192) {
		st = ISCSI_LOGIN_OUT_OF_RESOURCES;
		goto done;
	}
	flags = (uint8_t)(csg << 2);
	if (transit) {
		flags |= ISCSI_FLAG_LOGIN_T | (uint8_t)nsg;
		lg->stage = nsg;
	}
	if (transit && nsg == ISCSI_STAGE_FFP) {
		ret = iscsi_session_start(proto);
		if (ret < 0) {
			st = ret == -ENOENT ? ISCSI_LOGIN_TARGET_REMOVED
					    : ISCSI_LOGIN_TARGET_ERROR;
			goto done;
		}
		/* The final response goes out without digests; the
		 * full feature phase begins after it. */
		ret = iscsi_login_respond(proto, bhs, flags, 0, &out);
		iscsi_sb_free(&out);
		if (ret < 0)
			return ret;
		if (proto->p.first_burst > proto->p.max_burst)
			proto->p.first_burst = proto->p.max_burst;
		proto->phase = ISCSI_PHASE_FFP;
		iscsi_handshake_result(proto, true);
		iscsi_login_free(proto);
		log_debug("%s: %s session with %s", iscsi_peer(proto),
			  proto->discovery ? "discovery" : "normal",
			  proto->initiator);
		return 0;
	}
	free(lg->in);
	lg->in = NULL;
	lg->in_len = 0;
	ret = iscsi_login_respond(proto, bhs, flags, 0, &out);
	iscsi_sb_free(&out);
	return ret;

done:
	iscsi_sb_free(&out);
	return iscsi_login_fail(proto, bhs, st);
}
