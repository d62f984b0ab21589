// SPDX-License-Identifier: MIT
/* Address and peer-credential allow/deny lists; see base_acl.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_acl.h"

static const uint8_t base_acl_v4_mapped[12] = { 0, 0, 0, 0, 0,	  0,
						0, 0, 0, 0, 0xff, 0xff };

/* "0".."max", digits only (no sign, no blanks, no leading "+"). */
static int base_acl_number(const char *text, unsigned long max,
			   unsigned long *v)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoul(text, &end, 10);
	if (errno || *end || *v > max)
		return -EINVAL;
	return 0;
}

int base_cidr_parse(const char *text, struct base_cidr *c)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long prefix;
	struct in_addr a4;

	memset(c, 0, sizeof(*c));
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = 0;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		c->family = AF_INET;
		memcpy(c->addr, base_acl_v4_mapped, 12);
		memcpy(c->addr + 12, &a4, 4);
		prefix = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash && base_acl_number(slash + 1, prefix, &prefix) < 0)
		return -EINVAL;
	c->prefix = (unsigned int)prefix + (c->family == AF_INET ? 96 : 0);
	for (unsigned int bit = c->prefix; bit < 128; bit++)
		c->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return 0;
}

/* sa as 16 bytes of IPv6, IPv4 mapped.  False if it is not IP. */
static bool base_acl_addr16(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa && sa->sa_family == AF_INET) {
		memcpy(out, base_acl_v4_mapped, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool base_cidr_match16(const struct base_cidr *c, const uint8_t a[16])
{
	unsigned int whole = c->prefix / 8, rest = c->prefix % 8;
	uint8_t mask = (uint8_t)(0xff00u >> rest);

	if (memcmp(a, c->addr, whole))
		return false;
	return rest == 0 || (a[whole] & mask) == c->addr[whole];
}

bool base_cidr_match(const struct base_cidr *c, const struct sockaddr *sa)
{
	uint8_t a[16];

	return base_acl_addr16(sa, a) && base_cidr_match16(c, a);
}

const char *base_cidr_format(const struct base_cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (c->family == AF_INET)
		inet_ntop(AF_INET, c->addr + 12, host, sizeof(host));
	else
		inet_ntop(AF_INET6, c->addr, host, sizeof(host));
	snprintf(buf, len, "%s/%u", host,
		 c->prefix - (c->family == AF_INET ? 96 : 0));
	return buf;
}

static int base_acl_id(const char *key, const char *value, unsigned long *id)
{
	if (base_acl_number(value, (unsigned long)(uint32_t)-2, id) == 0)
		return 0;
	if (!strcmp(key, "uid")) {
		struct passwd *pw = getpwnam(value);

		if (!pw)
			return -EINVAL;
		*id = pw->pw_uid;
	} else {
		struct group *gr = getgrnam(value);

		if (!gr)
			return -EINVAL;
		*id = gr->gr_gid;
	}
	return 0;
}

static int base_acl_push(void **array, unsigned int *n, size_t size,
			 const void *item)
{
	char *a = realloc(*array, (*n + 1) * size);

	if (!a)
		return -ENOMEM;
	memcpy(a + *n * size, item, size);
	*array = a;
	(*n)++;
	return 0;
}

int base_acl_add(struct base_acl *acl, const char *key, const char *value)
{
	struct base_cidr c;
	unsigned long id;
	bool deny = !strcmp(key, "deny");

	if (deny || !strcmp(key, "allow")) {
		if (base_cidr_parse(value, &c) < 0)
			return -EINVAL;
		return deny ? base_acl_push((void **)&acl->deny, &acl->n_deny,
					    sizeof(c), &c)
			    : base_acl_push((void **)&acl->allow, &acl->n_allow,
					    sizeof(c), &c);
	}
	if (strcmp(key, "uid") && strcmp(key, "gid"))
		return -EINVAL;
	if (base_acl_id(key, value, &id) < 0)
		return -EINVAL;
	if (key[0] == 'u') {
		uid_t uid = (uid_t)id;

		return base_acl_push((void **)&acl->uids, &acl->n_uids,
				     sizeof(uid), &uid);
	}
	gid_t gid = (gid_t)id;

	return base_acl_push((void **)&acl->gids, &acl->n_gids, sizeof(gid),
			     &gid);
}

void base_acl_fini(struct base_acl *acl)
{
	free(acl->allow);
	free(acl->deny);
	free(acl->uids);
	free(acl->gids);
	memset(acl, 0, sizeof(*acl));
}

static void *base_acl_dup(const void *p, size_t bytes, bool *failed)
{
	void *copy;

	if (!bytes)
		return NULL;
	copy = malloc(bytes);
	if (!copy)
		*failed = true;
	else
		memcpy(copy, p, bytes);
	return copy;
}

int base_acl_copy(struct base_acl *dst, const struct base_acl *src)
{
	bool failed = false;

	*dst = *src;
	dst->allow = base_acl_dup(src->allow,
				  src->n_allow * sizeof(*src->allow), &failed);
	dst->deny = base_acl_dup(src->deny, src->n_deny * sizeof(*src->deny),
				 &failed);
	dst->uids = base_acl_dup(src->uids, src->n_uids * sizeof(*src->uids),
				 &failed);
	dst->gids = base_acl_dup(src->gids, src->n_gids * sizeof(*src->gids),
				 &failed);
	if (failed) {
		base_acl_fini(dst);
		return -ENOMEM;
	}
	return 0;
}

static bool base_acl_same(const void *a, const void *b, unsigned int na,
			  unsigned int nb, size_t size)
{
	return na == nb && (na == 0 || !memcmp(a, b, na * size));
}

bool base_acl_equal(const struct base_acl *a, const struct base_acl *b)
{
	return base_acl_same(a->allow, b->allow, a->n_allow, b->n_allow,
			     sizeof(*a->allow)) &&
	       base_acl_same(a->deny, b->deny, a->n_deny, b->n_deny,
			     sizeof(*a->deny)) &&
	       base_acl_same(a->uids, b->uids, a->n_uids, b->n_uids,
			     sizeof(*a->uids)) &&
	       base_acl_same(a->gids, b->gids, a->n_gids, b->n_gids,
			     sizeof(*a->gids));
}

bool base_acl_is_empty(const struct base_acl *acl)
{
	return !acl->n_allow && !acl->n_deny && !acl->n_uids && !acl->n_gids;
}

bool base_acl_allows(const struct base_acl *acl, const struct sockaddr *sa)
{
	uint8_t a[16];

	if (!acl || !base_acl_addr16(sa, a))
		return true;
	for (unsigned int i = 0; i < acl->n_deny; i++)
		if (base_cidr_match16(&acl->deny[i], a))
			return false;
	if (acl->n_allow == 0)
		return true;
	for (unsigned int i = 0; i < acl->n_allow; i++)
		if (base_cidr_match16(&acl->allow[i], a))
			return true;
	return false;
}

bool base_acl_allows_cred(const struct base_acl *acl, uid_t uid, gid_t gid)
{
	if (!acl || (acl->n_uids == 0 && acl->n_gids == 0))
		return true;
	for (unsigned int i = 0; i < acl->n_uids; i++)
		if (acl->uids[i] == uid)
			return true;
	for (unsigned int i = 0; i < acl->n_gids; i++)
		if (acl->gids[i] == gid)
			return true;
	return false;
}
