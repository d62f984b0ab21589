// SPDX-License-Identifier: MIT
/*
 * Who may reach an export, as the operator writes it: the protocols that
 * serve it ("protocols": ["iscsi"]) and the client addresses allowed and
 * denied ("allow"/"deny": CIDR lists), in the config file, export.add,
 * export.set and the command line's export specs.  The checks themselves
 * are remote_export_access's; the Connection Manager applies changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"

static const struct {
	const char *name;
	unsigned int bit;
} mgmt_protocols[] = {
	{ "nbd", CONN_PROTO_NBD },
	{ "iscsi", CONN_PROTO_ISCSI },
};

static int mgmt_protocol_add(struct mgmt_export *e, const char *name)
{
	for (size_t i = 0; i < sizeof(mgmt_protocols) / sizeof(*mgmt_protocols);
	     i++) {
		if (!strcmp(name, mgmt_protocols[i].name)) {
			e->protocols |= mgmt_protocols[i].bit;
			return 0;
		}
	}
	log_error("export %s: protocols: unknown protocol \"%s\" (nbd, iscsi)",
		  e->name ? e->name : "(unnamed)", name);
	return -EINVAL;
}

static int mgmt_access_add(struct mgmt_export *e, const char *key,
			   const char *value)
{
	int ret = base_acl_add(&e->acl, key, value);

	if (ret == -EINVAL)
		log_error("export %s: %s: \"%s\" is not an address or prefix "
			  "such as 192.0.2.0/24 or 2001:db8::/32",
			  e->name ? e->name : "(unnamed)", key, value);
	return ret;
}

/* A string or a list of strings, each passed to add. */
static int mgmt_access_list(struct mgmt_export *e, const char *key, json_t *v,
			    int (*add)(struct mgmt_export *e, const char *key,
				       const char *value))
{
	size_t i;
	json_t *item;
	int ret;

	if (json_is_string(v))
		return add(e, key, json_string_value(v));
	if (!json_is_array(v))
		goto err;
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item))
			goto err;
		ret = add(e, key, json_string_value(item));
		if (ret < 0)
			return ret;
	}
	return 0;
err:
	log_error("config: export: %s: expected a string or a list of them",
		  key);
	return -EINVAL;
}

static int mgmt_protocol_add_kv(struct mgmt_export *e, const char *key,
				const char *value)
{
	return mgmt_protocol_add(e, value);
}

int mgmt_access_parse_json(struct mgmt_export *e, const char *key, json_t *v)
{
	int ret;

	if (!strcmp(key, "protocols")) {
		e->protocols = 0;
		ret = mgmt_access_list(e, key, v, mgmt_protocol_add_kv);
		if (ret == 0 && !e->protocols) {
			log_error("export %s: protocols: name at least one "
				  "(nbd, iscsi)",
				  e->name ? e->name : "(unnamed)");
			ret = -EINVAL;
		}
		return ret < 0 ? ret : 1;
	}
	if (strcmp(key, "allow") && strcmp(key, "deny"))
		return 0;
	ret = mgmt_access_list(e, key, v, mgmt_access_add);
	return ret < 0 ? ret : 1;
}

int mgmt_access_parse_opt(struct mgmt_export *e, const char *opt)
{
	char *copy, *name, *save = NULL;
	int ret = 0;

	if (!strncmp(opt, "allow=", 6))
		return mgmt_access_add(e, "allow", opt + 6) < 0 ? -EINVAL : 1;
	if (!strncmp(opt, "deny=", 5))
		return mgmt_access_add(e, "deny", opt + 5) < 0 ? -EINVAL : 1;
	if (strncmp(opt, "protocols=", 10))
		return 0;
	/* "protocols=iscsi", "protocols=nbd+iscsi" */
	copy = strdup(opt + 10);
	if (!copy)
		return -ENOMEM;
	e->protocols = 0;
	for (name = strtok_r(copy, "+", &save); name && ret == 0;
	     name = strtok_r(NULL, "+", &save))
		ret = mgmt_protocol_add(e, name);
	free(copy);
	if (ret == 0 && !e->protocols)
		ret = mgmt_protocol_add(e, "");
	return ret < 0 ? ret : 1;
}

static json_t *mgmt_cidrs_to_json(const struct base_cidr *c, unsigned int n)
{
	json_t *a = json_array();
	char buf[64];

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(a, json_string(base_cidr_format(
						 &c[i], buf, sizeof(buf))));
	return a;
}

void mgmt_access_to_json(const struct mgmt_export *e, json_t *o)
{
	if (e->protocols && e->protocols != CONN_PROTO_ALL) {
		json_t *a = json_array();

		for (size_t i = 0;
		     i < sizeof(mgmt_protocols) / sizeof(*mgmt_protocols); i++)
			if (e->protocols & mgmt_protocols[i].bit)
				json_array_append_new(
					a, json_string(mgmt_protocols[i].name));
		json_object_set_new(o, "protocols", a);
	}
	if (e->acl.n_allow)
		json_object_set_new(
			o, "allow",
			mgmt_cidrs_to_json(e->acl.allow, e->acl.n_allow));
	if (e->acl.n_deny)
		json_object_set_new(
			o, "deny",
			mgmt_cidrs_to_json(e->acl.deny, e->acl.n_deny));
}

static unsigned int mgmt_protocols_of(const struct mgmt_export *e)
{
	return e->protocols ? e->protocols : CONN_PROTO_ALL;
}

bool mgmt_access_equal(const struct mgmt_export *a, const struct mgmt_export *b)
{
	return mgmt_protocols_of(a) == mgmt_protocols_of(b) &&
	       base_acl_equal(&a->acl, &b->acl);
}

int mgmt_access_copy(struct mgmt_export *dst, const struct mgmt_export *src)
{
	dst->protocols = src->protocols;
	base_acl_fini(&dst->acl);
	return base_acl_copy(&dst->acl, &src->acl);
}
