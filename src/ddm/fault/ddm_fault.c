// SPDX-License-Identifier: MIT
/*
 * The fault DDM: a wrapper around another DDM (the inner device) that
 * injects errors and latency, and can put a volatile write cache in front
 * of it, for tests and for operators' fault drills.  It is how the test
 * suite proves that iopd loses nothing it acknowledged: what is flushed
 * survives a simulated crash, what is not flushed does not, and failed
 * flushes reach the client.
 *
 * Settings (ddm_ops.configure; the export spec "fault:ram:1G?KEY=VALUE&..."
 * or the config object's "options"):
 *   inner=DDM        the wrapped DDM (the spec's "fault:DDM:..." sets it);
 *                    it gets the export's path, size, read-only and direct
 *   volatile=1       the write cache (ddm_fault_cache.c)
 *   block=BYTES      its block, 512 to 64K (default 4K, or the inner
 *                    device's minimum if larger): the device's I/O unit
 *   read=, write=, flush=, trim=, write_zeroes=   injection rules
 *   delay=MS, seed=N (ddm_fault_rules.c)
 *   anything else    the inner DDM's own (fault:rbd:POOL/IMAGE's image=,
 *                    conf=, id=...), handed to it in order when it opens
 * Control verbs (ddm_ops.control, `iopctl device control EXPORT VERB`):
 *   crash            drop every cached block, as a power cut would
 *   set K=V[&K=V..]  change rules (not inner or volatile) while running
 *   clear            remove every rule (the seed stays)
 *   stats            counters, cache occupancy and the rules
 *
 * Without volatile=1 and rules the device behaves as its inner one, except
 * that it always offers FLUSH (so flush failures can be injected on any
 * inner DDM) and never EXTENTS_CHEAP (so every read reaches the rules).
 * With volatile=1 it offers FLUSH and FUA, TRIM and ZEROES (all in the
 * cache), and the cache's block as its minimum I/O size.
 *
 * Completion: every outer request is completed exactly once, from submit,
 * from the inner request's completion, from a latency timer (a timerfd
 * read on the submitting worker's loop) or, for a write-back that another
 * worker's round performed, posted to the submitting worker's loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base_log.h"
#include "ddm/fault/ddm_fault.h"

static void fault_posted_complete(void *arg)
{
	struct fault_req *fr = arg;

	ddm_req_complete(fr->outer, fr->result);
}

void fault_post(struct base_loop *loop, void (*fn)(void *arg), void *arg)
{
	struct timespec pause = { .tv_nsec = 1000000 };

	/* Running fn on this thread instead would break the worker's
	 * single-thread state; a post is a small allocation, so wait for
	 * memory. */
	while (base_loop_post(loop, fn, arg) < 0)
		nanosleep(&pause, NULL);
}

void fault_complete_from(struct fault_req *fr, struct base_loop *here,
			 int result)
{
	if (fr->outer->loop == here) {
		ddm_req_complete(fr->outer, result);
		return;
	}
	fr->result = result;
	fault_post(fr->outer->loop, fault_posted_complete, fr);
}

/* Pass-through ------------------------------------------------------------ */

static void fault_pass_done(struct ddm_req *in, int result)
{
	struct fault_req *fr =
		(struct fault_req *)((char *)in -
				     offsetof(struct fault_req, inner));

	if (fr->cut_idx >= 0) {
		fr->outer->iov[fr->cut_idx].iov_len = fr->cut_len;
		if (result == 0)
			result = fr->fate.error;
	}
	ddm_req_complete(fr->outer, result);
}

/* Shorten the inner request to its first half (whole inner blocks): the
 * iovec where it ends is cut and restored at completion.  Returns the
 * bytes left, 0 when nothing would be written. */
static uint64_t fault_pass_cut(struct fault_req *fr, uint32_t block)
{
	struct ddm_req *in = &fr->inner;
	uint64_t half = in->len / 2 / block * block, sum = 0;
	int i = 0;

	if (!half)
		return 0;
	while (sum + in->iov[i].iov_len < half)
		sum += in->iov[i++].iov_len;
	fr->cut_idx = i;
	fr->cut_len = in->iov[i].iov_len;
	in->iov[i].iov_len = half - sum;
	in->iovcnt = i + 1;
	in->len = half;
	return half;
}

static void fault_pass(struct fault_req *fr)
{
	struct ddm_req *out = fr->outer;
	struct fault_dev *fd = out->dev->priv;

	if (out->op == DDM_OP_FLUSH && !(fd->inner.caps & DDM_CAP_FLUSH)) {
		ddm_req_complete(out, 0); /* offered only to inject into */
		return;
	}
	fr->inner = (struct ddm_req){
		.dev = &fd->inner,
		.loop = out->loop,
		.op = out->op,
		.flags = out->flags,
		.offset = out->offset,
		.len = out->len,
		.iov = out->iov,
		.iovcnt = out->iovcnt,
		.done = fault_pass_done,
		.priv = fr->inner_priv,
	};
	fr->cut_idx = -1;
	if (fr->fate.partial &&
	    !fault_pass_cut(fr, fd->inner.block_size_min ?: 1)) {
		ddm_req_complete(out, fr->fate.error);
		return;
	}
	fd->inner_ops->submit(&fr->inner);
}

/* After the delay, if any: fail, serve from the cache, or pass on. */
static void fault_start(struct fault_req *fr)
{
	struct fault_dev *fd = fr->outer->dev->priv;

	if (fr->fate.error && !fr->fate.partial)
		ddm_req_complete(fr->outer, fr->fate.error);
	else if (fd->is_volatile)
		fault_cache_submit(fr);
	else
		fault_pass(fr);
}

static void fault_timer_done(struct base_io *io, int result)
{
	struct fault_req *fr = io->data;

	close(fr->timer_fd);
	fr->timer_fd = -1;
	fault_start(fr);
}

static int fault_timer_start(struct fault_req *fr)
{
	unsigned int ms = fr->fate.delay_ms;
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000 },
	};
	int tfd, ret;

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0)
		return -errno;
	if (timerfd_settime(tfd, 0, &its, NULL) < 0) {
		ret = -errno;
		close(tfd);
		return ret;
	}
	memset(&fr->timer_io, 0, sizeof(fr->timer_io));
	fr->timer_fd = tfd;
	ret = base_io_read(fr->outer->loop, &fr->timer_io, tfd, &fr->timer_buf,
			   sizeof(fr->timer_buf), fault_timer_done, fr);
	if (ret < 0) {
		close(tfd);
		fr->timer_fd = -1;
	}
	return ret;
}

static void fault_submit(struct ddm_req *req)
{
	struct fault_dev *fd = req->dev->priv;
	struct fault_req *fr = req->priv;
	unsigned int op = (unsigned int)req->op;
	int ret;

	fr->outer = req;
	pthread_mutex_lock(&fd->lock);
	fault_rules_decide(&fd->rules, req, &fr->fate);
	if (op < FAULT_N_OPS) {
		fd->stats.requests[op]++;
		if (fr->fate.error)
			fd->stats.injected[op]++;
	}
	if (fr->fate.delay_ms)
		fd->stats.delayed++;
	pthread_mutex_unlock(&fd->lock);
	if (fr->fate.delay_ms) {
		ret = fault_timer_start(fr);
		if (ret == 0)
			return;
		log_warn("%s: fault: no latency timer: %s", req->dev->name,
			 strerror(-ret));
		ddm_req_complete(req, ret);
		return;
	}
	fault_start(fr);
}

/* Opening ------------------------------------------------------------------ */

static int fault_bool_parse(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") ||
	    !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") ||
		 !strcmp(v, "false"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* Not a fault setting: the inner DDM's, which judges it when it opens
 * (ddm_dev_open names the keys it takes). */
static int fault_inner_opt_add(struct fault_dev *fd, const char *key,
			       const char *value)
{
	struct ddm_option *o;

	o = realloc(fd->inner_opts, (fd->n_inner_opts + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	fd->inner_opts = o;
	o = &o[fd->n_inner_opts];
	o->key = strdup(key);
	o->value = strdup(value);
	if (!o->key || !o->value) {
		free((char *)o->key);
		free((char *)o->value);
		return -ENOMEM;
	}
	fd->n_inner_opts++;
	return 0;
}

static int fault_configure_one(struct ddm_dev *dev, const char *key,
			       const char *value)
{
	struct fault_dev *fd = dev->priv;
	int ret;

	if (!fd->rules_ready) {
		fault_rules_init(&fd->rules);
		fd->rules_ready = true;
	}
	if (!strcmp(key, "inner")) {
		if (!value[0] || strlen(value) >= sizeof(fd->inner_name)) {
			log_error("%s: fault: inner=%s: expected a DDM name",
				  dev->name, value);
			return -EINVAL;
		}
		strcpy(fd->inner_name, value);
		return 0;
	}
	if (!strcmp(key, "volatile")) {
		if (fault_bool_parse(value, &fd->is_volatile) == 0)
			return 0;
		log_error("%s: fault: volatile=%s: expected 1 or 0", dev->name,
			  value);
		return -EINVAL;
	}
	if (!strcmp(key, "block")) {
		uint64_t bs;

		if (fault_size_parse(value, &bs) == 0 && bs >= 512 &&
		    bs <= 65536 && !(bs & (bs - 1))) {
			fd->cache_block_req = (uint32_t)bs;
			return 0;
		}
		log_error("%s: fault: block=%s: expected a power of two from "
			  "512 to 64K",
			  dev->name, value);
		return -EINVAL;
	}
	ret = fault_rules_set(&fd->rules, key, value, dev->name);
	if (ret == -ENOENT)
		ret = fault_inner_opt_add(fd, key, value);
	return ret;
}

/* What configure collected for the inner device goes once it is open, or
 * on any failure before (close is not called then). */
static void fault_inner_opts_free(struct fault_dev *fd)
{
	for (unsigned int i = 0; i < fd->n_inner_opts; i++) {
		free((char *)fd->inner_opts[i].key);
		free((char *)fd->inner_opts[i].value);
	}
	free(fd->inner_opts);
	fd->inner_opts = NULL;
	fd->n_inner_opts = 0;
}

static int fault_configure(struct ddm_dev *dev, const char *key,
			   const char *value)
{
	int ret = fault_configure_one(dev, key, value);

	if (ret < 0)
		fault_inner_opts_free(dev->priv);
	return ret;
}

/* What the device offers; see the file comment. */
static int fault_declare(struct ddm_dev *dev, struct fault_dev *fd)
{
	const struct ddm_dev *in = &fd->inner;
	uint32_t bs = fd->cache_block_req ? fd->cache_block_req
					  : FAULT_CACHE_BLOCK_DEFAULT;

	if (in->block_size_min > bs && !fd->cache_block_req)
		bs = in->block_size_min;

	dev->size_bytes = in->size_bytes;
	dev->read_only = in->read_only;
	dev->block_size_min = in->block_size_min ? in->block_size_min : 1;
	dev->block_size_pref = in->block_size_pref;
	dev->block_size_max = in->block_size_max;
	if (!fd->is_volatile) {
		dev->caps = (in->caps & ~DDM_CAP_EXTENTS_CHEAP) | DDM_CAP_FLUSH;
		dev->durability = in->durability;
		return 0;
	}
	if ((bs & (bs - 1)) || bs > FAULT_WB_BYTES ||
	    bs % (in->block_size_min ? in->block_size_min : 1) ||
	    (in->block_size_max && in->block_size_max < bs)) {
		log_error("%s: fault: volatile: a cache block of %u bytes does "
			  "not suit the inner device's %u",
			  dev->name, bs, in->block_size_min);
		return -EINVAL;
	}
	fd->cache.block_bytes = bs;
	dev->size_bytes = in->size_bytes / bs * bs;
	dev->block_size_min = bs;
	if (dev->block_size_pref < bs)
		dev->block_size_pref = bs;
	dev->block_size_pref = dev->block_size_pref / bs * bs;
	dev->caps = DDM_CAP_FLUSH | DDM_CAP_FUA | DDM_CAP_TRIM |
		    DDM_CAP_ZEROES | DDM_CAP_MULTI_CONN;
	snprintf(fd->durability, sizeof(fd->durability),
		 "fua:cache-write-through flush:cache-write-back+%s",
		 in->caps & DDM_CAP_FLUSH ? "inner-flush" : "none");
	dev->durability = fd->durability;
	return 0;
}

static int fault_open_inner(struct ddm_dev *dev, struct fault_dev *fd,
			    const struct ddm_open_args *args)
{
	const struct ddm_ops *ops = ddm_find(fd->inner_name);
	struct ddm_open_args inner_args = *args;

	if (!fd->inner_name[0]) {
		log_error("%s: fault: which device does it wrap?  Give "
			  "inner=DDM (fault:ram:1G, fault:file:PATH)",
			  dev->name);
		return -EINVAL;
	}
	if (!ops || ops == &ddm_fault_ops) {
		log_error("%s: fault: inner=%s: no such DDM in this build%s",
			  dev->name, fd->inner_name,
			  ops ? " (fault cannot wrap itself)" : "");
		return -EINVAL;
	}
	if (ops->req_priv_size > FAULT_INNER_PRIV_MAX) {
		log_error("%s: fault: inner %s needs %zu bytes per request, "
			  "more than the %d reserved",
			  dev->name, ops->name, ops->req_priv_size,
			  FAULT_INNER_PRIV_MAX);
		return -EINVAL;
	}
	fd->inner_ops = ops;
	fd->inner.ops = ops;
	fd->inner.name = dev->name;
	fd->inner.block_size_min = 1;
	fd->inner.priv = calloc(1, ops->dev_priv_size ? ops->dev_priv_size : 1);
	if (!fd->inner.priv)
		return -ENOMEM;
	inner_args.options = fd->inner_opts;
	inner_args.n_options = fd->n_inner_opts;
	return ddm_dev_open(&fd->inner, &inner_args);
}

static int fault_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	struct fault_dev *fd = dev->priv;
	int ret;

	if (!fd->rules_ready) {
		fault_rules_init(&fd->rules);
		fd->rules_ready = true;
	}
	ret = fault_open_inner(dev, fd, args);
	fault_inner_opts_free(fd);
	if (ret < 0)
		goto err_free_inner;
	fd->inner_open = true;
	ret = fault_declare(dev, fd);
	if (ret == 0 && fd->is_volatile)
		ret = fault_cache_init(fd);
	if (ret < 0)
		goto err_close_inner;
	ret = -pthread_mutex_init(&fd->lock, NULL);
	if (ret < 0)
		goto err_fini_cache;
	log_debug("%s: fault: over %s%s, %" PRIu64 " bytes", dev->name,
		  fd->inner_ops->name,
		  fd->is_volatile ? " with a volatile cache" : "",
		  dev->size_bytes);
	return 0;

err_fini_cache:
	if (fd->is_volatile)
		fault_cache_fini(fd);
err_close_inner:
	fd->inner_ops->close(&fd->inner);
	fd->inner_open = false;
err_free_inner:
	free(fd->inner.priv);
	fd->inner.priv = NULL;
	return ret;
}

static void fault_close(struct ddm_dev *dev)
{
	struct fault_dev *fd = dev->priv;

	if (fd->is_volatile) {
		if (fd->cache.n_dirty)
			log_warn("%s: fault: closed with %" PRIu64
				 " bytes never written back: lost",
				 dev->name,
				 (uint64_t)fd->cache.n_dirty *
					 fd->cache.block_bytes);
		fault_cache_fini(fd);
	}
	if (fd->inner_open)
		fd->inner_ops->close(&fd->inner);
	free(fd->inner.priv);
	pthread_mutex_destroy(&fd->lock);
	memset(fd, 0, sizeof(*fd));
}

static int fault_sync(struct ddm_dev *dev)
{
	struct fault_dev *fd = dev->priv;
	int ret = 0;

	if (fd->is_volatile)
		ret = fault_cache_sync(fd);
	if (ret == 0 && fd->inner_ops->sync && !fd->inner.read_only)
		ret = fd->inner_ops->sync(&fd->inner);
	return ret;
}

static int fault_extents(struct ddm_dev *dev, uint64_t offset, uint64_t len,
			 struct ddm_extent *ext, unsigned int *n_ext)
{
	struct fault_dev *fd = dev->priv;

	return fd->inner_ops->extents(&fd->inner, offset, len, ext, n_ext);
}

/* Control ------------------------------------------------------------------ */

static void fault_stats_format(struct fault_dev *fd, char *buf, size_t len)
{
	const struct fault_stats *s = &fd->stats;
	const struct fault_cache *c = &fd->cache;
	size_t n;

	n = (size_t)snprintf(
		buf, len,
		"volatile=%d\ndirty_bytes=%" PRIu64 "\ncached_bytes=%" PRIu64
		"\ndelayed=%" PRIu64 "\ncrashes=%" PRIu64
		"\nlost_bytes=%" PRIu64 "\nwritten_back_bytes=%" PRIu64
		"\nwritebacks=%" PRIu64 "\nwriteback_errors=%" PRIu64 "\n",
		fd->is_volatile, (uint64_t)c->n_dirty * c->block_bytes,
		(uint64_t)c->n_blocks * c->block_bytes, s->delayed, s->crashes,
		s->lost_bytes, s->written_back_bytes, s->writebacks,
		s->writeback_errors);
	for (unsigned int op = 0; op < FAULT_N_OPS; op++)
		n += (size_t)snprintf(
			buf + (n < len ? n : len), n < len ? len - n : 0,
			"requests.%s=%" PRIu64 "\ninjected.%s=%" PRIu64 "\n",
			fault_op_name(op), s->requests[op], fault_op_name(op),
			s->injected[op]);
	fault_rules_describe(&fd->rules, buf + (n < len ? n : len),
			     n < len ? len - n : 0);
}

/* "K=V&K=V": every setting is checked before any applies. */
static int fault_ctl_set(struct ddm_dev *dev, struct fault_dev *fd,
			 const char *arg)
{
	struct ddm_option opts[16];
	struct fault_rules scratch;
	char text[1024];
	unsigned int n = 0;
	int ret;

	if (arg && strlen(arg) < sizeof(text)) {
		strcpy(text, arg);
		if (ddm_options_split(text, opts, 16, &n) < 0)
			n = 0;
	}
	if (!n) {
		log_error("%s: fault: set: expected KEY=VALUE[&KEY=VALUE...]",
			  dev->name);
		return -EINVAL;
	}
	pthread_mutex_lock(&fd->lock);
	scratch = fd->rules;
	pthread_mutex_unlock(&fd->lock);
	for (unsigned int i = 0; i < n; i++) {
		ret = fault_rules_set(&scratch, opts[i].key, opts[i].value,
				      dev->name);
		if (ret == -ENOENT) {
			log_error("%s: fault: set: \"%s\" cannot be changed "
				  "while open (read, write, flush, trim, "
				  "write_zeroes, delay, seed can)",
				  dev->name, opts[i].key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	pthread_mutex_lock(&fd->lock);
	for (unsigned int i = 0; i < n; i++)
		fault_rules_set(&fd->rules, opts[i].key, opts[i].value,
				dev->name);
	pthread_mutex_unlock(&fd->lock);
	log_info("%s: fault: set %s", dev->name, arg);
	return 0;
}

static int fault_control(struct ddm_dev *dev, const char *verb, const char *arg,
			 char *reply, size_t reply_len)
{
	struct fault_dev *fd = dev->priv;
	uint64_t seed, lost;
	int ret = 0;

	reply[0] = 0;
	if (!strcmp(verb, "crash")) {
		lost = fault_cache_crash(fd);
		log_warn("%s: fault: simulated crash: %" PRIu64
			 " bytes of unflushed writes dropped",
			 dev->name, lost);
		snprintf(reply, reply_len, "lost_bytes=%" PRIu64 "\n", lost);
		return 0;
	}
	if (!strcmp(verb, "set"))
		ret = fault_ctl_set(dev, fd, arg);
	else if (!strcmp(verb, "clear")) {
		pthread_mutex_lock(&fd->lock);
		seed = fd->rules.seed;
		fault_rules_init(&fd->rules);
		fd->rules.seed = fd->rules.prng = seed;
		pthread_mutex_unlock(&fd->lock);
		log_info("%s: fault: rules cleared", dev->name);
	} else if (strcmp(verb, "stats")) {
		log_error("%s: fault: unknown verb \"%s\" (crash, set, clear, "
			  "stats)",
			  dev->name, verb);
		return -EINVAL;
	}
	if (ret == 0) {
		pthread_mutex_lock(&fd->lock);
		fault_stats_format(fd, reply, reply_len);
		pthread_mutex_unlock(&fd->lock);
	}
	return ret;
}

const struct ddm_ops ddm_fault_ops = {
	.name = "fault",
	.spec_arg = DDM_SPEC_WRAP,
	.spec_help = "fault:SPEC    SPEC's device with injected faults",
	.dev_priv_size = sizeof(struct fault_dev),
	.req_priv_size = sizeof(struct fault_req),
	.configure = fault_configure,
	.open = fault_open,
	.close = fault_close,
	.sync = fault_sync,
	.control = fault_control,
	.submit = fault_submit,
	.extents = fault_extents,
};
