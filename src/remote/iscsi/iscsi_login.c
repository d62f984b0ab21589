// SPDX-License-Identifier: MIT
/*
 * The login phase (RFC 7143 §6, §11.12, §11.13): stages and transitions,
 * the security stage with AuthMethod None or CHAP (iscsi_chap.c), the
 * keys of each login PDU by their rule in the key table (iscsi_keys.c),
 * target lookup and initiator ACLs, and the status class of every
 * refusal.  Targets are resolved here from struct iscsi_config and the
 * exports; the session itself (nexus, TSIH) starts in iscsi_session.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/base_log.h"
#include "iopd/remote_stats.h"
#include "remote/iscsi/iscsi_chap.h"
#include "remote/iscsi/iscsi_keys.h"
#include "remote/iscsi/iscsi_priv.h"

#define ISCSI_LOGIN_KEYS_MAX 128u

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
	struct iscsi_chap_state cs;
	bool sent_mrdsl;
	uint64_t seen; /* bit iscsi_key_index(k): k came in this login */
	uint8_t held_bhs[ISCSI_BHS_BYTES]; /* while proto->login_hold_ms */
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

const struct conn_export *iscsi_export_find(struct iscsi_proto *proto,
					    const char *name)
{
	const struct conn_exports *ex = proto->cfg.exports;
	const struct conn_export *e = ex ? ex->find(ex->opaque, name) : NULL;

	return e && iscsi_export_allowed(proto, e) ? e : NULL;
}

bool iscsi_export_allowed(struct iscsi_proto *proto,
			  const struct conn_export *e)
{
	const struct sockaddr_storage *ss = &proto->cfg.peer_addr;

	return remote_export_access(e, CONN_PROTO_ISCSI,
				    ss->ss_family == AF_UNSPEC
					    ? NULL
					    : (const struct sockaddr *)ss) == 0;
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
	/* One target per export: those this initiator may not reach are
	 * neither listed nor found. */
	e = ex->at(ex->opaque, (unsigned int)i);
	if (!e || !iscsi_export_allowed(proto, e) ||
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

/* Would a login to v now give the session the LUNs it has?  NULL if so
 * (or only a LUN's read-only flag went off: the session keeps its
 * stricter mode until it logs in again), else why not. */
static const char *iscsi_luns_differ(struct iscsi_proto *proto,
				     const struct iscsi_target_view *v)
{
	const struct scsi_target_info *have = &proto->target.info;
	struct iscsi_lun_cfg one = { .lun = 0 };
	const struct iscsi_lun_cfg *luns = v->cfg ? v->cfg->luns : &one;
	unsigned int n_luns = v->cfg ? v->cfg->n_luns : 1, n = 0;

	for (unsigned int i = 0; i < n_luns; i++) {
		const struct scsi_lun_map *m = NULL;
		const struct conn_export *e;

		/* As iscsi_session_start maps them. */
		e = v->cfg ? iscsi_export_find(proto, luns[i].export)
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
	char ini[BASE_LOG_ESC_BYTES], tgt[BASE_LOG_ESC_BYTES];

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
		if (!why && (!iscsi_chap_same(lg->cs.chap, chap) ||
			     !iscsi_chap_same(lg->cs.mutual, mutual)))
			why = "its CHAP settings changed during its login";
		lg->cs.chap = chap;
		lg->cs.mutual = mutual;
	}
	if (!why)
		return true;
	base_log_escape(ini, sizeof(ini), proto->initiator);
	base_log_escape(tgt, sizeof(tgt),
			proto->discovery ? "discovery" : proto->target.name);
	if (proto->phase == ISCSI_PHASE_LOGIN)
		/* No further login PDU is parsed (rx_closed). */
		iscsi_proto_fail(proto, -ECANCELED,
				 "login of %s to %s: %s after a reload", ini,
				 tgt, why);
	else
		log_info("%s: session of %s to %s: %s after a reload: "
			 "ending it",
			 iscsi_peer(proto), ini, tgt, why);
	return false;
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
	base_be16_put(rsp + 14, status == 0 ? proto->tsih : 0);
	memcpy(rsp + 16, bhs + 16, 4);
	iscsi_stamp(proto, rsp, true);
	rsp[36] = (uint8_t)(status >> 8);
	rsp[37] = (uint8_t)status;
	/* A refused client was logged and counted by the Connection
	 * Manager, at most every few seconds. */
	if (status && !proto->cfg.refused) {
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
	char e1[BASE_LOG_ESC_BYTES], e2[BASE_LOG_ESC_BYTES];

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
		lg->cs.chap = &proto->icfg->discovery_chap;
		lg->cs.mutual = &proto->icfg->discovery_mutual;
	} else if (!type || strcmp(type, "Normal") == 0) {
		if (!tgt || !*tgt)
			return ISCSI_LOGIN_MISSING_PARAM;
		if (!iscsi_target_lookup(proto, tgt, &proto->target)) {
			log_info("%s: no target \"%s\"", iscsi_peer(proto),
				 base_log_escape(e1, sizeof(e1), tgt));
			return ISCSI_LOGIN_NOT_FOUND;
		}
		if (!iscsi_target_allows(&proto->target, ini)) {
			log_info("%s: \"%s\" may not log in to \"%s\"",
				 iscsi_peer(proto),
				 base_log_escape(e1, sizeof(e1), ini),
				 base_log_escape(e2, sizeof(e2), tgt));
			return ISCSI_LOGIN_NOT_ALLOWED;
		}
		if (proto->target.cfg) {
			lg->cs.chap = &proto->target.cfg->chap;
			lg->cs.mutual = &proto->target.cfg->mutual;
		}
	} else {
		return ISCSI_LOGIN_SESSION_TYPE;
	}
	lg->auth_required = lg->cs.chap && lg->cs.chap->user;
	if (lg->auth_required && csg != ISCSI_STAGE_SECURITY)
		return ISCSI_LOGIN_AUTH_FAILED;
	return 0;
}

/* RFC 7143 §6.2: a key may be negotiated only once per login. */
static bool iscsi_login_repeated(struct iscsi_login *lg,
				 const struct iscsi_key *k)
{
	uint64_t bit;

	if (!k || !(k->flags & ISCSI_KEY_ONCE))
		return false;
	bit = 1ull << iscsi_key_index(k);
	if (lg->seen & bit)
		return true;
	lg->seen |= bit;
	return false;
}

static uint16_t iscsi_login_auth_method(struct iscsi_login *lg, const char *val,
					int csg, struct iscsi_strbuf *out)
{
	const char *want = lg->auth_required ? "CHAP" : "None";

	if (csg != ISCSI_STAGE_SECURITY) {
		iscsi_sb_add(out, "AuthMethod", "Irrelevant");
		return 0;
	}
	if (!iscsi_list_has(val, want))
		return ISCSI_LOGIN_AUTH_FAILED;
	iscsi_sb_add(out, "AuthMethod", "%s", want);
	lg->auth = lg->auth_required ? ISCSI_AUTH_CHAP_A : ISCSI_AUTH_OK;
	return 0;
}

/* One key=val of a login PDU, by its rule (k NULL: not in the table). */
static uint16_t
iscsi_login_key(struct iscsi_proto *proto, struct iscsi_login *lg,
		const struct iscsi_key *k, const char *key, const char *val,
		int csg, struct iscsi_chap_in *chap, struct iscsi_strbuf *out)
{
	bool chap_key = strncmp(key, "CHAP_", 5) == 0;

	if (chap_key && csg != ISCSI_STAGE_SECURITY)
		return ISCSI_LOGIN_INITIATOR_ERROR;
	if (!k) {
		iscsi_sb_add(out, key, "NotUnderstood");
		return 0;
	}
	switch (k->rule) {
	case ISCSI_RULE_NAME:
		return 0; /* iscsi_login_first read them */
	case ISCSI_RULE_AUTH:
		return iscsi_login_auth_method(lg, val, csg, out);
	case ISCSI_RULE_CHAP:
		iscsi_chap_key(chap, key, val);
		return 0;
	case ISCSI_RULE_TARGET:
		return ISCSI_LOGIN_INITIATOR_ERROR;
	default:
		iscsi_key_negotiate(&proto->p, k, val, out);
		return 0;
	}
}

/* The CHAP step this PDU asks for, if any. */
static uint16_t iscsi_login_chap(struct iscsi_proto *proto,
				 struct iscsi_login *lg,
				 const struct iscsi_chap_in *chap,
				 struct iscsi_strbuf *out)
{
	int st;

	if (chap->a) {
		if (lg->auth != ISCSI_AUTH_CHAP_A)
			return ISCSI_LOGIN_INITIATOR_ERROR;
		st = iscsi_chap_challenge(proto, &lg->cs, chap->a, out);
		if (st == 0)
			lg->auth = ISCSI_AUTH_CHAP_R;
		return (uint16_t)st;
	}
	if (chap->n || chap->r || chap->i || chap->c) {
		if (lg->auth != ISCSI_AUTH_CHAP_R)
			return ISCSI_LOGIN_INITIATOR_ERROR;
		st = iscsi_chap_verify(proto, &lg->cs, chap, out);
		if (st == 0) {
			lg->auth = ISCSI_AUTH_OK;
		} else if (st == ISCSI_LOGIN_AUTH_FAILED) {
			iscsi_authfail_note(&proto->cfg.peer_addr,
					    iscsi_now_ms());
			remote_stats_auth_failed("iscsi");
		}
		return (uint16_t)st;
	}
	return 0;
}

static uint16_t iscsi_login_keys(struct iscsi_proto *proto,
				 struct iscsi_login *lg, struct iscsi_kv *kv,
				 int n, int csg, struct iscsi_strbuf *out)
{
	struct iscsi_chap_in chap = { 0 };
	uint16_t st;

	for (int i = 0; i < n; i++) {
		const char *key = kv[i].key, *val = kv[i].val;
		const struct iscsi_key *k = iscsi_key_find(key);
		size_t vmax = strncmp(key, "CHAP_", 5) == 0
				      ? 2 * ISCSI_CHAP_MAX_BYTES + 2
				      : ISCSI_VAL_MAX;

		if (strlen(val) > vmax || iscsi_login_repeated(lg, k))
			return ISCSI_LOGIN_INITIATOR_ERROR;
		st = iscsi_login_key(proto, lg, k, key, val, csg, &chap, out);
		if (st)
			return st;
	}
	return iscsi_login_chap(proto, lg, &chap, out);
}

static struct iscsi_login *iscsi_login_get(struct iscsi_proto *proto)
{
	if (!proto->login)
		proto->login = calloc(1, sizeof(*proto->login));
	return proto->login;
}

/* The first PDU's header: version, ISID, CID and the sequence numbers. */
static uint16_t iscsi_login_header(struct iscsi_proto *proto,
				   struct iscsi_login *lg, const uint8_t *bhs,
				   int csg)
{
	/* RFC 7143 §11.12: we speak version 0 only. */
	if (bhs[3] > 0)
		return ISCSI_LOGIN_UNSUPPORTED_VER;
	memcpy(proto->isid, bhs + 8, 6);
	proto->cid = base_be16_get(bhs + 20);
	proto->exp_cmd_sn = base_be32_get(bhs + 24);
	proto->stat_sn = base_be32_get(bhs + 28);
	lg->stage = csg;
	/* One connection per session: no joining and no connection
	 * reinstatement, which name a TSIH.  A leading login (TSIH 0) may
	 * reinstate a session by its ISID (iscsi_reinstate.c). */
	if (base_be16_get(bhs + 14) != 0)
		return ISCSI_LOGIN_NO_SESSION;
	return 0;
}

/* RFC 7143 §6.3, §11.12: the stage we are in, forward moves only, and
 * no transit in the middle of continued text. */
static bool iscsi_login_stage_valid(const struct iscsi_login *lg, int csg,
				    int nsg, bool transit, bool cont)
{
	if (csg != lg->stage || csg == 2 || csg == ISCSI_STAGE_FFP)
		return false;
	return !transit || (nsg > csg && nsg != 2 && !cont);
}

/* The whole text of a login request, parsed and answered into out.
 * *transit is cleared while CHAP still runs.  Returns 0 or the status
 * to refuse with. */
static uint16_t iscsi_login_text(struct iscsi_proto *proto,
				 struct iscsi_login *lg, int csg, int nsg,
				 bool *transit, struct iscsi_strbuf *out)
{
	struct iscsi_kv kv[ISCSI_LOGIN_KEYS_MAX];
	uint16_t st;
	int n;

	n = iscsi_text_parse(lg->in ? lg->in : (char *)"", lg->in_len, kv,
			     ISCSI_LOGIN_KEYS_MAX);
	if (n < 0)
		return ISCSI_LOGIN_INITIATOR_ERROR;
	if (!lg->started) {
		st = iscsi_login_first(proto, lg, kv, n, csg);
		lg->started = true;
		if (st)
			return st;
		if (!proto->discovery) {
			iscsi_sb_add(out, "TargetPortalGroupTag", "%u",
				     proto->cfg.tpg);
			if (proto->target.alias)
				iscsi_sb_add(out, "TargetAlias", "%s",
					     proto->target.alias);
		}
	}
	st = iscsi_login_keys(proto, lg, kv, n, csg, out);
	if (st)
		return st;
	if (*transit && csg == ISCSI_STAGE_SECURITY &&
	    lg->auth != ISCSI_AUTH_OK) {
		if (lg->auth_required && lg->auth == ISCSI_AUTH_START)
			return ISCSI_LOGIN_AUTH_FAILED;
		/* CHAP still running: stay in the security stage. */
		if (lg->auth != ISCSI_AUTH_START)
			*transit = false;
	}
	if (*transit &&
	    (nsg == ISCSI_STAGE_FFP || nsg == ISCSI_STAGE_OPERATIONAL) &&
	    !lg->sent_mrdsl) {
		iscsi_sb_add(out, "MaxRecvDataSegmentLength", "%u",
			     ISCSI_OUR_MRDSL);
		lg->sent_mrdsl = true;
	}
	/* §6.1: login text is limited to 8192 bytes per PDU whatever
	 * MaxRecvDataSegmentLength says (it applies from full feature
	 * phase on). */
	if (out->oom || out->len > 8192)
		return ISCSI_LOGIN_OUT_OF_RESOURCES;
	return 0;
}

/* The final login response: the session starts, then goes to the full
 * feature phase.  Takes out. */
static int iscsi_login_finish(struct iscsi_proto *proto, const uint8_t *bhs,
			      uint8_t flags, struct iscsi_strbuf *out)
{
	int ret = iscsi_session_start(proto);
	char esc[BASE_LOG_ESC_BYTES];

	if (ret < 0) {
		iscsi_sb_free(out);
		return iscsi_login_fail(proto, bhs,
					ret == -ENOENT
						? ISCSI_LOGIN_TARGET_REMOVED
						: ISCSI_LOGIN_TARGET_ERROR);
	}
	/* The final response goes out without digests; the full feature
	 * phase begins after it. */
	ret = iscsi_login_respond(proto, bhs, flags, 0, out);
	iscsi_sb_free(out);
	if (ret < 0)
		return ret;
	if (proto->p.first_burst > proto->p.max_burst)
		proto->p.first_burst = proto->p.max_burst;
	proto->phase = ISCSI_PHASE_FFP;
	iscsi_handshake_result(proto, true);
	iscsi_login_free(proto);
	log_debug("%s: %s session with %s", iscsi_peer(proto),
		  proto->discovery ? "discovery" : "normal",
		  base_log_escape(esc, sizeof(esc), proto->initiator));
	return 0;
}

uint64_t iscsi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A CHAP response from an address that failed lately waits for its
 * slot (iscsi_authfail.c) before it is checked: the PDU is kept, input
 * pauses (iscsi_rx_paused) and the connection's timer resumes it.
 * Returns 0 (go on), 1 (held) or a login status to refuse with. */
static int iscsi_login_hold(struct iscsi_proto *proto, struct iscsi_login *lg,
			    const uint8_t *bhs)
{
	uint64_t slot;

	if (lg->auth != ISCSI_AUTH_CHAP_R || !lg->in ||
	    !memmem(lg->in, lg->in_len, "CHAP_R=", 7))
		return 0;
	slot = iscsi_authfail_slot(&proto->cfg.peer_addr, iscsi_now_ms());
	if (!slot)
		return 0;
	if (slot == UINT64_MAX) {
		remote_stats_auth_failed("iscsi");
		return ISCSI_LOGIN_SERVICE_UNAVAIL;
	}
	memcpy(lg->held_bhs, bhs, ISCSI_BHS_BYTES);
	proto->login_hold_ms = slot;
	remote_stats_auth_delayed("iscsi");
	log_debug("%s: CHAP response held %llu ms after failed logins",
		  iscsi_peer(proto),
		  (unsigned long long)(slot - iscsi_now_ms()));
	return 1;
}

static int iscsi_login_process(struct iscsi_proto *proto,
			       struct iscsi_login *lg, const uint8_t *bhs);

int iscsi_login_resume(struct iscsi_proto *proto, uint64_t now_ms)
{
	if (!proto->login_hold_ms || now_ms < proto->login_hold_ms)
		return 0;
	proto->login_hold_ms = 0;
	/* Input that came meanwhile waits in the receive buffer. */
	proto->e.reparse = true;
	proto->e.kick = true;
	return iscsi_login_process(proto, proto->login, proto->login->held_bhs);
}

int iscsi_login_pdu(struct iscsi_proto *proto, const uint8_t *bhs,
		    const uint8_t *data, uint32_t dlen)
{
	struct iscsi_login *lg = iscsi_login_get(proto);
	bool transit = bhs[1] & ISCSI_FLAG_LOGIN_T;
	bool cont = bhs[1] & ISCSI_FLAG_LOGIN_C;
	int csg = (bhs[1] >> 2) & 3, nsg = bhs[1] & 3;
	uint16_t st = 0;

	/* RFC 7143 §11.13.5: 0x0302 "the target has insufficient session,
	 * connection, or other resources" (a target error: the initiator
	 * may retry later); 0x0206, "too many connections", is about the
	 * initiator's own session. */
	if (proto->cfg.refused)
		return iscsi_login_fail(proto, bhs,
					ISCSI_LOGIN_OUT_OF_RESOURCES);
	if (!lg)
		return iscsi_proto_fail(proto, -ENOMEM, "out of memory");
	if (!lg->started)
		st = iscsi_login_header(proto, lg, bhs, csg);
	if (st)
		return iscsi_login_fail(proto, bhs, st);
	if (!iscsi_login_stage_valid(lg, csg, nsg, transit, cont) ||
	    iscsi_text_append(&lg->in, &lg->in_len, data, dlen) < 0)
		return iscsi_login_fail(proto, bhs,
					ISCSI_LOGIN_INITIATOR_ERROR);
	/* §11.12.2: more text follows; answer with an empty response and
	 * wait for the rest. */
	if (cont)
		return iscsi_login_respond(proto, bhs, (uint8_t)(csg << 2), 0,
					   NULL);
	st = (uint16_t)iscsi_login_hold(proto, lg, bhs);
	if (st > 1)
		return iscsi_login_fail(proto, bhs, st);
	return st ? 0 : iscsi_login_process(proto, lg, bhs);
}

/* A whole login request (its text in lg->in): answer it. */
static int iscsi_login_process(struct iscsi_proto *proto,
			       struct iscsi_login *lg, const uint8_t *bhs)
{
	struct iscsi_strbuf out = { 0 };
	bool transit = bhs[1] & ISCSI_FLAG_LOGIN_T;
	int csg = (bhs[1] >> 2) & 3, nsg = bhs[1] & 3;
	uint8_t flags;
	uint16_t st;
	int ret;

	st = iscsi_login_text(proto, lg, csg, nsg, &transit, &out);
	if (st) {
		iscsi_sb_free(&out);
		return iscsi_login_fail(proto, bhs, st);
	}
	flags = (uint8_t)(csg << 2);
	if (transit) {
		flags |= ISCSI_FLAG_LOGIN_T | (uint8_t)nsg;
		lg->stage = nsg;
	}
	if (transit && nsg == ISCSI_STAGE_FFP)
		return iscsi_login_finish(proto, bhs, flags, &out);
	free(lg->in);
	lg->in = NULL;
	lg->in_len = 0;
	ret = iscsi_login_respond(proto, bhs, flags, 0, &out);
	iscsi_sb_free(&out);
	return ret;
}
