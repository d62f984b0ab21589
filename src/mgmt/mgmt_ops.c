// SPDX-License-Identifier: MIT
/*
 * Daemon hygiene (mgmt_ops.h): log target, metrics endpoint, the first
 * discovery scan, and sd_notify(3) through libsystemd.  Notifications are
 * sent with sd_notify(0, ...), which keeps NOTIFY_SOCKET in the
 * environment for later ones and does nothing when it is unset.
 */
#include <errno.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_metrics.h"
#include "mgmt/mgmt_ops.h"

void mgmt_ops_log_setup(struct mgmt_config *cfg, bool daemon)
{
	const struct mgmt_ops *ops = cfg->ops;
	enum mgmt_log_target target =
		daemon ? MGMT_LOG_SYSLOG : MGMT_LOG_STDERR;

	if (ops && ops->log_target_set)
		target = ops->log_target;
	if (target == MGMT_LOG_SYSLOG)
		base_log_use_syslog("iopd");
	else if (target == MGMT_LOG_JOURNAL)
		base_log_use_journal();
}

int mgmt_ops_start(struct mgmt_config *cfg)
{
	struct mgmt_ops *ops = mgmt_ops_get(cfg);
	struct mgmt_metrics_limits limits = {
		.clients = cfg->metrics_clients,
		.clients_per_ip = cfg->metrics_clients_per_ip,
		.timeout_ms = cfg->metrics_timeout_ms,
		.tls_dir = cfg->metrics_tls ? cfg->tls_certificates : NULL,
		.auth_file = cfg->metrics_auth,
	};
	unsigned int n_free = 0;
	int ret;

	if (!ops)
		return -ENOMEM;
	/* "On start and on rescan": a later rescan then reports what
	 * appeared since start-up. */
	if (!ops->discovery &&
	    local_discover_scan(&ops->discover, &ops->discovery) == 0) {
		for (unsigned int i = 0; i < ops->discovery->n; i++)
			n_free +=
				local_cand_exportable(&ops->discovery->cands[i],
						      false) == 0;
		log_info("discovery: %u candidates, %u free to export",
			 ops->discovery->n, n_free);
	}
	if (!ops->metrics_listen)
		return 0;
	if (cfg->metrics_tls && !cfg->tls_certificates) {
		log_error("--metrics-tls needs --tls-certificates DIR (its "
			  "server-cert.pem and server-key.pem)");
		return -EINVAL;
	}
	ret = mgmt_metrics_start(ops->metrics_listen, &limits, &ops->metrics);
	if (ret < 0)
		ops->metrics = NULL;
	return ret;
}

void mgmt_ops_ready(struct mgmt_config *cfg, int ready_fd)
{
	struct mgmt_metrics *m = cfg->ops ? cfg->ops->metrics : NULL;
	char line[256];

	for (unsigned int i = 0; i < mgmt_metrics_listeners(m); i++) {
		if (mgmt_metrics_describe(m, i, line, sizeof(line)) < 0)
			continue;
		log_info("metrics on %s/metrics", line);
		if (ready_fd >= 0)
			dprintf(ready_fd, "LISTEN metrics %s\n", line);
	}
	sd_notify(0, "READY=1\nSTATUS=serving");
}

void mgmt_ops_stopping(void *arg)
{
	sd_notify(0, "STOPPING=1\nSTATUS=draining connections");
}

void mgmt_ops_stop(struct mgmt_config *cfg)
{
	if (!cfg->ops)
		return;
	mgmt_metrics_stop(cfg->ops->metrics);
	cfg->ops->metrics = NULL;
}

void mgmt_ops_reload(struct mgmt_config *cfg)
{
	if (cfg->ops)
		mgmt_metrics_reload(cfg->ops->metrics);
}
