// SPDX-License-Identifier: MIT
/* CIDR prefixes and allow/deny lists (base_acl.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "base/base_acl.h"
#include "test.h"

static struct sockaddr_storage peer(const char *text)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;

	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &sin6->sin6_addr);
	}
	return ss;
}

static bool in(const char *cidr, const char *addr)
{
	struct base_cidr c;
	struct sockaddr_storage ss = peer(addr);

	CHECK_EQ_INT(base_cidr_parse(cidr, &c), 0);
	return base_cidr_match(&c, (struct sockaddr *)&ss);
}

static void test_v4(void)
{
	CHECK(in("10.0.0.0/8", "10.255.1.2"));
	CHECK(!in("10.0.0.0/8", "11.0.0.1"));
	CHECK(in("192.168.1.0/23", "192.168.0.9"));
	CHECK(!in("192.168.1.0/23", "192.168.2.1"));
	CHECK(in("127.0.0.1/32", "127.0.0.1"));
	CHECK(!in("127.0.0.1/32", "127.0.0.2"));
	CHECK(in("127.0.0.2", "127.0.0.2")); /* bare: /32 */
	CHECK(!in("127.0.0.2", "127.0.0.3"));
	CHECK(in("10.1.2.3/8", "10.9.9.9")); /* host bits ignored */
	CHECK(in("0.0.0.0/0", "203.0.113.5"));
	CHECK(!in("0.0.0.0/0", "2001:db8::1"));
	CHECK(!in("10.0.0.0/8", "::1"));
}

static void test_v6(void)
{
	CHECK(in("2001:db8::/32", "2001:db8:1::5"));
	CHECK(!in("2001:db8::/32", "2001:db9::5"));
	CHECK(in("::1/128", "::1"));
	CHECK(in("::1", "::1"));
	CHECK(!in("::1/128", "::2"));
	CHECK(in("fe80::/10", "febf::1"));
	CHECK(!in("fe80::/10", "fec0::1"));
	CHECK(in("::/0", "2001:db8::1"));
	/* Every IPv4 peer is in ::/0 too: a dual-stack socket says so. */
	CHECK(in("::/0", "10.0.0.1"));
}

static void test_v4_mapped(void)
{
	/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d. */
	CHECK(in("10.0.0.0/8", "::ffff:10.1.2.3"));
	CHECK(!in("10.0.0.0/8", "::ffff:11.1.2.3"));
	CHECK(in("127.0.0.1/32", "::ffff:127.0.0.1"));
	CHECK(in("0.0.0.0/0", "::ffff:1.2.3.4"));
	CHECK(in("::ffff:10.0.0.0/104", "10.200.0.1"));
	CHECK(!in("::ffff:10.0.0.0/104", "11.0.0.1"));
	CHECK(in("::ffff:0:0/96", "198.51.100.1"));
	CHECK(!in("::ffff:0:0/96", "2001:db8::1"));
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"",
		"/8",
		"10.0.0.0/",
		"10.0.0.0/33",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0/8",
		"10.0.0.0/8x",
		"::1/129",
		"1.2.3.4.5",
		"host.example",
		"10.0.0.0 /8",
		" 10.0.0.0",
		"[::1]/128",
		"::1/ 64",
		"10.0.0.256",
	};
	struct base_cidr c;
	char buf[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = base_cidr_parse(bad[i], &c);

		if (ret != -EINVAL)
			printf("#   accepted \"%s\"\n", bad[i]);
		CHECK_EQ_INT(ret, -EINVAL);
	}
	CHECK_EQ_INT(base_cidr_parse("10.1.2.3/8", &c), 0);
	CHECK(!strcmp(base_cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8"));
	CHECK_EQ_INT(base_cidr_parse("fe80::1/10", &c), 0);
	CHECK(!strcmp(base_cidr_format(&c, buf, sizeof(buf)), "fe80::/10"));
}

static void test_lists(void)
{
	struct base_acl acl = { 0 }, copy = { 0 };
	struct sockaddr_storage a = peer("127.0.0.1"), b = peer("127.0.0.2"),
				c = peer("10.0.0.1");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	CHECK(base_acl_allows(NULL, (struct sockaddr *)&a));
	CHECK(base_acl_allows(&acl, (struct sockaddr *)&a));
	CHECK_EQ_INT(base_acl_add(&acl, "allow", "127.0.0.0/8"), 0);
	CHECK_EQ_INT(base_acl_add(&acl, "deny", "127.0.0.2"), 0);
	CHECK(base_acl_allows(&acl, (struct sockaddr *)&a));
	CHECK(!base_acl_allows(&acl, (struct sockaddr *)&b)); /* deny wins */
	CHECK(!base_acl_allows(&acl, (struct sockaddr *)&c)); /* not allowed */
	/* Address lists do not name Unix peers. */
	CHECK(base_acl_allows(&acl, (struct sockaddr *)&sun));
	CHECK(base_acl_allows(&acl, NULL));
	CHECK_EQ_INT(base_acl_add(&acl, "allow", "nonsense"), -EINVAL);
	CHECK_EQ_INT(base_acl_add(&acl, "permit", "10.0.0.0/8"), -EINVAL);

	CHECK(base_acl_allows_cred(&acl, 1000, 1000));
	CHECK_EQ_INT(base_acl_add(&acl, "uid", "0"), 0);
	CHECK_EQ_INT(base_acl_add(&acl, "gid", "6"), 0);
	CHECK_EQ_INT(base_acl_add(&acl, "uid", "root"), 0);
	CHECK_EQ_INT(base_acl_add(&acl, "uid", "no-such-user-here"), -EINVAL);
	CHECK(base_acl_allows_cred(&acl, 0, 1000));
	CHECK(base_acl_allows_cred(&acl, 1000, 6));
	CHECK(!base_acl_allows_cred(&acl, 1000, 1000));

	CHECK_EQ_INT(base_acl_copy(&copy, &acl), 0);
	CHECK(base_acl_equal(&copy, &acl));
	CHECK_EQ_INT(base_acl_add(&copy, "deny", "::1"), 0);
	CHECK(!base_acl_equal(&copy, &acl));
	base_acl_fini(&copy);
	base_acl_fini(&acl);
	CHECK(base_acl_is_empty(&acl));
}

int main(void)
{
	TEST_CASE(test_v4);
	TEST_CASE(test_v6);
	TEST_CASE(test_v4_mapped);
	TEST_CASE(test_malformed);
	TEST_CASE(test_lists);
	return test_done();
}
