// SPDX-License-Identifier: MIT
/*
 * Persistent reservations (SPC-4 5.14): the per-device state and its
 * registry, what a reservation forbids to the other I_T nexuses, the
 * rules RESERVE/RELEASE(6) follow while registrations exist, unit
 * attentions to registrants, the text form kept by the store for APTPL,
 * and the operators' view.  The commands themselves are in
 * scsi_pr_in.c and scsi_pr_out.c.
 *
 * The state is keyed by "<IOP name>/<device index>", the name that also
 * seeds the device's identifiers, so it outlives every nexus, export
 * and target reaching the device, and a restart finds its saved copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_pr_store.h"
#include "scsi/scsi_priv.h"

static pthread_mutex_t scsi_prs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scsi_pr *scsi_prs;
/* Set once at start-up, before any nexus. */
static struct scsi_pr_store scsi_pr_store;

int scsi_pr_configure(const char *dir)
{
	char *copy = NULL;

	if (dir && !(copy = strdup(dir)))
		return -ENOMEM;
	free(scsi_pr_store.ctx);
	scsi_pr_store.ctx = copy;
	scsi_pr_store.ops = copy ? &scsi_pr_store_file_ops : NULL;
	return 0;
}

bool scsi_pr_aptpl_capable(const struct scsi_pr *pr)
{
	return scsi_pr_store.ops != NULL || pr->shared;
}

void scsi_pr_dev_id(const struct conn_export *exp, char *out, size_t size)
{
	snprintf(out, size, "%s/%u",
		 exp->desc->name ? exp->desc->name : exp->name, exp->dev_index);
}

struct scsi_pr *scsi_pr_get(const char *dev_id)
{
	struct scsi_pr *pr;

	pthread_mutex_lock(&scsi_prs_lock);
	for (pr = scsi_prs; pr; pr = pr->next)
		if (!strcmp(pr->dev_id, dev_id))
			break;
	if (!pr) {
		pr = calloc(1, sizeof(*pr));
		if (pr && !(pr->dev_id = strdup(dev_id))) {
			free(pr);
			pr = NULL;
		}
		if (pr) {
			pthread_mutex_init(&pr->lock, NULL);
			pthread_mutex_init(&pr->out_lock, NULL);
			pthread_cond_init(&pr->heard, NULL);
			pr->next = scsi_prs;
			scsi_prs = pr;
		}
	}
	if (pr)
		pr->refs++;
	pthread_mutex_unlock(&scsi_prs_lock);
	return pr;
}

/* A state with registrations stays (they outlive every nexus); an empty
 * one goes with its last device. */
void scsi_pr_put(struct scsi_pr *pr)
{
	struct scsi_pr **pp;
	bool keep;

	pthread_mutex_lock(&scsi_prs_lock);
	pthread_mutex_lock(&pr->lock);
	keep = --pr->refs || pr->n_regs || pr->aptpl;
	pthread_mutex_unlock(&pr->lock);
	if (keep) {
		pthread_mutex_unlock(&scsi_prs_lock);
		return;
	}
	for (pp = &scsi_prs; *pp != pr; pp = &(*pp)->next)
		;
	*pp = pr->next;
	pthread_mutex_unlock(&scsi_prs_lock);
	pthread_mutex_destroy(&pr->lock);
	pthread_mutex_destroy(&pr->out_lock);
	pthread_cond_destroy(&pr->heard);
	free(pr->res6_initiator);
	free(pr->res6_tport);
	free(pr->dev_id);
	free(pr);
}

void scsi_pr_reg_free(struct scsi_pr_reg *reg)
{
	if (!reg)
		return;
	free(reg->initiator);
	free(reg->tport);
	free(reg);
}

void scsi_pr_sync_flags(struct scsi_pr *pr)
{
	atomic_store(&pr->reserved, pr->type != 0);
	atomic_store(&pr->registered, pr->n_regs != 0);
}

/* The target port of lu's nexus, named as SPC-4 7.6.4.6 names iSCSI
 * target ports. */
static void scsi_pr_nexus_tport(const struct scsi_nexus *n, char *out,
				size_t size)
{
	snprintf(out, size, "%s,t,0x%04x", n->target->name, n->rel_port_id);
}

void scsi_pr_tport(const struct scsi_lu *lu, char *out, size_t size)
{
	scsi_pr_nexus_tport(lu->nexus, out, size);
}

static bool scsi_pr_port_match(const struct scsi_pr_reg *reg,
			       const char *initiator, const char *tport)
{
	size_t n = strlen(reg->initiator);

	if (!reg->all_tg_pt && strcmp(reg->tport, tport))
		return false;
	if (!strcasecmp(reg->initiator, initiator))
		return true;
	/* A TransportID naming only the initiator device (format 00b)
	 * registered each of its ports. */
	return !strstr(reg->initiator, ",i,") &&
	       !strncasecmp(reg->initiator, initiator, n) &&
	       !strncmp(initiator + n, ",i,", 3);
}

struct scsi_pr_reg *scsi_pr_find(struct scsi_pr *pr, const char *initiator,
				 const char *tport)
{
	for (unsigned int i = 0; i < pr->n_regs; i++)
		if (scsi_pr_port_match(pr->regs[i], initiator, tport))
			return pr->regs[i];
	return NULL;
}

struct scsi_pr_reg *scsi_pr_find_lu(struct scsi_pr *pr,
				    const struct scsi_lu *lu)
{
	char tport[512];

	scsi_pr_tport(lu, tport, sizeof(tport));
	return scsi_pr_find(pr, lu->nexus->initiator, tport);
}

bool scsi_pr_all_regs(uint8_t type)
{
	return type == SCSI_PR_WR_EX_AR || type == SCSI_PR_EX_AC_AR;
}

bool scsi_pr_is_holder(const struct scsi_pr *pr, const struct scsi_pr_reg *reg)
{
	if (!reg || !pr->type)
		return false;
	return scsi_pr_all_regs(pr->type) || pr->holder == reg;
}

/* SPC-4 5.14.1 tables 62-63, SBC-3 4.17: what the reservation leaves to
 * an I_T nexus that does not hold it. */
bool scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_opcode *op)
{
	struct scsi_pr *pr = lu->dev->pr;
	struct scsi_pr_reg *reg;
	bool conflict = false, reads = op->flags & SCSI_OPF_PR_READ;

	if ((op->flags & SCSI_OPF_PR_OK) || !atomic_load(&pr->reserved))
		return false;
	pthread_mutex_lock(&pr->lock);
	reg = scsi_pr_find_lu(pr, lu);
	if (pr->type && !scsi_pr_is_holder(pr, reg)) {
		switch (pr->type) {
		case SCSI_PR_WR_EX:
			conflict = !reads;
			break;
		case SCSI_PR_EX_AC:
			conflict = true;
			break;
		case SCSI_PR_WR_EX_RO:
		case SCSI_PR_WR_EX_AR:
			conflict = !reads && !reg;
			break;
		default: /* EX_AC_RO, EX_AC_AR */
			conflict = !reg;
			break;
		}
	}
	pthread_mutex_unlock(&pr->lock);
	return conflict;
}

int scsi_pr_reserve6_rule(struct scsi_pr *pr, struct scsi_lu *lu, bool reserve)
{
	struct scsi_pr_reg *reg;

	if (!pr->n_regs)
		return 0;
	/* Registrations make every RESERVE and RELEASE conflict, but a
	 * RELEASE from a holder, or from a registrant of a registrants-only
	 * or all-registrants reservation, is GOOD and releases nothing. */
	reg = scsi_pr_find_lu(pr, lu);
	if (!reserve && pr->type && reg &&
	    (scsi_pr_is_holder(pr, reg) || pr->type >= SCSI_PR_WR_EX_RO))
		return 1;
	return -EBUSY;
}

int scsi_pr_reserve6_check(struct scsi_lu *lu, bool reserve)
{
	struct scsi_pr *pr = lu->dev->pr;
	int ret;

	if (!atomic_load(&pr->registered))
		return 0;
	pthread_mutex_lock(&pr->lock);
	ret = scsi_pr_reserve6_rule(pr, lu, reserve);
	pthread_mutex_unlock(&pr->lock);
	return ret;
}

/* Unit attentions. */

bool scsi_pr_lu_match(const struct scsi_pr_reg *reg, const struct scsi_lu *lu)
{
	char tport[512];

	scsi_pr_tport(lu, tport, sizeof(tport));
	return scsi_pr_port_match(reg, lu->nexus->initiator, tport);
}

void scsi_pr_raise(struct scsi_dev *dev, struct scsi_pr_reg *const *regs,
		   unsigned int n)
{
	if (dev)
		pthread_mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < n; i++) {
		if (!regs[i]->ua)
			continue;
		for (struct scsi_lu *lu = dev ? dev->lus : NULL; lu;
		     lu = lu->dev_next)
			if (scsi_pr_lu_match(regs[i], lu))
				atomic_store(&lu->ua, regs[i]->ua);
		regs[i]->ua = 0;
	}
	if (dev)
		pthread_mutex_unlock(&dev->lock);
}

/* The text the store keeps: one line per fact, names last (iSCSI names
 * hold no spaces). */
char *scsi_pr_text(const struct scsi_pr *pr)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int holder = -1;

	if (!f)
		return NULL;
	fprintf(f, "generation %" PRIu32 "\n", pr->generation);
	for (unsigned int i = 0; i < pr->n_regs; i++) {
		const struct scsi_pr_reg *r = pr->regs[i];

		if (r == pr->holder)
			holder = (int)i;
		fprintf(f, "reg %016" PRIx64 " %d %u %s %s\n", r->key,
			r->all_tg_pt, r->rel_port_id, r->initiator, r->tport);
	}
	if (pr->type)
		fprintf(f, "reservation %u %d\n", pr->type, holder);
	fprintf(f, "aptpl %d\n", pr->aptpl);
	/* Only while a RESERVE(6) is held: a record without one stays as
	 * gateways before this line wrote it, and one with it is refused
	 * by them whole (they know no such line) rather than rewritten
	 * without it. */
	if (pr->res6_initiator)
		fprintf(f, "reserve6 %s %s\n", pr->res6_initiator,
			pr->res6_tport);
	if (fclose(f))
		return NULL;
	return buf;
}

void scsi_pr_regs_clear(struct scsi_pr *pr)
{
	for (unsigned int i = 0; i < pr->n_regs; i++)
		scsi_pr_reg_free(pr->regs[i]);
	pr->n_regs = 0;
	pr->type = 0;
	pr->holder = NULL;
	free(pr->res6_initiator);
	free(pr->res6_tport);
	pr->res6_initiator = pr->res6_tport = NULL;
}

static int scsi_pr_parse_res6(struct scsi_pr *pr, const char *line)
{
	char ini[512], tport[512];

	if (sscanf(line, "reserve6 %511s %511s", ini, tport) != 2 ||
	    pr->res6_initiator)
		return -EBADMSG;
	pr->res6_initiator = strdup(ini);
	pr->res6_tport = strdup(tport);
	return pr->res6_initiator && pr->res6_tport ? 0 : -ENOMEM;
}

static int scsi_pr_parse_reg(struct scsi_pr *pr, const char *line)
{
	char ini[512], tport[512];
	unsigned int all, rel;
	uint64_t key;
	struct scsi_pr_reg *r;

	if (sscanf(line, "reg %" SCNx64 " %u %u %511s %511s", &key, &all, &rel,
		   ini, tport) != 5 ||
	    pr->n_regs == SCSI_PR_MAX_REGS)
		return -EBADMSG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->key = key;
	r->all_tg_pt = all;
	r->rel_port_id = (uint16_t)rel;
	r->initiator = strdup(ini);
	r->tport = strdup(tport);
	if (!r->initiator || !r->tport) {
		scsi_pr_reg_free(r);
		return -ENOMEM;
	}
	pr->regs[pr->n_regs++] = r;
	return 0;
}

int scsi_pr_parse(struct scsi_pr *pr, const char *text)
{
	const char *line = text;
	int ret = 0, holder;
	unsigned int type;

	scsi_pr_regs_clear(pr);
	pr->aptpl = false;
	while (ret == 0 && line && *line) {
		if (!strncmp(line, "generation ", 11))
			ret = sscanf(line, "generation %" SCNu32,
				     &pr->generation) == 1
				      ? 0
				      : -EBADMSG;
		else if (!strncmp(line, "reg ", 4))
			ret = scsi_pr_parse_reg(pr, line);
		else if (!strncmp(line, "aptpl ", 6))
			pr->aptpl = line[6] == '1';
		else if (!strncmp(line, "reserve6 ", 9))
			ret = scsi_pr_parse_res6(pr, line);
		else if (sscanf(line, "reservation %u %d", &type, &holder) ==
				 2 &&
			 type >= 1 && type <= 8 && holder < (int)pr->n_regs) {
			pr->type = (uint8_t)type;
			pr->holder = holder >= 0 ? pr->regs[holder] : NULL;
		} else
			ret = -EBADMSG;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (ret < 0)
		scsi_pr_regs_clear(pr);
	scsi_pr_sync_flags(pr);
	return ret;
}

int scsi_pr_load(struct scsi_pr *pr)
{
	char *text = NULL;
	uint64_t version;
	int ret;

	if (pr->loaded)
		return 0;
	if (pr->shared)
		return scsi_pr_load_shared(pr);
	if (!scsi_pr_store.ops)
		return 0;
	ret = scsi_pr_store.ops->load(scsi_pr_store.ctx, pr->dev_id, &text,
				      &version);
	if (ret == -ENOENT) {
		pr->loaded = true;
		return 0;
	}
	if (ret == 0)
		ret = scsi_pr_parse(pr, text);
	free(text);
	if (ret < 0) {
		log_error("scsi: %s: cannot restore the persistent "
			  "reservations: %s",
			  pr->dev_id, strerror(-ret));
		return ret;
	}
	pr->loaded = true;
	pr->aptpl = true;
	pr->version = version;
	log_info("scsi: %s: restored %u registrations%s (APTPL)", pr->dev_id,
		 pr->n_regs, pr->type ? " and a reservation" : "");
	return 0;
}

int scsi_pr_persist(struct scsi_pr *pr, bool was_aptpl)
{
	char *text = NULL;
	int ret;

	if (pr->shared)
		return scsi_pr_save_shared(pr);
	if (!pr->aptpl && !was_aptpl)
		return 0;
	if (!scsi_pr_store.ops)
		return pr->aptpl ? -ENOTSUP : 0;
	if (pr->aptpl && !(text = scsi_pr_text(pr)))
		return -ENOMEM;
	ret = scsi_pr_store.ops->save(scsi_pr_store.ctx, pr->dev_id, text,
				      pr->version);
	free(text);
	if (ret < 0) {
		log_error("scsi: %s: cannot save the persistent reservations: "
			  "%s",
			  pr->dev_id, strerror(-ret));
		return ret;
	}
	pr->version = pr->aptpl ? pr->version + 1 : 0;
	return 0;
}

/* The operators' view. */

static int scsi_pr_info_res6(struct scsi_pr_info *info, const char *initiator,
			     const char *tport)
{
	info->res6_initiator = strdup(initiator);
	info->res6_tport = strdup(tport);
	return info->res6_initiator && info->res6_tport ? 0 : -ENOMEM;
}

/* The RESERVE(6) holder as this gateway mirrors it (scsi_dev.reserved),
 * when it is a nexus of ours: read under the device's lock, which a
 * nexus takes to let go of it before it ends. */
static int scsi_pr_info_res6_local(const struct conn_export *exp,
				   struct scsi_pr_info *info)
{
	struct scsi_dev *dev = scsi_dev_lookup(exp->desc, exp->dev_index);
	const struct scsi_nexus *n;
	char tport[512];
	int ret = 0;

	if (!dev)
		return 0;
	pthread_mutex_lock(&dev->lock);
	n = dev->reserved;
	if (n && n != &scsi_res6_elsewhere) {
		scsi_pr_nexus_tport(n, tport, sizeof(tport));
		ret = scsi_pr_info_res6(info, n->initiator, tport);
	}
	pthread_mutex_unlock(&dev->lock);
	scsi_dev_put(dev);
	return ret;
}

int scsi_pr_info_get(const struct conn_export *exp, struct scsi_pr_info *info)
{
	struct iop_session *session;
	char id[512];
	struct scsi_pr *pr;
	int ret;

	memset(info, 0, sizeof(*info));
	scsi_pr_dev_id(exp, id, sizeof(id));
	pr = scsi_pr_get(id);
	if (!pr)
		return -ENOMEM;
	session = scsi_pr_mgmt_attach(exp, pr);
	pthread_mutex_lock(&pr->lock);
	ret = scsi_pr_load(pr);
	info->generation = pr->generation;
	info->type = pr->type;
	info->aptpl = pr->aptpl;
	info->regs = calloc(pr->n_regs + 1, sizeof(*info->regs));
	if (!info->regs)
		ret = -ENOMEM;
	for (unsigned int i = 0; ret == 0 && i < pr->n_regs; i++) {
		const struct scsi_pr_reg *r = pr->regs[i];
		struct scsi_pr_info_reg *o = &info->regs[i];

		o->key = r->key;
		o->rel_port_id = r->rel_port_id;
		o->all_tg_pt = r->all_tg_pt;
		o->holder = scsi_pr_is_holder(pr, r);
		o->initiator = strdup(r->initiator);
		o->tport = strdup(r->tport);
		info->n_regs++;
		if (!o->initiator || !o->tport)
			ret = -ENOMEM;
	}
	if (ret == 0 && pr->res6_initiator)
		ret = scsi_pr_info_res6(info, pr->res6_initiator,
					pr->res6_tport);
	pthread_mutex_unlock(&pr->lock);
	scsi_pr_mgmt_detach(exp, pr, session);
	scsi_pr_put(pr);
	/* A device no other gateway shares keeps its holder here only. */
	if (ret == 0 && !info->res6_initiator)
		ret = scsi_pr_info_res6_local(exp, info);
	if (ret < 0)
		scsi_pr_info_free(info);
	return ret;
}

void scsi_pr_info_free(struct scsi_pr_info *info)
{
	for (unsigned int i = 0; info->regs && i < info->n_regs; i++) {
		free(info->regs[i].initiator);
		free(info->regs[i].tport);
	}
	free(info->regs);
	info->regs = NULL;
	info->n_regs = 0;
	free(info->res6_initiator);
	free(info->res6_tport);
	info->res6_initiator = info->res6_tport = NULL;
}

/* Like a PERSISTENT RESERVE OUT with CLEAR from nobody: every registrant
 * learns that its reservation was preempted. */
int scsi_pr_clear_export(const struct conn_export *exp)
{
	struct iop_session *session;
	char id[512];
	struct scsi_pr *pr;
	struct scsi_dev *dev;
	bool shared;
	int ret;

	scsi_pr_dev_id(exp, id, sizeof(id));
	pr = scsi_pr_get(id);
	if (!pr)
		return -ENOMEM;
	session = scsi_pr_mgmt_attach(exp, pr);
	dev = scsi_dev_lookup(exp->desc, exp->dev_index);
	pthread_mutex_lock(&pr->lock);
	if (pr->shared)
		pr->loaded = false; /* the other gateways' last word */
	ret = scsi_pr_load(pr);
	if (ret == 0) {
		bool was_aptpl = pr->aptpl;

		for (unsigned int i = 0; i < pr->n_regs; i++)
			pr->regs[i]->ua = SCSI_ASC_RESERVATIONS_PREEMPTED;
		scsi_pr_raise(dev, pr->regs, pr->n_regs);
		scsi_pr_regs_clear(pr); /* a RESERVE(6) holder too */
		pr->generation++;
		pr->aptpl = false;
		scsi_pr_sync_flags(pr);
		ret = scsi_pr_persist(pr, was_aptpl);
		if (ret == 0)
			scsi_pr_res6_apply(pr, dev);
	}
	/* Counted as hearing, the device stays attached (and open) while
	 * the other gateways are told. */
	shared = ret == 0 && pr->shared;
	if (shared)
		pr->hearing++;
	pthread_mutex_unlock(&pr->lock);
	if (shared) {
		scsi_pr_tell(pr, "iopd-pr 0\n");
		pthread_mutex_lock(&pr->lock);
		if (--pr->hearing == 0)
			pthread_cond_broadcast(&pr->heard);
		pthread_mutex_unlock(&pr->lock);
	}
	if (dev)
		scsi_dev_put(dev);
	scsi_pr_mgmt_detach(exp, pr, session);
	scsi_pr_put(pr);
	if (ret == 0)
		log_info("scsi: %s: persistent reservations cleared by the "
			 "operator",
			 id);
	return ret;
}
