/* SPDX-License-Identifier: MIT */
/*
 * The fault DDM's private structures, shared by its three files:
 * ddm_fault.c (the table: open, configure, control, the pass-through data
 * path and latency timers), ddm_fault_rules.c (what to inject: parsing and
 * deciding) and ddm_fault_cache.c (the volatile write cache and its
 * write-back).
 *
 * Locking: one mutex per device (fault_dev.lock) guards the rules, their
 * random number generator, the statistics and the cache map.  A lock on
 * the data path is acceptable here: this DDM exists for tests and fault
 * drills, not for speed.  It is never held across a call into the inner
 * DDM or a completion.
 */
#ifndef IOPD_DDM_FAULT_H
#define IOPD_DDM_FAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base_loop.h"
#include "iopd/ddm.h"

/* The inner DDM's per-request area must fit here (file: ~200 bytes). */
#define FAULT_INNER_PRIV_MAX 512
/* Largest single write-back write. */
#define FAULT_WB_BYTES (1024 * 1024)
/* The volatile cache's block unless block= says (or the inner minimum is
 * larger). */
#define FAULT_CACHE_BLOCK_DEFAULT 4096
/* Operations with rules: DDM_OP_READ .. DDM_OP_WRITE_ZEROES. */
#define FAULT_N_OPS (DDM_OP_WRITE_ZEROES + 1)

enum fault_mode {
	FAULT_MODE_EVERY = 0, /* every matching request may fail */
	FAULT_MODE_ONCE,      /* the first failure disarms the rule */
	FAULT_MODE_STICKY,    /* after the first failure, all in range fail */
};

/* What happens to requests of one operation. */
struct fault_rule {
	int error; /* positive errno to inject; 0: none */
	enum fault_mode mode;
	double rate;			 /* probability, (0, 1] */
	uint64_t after;			 /* matching requests let through */
	uint64_t range_start, range_end; /* bytes; end 0: whole device */
	bool partial; /* WRITE: write the first half, then fail */
	unsigned int delay_ms;
	/* State; zeroed whenever the rule is set again. */
	uint64_t seen; /* matching requests so far */
	bool fired;
};

struct fault_rules {
	struct fault_rule op[FAULT_N_OPS];
	unsigned int delay_ms; /* every operation without its own delay */
	uint64_t seed;
	uint64_t prng; /* splitmix64 state, from seed */
};

/* The decision for one request. */
struct fault_fate {
	int error; /* -errno, or 0 */
	bool partial;
	unsigned int delay_ms;
};

struct fault_stats {
	uint64_t requests[FAULT_N_OPS];
	uint64_t injected[FAULT_N_OPS];
	uint64_t delayed;
	uint64_t crashes;
	uint64_t lost_bytes;	     /* dirty data dropped by crashes */
	uint64_t written_back_bytes; /* cache data written to the inner DDM */
	uint64_t writebacks;	     /* write-back rounds completed */
	uint64_t writeback_errors;
};

struct fault_req;

/* One cached block; data NULL means it reads as zeroes. */
struct fault_blk {
	uint64_t idx;
	uint64_t gen; /* the cache generation of its last change */
	unsigned char *data;
	bool dirty;
	struct fault_blk *next; /* hash chain */
};

/*
 * A write-back round: the dirty blocks of one range written to the inner
 * device, then an inner flush.  One round at a time per device, so two
 * rounds never race writes of the same block; requests that need one while
 * it runs wait and are served by the next.
 */
struct fault_wb {
	struct fault_dev *fd;
	struct base_loop *loop;	  /* the round's inner I/O: an owner's loop */
	struct fault_req *owners; /* completed when the round ends */
	uint64_t first, end;	  /* block range */
	uint64_t *idx;		  /* sorted dirty block numbers */
	size_t n_idx, pos;
	uint64_t *gens; /* generation of each block in the current run */
	uint64_t run_idx;
	size_t run_n;
	unsigned char *buf; /* FAULT_WB_BYTES, page aligned */
	struct iovec iov;
	struct ddm_req *inner; /* with the inner DDM's request area */
	int result;
	bool flushing;
	bool in_submit, inline_done; /* inner completed inside submit */
	bool sync_mode;		     /* the round of ddm_ops.sync */
	bool sync_waiting, sync_done;
	int sync_result;
};

struct fault_cache {
	struct fault_blk **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_blocks, n_dirty;
	uint64_t gen;
	uint32_t block_bytes;
	unsigned int reads_inflight;
	bool sweep_pending; /* clean blocks to free once no read runs */
	bool wb_busy;
	struct fault_req *waiters, *waiters_tail;
	struct fault_wb wb;
};

struct fault_dev {
	struct ddm_dev inner;
	const struct ddm_ops *inner_ops;
	char inner_name[32];
	/* Settings that are not the fault DDM's own, for the inner device
	 * (fault:rbd:pool/image?conf=...), copied; freed once it is open. */
	struct ddm_option *inner_opts;
	unsigned int n_inner_opts;
	bool is_volatile;
	bool inner_open;
	bool rules_ready;	  /* rules initialised (by configure or open) */
	uint32_t cache_block_req; /* block=; 0: default */
	pthread_mutex_t lock;
	struct fault_rules rules;
	struct fault_stats stats;
	struct fault_cache cache;
	char durability[96];
};

struct fault_req {
	struct ddm_req *outer;
	struct fault_fate fate;
	struct base_io timer_io;
	int timer_fd;
	uint64_t timer_buf;
	/* A partial write's iovec, cut short, and its real length. */
	int cut_idx;
	size_t cut_len;
	int result;		   /* for a completion posted to another loop */
	uint64_t wb_first, wb_end; /* block range a flush or FUA needs */
	struct fault_req *next;	   /* wait and owner lists */
	struct ddm_req inner;
	unsigned char inner_priv[FAULT_INNER_PRIV_MAX]
		__attribute__((aligned(16)));
};

/* ddm_fault_rules.c */
void fault_rules_init(struct fault_rules *r);
/*
 * Apply one setting (read, write, flush, trim, write_zeroes, delay,
 * seed).  Returns 0, -ENOENT for a key that is not a rule's (the caller
 * may know it), or -EINVAL after logging naming dev_name.
 */
int fault_rules_set(struct fault_rules *r, const char *key, const char *value,
		    const char *dev_name);
/* Decide req's fate; caller holds the lock. */
void fault_rules_decide(struct fault_rules *r, const struct ddm_req *req,
			struct fault_fate *f);
/* "flush=EIO:once" lines for the rules that are set; returns bytes
 * written (snprintf rules). */
size_t fault_rules_describe(const struct fault_rules *r, char *buf, size_t len);
const char *fault_op_name(unsigned int op);
/* "4K", "1M", "123": bytes.  Returns 0 or -EINVAL. */
int fault_size_parse(const char *text, uint64_t *bytes);

/* ddm_fault_cache.c */
int fault_cache_init(struct fault_dev *fd);
void fault_cache_fini(struct fault_dev *fd);
/* Serve req (fate decided, delay over) from the cache. */
void fault_cache_submit(struct fault_req *fr);
/* Drop every cached block, as a power cut would; returns dirty bytes
 * lost.  Any thread. */
uint64_t fault_cache_crash(struct fault_dev *fd);
/* Write every dirty block through and flush, blocking (ddm_ops.sync). */
int fault_cache_sync(struct fault_dev *fd);

/* ddm_fault.c */
/* base_loop_post, retried until memory is found. */
void fault_post(struct base_loop *loop, void (*fn)(void *arg), void *arg);
/* Complete fr's outer request on its own loop; here is the loop whose
 * thread is running. */
void fault_complete_from(struct fault_req *fr, struct base_loop *here,
			 int result);

#endif
