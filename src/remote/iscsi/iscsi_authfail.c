// SPDX-License-Identifier: MIT
/*
 * Failed CHAP logins, per peer address, for the whole process (every
 * worker's connections share it, under one lock: failures are rare).
 *
 * After a failure from an address, the next CHAP response from that
 * address is checked only at its slot: 0.5 s after the failure,
 * doubling with each further failure up to 8 s.  Waiting for the check
 * rather than for the answer matters: a guesser that opens many
 * connections at once and gives up on those that do not answer at once
 * still learns nothing faster than one guess per slot, because each
 * check takes the next slot (iscsi_authfail_slot reserves it).
 *
 * The table is small and bounded: an address forgotten after
 * ISCSI_AUTHFAIL_FORGET_MS without a failure (and once its slots are
 * past), and when full the entry idle longest makes room.
 */
#include <pthread.h>
#include <string.h>
#include <netinet/in.h>

#include "remote/iscsi/iscsi_priv.h"

#define ISCSI_AUTHFAIL_SLOTS	   256u
#define ISCSI_AUTHFAIL_FIRST_MS	   500u
#define ISCSI_AUTHFAIL_MAX_MS	   8000u
#define ISCSI_AUTHFAIL_FORGET_MS   60000u
#define ISCSI_AUTHFAIL_HOLD_MAX_MS 30000u

struct iscsi_authfail {
	uint8_t addr[16]; /* IPv4 as v4-mapped IPv6 */
	unsigned int failures;
	uint64_t next_ms; /* the next check may run from then on */
	uint64_t last_ms; /* of the last failure */
};

static pthread_mutex_t iscsi_authfail_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iscsi_authfail iscsi_authfail_tab[ISCSI_AUTHFAIL_SLOTS];

/* The address's 16 bytes; false for a peer without one (tests, Unix). */
static bool iscsi_authfail_key(const struct sockaddr_storage *ss,
			       uint8_t key[16])
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(key,
		       &((const struct sockaddr_in6 *)(const void *)ss)
				->sin6_addr,
		       16);
		return true;
	}
	return false;
}

static bool iscsi_authfail_stale(const struct iscsi_authfail *f, uint64_t now)
{
	return f->failures == 0 ||
	       (now >= f->next_ms &&
		now - f->last_ms >= ISCSI_AUTHFAIL_FORGET_MS);
}

static uint64_t iscsi_authfail_delay(unsigned int failures)
{
	if (failures == 0)
		return 0;
	if (failures > 5)
		return ISCSI_AUTHFAIL_MAX_MS;
	return ISCSI_AUTHFAIL_FIRST_MS << (failures - 1);
}

/* Called with the lock held.  create: make room for key if absent. */
static struct iscsi_authfail *iscsi_authfail_find(const uint8_t key[16],
						  uint64_t now, bool create)
{
	struct iscsi_authfail *victim = NULL;

	for (unsigned int i = 0; i < ISCSI_AUTHFAIL_SLOTS; i++) {
		struct iscsi_authfail *f = &iscsi_authfail_tab[i];

		if (iscsi_authfail_stale(f, now)) {
			f->failures = 0;
			if (!victim || victim->failures)
				victim = f;
			continue;
		}
		if (!memcmp(f->addr, key, 16))
			return f;
		if (!victim ||
		    (victim->failures && f->last_ms < victim->last_ms))
			victim = f;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, key, 16);
	return victim;
}

uint64_t iscsi_authfail_slot(const struct sockaddr_storage *peer, uint64_t now)
{
	struct iscsi_authfail *f;
	uint8_t key[16];
	uint64_t slot = 0;

	if (!iscsi_authfail_key(peer, key))
		return 0;
	pthread_mutex_lock(&iscsi_authfail_lock);
	f = iscsi_authfail_find(key, now, false);
	if (f) {
		slot = f->next_ms > now ? f->next_ms : now;
		/* Slots booked this far out by many parallel logins: no
		 * check at all, and no slot taken. */
		if (slot - now > ISCSI_AUTHFAIL_HOLD_MAX_MS)
			slot = UINT64_MAX;
		else
			f->next_ms = slot + iscsi_authfail_delay(f->failures);
	}
	pthread_mutex_unlock(&iscsi_authfail_lock);
	return slot > now ? slot : 0;
}

void iscsi_authfail_note(const struct sockaddr_storage *peer, uint64_t now)
{
	struct iscsi_authfail *f;
	uint8_t key[16];

	if (!iscsi_authfail_key(peer, key))
		return;
	pthread_mutex_lock(&iscsi_authfail_lock);
	f = iscsi_authfail_find(key, now, true);
	if (f->failures < 64)
		f->failures++;
	/* The next check waits the full, grown delay from now; slots
	 * already reserved further out stay. */
	if (f->next_ms < now + iscsi_authfail_delay(f->failures))
		f->next_ms = now + iscsi_authfail_delay(f->failures);
	f->last_ms = now;
	pthread_mutex_unlock(&iscsi_authfail_lock);
}
