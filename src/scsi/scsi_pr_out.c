// SPDX-License-Identifier: MIT
/*
 * PERSISTENT RESERVE OUT (SPC-4 6.16, 5.14.7 to 5.14.11): the eight
 * service actions.  A command works on the device's state under its
 * lock and commits at the end: the state is saved if APTPL asks (and put
 * back as it was if that fails), then the unit attentions its changes
 * carry are raised.  PREEMPT AND ABORT completes only once the preempted
 * nexuses have no command left in storage (the fence below).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

#define SCSI_PR_OUT_REGISTER	      0x00
#define SCSI_PR_OUT_RESERVE	      0x01
#define SCSI_PR_OUT_RELEASE	      0x02
#define SCSI_PR_OUT_CLEAR	      0x03
#define SCSI_PR_OUT_PREEMPT	      0x04
#define SCSI_PR_OUT_PREEMPT_ABORT     0x05
#define SCSI_PR_OUT_REGISTER_IGNORE   0x06
#define SCSI_PR_OUT_REGISTER_AND_MOVE 0x07

/* Outcomes of a service action besides 0 (done) and -errno: a
 * reservation conflict, or ILLEGAL REQUEST with an ASC (>= 0x100). */
#define PR_CONFLICT 1

/* One command's view of the state. */
struct scsi_pr_out {
	struct scsi_lu *lu;
	struct scsi_cmd *cmd;
	struct scsi_pr *pr;
	struct scsi_pr_reg *me; /* the caller's registration, or NULL */
	uint8_t sa, scope, type;
	uint64_t key, sa_key;
	bool spec_i_pt, all_tg_pt, aptpl;
	const uint8_t *param;
	uint32_t param_len;
	char tport[512];
	unsigned int n_dead;
	struct scsi_pr_reg *dead[SCSI_PR_MAX_REGS]; /* unlinked */
	char *note; /* for the other gateways (scsi_pr_tell) */
};

/* PREEMPT AND ABORT waits for the preempted nexuses' commands: the
 * command itself (lu, cmd) on this gateway, or on another one the thread
 * acting on its notification (lu NULL: the condition). */
struct scsi_pr_fence {
	atomic_uint pending;
	struct scsi_lu *lu;
	struct scsi_cmd *cmd;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool done;
};

static bool scsi_pr_type_valid(uint8_t type)
{
	return type == SCSI_PR_WR_EX || type == SCSI_PR_EX_AC ||
	       (type >= SCSI_PR_WR_EX_RO && type <= SCSI_PR_EX_AC_AR);
}

static void pr_unlink(struct scsi_pr_out *o, struct scsi_pr_reg *reg,
		      uint16_t ua)
{
	struct scsi_pr *pr = o->pr;
	unsigned int i;

	for (i = 0; i < pr->n_regs && pr->regs[i] != reg; i++)
		;
	if (i == pr->n_regs)
		return;
	memmove(&pr->regs[i], &pr->regs[i + 1],
		(pr->n_regs - i - 1) * sizeof(pr->regs[0]));
	pr->n_regs--;
	reg->ua = ua;
	o->dead[o->n_dead++] = reg;
	if (pr->holder == reg)
		pr->holder = NULL;
	/* An all-registrants reservation lasts while anyone is
	 * registered; another goes with its holder. */
	if (pr->type &&
	    (scsi_pr_all_regs(pr->type) ? !pr->n_regs : !pr->holder))
		pr->type = 0;
}

/* Registrants but skip get ua. */
static void pr_ua_others(struct scsi_pr_out *o, const struct scsi_pr_reg *skip,
			 uint16_t ua)
{
	for (unsigned int i = 0; i < o->pr->n_regs; i++)
		if (o->pr->regs[i] != skip)
			o->pr->regs[i]->ua = ua;
}

static int pr_add(struct scsi_pr_out *o, const char *initiator,
		  const char *tport, uint16_t rel, uint64_t key)
{
	struct scsi_pr *pr = o->pr;
	struct scsi_pr_reg *r;

	if (pr->n_regs == SCSI_PR_MAX_REGS)
		return SCSI_ASC_INSUFFICIENT_REG_RES;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->key = key;
	r->rel_port_id = rel;
	r->all_tg_pt = o->all_tg_pt;
	r->initiator = strdup(initiator);
	r->tport = strdup(tport);
	if (!r->initiator || !r->tport) {
		scsi_pr_reg_free(r);
		return -ENOMEM;
	}
	pr->regs[pr->n_regs++] = r;
	return 0;
}

/* An iSCSI TransportID (SPC-4 7.6.4.6) at p, at most len bytes: its
 * initiator port (format 01b) or device (00b) name into out; returns its
 * length in bytes, or 0 if it is not one. */
static uint32_t pr_transport_id(const uint8_t *p, uint32_t len, char *out,
				size_t size)
{
	uint32_t n;
	uint8_t fmt;

	if (len < 4 || (p[0] & 0x0f) != 0x05)
		return 0;
	fmt = p[0] >> 6;
	n = base_be16_get(p + 2);
	if (fmt > 1 || 4 + n > len || !n || !memchr(p + 4, 0, n) ||
	    strlen((const char *)p + 4) >= size)
		return 0;
	strcpy(out, (const char *)p + 4);
	if (fmt == 1 && !strstr(out, ",i,0x"))
		return 0;
	if (fmt == 0 && strchr(out, ','))
		return 0;
	return 4 + n;
}

/* SPEC_I_PT: register the initiator ports the parameter list names, on
 * the caller's target port, with the caller's new key. */
static int pr_register_spec(struct scsi_pr_out *o)
{
	const uint8_t *p = o->param + 28;
	uint32_t len, off, n;
	char name[512];
	int ret;

	if (o->param_len < 28)
		return SCSI_ASC_PARAM_LIST_LENGTH;
	len = base_be32_get(o->param + 24);
	if (28 + len != o->param_len)
		return SCSI_ASC_PARAM_LIST_LENGTH;
	for (off = 0; off < len; off += n) {
		n = pr_transport_id(p + off, len - off, name, sizeof(name));
		if (!n)
			return SCSI_ASC_INVALID_FIELD_PARAM;
		if (scsi_pr_find(o->pr, name, o->tport))
			return SCSI_ASC_INVALID_FIELD_PARAM;
		ret = pr_add(o, name, o->tport, o->lu->nexus->rel_port_id,
			     o->sa_key);
		if (ret)
			return ret;
	}
	return 0;
}

/* REGISTER and REGISTER AND IGNORE EXISTING KEY (5.14.7). */
static int pr_register(struct scsi_pr_out *o, bool ignore)
{
	struct scsi_pr *pr = o->pr;
	int ret;

	if (o->spec_i_pt && (ignore || o->me))
		return SCSI_ASC_INVALID_FIELD_PARAM;
	if (!o->me) {
		if (!ignore && o->key)
			return PR_CONFLICT;
		if (!o->sa_key)
			return 0;
		ret = pr_add(o, o->lu->nexus->initiator, o->tport,
			     o->lu->nexus->rel_port_id, o->sa_key);
		if (!ret && o->spec_i_pt)
			ret = pr_register_spec(o);
		if (ret)
			return ret;
	} else {
		if (!ignore && o->key != o->me->key)
			return PR_CONFLICT;
		if (o->sa_key) {
			o->me->key = o->sa_key;
		} else {
			/* 5.14.11.2.3: the holder of a registrants-only
			 * reservation leaving releases it for the rest */
			if (pr->holder == o->me &&
			    (pr->type == SCSI_PR_WR_EX_RO ||
			     pr->type == SCSI_PR_EX_AC_RO))
				pr_ua_others(o, o->me,
					     SCSI_ASC_RESERVATIONS_RELEASED);
			pr_unlink(o, o->me, 0);
		}
	}
	pr->aptpl = o->aptpl;
	pr->generation++;
	return 0;
}

static int pr_reserve(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;

	if (pr->type)
		return scsi_pr_is_holder(pr, o->me) && pr->type == o->type
			       ? 0
			       : PR_CONFLICT;
	pr->type = o->type;
	pr->holder = scsi_pr_all_regs(o->type) ? NULL : o->me;
	return 0;
}

static int pr_release(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;

	if (!pr->type || !scsi_pr_is_holder(pr, o->me))
		return 0;
	if (pr->type != o->type)
		return SCSI_ASC_INVALID_RELEASE_PR;
	/* 5.14.10.2: releasing a reservation others could use tells them */
	if (pr->type != SCSI_PR_WR_EX && pr->type != SCSI_PR_EX_AC)
		pr_ua_others(o, o->me, SCSI_ASC_RESERVATIONS_RELEASED);
	pr->type = 0;
	pr->holder = NULL;
	return 0;
}

static int pr_clear(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;

	pr_ua_others(o, o->me, SCSI_ASC_RESERVATIONS_PREEMPTED);
	while (pr->n_regs)
		pr_unlink(o, pr->regs[0], pr->regs[0]->ua);
	pr->type = 0;
	pr->holder = NULL;
	pr->generation++;
	return 0;
}

/* Unregister every nexus but the caller's registered with key (0: all
 * of them); how many went. */
static unsigned int pr_remove_key(struct scsi_pr_out *o, uint64_t key, bool all)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < o->pr->n_regs;) {
		struct scsi_pr_reg *r = o->pr->regs[i];

		if (r != o->me && (all || r->key == key)) {
			pr_unlink(o, r, SCSI_ASC_REGISTRATIONS_PREEMPTED);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* The caller takes a new reservation in place of the preempted one;
 * the registrants left learn of it if its type changed (5.14.11.4.3). */
static void pr_take_over(struct scsi_pr_out *o, uint8_t old_type)
{
	struct scsi_pr *pr = o->pr;

	if (old_type != o->type)
		pr_ua_others(o, o->me, SCSI_ASC_RESERVATIONS_RELEASED);
	pr->type = o->type;
	pr->holder = scsi_pr_all_regs(o->type) ? NULL : o->me;
}

/* PREEMPT and PREEMPT AND ABORT (5.14.11.4). */
static int pr_preempt(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	uint8_t old_type = pr->type;
	uint64_t holder_key;

	if (pr->type && !scsi_pr_type_valid(o->type))
		return SCSI_ASC_INVALID_FIELD_CDB;
	if (!pr->type || (scsi_pr_all_regs(pr->type) && o->sa_key)) {
		if (!o->sa_key)
			return SCSI_ASC_INVALID_FIELD_PARAM;
		if (!pr_remove_key(o, o->sa_key, false) &&
		    !(o->me->key == o->sa_key))
			return PR_CONFLICT;
	} else if (scsi_pr_all_regs(pr->type)) {
		pr_remove_key(o, 0, true);
		pr_take_over(o, old_type);
	} else {
		holder_key = pr->holder ? pr->holder->key : 0;
		if (o->sa_key != holder_key) {
			if (!o->sa_key)
				return SCSI_ASC_INVALID_FIELD_PARAM;
			if (!pr_remove_key(o, o->sa_key, false))
				return PR_CONFLICT;
		} else {
			pr_remove_key(o, o->sa_key, false);
			pr_take_over(o, old_type);
		}
	}
	pr->generation++;
	return 0;
}

/* REGISTER AND MOVE (5.14.12): the reservation goes to another
 * initiator port, registered on the way with the service action key. */
static int pr_register_move(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	const uint8_t *p = o->param;
	char name[512], tport[512];
	struct scsi_pr_reg *dest;
	uint32_t tid_len;
	uint16_t rel;
	int ret;

	if (!o->me || o->me->key != o->key || !pr->type ||
	    !scsi_pr_is_holder(pr, o->me) || scsi_pr_all_regs(pr->type))
		return PR_CONFLICT;
	tid_len = base_be32_get(p + 20);
	if (24 + tid_len > o->param_len)
		return SCSI_ASC_PARAM_LIST_LENGTH;
	if (!o->sa_key ||
	    !pr_transport_id(p + 24, tid_len, name, sizeof(name)) ||
	    !strchr(name, ','))
		return SCSI_ASC_INVALID_FIELD_PARAM;
	rel = base_be16_get(p + 18);
	snprintf(tport, sizeof(tport), "%s,t,0x%04x",
		 o->lu->nexus->target->name, rel);
	if (!strcasecmp(name, o->lu->nexus->initiator) &&
	    !strcmp(tport, o->tport))
		return SCSI_ASC_INVALID_FIELD_PARAM;
	dest = scsi_pr_find(pr, name, tport);
	if (dest) {
		dest->key = o->sa_key;
	} else {
		o->all_tg_pt = false;
		ret = pr_add(o, name, tport, rel, o->sa_key);
		if (ret)
			return ret;
		dest = pr->regs[pr->n_regs - 1];
	}
	pr->holder = dest;
	if (p[17] & 0x02) /* UNREG */
		pr_unlink(o, o->me, 0);
	pr->aptpl = o->aptpl;
	pr->generation++;
	return 0;
}

static int pr_run(struct scsi_pr_out *o)
{
	bool reg = o->sa == SCSI_PR_OUT_REGISTER ||
		   o->sa == SCSI_PR_OUT_REGISTER_IGNORE;

	if (o->sa == SCSI_PR_OUT_REGISTER_AND_MOVE)
		return pr_register_move(o);
	if (o->spec_i_pt && o->sa != SCSI_PR_OUT_REGISTER)
		return SCSI_ASC_INVALID_FIELD_PARAM;
	if (!o->spec_i_pt && o->param_len != 24)
		return SCSI_ASC_PARAM_LIST_LENGTH;
	if (o->aptpl && !scsi_pr_aptpl_capable(o->pr))
		return SCSI_ASC_INVALID_FIELD_PARAM;
	if (reg)
		return pr_register(o, o->sa == SCSI_PR_OUT_REGISTER_IGNORE);
	if (!o->me || o->me->key != o->key)
		return PR_CONFLICT;
	if ((o->sa == SCSI_PR_OUT_RESERVE || o->sa == SCSI_PR_OUT_RELEASE) &&
	    (o->scope || !scsi_pr_type_valid(o->type)))
		return SCSI_ASC_INVALID_FIELD_CDB;
	switch (o->sa) {
	case SCSI_PR_OUT_RESERVE:
		return pr_reserve(o);
	case SCSI_PR_OUT_RELEASE:
		return pr_release(o);
	case SCSI_PR_OUT_CLEAR:
		return pr_clear(o);
	default:
		return pr_preempt(o);
	}
}

/* The fence. */

static void scsi_pr_fence_finish(void *arg)
{
	struct scsi_pr_fence *f = arg;
	struct scsi_cmd *cmd = f->cmd;

	scsi_lu_cmd_end(f->lu);
	pthread_mutex_destroy(&f->mutex);
	pthread_cond_destroy(&f->cond);
	free(f);
	cmd->done(cmd);
}

void scsi_pr_fence_put(struct scsi_pr_fence *f)
{
	if (atomic_fetch_sub(&f->pending, 1) != 1)
		return;
	if (!f->lu) {
		pthread_mutex_lock(&f->mutex);
		f->done = true;
		pthread_cond_signal(&f->cond);
		pthread_mutex_unlock(&f->mutex);
		return;
	}
	if (base_loop_post(f->lu->nexus->loop, scsi_pr_fence_finish, f) < 0)
		log_error("scsi: PREEMPT AND ABORT cannot complete: out of "
			  "memory");
}

/*
 * Every live nexus of the preempted registrations: new commands from
 * them now conflict (the state changed first), and those in storage are
 * waited for.  Returns the fence to wait on, or NULL if none is busy.
 * Both sides use sequentially consistent atomics: either this sees the
 * nexus busy, or the nexus' last command sees the fence.
 */
struct scsi_pr_fence *
scsi_pr_fence_start(struct scsi_dev *dev, const struct scsi_lu *skip,
		    struct scsi_pr_reg *const *dead, unsigned int n_dead,
		    struct scsi_lu *waiter, struct scsi_cmd *cmd)
{
	struct scsi_pr_fence *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL; /* the preempted are fenced from new commands */
	atomic_init(&f->pending, 1);
	f->lu = waiter;
	f->cmd = cmd;
	pthread_mutex_init(&f->mutex, NULL);
	pthread_cond_init(&f->cond, NULL);
	pthread_mutex_lock(&dev->lock);
	for (struct scsi_lu *lu = dev->lus; lu; lu = lu->dev_next) {
		struct scsi_pr_fence *none = NULL;
		bool hit = false;

		if (lu == skip)
			continue;
		for (unsigned int i = 0; i < n_dead && !hit; i++)
			hit = scsi_pr_lu_match(dead[i], lu);
		if (!hit)
			continue;
		atomic_fetch_add(&f->pending, 1);
		if (!atomic_compare_exchange_strong(&lu->fence, &none, f)) {
			/* another PREEMPT AND ABORT waits on it already */
			atomic_fetch_sub(&f->pending, 1);
			continue;
		}
		if (atomic_load(&lu->busy) == 0 &&
		    atomic_exchange(&lu->fence, NULL) == f)
			atomic_fetch_sub(&f->pending, 1);
	}
	pthread_mutex_unlock(&dev->lock);
	if (atomic_fetch_sub(&f->pending, 1) == 1) {
		pthread_mutex_destroy(&f->mutex);
		pthread_cond_destroy(&f->cond);
		free(f);
		return NULL;
	}
	return f;
}

/* Until the last fenced nexus' last command is done; frees the fence
 * (one made with no waiter). */
void scsi_pr_fence_wait(struct scsi_pr_fence *f)
{
	pthread_mutex_lock(&f->mutex);
	while (!f->done)
		pthread_cond_wait(&f->cond, &f->mutex);
	pthread_mutex_unlock(&f->mutex);
	pthread_mutex_destroy(&f->mutex);
	pthread_cond_destroy(&f->cond);
	free(f);
}

/* Put the state back as it was before a command whose saving failed. */
static void pr_rollback(struct scsi_pr_out *o, const char *before,
			bool was_aptpl)
{
	struct scsi_pr *pr = o->pr;

	if (!before || scsi_pr_parse(pr, before) < 0) {
		/* Nothing to go back to: what is in memory stays. */
		log_error("scsi: %s: persistent reservations differ from the "
			  "saved copy",
			  pr->dev_id);
		return;
	}
	pr->aptpl = was_aptpl;
}

static void pr_note_reg(FILE *f, const char *what, const struct scsi_pr_reg *r)
{
	fprintf(f, "%s %04x %d %s %s\n", what, r->ua, r->all_tg_pt,
		r->initiator, r->tport);
}

/* What the other gateways must do besides rereading the state: raise
 * the unit attentions this command raises, and after PREEMPT AND ABORT
 * fence the preempted nexuses (scsi_pr_shared.c reads it). */
static char *pr_note(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f, "iopd-pr %" PRIu64 "\n", pr->version);
	for (unsigned int i = 0; i < pr->n_regs; i++)
		if (pr->regs[i]->ua)
			pr_note_reg(f, "ua", pr->regs[i]);
	for (unsigned int i = 0; i < o->n_dead; i++) {
		if (o->dead[i]->ua)
			pr_note_reg(f, "ua", o->dead[i]);
		if (o->sa == SCSI_PR_OUT_PREEMPT_ABORT)
			pr_note_reg(f, "abort", o->dead[i]);
	}
	if (fclose(f))
		return NULL;
	return buf;
}

/* Save, then raise the unit attentions; 0 or the outcome to report. */
static int pr_commit(struct scsi_pr_out *o, const char *before, bool was_aptpl)
{
	struct scsi_pr *pr = o->pr;

	int ret = scsi_pr_persist(pr, was_aptpl);

	if (ret < 0) {
		pr_rollback(o, before, was_aptpl);
		scsi_pr_sync_flags(pr);
		return ret == -ESTALE ? ret : SCSI_ASC_INSUFFICIENT_REG_RES;
	}
	scsi_pr_sync_flags(pr);
	scsi_pr_raise(o->lu->dev, pr->regs, pr->n_regs);
	scsi_pr_raise(o->lu->dev, o->dead, o->n_dead);
	return 0;
}

static void pr_report(struct scsi_pr_out *o, int ret)
{
	if (ret == PR_CONFLICT)
		o->cmd->status = SCSI_STATUS_RESERVATION_CONFLICT;
	else if (ret == SCSI_ASC_INVALID_FIELD_CDB)
		scsi_bad_cdb(o->lu, o->cmd);
	else if (ret > 0)
		scsi_lu_sense(o->lu, o->cmd, SCSI_SK_ILLEGAL_REQUEST,
			      (uint16_t)ret);
	else if (ret < 0)
		scsi_sense_from_errno(o->cmd, o->lu->d_sense, ret, false);
}

static int pr_parse_cdb(struct scsi_pr_out *o)
{
	const uint8_t *cdb = o->cmd->cdb, *p = o->cmd->buf;
	uint32_t len = base_be32_get(cdb + 5);

	o->sa = cdb[1] & 0x1f;
	o->scope = cdb[2] >> 4;
	o->type = cdb[2] & 0x0f;
	o->cmd->xfer_len = len;
	if (o->sa > SCSI_PR_OUT_REGISTER_AND_MOVE)
		return SCSI_ASC_INVALID_FIELD_CDB;
	if (len < 24 || len > o->cmd->buf_len)
		return SCSI_ASC_PARAM_LIST_LENGTH;
	o->param = p;
	o->param_len = len;
	o->key = base_be64_get(p);
	o->sa_key = base_be64_get(p + 8);
	if (o->sa == SCSI_PR_OUT_REGISTER_AND_MOVE) {
		o->aptpl = p[17] & 0x01;
		return o->aptpl && !scsi_pr_aptpl_capable(o->pr)
			       ? SCSI_ASC_INVALID_FIELD_PARAM
			       : 0;
	}
	o->spec_i_pt = p[20] & 0x08;
	o->all_tg_pt = p[20] & 0x04;
	o->aptpl = p[20] & 0x01;
	return 0;
}

/* One try at the command, under pr->lock. */
static int pr_attempt(struct scsi_pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	char *before;
	bool was_aptpl;
	int ret = scsi_pr_load(pr);

	if (ret < 0)
		return ret;
	was_aptpl = pr->aptpl;
	/* The state as it was, to go back to if the command fails half
	 * way (a SPEC_I_PT list with a bad entry) or cannot be saved. */
	before = scsi_pr_text(pr);
	if (!before)
		return -ENOMEM;
	o->me = scsi_pr_find(pr, o->lu->nexus->initiator, o->tport);
	ret = pr_run(o);
	if (ret == 0)
		ret = pr_commit(o, before, was_aptpl);
	else
		pr_rollback(o, before, was_aptpl);
	free(before);
	return ret;
}

/* The saved state becomes this gateway's (unless a later one already
 * did), with its unit attentions. */
static void pr_install(struct scsi_pr_out *o, struct scsi_pr *live,
		       struct scsi_pr *tmp)
{
	struct scsi_dev *dev = o->lu->dev;
	struct scsi_pr *src;

	o->note = pr_note(o);
	pthread_mutex_lock(&live->lock);
	src = scsi_pr_install(live, tmp) ? live : tmp;
	scsi_pr_res6_apply(live, dev);
	scsi_pr_raise(dev, src->regs, src->n_regs);
	scsi_pr_raise(dev, o->dead, o->n_dead);
	pthread_mutex_unlock(&live->lock);
}

/*
 * One try on a shared state, holding only live->out_lock: the record as
 * it is now is read into a scratch state, the command runs on that, and
 * it is saved if nobody saved another version meanwhile (-ESTALE: try
 * again).  Only then does it become the state this gateway's commands
 * are checked against, so they never see one that was not saved, and
 * they never wait for the network.
 */
static int pr_attempt_shared(struct scsi_pr_out *o)
{
	struct scsi_pr *live = o->pr, *tmp = scsi_pr_scratch(live);
	int ret = tmp ? scsi_pr_load_shared(tmp) : -ENOMEM;

	if (ret < 0) {
		scsi_pr_scratch_free(tmp);
		return ret == -ENOMEM ? ret : SCSI_ASC_INSUFFICIENT_REG_RES;
	}
	o->pr = tmp;
	o->me = scsi_pr_find(tmp, o->lu->nexus->initiator, o->tport);
	/* RESERVE(6) through another gateway (SPC-4 5.14.3): as the
	 * conflict check does for one this gateway knows of, whichever
	 * committed first. */
	if (tmp->res6_initiator && !scsi_pr_res6_is(tmp, o->lu))
		ret = PR_CONFLICT;
	else
		ret = pr_run(o);
	if (ret == 0) {
		ret = scsi_pr_save_shared(tmp);
		if (ret == 0)
			pr_install(o, live, tmp);
		else if (ret != -ESTALE)
			ret = SCSI_ASC_INSUFFICIENT_REG_RES;
	}
	o->pr = live;
	scsi_pr_scratch_free(tmp);
	return ret;
}

static int pr_attempts(struct scsi_pr_out *o, bool shared)
{
	int ret;

	for (unsigned int tries = 0;; tries++) {
		ret = shared ? pr_attempt_shared(o) : pr_attempt(o);
		if (ret != -ESTALE)
			return ret;
		for (unsigned int i = 0; i < o->n_dead; i++)
			scsi_pr_reg_free(o->dead[i]);
		o->n_dead = 0;
		if (tries == 16) {
			log_error(
				"scsi: %s: the shared persistent reservations "
				"keep changing under this gateway",
				o->pr->dev_id);
			return SCSI_ASC_INSUFFICIENT_REG_RES;
		}
	}
}

/* The other gateways act on the change before the command completes
 * (they have fenced the preempted nexuses when it is PREEMPT AND
 * ABORT).  If one cannot be told, the state is saved all the same (each
 * rereads it at its next PR OUT or when its watch comes back), but a
 * PREEMPT AND ABORT fails: its fence is not known to hold. */
static void pr_tell(struct scsi_pr_out *o)
{
	int ret = scsi_pr_tell(o->pr, o->note ? o->note : "iopd-pr 0\n");

	if (ret < 0 && o->sa == SCSI_PR_OUT_PREEMPT_ABORT)
		scsi_lu_sense(o->lu, o->cmd, SCSI_SK_HARDWARE_ERROR,
			      SCSI_ASC_INTERNAL_TARGET_FAILURE);
}

static void pr_out_free(struct scsi_pr_out *o)
{
	for (unsigned int i = 0; i < o->n_dead; i++)
		scsi_pr_reg_free(o->dead[i]);
	free(o->note);
	free(o);
}

static void pr_out_finish(void *arg)
{
	struct scsi_pr_out *o = arg;
	struct scsi_lu *lu = o->lu;
	struct scsi_cmd *cmd = o->cmd;

	pr_out_free(o);
	scsi_lu_cmd_end(lu);
	cmd->done(cmd);
}

/*
 * A PR OUT on a shared state: it waits for the cluster and for the other
 * gateways, so not on the nexus' worker.  Its own fence (PREEMPT AND
 * ABORT) starts once the others have fenced theirs: the preempted
 * nexuses here got no new command through since the state was installed,
 * and those still in storage are waited for all the same.  Returns 1:
 * the command completes on the nexus' loop.
 */
static void *pr_out_shared(void *arg)
{
	struct scsi_pr_out *o = arg;
	struct scsi_pr *pr = o->pr;
	struct scsi_pr_fence *fence = NULL;
	int ret;

	pthread_mutex_lock(&pr->out_lock);
	ret = pr_attempts(o, true);
	pthread_mutex_unlock(&pr->out_lock);
	pr_report(o, ret);
	if (ret == 0) {
		pr_tell(o);
		if (o->sa == SCSI_PR_OUT_PREEMPT_ABORT && o->n_dead)
			fence = scsi_pr_fence_start(o->lu->dev, o->lu, o->dead,
						    o->n_dead, o->lu, o->cmd);
	}
	if (fence) {
		pr_out_free(o); /* the fence completes the command */
		return NULL;
	}
	if (base_loop_post(o->lu->nexus->loop, pr_out_finish, o) < 0)
		log_error("scsi: PERSISTENT RESERVE OUT cannot complete: out "
			  "of memory");
	return NULL;
}

int scsi_pr_out(struct scsi_nexus *nexus, struct scsi_lu *lu,
		struct scsi_cmd *cmd)
{
	struct scsi_pr *pr = lu->dev->pr;
	struct scsi_pr_out *o = calloc(1, sizeof(*o));
	struct scsi_pr_fence *fence = NULL;
	bool shared;
	int ret;

	(void)nexus;
	if (!o) {
		scsi_sense_from_errno(cmd, lu->d_sense, -ENOMEM, false);
		return 0;
	}
	o->lu = lu;
	o->cmd = cmd;
	o->pr = pr;
	scsi_pr_tport(lu, o->tport, sizeof(o->tport));
	ret = pr_parse_cdb(o);
	if (ret) {
		pr_report(o, ret);
		free(o);
		return 0;
	}
	shared = scsi_pr_is_shared(pr);
	if (shared && scsi_pr_thread(pr_out_shared, o) == 0)
		return 1;
	if (shared) {
		/* No thread: here, then, blocking this worker. */
		pr_out_shared(o);
		return 1;
	}
	pthread_mutex_lock(&pr->lock);
	ret = pr_attempts(o, false);
	if (ret == 0 && o->sa == SCSI_PR_OUT_PREEMPT_ABORT && o->n_dead)
		fence = scsi_pr_fence_start(lu->dev, lu, o->dead, o->n_dead, lu,
					    cmd);
	pthread_mutex_unlock(&pr->lock);
	pr_report(o, ret);
	pr_out_free(o);
	return fence ? 1 : 0;
}
