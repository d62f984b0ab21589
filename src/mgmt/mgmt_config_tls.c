// SPDX-License-Identifier: MIT
/*
 * An export's TLS keys in the config file and export.add (mgmt_config.h):
 * "tls": "required" (or "optional", the default), "tls_dn_allow" (client
 * certificate Distinguished Names) and "tls_psk_allow" (PSK identities),
 * which become the export's struct conn_tls_policy; and the daemon's TLS
 * options handed to the Remote Transport (remote_tls.h), whose credentials
 * the TCP management listener uses too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "remote/remote_tls.h"

static void mgmt_strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int mgmt_strv_copy(char *const *src, char ***out)
{
	size_t n = 0;

	*out = NULL;
	if (!src)
		return 0;
	while (src[n])
		n++;
	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!((*out)[i] = strdup(src[i])))
			return -ENOMEM;
	return 0;
}

static bool mgmt_strv_equal(char *const *a, char *const *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

/* A JSON array of non-empty strings (one may be given bare); null: no
 * list. */
static int mgmt_strv_parse(const char *key, json_t *v, char ***out)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v) && !json_is_null(v) && !json_is_string(v))
		goto bad;
	mgmt_strv_free(*out);
	*out = NULL;
	if (json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		json_t *one = json_pack("[O]", v);
		int ret = one ? mgmt_strv_parse(key, one, out) : -ENOMEM;

		json_decref(one);
		return ret;
	}
	*out = calloc(json_array_size(v) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item) || !json_string_value(item)[0])
			goto bad;
		if (!((*out)[i] = strdup(json_string_value(item))))
			return -ENOMEM;
	}
	return 0;
bad:
	log_error("config: export: \"%s\" is an array of strings", key);
	return -EINVAL;
}

int mgmt_export_tls_parse(struct mgmt_export *e, const char *key, json_t *v)
{
	const char *s = json_string_value(v);

	if (!strcmp(key, "tls")) {
		if (s && (!strcmp(s, "required") || !strcmp(s, "optional"))) {
			e->tls_required = !strcmp(s, "required");
			return 0;
		}
		log_error("config: export: \"tls\" is \"required\" or "
			  "\"optional\"");
		return -EINVAL;
	}
	if (!strcmp(key, "tls_dn_allow"))
		return mgmt_strv_parse(key, v, &e->tls_dn_allow);
	if (!strcmp(key, "tls_psk_allow"))
		return mgmt_strv_parse(key, v, &e->tls_psk_allow);
	return -ENOENT;
}

void mgmt_export_tls_fini(struct mgmt_export *e)
{
	mgmt_strv_free(e->tls_dn_allow);
	mgmt_strv_free(e->tls_psk_allow);
	e->tls_dn_allow = e->tls_psk_allow = NULL;
}

bool mgmt_export_tls_equal(const struct mgmt_export *a,
			   const struct mgmt_export *b)
{
	return a->tls_required == b->tls_required &&
	       mgmt_strv_equal(a->tls_dn_allow, b->tls_dn_allow) &&
	       mgmt_strv_equal(a->tls_psk_allow, b->tls_psk_allow);
}

int mgmt_export_tls_copy(struct mgmt_export *dst, const struct mgmt_export *src)
{
	dst->tls_required = src->tls_required;
	if (mgmt_strv_copy(src->tls_dn_allow, &dst->tls_dn_allow) < 0 ||
	    mgmt_strv_copy(src->tls_psk_allow, &dst->tls_psk_allow) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *mgmt_strv_to_json(char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

void mgmt_export_tls_to_json(const struct mgmt_export *e, json_t *o)
{
	if (e->tls_required)
		json_object_set_new(o, "tls", json_string("required"));
	if (e->tls_dn_allow)
		json_object_set_new(o, "tls_dn_allow",
				    mgmt_strv_to_json(e->tls_dn_allow));
	if (e->tls_psk_allow)
		json_object_set_new(o, "tls_psk_allow",
				    mgmt_strv_to_json(e->tls_psk_allow));
}

void mgmt_export_tls_policy(const struct mgmt_export *e,
			    struct conn_tls_policy *p)
{
	p->required = e->tls_required;
	p->dn_allow = (const char *const *)e->tls_dn_allow;
	p->psk_allow = (const char *const *)e->tls_psk_allow;
}

int mgmt_tls_setup(const struct mgmt_config *cfg)
{
	struct remote_tls_settings st = {
		.mode = (enum remote_tls_mode)cfg->tls,
		.cert_dir = cfg->tls_certificates,
		.psk_file = cfg->tls_psk,
		.priority = cfg->tls_priority,
		.verify_peer = cfg->tls_verify_peer,
		/* A TCP management listener serves only TLS, with these. */
		.load_always = cfg->mgmt_listen != NULL,
	};

	if (cfg->tls == REMOTE_TLS_OFF && !cfg->mgmt_listen &&
	    !cfg->metrics_tls && (cfg->tls_certificates || cfg->tls_psk))
		log_warn("TLS credentials given with --tls=off: unused");
	for (unsigned int i = 0;
	     cfg->tls == REMOTE_TLS_OFF && i < cfg->n_exports; i++)
		if (cfg->exports[i].tls_required ||
		    cfg->exports[i].tls_dn_allow ||
		    cfg->exports[i].tls_psk_allow)
			log_warn("export %s requires TLS, which is off: NBD "
				 "clients cannot use it",
				 cfg->exports[i].name);
	return remote_tls_setup(&st);
}

void mgmt_tls_reload(void)
{
	remote_tls_reload();
}

void mgmt_tls_cleanup(void)
{
	remote_tls_cleanup();
}
