// SPDX-License-Identifier: MIT
/*
 * iopctl's subcommands (iopctl.h): one table entry per management
 * method, with its arguments, help and the columns of its table, and
 * the rules that turn a command line into a method's params.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopctl.h"

static const struct iopctl_col iopctl_export_cols[] = {
	{ "name", "NAME" },	  { "ddm", "DDM" },
	{ "size", "SIZE" },	  { "read_only", "RO" },
	{ "default", "DEFAULT" }, { "sessions", "SESSIONS" },
	{ "state", "STATE" },	  { "path", "PATH" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_conn_cols[] = {
	{ "id", "ID" },
	{ "peer", "PEER" },
	{ "protocol", "PROTO" },
	{ "export", "EXPORT" },
	{ "bytes_in", "IN" },
	{ "bytes_out", "OUT" },
	{ "requests", "REQUESTS" },
	{ "inflight", "INFLIGHT" },
	{ "buffered_bytes", "BUFFERED" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_device_cols[] = {
	{ "iop", "IOP" },
	{ "name", "NAME" },
	{ "ddm", "DDM" },
	{ "size", "SIZE" },
	{ "block_size_min", "BLOCK" },
	{ "read_only", "RO" },
	{ "sessions", "SESSIONS" },
	{ "inflight", "INFLIGHT" },
	{ "state", "STATE" },
	{ "durability", "DURABILITY" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_iop_cols[] = {
	{ "name", "NAME" },	  { "ddm", "DDM" }, { "devices", "DEVICES" },
	{ "exports", "EXPORTS" }, { NULL, NULL },
};
static const struct iopctl_col iopctl_alua_cols[] = {
	{ "group", "GROUP" },
	{ "port", "PORT" },
	{ "state", "STATE" },
	{ "preferred", "PREF" },
	{ "local", "LOCAL" },
	{ "explicit", "EXPLICIT" },
	{ "changed_by", "CHANGED BY" },
	{ "portals", "PORTALS" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_method_cols[] = {
	{ "name", "METHOD" },
	{ "help", "HELP" },
	{ NULL, NULL },
};
/* Discovery candidates and statistics (mgmt_rpc_discover.c,
 * mgmt_rpc_stats.c). */
static const struct iopctl_col iopctl_cand_cols[] = {
	{ "name", "NAME" },
	{ "iop", "IOP" },
	{ "kind", "KIND" },
	{ "size", "SIZE" },
	{ "state", "STATE" },
	{ "exportable", "EXPORTABLE" },
	{ "exported_as", "EXPORT" },
	{ "path", "PATH" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_stats_dev_cols[] = {
	{ "iop", "IOP" },
	{ "device", "DEVICE" },
	{ "reads", "READS" },
	{ "writes", "WRITES" },
	{ "read_bytes", "READ_BYTES" },
	{ "write_bytes", "WRITE_BYTES" },
	{ "errors", "ERRORS" },
	{ "inflight", "INFLIGHT" },
	{ "sessions", "SESSIONS" },
	{ "avg_latency_us", "AVG_US" },
	{ NULL, NULL },
};
static const struct iopctl_col iopctl_stats_proto_cols[] = {
	{ "protocol", "PROTOCOL" },
	{ "connections", "CONNECTIONS" },
	{ "connections_total", "TOTAL" },
	{ "handshakes_ok", "HANDSHAKES_OK" },
	{ "handshakes_failed", "HANDSHAKES_FAILED" },
	{ NULL, NULL },
};

/* SPEC[,ro]: the daemon parses SPEC (ram:1G, file:PATH, rbd:pool/image,
 * fault:SPEC, ?KEY=VALUE&...) with the same code as its command line, so
 * a DDM's spec form is known in one place; ",ro" becomes read_only. */
static int iopctl_build_export_add(int argc, char **argv, json_t *params)
{
	json_t *spec = json_object_get(params, "spec");
	char *copy;
	size_t n;

	if (!spec)
		return 0;
	if (!json_is_string(spec))
		return -1;
	copy = strdup(json_string_value(spec));
	if (!copy)
		return -1;
	n = strlen(copy);
	if (n > 3 && !strcmp(copy + n - 3, ",ro")) {
		copy[n - 3] = 0;
		json_object_set_new(params, "read_only", json_true());
	}
	json_object_set_new(params, "spec", json_string(copy));
	free(copy);
	return 0;
}

/* EXPORT VERB [ARG...]: the words after VERB are the DDM's argument,
 * joined with '&' ("set flush=EIO:once read=EIO"). */
static int iopctl_build_device_control(int argc, char **argv, json_t *params)
{
	char arg[4096];
	size_t off = 0;

	json_object_clear(params);
	if (argc < 2)
		return -1;
	json_object_set_new(params, "export", json_string(argv[0]));
	json_object_set_new(params, "verb", json_string(argv[1]));
	arg[0] = 0;
	for (int i = 2; i < argc; i++)
		off += (size_t)snprintf(
			arg + off, off < sizeof(arg) ? sizeof(arg) - off : 0,
			"%s%s", i > 2 ? "&" : "", argv[i]);
	if (off >= sizeof(arg))
		return -1;
	if (argc > 2)
		json_object_set_new(params, "arg", json_string(arg));
	return 0;
}

const struct iopctl_cmd iopctl_cmds[] = {
	{ "export", "list", "export.list", "name", "[NAME]",
	  "List the exports (one, given NAME).", iopctl_export_cols, NULL },
	{ "export", "add", "export.add", "name spec",
	  "NAME [SPEC] [KEY=VALUE...]",
	  "Export a new device.  SPEC is ram:SIZE, null:SIZE, file:PATH, "
	  "bdev:PATH, rbd:POOL/IMAGE[@SNAP] or a PATH (`iopd --help` "
	  "lists what the daemon has), optionally wrapped as fault:SPEC "
	  "and "
	  "followed by ?KEY=VALUE&... for its DDM (quote it), with ,ro for "
	  "read-only; or give iop=IOP "
	  "device=DEV to export a device of an existing IOP.  Other keys: "
	  "description=TEXT read_only=true.",
	  NULL, iopctl_build_export_add },
	{ "export", "remove", "export.remove", "name", "NAME",
	  "Remove an export: new clients stop finding it at once, its "
	  "clients finish their requests and are disconnected.",
	  NULL, NULL },
	{ "export", "set-read-only", "export.set_read_only", "name read_only",
	  "NAME [true|false]",
	  "Make an export read-only (or writable again) for new "
	  "connections; disconnect=true asks the current ones to "
	  "reconnect.",
	  NULL, NULL },
	{ "export", "set", "export.set", "name", "NAME [KEY=VALUE...]",
	  "Change who may reach an export, live: protocols='[\"iscsi\"]' "
	  "(nbd, iscsi), allow='[\"10.0.0.0/8\"]', deny=... (CIDR); NBD "
	  "over TLS: tls=required (or optional), "
	  "tls_dn_allow='[\"CN=alice,O=example\"]', tls_psk_allow=... "
	  "(null: no list); a single value may be given bare "
	  "(protocols=iscsi).  Connected clients that lose access are "
	  "disconnected, the others stay.",
	  NULL, NULL },
	{ "export", "clear-error", "export.clear_error", "name", "NAME",
	  "Acknowledge a degraded export's write-back error, so flushes "
	  "may succeed again (check the data first: acknowledged writes "
	  "may have been lost).",
	  NULL, NULL },
	{ "export", "pr", "export.pr", "name", "NAME",
	  "Show the SCSI persistent reservations of an export's device: "
	  "the holder, the type, APTPL, each registration (key, "
	  "initiator port, target port) and the RESERVE(6) holder.",
	  NULL, NULL },
	{ "export", "pr-clear", "export.pr_clear", "name", "NAME",
	  "Drop every persistent registration and the reservation of an "
	  "export's device (after a cluster node died holding it); the "
	  "registrants' sessions are told their reservation was "
	  "preempted.",
	  NULL, NULL },
	{ "export", "set-default", "export.set_default", "name", "[NAME]",
	  "Choose what clients asking for the export \"\" get.", NULL, NULL },
	{ "export", "resize", "export.resize", "name size", "NAME SIZE",
	  "Resize an export's device (ram, file), e.g. 2G; clients see the "
	  "new size when they reconnect (disconnect=true asks them to).",
	  NULL, NULL },
	{ "conn", "list", "conn.list", "export", "[EXPORT]",
	  "List client connections: peer, protocol, export, bytes, "
	  "requests, requests in flight.",
	  iopctl_conn_cols, NULL },
	{ "conn", "disconnect", "conn.disconnect", "id", "ID [force=true]",
	  "Disconnect one client (after its requests in flight complete).",
	  NULL, NULL },
	{ "device", "list", "device.list", "iop", "[IOP]",
	  "List the open devices of every IOP.", iopctl_device_cols, NULL },
	{ "device", "control", "device.control", "export verb arg",
	  "EXPORT VERB [ARG...]",
	  "Send a command to the DDM of an export's device.  fault: crash "
	  "(drop unflushed writes), set KEY=VALUE... (change injection "
	  "rules), clear, stats.",
	  NULL, iopctl_build_device_control },
	{ "iop", "list", "iop.list", "", "", "List the IOPs.", iopctl_iop_cols,
	  NULL },
	{ "iop", "add", "iop.add", "name ddm", "NAME DDM devices=JSON",
	  "Open a group of devices, e.g. devices='[{\"name\":\"d0\","
	  "\"path\":\"/srv/a.img\"}]'.",
	  NULL, NULL },
	{ "iop", "remove", "iop.remove", "name", "NAME",
	  "Close an IOP that no export uses.", NULL, NULL },
	{ "alua", "list", "alua.list", "", "",
	  "List the ALUA target port groups: state, relative port, whether "
	  "initiators may set it (explicit), who changed it last, the "
	  "portals served here (none: another gateway's group).",
	  iopctl_alua_cols, NULL },
	{ "alua", "set", "alua.set", "group state", "GROUP STATE",
	  "Change a target port group's access state, live: "
	  "active/optimized, active/non-optimized, standby, unavailable, "
	  "transitioning.  Every session gets a unit attention.",
	  NULL, NULL },
	{ "daemon", "version", "daemon.version", "", "",
	  "Show iopd's version and pid.", NULL, NULL },
	{ "daemon", "methods", "daemon.methods", "", "",
	  "List every method the daemon serves.", iopctl_method_cols, NULL },
	{ "daemon", "log-level", "daemon.log_level", "level", "[LEVEL]",
	  "Show or set the log level: error, warn, info, debug.", NULL, NULL },
	{ "daemon", "config", "daemon.config", "", "",
	  "Print the running configuration in the config file's format.", NULL,
	  NULL },
	{ "daemon", "save-config", "daemon.save_config", "path", "[PATH]",
	  "Save the running configuration (default: iopd's --config file).",
	  NULL, NULL },
	{ "daemon", "reload", "daemon.reload", "", "",
	  "Reload the config file and apply the difference (like SIGHUP).",
	  NULL, NULL },
	{ "iop", "scan", "iop.scan", "", "",
	  "Scan the local bus (/sys/block, NVMe, image directories, "
	  "storage pools) from "
	  "scratch and list the candidates; nothing is exported.",
	  iopctl_cand_cols, NULL },
	{ "iop", "rescan", "iop.rescan", "", "",
	  "Scan again: what appeared and what vanished (vanished devices "
	  "are marked; their exports keep serving).",
	  NULL, NULL },
	{ "device", "discovered", "device.discovered", "", "",
	  "List the candidates of the last scan with their state.",
	  iopctl_cand_cols, NULL },
	{ "device", "export", "device.export", "device name",
	  "DEVICE [NAME] [read_only=true] [force=true]",
	  "Export a discovered device (as NAME, default its own name); "
	  "partitions and devices in use need force=true.",
	  NULL, NULL },
	{ "stats", "show", "stats.show", "", "",
	  "Every counter of the metrics endpoint (best with --json).", NULL,
	  NULL },
	{ "stats", "devices", "stats.devices", "", "",
	  "Requests, bytes, errors, in flight and latency per device.",
	  iopctl_stats_dev_cols, NULL },
	{ "stats", "protocols", "stats.protocols", "", "",
	  "Connections and handshakes per protocol.", iopctl_stats_proto_cols,
	  NULL },
	{ NULL },
};

void iopctl_usage(FILE *f)
{
	fprintf(f,
		"Usage: iopctl [-s SOCKET] [--json] FAMILY VERB [ARGS]\n"
		"       iopctl [-s SOCKET] call METHOD [JSON-PARAMS]\n"
		"       iopctl FAMILY VERB --help\n"
		"Manage a running iopd through its management socket.\n\n"
		"  -s, --socket=PATH  default: $IOPCTL_SOCKET "
		"or " IOPCTL_DEFAULT_SOCKET "\n"
		"  -c, --connect=HOST:PORT  a TCP management listener "
		"instead (TLS)\n"
		"      --token-file=FILE  its token (default: "
		"$IOPCTL_TOKEN_FILE)\n"
		"      --tls-ca=FILE  CA certificates to verify the server "
		"(default:\n"
		"                     the system's)\n"
		"      --tls-server-name=NAME  expected in its certificate "
		"(default: HOST)\n"
		"      --tls-cert=FILE --tls-key=FILE  a client certificate\n"
		"      --tls-psk=FILE [--tls-psk-identity=NAME]  a psktool "
		"key instead\n"
		"                     (each --tls-X also from $IOPCTL_TLS_X, "
		"such as\n"
		"                     $IOPCTL_TLS_CA or "
		"$IOPCTL_TLS_PSK_IDENTITY; the option\n"
		"                     wins, and an empty one drops the "
		"variable's)\n"
		"  -j, --json         print the result as JSON\n"
		"  -t, --timeout=SEC  give up after SEC seconds: connecting, "
		"sending and\n"
		"                     waiting for the answer "
		"(default 60)\n"
		"  -h, --help         this text\n\n"
		"Subcommands:\n");
	for (const struct iopctl_cmd *c = iopctl_cmds; c->family; c++)
		fprintf(f, "  %-6s %-14s %s\n", c->family, c->verb, c->usage);
	fprintf(f, "\nExit status: 0 done, 1 the daemon reported an error, 2 "
		   "usage error,\n3 cannot reach the daemon, 4 timed out.\n");
}

void iopctl_cmd_help(FILE *f, const struct iopctl_cmd *c)
{
	fprintf(f,
		"Usage: iopctl %s %s %s\n%s\nMethod: %s (see "
		"doc/management.md).\n",
		c->family, c->verb, c->usage, c->help, c->method);
}

/* KEY=VALUE: VALUE as JSON when it is JSON, else as a string. */
static json_t *iopctl_value(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	return v ? v : json_string(text);
}

int iopctl_build_params(const struct iopctl_cmd *c, int argc, char **argv,
			json_t **paramsp)
{
	json_t *params = json_object();
	char names[256], *save = NULL, *name;
	int i = 0;

	snprintf(names, sizeof(names), "%s", c->args);
	name = strtok_r(names, " ", &save);
	for (; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		/* KEY=VALUE only where KEY can be a parameter's name: a spec
		 * such as fault:ram:1G?volatile=1 is positional. */
		if (eq && eq != argv[i] &&
		    strspn(argv[i], "abcdefghijklmnopqrstuvwxyz_0123456789") ==
			    (size_t)(eq - argv[i])) {
			*eq = 0;
			json_object_set_new(params, argv[i],
					    iopctl_value(eq + 1));
			*eq = '=';
			continue;
		}
		if (!name) {
			fprintf(stderr, "iopctl %s %s: unexpected \"%s\"\n",
				c->family, c->verb, argv[i]);
			json_decref(params);
			return -1;
		}
		/* Numbers and booleans where the method wants them. */
		if (!strcmp(name, "id") || !strcmp(name, "read_only"))
			json_object_set_new(params, name,
					    iopctl_value(argv[i]));
		else
			json_object_set_new(params, name, json_string(argv[i]));
		name = strtok_r(NULL, " ", &save);
	}
	if (c->build && c->build(argc, argv, params) < 0) {
		json_decref(params);
		return -1;
	}
	*paramsp = params;
	return 0;
}

/* Transport --------------------------------------------------------------- */

const struct iopctl_cmd *iopctl_find(const char *family, const char *verb)
{
	for (const struct iopctl_cmd *c = iopctl_cmds; c->family; c++)
		if (!strcmp(c->family, family) && !strcmp(c->verb, verb))
			return c;
	return NULL;
}
