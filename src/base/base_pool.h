/* SPDX-License-Identifier: MIT */
/*
 * base_pool: the fallback engine's blocking-call pool.  Each epoll loop
 * owns one pool of BASE_POOL_THREADS threads, started on first use so
 * loops that only move sockets never spawn any.  Jobs are struct base_io
 * (linked through engine_next); results come back on a done list and the
 * loop's wake eventfd is made readable.  The pool never runs callbacks.
 */
#ifndef IOPD_BASE_POOL_H
#define IOPD_BASE_POOL_H

#include "base/base_loop.h"

#define BASE_POOL_THREADS 4

struct base_pool;

int base_pool_create(struct base_pool **poolp, int wake_fd);
/* Joins the threads.  Jobs still queued are dropped; a stream job parked
 * waiting for its fd is abandoned without running. */
void base_pool_destroy(struct base_pool *pool);
/* Queue io (any op; stream ops wait for readiness with poll first).
 * Returns 0 or -errno when no thread can be started. */
int base_pool_submit(struct base_pool *pool, struct base_io *io);
/* Take every finished job, oldest first; result in io->engine_result. */
struct base_io *base_pool_take_done(struct base_pool *pool);

#endif
