/* SPDX-License-Identifier: MIT */
/*
 * Private to the SCSI command set: persistent reservations (SPC-4 5.14),
 * one state per device, shared by every I_T nexus of every target and
 * portal that reaches the device.  The state outlives the nexuses (a
 * registration survives a logout) and, with APTPL, the process (it is
 * saved through a struct scsi_pr_store).
 */
#ifndef IOPD_SCSI_PR_H
#define IOPD_SCSI_PR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iopd/conn.h"

struct ddm_dev;
struct iop_desc;
struct scsi_dev;
struct scsi_pr_fence;
struct scsi_lu;
struct scsi_nexus;
struct scsi_opcode;
struct scsi_cmd;

/* Reservation types (SPC-4 table 169). */
#define SCSI_PR_WR_EX	 0x1
#define SCSI_PR_EX_AC	 0x3
#define SCSI_PR_WR_EX_RO 0x5
#define SCSI_PR_EX_AC_RO 0x6
#define SCSI_PR_WR_EX_AR 0x7
#define SCSI_PR_EX_AC_AR 0x8

#define SCSI_PR_MAX_REGS 256

/* One registered I_T nexus, or with all_tg_pt one initiator port on
 * every target port. */
struct scsi_pr_reg {
	uint64_t key;
	char *initiator; /* "NAME,i,0xISID", or a bare NAME: every port */
	char *tport;	 /* "TARGET,t,0xTPGT" */
	uint16_t rel_port_id;
	bool all_tg_pt;
	uint16_t ua; /* raised when the command changing it commits */
};

/*
 * lock guards everything but the two atomics, which commands read
 * without it to learn that nothing is reserved or registered.  Lock
 * order: pr->lock before scsi_dev.lock.
 */
struct scsi_pr {
	struct scsi_pr *next; /* in the registry */
	char *dev_id;	      /* "<IOP name>/<device index>" */
	unsigned int refs;    /* devices pointing here */

	pthread_mutex_t lock;
	bool loaded; /* the store was read */
	uint32_t generation;
	uint8_t type; /* SCSI_PR_*, 0 = not reserved */
	struct scsi_pr_reg *holder;
	bool aptpl;
	uint64_t version; /* of the saved copy, 0 = none */
	/* The RESERVE(6) holder a shared record names ("reserve6" line,
	 * scsi_pr_res6.c): its initiator port and target port, as a
	 * registration names them; NULL: none.  Never set on a state that
	 * is not shared (RESERVE(6) then lives in scsi_dev.reserved). */
	char *res6_initiator, *res6_tport;
	unsigned int n_regs;
	struct scsi_pr_reg *regs[SCSI_PR_MAX_REGS];

	_Atomic bool reserved;	 /* type != 0 */
	_Atomic bool registered; /* n_regs != 0 */

	/* Kept in the storage itself, shared with the other gateways
	 * exporting it (an RBD image: scsi_pr_shared.c), while a logical
	 * unit of this process has the device open; NULL otherwise. */
	struct ddm_dev *shared;
	/* Serialises this process' PR OUTs on a shared state, which read
	 * and save it without lock held (the network). */
	pthread_mutex_t out_lock;
	const struct iop_desc *desc; /* the scsi_dev attaching it */
	unsigned int dev_index;
	unsigned int attached; /* logical units attached (attach lock) */
	unsigned int hearing;  /* notifications being acted upon */
	pthread_cond_t heard;  /* hearing dropped to 0 */
};

/* How long a PR OUT waits for the other gateways to act on it. */
#define SCSI_PR_NOTIFY_MS 5000

/* scsi_pr.c */
bool scsi_pr_aptpl_capable(const struct scsi_pr *pr);
void scsi_pr_dev_id(const struct conn_export *exp, char *out, size_t size);
struct scsi_pr *scsi_pr_get(const char *dev_id);
void scsi_pr_put(struct scsi_pr *pr);
/* RESERVATION CONFLICT for this command of lu's nexus?  For every
 * command but the PR ones and RESERVE/RELEASE(6). */
bool scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_opcode *op);
/* SPC-4 5.14.3 (Exceptions to SPC-2 RESERVE and RELEASE behavior):
 * -EBUSY (conflict), 1 (GOOD, nothing to do), 0 (go on with SPC-2). */
int scsi_pr_reserve6_check(struct scsi_lu *lu, bool reserve);
/* The same on pr (its lock held, or a scratch state). */
int scsi_pr_reserve6_rule(struct scsi_pr *pr, struct scsi_lu *lu, bool reserve);

/* Helpers shared by PR IN and PR OUT, called with pr->lock held. */
int scsi_pr_load(struct scsi_pr *pr);
void scsi_pr_tport(const struct scsi_lu *lu, char *out, size_t size);
struct scsi_pr_reg *scsi_pr_find(struct scsi_pr *pr, const char *initiator,
				 const char *tport);
struct scsi_pr_reg *scsi_pr_find_lu(struct scsi_pr *pr,
				    const struct scsi_lu *lu);
bool scsi_pr_all_regs(uint8_t type);
bool scsi_pr_is_holder(const struct scsi_pr *pr, const struct scsi_pr_reg *reg);
void scsi_pr_reg_free(struct scsi_pr_reg *reg);
/* Text form for the store, and back (replacing the state). */
char *scsi_pr_text(const struct scsi_pr *pr);
int scsi_pr_parse(struct scsi_pr *pr, const char *text);
/* Raise the UAs the registrations carry on their live nexuses. */
void scsi_pr_raise(struct scsi_dev *dev, struct scsi_pr_reg *const *regs,
		   unsigned int n);
void scsi_pr_sync_flags(struct scsi_pr *pr);
void scsi_pr_regs_clear(struct scsi_pr *pr);
/* Is reg the registration of lu's nexus? */
bool scsi_pr_lu_match(const struct scsi_pr_reg *reg, const struct scsi_lu *lu);
/* scsi_pr_out.c: one preempted nexus has no command left. */
void scsi_pr_fence_put(struct scsi_pr_fence *fence);
/* Save the state if APTPL is on, or remove the saved copy if it was on
 * before this command (was_aptpl); a shared state is always saved.  0 or
 * -errno (logged). */
int scsi_pr_persist(struct scsi_pr *pr, bool was_aptpl);

/* scsi_pr_out.c: fence the live nexuses of dev (but skip) that the
 * registrations dead[] named: they get no new command through (the state
 * already says so), and the returned fence counts those they have in
 * storage.  lu and cmd: the PREEMPT AND ABORT to complete when it drops
 * to 0; NULL: a waiter on the fence's condition (scsi_pr_fence_wait).
 * NULL when none is busy. */
struct scsi_pr_fence *
scsi_pr_fence_start(struct scsi_dev *dev, const struct scsi_lu *skip,
		    struct scsi_pr_reg *const *dead, unsigned int n_dead,
		    struct scsi_lu *lu, struct scsi_cmd *cmd);
void scsi_pr_fence_wait(struct scsi_pr_fence *fence);

/* scsi_pr_shared.c: the state kept in the storage, shared by the
 * gateways (see there). */
/* A logical unit of dev opened the device on a session whose DDM shares
 * metadata (ddm: NULL when it does not): keep pr there from now on. */
void scsi_pr_attach(struct scsi_pr *pr, struct ddm_dev *ddm,
		    const struct iop_desc *desc, unsigned int dev_index,
		    const char *tport);
/* A logical unit that attached closes; with the last one, stop hearing
 * the others. */
void scsi_pr_detach(struct scsi_pr *pr);
/* The management channel's calls on a device: one other gateways share
 * keeps its state in the device, which this gateway reads only while
 * attached, so attach for the call (through a Local Transport session
 * of its own, returned; NULL when the device is not shared or cannot be
 * opened), then detach and close it. */
struct iop_session *scsi_pr_mgmt_attach(const struct conn_export *exp,
					struct scsi_pr *pr);
void scsi_pr_mgmt_detach(const struct conn_export *exp, struct scsi_pr *pr,
			 struct iop_session *session);
/* Read the shared record into pr (replacing its state), and save pr's
 * state there (-ESTALE: another gateway saved since it was read); with
 * pr->lock held, or on a scratch state. */
int scsi_pr_load_shared(struct scsi_pr *pr);
int scsi_pr_save_shared(struct scsi_pr *pr);
/* A scratch state to read pr's shared record into and work on without
 * pr->lock (NULL: out of memory); install makes it pr's, under pr->lock,
 * if it is newer (true; tmp then holds pr's old registrations), and
 * refresh reads and installs (0 or -errno). */
struct scsi_pr *scsi_pr_scratch(struct scsi_pr *pr);
void scsi_pr_scratch_free(struct scsi_pr *tmp);
bool scsi_pr_install(struct scsi_pr *pr, struct scsi_pr *tmp);
int scsi_pr_refresh(struct scsi_pr *pr);
/* Whether pr is shared with other gateways now (read under pr->lock; a
 * logical unit of the caller's keeps pr attached, or not, meanwhile). */
bool scsi_pr_is_shared(struct scsi_pr *pr);
/* Run fn(arg) on a detached thread of its own: 0 or -errno. */
int scsi_pr_thread(void *(*fn)(void *), void *arg);
/* Tell the other gateways (called without pr->lock): 0 or -errno. */
int scsi_pr_tell(struct scsi_pr *pr, const char *note);
/*
 * The messages between gateways, told apart by their first line: a PR
 * OUT's "iopd-pr VERSION" (reread the record; its "ua"/"abort" lines say
 * which nexuses get a unit attention or are fenced), and a LOGICAL UNIT
 * RESET's "iopd-reset" (do what a reset does on your own nexuses).  Any
 * other first line counts as the first kind: rereading is always safe.
 */
#define SCSI_PR_NOTE_RESET_TEXT "iopd-reset\n"
enum scsi_pr_note_kind {
	SCSI_PR_NOTE_PR,
	SCSI_PR_NOTE_RESET,
};
enum scsi_pr_note_kind scsi_pr_note_kind(const char *msg);
/* A LOGICAL UNIT RESET through lu (or a target reset, one per logical
 * unit), done on this gateway: tell the others if the device is shared.
 * 1: done(arg, 0) runs on lu's nexus loop once they all acted on it (or
 * did not answer in time); 0: nothing to wait for (done is not called). */
int scsi_pr_tell_reset(struct scsi_lu *lu, void (*done)(void *, int),
		       void *arg);

/*
 * scsi_pr_res6.c: RESERVE(6) on a shared device, kept in the record so
 * that it binds on every gateway.
 */
/* Make dev->reserved say what pr's record says (pr->lock held): the
 * nexus of this gateway it names, scsi_res6_elsewhere for one of
 * another gateway, or NULL.  Nothing when pr is not shared. */
void scsi_pr_res6_apply(struct scsi_pr *pr, struct scsi_dev *dev);
/* The same, taking pr->lock (a logical unit joined dev). */
void scsi_pr_res6_sync(struct scsi_dev *dev);
/* Is the record's holder lu's I_T nexus? */
bool scsi_pr_res6_is(const struct scsi_pr *pr, const struct scsi_lu *lu);
/* RESERVE(6) (reserve) or RELEASE(6) through lu: 1 if the device is
 * shared (the command then completes on lu's nexus loop), 0 if not (the
 * caller keeps it in scsi_dev). */
int scsi_pr_res6_cmd(struct scsi_lu *lu, struct scsi_cmd *cmd, bool reserve);
/* Take the holder out of the record if it is the I_T nexus named
 * (initiator NULL: whoever holds it), and install the result; blocks on
 * the storage.  1: taken out, 0: nothing to take, -errno. */
int scsi_pr_res6_clear(struct scsi_pr *pr, const char *initiator,
		       const char *tport);
/* scsi_pr_res6_clear, then tell the other gateways if it changed the
 * record; here (wait) or on a thread of its own. */
void scsi_pr_res6_drop(struct scsi_pr *pr, const char *initiator,
		       const char *tport, bool wait);

/* scsi_pr_in.c, scsi_pr_out.c: the commands. */
int scsi_pr_in(struct scsi_nexus *nexus, struct scsi_lu *lu,
	       struct scsi_cmd *cmd);
int scsi_pr_out(struct scsi_nexus *nexus, struct scsi_lu *lu,
		struct scsi_cmd *cmd);

#endif
