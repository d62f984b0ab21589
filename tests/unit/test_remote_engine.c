// SPDX-License-Identifier: MIT
/*
 * The protocol engines' frame (remote_engine.c), its output cursor
 * (remote_tx.c) and the socket side (remote_stream.c), under a toy line
 * protocol: input split anywhere, payloads received in place, the output
 * queue and its acknowledgement, deferred kicks, backpressure, failing,
 * and one connection over a socketpair on each event loop engine.
 *
 * The toy protocol, one request per line:
 *   X      a protocol error
 *   W<n>   n payload bytes follow, received in place; answered "ok"
 *   S      a reply of the protocol's own kind (two iovecs)
 *   F      a reply whose second piece is file bytes
 *   L      the last reply ("bye"): input ends
 *   other  echoed back
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base_loop.h"
#include "remote/remote_engine.h"
#include "remote/remote_stream.h"
#include "remote/remote_tx.h"
#include "test.h"

#define TOY_TX_SLOT 1

struct toy {
	struct remote_engine e;
	bool direct;
	char payload[64];
	size_t want, got;
	size_t pause_above; /* rx_paused past this many block bytes; 0: never */
	struct remote_tx slot;
	struct iovec slot_iov[2];
	unsigned int releases, eofs, destroyed;
	bool eof_was_open;
	unsigned int kicks;
	int kick_depth; /* e.depth when tx_ready last ran */
};

static struct toy *toy_of(struct remote_engine *e)
{
	return (struct toy *)e;
}

static int toy_slot(struct toy *t, bool file)
{
	static char head[] = "sl", tail[] = "ot\n";

	if (t->slot.queued)
		return remote_engine_fail(&t->e, -EBUSY, "slot busy");
	memset(&t->slot, 0, sizeof(t->slot));
	t->slot.kind = TOY_TX_SLOT;
	t->slot_iov[0] = (struct iovec){ head, 2 };
	t->slot_iov[1] = (struct iovec){ file ? NULL : tail, file ? 10 : 3 };
	t->slot.iov = t->slot_iov;
	t->slot.iovcnt = 2;
	if (file) {
		t->slot.has_file = true;
		t->slot.file_iov = 1;
		t->slot.file_fd = 42;
		t->slot.file_off = 100;
	}
	remote_engine_tx_push(&t->e, &t->slot);
	return 1;
}

static int toy_write(struct toy *t, const char *line)
{
	size_t avail = t->e.rend - t->e.rstart;

	t->want = strtoul(line + 1, NULL, 10);
	if (t->want > sizeof(t->payload))
		return remote_engine_fail(&t->e, -EMSGSIZE, "too big");
	t->got = avail < t->want ? avail : t->want;
	memcpy(t->payload, t->e.rbuf + t->e.rstart, t->got);
	t->e.rstart += t->got;
	if (t->got < t->want)
		t->direct = true;
	else if (remote_engine_tx_bytes(&t->e, "ok\n", 3, NULL, 0) < 0)
		return -ENOMEM;
	return 1;
}

static int toy_last(struct toy *t)
{
	struct remote_tx_block *b = remote_tx_block_new(4);

	if (!b)
		return -ENOMEM;
	memcpy(b->data, "bye\n", 4);
	b->tx.last = true;
	remote_engine_tx_push(&t->e, &b->tx);
	return 1;
}

static bool toy_rx_paused(const struct remote_engine *e)
{
	const struct toy *t = (const struct toy *)e;

	return t->pause_above && e->tx_block_bytes > t->pause_above;
}

static int toy_rx_step(struct remote_engine *e)
{
	struct toy *t = toy_of(e);
	char *p = (char *)e->rbuf + e->rstart;
	char *nl = memchr(p, '\n', e->rend - e->rstart);
	char line[32];
	size_t len;

	if (t->direct || toy_rx_paused(e) || !nl)
		return 0;
	len = (size_t)(nl - p);
	if (len >= sizeof(line))
		return remote_engine_fail(e, -EPROTO, "line too long");
	memcpy(line, p, len);
	line[len] = '\0';
	e->rstart += len + 1;
	switch (line[0]) {
	case 'X':
		return remote_engine_fail(e, -EPROTO, "bad line");
	case 'W':
		return toy_write(t, line);
	case 'S':
	case 'F':
		return toy_slot(t, line[0] == 'F');
	case 'L':
		return toy_last(t);
	}
	if (remote_engine_tx_bytes(e, line, len, "\n", 1) < 0)
		return -ENOMEM;
	return 1;
}

static bool toy_rx_direct(struct remote_engine *e, void **buf, size_t *len)
{
	struct toy *t = toy_of(e);

	if (!t->direct)
		return false;
	*buf = t->payload + t->got;
	*len = t->want - t->got;
	return true;
}

static void toy_rx_direct_done(struct remote_engine *e, size_t n)
{
	struct toy *t = toy_of(e);

	t->got += n < t->want - t->got ? n : t->want - t->got;
	if (t->got < t->want)
		return;
	t->direct = false;
	remote_engine_tx_bytes(e, "ok\n", 3, NULL, 0);
}

static void toy_rx_eof(struct remote_engine *e, bool was_open)
{
	toy_of(e)->eofs++;
	toy_of(e)->eof_was_open = was_open;
}

static void toy_tx_release(struct remote_engine *e, struct remote_tx *tx)
{
	toy_of(e)->releases++;
}

static void toy_destroy(struct remote_engine *e)
{
	toy_of(e)->destroyed++;
	remote_engine_fini(e);
}

static const struct remote_engine_ops toy_ops = {
	.name = "toy",
	.rx_step = toy_rx_step,
	.rx_paused = toy_rx_paused,
	.rx_direct = toy_rx_direct,
	.rx_direct_done = toy_rx_direct_done,
	.rx_eof = toy_rx_eof,
	.tx_release = toy_tx_release,
	.destroy = toy_destroy,
};

static void toy_tx_ready(void *opaque)
{
	struct toy *t = opaque;

	t->kicks++;
	t->kick_depth = t->e.depth;
}

static struct toy T;

static void toy_init(size_t rcap)
{
	memset(&T, 0, sizeof(T));
	CHECK_EQ_INT(remote_engine_init(&T.e, &toy_ops, NULL, rcap), 0);
	T.e.tx_ready = toy_tx_ready;
	T.e.opaque = &T;
}

/* All pending output as a string (at most 255 bytes), acknowledged. */
static const char *toy_drain(void)
{
	static char out[256];
	struct iovec iov[8];
	size_t len = 0;
	int n;

	while ((n = remote_engine_tx_iov(&T.e, iov, 8)) > 0) {
		size_t total = 0;

		for (int i = 0; i < n; i++) {
			if (len + iov[i].iov_len < sizeof(out)) {
				memcpy(out + len, iov[i].iov_base,
				       iov[i].iov_len);
				len += iov[i].iov_len;
			}
			total += iov[i].iov_len;
		}
		remote_engine_tx_done(&T.e, total);
	}
	out[len] = '\0';
	return out;
}

static void test_feed_split(void)
{
	static const char in[] = "hello\nwor";
	const char *rest = "ld\n";

	toy_init(64);
	CHECK(strcmp(T.e.peer, "toy") == 0);
	/* One byte at a time: the frame keeps the partial line. */
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		CHECK_EQ_INT(remote_engine_feed(&T.e, in + i, 1), 1);
	CHECK_EQ_INT(T.kicks, 1);
	CHECK_EQ_INT(T.kick_depth, 0);
	CHECK_EQ_INT(remote_engine_feed(&T.e, rest, strlen(rest)), 3);
	CHECK(strcmp(toy_drain(), "hello\nworld\n") == 0);
	CHECK_EQ_INT(T.e.tx_block_bytes, 0);
	CHECK_EQ_INT(T.e.rstart, 0);
	CHECK_EQ_INT(T.e.rend, 0);
	CHECK(!remote_engine_finished(&T.e));
	remote_engine_rx_eof(&T.e);
	CHECK(T.eof_was_open);
	remote_engine_rx_eof(&T.e);
	CHECK_EQ_INT(T.eofs, 2);
	CHECK(!T.eof_was_open);
	CHECK(remote_engine_finished(&T.e));
	remote_engine_destroy(&T.e);
	CHECK_EQ_INT(T.destroyed, 1);
}

/* Many requests in one read: one kick, after the entry point returns. */
static void test_kick_deferred(void)
{
	static const char in[] = "a\nb\nc\n";

	toy_init(64);
	CHECK_EQ_INT(remote_engine_feed(&T.e, in, sizeof(in) - 1), 6);
	CHECK_EQ_INT(T.kicks, 1);
	CHECK_EQ_INT(T.kick_depth, 0);
	/* Output queued while the queue is not empty asks for nothing. */
	CHECK_EQ_INT(remote_engine_feed(&T.e, "d\n", 2), 2);
	CHECK_EQ_INT(T.kicks, 1);
	/* Inside a protocol's own entry point, the kick waits for leave. */
	remote_engine_enter(&T.e);
	remote_engine_kick(&T.e);
	CHECK_EQ_INT(T.kicks, 1);
	remote_engine_leave(&T.e);
	CHECK_EQ_INT(T.kicks, 2);
	CHECK(strcmp(toy_drain(), "a\nb\nc\nd\n") == 0);
	remote_engine_destroy(&T.e);
}

/* Partial acknowledgements move the cursor inside and across entries. */
static void test_queue_ack(void)
{
	struct iovec iov[8];
	int n;

	toy_init(64);
	remote_engine_feed(&T.e, "ab\nS\n", 5);
	n = remote_engine_tx_iov(&T.e, iov, 8);
	CHECK_EQ_INT(n, 3); /* "ab\n", "sl", "ot\n" */
	CHECK_EQ_INT(T.e.tx_block_bytes, 3);
	remote_engine_tx_done(&T.e, 2);
	n = remote_engine_tx_iov(&T.e, iov, 8);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(iov[0].iov_len, 1);
	CHECK(memcmp(iov[0].iov_base, "\n", 1) == 0);
	/* Only one iovec asked for: only one given. */
	CHECK_EQ_INT(remote_engine_tx_iov(&T.e, iov, 1), 1);
	remote_engine_tx_done(&T.e, 2); /* the block and "s" */
	CHECK_EQ_INT(T.e.tx_block_bytes, 0);
	CHECK_EQ_INT(T.releases, 0);
	CHECK(T.slot.queued);
	n = remote_engine_tx_iov(&T.e, iov, 8);
	CHECK_EQ_INT(n, 2);
	CHECK(memcmp(iov[0].iov_base, "l", 1) == 0);
	remote_engine_tx_done(&T.e, 4);
	CHECK_EQ_INT(T.releases, 1);
	CHECK(!T.slot.queued);
	CHECK(T.e.tx_head == NULL);
	CHECK_EQ_INT(remote_engine_tx_iov(&T.e, iov, 8), 0);
	remote_engine_destroy(&T.e);
}

/* File bytes at the front go by tx_file, in order with the iovecs. */
static void test_tx_file(void)
{
	struct iovec iov[8];
	uint64_t off;
	size_t len;
	int fd;

	toy_init(64);
	remote_engine_feed(&T.e, "F\n", 2);
	CHECK(!remote_engine_tx_file(&T.e, &fd, &off, &len));
	CHECK_EQ_INT(remote_engine_tx_iov(&T.e, iov, 8), 1);
	remote_engine_tx_done(&T.e, 2);
	CHECK_EQ_INT(remote_engine_tx_iov(&T.e, iov, 8), 0);
	CHECK(remote_engine_tx_file(&T.e, &fd, &off, &len));
	CHECK_EQ_INT(fd, 42);
	CHECK_EQ_INT(off, 100);
	CHECK_EQ_INT(len, 10);
	remote_engine_tx_done(&T.e, 4);
	CHECK(remote_engine_tx_file(&T.e, &fd, &off, &len));
	CHECK_EQ_INT(off, 104);
	CHECK_EQ_INT(len, 6);
	remote_engine_tx_done(&T.e, 6);
	CHECK_EQ_INT(T.releases, 1);
	CHECK(!remote_engine_tx_file(&T.e, &fd, &off, &len));
	remote_engine_destroy(&T.e);
}

/* A payload lands in the protocol's buffer, not the receive buffer. */
static void test_direct_payload(void)
{
	void *buf;
	size_t len;

	toy_init(64);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "W10\n0123", 8), 8);
	CHECK(T.direct);
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK(buf == T.payload + 4);
	CHECK_EQ_INT(len, 6);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "45", 2), 2);
	/* The rest of the payload and the next line in one feed. */
	CHECK_EQ_INT(remote_engine_feed(&T.e, "6789hi\n", 7), 7);
	CHECK(!T.direct);
	CHECK(memcmp(T.payload, "0123456789", 10) == 0);
	CHECK(strcmp(toy_drain(), "ok\nhi\n") == 0);
	remote_engine_destroy(&T.e);
}

/* rx_read_max caps a read into the receive buffer, not one in place. */
static void test_rx_read_max(void)
{
	void *buf;
	size_t len;

	toy_init(64);
	T.e.rx_read_max = 5;
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK_EQ_INT(len, 5);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "W10\n0", 5), 5);
	CHECK(T.direct);
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK(buf == T.payload + 1);
	CHECK_EQ_INT(len, 9);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "123456789", 9), 9);
	CHECK(!T.direct);
	T.e.rx_read_max = 0;
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK_EQ_INT(len, 64);
	CHECK(strcmp(toy_drain(), "ok\n") == 0);
	remote_engine_destroy(&T.e);
}

/* Paused input stops the feed; an acknowledgement resumes it and parses
 * what waited in the buffer. */
static void test_backpressure(void)
{
	void *buf;
	size_t len;
	unsigned int kicks;

	toy_init(64);
	T.pause_above = 4;
	CHECK_EQ_INT(remote_engine_feed(&T.e, "abcd\nef\n", 8), 8);
	/* "abcd\n" put 5 block bytes out: "ef" waits in the buffer. */
	CHECK_EQ_INT(T.e.tx_block_bytes, 5);
	CHECK_EQ_INT(T.e.rend - T.e.rstart, 3);
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK_EQ_INT(len, 0);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "gh\n", 3), 0);
	kicks = T.kicks;
	remote_engine_tx_done(&T.e, 5);
	CHECK_EQ_INT(T.kicks, kicks + 1);
	CHECK_EQ_INT(T.e.tx_block_bytes, 3);
	CHECK(strcmp(toy_drain(), "ef\n") == 0);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "gh\n", 3), 3);
	CHECK(strcmp(toy_drain(), "gh\n") == 0);
	remote_engine_destroy(&T.e);
}

/* Room that comes free outside tx_done: the next rx_buf parses. */
static void test_reparse(void)
{
	void *buf;
	size_t len;

	toy_init(64);
	T.pause_above = 4;
	remote_engine_feed(&T.e, "abcd\nef\n", 8);
	T.pause_above = 0;
	T.e.reparse = true;
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK(!T.e.reparse);
	CHECK_EQ_INT(T.e.rend, 0);
	CHECK(buf == T.e.rbuf);
	CHECK_EQ_INT(len, 64);
	CHECK(strcmp(toy_drain(), "abcd\nef\n") == 0);
	remote_engine_destroy(&T.e);
}

/* A protocol error: the output so far still goes, input stops. */
static void test_fail(void)
{
	void *buf;
	size_t len;

	toy_init(64);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "ok\nX\nlost\n", 10), -EPROTO);
	CHECK(T.e.failed);
	CHECK(T.e.rx_closed);
	remote_engine_rx_buf(&T.e, &buf, &len);
	CHECK_EQ_INT(len, 0);
	CHECK_EQ_INT(remote_engine_rx_done(&T.e, 1), -EPROTO);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "more\n", 5), 0);
	CHECK(!remote_engine_finished(&T.e));
	CHECK(strcmp(toy_drain(), "ok\n") == 0);
	CHECK(remote_engine_finished(&T.e));
	/* Failing again keeps the first error's state and logs nothing. */
	CHECK_EQ_INT(remote_engine_fail(&T.e, -EIO, "again"), -EIO);
	remote_engine_destroy(&T.e);
}

/* A reply marked last ends input at once and the conversation once
 * sent; requests in flight hold the end back. */
static void test_last(void)
{
	toy_init(64);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "L\nafter\n", 8), 8);
	CHECK(T.e.rx_closed);
	CHECK(!T.e.failed);
	T.e.inflight = 1;
	CHECK(strcmp(toy_drain(), "bye\n") == 0);
	CHECK(T.e.closing);
	CHECK(!remote_engine_finished(&T.e));
	T.e.inflight = 0;
	CHECK(remote_engine_finished(&T.e));
	remote_engine_destroy(&T.e);
}

/* Destroying with output queued frees the blocks and unqueues the rest. */
static void test_fini_queued(void)
{
	toy_init(8);
	CHECK_EQ_INT(remote_engine_feed(&T.e, "ab\nS\n", 5), 5);
	CHECK(T.slot.queued);
	CHECK_EQ_INT(remote_engine_rx_reserve(&T.e, 4), 0);
	CHECK_EQ_INT(T.e.rcap, 8);
	CHECK_EQ_INT(remote_engine_rx_reserve(&T.e, 100), 0);
	CHECK_EQ_INT(T.e.rcap, 100);
	remote_engine_destroy(&T.e);
	CHECK(!T.slot.queued);
	CHECK(T.e.tx_head == NULL);
	CHECK(T.e.rbuf == NULL);
}

/* remote_tx.c: gathering stops before a file iovec; acks walk iovecs. */
static void test_tx_cursor(void)
{
	struct iovec in[3] = { { "abc", 3 }, { NULL, 5 }, { "de", 2 } };
	struct iovec out[4];
	size_t done_bytes = 1, sent;
	int n = 0, done_iov = 0;

	CHECK(!remote_tx_gather(in, 3, 0, 1, 1, out, &n, 4));
	CHECK_EQ_INT(n, 1);
	CHECK(memcmp(out[0].iov_base, "bc", 2) == 0);
	n = 0;
	CHECK(remote_tx_gather(in, 3, 0, 1, -1, out, &n, 2));
	CHECK_EQ_INT(n, 2);
	sent = 4;
	CHECK(!remote_tx_ack(in, 3, &done_iov, &done_bytes, &sent));
	CHECK_EQ_INT(done_iov, 1);
	CHECK_EQ_INT(done_bytes, 2);
	CHECK_EQ_INT(sent, 0);
	sent = 10;
	CHECK(remote_tx_ack(in, 3, &done_iov, &done_bytes, &sent));
	CHECK_EQ_INT(sent, 5);
}

/* ---- remote_stream.c over a socketpair ---- */

struct toy_conn {
	struct remote_conn rc;
	struct toy toy;
	struct base_loop *loop;
	bool closed;
};

static void toy_conn_free(void *arg)
{
	struct toy_conn *c = arg;

	remote_stream_release(&c->rc.s);
}

static void toy_conn_pump(struct remote_conn *rc)
{
	struct toy_conn *c = (struct toy_conn *)rc;

	remote_stream_pump(&rc->s);
	if (rc->s.close_posted || rc->s.rx_busy || rc->s.tx_busy ||
	    !remote_engine_finished(rc->s.engine))
		return;
	remote_stream_post_free(&rc->s, toy_conn_free, c);
}

static void toy_conn_tx_ready(void *opaque)
{
	toy_conn_pump(opaque);
}

static void toy_conn_closed(void *opaque, struct remote_conn *conn)
{
	struct toy_conn *c = opaque;

	c->closed = true;
	base_loop_stop(c->loop);
}

/* The peer sends requests and closes; the connection answers, sees the
 * end and closes itself. */
static void stream_echo(enum base_engine engine)
{
	static const char in[] = "one\nW3\nxyztwo\nS\n";
	struct toy_conn c = { 0 };
	struct remote_conn_args args = { 0 };
	char out[64];
	ssize_t n, got = 0;
	int sv[2];

	if (base_loop_create(&c.loop, engine, 16) < 0) {
		printf("# %s engine unavailable: skipped\n",
		       base_engine_name(engine));
		return;
	}
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	args.rx_fd = args.tx_fd = sv[0];
	args.loop = c.loop;
	args.peer = "peer";
	args.closed = toy_conn_closed;
	args.opaque = &c;
	remote_stream_init(&c.rc.s, toy_conn_pump, &c.rc, &args);
	CHECK_EQ_INT(remote_engine_init(&c.toy.e, &toy_ops, c.rc.s.peer, 64),
		     0);
	c.toy.e.tx_ready = toy_conn_tx_ready;
	c.toy.e.opaque = &c.rc;
	c.rc.s.engine = &c.toy.e;
	CHECK_EQ_INT(write(sv[1], in, sizeof(in) - 1), sizeof(in) - 1);
	shutdown(sv[1], SHUT_WR);
	toy_conn_pump(&c.rc);
	base_loop_run(c.loop);
	CHECK(c.closed);
	CHECK_EQ_INT(c.toy.destroyed, 1);
	CHECK_EQ_INT(c.toy.eofs, 1);
	while ((n = read(sv[1], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	CHECK(strcmp(out, "one\nok\ntwo\nslot\n") == 0);
	close(sv[1]);
	base_loop_destroy(c.loop);
}

static void test_stream_epoll(void)
{
	stream_echo(BASE_ENGINE_EPOLL);
}

static void test_stream_uring(void)
{
	stream_echo(BASE_ENGINE_URING);
}

int main(void)
{
	alarm(60); /* a stream test that never ends fails, not hangs */
	TEST_CASE(test_feed_split);
	TEST_CASE(test_kick_deferred);
	TEST_CASE(test_queue_ack);
	TEST_CASE(test_tx_file);
	TEST_CASE(test_direct_payload);
	TEST_CASE(test_rx_read_max);
	TEST_CASE(test_backpressure);
	TEST_CASE(test_reparse);
	TEST_CASE(test_fail);
	TEST_CASE(test_last);
	TEST_CASE(test_fini_queued);
	TEST_CASE(test_tx_cursor);
	TEST_CASE(test_stream_epoll);
	TEST_CASE(test_stream_uring);
	return test_done();
}
