/* SPDX-License-Identifier: MIT */
/*
 * iopd's configuration: what the command line and the JSON config file
 * describe, in one structure, and its translation into what the Local
 * Transport (IOPs and devices) and the Connection Manager (exports,
 * limits) take.  The management channel takes the same objects over
 * JSON-RPC.  Which top-level settings exist, and how each is read and
 * saved, is the option schema's (mgmt_schema.h).
 */
#ifndef IOPD_MGMT_CONFIG_H
#define IOPD_MGMT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base_acl.h"
#include "base/base_log.h"
#include "base/base_loop.h"
#include "connmgr/connmgr.h"
#include "iopd/ddm.h"

#define MGMT_DEFAULT_PORT 10809

struct mgmt_iscsi;
struct mgmt_ops;

/*
 * One export, as the config file and the management RPC's export.add
 * describe it: either a device of its own (ddm, path, size: an IOP of one
 * device, named like the export, that goes with it) or a device of an
 * existing IOP (iop, device: e.g. one discovery found).
 */
struct mgmt_export {
	char *name;
	char *description;
	char *ddm;  /* "file", "bdev", "ram", "null" */
	char *path; /* file, bdev */
	uint64_t size_bytes;
	bool read_only;
	/* Settings for the DDM (ddm_open_args.options), keys and values
	 * allocated (mgmt_config_options.h). */
	struct ddm_option *options;
	unsigned int n_options;
	char *iop, *device; /* instead of ddm */
	bool cli; /* from the command line: a reload leaves it alone */
	/* Who may reach it (mgmt_access.c): CONN_PROTO_ bits, 0 = every
	 * protocol; client addresses allowed and denied. */
	unsigned int protocols;
	struct base_acl acl;
	/* "tls": "required" and the allow lists (conn_tls_policy);
	 * NULL-terminated, NULL when absent. */
	bool tls_required;
	char **tls_dn_allow;
	char **tls_psk_allow;
};

/* A group of devices of one DDM that exports name with {iop, device}
 * (config "iops", RPC iop.add). */
struct mgmt_iop_dev {
	char *name;
	char *path;
	uint64_t size_bytes;
	bool read_only;
};

struct mgmt_iop {
	char *name;
	char *ddm;
	unsigned int n_devs;
	struct mgmt_iop_dev *devs;
};

/* Long enough to span a client's turn at queue depth 1 on a small
 * virtual machine, where waking the client's CPU alone takes 30-35 µs:
 * at 50 µs a worker's sleeps there mostly outlasted the window, so it
 * seldom polled, and half of its polling probes lost for it. */
#define MGMT_DEFAULT_BUSY_POLL_US 100
/* The management channel's and the metrics endpoint's bounds. */
#define MGMT_MAX_CLIENTS		1024
#define MGMT_DEFAULT_LOCAL_CLIENTS	16
#define MGMT_DEFAULT_TCP_CLIENTS	16
#define MGMT_DEFAULT_AUTH_TIMEOUT_MS	5000
#define MGMT_DEFAULT_REPLY_MAX_BYTES	(16 * 1024 * 1024)
#define MGMT_DEFAULT_WRITE_TIMEOUT_MS	10000
#define MGMT_DEFAULT_METRICS_CLIENTS	128
#define MGMT_DEFAULT_METRICS_PER_IP	8
#define MGMT_DEFAULT_METRICS_TIMEOUT_MS 10000

struct mgmt_config {
	char **listen;
	unsigned int n_listen;
	bool cli_listen;      /* --listen given: it replaced the file's */
	bool no_listen;	      /* --listen none, "listen": []: no NBD listener */
	bool list_hidden;     /* --no-list-exports, "list_exports": false */
	bool list_hidden_cli; /* from the command line: reload keeps it */
	/* The mgmt_opts entries the command line (or the environment) set:
	 * the file does not rule them, now or at the next start. */
	uint64_t opts_cli[2];
	unsigned int threads;
	enum base_engine engine;
	uint32_t max_request_bytes;
	/* Memory budgets for request buffers (doc/security.md "Memory"):
	 * per connection, and the whole daemon (0: automatic). */
	uint32_t conn_buffer_budget_bytes;
	uint32_t buffer_budget_bytes;
	unsigned int drain_timeout_ms;
	/* Connection caps and deadlines (doc/security.md; defaults in
	 * mgmt_schema.c): struct connmgr_config and struct conn_limits. */
	unsigned int max_conns, max_conns_per_addr;
	unsigned int handshake_timeout_ms, payload_timeout_ms;
	unsigned int idle_timeout_ms, max_options;
	int busy_poll_us; /* -1: MGMT_DEFAULT_BUSY_POLL_US */
	char *default_export;
	char *mgmt_socket;     /* NULL: no management socket */
	char *mgmt_listen;     /* TCP "HOST:PORT"; NULL: none */
	char *mgmt_token_file; /* required with mgmt_listen */
	char *pr_dir; /* APTPL persistent reservations; NULL: refused */
	/* Resource bounds of the management channel, the metrics endpoint
	 * and descriptors (doc/security.md; defaults in mgmt_schema.c). */
	unsigned int mgmt_local_clients;
	unsigned int mgmt_tcp_clients;
	unsigned int mgmt_auth_timeout_ms;
	unsigned int mgmt_reply_max_bytes;
	unsigned int mgmt_write_timeout_ms;
	unsigned int metrics_clients;
	unsigned int metrics_clients_per_ip;
	unsigned int metrics_timeout_ms;
	/* /metrics over HTTPS with tls_certificates' server pair, and a
	 * "user:password" file for HTTP basic authentication (NULL: none). */
	bool metrics_tls;
	char *metrics_auth;
	unsigned int fd_reserve;
	int direct; /* -1 auto, 0 off, 1 on */
	/* NBD over TLS (remote_tls.h): enum remote_tls_mode, the
	 * credentials and the GnuTLS priority string (NULL: default). */
	int tls;
	char *tls_certificates; /* directory */
	char *tls_psk;		/* psktool file */
	char *tls_priority;
	bool tls_verify_peer;
	bool read_only; /* every export */
	enum base_log_level log_level;
	struct mgmt_export *exports;
	unsigned int n_exports;
	struct mgmt_iop *iops; /* opened before the exports */
	unsigned int n_iops;
	struct mgmt_iscsi *iscsi; /* mgmt_config_iscsi.h; NULL = no iSCSI */
	struct mgmt_ops *ops;	  /* mgmt_config_ops.h; NULL = defaults */
	/* "allowed_paths" (mgmt_path.h); NULL: anywhere. */
	char **allowed_paths;
	unsigned int n_allowed_paths;
	char *config_file; /* the file loaded last (--config), or NULL */
	/* Least privilege (mgmt_privs.h): who to become after start-up
	 * (NULL: stay), and whether Landlock and seccomp confine iopd. */
	char *user;
	char *group;
	int sandbox; /* 0 off, 1 on */

	/* Built by mgmt_config_specs for local_scan and connmgr_create. */
	struct local_config local;
	struct connmgr_config connmgr;
};

void mgmt_config_init(struct mgmt_config *cfg);
void mgmt_config_fini(struct mgmt_config *cfg);

/* "[NAME=]SPEC[?KEY=VALUE&...][,ro][,desc=TEXT]"; see iopd(8).  Returns 0 or
 * -errno after logging what is wrong. */
int mgmt_config_add_export_spec(struct mgmt_config *cfg, const char *spec);
int mgmt_config_add_listen(struct mgmt_config *cfg, const char *addr);
void mgmt_config_clear_listen(struct mgmt_config *cfg);
/* Merge a JSON config file.  Returns 0 or -errno after logging. */
int mgmt_config_load_file(struct mgmt_config *cfg, const char *path);
/* The same from len bytes of text (the config fuzzer). */
int mgmt_config_load_text(struct mgmt_config *cfg, const char *text,
			  size_t len);
/* The config file's "listen", "exports" and "iops" values (for the
 * option schema).  Return 0 or -errno after logging. */
int mgmt_config_load_listen(struct mgmt_config *cfg, json_t *v);
int mgmt_config_load_exports(struct mgmt_config *cfg, json_t *v);
int mgmt_config_load_iops(struct mgmt_config *cfg, json_t *v);
/* A JSON size (an integer, or a string such as "1G") and a JSON string
 * (replacing *out) of the config key what.  Return 0 or -errno after
 * logging. */
int mgmt_json_size(const char *what, json_t *v, uint64_t *bytes);
int mgmt_json_strdup(const char *what, json_t *v, char **out);
/* Fill cfg->local and cfg->connmgr from the rest. */
int mgmt_config_specs(struct mgmt_config *cfg);

/*
 * The one path from a config object to the running daemon, shared by
 * start-up (mgmt_config_specs), export.add and reload.
 */
/* Parse one export object into e (zeroed by the caller).  Returns 0 or
 * -errno after logging what is wrong. */
int mgmt_export_parse_json(json_t *obj, struct mgmt_export *e);
void mgmt_export_fini(struct mgmt_export *e);
/* The IOP (when e has a device of its own: returns 1) and export specs
 * for e; they point into e and dev.  Returns 0 when e names an existing
 * IOP (*iop untouched). */
int mgmt_export_specs(const struct mgmt_config *cfg,
		      const struct mgmt_export *e, struct local_iop_spec *iop,
		      struct local_dev_spec *dev,
		      struct connmgr_export_spec *exp);
/* The export's TLS keys (mgmt_config_tls.c).  parse: -ENOENT when key
 * is not one of them, else 0 or -errno after logging. */
int mgmt_export_tls_parse(struct mgmt_export *e, const char *key, json_t *v);
void mgmt_export_tls_fini(struct mgmt_export *e);
bool mgmt_export_tls_equal(const struct mgmt_export *a,
			   const struct mgmt_export *b);
int mgmt_export_tls_copy(struct mgmt_export *dst,
			 const struct mgmt_export *src);
void mgmt_export_tls_to_json(const struct mgmt_export *e, json_t *o);
/* The policy points into e's lists. */
void mgmt_export_tls_policy(const struct mgmt_export *e,
			    struct conn_tls_policy *p);
/* The --tls options to the Remote Transport: read the credentials (start),
 * read them again (SIGHUP), drop them (exit).  setup returns 0 or -errno
 * after logging; a failed reload keeps the old credentials. */
int mgmt_tls_setup(const struct mgmt_config *cfg);
void mgmt_tls_reload(void);
void mgmt_tls_cleanup(void);
/* Same export, same backing device and options? */
bool mgmt_export_equal(const struct mgmt_export *a,
		       const struct mgmt_export *b);
/* Append a copy of e / drop the export called name.  Return 0 or -errno. */
int mgmt_config_export_append(struct mgmt_config *cfg,
			      const struct mgmt_export *e);
void mgmt_config_export_drop(struct mgmt_config *cfg, const char *name);
struct mgmt_export *mgmt_config_export_find(struct mgmt_config *cfg,
					    const char *name);

json_t *mgmt_export_to_json(const struct mgmt_export *e, bool read_only);

/* Export access (mgmt_access.c).  One key of an export object (config
 * file, export.add, export.set) into e: 1 when key is "protocols",
 * "allow" or "deny" and v is good, 0 when key is none of them, -errno
 * after logging a bad value. */
int mgmt_access_parse_json(struct mgmt_export *e, const char *key, json_t *v);
/* A command line export spec's ",protocols=...", ",allow=..." or
 * ",deny=..." suffix (without the comma): 1 taken, 0 not one of them,
 * -errno after logging. */
int mgmt_access_parse_opt(struct mgmt_export *e, const char *opt);
/* Add e's access keys to o (nothing when they are the defaults). */
void mgmt_access_to_json(const struct mgmt_export *e, json_t *o);
bool mgmt_access_equal(const struct mgmt_export *a,
		       const struct mgmt_export *b);
int mgmt_access_copy(struct mgmt_export *dst, const struct mgmt_export *src);

/* IOPs: parse one {name, ddm, devices: [{name, path, size, read_only}]}
 * into iop (zeroed by the caller; 0 or -errno after logging); the Local
 * Transport's spec for it (spec->devs is allocated: free it); keep a copy
 * in / drop it from the running configuration. */
int mgmt_iop_parse_json(json_t *obj, struct mgmt_iop *iop);
void mgmt_iop_fini(struct mgmt_iop *iop);
int mgmt_iop_specs(const struct mgmt_config *cfg, const struct mgmt_iop *iop,
		   struct local_iop_spec *spec);
int mgmt_config_iop_append(struct mgmt_config *cfg, struct mgmt_iop *iop);
json_t *mgmt_iops_to_json(const struct mgmt_config *cfg);
void mgmt_config_iop_drop(struct mgmt_config *cfg, const char *name);
json_t *mgmt_iop_to_json(const struct mgmt_iop *iop);
/* The config file format for cfg (everything it can say). */
json_t *mgmt_config_to_json(const struct mgmt_config *cfg);
/* Write it atomically: temporary file, fsync, rename, fsync of the
 * directory.  Returns 0 or -errno after logging. */
int mgmt_config_save(const struct mgmt_config *cfg, const char *path);

/* "512", "64K", "1G", "2T" (binary).  Returns 0 or -EINVAL. */
int mgmt_size_parse(const char *text, uint64_t *bytes);
int mgmt_direct_parse(const char *text, int *direct);

#endif
