// SPDX-License-Identifier: MIT
/*
 * RESERVE(6) and RELEASE(6) (SPC-2 7.21, 7.17) on a device several
 * gateways export: the holder is kept in the shared persistent
 * reservation record (a "reserve6 INITIATOR TPORT" line naming the I_T
 * nexus as a registration names it), so that a reservation taken through
 * one gateway binds on all of them.
 *
 * Each command runs like a PR OUT (scsi_pr_out.c): on a thread of its
 * own, on a scratch copy of the record, saved only if nobody changed it
 * meanwhile (else it runs again), then the other gateways reread it and
 * acknowledge before the command completes.  Each gateway mirrors the
 * record's holder in scsi_dev.reserved, which every command's conflict
 * check reads as for a device no other gateway shares: the nexus here it
 * names, or scsi_res6_elsewhere when it names a nexus of another gateway.
 *
 * The holder goes when its nexus ends (the gateway it was on takes it
 * out of the record before the logout is answered), when the logical
 * unit is reset (the gateway that took the reset takes it out, then
 * tells the others; scsi_pr_shared.c), on a target reset through its
 * gateway, and when the operator clears the reservations.  A gateway
 * that starts (or whose last session on the device had ended) finds no
 * nexus of its own on the device: a holder naming the target port its
 * first session comes through is one it lost (it restarted, or could not
 * save the end of the nexus), and SPC-2 reservations do not survive
 * power-on, so it takes it out before that session goes on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

/* Never a nexus of this process: nothing it holds matches a command. */
const struct scsi_nexus scsi_res6_elsewhere;

bool scsi_pr_res6_is(const struct scsi_pr *pr, const struct scsi_lu *lu)
{
	char tport[512];

	if (!pr->res6_initiator)
		return false;
	scsi_pr_tport(lu, tport, sizeof(tport));
	return !strcasecmp(pr->res6_initiator, lu->nexus->initiator) &&
	       !strcmp(pr->res6_tport, tport);
}

void scsi_pr_res6_apply(struct scsi_pr *pr, struct scsi_dev *dev)
{
	const struct scsi_nexus *holder = NULL;

	if (!dev || !pr->shared)
		return;
	pthread_mutex_lock(&dev->lock);
	if (pr->res6_initiator) {
		holder = &scsi_res6_elsewhere;
		for (struct scsi_lu *lu = dev->lus; lu; lu = lu->dev_next)
			if (scsi_pr_res6_is(pr, lu)) {
				holder = lu->nexus;
				break;
			}
	}
	atomic_store(&dev->reserved, holder);
	pthread_mutex_unlock(&dev->lock);
}

void scsi_pr_res6_sync(struct scsi_dev *dev)
{
	pthread_mutex_lock(&dev->pr->lock);
	scsi_pr_res6_apply(dev->pr, dev);
	pthread_mutex_unlock(&dev->pr->lock);
}

/* A read or changed record becomes this gateway's (unless a later one
 * already did), and scsi_dev.reserved follows it. */
static void res6_install(struct scsi_pr *pr, struct scsi_pr *tmp)
{
	struct scsi_dev *dev;

	pthread_mutex_lock(&pr->lock);
	scsi_pr_install(pr, tmp);
	dev = scsi_dev_lookup(pr->desc, pr->dev_index);
	scsi_pr_res6_apply(pr, dev);
	pthread_mutex_unlock(&pr->lock);
	if (dev)
		scsi_dev_put(dev);
}

/* What the command does to the scratch record: -EBUSY (conflict), 0
 * (nothing to save), 1 (save it), -errno. */
static int res6_change(struct scsi_pr *tmp, struct scsi_lu *lu, bool reserve)
{
	bool mine = scsi_pr_res6_is(tmp, lu);
	char tport[512];
	int ret = scsi_pr_reserve6_rule(tmp, lu, reserve);

	if (ret)
		return ret < 0 ? ret : 0;
	if (!reserve) {
		/* SPC-2 7.17: releasing another's reservation is a no-op */
		if (!mine)
			return 0;
		free(tmp->res6_initiator);
		free(tmp->res6_tport);
		tmp->res6_initiator = tmp->res6_tport = NULL;
		return 1;
	}
	if (mine)
		return 0;
	if (tmp->res6_initiator)
		return -EBUSY;
	scsi_pr_tport(lu, tport, sizeof(tport));
	tmp->res6_initiator = strdup(lu->nexus->initiator);
	tmp->res6_tport = strdup(tport);
	return tmp->res6_initiator && tmp->res6_tport ? 1 : -ENOMEM;
}

/* The command on the record until it sticks: -EBUSY, 0 (unchanged), 1
 * (changed: tell the others), -errno (cannot read or save it). */
static int res6_run(struct scsi_pr *pr, struct scsi_lu *lu, bool reserve)
{
	for (unsigned int tries = 0; tries <= 16; tries++) {
		struct scsi_pr *tmp = scsi_pr_scratch(pr);
		int ret = tmp ? scsi_pr_load_shared(tmp) : -ENOMEM;

		if (ret == 0)
			ret = res6_change(tmp, lu, reserve);
		if (ret == 1) {
			ret = scsi_pr_save_shared(tmp);
			ret = ret == 0 ? 1 : ret;
		}
		if (ret >= 0 || ret == -EBUSY)
			res6_install(pr, tmp);
		scsi_pr_scratch_free(tmp);
		if (ret != -ESTALE)
			return ret;
	}
	log_error("scsi: %s: the shared reservations keep changing under "
		  "this gateway",
		  pr->dev_id);
	return -EAGAIN;
}

struct res6_cmd {
	struct scsi_lu *lu;
	struct scsi_cmd *cmd;
	bool reserve;
};

static void res6_finish(void *arg)
{
	struct res6_cmd *c = arg;
	struct scsi_lu *lu = c->lu;
	struct scsi_cmd *cmd = c->cmd;

	free(c);
	scsi_lu_cmd_end(lu);
	cmd->done(cmd);
}

/* The command's thread.  A record that cannot be read or saved fails it
 * rather than let the gateways disagree on the holder. */
static void *res6_cmd_run(void *arg)
{
	struct res6_cmd *c = arg;
	struct scsi_pr *pr = c->lu->dev->pr;
	int ret;

	pthread_mutex_lock(&pr->out_lock);
	ret = res6_run(pr, c->lu, c->reserve);
	pthread_mutex_unlock(&pr->out_lock);
	if (ret == -EBUSY) {
		c->cmd->status = SCSI_STATUS_RESERVATION_CONFLICT;
	} else if (ret < 0) {
		log_error("scsi: %s: %s(6) fails: the shared reservations "
			  "cannot be updated: %s",
			  pr->dev_id, c->reserve ? "RESERVE" : "RELEASE",
			  strerror(-ret));
		scsi_lu_sense(c->lu, c->cmd, SCSI_SK_HARDWARE_ERROR,
			      SCSI_ASC_INTERNAL_TARGET_FAILURE);
	} else if (ret == 1) {
		/* Saved: the others conflict (or not) from their ack on;
		 * one that does not answer rereads at its next change. */
		scsi_pr_tell(pr, "iopd-pr 0\n");
	}
	if (base_loop_post(c->lu->nexus->loop, res6_finish, c) < 0)
		log_error("scsi: %s: RESERVE/RELEASE(6) cannot complete: out "
			  "of memory",
			  pr->dev_id);
	return NULL;
}

int scsi_pr_res6_cmd(struct scsi_lu *lu, struct scsi_cmd *cmd, bool reserve)
{
	struct scsi_pr *pr = lu->dev->pr;
	struct res6_cmd *c;
	bool shared;

	shared = scsi_pr_is_shared(pr);
	if (!shared)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c) {
		scsi_sense_from_errno(cmd, lu->d_sense, -ENOMEM, false);
		return 0;
	}
	c->lu = lu;
	c->cmd = cmd;
	c->reserve = reserve;
	if (scsi_pr_thread(res6_cmd_run, c) < 0)
		res6_cmd_run(c); /* here, then, blocking this worker */
	return 1;
}

/* Take the holder out of the scratch record if it is the one named:
 * 1 if it was. */
static int res6_take_out(struct scsi_pr *tmp, const char *initiator,
			 const char *tport)
{
	if (!tmp->res6_initiator ||
	    (initiator && (strcasecmp(tmp->res6_initiator, initiator) ||
			   strcmp(tmp->res6_tport, tport))))
		return 0;
	free(tmp->res6_initiator);
	free(tmp->res6_tport);
	tmp->res6_initiator = tmp->res6_tport = NULL;
	return 1;
}

int scsi_pr_res6_clear(struct scsi_pr *pr, const char *initiator,
		       const char *tport)
{
	int ret = -ESTALE;

	pthread_mutex_lock(&pr->out_lock);
	for (unsigned int tries = 0; tries <= 16 && ret == -ESTALE; tries++) {
		struct scsi_pr *tmp = scsi_pr_scratch(pr);

		ret = tmp ? scsi_pr_load_shared(tmp) : -ENOMEM;
		if (ret == 0)
			ret = res6_take_out(tmp, initiator, tport);
		if (ret == 1) {
			ret = scsi_pr_save_shared(tmp);
			ret = ret == 0 ? 1 : ret;
		}
		if (ret >= 0)
			res6_install(pr, tmp);
		scsi_pr_scratch_free(tmp);
	}
	pthread_mutex_unlock(&pr->out_lock);
	if (ret < 0)
		log_error("scsi: %s: a RESERVE(6) reservation cannot be "
			  "released in the shared record: %s",
			  pr->dev_id, strerror(-ret));
	return ret;
}

struct res6_drop {
	struct scsi_pr *pr;
	char *initiator, *tport;
	/* A waiter (wait in scsi_pr_res6_drop) and the thread each hold a
	 * reference; done is set, under pr->lock, when the drop ended. */
	unsigned int refs;
	bool done;
	pthread_cond_t ended;
};

/* The longest a worker waits for a drop it asked to wait for: a cluster
 * that does not answer must not hang the worker's other connections. */
#define RES6_DROP_WAIT_SECONDS 5

static void res6_drop_put(struct res6_drop *d)
{
	struct scsi_pr *pr = d->pr;
	bool last;

	pthread_mutex_lock(&pr->lock);
	last = --d->refs == 0;
	pthread_mutex_unlock(&pr->lock);
	if (!last)
		return;
	pthread_cond_destroy(&d->ended);
	free(d->initiator);
	free(d->tport);
	free(d);
}

static void res6_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

static void *res6_drop_run(void *arg)
{
	struct res6_drop *d = arg;
	struct scsi_pr *pr = d->pr;

	if (scsi_pr_res6_clear(pr, d->initiator, d->tport) == 1)
		scsi_pr_tell(pr, "iopd-pr 0\n");
	pthread_mutex_lock(&pr->lock);
	d->done = true;
	pthread_cond_broadcast(&d->ended);
	pthread_mutex_unlock(&pr->lock);
	return NULL;
}

/* The thread form counts as hearing: pr stays attached until it ends. */
static void *res6_drop_thread(void *arg)
{
	struct scsi_pr *pr = ((struct res6_drop *)arg)->pr;

	res6_drop_run(arg);
	res6_drop_put(arg);
	pthread_mutex_lock(&pr->lock);
	if (--pr->hearing == 0)
		pthread_cond_broadcast(&pr->heard);
	pthread_mutex_unlock(&pr->lock);
	return NULL;
}

/* Wait for d's thread, at most RES6_DROP_WAIT_SECONDS: past that the
 * logout (or login) goes on and the record is updated behind it. */
static void res6_drop_wait(struct res6_drop *d)
{
	struct scsi_pr *pr = d->pr;
	struct timespec until;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += RES6_DROP_WAIT_SECONDS;
	pthread_mutex_lock(&pr->lock);
	while (!d->done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&d->ended, &pr->lock, &until);
	pthread_mutex_unlock(&pr->lock);
	if (ret == ETIMEDOUT)
		log_error("scsi: %s: the shared record does not answer within "
			  "%d s: the RESERVE(6) reservation is released "
			  "behind this logout",
			  pr->dev_id, RES6_DROP_WAIT_SECONDS);
	res6_drop_put(d);
}

void scsi_pr_res6_drop(struct scsi_pr *pr, const char *initiator,
		       const char *tport, bool wait)
{
	struct res6_drop *d = calloc(1, sizeof(*d));

	if (!d || (initiator && (!(d->initiator = strdup(initiator)) ||
				 !(d->tport = strdup(tport))))) {
		log_error("scsi: %s: a RESERVE(6) reservation stays in the "
			  "shared record: out of memory",
			  pr->dev_id);
		if (d) {
			free(d->initiator);
			free(d);
		}
		return;
	}
	d->pr = pr;
	d->refs = wait ? 2 : 1;
	res6_cond_init(&d->ended);
	pthread_mutex_lock(&pr->lock);
	pr->hearing++;
	pthread_mutex_unlock(&pr->lock);
	if (scsi_pr_thread(res6_drop_thread, d) < 0)
		res6_drop_thread(d); /* here, then */
	if (wait)
		res6_drop_wait(d);
}
