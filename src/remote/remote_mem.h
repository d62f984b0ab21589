/* SPDX-License-Identifier: MIT */
/*
 * remote_mem: the daemon-wide budget for request buffers behind the
 * frame's remote_engine_mem_* calls (remote_engine.h); private to the
 * Remote Transport box.  The public side (the budget's size, its
 * figures for the metrics) is in iopd/remote_stats.h.
 */
#ifndef IOPD_REMOTE_MEM_H
#define IOPD_REMOTE_MEM_H

#include "remote/remote_engine.h"

/* Leave the daemon budget's waiting list, if on it (engine teardown). */
void remote_engine_mem_unwait(struct remote_engine *e);

/* Some connection waits for room in the daemon budget. */
bool remote_mem_contended(void);

#endif
