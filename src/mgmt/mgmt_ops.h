/* SPDX-License-Identifier: MIT */
/*
 * Daemon hygiene that main.c asks for at each step of its life: where
 * logs go, the metrics endpoint, the first discovery scan, and telling
 * the service manager (sd_notify) that iopd is ready, what it is doing
 * and that it is stopping.  Outside systemd (no NOTIFY_SOCKET) the
 * notifications do nothing.
 */
#ifndef IOPD_MGMT_OPS_H
#define IOPD_MGMT_OPS_H

#include <stdbool.h>

struct mgmt_config;

/* After the command line is parsed (and after daemonising): apply
 * --log-target; --daemon without one means syslog. */
void mgmt_ops_log_setup(struct mgmt_config *cfg, bool daemon);
/* Before ready: bind and start the metrics endpoint if configured, and
 * scan for discovery candidates.  Returns 0 or -errno after logging. */
int mgmt_ops_start(struct mgmt_config *cfg);
/* At ready: "LISTEN metrics tcp H:P" lines on ready_fd (if >= 0; before
 * main.c writes READY), then READY=1 and a STATUS= line to systemd. */
void mgmt_ops_ready(struct mgmt_config *cfg, int ready_fd);
/* Shutdown has begun: STOPPING=1.  A connmgr_stop_set hook (arg
 * unused). */
void mgmt_ops_stopping(void *arg);
/* Stop the metrics endpoint. */
void mgmt_ops_stop(struct mgmt_config *cfg);
/* SIGHUP: the metrics endpoint reads its key pair and basic-auth file
 * again (mgmt_metrics_reload). */
void mgmt_ops_reload(struct mgmt_config *cfg);

#endif
