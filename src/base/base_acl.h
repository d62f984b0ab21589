/* SPDX-License-Identifier: MIT */
/*
 * base_acl: who may connect, as an operator writes it down.  Address
 * prefixes (CIDR, IPv4 and IPv6) to allow and to deny, and for Unix
 * sockets the peer user and group ids to allow.  Knows nothing about
 * listeners, exports or protocols: callers decide where a list applies.
 */
#ifndef IOPD_BASE_ACL_H
#define IOPD_BASE_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* An address prefix.  Every prefix is kept in IPv6 form, an IPv4 one as
 * its IPv4-mapped equivalent (10.0.0.0/8 is ::ffff:10.0.0.0/104), so that
 * IPv4 peers match the same entries whether a socket reports them as
 * 10.1.2.3 or, dual-stack, as ::ffff:10.1.2.3. */
struct base_cidr {
	sa_family_t family;  /* as written: AF_INET or AF_INET6 */
	unsigned int prefix; /* 0..128, in the IPv6 form */
	uint8_t addr[16];    /* network byte order; bits past prefix zero */
};

/* "10.0.0.0/8", "192.0.2.7" (/32), "fe80::/10", "::1" (/128).  Host bits
 * past the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8).  Returns 0 or
 * -EINVAL. */
int base_cidr_parse(const char *text, struct base_cidr *c);
/* Does the IP address sa fall in c?  An IPv4 peer and its IPv4-mapped
 * IPv6 form are the same peer; so ::/0 covers IPv4 peers too, and
 * 0.0.0.0/0 covers exactly the IPv4 ones.  False for anything but AF_INET
 * and AF_INET6. */
bool base_cidr_match(const struct base_cidr *c, const struct sockaddr *sa);
/* "10.0.0.0/8"; returns buf. */
const char *base_cidr_format(const struct base_cidr *c, char *buf, size_t len);

struct base_acl {
	struct base_cidr *allow, *deny;
	unsigned int n_allow, n_deny;
	uid_t *uids; /* Unix peers: SO_PEERCRED */
	gid_t *gids;
	unsigned int n_uids, n_gids;
};

/* Add one entry: key "allow" or "deny" with a CIDR, "uid" or "gid" with
 * a number or a user/group name.  Returns 0, -EINVAL (bad key or value)
 * or -ENOMEM. */
int base_acl_add(struct base_acl *acl, const char *key, const char *value);
void base_acl_fini(struct base_acl *acl);
/* *dst (zeroed or finished) becomes a copy of src.  0 or -ENOMEM. */
int base_acl_copy(struct base_acl *dst, const struct base_acl *src);
bool base_acl_equal(const struct base_acl *a, const struct base_acl *b);
bool base_acl_is_empty(const struct base_acl *acl);

/*
 * May a peer at sa connect?  A deny entry that matches refuses; then a
 * non-empty allow list must match.  The address lists name IP addresses
 * only: a NULL sa, a Unix peer or any other family passes them (a Unix
 * socket's file mode and base_acl_allows_cred decide for those).  A NULL
 * acl allows everyone.
 */
bool base_acl_allows(const struct base_acl *acl, const struct sockaddr *sa);
/* A Unix peer with user uid and primary group gid: allowed when there are
 * no uid/gid entries, or one of them names it. */
bool base_acl_allows_cred(const struct base_acl *acl, uid_t uid, gid_t gid);

#endif
