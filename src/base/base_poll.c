// SPDX-License-Identifier: MIT
/*
 * base_poll: the busy-polling governor (see base_poll.h for why it
 * probes).  An epoch ends at the first tick after it has lasted
 * BASE_POLL_EPOCH_NS and seen BASE_POLL_EPOCH_EVENTS completions; one
 * that took longer than BASE_POLL_EPOCH_MAX_NS to get there is too quiet
 * to judge a probe by, or for polling to pay, so an idle loop neither
 * probes nor polls.  A probe is judged against the mean of the settled epochs
 * just before and just after it, which cancels a load that is ramping up
 * or down.
 */
#include <string.h>

#include "base/base_log.h"
#include "base/base_poll.h"

void base_poll_init(struct base_poll *p, uint64_t now_ns, uint64_t count,
		    uint64_t work)
{
	memset(p, 0, sizeof(*p));
	p->epoch_start_ns = now_ns;
	p->epoch_start_count = count;
	p->epoch_start_work = work;
	p->interval = BASE_POLL_PROBE_FIRST;
	p->countdown = BASE_POLL_PROBE_FIRST;
}

/* Back to the settled mode; won: the probed mode becomes the settled
 * one, and the next probe comes soon, since the load may change again. */
static void base_poll_settle(struct base_poll *p, bool won)
{
	/* Polling is adopted only after it wins two probes in a row: one
	 * lucky epoch on a busy machine must not buy it a core. */
	if (won && !p->settled_spin && !p->wins++) {
		p->countdown = 1;
		p->phase = BASE_POLL_SETTLED;
		p->spin = p->settled_spin;
		return;
	}
	p->wins = 0;
	if (won) {
		p->settled_spin = !p->settled_spin;
		p->switches++;
		p->interval = BASE_POLL_PROBE_FIRST;
	} else if (p->interval < BASE_POLL_PROBE_LAST) {
		p->interval *= 2;
	}
	p->countdown = p->interval;
	p->phase = BASE_POLL_SETTLED;
	p->spin = p->settled_spin;
}

/* Polling must earn its CPU: it wins a probe only with a clear gain, and
 * loses one as soon as sleeping comes close.  base: the settled rate. */
static bool base_poll_probe_won(const struct base_poll *p, uint64_t base)
{
	if (!p->settled_spin) /* the probe polled */
		return p->rate_probe * 100 >= base * (100 + BASE_POLL_GAIN_PCT);
	return p->rate_probe * 100 >= base * (100 - BASE_POLL_KEEP_PCT);
}

static void base_poll_log(const struct base_poll *p, uint64_t base)
{
	/* Called after the switch: the probe ran in the new mode. */
	uint64_t polling = p->settled_spin ? p->rate_probe : base;
	uint64_t sleeping = p->settled_spin ? base : p->rate_probe;

	log_debug("busy polling %s: %llu bytes/s polling, %llu bytes/s "
		  "sleeping",
		  p->settled_spin ? "on" : "off", (unsigned long long)polling,
		  (unsigned long long)sleeping);
}

/* A settled epoch: probe when the countdown runs out, or at once when the
 * load has moved far from the one the mode was decided for. */
static void base_poll_settled_end(struct base_poll *p, uint64_t rate)
{
	if (p->rate_decided &&
	    (rate > 2 * p->rate_decided || 2 * rate < p->rate_decided)) {
		p->rate_decided = rate;
		p->interval = BASE_POLL_PROBE_FIRST;
		p->countdown = 1;
	}
	if (p->countdown > 1) {
		p->countdown--;
		return;
	}
	p->rate_before = rate;
	p->phase = BASE_POLL_PROBE;
	p->spin = !p->settled_spin;
	p->probes++;
}

static void base_poll_epoch_end(struct base_poll *p, uint64_t rate, bool judged)
{
	uint64_t base, switches;
	bool won;

	if (!judged) {
		/* Too quiet to learn from, and too quiet for polling to pay:
		 * a probe in flight is dropped, and polling given up. */
		if (p->settled_spin)
			p->switches++;
		p->settled_spin = false;
		p->phase = BASE_POLL_SETTLED;
		p->spin = false;
		p->countdown = p->interval = BASE_POLL_PROBE_FIRST;
		p->wins = 0;
		return;
	}
	switch (p->phase) {
	case BASE_POLL_SETTLED:
		base_poll_settled_end(p, rate);
		break;
	case BASE_POLL_PROBE:
		p->rate_probe = rate;
		p->phase = BASE_POLL_CONFIRM;
		p->spin = p->settled_spin;
		break;
	case BASE_POLL_CONFIRM:
		base = (p->rate_before + rate) / 2;
		won = base_poll_probe_won(p, base);
		p->rate_decided = won ? p->rate_probe : base;
		switches = p->switches;
		base_poll_settle(p, won);
		if (p->switches != switches)
			base_poll_log(p, base);
		break;
	}
}

bool base_poll_tick(struct base_poll *p, uint64_t now_ns, uint64_t count,
		    uint64_t work)
{
	uint64_t elapsed = now_ns - p->epoch_start_ns;
	uint64_t events = count - p->epoch_start_count;

	if (elapsed < BASE_POLL_EPOCH_MAX_NS &&
	    (elapsed < BASE_POLL_EPOCH_NS || events < BASE_POLL_EPOCH_EVENTS))
		return p->spin;
	/* Bytes per second, the time in microseconds: an epoch lasts at
	 * least BASE_POLL_EPOCH_NS, and the product fits in 64 bits. */
	base_poll_epoch_end(
		p, (work - p->epoch_start_work) * 1000000u / (elapsed / 1000u),
		elapsed < BASE_POLL_EPOCH_MAX_NS);
	p->epoch_start_ns = now_ns;
	p->epoch_start_count = count;
	p->epoch_start_work = work;
	return p->spin;
}
