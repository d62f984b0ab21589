// SPDX-License-Identifier: MIT
/*
 * The config file's "iscsi" object and the --iscsi-* options, parsed into
 * struct mgmt_iscsi (a struct iscsi_config for the transport, and the
 * portals main.c binds).  Like the rest of the config file, unknown keys
 * are errors.  What the transport does with it (login, CHAP, ACLs,
 * target-per-export defaults) is src/remote/iscsi/'s business.
 *
 * CHAP secrets are read from files ("secret_file") that must be regular
 * files without any group or other permission, so a secret never sits in
 * a world-readable config file or on a command line.  Secrets are never
 * logged and are wiped when freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_alua.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_secret.h"

#define MGMT_ISCSI_NAME_MAX   223 /* RFC 7143 section 4.2.7.1 */
#define MGMT_ISCSI_SECRET_MAX 255
#define MGMT_ISCSI_SECRET_MIN 12 /* 96 bits, RFC 7143 section 9.2.1 */
#define MGMT_ISCSI_LUN_MAX    16383
#define MGMT_ISCSI_NOP_MAX_S  3600

static struct mgmt_iscsi *mgmt_iscsi_obtain(struct mgmt_config *cfg)
{
	if (!cfg->iscsi)
		cfg->iscsi = calloc(1, sizeof(*cfg->iscsi));
	return cfg->iscsi;
}

const struct mgmt_iscsi *mgmt_iscsi_get(const struct mgmt_config *cfg)
{
	return cfg->iscsi && cfg->iscsi->n_listen ? cfg->iscsi : NULL;
}

static void mgmt_iscsi_chap_free(struct iscsi_chap *chap)
{
	if (chap->secret) {
		explicit_bzero((char *)chap->secret, strlen(chap->secret));
		free((char *)chap->secret);
	}
	free((char *)chap->user);
	chap->user = NULL;
	chap->secret = NULL;
}

static void mgmt_iscsi_target_free(struct iscsi_target_cfg *t)
{
	for (unsigned int i = 0; i < t->n_luns; i++)
		free((char *)t->luns[i].export);
	free((void *)t->luns);
	for (unsigned int i = 0; i < t->n_initiators; i++)
		free((char *)t->initiators[i]);
	free((void *)t->initiators);
	free((char *)t->name);
	free((char *)t->alias);
	mgmt_iscsi_chap_free(&t->chap);
	mgmt_iscsi_chap_free(&t->mutual);
}

static void mgmt_iscsi_clear_listen(struct mgmt_iscsi *is)
{
	for (unsigned int i = 0; i < is->n_listen; i++)
		free(is->listen[i]);
	free(is->listen);
	is->listen = NULL;
	is->n_listen = 0;
}

void mgmt_iscsi_free(struct mgmt_iscsi *is)
{
	if (!is)
		return;
	for (unsigned int i = 0; i < is->cfg.n_targets; i++)
		mgmt_iscsi_target_free(&is->targets[i]);
	free(is->targets);
	mgmt_iscsi_clear_listen(is);
	free((char *)is->cfg.iqn_prefix);
	json_decref(is->file_json);
	mgmt_iscsi_chap_free(&is->cfg.discovery_chap);
	mgmt_iscsi_chap_free(&is->cfg.discovery_mutual);
	mgmt_alua_free(is->alua);
	free(is);
}

/* Names ------------------------------------------------------------------ */

static bool mgmt_iscsi_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

bool mgmt_iscsi_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MGMT_ISCSI_NAME_MAX)
		return false;
	if (!strncmp(name, "eui.", 4))
		return n == 4 + 16 && mgmt_iscsi_hex(name + 4, 16);
	if (!strncmp(name, "naa.", 4))
		return (n == 4 + 16 || n == 4 + 32) &&
		       mgmt_iscsi_hex(name + 4, n - 4);
	/* iqn.YYYY-MM.<reversed domain>[:<unique>] */
	if (strncmp(name, "iqn.", 4) || n < 12 ||
	    !mgmt_iscsi_hex(name + 4, 4) || name[8] != '-' ||
	    !mgmt_iscsi_hex(name + 9, 2) || name[11] != '.' || n == 12)
		return false;
	for (size_t i = 4; i < n; i++) {
		char c = name[i];

		/* RFC 3722 stringprep leaves lower case letters, digits and
		 * these; we do not take upper case (it would not compare
		 * equal to what initiators send after normalising). */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

static int mgmt_iscsi_name_dup(const char *what, const char *name, char **out)
{
	if (!mgmt_iscsi_name_valid(name)) {
		log_error("config: iscsi: %s \"%.*s\" is not an iSCSI name "
			  "(lower-case iqn.YYYY-MM.domain[:id], eui.<16 hex> "
			  "or naa.<16|32 hex>, at most %d bytes)",
			  what, 256, name, MGMT_ISCSI_NAME_MAX);
		return -EINVAL;
	}
	*out = strdup(name);
	return *out ? 0 : -ENOMEM;
}

/* CHAP -------------------------------------------------------------------- */

/* {"user": NAME, "secret_file": PATH} */
static int mgmt_iscsi_json_chap(const char *what, json_t *obj,
				struct iscsi_chap *chap)
{
	const char *key, *user = NULL, *file = NULL;
	char *secret = NULL, label[160];
	json_t *v;
	int ret;

	if (!json_is_object(obj)) {
		log_error("config: iscsi: %s: expected an object with \"user\" "
			  "and \"secret_file\"",
			  what);
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "user") && json_is_string(v))
			user = json_string_value(v);
		else if (!strcmp(key, "secret_file") && json_is_string(v))
			file = json_string_value(v);
		else {
			/* An inline "secret" is refused on purpose. */
			log_error("config: iscsi: %s: unknown or mistyped key "
				  "\"%s\"%s",
				  what, key,
				  strcmp(key, "secret")
					  ? ""
					  : " (put the secret in a file "
					    "readable only by its owner and "
					    "name it with \"secret_file\")");
			return -EINVAL;
		}
	}
	if (!user || !file || !user[0] || strlen(user) > 255) {
		log_error("config: iscsi: %s: \"user\" (1 to 255 bytes) and "
			  "\"secret_file\" are required",
			  what);
		return -EINVAL;
	}
	snprintf(label, sizeof(label), "config: iscsi: %s", what);
	ret = mgmt_secret_read(label, file, MGMT_ISCSI_SECRET_MAX, &secret);
	if (ret < 0)
		return ret;
	mgmt_iscsi_chap_free(chap);
	chap->secret = secret;
	chap->user = strdup(user);
	return chap->user ? 0 : -ENOMEM;
}

/* A short secret falls to an offline dictionary attack on one captured
 * exchange (RFC 7143 section 12.1.3 asks for 96 bits at least): refused
 * unless the "iscsi" object says allow_short_secrets (checked once the
 * whole object is read, whatever the order of its keys). */
static int mgmt_iscsi_secret_check(const struct mgmt_iscsi *is,
				   const char *what, const char *key,
				   const struct iscsi_chap *chap)
{
	if (!chap->user || strlen(chap->secret) >= MGMT_ISCSI_SECRET_MIN)
		return 0;
	if (is->allow_short_secrets) {
		log_warn("config: iscsi: %s: %s: the secret is shorter than %d "
			 "bytes (allowed by allow_short_secrets)",
			 what, key, MGMT_ISCSI_SECRET_MIN);
		return 0;
	}
	log_error("config: iscsi: %s: %s: the secret is shorter than %d bytes "
		  "(set \"allow_short_secrets\": true in \"iscsi\" to accept "
		  "it anyway)",
		  what, key, MGMT_ISCSI_SECRET_MIN);
	return -EINVAL;
}

static int mgmt_iscsi_secrets_check(const struct mgmt_iscsi *is)
{
	const struct iscsi_config *c = &is->cfg;
	int ret;

	ret = mgmt_iscsi_secret_check(is, "discovery", "discovery_chap",
				      &c->discovery_chap);
	if (!ret)
		ret = mgmt_iscsi_secret_check(is, "discovery",
					      "discovery_mutual_chap",
					      &c->discovery_mutual);
	for (unsigned int i = 0; !ret && i < c->n_targets; i++) {
		const struct iscsi_target_cfg *t = &is->targets[i];

		ret = mgmt_iscsi_secret_check(is, t->name, "chap", &t->chap);
		if (!ret)
			ret = mgmt_iscsi_secret_check(
				is, t->name, "mutual_chap", &t->mutual);
	}
	return ret;
}

/* The same secret must not prove both sides (RFC 7143 section 12.1.3). */
static int mgmt_iscsi_chap_pair_check(const char *what,
				      const struct iscsi_chap *chap,
				      const struct iscsi_chap *mutual)
{
	if (mutual->user && !chap->user) {
		log_error("config: iscsi: %s: mutual CHAP needs CHAP too",
			  what);
		return -EINVAL;
	}
	if (mutual->user && !strcmp(chap->secret, mutual->secret)) {
		log_error("config: iscsi: %s: the mutual CHAP secret must "
			  "differ from the initiator's secret",
			  what);
		return -EINVAL;
	}
	return 0;
}

/* Targets ---------------------------------------------------------------- */

static struct iscsi_target_cfg *mgmt_iscsi_target_new(struct mgmt_iscsi *is)
{
	struct iscsi_target_cfg *t;

	t = realloc(is->targets, (is->cfg.n_targets + 1) * sizeof(*t));
	if (!t)
		return NULL;
	is->targets = t;
	is->cfg.targets = t;
	t = &t[is->cfg.n_targets++];
	memset(t, 0, sizeof(*t));
	return t;
}

static int mgmt_iscsi_lun_add(struct iscsi_target_cfg *t,
			      const struct iscsi_lun_cfg *lun)
{
	struct iscsi_lun_cfg *l = (struct iscsi_lun_cfg *)t->luns;

	for (unsigned int i = 0; i < t->n_luns; i++) {
		if (l[i].lun == lun->lun) {
			log_error("config: iscsi: target %s: LUN %llu is "
				  "mapped twice",
				  t->name, (unsigned long long)lun->lun);
			return -EINVAL;
		}
	}
	l = realloc(l, (t->n_luns + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	t->luns = l;
	l[t->n_luns] = *lun;
	l[t->n_luns].export = strdup(lun->export);
	if (!l[t->n_luns].export)
		return -ENOMEM;
	t->n_luns++;
	return 0;
}

static int mgmt_iscsi_json_int(const char *what, json_t *v, long long max,
			       long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max) {
		log_error("config: iscsi: %s: expected an integer from 0 to "
			  "%lld",
			  what, max);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

/* {"lun": N, "export": NAME, "read_only": BOOL, "block_size": N} */
static int mgmt_iscsi_json_lun(struct iscsi_target_cfg *t, json_t *obj,
			       size_t index)
{
	struct iscsi_lun_cfg lun = { .lun = index };
	const char *key;
	long long n;
	json_t *v;
	int ret = 0;

	if (!json_is_object(obj)) {
		log_error("config: iscsi: target %s: each LUN is an object",
			  t->name);
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "lun")) {
			ret = mgmt_iscsi_json_int("lun", v, MGMT_ISCSI_LUN_MAX,
						  &n);
			lun.lun = (uint64_t)n;
		} else if (!strcmp(key, "export") && json_is_string(v))
			lun.export = json_string_value(v);
		else if (!strcmp(key, "read_only") && json_is_boolean(v))
			lun.read_only = json_is_true(v);
		else if (!strcmp(key, "block_size")) {
			ret = mgmt_iscsi_json_int("block_size", v, 4096, &n);
			if (ret == 0 && n != 0 && n != 512 && n != 1024 &&
			    n != 2048 && n != 4096) {
				log_error("config: iscsi: block_size: 512, "
					  "1024, 2048 or 4096");
				ret = -EINVAL;
			}
			lun.block_size = (uint32_t)n;
		} else {
			log_error("config: iscsi: target %s: LUN: unknown or "
				  "mistyped key \"%s\"",
				  t->name, key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (!lun.export || !lun.export[0]) {
		log_error("config: iscsi: target %s: each LUN needs an "
			  "\"export\"",
			  t->name);
		return -EINVAL;
	}
	return mgmt_iscsi_lun_add(t, &lun);
}

static int mgmt_iscsi_json_initiators(struct iscsi_target_cfg *t, json_t *v)
{
	const char **names;
	json_t *item;
	size_t i;
	int ret;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		log_error("config: iscsi: target %s: \"initiators\" is a "
			  "non-empty list of initiator names",
			  t->name);
		return -EINVAL;
	}
	names = calloc(json_array_size(v), sizeof(*names));
	if (!names)
		return -ENOMEM;
	t->initiators = names;
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			log_error("config: iscsi: target %s: initiators: "
				  "expected names",
				  t->name);
			return -EINVAL;
		}
		ret = mgmt_iscsi_name_dup("initiator name",
					  json_string_value(item),
					  (char **)&names[i]);
		if (ret < 0)
			return ret;
		t->n_initiators++;
	}
	return 0;
}

static int mgmt_iscsi_target_key(struct iscsi_target_cfg *t, const char *key,
				 json_t *v)
{
	size_t i;
	json_t *item;
	int ret;

	if (!strcmp(key, "alias") && json_is_string(v)) {
		if (strlen(json_string_value(v)) > 255) {
			log_error("config: iscsi: target %s: alias: at most "
				  "255 bytes",
				  t->name);
			return -EINVAL;
		}
		free((char *)t->alias);
		t->alias = strdup(json_string_value(v));
		return t->alias ? 0 : -ENOMEM;
	}
	if (!strcmp(key, "luns") && json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			ret = mgmt_iscsi_json_lun(t, item, i);
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	if (!strcmp(key, "chap") || !strcmp(key, "mutual_chap")) {
		char what[300];

		snprintf(what, sizeof(what), "target %s: %s", t->name, key);
		return mgmt_iscsi_json_chap(
			what, v, key[0] == 'c' ? &t->chap : &t->mutual);
	}
	if (!strcmp(key, "initiators"))
		return mgmt_iscsi_json_initiators(t, v);
	log_error("config: iscsi: target %s: unknown or mistyped key \"%s\"",
		  t->name, key);
	return -EINVAL;
}

static int mgmt_iscsi_json_target(struct mgmt_iscsi *is, json_t *obj)
{
	struct iscsi_target_cfg *t;
	json_t *name, *v;
	const char *key;
	int ret;

	name = json_is_object(obj) ? json_object_get(obj, "name") : NULL;
	if (!name || !json_is_string(name)) {
		log_error("config: iscsi: each target is an object with a "
			  "\"name\"");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < is->cfg.n_targets; i++) {
		if (!strcmp(is->targets[i].name, json_string_value(name))) {
			log_error("config: iscsi: target %s is defined twice",
				  json_string_value(name));
			return -EINVAL;
		}
	}
	t = mgmt_iscsi_target_new(is);
	if (!t)
		return -ENOMEM;
	ret = mgmt_iscsi_name_dup("target name", json_string_value(name),
				  (char **)&t->name);
	if (ret < 0)
		return ret;
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "name"))
			continue;
		ret = mgmt_iscsi_target_key(t, key, v);
		if (ret < 0)
			return ret;
	}
	if (t->n_luns == 0) {
		log_error("config: iscsi: target %s: \"luns\" must map at "
			  "least one export",
			  t->name);
		return -EINVAL;
	}
	return mgmt_iscsi_chap_pair_check(t->name, &t->chap, &t->mutual);
}

/* The "iscsi" object ------------------------------------------------------ */

static int mgmt_iscsi_listen_add(struct mgmt_iscsi *is, const char *addr)
{
	char **l;

	if (!strncmp(addr, "unix:", 5)) {
		log_error("iscsi: portal %s: iSCSI portals are TCP addresses",
			  addr);
		return -EINVAL;
	}
	l = realloc(is->listen, (is->n_listen + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	is->listen = l;
	l[is->n_listen] = strdup(addr);
	if (!l[is->n_listen])
		return -ENOMEM;
	is->n_listen++;
	return 0;
}

static int mgmt_iscsi_json_listen(struct mgmt_iscsi *is, json_t *v)
{
	json_t *item;
	size_t i;
	int ret;

	if (json_is_string(v))
		return mgmt_iscsi_listen_add(is, json_string_value(v));
	if (!json_is_array(v)) {
		log_error("config: iscsi: listen: expected an address or a "
			  "list of them");
		return -EINVAL;
	}
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			log_error("config: iscsi: listen: expected addresses");
			return -EINVAL;
		}
		ret = mgmt_iscsi_listen_add(is, json_string_value(item));
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int mgmt_iscsi_json_key(struct mgmt_config *cfg, struct mgmt_iscsi *is,
			       const char *key, json_t *v)
{
	long long n;
	json_t *item;
	size_t i;
	int ret;

	if (!strcmp(key, "listen"))
		return is->cli_listen ? 0 : mgmt_iscsi_json_listen(is, v);
	if (!strcmp(key, "iqn_prefix") && json_is_string(v))
		return mgmt_iscsi_set_iqn_prefix(cfg, json_string_value(v));
	if (!strcmp(key, "targets") && json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			ret = mgmt_iscsi_json_target(is, item);
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	if (!strcmp(key, "port_groups"))
		return mgmt_alua_load_json(&is->alua, v);
	if (!strcmp(key, "discovery_chap"))
		return mgmt_iscsi_json_chap(key, v, &is->cfg.discovery_chap);
	if (!strcmp(key, "discovery_mutual_chap"))
		return mgmt_iscsi_json_chap(key, v, &is->cfg.discovery_mutual);
	if (!strcmp(key, "allow_short_secrets")) {
		if (!json_is_boolean(v)) {
			log_error("config: iscsi: allow_short_secrets: "
				  "expected true or false");
			return -EINVAL;
		}
		is->allow_short_secrets = json_is_true(v);
		return 0;
	}
	if (!strcmp(key, "nop_interval")) {
		ret = mgmt_iscsi_json_int(key, v, MGMT_ISCSI_NOP_MAX_S, &n);
		is->cfg.nop_interval_s = (unsigned int)n;
		return ret;
	}
	if (!strcmp(key, "nop_timeout")) {
		ret = mgmt_iscsi_json_int(key, v, MGMT_ISCSI_NOP_MAX_S, &n);
		is->cfg.nop_timeout_s = (unsigned int)n;
		return ret;
	}
	log_error("config: iscsi: unknown or mistyped key \"%s\"", key);
	return -EINVAL;
}

int mgmt_iscsi_load_json(struct mgmt_config *cfg, json_t *v)
{
	struct mgmt_iscsi *is = mgmt_iscsi_obtain(cfg);
	const char *key;
	json_t *item;
	int ret;

	if (!is)
		return -ENOMEM;
	if (!json_is_object(v)) {
		log_error("config: iscsi: expected an object");
		return -EINVAL;
	}
	json_decref(is->file_json);
	is->file_json = json_deep_copy(v);
	if (!is->file_json)
		return -ENOMEM;
	json_object_foreach(v, key, item)
	{
		ret = mgmt_iscsi_json_key(cfg, is, key, item);
		if (ret < 0)
			return ret;
	}
	is->n_file_targets = is->cfg.n_targets;
	ret = mgmt_iscsi_secrets_check(is);
	if (ret < 0)
		return ret;
	return mgmt_iscsi_chap_pair_check("discovery", &is->cfg.discovery_chap,
					  &is->cfg.discovery_mutual);
}

/* Command line ------------------------------------------------------------ */

int mgmt_iscsi_add_cli_listen(struct mgmt_config *cfg, const char *addr)
{
	struct mgmt_iscsi *is = mgmt_iscsi_obtain(cfg);

	if (!is)
		return -ENOMEM;
	if (!is->cli_listen)
		mgmt_iscsi_clear_listen(is);
	is->cli_listen = true;
	return mgmt_iscsi_listen_add(is, addr);
}

int mgmt_iscsi_set_iqn_prefix(struct mgmt_config *cfg, const char *iqn)
{
	struct mgmt_iscsi *is = mgmt_iscsi_obtain(cfg);
	char *copy;

	if (!is)
		return -ENOMEM;
	/* Leave room for ":<export name>" within the name limit. */
	if (strncmp(iqn, "iqn.", 4) || strlen(iqn) > 160 ||
	    !mgmt_iscsi_name_valid(iqn)) {
		log_error("iscsi: iqn prefix \"%.*s\": expected a lower-case "
			  "iqn.YYYY-MM.reversed.domain[:id] of at most 160 "
			  "bytes",
			  200, iqn);
		return -EINVAL;
	}
	copy = strdup(iqn);
	if (!copy)
		return -ENOMEM;
	free((char *)is->cfg.iqn_prefix);
	is->cfg.iqn_prefix = copy;
	return 0;
}

int mgmt_iscsi_add_target_spec(struct mgmt_config *cfg, const char *spec)
{
	struct mgmt_iscsi *is = mgmt_iscsi_obtain(cfg);
	struct iscsi_target_cfg *t;
	char *copy, *eq, *name, *save = NULL;
	int ret = -EINVAL;

	if (!is)
		return -ENOMEM;
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	eq = strchr(copy, '=');
	if (!eq || eq == copy || !eq[1]) {
		log_error("--iscsi-target %s: expected IQN=EXPORT[,EXPORT...]",
			  spec);
		goto out;
	}
	*eq = 0;
	for (unsigned int i = 0; i < is->cfg.n_targets; i++) {
		if (!strcmp(is->targets[i].name, copy)) {
			log_error("--iscsi-target %s: target defined twice",
				  copy);
			goto out;
		}
	}
	t = mgmt_iscsi_target_new(is);
	ret = t ? mgmt_iscsi_name_dup("target name", copy, (char **)&t->name)
		: -ENOMEM;
	for (name = strtok_r(eq + 1, ",", &save); name && ret == 0;
	     name = strtok_r(NULL, ",", &save)) {
		struct iscsi_lun_cfg lun = { .lun = t->n_luns, .export = name };

		ret = mgmt_iscsi_lun_add(t, &lun);
	}
out:
	free(copy);
	return ret;
}

int mgmt_iscsi_check(const struct mgmt_config *cfg)
{
	const struct mgmt_iscsi *is = cfg->iscsi;

	if (!is)
		return 0;
	if (!is->n_listen && is->cfg.n_targets)
		log_warn("iscsi: targets are configured but no portal; iSCSI "
			 "is off (use --iscsi-listen or iscsi.listen)");
	for (unsigned int i = 0; i < is->cfg.n_targets; i++) {
		const struct iscsi_target_cfg *t = &is->targets[i];

		for (unsigned int j = 0; j < t->n_luns; j++) {
			unsigned int k;

			for (k = 0; k < cfg->n_exports; k++)
				if (!strcmp(cfg->exports[k].name,
					    t->luns[j].export))
					break;
			if (k == cfg->n_exports) {
				log_error("iscsi: target %s LUN %llu: no "
					  "export named \"%s\"",
					  t->name,
					  (unsigned long long)t->luns[j].lun,
					  t->luns[j].export);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Saving ------------------------------------------------------------------ */

static json_t *mgmt_iscsi_target_json(const struct iscsi_target_cfg *t)
{
	json_t *luns = json_array(), *obj;

	for (unsigned int i = 0; luns && i < t->n_luns; i++)
		json_array_append_new(luns,
				      json_pack("{s:I, s:s}", "lun",
						(json_int_t)t->luns[i].lun,
						"export", t->luns[i].export));
	obj = json_pack("{s:s, s:o}", "name", t->name, "luns", luns);
	return obj;
}

json_t *mgmt_iscsi_save(const struct mgmt_config *cfg)
{
	const struct mgmt_iscsi *is = cfg->iscsi;
	json_t *obj, *listen, *targets;

	if (!is || (!is->file_json && !is->n_listen && !is->cfg.n_targets &&
		    !is->cfg.iqn_prefix))
		return NULL;
	obj = is->file_json ? json_deep_copy(is->file_json) : json_object();
	listen = json_array();
	if (!obj || !listen)
		goto err;
	mgmt_alua_save_states(obj); /* the live states */
	for (unsigned int i = 0; i < is->n_listen; i++)
		json_array_append_new(listen, json_string(is->listen[i]));
	json_object_set_new(obj, "listen", listen);
	listen = NULL;
	if (is->cfg.iqn_prefix)
		json_object_set_new(obj, "iqn_prefix",
				    json_string(is->cfg.iqn_prefix));
	/* Targets from --iscsi-target join the file's. */
	if (is->cfg.n_targets > is->n_file_targets) {
		targets = json_object_get(obj, "targets");
		if (!targets) {
			targets = json_array();
			json_object_set_new(obj, "targets", targets);
		}
		for (unsigned int i = is->n_file_targets; i < is->cfg.n_targets;
		     i++)
			json_array_append_new(
				targets,
				mgmt_iscsi_target_json(&is->targets[i]));
	}
	return obj;
err:
	json_decref(listen);
	json_decref(obj);
	return NULL;
}
