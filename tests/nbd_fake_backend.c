// SPDX-License-Identifier: MIT
/*
 * nbd_fake_backend: see nbd_fake_backend.h.  A storage stub for tests of
 * the NBD engine, implementing iop_desc_ops over memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_fake_backend.h"

struct fake_session {
	struct fake_dev *dev;
	bool read_only;
};

static struct fake_backend *fake_of(struct iop_desc *desc)
{
	return desc->ctx;
}

static int fake_session_open(struct iop_desc *desc, unsigned int dev_index,
			     bool read_only, struct iop_session **sessionp)
{
	struct fake_backend *fb = fake_of(desc);
	struct fake_session *s;

	if (dev_index >= fb->n_devs)
		return -ENODEV;
	if (fb->devs[dev_index].fail_open)
		return fb->devs[dev_index].fail_open;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dev = &fb->devs[dev_index];
	s->read_only = read_only || s->dev->read_only;
	s->dev->sessions_open++;
	*sessionp = (struct iop_session *)s;
	return 0;
}

static void fake_session_close(struct iop_session *session)
{
	struct fake_session *s = (struct fake_session *)session;

	s->dev->sessions_open--;
	free(s);
}

static void fake_session_info(const struct iop_session *session,
			      struct iop_dev_info *info)
{
	const struct fake_session *s = (const struct fake_session *)session;
	const struct fake_dev *dev = s->dev;

	info->size_bytes = dev->size_bytes;
	info->caps = dev->caps;
	info->block_size_min = dev->block_min;
	info->block_size_pref = dev->block_pref;
	info->max_request_bytes = dev->max_request_bytes;
	info->read_only = s->read_only;
}

static size_t fake_msg_size(const struct iop_session *session)
{
	return sizeof(struct iop_msg) + 64;
}

static void fake_msg_init(struct iop_session *session, struct iop_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->session = session;
}

static void fake_mark(struct fake_dev *dev, uint64_t offset, uint64_t len,
		      bool allocated)
{
	uint64_t first, end;

	if (allocated) {
		first = offset / FAKE_BLOCK_BYTES;
		end = (offset + len + FAKE_BLOCK_BYTES - 1) / FAKE_BLOCK_BYTES;
	} else {
		/* Only whole blocks become holes. */
		first = (offset + FAKE_BLOCK_BYTES - 1) / FAKE_BLOCK_BYTES;
		end = (offset + len) / FAKE_BLOCK_BYTES;
		for (uint64_t b = first; b < end; b++)
			memset(dev->data + b * FAKE_BLOCK_BYTES, 0,
			       FAKE_BLOCK_BYTES);
	}
	for (uint64_t b = first; b < end; b++)
		dev->alloc[b] = allocated;
}

static int fake_copy(struct iop_msg *msg, unsigned char *data, bool to_dev)
{
	uint64_t done = 0;

	for (int i = 0; i < msg->iovcnt; i++) {
		size_t n = msg->iov[i].iov_len;

		if (done + n > msg->len)
			return -EINVAL;
		if (to_dev)
			memcpy(data + done, msg->iov[i].iov_base, n);
		else
			memcpy(msg->iov[i].iov_base, data + done, n);
		done += n;
	}
	return done == msg->len ? 0 : -EINVAL;
}

static int fake_execute(struct fake_dev *dev, struct fake_session *s,
			struct iop_msg *msg)
{
	unsigned char *at = dev->data + msg->offset;
	bool writes = msg->op == DDM_OP_WRITE || msg->op == DDM_OP_TRIM ||
		      msg->op == DDM_OP_WRITE_ZEROES;
	int ret;

	if (dev->fail_next) {
		ret = dev->fail_next;
		dev->fail_next = 0;
		return ret;
	}
	/* What a Local Transport checks again. */
	if (msg->offset > dev->size_bytes ||
	    msg->len > dev->size_bytes - msg->offset)
		return -EINVAL;
	if (writes && s->read_only)
		return -EPERM;
	switch (msg->op) {
	case DDM_OP_READ:
		return fake_copy(msg, at, false);
	case DDM_OP_WRITE:
		ret = fake_copy(msg, at, true);
		if (ret == 0)
			fake_mark(dev, msg->offset, msg->len, true);
		return ret;
	case DDM_OP_TRIM:
		fake_mark(dev, msg->offset, msg->len, false);
		return 0;
	case DDM_OP_WRITE_ZEROES:
		if ((msg->flags & DDM_F_FAST_ZERO) &&
		    !(dev->caps & DDM_CAP_FAST_ZERO))
			return -ENOTSUP;
		memset(at, 0, msg->len);
		fake_mark(dev, msg->offset, msg->len,
			  msg->flags & DDM_F_NO_HOLE);
		return 0;
	case DDM_OP_FLUSH:
	case DDM_OP_CACHE:
		return 0;
	default:
		return -EINVAL;
	}
}

static void fake_submit(struct iop_session *session, struct iop_msg *msg)
{
	struct fake_session *s = (struct fake_session *)session;
	struct fake_dev *dev = s->dev;
	struct fake_op *op = &dev->log[dev->n_log++ % FAKE_LOG];

	op->op = msg->op;
	op->flags = msg->flags;
	op->offset = msg->offset;
	op->len = msg->len;
	if (dev->defer && dev->n_pending < FAKE_MAX_PENDING) {
		dev->pending[dev->n_pending++] = msg;
		return;
	}
	msg->done(msg, fake_execute(dev, s, msg));
}

static int fake_extents(struct iop_session *session, uint64_t offset,
			uint64_t len, struct ddm_extent *ext,
			unsigned int *n_ext)
{
	struct fake_session *s = (struct fake_session *)session;
	struct fake_dev *dev = s->dev;
	uint64_t end = offset + len;
	unsigned int n = 0;

	dev->n_extents_calls++;
	if (offset > dev->size_bytes || len > dev->size_bytes - offset ||
	    len == 0)
		return -EINVAL;
	if (!(dev->caps & DDM_CAP_EXTENTS)) {
		ext[0].len = len;
		ext[0].flags = 0;
		*n_ext = 1;
		return 0;
	}
	while (offset < end && n < *n_ext) {
		bool a = dev->alloc[offset / FAKE_BLOCK_BYTES];
		uint64_t next = offset;

		while (next < end && dev->alloc[next / FAKE_BLOCK_BYTES] == a)
			next = (next / FAKE_BLOCK_BYTES + 1) * FAKE_BLOCK_BYTES;
		if (next > end)
			next = end;
		ext[n].len = next - offset;
		ext[n].flags = a ? 0 : DDM_EXTENT_HOLE | DDM_EXTENT_ZERO;
		n++;
		offset = next;
	}
	*n_ext = n;
	return 0;
}

static const struct iop_desc_ops fake_desc_ops = {
	.session_open = fake_session_open,
	.session_close = fake_session_close,
	.session_info = fake_session_info,
	.msg_size = fake_msg_size,
	.msg_init = fake_msg_init,
	.submit = fake_submit,
	.extents = fake_extents,
};

static const struct conn_export *fake_find(void *opaque, const char *name)
{
	struct fake_backend *fb = opaque;

	if (fb->n_devs > 0 && name[0] == '\0')
		return &fb->exports[0];
	for (unsigned int i = 0; i < fb->n_devs; i++)
		if (strcmp(fb->exports[i].name, name) == 0)
			return &fb->exports[i];
	return NULL;
}

static unsigned int fake_count(void *opaque)
{
	return ((struct fake_backend *)opaque)->n_devs;
}

static const struct conn_export *fake_at(void *opaque, unsigned int i)
{
	struct fake_backend *fb = opaque;

	return i < fb->n_devs ? &fb->exports[i] : NULL;
}

void fake_backend_init(struct fake_backend *fb)
{
	memset(fb, 0, sizeof(*fb));
	fb->desc.ops = &fake_desc_ops;
	fb->desc.ctx = fb;
	fb->desc.name = "fake";
	fb->table.find = fake_find;
	fb->table.count = fake_count;
	fb->table.at = fake_at;
	fb->table.opaque = fb;
}

void fake_backend_fini(struct fake_backend *fb)
{
	for (unsigned int i = 0; i < fb->n_devs; i++) {
		free(fb->devs[i].data);
		free(fb->devs[i].alloc);
	}
}

struct fake_dev *fake_backend_add(struct fake_backend *fb, const char *name,
				  const char *description, uint64_t size_bytes,
				  uint32_t caps, bool read_only)
{
	struct fake_dev *dev = &fb->devs[fb->n_devs];
	struct conn_export *exp = &fb->exports[fb->n_devs];

	if (fb->n_devs == FAKE_MAX_DEVS)
		abort();
	dev->size_bytes = size_bytes;
	dev->caps = caps;
	dev->block_min = 1;
	dev->block_pref = 4096;
	dev->read_only = read_only;
	dev->data = calloc(1, size_bytes + 1);
	dev->alloc = calloc(1, size_bytes / FAKE_BLOCK_BYTES + 1);
	if (!dev->data || !dev->alloc)
		abort();
	exp->name = name;
	exp->description = description;
	exp->desc = &fb->desc;
	exp->dev_index = fb->n_devs;
	exp->read_only = false;
	fb->n_devs++;
	return dev;
}

void fake_complete(struct fake_dev *dev, unsigned int i, int result)
{
	struct iop_msg *msg;
	struct fake_session *s;

	if (i >= dev->n_pending)
		return;
	msg = dev->pending[i];
	memmove(&dev->pending[i], &dev->pending[i + 1],
		(dev->n_pending - i - 1) * sizeof(dev->pending[0]));
	dev->n_pending--;
	s = (struct fake_session *)msg->session;
	if (result == 0)
		result = fake_execute(dev, s, msg);
	msg->done(msg, result);
}

void fake_complete_all(struct fake_dev *dev)
{
	while (dev->n_pending > 0)
		fake_complete(dev, dev->n_pending - 1, 0);
}

const struct fake_op *fake_last_op(const struct fake_dev *dev, unsigned int n)
{
	return &dev->log[(dev->n_log - 1 - n) % FAKE_LOG];
}
