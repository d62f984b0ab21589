// SPDX-License-Identifier: MIT
/*
 * The option schema (mgmt_schema.h): the table, and the one parser per
 * type that the command line and the config file share.  What an
 * option does with a value beyond storing it (an iSCSI portal, a log
 * target) stays with its owner (mgmt_config_iscsi.c, mgmt_config_ops.c),
 * reached through set() or load().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_fdlimit.h"
#include "base/base_log.h"
#include "iopd/iscsi.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_path.h"
#include "mgmt/mgmt_schema.h"

#define MGMT_STR_(x)   #x
#define MGMT_STR(x)    MGMT_STR_(x)
#define MGMT_AT(field) offsetof(struct mgmt_config, field)

static const char *const mgmt_engine_names[] = { "auto", "uring", "epoll",
						 NULL };
static const char *const mgmt_direct_names[] = { "auto", "off", "on", NULL };
static const char *const mgmt_sandbox_names[] = { "off", "on", NULL };
static const char *const mgmt_level_names[] = { "error", "warn", "info",
						"debug", NULL };

/* In enum remote_tls_mode's order. */
static const char *const mgmt_tls_names[] = { "off", "on", "require", NULL };

static int mgmt_tls_parse(const char *text, int *value)
{
	for (int i = 0; mgmt_tls_names[i]; i++)
		if (!strcmp(text, mgmt_tls_names[i])) {
			*value = i;
			return 0;
		}
	return -EINVAL;
}

static int mgmt_engine_parse(const char *text, int *value)
{
	enum base_engine e;

	if (base_engine_parse(text, &e) < 0)
		return -EINVAL;
	*value = (int)e;
	return 0;
}

static int mgmt_level_parse(const char *text, int *value)
{
	enum base_log_level l;

	if (base_log_parse_level(text, &l) < 0)
		return -EINVAL;
	*value = (int)l;
	return 0;
}

static int mgmt_sandbox_parse(const char *text, int *value)
{
	if (!strcmp(text, "on") || !strcmp(text, "true"))
		*value = 1;
	else if (!strcmp(text, "off") || !strcmp(text, "false"))
		*value = 0;
	else
		return -EINVAL;
	return 0;
}

/* --listen replaces the file's addresses; more of them add to it.
 * "none": no NBD listener at all, not even the default one. */
static int mgmt_cli_listen(struct mgmt_config *cfg, const char *addr)
{
	if (!cfg->cli_listen || !strcmp(addr, "none"))
		mgmt_config_clear_listen(cfg);
	cfg->cli_listen = true;
	cfg->no_listen = !strcmp(addr, "none");
	return cfg->no_listen ? 0 : mgmt_config_add_listen(cfg, addr);
}

static int mgmt_cli_no_list(struct mgmt_config *cfg, const char *text)
{
	cfg->list_hidden = true;
	cfg->list_hidden_cli = true;
	return 0;
}

static int mgmt_load_list_exports(struct mgmt_config *cfg, json_t *v)
{
	if (!json_is_boolean(v)) {
		log_error("config: list_exports: expected true or false");
		return -EINVAL;
	}
	cfg->list_hidden = !json_is_true(v);
	return 0;
}

static int mgmt_load_discover(struct mgmt_config *cfg, json_t *v)
{
	return mgmt_ops_load_json(cfg, "discover", v);
}

const struct mgmt_opt mgmt_opts[] = {
	{ .name = "listen",
	  .short_name = 'l',
	  .arg = "ADDR",
	  .key = "listen",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_cli_listen,
	  .load = mgmt_config_load_listen,
	  .help = "HOST:PORT, [V6]:PORT, :PORT or unix:PATH;\n"
		  "repeatable; port 0 picks a free port\n"
		  "(default: localhost:" MGMT_STR(
			  MGMT_DEFAULT_PORT) ");\n"
					     "none: no NBD at all.  Options "
					     "after commas:\n"
					     "allow=CIDR, deny=CIDR (TCP), "
					     "mode=0660,\n"
					     "uid=USER, gid=GROUP (unix:PATH); "
					     "see iopd(8)" },
	{ .name = "no-list-exports",
	  .key = "list_exports",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_cli_no_list,
	  .load = mgmt_load_list_exports,
	  .help = "NBD clients cannot list the exports\n"
		  "(NBD_OPT_LIST: policy error); names work" },
	{ .name = "read-only",
	  .short_name = 'r',
	  .kind = MGMT_OPT_FLAG,
	  .off = MGMT_AT(read_only),
	  .help = "export everything read-only" },
	{ .name = "config",
	  .short_name = 'c',
	  .arg = "FILE",
	  .kind = MGMT_OPT_MAIN,
	  .help = "JSON config file (see iopd(8))" },
	{ .name = "threads",
	  .short_name = 't',
	  .arg = "N",
	  .key = "threads",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(threads),
	  .hi = 1024,
	  .cli_lo = 1,
	  .expect = "1 to 1024",
	  .help = "worker threads (default: one per CPU)" },
	{ .name = "engine",
	  .short_name = 'e',
	  .arg = "ENGINE",
	  .key = "engine",
	  .kind = MGMT_OPT_ENUM,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(engine),
	  .names = mgmt_engine_names,
	  .parse = mgmt_engine_parse,
	  .expect = "auto, uring or epoll",
	  .help = "auto, uring or epoll (env IOPD_ENGINE)" },
	{ .name = "direct",
	  .arg = "MODE",
	  .key = "direct",
	  .kind = MGMT_OPT_ENUM,
	  .flags = MGMT_OPT_RESTART | MGMT_OPT_SAVE_ALL,
	  .off = MGMT_AT(direct),
	  .dflt = -1,
	  .names = mgmt_direct_names,
	  .names_base = -1,
	  .parse = mgmt_direct_parse,
	  .expect = "auto, on or off",
	  .help = "O_DIRECT for files and block devices:\n"
		  "auto (default), on, off" },
	{ .name = "max-request",
	  .arg = "SIZE",
	  .key = "max_request_bytes",
	  .kind = MGMT_OPT_SIZE,
	  .flags = MGMT_OPT_RESTART | MGMT_OPT_SAVE_ALL,
	  .off = MGMT_AT(max_request_bytes),
	  .dflt = CONN_DEFAULT_MAX_REQUEST_BYTES,
	  .lo = 4096,
	  .hi = UINT32_MAX,
	  .expect = "4K to 4G-1",
	  .help = "largest read or write (default 32M)" },
	{ .name = "conn-buffer-budget",
	  .arg = "SIZE",
	  .key = "conn_buffer_budget_bytes",
	  .kind = MGMT_OPT_SIZE,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(conn_buffer_budget_bytes),
	  .dflt = CONN_DEFAULT_BUFFER_BUDGET_BYTES,
	  .lo = 65536,
	  .hi = UINT32_MAX,
	  .expect = "64K to 4G-1",
	  .help = "read and write data one connection may\n"
		  "hold before it stops reading requests\n"
		  "(default 64M; doc/security.md)" },
	{ .name = "buffer-budget",
	  .arg = "SIZE",
	  .key = "buffer_budget_bytes",
	  .kind = MGMT_OPT_SIZE,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(buffer_budget_bytes),
	  .hi = UINT32_MAX,
	  .expect = "0 (automatic) to 4G-1",
	  .help = "the same for all connections together;\n"
		  "requests beyond it wait (default 0: an\n"
		  "eighth of RAM, 256M to 4G-1)" },
	{ .name = "default-export",
	  .arg = "NAME",
	  .key = "default_export",
	  .kind = MGMT_OPT_STR,
	  .off = MGMT_AT(default_export) },
	{ .name = "drain-timeout",
	  .arg = "SECONDS",
	  .key = "drain_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(drain_timeout_ms),
	  .lo = 1,
	  .hi = 3600000,
	  .cli_scale = 1000,
	  .expect = "1 to 3600 seconds",
	  .help = "on SIGTERM, wait this long for\n"
		  "clients to finish (default 10), then\n"
		  "close them and exit 1" },
	{ .name = "max-connections",
	  .arg = "N",
	  .key = "max_connections",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(max_conns),
	  .dflt = CONN_DEFAULT_MAX_CONNS,
	  .hi = 1000000,
	  .expect = "0 to 1000000",
	  .help = "NBD and iSCSI clients at once; more are\n"
		  "refused (default 1024; 0 = no cap)" },
	{ .name = "max-connections-per-address",
	  .arg = "N",
	  .key = "max_connections_per_address",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(max_conns_per_addr),
	  .dflt = CONN_DEFAULT_MAX_CONNS_PER_ADDR,
	  .hi = 1000000,
	  .expect = "0 to 1000000",
	  .help = "of those, from one address (an IPv6 /64)\n"
		  "(default 64; 0 = no cap)" },
	{ .name = "handshake-timeout",
	  .arg = "SECONDS",
	  .key = "handshake_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(handshake_timeout_ms),
	  .dflt = CONN_DEFAULT_HANDSHAKE_TIMEOUT_MS,
	  .hi = 3600000,
	  .cli_scale = 1000,
	  .expect = "0 to 3600 seconds",
	  .help = "close a client whose NBD negotiation or\n"
		  "iSCSI login has not finished by then\n"
		  "(default 10; 0 = never)" },
	{ .name = "max-options",
	  .arg = "N",
	  .key = "max_options",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(max_options),
	  .dflt = CONN_DEFAULT_MAX_OPTIONS,
	  .hi = 1000000,
	  .expect = "0 to 1000000",
	  .help = "NBD options one connection may send\n"
		  "(default 256; 0 = no limit)" },
	{ .name = "payload-timeout",
	  .arg = "SECONDS",
	  .key = "payload_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(payload_timeout_ms),
	  .dflt = CONN_DEFAULT_PAYLOAD_TIMEOUT_MS,
	  .hi = 3600000,
	  .cli_scale = 1000,
	  .expect = "0 to 3600 seconds",
	  .help = "close a client whose request stops\n"
		  "arriving half way for this long\n"
		  "(default 30; 0 = never)" },
	{ .name = "idle-timeout",
	  .arg = "SECONDS",
	  .key = "idle_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(idle_timeout_ms),
	  .hi = 86400000,
	  .cli_scale = 1000,
	  .expect = "0 to 86400 seconds",
	  .help = "close an NBD client with nothing in\n"
		  "flight that sent nothing for this long\n"
		  "(default 0 = never)" },
	{ .name = "iscsi-listen",
	  .arg = "ADDR",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_iscsi_add_cli_listen,
	  .help = "serve iSCSI on this portal (HOST:PORT,\n"
		  "[V6]:PORT or :PORT; default port " MGMT_STR(
			  ISCSI_DEFAULT_PORT) ");\n"
					      "repeatable; iSCSI is off "
					      "without it\n"
					      "(or the config file's "
					      "iscsi.listen)" },
	{ .name = "iscsi-target",
	  .arg = "IQN=EXPORT[,EXPORT...]",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_iscsi_add_target_spec,
	  .help = "an iSCSI target with these exports as\n"
		  "LUNs 0, 1...; repeatable (default: one\n"
		  "target per export, LUN 0)" },
	{ .name = "iqn-prefix",
	  .arg = "IQN",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_iscsi_set_iqn_prefix,
	  .help = "default target names are IQN:EXPORT\n"
		  "(default " ISCSI_DEFAULT_IQN_PREFIX ")" },
	{ .key = "iscsi", .kind = MGMT_OPT_JSON, .load = mgmt_iscsi_load_json },
	{ .name = "pr-dir",
	  .arg = "DIR",
	  .key = "pr_dir",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(pr_dir),
	  .help = "keep the SCSI persistent reservations\n"
		  "that ask to survive a restart (APTPL) in\n"
		  "DIR (default: none; APTPL is refused)" },
	{ .name = "metrics-listen",
	  .arg = "ADDR",
	  .key = "metrics_listen",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_ops_set_metrics_listen,
	  .help = "serve Prometheus metrics at http://ADDR/metrics\n"
		  "(HOST:PORT, [V6]:PORT or :PORT; off by default)" },
	{ .name = "metrics-tls",
	  .key = "metrics_tls",
	  .kind = MGMT_OPT_BOOL,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(metrics_tls),
	  .help = "serve /metrics over HTTPS only, with the\n"
		  "--tls-certificates server key pair\n"
		  "(SIGHUP reads it again)" },
	{ .name = "metrics-auth",
	  .arg = "FILE",
	  .key = "metrics_auth",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(metrics_auth),
	  .help = "/metrics asks for HTTP basic authentication\n"
		  "with one of FILE's user:password lines\n"
		  "(mode 0600 or stricter); SIGHUP reads it again" },
	{ .name = "image-dir",
	  .arg = "DIR",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_ops_add_image_dir,
	  .help = "discovery lists the images in DIR; repeatable" },
	{ .key = "discover",
	  .kind = MGMT_OPT_JSON,
	  .load = mgmt_load_discover },
	{ .name = "log-target",
	  .arg = "WHERE",
	  .key = "log_target",
	  .kind = MGMT_OPT_CALL,
	  .set = mgmt_ops_set_log_target,
	  .help = "stderr (default), syslog (default with\n"
		  "--daemon) or journal" },
	{ .name = "mgmt-socket",
	  .arg = "PATH",
	  .key = "mgmt_socket",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_NONE_OFF,
	  .off = MGMT_AT(mgmt_socket),
	  .help = "serve the management channel (JSON-RPC,\n"
		  "iopctl) on this Unix socket, mode 0600;\n"
		  "none: off (the default)" },
	{ .name = "mgmt-listen",
	  .arg = "HOST:PORT",
	  .key = "mgmt_listen",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_NONE_OFF,
	  .off = MGMT_AT(mgmt_listen),
	  .help = "the management channel over TCP too;\n"
		  "clients authenticate with the token in" },
	{ .name = "mgmt-token-file",
	  .arg = "FILE",
	  .key = "mgmt_token_file",
	  .kind = MGMT_OPT_STR,
	  .off = MGMT_AT(mgmt_token_file),
	  .help = "(mode 0600 or stricter)" },
	{ .name = "mgmt-local-clients",
	  .arg = "N",
	  .key = "mgmt_local_clients",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(mgmt_local_clients),
	  .dflt = MGMT_DEFAULT_LOCAL_CLIENTS,
	  .lo = 1,
	  .hi = MGMT_MAX_CLIENTS,
	  .expect = "1 to " MGMT_STR(MGMT_MAX_CLIENTS),
	  .help = "management clients at once on the Unix\n"
		  "socket (default " MGMT_STR(
			  MGMT_DEFAULT_LOCAL_CLIENTS) "); TCP clients\n"
						      "never take these" },
	{ .name = "mgmt-tcp-clients",
	  .arg = "N",
	  .key = "mgmt_tcp_clients",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(mgmt_tcp_clients),
	  .dflt = MGMT_DEFAULT_TCP_CLIENTS,
	  .lo = 1,
	  .hi = MGMT_MAX_CLIENTS,
	  .expect = "1 to " MGMT_STR(MGMT_MAX_CLIENTS),
	  .help = "management clients at once over TCP\n"
		  "(default " MGMT_STR(MGMT_DEFAULT_TCP_CLIENTS) ")" },
	{ .name = "mgmt-auth-timeout",
	  .arg = "SECONDS",
	  .key = "mgmt_auth_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(mgmt_auth_timeout_ms),
	  .dflt = MGMT_DEFAULT_AUTH_TIMEOUT_MS,
	  .lo = 100,
	  .hi = 3600000,
	  .cli_scale = 1000,
	  .cli_lo = 1,
	  .expect = "1 to 3600 seconds",
	  .help = "close a TCP management client that has\n"
		  "not authenticated by then (default 5)" },
	{ .name = "mgmt-reply-max",
	  .arg = "SIZE",
	  .key = "mgmt_reply_max_bytes",
	  .kind = MGMT_OPT_SIZE,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(mgmt_reply_max_bytes),
	  .dflt = MGMT_DEFAULT_REPLY_MAX_BYTES,
	  .lo = 65536,
	  .hi = 1u << 30,
	  .expect = "64K to 1G",
	  .help = "close a management client whose unread\n"
		  "replies exceed this (default 16M)" },
	{ .name = "mgmt-write-timeout",
	  .arg = "SECONDS",
	  .key = "mgmt_write_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(mgmt_write_timeout_ms),
	  .dflt = MGMT_DEFAULT_WRITE_TIMEOUT_MS,
	  .lo = 100,
	  .hi = 3600000,
	  .cli_scale = 1000,
	  .cli_lo = 1,
	  .expect = "1 to 3600 seconds",
	  .help = "close a management client that reads\n"
		  "none of its reply for this long (default 10)" },
	{ .name = "metrics-clients",
	  .arg = "N",
	  .key = "metrics_clients",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(metrics_clients),
	  .dflt = MGMT_DEFAULT_METRICS_CLIENTS,
	  .lo = 1,
	  .hi = 4096,
	  .expect = "1 to 4096",
	  .help = "HTTP clients of the metrics endpoint at\n"
		  "once (default " MGMT_STR(MGMT_DEFAULT_METRICS_CLIENTS) ")" },
	{ .name = "metrics-clients-per-ip",
	  .arg = "N",
	  .key = "metrics_clients_per_ip",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(metrics_clients_per_ip),
	  .dflt = MGMT_DEFAULT_METRICS_PER_IP,
	  .lo = 1,
	  .hi = 4096,
	  .expect = "1 to 4096",
	  .help = "of those, from one address (default " MGMT_STR(
		  MGMT_DEFAULT_METRICS_PER_IP) ")" },
	{ .name = "metrics-timeout",
	  .arg = "SECONDS",
	  .key = "metrics_timeout_ms",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(metrics_timeout_ms),
	  .dflt = MGMT_DEFAULT_METRICS_TIMEOUT_MS,
	  .lo = 1000,
	  .hi = 3600000,
	  .cli_scale = 1000,
	  .cli_lo = 1,
	  .expect = "1 to 3600 seconds",
	  .help = "close an idle HTTP client after this\n"
		  "(default 10)" },
	{ .name = "fd-reserve",
	  .arg = "N",
	  .key = "fd_reserve",
	  .kind = MGMT_OPT_UINT,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(fd_reserve),
	  .dflt = BASE_FD_RESERVE_DEFAULT,
	  .hi = 65536,
	  .expect = "0 to 65536",
	  .help = "descriptors client connections may not\n"
		  "take, kept for management and metrics\n"
		  "(default " MGMT_STR(BASE_FD_RESERVE_DEFAULT) "; at most a "
								"quarter)" },
	{ .name = "tls",
	  .arg = "MODE",
	  .key = "tls",
	  .kind = MGMT_OPT_ENUM,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(tls),
	  .names = mgmt_tls_names,
	  .parse = mgmt_tls_parse,
	  .expect = "off, on or require",
	  .help = "NBD over TLS (STARTTLS): off (default),\n"
		  "on (offered; exports not marked\n"
		  "\"tls\": \"required\" also in plaintext)\n"
		  "or require (nothing without TLS)" },
	{ .name = "tls-certificates",
	  .arg = "DIR",
	  .key = "tls_certificates",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(tls_certificates),
	  .help = "X.509: DIR/server-cert.pem, server-key.pem,\n"
		  "ca-cert.pem, ca-crl.pem (if present);\n"
		  "SIGHUP reads them again" },
	{ .name = "tls-verify-peer",
	  .key = "tls_verify_peer",
	  .kind = MGMT_OPT_BOOL,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(tls_verify_peer),
	  .help = "require a client certificate signed by\n"
		  "DIR/ca-cert.pem" },
	{ .name = "tls-psk",
	  .arg = "FILE",
	  .key = "tls_psk",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(tls_psk),
	  .help = "pre-shared keys, psktool's identity:hexkey\n"
		  "lines; SIGHUP reads it again" },
	{ .name = "tls-priority",
	  .arg = "STRING",
	  .key = "tls_priority",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(tls_priority),
	  .help = "GnuTLS priority string (default\n"
		  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2,\n"
		  "with --tls-psk plus :+ECDHE-PSK:+DHE-PSK:\n"
		  "PSK only with an (EC)DHE share, never\n"
		  "plain PSK, so session keys have forward\n"
		  "secrecy)" },
	{ .name = "busy-poll",
	  .arg = "USEC",
	  .key = "busy_poll_us",
	  .kind = MGMT_OPT_UINT,
	  .off = MGMT_AT(busy_poll_us),
	  .hi = 10000,
	  .dflt = -1,
	  .expect = "0 to 10000 microseconds",
	  .help = "where polling measurably speeds clients up\n"
		  "(one request at a time), workers poll this\n"
		  "long for the next before sleeping\n"
		  "(default " MGMT_STR(
			  MGMT_DEFAULT_BUSY_POLL_US) "; 0 = never)" },
	{ .name = "user",
	  .arg = "USER",
	  .key = "user",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(user),
	  .help = "once listening and the devices are open,\n"
		  "become USER, with its groups (root: stay)" },
	{ .name = "group",
	  .arg = "GROUP",
	  .key = "group",
	  .kind = MGMT_OPT_STR,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(group),
	  .help = "the primary group then (default: USER's)" },
	{ .name = "sandbox",
	  .arg = "on|off",
	  .key = "sandbox",
	  .kind = MGMT_OPT_ENUM,
	  .flags = MGMT_OPT_RESTART,
	  .off = MGMT_AT(sandbox),
	  .dflt = 1,
	  .names = mgmt_sandbox_names,
	  .parse = mgmt_sandbox_parse,
	  .expect = "on or off",
	  .help = "a seccomp filter and Landlock file rules\n"
		  "after start-up (default on)" },
	{ .name = "pidfile",
	  .arg = "FILE",
	  .kind = MGMT_OPT_MAIN,
	  .help = "write the PID once ready" },
	{ .name = "ready-fd",
	  .arg = "N",
	  .kind = MGMT_OPT_MAIN,
	  .help = "once ready, write LISTEN lines and READY\n"
		  "to fd N, then close it" },
	{ .name = "daemon",
	  .short_name = 'd',
	  .kind = MGMT_OPT_MAIN,
	  .help = "detach once ready; log to syslog" },
	{ .name = "stdio",
	  .short_name = 's',
	  .kind = MGMT_OPT_MAIN,
	  .help = "serve one connection on stdin/stdout" },
	{ .name = "log-level",
	  .short_name = 'v',
	  .arg = "LEVEL",
	  .key = "log_level",
	  .kind = MGMT_OPT_ENUM,
	  .flags = MGMT_OPT_SAVE_ALL,
	  .off = MGMT_AT(log_level),
	  .dflt = BASE_LOG_INFO,
	  .names = mgmt_level_names,
	  .parse = mgmt_level_parse,
	  .expect = "error, warn, info or debug",
	  .help = "error, warn, info (default) or debug" },
	{ .name = "help",
	  .short_name = 'h',
	  .kind = MGMT_OPT_MAIN,
	  .help = "this text" },
	{ .name = "version",
	  .short_name = 'V',
	  .kind = MGMT_OPT_MAIN,
	  .help = "print the version" },
	{ .key = "allowed_paths",
	  .kind = MGMT_OPT_JSON,
	  .load = mgmt_path_load_allowed },
	{ .key = "iops", .kind = MGMT_OPT_JSON, .load = mgmt_config_load_iops },
	{ .key = "exports",
	  .kind = MGMT_OPT_JSON,
	  .load = mgmt_config_load_exports },
	{ 0 },
};

/* Every numeric value of the table is an int-sized field. */
_Static_assert(sizeof(((struct mgmt_config *)0)->threads) == sizeof(int) &&
		       sizeof(((struct mgmt_config *)0)->engine) ==
			       sizeof(int) &&
		       sizeof(((struct mgmt_config *)0)->max_request_bytes) ==
			       sizeof(int) &&
		       sizeof(((struct mgmt_config *)0)->log_level) ==
			       sizeof(int),
	       "mgmt_opts stores numbers as int");

static void *mgmt_opt_field(const struct mgmt_config *cfg,
			    const struct mgmt_opt *o)
{
	return (char *)cfg + o->off;
}

static int mgmt_opt_get_int(const struct mgmt_config *cfg,
			    const struct mgmt_opt *o)
{
	int v;

	if (o->kind == MGMT_OPT_BOOL)
		return *(const bool *)mgmt_opt_field(cfg, o);
	memcpy(&v, mgmt_opt_field(cfg, o), sizeof(v));
	return v;
}

void mgmt_opts_defaults(struct mgmt_config *cfg)
{
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++)
		if (o->kind == MGMT_OPT_UINT || o->kind == MGMT_OPT_SIZE ||
		    o->kind == MGMT_OPT_ENUM)
			memcpy(mgmt_opt_field(cfg, o), &o->dflt,
			       sizeof(o->dflt));
}

const struct mgmt_opt *mgmt_opt_by_key(const char *key)
{
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++)
		if (o->key && !strcmp(o->key, key))
			return o;
	return NULL;
}

/*
 * Parse text as o's value into *value.  scale and lo are the command
 * line's (1, o->cli_lo) or the file's (1, 0).  Returns 0 or -EINVAL;
 * the caller says where the bad value came from.
 */
static int mgmt_opt_parse(const struct mgmt_opt *o, const char *text,
			  unsigned int scale, unsigned int lo, int *value)
{
	unsigned long long n;
	unsigned int u;
	uint64_t bytes;
	char *end;

	switch (o->kind) {
	case MGMT_OPT_UINT:
		errno = 0;
		n = strtoull(text, &end, 10);
		if (errno || end == text || *end || text[0] == '-' ||
		    n > o->hi / scale || n < lo)
			return -EINVAL;
		n *= scale;
		break;
	case MGMT_OPT_SIZE:
		if (mgmt_size_parse(text, &bytes) < 0)
			return -EINVAL;
		n = bytes;
		break;
	case MGMT_OPT_ENUM:
		return o->parse(text, value);
	default:
		return -EINVAL;
	}
	if (n < o->lo || n > o->hi)
		return -EINVAL;
	u = (unsigned int)n;
	memcpy(value, &u, sizeof(u)); /* 4G-1 fits an unsigned field */
	return 0;
}

static int mgmt_opt_set_str(struct mgmt_config *cfg, const struct mgmt_opt *o,
			    const char *text)
{
	char **field = mgmt_opt_field(cfg, o);

	free(*field);
	*field = text ? strdup(text) : NULL;
	return !text || *field ? 0 : -ENOMEM;
}

_Static_assert(sizeof(mgmt_opts) / sizeof(mgmt_opts[0]) <=
		       8 * sizeof(((struct mgmt_config *)0)->opts_cli),
	       "mgmt_config.opts_cli has a bit per option");

static void mgmt_opt_set_is_cli(struct mgmt_config *cfg,
				const struct mgmt_opt *o)
{
	size_t i = (size_t)(o - mgmt_opts);

	cfg->opts_cli[i / 64] |= 1ull << (i % 64);
}

static bool mgmt_opt_is_cli(const struct mgmt_config *cfg,
			    const struct mgmt_opt *o)
{
	size_t i = (size_t)(o - mgmt_opts);

	return cfg->opts_cli[i / 64] & (1ull << (i % 64));
}

void mgmt_opt_mark_cli(struct mgmt_config *cfg, const char *key)
{
	const struct mgmt_opt *o = mgmt_opt_by_key(key);

	if (o)
		mgmt_opt_set_is_cli(cfg, o);
}

int mgmt_opt_set_cli(struct mgmt_config *cfg, const struct mgmt_opt *o,
		     const char *text)
{
	int v;

	mgmt_opt_set_is_cli(cfg, o);
	switch (o->kind) {
	case MGMT_OPT_FLAG:
	case MGMT_OPT_BOOL:
		*(bool *)mgmt_opt_field(cfg, o) = true;
		return 0;
	case MGMT_OPT_STR:
		if ((o->flags & MGMT_OPT_NONE_OFF) && !strcmp(text, "none"))
			text = NULL;
		return mgmt_opt_set_str(cfg, o, text);
	case MGMT_OPT_CALL:
		return o->set(cfg, text);
	case MGMT_OPT_UINT:
	case MGMT_OPT_SIZE:
	case MGMT_OPT_ENUM:
		if (mgmt_opt_parse(o, text, o->cli_scale ? o->cli_scale : 1,
				   o->cli_lo, &v) < 0) {
			log_error("--%s %s: expected %s", o->name, text,
				  o->expect);
			return -EINVAL;
		}
		memcpy(mgmt_opt_field(cfg, o), &v, sizeof(v));
		return 0;
	default:
		return -EINVAL;
	}
}

int mgmt_opt_set_json(struct mgmt_config *cfg, const struct mgmt_opt *o,
		      json_t *v)
{
	char num[32];
	const char *text = json_string_value(v);
	int value;

	if (o->load)
		return o->load(cfg, v);
	if (o->kind == MGMT_OPT_BOOL) {
		if (!json_is_boolean(v)) {
			log_error("config: %s: expected true or false", o->key);
			return -EINVAL;
		}
		*(bool *)mgmt_opt_field(cfg, o) = json_is_true(v);
		return 0;
	}
	/* Numbers are JSON integers (sizes may be "1G" too); the rest are
	 * strings. */
	if (json_is_integer(v) &&
	    (o->kind == MGMT_OPT_UINT || o->kind == MGMT_OPT_SIZE)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		text = num;
	} else if (!text || o->kind == MGMT_OPT_UINT) {
		log_error("config: %s: expected %s", o->key,
			  o->kind == MGMT_OPT_UINT || o->kind == MGMT_OPT_SIZE
				  ? "a number"
				  : "a string");
		return -EINVAL;
	}
	if (o->kind == MGMT_OPT_STR)
		return mgmt_opt_set_str(cfg, o, text);
	if (o->kind == MGMT_OPT_CALL)
		return o->set(cfg, text);
	if (mgmt_opt_parse(o, text, 1, 0, &value) < 0) {
		if (o->kind == MGMT_OPT_UINT)
			log_error("config: %s: expected %llu to %llu", o->key,
				  o->lo, o->hi);
		else
			log_error("config: %s: bad value \"%s\" (expected %s)",
				  o->key, text, o->expect);
		return -EINVAL;
	}
	memcpy(mgmt_opt_field(cfg, o), &value, sizeof(value));
	return 0;
}

void mgmt_opts_to_json(const struct mgmt_config *cfg, json_t *root)
{
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++) {
		json_t *v = NULL;
		int n;

		if (!o->key)
			continue;
		if (o->kind == MGMT_OPT_STR) {
			const char *s = *(char **)mgmt_opt_field(cfg, o);

			v = s ? json_string(s) : NULL;
		} else if (o->kind == MGMT_OPT_BOOL) {
			v = mgmt_opt_get_int(cfg, o) ? json_true() : NULL;
		} else if (o->kind == MGMT_OPT_UINT ||
			   o->kind == MGMT_OPT_SIZE ||
			   o->kind == MGMT_OPT_ENUM) {
			n = mgmt_opt_get_int(cfg, o);
			if (!(o->flags & MGMT_OPT_SAVE_ALL) && n == o->dflt)
				continue;
			v = o->kind == MGMT_OPT_ENUM
				    ? json_string(o->names[n - o->names_base])
				    : json_integer((json_int_t)(unsigned int)n);
		}
		if (v)
			json_object_set_new(root, o->key, v);
	}
}

/* Whether the option o has the same value in a and b. */
static bool mgmt_opt_same(const struct mgmt_config *a,
			  const struct mgmt_config *b, const struct mgmt_opt *o)
{
	const char *sa, *sb;

	if (o->kind != MGMT_OPT_STR)
		return mgmt_opt_get_int(a, o) == mgmt_opt_get_int(b, o);
	sa = *(char **)mgmt_opt_field(a, o);
	sb = *(char **)mgmt_opt_field(b, o);
	return sa == sb || (sa && sb && !strcmp(sa, sb));
}

/* Whether cfg has o's default value (mgmt_config_init's). */
static bool mgmt_opt_is_default(const struct mgmt_config *cfg,
				const struct mgmt_opt *o)
{
	if (o->kind == MGMT_OPT_STR)
		return !*(char **)mgmt_opt_field(cfg, o);
	if (o->kind == MGMT_OPT_BOOL)
		return !mgmt_opt_get_int(cfg, o);
	return mgmt_opt_get_int(cfg, o) == o->dflt;
}

static void mgmt_opts_list_add(char *buf, size_t len, const char *key)
{
	size_t n = strlen(buf);

	if (n < len)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", key);
}

void mgmt_opts_restart_diff(const struct mgmt_config *cur,
			    const struct mgmt_config *next, char *later,
			    char *kept, size_t len)
{
	later[0] = kept[0] = 0;
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++) {
		if (!(o->flags & MGMT_OPT_RESTART) || !o->key ||
		    mgmt_opt_same(cur, next, o))
			continue;
		if (!mgmt_opt_is_cli(cur, o))
			mgmt_opts_list_add(later, len, o->key);
		else if (!mgmt_opt_is_default(next, o)) /* the file sets it */
			mgmt_opts_list_add(kept, len, o->key);
	}
}

/* "  -l, --listen=ADDR", the left column of an option's --help. */
static int mgmt_opt_usage_name(FILE *f, const struct mgmt_opt *o)
{
	char sopt[8] = "    ";

	if (o->short_name)
		snprintf(sopt, sizeof(sopt), "-%c, ", o->short_name);
	return fprintf(f, "  %s--%s%s%s", sopt, o->name, o->arg ? "=" : "",
		       o->arg ? o->arg : "");
}

void mgmt_opts_usage(FILE *f)
{
	enum { COLUMN = 26 };

	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++) {
		const char *h = o->help;
		int w;

		if (!o->name)
			continue;
		w = mgmt_opt_usage_name(f, o);
		if (!h) {
			fputc('\n', f);
			continue;
		}
		if (w >= COLUMN + 8) { /* too long: the help goes below */
			fputc('\n', f);
			w = 0;
		} else if (w >= COLUMN) {
			w = COLUMN - 2;
		}
		while (h) {
			const char *nl = strchr(h, '\n');
			int len = nl ? (int)(nl - h) : (int)strlen(h);

			fprintf(f, "%*s%.*s\n", COLUMN - w, "", len, h);
			w = 0;
			h = nl ? nl + 1 : NULL;
		}
	}
}
