// SPDX-License-Identifier: MIT
/*
 * Per-protocol connection and handshake counters (iopd/remote_stats.h).
 * A handful of protocols, so a short list under one lock; the registry
 * lives as long as the process so counters never go backwards.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "iopd/remote_stats.h"

#define REMOTE_STATS_MAX_PROTOS 8

struct remote_stats_entry {
	const char *proto;
	struct remote_proto_stats stats;
};

static pthread_mutex_t remote_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct remote_stats_entry remote_stats[REMOTE_STATS_MAX_PROTOS];
static unsigned int remote_stats_n;

/* Called with the lock held; NULL only when the table is full. */
static struct remote_proto_stats *remote_stats_get(const char *proto)
{
	for (unsigned int i = 0; i < remote_stats_n; i++)
		if (!strcmp(remote_stats[i].proto, proto))
			return &remote_stats[i].stats;
	if (remote_stats_n == REMOTE_STATS_MAX_PROTOS)
		return NULL;
	remote_stats[remote_stats_n].proto = proto;
	return &remote_stats[remote_stats_n++].stats;
}

void remote_stats_conn_open(const char *proto)
{
	struct remote_proto_stats *s;

	pthread_mutex_lock(&remote_stats_lock);
	s = remote_stats_get(proto);
	if (s) {
		s->conns_open++;
		s->conns_total++;
	}
	pthread_mutex_unlock(&remote_stats_lock);
}

void remote_stats_conn_close(const char *proto)
{
	struct remote_proto_stats *s;

	pthread_mutex_lock(&remote_stats_lock);
	s = remote_stats_get(proto);
	if (s && s->conns_open)
		s->conns_open--;
	pthread_mutex_unlock(&remote_stats_lock);
}

void remote_stats_handshake(const char *proto, bool ok)
{
	struct remote_proto_stats *s;

	pthread_mutex_lock(&remote_stats_lock);
	s = remote_stats_get(proto);
	if (s) {
		if (ok)
			s->handshakes_ok++;
		else
			s->handshakes_failed++;
	}
	pthread_mutex_unlock(&remote_stats_lock);
}

static void remote_stats_add(const char *proto, size_t offset)
{
	struct remote_proto_stats *s;

	pthread_mutex_lock(&remote_stats_lock);
	s = remote_stats_get(proto);
	if (s)
		(*(uint64_t *)((char *)s + offset))++;
	pthread_mutex_unlock(&remote_stats_lock);
}

void remote_stats_auth_failed(const char *proto)
{
	remote_stats_add(proto,
			 offsetof(struct remote_proto_stats, auth_failed));
}

void remote_stats_auth_delayed(const char *proto)
{
	remote_stats_add(proto,
			 offsetof(struct remote_proto_stats, auth_delayed));
}

void remote_stats_limit(const char *proto, enum remote_limit what)
{
	if ((unsigned int)what < REMOTE_LIMIT_COUNT)
		remote_stats_add(proto,
				 offsetof(struct remote_proto_stats, limited) +
					 what * sizeof(uint64_t));
}

void remote_stats_foreach(void (*fn)(void *opaque, const char *proto,
				     const struct remote_proto_stats *stats),
			  void *opaque)
{
	pthread_mutex_lock(&remote_stats_lock);
	for (unsigned int i = 0; i < remote_stats_n; i++)
		fn(opaque, remote_stats[i].proto, &remote_stats[i].stats);
	pthread_mutex_unlock(&remote_stats_lock);
}
