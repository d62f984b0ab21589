// SPDX-License-Identifier: MIT
/*
 * Persistent reservations kept in the storage itself, for devices that
 * several gateways export (an RBD image; the DDM's ddm_shared_ops): the
 * reservations taken through one gateway bind on all of them.
 *
 * Each gateway keeps its copy of the state in memory, which every
 * command's conflict check reads as before (no cluster round trip on the
 * I/O path).  A PR OUT rereads the shared record, runs on it, and saves
 * it only if nobody changed it meanwhile (the record's version: a
 * compare-and-swap in the storage); if somebody did, it runs again on the
 * new record.  Then it tells the other gateways, and completes only once
 * each has reread the record, raised the unit attentions the command
 * carries on its own nexuses, and, for PREEMPT AND ABORT, fenced the
 * preempted nexuses: no new command of theirs gets through, and those
 * already in storage have completed.  A PR OUT whose state cannot be
 * read or saved fails (INSUFFICIENT REGISTRATION RESOURCES): the gateways
 * never diverge.
 *
 * A LOGICAL UNIT RESET goes over the same channel: the logical unit is
 * the image, so each gateway does on its own nexuses what the reset does
 * on those of the gateway it came through (scsi_dev_lu_reset: the unit
 * attention, RESERVE(6) released), and the reset completes once they
 * have.  Commands running on the other gateways' nexuses are not waited
 * for, as on this one's other sessions: storage requests cannot be
 * recalled, and the unit attention tells each initiator of the reset.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

/* Serialises attach and detach (which block on the DDM), so that a
 * device's last logical unit leaving and a new one arriving keep the
 * count right. */
static pthread_mutex_t scsi_pr_attach_lock = PTHREAD_MUTEX_INITIALIZER;

/* One notification being acted upon, on a thread of its own (so the
 * DDM's callback thread never waits for storage). */
struct scsi_pr_heard {
	struct scsi_pr *pr;
	uint64_t id;
	char *msg;
};

int scsi_pr_load_shared(struct scsi_pr *pr)
{
	const struct ddm_shared_ops *sh = pr->shared->ops->shared;
	char *text = NULL;
	uint64_t version = 0;
	int ret = sh->get(pr->shared, &text, &version);

	if (ret == -ENOENT) {
		ret = scsi_pr_parse(pr, "");
		version = 0;
	} else if (ret == 0) {
		ret = scsi_pr_parse(pr, text);
	}
	free(text);
	if (ret < 0) {
		log_error("scsi: %s: cannot read the shared persistent "
			  "reservations: %s",
			  pr->dev_id, strerror(-ret));
		return ret;
	}
	pr->version = version;
	pr->loaded = true;
	return 0;
}

int scsi_pr_save_shared(struct scsi_pr *pr)
{
	const struct ddm_shared_ops *sh = pr->shared->ops->shared;
	char *text = scsi_pr_text(pr);
	int ret;

	if (!text)
		return -ENOMEM;
	ret = sh->set(pr->shared, text, pr->version);
	free(text);
	if (ret == 0)
		pr->version++;
	else if (ret != -ESTALE)
		log_error("scsi: %s: cannot save the shared persistent "
			  "reservations: %s",
			  pr->dev_id, strerror(-ret));
	return ret;
}

struct scsi_pr *scsi_pr_scratch(struct scsi_pr *pr)
{
	struct scsi_pr *tmp = calloc(1, sizeof(*tmp));

	if (tmp) {
		tmp->dev_id = pr->dev_id; /* borrowed, for messages */
		tmp->shared = pr->shared;
	}
	return tmp;
}

void scsi_pr_scratch_free(struct scsi_pr *tmp)
{
	if (!tmp)
		return;
	scsi_pr_regs_clear(tmp);
	free(tmp);
}

#define SWAP_PTR(a, b)                                                         \
	do {                                                                   \
		char *t_ = (a);                                                \
		(a) = (b);                                                     \
		(b) = t_;                                                      \
	} while (0)

bool scsi_pr_install(struct scsi_pr *pr, struct scsi_pr *tmp)
{
	struct scsi_pr_reg *old[SCSI_PR_MAX_REGS];
	unsigned int n = pr->n_regs;

	/* Another thread may have installed a later version meanwhile. */
	if (pr->loaded && tmp->version <= pr->version)
		return false;
	memcpy(old, pr->regs, n * sizeof(old[0]));
	memcpy(pr->regs, tmp->regs, tmp->n_regs * sizeof(old[0]));
	pr->n_regs = tmp->n_regs;
	pr->holder = tmp->holder;
	pr->type = tmp->type;
	pr->generation = tmp->generation;
	pr->aptpl = tmp->aptpl;
	pr->version = tmp->version;
	pr->loaded = true;
	memcpy(tmp->regs, old, n * sizeof(old[0]));
	tmp->n_regs = n;
	tmp->holder = NULL;
	tmp->type = 0;
	SWAP_PTR(pr->res6_initiator, tmp->res6_initiator);
	SWAP_PTR(pr->res6_tport, tmp->res6_tport);
	scsi_pr_sync_flags(pr);
	return true;
}

int scsi_pr_refresh(struct scsi_pr *pr)
{
	struct scsi_pr *tmp = scsi_pr_scratch(pr);
	int ret = tmp ? scsi_pr_load_shared(tmp) : -ENOMEM;

	if (ret == 0) {
		pthread_mutex_lock(&pr->lock);
		scsi_pr_install(pr, tmp);
		pthread_mutex_unlock(&pr->lock);
	}
	scsi_pr_scratch_free(tmp);
	return ret;
}

int scsi_pr_tell(struct scsi_pr *pr, const char *note)
{
	const struct ddm_shared_ops *sh = pr->shared->ops->shared;
	int ret = sh->notify(pr->shared, note, strlen(note), SCSI_PR_NOTIFY_MS);

	if (ret < 0)
		log_error("scsi: %s: the other gateways did not all hear of "
			  "a persistent reservation change: %s",
			  pr->dev_id, strerror(-ret));
	return ret;
}

/* One "ua"/"abort" line of a note as a registration (to match nexuses
 * with), or NULL. */
static struct scsi_pr_reg *scsi_pr_note_reg(const char *line, bool *abort)
{
	char what[8], ini[512], tport[512];
	unsigned int ua;
	int all;
	struct scsi_pr_reg *r;

	if (sscanf(line, "%7s %x %d %511s %511s", what, &ua, &all, ini,
		   tport) != 5 ||
	    (strcmp(what, "ua") && strcmp(what, "abort")))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->initiator = strdup(ini);
	r->tport = strdup(tport);
	r->all_tg_pt = all;
	*abort = !strcmp(what, "abort");
	r->ua = *abort ? 0 : (uint16_t)ua;
	if (!r->initiator || !r->tport) {
		scsi_pr_reg_free(r);
		return NULL;
	}
	return r;
}

/* Split a note into the registrations whose nexuses get a unit
 * attention (ua) and those to fence (ab); -ENOMEM. */
static int scsi_pr_note_split(const char *msg, struct scsi_pr_reg **ua,
			      unsigned int *n_ua, struct scsi_pr_reg **ab,
			      unsigned int *n_ab)
{
	for (const char *l = msg; l && *l;) {
		bool abort = false;
		struct scsi_pr_reg *r = scsi_pr_note_reg(l, &abort);

		if (r && abort && *n_ab < SCSI_PR_MAX_REGS)
			ab[(*n_ab)++] = r;
		else if (r && !abort && *n_ua < SCSI_PR_MAX_REGS * 2)
			ua[(*n_ua)++] = r;
		else
			scsi_pr_reg_free(r);
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return 0;
}

/* Reread the state, raise the note's unit attentions on this gateway's
 * nexuses and fence its aborted ones: the fence to wait on, or NULL.
 * *devp: the device's shared state, if a nexus has it (to put). */
static struct scsi_pr_fence *scsi_pr_act(struct scsi_pr *pr, const char *msg,
					 struct scsi_dev **devp)
{
	struct scsi_pr_reg **regs = calloc(SCSI_PR_MAX_REGS * 3, sizeof(*regs));
	struct scsi_pr_reg **ab = regs + SCSI_PR_MAX_REGS * 2;
	struct scsi_pr_fence *fence = NULL;
	unsigned int n_ua = 0, n_ab = 0;
	struct scsi_dev *dev;

	if (scsi_pr_refresh(pr) < 0)
		log_error("scsi: %s: conflicts are checked against the "
			  "reservations last read",
			  pr->dev_id);
	pthread_mutex_lock(&pr->lock);
	if (regs && msg)
		scsi_pr_note_split(msg, regs, &n_ua, ab, &n_ab);
	dev = scsi_dev_lookup(pr->desc, pr->dev_index);
	scsi_pr_res6_apply(pr, dev);
	scsi_pr_raise(dev, regs, n_ua);
	if (dev && n_ab)
		fence = scsi_pr_fence_start(dev, NULL, ab, n_ab, NULL, NULL);
	pthread_mutex_unlock(&pr->lock);
	for (unsigned int i = 0; i < n_ua; i++)
		scsi_pr_reg_free(regs[i]);
	for (unsigned int i = 0; i < n_ab; i++)
		scsi_pr_reg_free(ab[i]);
	free(regs);
	*devp = dev;
	return fence;
}

enum scsi_pr_note_kind scsi_pr_note_kind(const char *msg)
{
	size_t n = strlen(SCSI_PR_NOTE_RESET_TEXT);

	if (msg && !strncmp(msg, SCSI_PR_NOTE_RESET_TEXT, n - 1) &&
	    (msg[n - 1] == '\n' || msg[n - 1] == '\0'))
		return SCSI_PR_NOTE_RESET;
	return SCSI_PR_NOTE_PR;
}

/* Another gateway reset the logical unit: so does this one, on its own
 * nexuses.  *devp: the device's shared state, if a nexus has it. */
static void scsi_pr_reset_heard(struct scsi_pr *pr, struct scsi_dev **devp)
{
	struct scsi_dev *dev;

	pthread_mutex_lock(&pr->lock);
	dev = scsi_dev_lookup(pr->desc, pr->dev_index);
	pthread_mutex_unlock(&pr->lock);
	if (dev)
		scsi_dev_lu_reset(dev);
	/* The gateway that took the reset released RESERVE(6) in the
	 * record before telling: read it again, or the old holder would
	 * come back at the next scsi_pr_res6_apply. */
	if (scsi_pr_refresh(pr) < 0)
		log_error("scsi: %s: RESERVE(6) is checked against the record "
			  "last read",
			  pr->dev_id);
	pthread_mutex_lock(&pr->lock);
	scsi_pr_res6_apply(pr, dev);
	pthread_mutex_unlock(&pr->lock);
	log_info("scsi: %s: logical unit reset through another gateway",
		 pr->dev_id);
	*devp = dev;
}

/* A notification's thread: act, wait for the fence, answer.  The
 * device's reference goes last: dropping it may detach pr, which waits
 * for this thread's hearing to end. */
static void *scsi_pr_hear(void *arg)
{
	struct scsi_pr_heard *h = arg;
	struct scsi_pr *pr = h->pr;
	struct scsi_dev *dev = NULL;
	struct scsi_pr_fence *fence = NULL;

	if (scsi_pr_note_kind(h->msg) == SCSI_PR_NOTE_RESET)
		scsi_pr_reset_heard(pr, &dev);
	else
		fence = scsi_pr_act(pr, h->msg, &dev);

	if (fence)
		scsi_pr_fence_wait(fence);
	pr->shared->ops->shared->ack(pr->shared, h->id);
	pthread_mutex_lock(&pr->lock);
	if (--pr->hearing == 0)
		pthread_cond_broadcast(&pr->heard);
	pthread_mutex_unlock(&pr->lock);
	if (dev)
		scsi_dev_put(dev);
	free(h->msg);
	free(h);
	return NULL;
}

bool scsi_pr_is_shared(struct scsi_pr *pr)
{
	bool shared;

	pthread_mutex_lock(&pr->lock);
	shared = pr->shared;
	pthread_mutex_unlock(&pr->lock);
	return shared;
}

int scsi_pr_thread(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int ret;

	/* iopd takes its signals through a signalfd: none for this one */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&tid, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ret;
}

/* A LOGICAL UNIT RESET being told to the other gateways. */
struct scsi_pr_reset {
	struct scsi_pr *pr;
	struct base_loop *loop;
	void (*done)(void *arg, int result);
	void *arg;
};

static void scsi_pr_reset_done(void *arg)
{
	struct scsi_pr_reset *r = arg;

	r->done(r->arg, 0);
	free(r);
}

/* The reset's thread: notify, wait for the acks, complete on the
 * nexus' loop.  A gateway that does not answer in time is logged, and
 * the reset still completes: it did happen here, and the others got
 * the message if they can hear at all. */
static void *scsi_pr_reset_run(void *arg)
{
	struct scsi_pr_reset *r = arg;
	struct scsi_pr *pr = r->pr;
	const struct ddm_shared_ops *sh = pr->shared->ops->shared;
	int ret;

	/* The reset releases RESERVE(6): this gateway, the one that took
	 * it, takes the holder out of the record, once, and the others
	 * read it again when they hear of the reset. */
	scsi_pr_res6_clear(pr, NULL, NULL);
	ret = sh->notify(pr->shared, SCSI_PR_NOTE_RESET_TEXT,
			 strlen(SCSI_PR_NOTE_RESET_TEXT), SCSI_PR_NOTIFY_MS);
	if (ret < 0)
		log_error("scsi: %s: the other gateways did not all hear of "
			  "a logical unit reset: %s",
			  pr->dev_id, strerror(-ret));
	if (base_loop_post(r->loop, scsi_pr_reset_done, r) < 0)
		log_error("scsi: %s: LOGICAL UNIT RESET cannot complete: out "
			  "of memory",
			  pr->dev_id);
	return NULL;
}

int scsi_pr_tell_reset(struct scsi_lu *lu, void (*done)(void *, int), void *arg)
{
	struct scsi_pr *pr = lu->dev->pr;
	struct scsi_pr_reset *r;
	bool shared;
	int ret;

	shared = scsi_pr_is_shared(pr);
	if (!shared)
		return 0;
	r = calloc(1, sizeof(*r));
	ret = r ? 0 : -ENOMEM;
	if (r) {
		r->pr = pr;
		r->loop = lu->nexus->loop;
		r->done = done;
		r->arg = arg;
		ret = scsi_pr_thread(scsi_pr_reset_run, r);
	}
	if (ret == 0)
		return 1;
	free(r);
	log_error("scsi: %s: the other gateways are not told of a logical "
		  "unit reset: %s",
		  pr->dev_id, strerror(-ret));
	return 0;
}

/* The DDM's callback: hand the notification to a thread of its own. */
static void scsi_pr_notified(void *arg, uint64_t id, const char *msg,
			     size_t len)
{
	struct scsi_pr *pr = arg;
	struct scsi_pr_heard *h = calloc(1, sizeof(*h));
	int ret = -ENOMEM;

	if (h && (h->msg = strndup(msg ? msg : "", len))) {
		h->pr = pr;
		h->id = id;
		pthread_mutex_lock(&pr->lock);
		pr->hearing++;
		pthread_mutex_unlock(&pr->lock);
		ret = scsi_pr_thread(scsi_pr_hear, h);
		if (ret == 0)
			return;
		pthread_mutex_lock(&pr->lock);
		if (--pr->hearing == 0)
			pthread_cond_broadcast(&pr->heard);
		pthread_mutex_unlock(&pr->lock);
	}
	log_error("scsi: %s: cannot act on another gateway's persistent "
		  "reservation change: %s",
		  pr->dev_id, strerror(-ret));
	if (h)
		free(h->msg);
	free(h);
	/* Unanswered, the other gateway's command fails rather than
	 * assume this one fenced anything. */
}

/* No nexus of this gateway has the device open (its first logical unit
 * attaches): a RESERVE(6) holder on the target port this one comes
 * through is a nexus this gateway lost, by a restart or a nexus end it
 * could not save, and SPC-2 reservations do not survive power-on. */
static void scsi_pr_res6_stale(struct scsi_pr *pr, const char *tport)
{
	char *ini = NULL;

	pthread_mutex_lock(&pr->lock);
	if (pr->res6_initiator && tport && !strcmp(pr->res6_tport, tport))
		ini = strdup(pr->res6_initiator);
	pthread_mutex_unlock(&pr->lock);
	if (!ini)
		return;
	log_info("scsi: %s: the RESERVE(6) reservation of %s through %s "
		 "ended with this gateway's nexus (a restart): released",
		 pr->dev_id, ini, tport);
	scsi_pr_res6_drop(pr, ini, tport, true);
	free(ini);
}

void scsi_pr_attach(struct scsi_pr *pr, struct ddm_dev *ddm,
		    const struct iop_desc *desc, unsigned int dev_index,
		    const char *tport)
{
	int ret;

	if (!ddm)
		return;
	pthread_mutex_lock(&scsi_pr_attach_lock);
	if (pr->attached++) {
		pthread_mutex_unlock(&scsi_pr_attach_lock);
		return;
	}
	pthread_mutex_lock(&pr->lock);
	pr->shared = ddm;
	pr->loaded = false; /* whatever version the record has */
	pr->desc = desc;
	pr->dev_index = dev_index;
	pthread_mutex_unlock(&pr->lock);
	/* Watch first, then read: no change falls between the two. */
	ret = ddm->ops->shared->watch(ddm, scsi_pr_notified, pr);
	if (ret < 0)
		log_error("scsi: %s: the other gateways' reservation changes "
			  "will be seen only at this gateway's next PR OUT: %s",
			  pr->dev_id, strerror(-ret));
	scsi_pr_refresh(pr);
	log_info("scsi: %s: persistent reservations kept in the device, "
		 "shared with the other gateways (version %" PRIu64 ")",
		 pr->dev_id, pr->version);
	scsi_pr_res6_stale(pr, tport);
	pthread_mutex_unlock(&scsi_pr_attach_lock);
}

struct iop_session *scsi_pr_mgmt_attach(const struct conn_export *exp,
					struct scsi_pr *pr)
{
	const struct iop_desc_ops *ops = exp->desc->ops;
	struct iop_session *session = NULL;
	struct ddm_dev *ddm;

	if (!ops->shared_dev ||
	    ops->session_open(exp->desc, exp->dev_index, true, &session) < 0)
		return NULL;
	ddm = ops->shared_dev(session);
	if (!ddm) {
		ops->session_close(session);
		return NULL;
	}
	scsi_pr_attach(pr, ddm, exp->desc, exp->dev_index, NULL);
	return session;
}

void scsi_pr_mgmt_detach(const struct conn_export *exp, struct scsi_pr *pr,
			 struct iop_session *session)
{
	if (!session)
		return;
	scsi_pr_detach(pr);
	exp->desc->ops->session_close(session);
}

void scsi_pr_detach(struct scsi_pr *pr)
{
	struct ddm_dev *ddm = pr->shared;

	pthread_mutex_lock(&scsi_pr_attach_lock);
	if (!pr->attached || --pr->attached) {
		pthread_mutex_unlock(&scsi_pr_attach_lock);
		return;
	}
	ddm->ops->shared->unwatch(ddm);
	pthread_mutex_lock(&pr->lock);
	while (pr->hearing)
		pthread_cond_wait(&pr->heard, &pr->lock);
	pr->shared = NULL;
	pr->loaded = false;
	/* RESERVE(6) stays in the record only: a state that is not shared
	 * never names a holder (the next attach reads it again). */
	free(pr->res6_initiator);
	free(pr->res6_tport);
	pr->res6_initiator = pr->res6_tport = NULL;
	pthread_mutex_unlock(&pr->lock);
	pthread_mutex_unlock(&scsi_pr_attach_lock);
}
