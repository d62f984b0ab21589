/* SPDX-License-Identifier: MIT */
/*
 * The seam between the Local Transport and those above it.
 *
 * The Local Transport scans the configured IOPs at start-up and builds, for
 * each, an opaque context.  The Connection Manager wraps each context in an
 * IOP descriptor (struct iop_desc): the exported function table plus the
 * context.  A Remote Transport holds a descriptor pointer in each client
 * connection and calls through the table: this is the direct call path
 * (receive handler -> descriptor table -> Local Transport send handler ->
 * DDM), with completions coming back through iop_msg.done.
 *
 * Communication layer (claims 5-6): the *message layer* is the session, one
 * per (client connection, device): open, use, close.  The *transport layer*
 * is the request frame, struct iop_msg.
 */
#ifndef IOPD_LOCAL_H
#define IOPD_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iopd/ddm.h"

struct base_loop;
struct iop_session;

/* What a session's device looks like to a protocol. */
struct iop_dev_info {
	uint64_t size_bytes;
	uint32_t caps; /* DDM_CAP_* as the Local Transport offers them,
			* emulation included (FUA, ZEROES always set
			* for writable devices) */
	uint32_t block_size_min;    /* bytes */
	uint32_t block_size_pref;   /* bytes */
	uint32_t max_request_bytes; /* largest READ/WRITE payload accepted */
	bool read_only;		    /* device or session is read-only */
};

/*
 * The request frame.  A Remote Transport allocates one per request slot,
 * iop_desc_ops.msg_size() bytes (the DDM's per-request area follows the
 * struct), initialises it once with msg_init(), then reuses it.
 *
 * Before submit the caller fills op, flags, offset, len, iov/iovcnt
 * (READ/WRITE), loop (its worker's loop) and done.  The buffers belong to
 * the Remote Transport; the Local Transport and DDM borrow them until done
 * runs.  done runs exactly once per submit, on the submitting worker's
 * thread, possibly inside submit itself.
 */
struct iop_msg {
	enum ddm_op op;
	uint32_t flags; /* DDM_F_* */
	uint64_t offset;
	uint64_t len;
	struct iovec *iov;
	int iovcnt;
	struct base_loop *loop;
	void (*done)(struct iop_msg *msg, int result); /* 0 or -errno */
	void *cookie; /* the Remote Transport's; untouched below */

	/* Local Transport private. */
	struct iop_session *session;
	int stage;
	struct iovec zero_iov[4]; /* emulated WRITE_ZEROES */
	uint64_t zero_done;
	uint64_t start_ns;  /* for the latency histogram */
	struct ddm_req req; /* followed by the DDM's req_priv_size bytes */
};

struct iop_desc;

/*
 * The exported function table.  All functions run on the caller's worker
 * thread unless noted.  Functions returning int return 0 or -errno.
 */
struct iop_desc_ops {
	/*
	 * Message layer: open a session on device dev_index of this IOP.
	 * read_only forces the session read-only even if the device is
	 * writable.  The session holds a reference on the device.
	 */
	int (*session_open)(struct iop_desc *desc, unsigned int dev_index,
			    bool read_only, struct iop_session **sessionp);
	/* Close a session with no message in flight on it. */
	void (*session_close)(struct iop_session *session);
	void (*session_info)(const struct iop_session *session,
			     struct iop_dev_info *info);
	/* Bytes to allocate per iop_msg for this session. */
	size_t (*msg_size)(const struct iop_session *session);
	/* Initialise a freshly allocated msg for this session. */
	void (*msg_init)(struct iop_session *session, struct iop_msg *msg);

	/*
	 * Transport layer, the send handler: validate msg once (range,
	 * read-only, flags, maximum size), emulate what the DDM lacks, count
	 * it in flight, dispatch to the DDM.  A request that fails
	 * validation completes through msg->done with -EINVAL, -EPERM,
	 * -ENOSPC, -EOVERFLOW or -ENOTSUP as the case is.
	 */
	void (*submit)(struct iop_session *session, struct iop_msg *msg);

	/*
	 * Allocation map of [offset, offset+len): see ddm_ops.extents.
	 * Devices without DDM_CAP_EXTENTS report one allocated extent.
	 */
	int (*extents)(struct iop_session *session, uint64_t offset,
		       uint64_t len, struct ddm_extent *ext,
		       unsigned int *n_ext);

	/*
	 * Zero-copy READ: validate [offset, offset+len) as a READ and, if
	 * the device allows it (ddm_ops.read_source), tell where the bytes
	 * can be sent from with sendfile.  The fd stays valid while the
	 * session is open.  Returns 0, -ENOTSUP (use submit), or the
	 * validation error a READ would complete with.
	 */
	int (*read_source)(struct iop_session *session, uint64_t offset,
			   uint64_t len, int *fd, uint64_t *fd_offset);
	/*
	 * read_source, and where the bytes are in a read-only mapping of
	 * that file (*data; NULL when the file can't be mapped or the range
	 * lies past what was mapped): one per session, made at its first
	 * call and valid until the session closes.  Only the kernel may
	 * read it (a socket write), so that a file that shrinks under it
	 * fails that write instead of raising SIGBUS.
	 */
	int (*read_map)(struct iop_session *session, uint64_t offset,
			uint64_t len, int *fd, uint64_t *fd_offset,
			const uint8_t **data);

	/*
	 * The session's device when its DDM keeps metadata shared with
	 * other processes (ddm_ops.shared: an RBD image that several
	 * gateways export), else NULL.  Valid while the session is open;
	 * its shared ops may block (not on the I/O path).
	 */
	struct ddm_dev *(*shared_dev)(struct iop_session *session);
};

/*
 * An IOP descriptor, built by the Connection Manager, one per IOP.
 */
struct iop_desc {
	const struct iop_desc_ops *ops;
	void *ctx; /* the Local Transport's opaque context for the IOP */
	unsigned int index;
	const char *name; /* the IOP's name */
};

/*
 * Start-up side of the Local Transport (claims 19 and 23: "scan the local
 * bus"): what to open, and the per-IOP contexts the Connection Manager
 * wraps into descriptors.
 */
struct local;

struct local_dev_spec {
	const char *name;
	struct ddm_open_args args;
};

struct local_iop_spec {
	const char *name;
	const char *ddm; /* "file", "bdev", "ram", "null" */
	unsigned int n_devs;
	struct local_dev_spec *devs;
};

struct local_config {
	unsigned int n_iops;
	struct local_iop_spec *iops;
	uint32_t max_request_bytes; /* largest READ/WRITE accepted */
};

/* Open every configured IOP and its devices.  Returns 0 or -errno after
 * logging which device failed. */
int local_scan(const struct local_config *cfg, struct local **localp);
/* Flush and close every device (sessions must be closed) and free.
 * Returns 0, or -errno if a device's final flush failed or it had an
 * uncleared write-back error (logged). */
int local_destroy(struct local *local);
/* Devices closed since start (export removal, a last session) whose final
 * flush failed or that had an uncleared write-back error. */
unsigned long local_close_failures(void);
/*
 * Open one more IOP (its name must be new) while iopd runs; *ctxp (may be
 * NULL) gets its context.  Remove one whose devices no session holds
 * (-EBUSY otherwise), closing them.  Both on the management thread, which
 * is the only one to change or walk the list after start-up.  Return 0 or
 * -errno after logging why.
 */
int local_iop_add(struct local *local, const struct local_iop_spec *spec,
		  void **ctxp);
int local_iop_remove(struct local *local, void *ctx);
/* Give an IOP another name (unique: the caller checks).  Management
 * thread; the old name's memory is freed. */
int local_iop_rename(void *ctx, const char *name);

/* A device as the management channel lists it. */
struct local_dev_info {
	const char *name; /* valid while the IOP exists */
	const char *ddm;
	uint64_t size_bytes;
	uint32_t caps; /* DDM_CAP_* the DDM declared */
	uint32_t block_size_min, block_size_pref;
	bool read_only;
	unsigned int sessions; /* open sessions on it */
	unsigned long inflight;
	/* 0: fixed size; 1: resizable any time; 2: only with no session */
	unsigned int resize;
	/* How FUA writes and flushes become durable ("fua:RWF_DSYNC
	 * flush:fdatasync", "fua:write+fdatasync flush:fdatasync", "none"
	 * where nothing is volatile). */
	const char *durability;
	/* Sticky write-back error (-errno; 0 if none): the device is
	 * degraded, every flush and FUA write fails until cleared. */
	int wb_error;
	unsigned long wb_errors; /* durability points failed, total */
};
/* Resize device i where its DDM can (ddm_ops.resize); sessions opened
 * from now on see the new size.  Management thread.  Returns 0 or -errno
 * after logging why (-ENOTSUP: fixed size; -EBUSY: the DDM resizes only
 * with no session open). */
int local_iop_dev_resize(void *ctx, unsigned int i, uint64_t size_bytes);
/* Flush device i now (the flush on export removal).  A failure is
 * logged and becomes its sticky write-back error.  Management thread;
 * blocks.  Returns 0 or -errno. */
int local_iop_dev_sync(void *ctx, unsigned int i);
/* An operator acknowledges device i's write-back error: flushes are
 * allowed to succeed again.  Returns the errno cleared (positive; 0: there
 * was none) or -ENOENT. */
int local_iop_dev_clear_error(void *ctx, unsigned int i);
/* Returns 0 or -ENOENT past the end.  Any thread. */
int local_iop_dev_info(const void *ctx, unsigned int i,
		       struct local_dev_info *info);
unsigned int local_iop_count(const struct local *local);
void *local_iop_context(struct local *local, unsigned int index);
const char *local_iop_name(const void *ctx);
/* Index of the device called name in the IOP, or -ENOENT. */
int local_iop_dev_find(const void *ctx, const char *name);

/* The function table the Connection Manager puts in every descriptor. */
extern const struct iop_desc_ops local_desc_ops;

/*
 * Discovery (local_discover.c): "scan the local bus" for what could be
 * exported -- block devices in /sys/block, NVMe controllers in
 * /sys/class/nvme (each an IOP with its namespaces as devices) and image
 * files in configured directories.  Nothing is opened or exported here:
 * the result is a list of candidates with their state, and partitions or
 * devices in use (mounted, held by another driver) are refused for export
 * unless forced.  A storage pool that a DDM can list (ddm_ops.list: an
 * RBD pool's images) is an IOP too, its devices candidates of that DDM.
 * Management thread only.
 */
struct local_disc_pool {
	const char *iop;		  /* the candidates' IOP name */
	const char *ddm;		  /* "rbd" */
	const struct ddm_option *options; /* to list, and to open each */
	unsigned int n_options;
};

struct local_discover_config {
	const char *sysfs_root;	    /* NULL: "/sys" (tests pass a fake tree) */
	const char *mountinfo_path; /* NULL: "/proc/self/mountinfo" */
	const char *dev_root;	    /* NULL: "/dev" (device node paths) */
	bool scan_block;	    /* /sys/block and /sys/class/nvme */
	unsigned int n_image_dirs;
	char *const *image_dirs;
	/* File name extensions ("img") of images; none: every regular file */
	unsigned int n_image_exts;
	char *const *image_exts;
	unsigned int n_pools;
	const struct local_disc_pool *pools;
};

enum local_cand_kind {
	LOCAL_CAND_DISK,      /* a whole block device (loop, sd, vd...) */
	LOCAL_CAND_PARTITION, /* a partition of one */
	LOCAL_CAND_NVME_NS,   /* a namespace of an NVMe controller */
	LOCAL_CAND_IMAGE,     /* a regular file in an image directory */
	LOCAL_CAND_POOL,      /* a device a DDM listed in a pool */
};

struct local_candidate {
	char *name;	    /* unique: "loop0", "sda1", "nvme0n1", "disk.img" */
	char *iop;	    /* "block", "nvme0", "images" */
	char *path;	    /* "/dev/loop0", "/srv/images/disk.img",
			     * "rbd/img" (a pool device's spec value) */
	char *parent;	    /* a partition's disk; NULL otherwise */
	char *mounted_at;   /* where it or one of its partitions is mounted */
	char *holders;	    /* "dm-0,md0": who holds it; NULL if nobody */
	char *backing_file; /* a loop device's file */
	char *model;	    /* NVMe controller model; NULL otherwise */
	char *serial;
	/* LOCAL_CAND_POOL: the DDM, and the options that open the device
	 * (the pool's, then spec_key=path); owned copies. */
	char *ddm;
	struct ddm_option *options;
	unsigned int n_options;
	enum local_cand_kind kind;
	uint64_t size_bytes;
	uint32_t logical_block_size;
	uint32_t physical_block_size;
	unsigned int n_partitions;
	bool rotational;
	bool read_only;
	bool appeared; /* new in the last rescan */
	bool vanished; /* gone in a rescan: marked, not removed */
};

struct local_discovery {
	unsigned int n;
	struct local_candidate *cands;
	/* IOPs of the pools that could not be listed this time (cluster
	 * down): a rescan keeps their old candidates as they were. */
	unsigned int n_unlisted;
	char **unlisted;
};

/* Scan from scratch.  Returns 0 or -errno (unreadable sources are skipped
 * with a warning, not errors). */
int local_discover_scan(const struct local_discover_config *cfg,
			struct local_discovery **dp);
/*
 * Scan again and merge into d: candidates found again are refreshed,
 * new ones are marked appeared, missing ones vanished (kept in the list,
 * so an export that uses one keeps its name and its clients).  Counts go
 * to *appeared and *vanished (may be NULL).  Returns 0 or -errno.
 */
int local_discover_rescan(const struct local_discover_config *cfg,
			  struct local_discovery *d, unsigned int *appeared,
			  unsigned int *vanished);
void local_discovery_free(struct local_discovery *d);
const struct local_candidate *
local_discovery_find(const struct local_discovery *d, const char *name);
/* "disk", "partition", "nvme-namespace", "image", "pool-device". */
const char *local_cand_kind_name(enum local_cand_kind kind);
/* May the candidate be exported?  0, -EBUSY if it is a partition or in
 * use (mounted, held) and !force, -ENODEV if it vanished. */
int local_cand_exportable(const struct local_candidate *c, bool force);

/*
 * An operator's command to device i's DDM (ddm_ops.control): verb and arg
 * (may be NULL) are the DDM's own words; its reply, KEY=VALUE lines, goes
 * to reply (reply_len bytes, NUL-terminated).  Management thread, with
 * requests in flight.  Returns 0, -ENOENT past the end, -ENOTSUP when the
 * DDM takes no commands, or the DDM's -errno (logged).
 */
int local_iop_dev_control(void *ctx, unsigned int i, const char *verb,
			  const char *arg, char *reply, size_t reply_len);
#endif
