// SPDX-License-Identifier: MIT
/*
 * The nexus: one I_T nexus with a logical unit per mapped LUN, each a
 * Local Transport session.  This file dispatches commands (unit
 * attentions and reservation conflicts first, then the opcode's
 * handler), owns the per-command state and its free lists, and keeps the
 * state nexuses share per device: RESERVE(6) reservations, unit
 * attentions raised by resets, and the COMPARE AND WRITE queue.  The
 * commands themselves are in scsi_spc.c and scsi_sbc.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

/* The shared per-device states, keyed by (desc, dev_index). */
static pthread_mutex_t scsi_devs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scsi_dev *scsi_devs;

static struct scsi_dev *scsi_dev_get(const struct conn_export *exp)
{
	struct scsi_dev *dev;
	char id[512];

	pthread_mutex_lock(&scsi_devs_lock);
	for (dev = scsi_devs; dev; dev = dev->next)
		if (dev->desc == exp->desc && dev->dev_index == exp->dev_index)
			break;
	if (!dev) {
		dev = calloc(1, sizeof(*dev));
		scsi_pr_dev_id(exp, id, sizeof(id));
		if (dev && !(dev->pr = scsi_pr_get(id))) {
			free(dev);
			dev = NULL;
		}
		if (dev) {
			dev->desc = exp->desc;
			dev->dev_index = exp->dev_index;
			pthread_mutex_init(&dev->lock, NULL);
			dev->next = scsi_devs;
			scsi_devs = dev;
		}
	}
	if (dev)
		dev->refs++;
	pthread_mutex_unlock(&scsi_devs_lock);
	return dev;
}

struct scsi_dev *scsi_dev_lookup(const struct iop_desc *desc,
				 unsigned int dev_index)
{
	struct scsi_dev *dev;

	pthread_mutex_lock(&scsi_devs_lock);
	for (dev = scsi_devs; dev; dev = dev->next)
		if (dev->desc == desc && dev->dev_index == dev_index)
			break;
	if (dev)
		dev->refs++;
	pthread_mutex_unlock(&scsi_devs_lock);
	return dev;
}

void scsi_dev_put(struct scsi_dev *dev)
{
	struct scsi_dev **pp;

	pthread_mutex_lock(&scsi_devs_lock);
	if (--dev->refs) {
		pthread_mutex_unlock(&scsi_devs_lock);
		return;
	}
	for (pp = &scsi_devs; *pp != dev; pp = &(*pp)->next)
		;
	*pp = dev->next;
	pthread_mutex_unlock(&scsi_devs_lock);
	scsi_pr_put(dev->pr);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

static unsigned int scsi_log2(uint32_t v)
{
	unsigned int n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static int scsi_lu_open(struct scsi_nexus *nexus, struct scsi_lu *lu,
			const struct scsi_lun_map *map)
{
	const struct conn_export *exp = map->export;
	const struct iop_desc_ops *ops = exp->desc->ops;
	char tport[512];
	uint32_t bs, max;
	int ret;

	lu->nexus = nexus;
	lu->map = map;
	ret = ops->session_open(exp->desc, exp->dev_index,
				map->read_only || exp->read_only, &lu->session);
	if (ret < 0) {
		log_error("scsi: LUN %llu: cannot open export %s: %s",
			  (unsigned long long)map->lun, exp->name,
			  strerror(-ret));
		return ret;
	}
	ops->session_info(lu->session, &lu->info);
	bs = map->block_size;
	if (!bs)
		bs = lu->info.block_size_min > 512 ? lu->info.block_size_min
						   : 512;
	if (bs < 512 || (bs & (bs - 1)) || bs % lu->info.block_size_min ||
	    bs > 65536) {
		log_error("scsi: LUN %llu: block size %u does not suit export "
			  "%s (minimum %u)",
			  (unsigned long long)map->lun, bs, exp->name,
			  lu->info.block_size_min);
		ret = -EINVAL;
		goto err_close_session;
	}
	lu->block_size = bs;
	lu->block_shift = scsi_log2(bs);
	lu->n_blocks = lu->info.size_bytes >> lu->block_shift;
	max = lu->info.max_request_bytes;
	if (nexus->max_xfer_bytes && nexus->max_xfer_bytes < max)
		max = nexus->max_xfer_bytes;
	lu->max_xfer_blocks = max >> lu->block_shift;
	if (!lu->max_xfer_blocks)
		lu->max_xfer_blocks = 1;
	lu->read_only = lu->info.read_only;
	lu->thin = !lu->read_only && (lu->info.caps & DDM_CAP_TRIM);
	lu->wce = lu->info.caps & DDM_CAP_FLUSH;
	lu->task_size =
		offsetof(struct scsi_task, msg) + ops->msg_size(lu->session);
	lu->dev = scsi_dev_get(exp);
	if (!lu->dev) {
		ret = -ENOMEM;
		goto err_close_session;
	}
	/* Storage that other gateways export too keeps the reservations
	 * (scsi_pr_shared.c); attached per logical unit, detached in
	 * scsi_lu_close while the session still holds the device. */
	lu->shared = ops->shared_dev ? ops->shared_dev(lu->session) : NULL;
	scsi_pr_tport(lu, tport, sizeof(tport));
	scsi_pr_attach(lu->dev->pr, lu->shared, exp->desc, exp->dev_index,
		       tport);
	/* SAM-5 6.3.2: the first command after the nexus appears reports
	 * the power-on/reset condition. */
	atomic_store(&lu->ua, SCSI_ASC_POWER_ON_RESET);
	pthread_mutex_lock(&lu->dev->lock);
	lu->dev_next = lu->dev->lus;
	lu->dev->lus = lu;
	pthread_mutex_unlock(&lu->dev->lock);
	/* A RESERVE(6) held through another gateway binds here too. */
	if (lu->shared)
		scsi_pr_res6_sync(lu->dev);
	return 0;

err_close_session:
	ops->session_close(lu->session);
	lu->session = NULL;
	return ret;
}

/* The nexus of lu, which shares its device with other gateways, ends:
 * if it holds the RESERVE(6) reservation, the record says so no longer
 * before the nexus is gone (a logout is answered after this). */
static void scsi_lu_res6_lost(struct scsi_lu *lu)
{
	struct scsi_pr *pr = lu->dev->pr;
	char tport[512];
	bool held;

	pthread_mutex_lock(&pr->lock);
	held = scsi_pr_res6_is(pr, lu);
	pthread_mutex_unlock(&pr->lock);
	if (!held)
		return;
	scsi_pr_tport(lu, tport, sizeof(tport));
	scsi_pr_res6_drop(pr, lu->nexus->initiator, tport, true);
}

static void scsi_lu_close(struct scsi_lu *lu)
{
	struct scsi_dev *dev = lu->dev;
	struct scsi_task *t;

	if (!lu->session)
		return;
	if (lu->inflight) /* the transport broke scsi_nexus_close's rule */
		log_error("scsi: LUN %llu closed with %u commands in flight",
			  (unsigned long long)lu->map->lun, lu->inflight);
	if (dev) {
		struct scsi_lu **pp;

		pthread_mutex_lock(&dev->lock);
		for (pp = &dev->lus; *pp && *pp != lu; pp = &(*pp)->dev_next)
			;
		if (*pp)
			*pp = lu->dev_next;
		/* SPC-2 5.5.1: I_T nexus loss releases its reservation */
		if (dev->reserved == lu->nexus)
			dev->reserved = NULL;
		pthread_mutex_unlock(&dev->lock);
		if (lu->shared) {
			scsi_lu_res6_lost(lu);
			scsi_pr_detach(dev->pr);
		}
		scsi_dev_put(dev);
	}
	while ((t = lu->free_tasks)) {
		lu->free_tasks = t->next;
		free(t->bounce);
		free(t);
	}
	lu->map->export->desc->ops->session_close(lu->session);
	lu->session = NULL;
}

int scsi_nexus_open(const struct scsi_nexus_args *args,
		    struct scsi_nexus **nexusp)
{
	const struct scsi_target_info *target = args->target;
	struct scsi_nexus *nexus;
	int ret = -ENOMEM;

	nexus = calloc(1, sizeof(*nexus));
	if (!nexus)
		return -ENOMEM;
	nexus->target = target;
	nexus->rel_port_id = args->rel_port_id ? args->rel_port_id : 1;
	nexus->alua = scsi_alua_group_of(nexus->rel_port_id);
	nexus->loop = args->loop;
	nexus->max_xfer_bytes = args->max_xfer_bytes;
	nexus->initiator = strdup(args->initiator ? args->initiator : "");
	nexus->lus = calloc(target->n_luns ? target->n_luns : 1,
			    sizeof(*nexus->lus));
	if (!nexus->initiator || !nexus->lus)
		goto err_close;
	for (unsigned int i = 0; i < target->n_luns; i++) {
		ret = scsi_lu_open(nexus, &nexus->lus[i], &target->luns[i]);
		if (ret < 0)
			goto err_close;
		nexus->n_lus++;
	}
	*nexusp = nexus;
	return 0;

err_close:
	scsi_nexus_close(nexus);
	return ret;
}

void scsi_nexus_close(struct scsi_nexus *nexus)
{
	if (!nexus)
		return;
	for (unsigned int i = 0; i < nexus->n_lus; i++)
		scsi_lu_close(&nexus->lus[i]);
	free(nexus->lus);
	free(nexus->initiator);
	free(nexus);
}

static struct scsi_lu *scsi_lu_find(struct scsi_nexus *nexus, uint64_t lun)
{
	for (unsigned int i = 0; i < nexus->n_lus; i++)
		if (nexus->lus[i].map->lun == lun)
			return &nexus->lus[i];
	return NULL;
}

/* Per-command state. */

struct scsi_task *scsi_task_get(struct scsi_lu *lu, struct scsi_cmd *cmd)
{
	struct scsi_task *t = lu->free_tasks;

	if (t) {
		lu->free_tasks = t->next;
	} else {
		t = calloc(1, lu->task_size);
		if (!t)
			return NULL;
		lu->map->export->desc->ops->msg_init(lu->session, &t->msg);
	}
	t->next = NULL;
	t->lu = lu;
	t->cmd = cmd;
	t->stage = 0;
	t->result = 0;
	t->done_blk = 0;
	t->flags = 0;
	t->aux = 0;
	lu->inflight++;
	return t;
}

static void scsi_task_put(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;

	lu->inflight--;
	t->cmd = NULL;
	t->next = lu->free_tasks;
	lu->free_tasks = t;
	scsi_lu_cmd_end(lu);
}

void scsi_lu_cmd_end(struct scsi_lu *lu)
{
	struct scsi_pr_fence *fence;

	if (atomic_fetch_sub(&lu->busy, 1) != 1 || !atomic_load(&lu->fence))
		return;
	fence = atomic_exchange(&lu->fence, NULL);
	if (fence)
		scsi_pr_fence_put(fence);
}

int scsi_task_bounce(struct scsi_task *t, size_t len)
{
	void *p;

	if (t->bounce_len >= len)
		return 0;
	len = (len + 4095) & ~(size_t)4095;
	p = aligned_alloc(4096, len);
	if (!p)
		return -ENOMEM;
	free(t->bounce);
	t->bounce = p;
	t->bounce_len = len;
	return 0;
}

static void scsi_task_msg_done(struct iop_msg *msg, int result);

/*
 * Steps that complete inside submit (the RAM DDM always does) come back
 * here through the loop instead of recursing, so long chunked commands
 * use constant stack.
 */
static void scsi_task_run(struct scsi_task *t)
{
	for (;;) {
		struct scsi_cmd *cmd = t->cmd;

		t->in_submit = true;
		t->sync_done = false;
		if (t->step(t) == SCSI_STEP_DONE) {
			scsi_task_put(t);
			cmd->done(cmd);
			return;
		}
		t->in_submit = false;
		if (!t->sync_done)
			return;
	}
}

static void scsi_task_msg_done(struct iop_msg *msg, int result)
{
	struct scsi_task *t =
		(struct scsi_task *)((char *)msg -
				     offsetof(struct scsi_task, msg));

	t->result = result;
	if (t->in_submit) {
		t->sync_done = true;
		return;
	}
	scsi_task_run(t);
}

int scsi_task_start(struct scsi_task *t, scsi_step_fn *step)
{
	t->step = step;
	scsi_task_run(t);
	return 1;
}

int scsi_task_io(struct scsi_task *t, enum ddm_op op, uint32_t flags,
		 uint64_t offset, uint64_t len, void *buf)
{
	struct iop_msg *msg = &t->msg;

	t->iov.iov_base = buf;
	t->iov.iov_len = len;
	msg->op = op;
	msg->flags = flags;
	msg->offset = offset;
	msg->len = len;
	msg->iov = &t->iov;
	msg->iovcnt = buf ? 1 : 0;
	msg->loop = t->lu->nexus->loop;
	msg->done = scsi_task_msg_done;
	msg->cookie = t;
	t->lu->map->export->desc->ops->submit(t->lu->session, msg);
	return SCSI_STEP_IO;
}

/* Reservations (SPC-2 RESERVE(6)/RELEASE(6), kept per device). */

int scsi_lu_reserve(struct scsi_lu *lu, bool reserve)
{
	struct scsi_dev *dev = lu->dev;
	int ret = scsi_pr_reserve6_check(lu, reserve);

	if (ret)
		return ret < 0 ? ret : 0;
	pthread_mutex_lock(&dev->lock);
	if (reserve) {
		if (dev->reserved && dev->reserved != lu->nexus)
			ret = -EBUSY;
		else
			dev->reserved = lu->nexus;
	} else if (dev->reserved == lu->nexus) {
		dev->reserved = NULL;
	}
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

bool scsi_lu_conflict(const struct scsi_lu *lu)
{
	/* No lock on the data path: a reservation taken while this command
	 * is being checked simply orders after it. */
	const struct scsi_nexus *holder =
		atomic_load_explicit(&lu->dev->reserved, memory_order_acquire);

	return holder && holder != lu->nexus;
}

/* COMPARE AND WRITE: one at a time per device, whichever nexus sends it. */

bool scsi_caw_acquire(struct scsi_task *t, scsi_step_fn *step)
{
	struct scsi_dev *dev = t->lu->dev;
	bool now;

	t->step = step;
	pthread_mutex_lock(&dev->lock);
	now = !dev->caw_busy;
	if (now) {
		dev->caw_busy = true;
	} else {
		t->next = NULL;
		if (dev->caw_tail)
			dev->caw_tail->next = t;
		else
			dev->caw_head = t;
		dev->caw_tail = t;
	}
	pthread_mutex_unlock(&dev->lock);
	return now;
}

static void scsi_caw_resume(void *arg)
{
	scsi_task_run(arg);
}

void scsi_caw_release(struct scsi_lu *lu)
{
	struct scsi_dev *dev = lu->dev;
	struct scsi_task *next;

	pthread_mutex_lock(&dev->lock);
	next = dev->caw_head;
	if (next) {
		dev->caw_head = next->next;
		if (!dev->caw_head)
			dev->caw_tail = NULL;
		next->next = NULL;
	} else {
		dev->caw_busy = false;
	}
	pthread_mutex_unlock(&dev->lock);
	/* The next one runs on its own nexus' thread; it holds the device
	 * from here until its own release. */
	if (next &&
	    base_loop_post(next->lu->nexus->loop, scsi_caw_resume, next) < 0) {
		struct scsi_cmd *cmd = next->cmd;

		/* Give the device up and fail the waiter where it is. */
		log_error("scsi: cannot hand COMPARE AND WRITE on: out of "
			  "memory");
		scsi_lu_sense(next->lu, cmd, SCSI_SK_ABORTED_COMMAND,
			      SCSI_ASC_NONE);
		scsi_caw_release(next->lu);
		scsi_task_put(next);
		cmd->done(cmd);
	}
}

/* Unit attentions, resets. */

/* Raise asc on every nexus of dev but skip (NULL: on all of them). */
static void scsi_dev_raise_ua(struct scsi_dev *dev, uint16_t asc,
			      const struct scsi_nexus *skip,
			      bool clear_reservation)
{
	pthread_mutex_lock(&dev->lock);
	for (struct scsi_lu *lu = dev->lus; lu; lu = lu->dev_next)
		if (lu->nexus != skip)
			atomic_store(&lu->ua, asc);
	if (clear_reservation)
		dev->reserved = NULL;
	pthread_mutex_unlock(&dev->lock);
}

void scsi_ua_raise_all(uint16_t asc, const struct scsi_nexus *skip)
{
	pthread_mutex_lock(&scsi_devs_lock);
	for (struct scsi_dev *dev = scsi_devs; dev; dev = dev->next) {
		pthread_mutex_lock(&dev->lock);
		for (struct scsi_lu *lu = dev->lus; lu; lu = lu->dev_next) {
			uint16_t old = atomic_load(&lu->ua);

			while (lu->nexus != skip && (old >> 8) != 0x29 &&
			       !atomic_compare_exchange_weak(&lu->ua, &old,
							     asc))
				;
		}
		pthread_mutex_unlock(&dev->lock);
	}
	pthread_mutex_unlock(&scsi_devs_lock);
}

void scsi_dev_lu_reset(struct scsi_dev *dev)
{
	scsi_dev_raise_ua(dev, SCSI_ASC_BUS_DEVICE_RESET, NULL, true);
}

/* A target reset told to the other gateways, one logical unit reset per
 * shared device; its callbacks all run on the nexus' loop. */
struct scsi_target_reset {
	unsigned int left;
	scsi_tmf_done_fn *done;
	void *arg;
};

static void scsi_target_reset_heard(void *arg, int result)
{
	struct scsi_target_reset *g = arg;

	if (--g->left)
		return;
	g->done(g->arg, 0);
	free(g);
}

/* SAM-5 6.3.5: a target reset resets each of the target's logical
 * units.  Another gateway exporting one of its devices (the same target
 * through another target port) hears of it as of a LOGICAL UNIT RESET:
 * unit attention on its nexuses, RESERVE(6) released; the reset
 * completes once they have acked (scsi_pr_shared.c).  1 when done will
 * be called. */
static int scsi_target_reset_tell(struct scsi_nexus *nexus,
				  scsi_tmf_done_fn *done, void *arg)
{
	struct scsi_target_reset *g = done ? calloc(1, sizeof(*g)) : NULL;

	if (g) {
		g->left = 1; /* ours, until every device is asked */
		g->done = done;
		g->arg = arg;
	}
	for (unsigned int i = 0; i < nexus->n_lus; i++) {
		struct scsi_lu *lu = &nexus->lus[i];

		if (!lu->shared)
			continue;
		/* Untold, the RESERVE(6) kept with them goes all the same. */
		if (g &&
		    scsi_pr_tell_reset(lu, scsi_target_reset_heard, g) == 1)
			g->left++;
		else
			scsi_pr_res6_drop(lu->dev->pr, NULL, NULL, false);
	}
	if (!g || --g->left == 0) {
		free(g);
		return 0;
	}
	return 1;
}

int scsi_nexus_tmf(struct scsi_nexus *nexus, enum scsi_tmf tmf, uint64_t lun)
{
	return scsi_nexus_tmf_async(nexus, tmf, lun, NULL, NULL);
}

int scsi_nexus_tmf_async(struct scsi_nexus *nexus, enum scsi_tmf tmf,
			 uint64_t lun, scsi_tmf_done_fn *done, void *arg)
{
	struct scsi_lu *lu;

	switch (tmf) {
	case SCSI_TMF_ABORT_TASK_SET:
	case SCSI_TMF_CLEAR_TASK_SET:
		/* The transport has let the commands finish: nothing left. */
		return scsi_lu_find(nexus, lun) ? 0 : -ENOENT;
	case SCSI_TMF_LUN_RESET:
		lu = scsi_lu_find(nexus, lun);
		if (!lu)
			return -ENOENT;
		/* SAM-5 6.3.3: a logical unit reset releases reservations
		 * and raises a unit attention for every I_T nexus, the
		 * one that asked included (libiscsi's MultipathIO.Reset
		 * counts it on every path); the other gateways exporting
		 * the device do the same on theirs before this completes
		 * (scsi_pr_shared.c). */
		scsi_dev_lu_reset(lu->dev);
		return done ? scsi_pr_tell_reset(lu, done, arg) : 0;
	case SCSI_TMF_TARGET_WARM_RESET:
	case SCSI_TMF_TARGET_COLD_RESET:
		/* Every other nexus learns of a target reset; the one that
		 * asked for it knows (libiscsi's Reserve6 tests go on
		 * using it without clearing a unit attention). */
		for (unsigned int i = 0; i < nexus->n_lus; i++)
			scsi_dev_raise_ua(nexus->lus[i].dev,
					  tmf == SCSI_TMF_TARGET_COLD_RESET
						  ? SCSI_ASC_POWER_ON
						  : SCSI_ASC_BUS_DEVICE_RESET,
					  nexus, true);
		return scsi_target_reset_tell(nexus, done, arg);
	}
	return -ENOTSUP;
}

/* Dispatch. */

static int scsi_cmd_dispatch(struct scsi_nexus *nexus, struct scsi_lu *lu,
			     struct scsi_cmd *cmd)
{
	const struct scsi_opcode *op;
	uint16_t ua;

	op = scsi_opcode_find(cmd->cdb, cmd->cdb_len);
	/* SAM-5 5.8: an unknown LUN answers INQUIRY, REPORT LUNS and
	 * REQUEST SENSE, and nothing else. */
	if (!lu && !(op && (op->flags & SCSI_OPF_ANY_LUN))) {
		scsi_cmd_set_sense(cmd, false, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_LU_NOT_SUPPORTED, NULL);
		return 0;
	}
	if (lu && (!op || !(op->flags & SCSI_OPF_NO_UA)) &&
	    atomic_load_explicit(&lu->ua, memory_order_relaxed)) {
		ua = atomic_exchange(&lu->ua, 0);
		if (ua) {
			scsi_lu_sense(lu, cmd, SCSI_SK_UNIT_ATTENTION, ua);
			return 0;
		}
	}
	if (!op) {
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_INVALID_OPCODE);
		return 0;
	}
	if (cmd->cdb_len < op->cdb_len) {
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_INVALID_FIELD_CDB);
		return 0;
	}
	if (lu && scsi_alua_refuse(nexus, lu, cmd))
		return 0;
	if (lu && !(op->flags & SCSI_OPF_RESV_OK) && scsi_lu_conflict(lu)) {
		cmd->status = SCSI_STATUS_RESERVATION_CONFLICT;
		return 0;
	}
	if (lu && scsi_pr_conflict(lu, op)) {
		cmd->status = SCSI_STATUS_RESERVATION_CONFLICT;
		return 0;
	}
	return op->fn(nexus, lu, cmd);
}

void scsi_cmd_submit(struct scsi_nexus *nexus, struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = scsi_lu_find(nexus, cmd->lun);

	cmd->status = SCSI_STATUS_GOOD;
	cmd->data_len = 0;
	cmd->xfer_len = 0;
	cmd->sense_len = 0;
	cmd->data = NULL;
	cmd->priv = NULL;
	/* Counted before any check, so a PREEMPT AND ABORT either sees it
	 * or it sees the preemption (scsi_pr_out.c). */
	if (lu)
		atomic_fetch_add(&lu->busy, 1);
	if (scsi_cmd_dispatch(nexus, lu, cmd) == 0) {
		if (lu)
			scsi_lu_cmd_end(lu);
		cmd->done(cmd);
	}
}
