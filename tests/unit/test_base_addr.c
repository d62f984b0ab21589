// SPDX-License-Identifier: MIT
/* Socket addresses as text, for logs and the ready-fd protocol. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base_addr.h"
#include "test.h"

static void test_format(void)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	struct sockaddr_un *sun = (void *)&ss;
	char buf[128];

	sin->sin_family = AF_INET;
	sin->sin_port = htons(10809);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	CHECK_EQ_INT(base_addr_format(&ss, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "127.0.0.1:10809"));

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(1);
	inet_pton(AF_INET6, "::1", &sin6->sin6_addr);
	CHECK_EQ_INT(base_addr_format(&ss, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "[::1]:1"));

	memset(&ss, 0, sizeof(ss));
	sun->sun_family = AF_UNIX;
	CHECK_EQ_INT(base_addr_format(&ss, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "unix"));
	strcpy(sun->sun_path, "/run/iopd.sock");
	CHECK_EQ_INT(base_addr_format(&ss, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "unix:/run/iopd.sock"));

	ss.ss_family = AF_PACKET;
	CHECK_EQ_INT(base_addr_format(&ss, buf, sizeof(buf)), -EAFNOSUPPORT);
}

static void test_of_fd(void)
{
	char buf[128];
	int sv[2];

	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_EQ_INT(base_addr_of_fd(sv[0], 1, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "unix"));
	close(sv[0]);
	close(sv[1]);
	CHECK_EQ_INT(base_addr_of_fd(sv[0], 0, buf, sizeof(buf)), -EBADF);
}

int main(void)
{
	TEST_CASE(test_format);
	TEST_CASE(test_of_fd);
	return test_done();
}
