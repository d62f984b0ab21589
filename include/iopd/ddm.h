/* SPDX-License-Identifier: MIT */
/*
 * The device driver module (DDM) contract: the seam between the IOP's
 * communication layer (Local Transport) and one kind of storage.
 *
 * A DDM sees byte offsets, lengths, iovecs and iopd's own DDM_F_* flags,
 * never a protocol's.  The Local Transport has already validated every
 * request it passes down (range inside the device, not read-only, flags the
 * device declared, length within the maximum), so a DDM does not check them
 * again.  It also emulates what a DDM lacks: FUA by a following flush when
 * DDM_CAP_FUA is missing, WRITE_ZEROES by writing zeroes when
 * DDM_CAP_ZEROES is missing; a DDM is never asked for an operation whose
 * capability it did not declare.  Zeroing is the one operation a DDM may
 * decline after declaring it: a WRITE_ZEROES it cannot do natively this
 * time (NO_HOLE where only hole punching works, a file system that stopped
 * offering ZERO_RANGE) completes with -EOPNOTSUPP, and the Local Transport
 * writes the zeroes instead, or fails a FAST_ZERO request with -ENOTSUP.
 * No DDM writes zeroes itself.
 *
 * Threads: ddm_ops.submit may be called concurrently from several worker
 * threads for the same device (each worker has its own base_loop, passed in
 * the request), so any state shared by the device must be thread safe.
 * A request is completed on the thread that submitted it, req->loop's:
 * ddm_req_complete inside submit (ram, null) or from a base_io completion
 * on req->loop (file, bdev: the worker's own io_uring).  A DDM whose
 * storage completes on threads of its own (librbd's callbacks) does not
 * call ddm_req_complete there but ddm_req_complete_foreign, the one way
 * back to the worker: it allocates nothing and takes no lock (below).
 *
 * open (with configure before it) runs on the main thread at start-up, or
 * on the management thread when an IOP or export is added while iopd runs
 * (RPC, reload).  close, and the sync the IOP makes before it on a writable
 * device, run on the thread that drops the device's last reference
 * (iop_dev_put): the main thread at shutdown, the management thread when
 * an export or IOP is removed, or a worker when the session it closes was
 * the last user of a device its IOP already let go of.  For one device,
 * open and close never overlap each other, a sync or a request; but
 * different devices of one DDM open and close on different threads at the
 * same time, so state a DDM keeps across its devices must be thread safe,
 * and neither open nor close may rely on thread-local state or on a
 * particular thread's base_loop.
 *
 * The null DDM (src/ddm/null/) is the template a new DDM copies.
 */
#ifndef IOPD_DDM_H
#define IOPD_DDM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/base_loop.h"

enum ddm_op {
	DDM_OP_READ = 0,
	DDM_OP_WRITE,
	DDM_OP_FLUSH, /* make every completed write durable; offset/len 0 */
	DDM_OP_TRIM,  /* may discard; reads after it return anything */
	DDM_OP_WRITE_ZEROES, /* range must read back as zeroes; -EOPNOTSUPP:
			      * not natively (see above) */
	DDM_OP_CACHE,	     /* advisory prefetch; may complete at once */
	DDM_OP_COUNT,
};

/* Request flags (ddm_req.flags). */
#define DDM_F_FUA                                                              \
	(1u << 0) /* WRITE, TRIM, WRITE_ZEROES: durable at completion */
#define DDM_F_NO_HOLE (1u << 1) /* WRITE_ZEROES: leave the range allocated */
#define DDM_F_FAST_ZERO                                                        \
	(1u << 2) /* WRITE_ZEROES: fail -ENOTSUP rather than be slow */

/* Capabilities, declared once by ddm_ops.open in ddm_dev.caps. */
#define DDM_CAP_FLUSH	  (1u << 0) /* FLUSH does something (volatile cache) */
#define DDM_CAP_FUA	  (1u << 1) /* native DDM_F_FUA on writes */
#define DDM_CAP_TRIM	  (1u << 2) /* DDM_OP_TRIM */
#define DDM_CAP_ZEROES	  (1u << 3) /* native DDM_OP_WRITE_ZEROES */
#define DDM_CAP_FAST_ZERO (1u << 4) /* honours DDM_F_FAST_ZERO truthfully */
#define DDM_CAP_EXTENTS	  (1u << 5) /* ddm_ops.extents reports holes */
#define DDM_CAP_CACHE	  (1u << 6) /* DDM_OP_CACHE does something */
#define DDM_CAP_MULTI_CONN                                                     \
	(1u << 7) /* a flush on one connection covers writes                   \
		   * completed on every other connection */
#define DDM_CAP_EXTENTS_CHEAP                                                  \
	(1u << 8) /* extents answers from memory, fast                         \
		   * enough to consult on every read                           \
		   * (sparse reads); file's lseek is not */

/*
 * One DDM-specific setting, KEY=VALUE: the export spec's "?KEY=VALUE&..."
 * or the config object's "options".  See ddm_ops.configure.
 */
struct ddm_option {
	const char *key;
	const char *value;
};

/*
 * How an export spec's text after "NAME:" is read, for the DDM called NAME
 * (ddm_ops.spec_arg).  The management channel parses every spec the same
 * way through this (mgmt_config.c), so a new DDM names its own form here
 * rather than in the management code.
 */
enum ddm_spec_arg {
	DDM_SPEC_PATH = 0, /* a path: ddm_open_args.path (file:, bdev:) */
	DDM_SPEC_SIZE,	   /* a size such as 1G: size_bytes (ram:, null:) */
	DDM_SPEC_OPTION,   /* the value of the option ddm_ops.spec_key,
			    * handed to configure like any other (rbd:
			    * pool/image@snap is image=pool/image@snap) */
	DDM_SPEC_WRAP,	   /* another spec, whose device this DDM wraps; its
			    * DDM's name arrives as the option "inner" (fault:) */
};

/*
 * What the operator asked for: the parsed export specification.  Strings
 * belong to the caller and are valid only during ddm_ops.open.
 */
struct ddm_open_args {
	const char *path;    /* file, bdev: the path; NULL for ram, null */
	uint64_t size_bytes; /* ram, null: the size; file: create/extend to this
			      * size if non-zero */
	bool read_only;	     /* open the backing store read-only */
	int direct;	     /* file, bdev: 1 = O_DIRECT required, 0 = never,
			      * -1 = use it where the file system allows it */
	/* DDM-specific settings, handed to ddm_ops.configure one by one by
	 * ddm_dev_open before open; none when n_options is 0. */
	const struct ddm_option *options;
	unsigned int n_options;
};

/*
 * A device.  The IOP allocates it, with ops->dev_priv_size bytes behind
 * `priv`, and frees it after ops->close.
 */
struct ddm_dev {
	const struct ddm_ops *ops;
	const char *name; /* for log messages; owned by the IOP */
	/* Set by ops->open: */
	uint64_t size_bytes;
	uint32_t caps;		  /* DDM_CAP_* */
	uint32_t block_size_min;  /* smallest I/O unit, bytes (1 if any) */
	uint32_t block_size_pref; /* preferred I/O size, bytes */
	uint32_t block_size_max;  /* largest single request, bytes; 0 = no limit
				   */
	bool read_only;		  /* the backing store cannot be written */
	/* How FUA writes and flushes become durable, for operators
	 * ("fua:RWF_DSYNC flush:fdatasync"); static.  NULL: derived from
	 * caps by the Local Transport. */
	const char *durability;
	void *priv; /* ops->dev_priv_size bytes, zeroed */
};

/*
 * One request.  The Local Transport owns it (it lives inside a request
 * slot of the connection); the DDM borrows it and the buffers in iov until it
 * calls ddm_req_complete() exactly once, on req->loop's thread, or
 * ddm_req_complete_foreign() exactly once from any thread.  Completion may
 * happen inside submit (the RAM and null DDMs do so) or later from a
 * base_io completion on req->loop.
 */
struct ddm_req {
	struct ddm_dev *dev;
	struct base_loop *loop; /* the submitting worker's loop */
	enum ddm_op op;
	uint32_t flags; /* DDM_F_* */
	uint64_t offset;
	uint64_t len;
	struct iovec *iov; /* READ, WRITE: buffers covering exactly len bytes */
	int iovcnt;
	/* Called by ddm_req_complete; set by the Local Transport. */
	void (*done)(struct ddm_req *req, int result);
	void *priv; /* ops->req_priv_size bytes for the DDM's own use */
	/* ddm_req_complete_foreign's link and result; the DDM leaves them
	 * alone. */
	struct base_msg foreign;
	int foreign_result;
};

/* Finish a request: result is 0 or -errno.  Call exactly once, on
 * req->loop's thread. */
static inline void ddm_req_complete(struct ddm_req *req, int result)
{
	req->done(req, result);
}

/*
 * Finish a request from a thread that is not req->loop's (a storage
 * library's callback thread): result is 0 or -errno.  The request is
 * queued on its worker's lock-free list (base_loop_send, through
 * req->foreign: no allocation, no lock) and the worker calls
 * ddm_req_complete for it on its own thread, reaping every request
 * queued meanwhile in one pass after one eventfd wake-up.  Call exactly
 * once, instead of ddm_req_complete; the request must not be touched
 * after it.  The DDM must keep the device open until the call returns
 * (close comes only after every request is complete, so it does).
 */
void ddm_req_complete_foreign(struct ddm_req *req, int result);

/* Extent flags, as NBD base:allocation means them. */
#define DDM_EXTENT_HOLE (1u << 0) /* not allocated */
#define DDM_EXTENT_ZERO (1u << 1) /* reads as zeroes */

struct ddm_extent {
	uint64_t len;
	uint32_t flags; /* DDM_EXTENT_* */
};

/*
 * Metadata shared by every process that opens the same storage (an RBD
 * image's own metadata), for state the gateways exporting it must agree
 * on: SCSI persistent reservations.  One record per device, versioned so
 * that updates race safely, and a notification channel between the
 * processes.  Optional (ddm_ops.shared NULL: the storage is this
 * process's alone).  Every call may block on the network: not from a
 * worker's I/O path.  Any thread while the device is open.
 */
typedef void ddm_shared_cb(void *arg, uint64_t notify_id, const char *msg,
			   size_t len);

struct ddm_shared_ops {
	/* The record (malloc'd, NUL-terminated; the caller frees it) and
	 * its version.  -ENOENT: never written (version 0). */
	int (*get)(struct ddm_dev *dev, char **text, uint64_t *version);
	/* Replace the record with text as version expect + 1, only if its
	 * version is still expect: -ESTALE otherwise.  Atomic: a reader,
	 * in any process, sees the old record or the new one. */
	int (*set)(struct ddm_dev *dev, const char *text, uint64_t expect);
	/* Hear the other processes' notifications: cb(arg, id, msg, len)
	 * on a thread of the DDM's; each must be answered, once, by ack(id),
	 * from any thread, when the message has been acted upon.  id 0 (no
	 * ack) says notifications may have been missed (the channel broke
	 * and was re-established): reread the record.  One watcher per
	 * device; unwatch returns once no callback runs any more. */
	int (*watch)(struct ddm_dev *dev, ddm_shared_cb *cb, void *arg);
	void (*unwatch)(struct ddm_dev *dev);
	void (*ack)(struct ddm_dev *dev, uint64_t notify_id);
	/* Send msg to every other process watching the device and wait
	 * until each has acknowledged it, at most timeout_ms: 0, or
	 * -ETIMEDOUT when one did not answer in time. */
	int (*notify)(struct ddm_dev *dev, const char *msg, size_t len,
		      unsigned int timeout_ms);
};

/* One device ddm_ops.list found; strings valid during the callback. */
struct ddm_listed {
	const char *name;	/* "img" */
	const char *spec_value; /* spec_key's value to open it: "rbd/img" */
	uint64_t size_bytes;
	bool read_only;
};

typedef void (*ddm_list_fn)(void *arg, const struct ddm_listed *dev);

struct ddm_ops {
	const char *name; /* "file", "bdev", "ram", "null", "rbd" */
	size_t dev_priv_size;
	size_t req_priv_size;

	/* The export spec "NAME:ARG": how ARG is read, the option it sets
	 * for DDM_SPEC_OPTION, and one line for `iopd --help`: the spec,
	 * two spaces or more, what it is ("rbd:POOL/IMAGE[@SNAP]  a Ceph
	 * RBD image"; --help aligns the second column; NULL: not listed). */
	enum ddm_spec_arg spec_arg;
	const char *spec_key;
	const char *spec_help;
	/* The keys configure takes, NULL-terminated: ddm_dev_open refuses
	 * any other, naming these, before configure sees it.  NULL: the
	 * DDM's configure decides alone (fault's rules). */
	const char *const *option_keys;

	/*
	 * Open the backing store described by args and fill in dev's size,
	 * caps, block sizes and read_only.  Main or management thread (see
	 * the file comment).  Returns 0 or -errno, having logged why,
	 * naming dev->name.
	 */
	int (*open)(struct ddm_dev *dev, const struct ddm_open_args *args);

	/*
	 * Release everything open acquired.  No request is in flight.  Main,
	 * management or a worker thread: whichever drops the last reference
	 * (see the file comment).  It may block that thread briefly.
	 */
	void (*close)(struct ddm_dev *dev);

	/*
	 * Make every completed write durable, synchronously (fdatasync).
	 * The IOP calls it on a writable device before close, on close's
	 * thread, so stopping iopd or removing an export is a flush point;
	 * the management thread also calls it on removal of an export
	 * (requests of other exports of the device may then be in flight).
	 * The calling thread may block.  Optional (NULL: nothing is
	 * volatile).  Returns 0 or -errno.
	 */
	int (*sync)(struct ddm_dev *dev);

	/*
	 * Take one DDM-specific setting (nbdkit's .config): ddm_dev_open
	 * calls it for each of ddm_open_args.options, in order, after
	 * dev->priv is allocated (zeroed) and before open.  Main or
	 * management thread.  An unknown key or a bad value is logged,
	 * naming dev->name, and returns -EINVAL.  Optional (NULL: the DDM
	 * takes no settings, and ddm_dev_open refuses any).  close() is not
	 * called if open() is never reached or fails, so what configure
	 * allocates must be freed by open's failure path too.
	 */
	int (*configure)(struct ddm_dev *dev, const char *key,
			 const char *value);

	/*
	 * An operator's command to the device, from the management channel
	 * (RPC device.control, `iopctl device control`): verb and arg (NULL
	 * when none was given) are the DDM's own words.  The reply is
	 * KEY=VALUE lines, written to reply (reply_len bytes, always
	 * NUL-terminated, "" when there is nothing to say).  Management
	 * thread, while requests may be in flight on every worker: thread
	 * safe against submit.  Optional (NULL: the Local Transport answers
	 * -ENOTSUP).  Returns 0 or -errno (-EINVAL: unknown verb or bad
	 * arg), having logged why.
	 */
	int (*control)(struct ddm_dev *dev, const char *verb, const char *arg,
		       char *reply, size_t reply_len);

	/* Start req; see struct ddm_req.  Any worker thread. */
	void (*submit)(struct ddm_req *req);

	/*
	 * Describe the allocation of [offset, offset+len) as at most *n_ext
	 * extents in ext[], in order and without gaps, starting at offset.
	 * They may stop short of offset+len but must cover at least one
	 * byte.  Sets *n_ext to the number filled.  Synchronous and quick;
	 * any worker thread.  Optional (DDM_CAP_EXTENTS).  Returns 0 or
	 * -errno.
	 */
	int (*extents)(struct ddm_dev *dev, uint64_t offset, uint64_t len,
		       struct ddm_extent *ext, unsigned int *n_ext);

	/*
	 * Make the device size_bytes long (a multiple of block_size_min)
	 * and set dev->size_bytes; new space reads as zeroes.  Management
	 * thread.  Requests may be in flight unless resize_idle_only, in
	 * which case the Local Transport calls it only while no session is
	 * open.  Optional (NULL: the size is fixed).  Returns 0 or -errno,
	 * having logged why.
	 */
	int (*resize)(struct ddm_dev *dev, uint64_t size_bytes);
	bool resize_idle_only;

	/*
	 * Zero-copy reads: the bytes of [offset, offset+len) can be taken
	 * straight from the file *fd at *fd_offset (sendfile) by whoever
	 * sends them, at the moment they send them.  Only for devices whose
	 * reads cannot fail or block (files on memory file systems).
	 * Optional (NULL: never); any worker thread.  Returns 0 or
	 * -ENOTSUP.
	 */
	int (*read_source)(struct ddm_dev *dev, uint64_t offset, uint64_t len,
			   int *fd, uint64_t *fd_offset);

	/* Metadata shared with other processes (above); NULL: none. */
	const struct ddm_shared_ops *shared;
	/*
	 * Discovery: the devices a storage pool holds (rbd: the images of
	 * pool=), named by options as configure takes them, each handed to
	 * found without being opened for I/O.  Each is then opened as this
	 * DDM with the same options plus spec_key=spec_value.  Management
	 * thread (the Local Transport's scan); may block, for no longer
	 * than the DDM's own timeouts.  Optional (NULL: nothing to list).
	 * Returns 0 or -errno, having logged why.
	 */
	int (*list)(const struct ddm_option *options, unsigned int n_options,
		    ddm_list_fn found, void *arg);
};

/* The DDMs built in; ddm_find("ram") returns &ddm_ram_ops or NULL;
 * ddm_at(i) the i-th (NULL past the last), ddm_names their names, space
 * separated, in buf ("null ram file bdev fault rbd"), returning buf. */
extern const struct ddm_ops ddm_null_ops;
extern const struct ddm_ops ddm_ram_ops;
extern const struct ddm_ops ddm_file_ops;
extern const struct ddm_ops ddm_bdev_ops;
extern const struct ddm_ops ddm_fault_ops;
extern const struct ddm_ops ddm_rbd_ops;
const struct ddm_ops *ddm_find(const char *name);
const struct ddm_ops *ddm_at(unsigned int i);
const char *ddm_names(char *buf, size_t len);

/*
 * Open dev (dev->ops and dev->name set, dev->priv allocated and zeroed):
 * hand args->options to ops->configure, then call ops->open.  What the IOP
 * calls, and what a DDM that wraps another (fault) calls for its inner
 * device.  Main or management thread.  Returns 0 or -errno after logging.
 */
int ddm_dev_open(struct ddm_dev *dev, const struct ddm_open_args *args);

/*
 * Split text ("KEY=VALUE&KEY=VALUE", a URL query) in place into at most
 * max options (a KEY without '=' gets the value "1"); *n gets how many.
 * Returns 0, or -EINVAL for an empty key, -E2BIG for more than max.
 */
int ddm_options_split(char *text, struct ddm_option *opts, unsigned int max,
		      unsigned int *n);

/* A zero-filled, read-only page-aligned buffer of DDM_ZERO_BUF_BYTES, for
 * emulating WRITE_ZEROES and for sparse reads. */
#define DDM_ZERO_BUF_BYTES (1024 * 1024)
extern const unsigned char ddm_zero_buf[DDM_ZERO_BUF_BYTES];

#endif
