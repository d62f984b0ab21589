// SPDX-License-Identifier: MIT
/*
 * base_poll: the busy-polling governor (see base_poll.h for why it
 * probes).  An epoch ends at the first tick after it has lasted
 * BASE_POLL_EPOCH_NS and seen BASE_POLL_EPOCH_EVENTS completions; one
 * that took longer than BASE_POLL_EPOCH_MAX_NS to get there is too quiet
 * to judge a probe by, or for polling to pay, so an idle loop neither
 * probes nor polls.
 *
 * A polling probe is judged against the settled epochs just before and
 * just after it: it must beat both by BASE_POLL_GAIN_PCT, and they must
 * agree within BASE_POLL_STEADY_PCT, or the probe counts as lost.  The
 * mean of the two, the old yardstick, was fooled by a rate-limited
 * client (fio --rate_iops=20000 at queue depth 32) on a busy machine: it
 * stalls now and then and catches up in a burst, so a settled epoch that
 * caught the stall followed by a probe that caught the burst looked like
 * a gain of 2 to 5 times, twice in a row often enough that polling was
 * adopted every few seconds, and every stall brought the next probe
 * forward as a change of load; the server made 3 to 7 system calls per
 * I/O instead of 0.5 to 0.8.  A load change now has to last
 * BASE_POLL_FAR_EPOCHS settled epochs the same way (two while polling).
 *
 * Why not judge bytes per CPU-second, which polling at a paced load
 * plainly loses?  Because it loses there at queue depth 1 too, where
 * spending a core to save the wake-up in every round trip is the point:
 * polling always costs more CPU per byte, and the question is only
 * whether it buys anything.  At a paced load it buys no bytes per second
 * at all, so a steady, repeated gain in them is the test, and the CPU
 * it costs is why the bar is a clear gain, not any gain.
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

/* Whether two rates differ by no more than pct percent of the larger. */
static bool base_poll_close(uint64_t a, uint64_t b, unsigned int pct)
{
	uint64_t hi = a > b ? a : b, lo = a > b ? b : a;

	return (hi - lo) * 100 <= hi * pct;
}

/*
 * Polling must earn its CPU: a polling probe wins only with a clear gain
 * over both settled epochs around it, and only when those two agree, so
 * the load was steady.  A client that sends at its own pace is not: on
 * a busy machine it stalls now and then and catches up in a burst, and
 * a probe that catches the burst after a stall moved more bytes for
 * reasons of the client's own.  A sleeping probe, polling settled, wins
 * as soon as it comes close to the mean of the two: sleeping needs no
 * proof.  after: the settled epoch after the probe.
 */
static bool base_poll_probe_won(const struct base_poll *p, uint64_t after)
{
	uint64_t base = p->rate_before > after ? p->rate_before : after;

	if (p->settled_spin)
		return p->rate_probe * 100 >=
		       (p->rate_before + after) / 2 *
			       (100 - BASE_POLL_KEEP_PCT);
	if (!base_poll_close(p->rate_before, after, BASE_POLL_STEADY_PCT))
		return false;
	return p->rate_probe * 100 >= base * (100 + BASE_POLL_GAIN_PCT);
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
	int far = 0;

	if (p->rate_decided && rate > 2 * p->rate_decided)
		far = 1;
	else if (p->rate_decided && 2 * rate < p->rate_decided)
		far = -1;
	/* Some epochs in a row the same way: fewer, or low ones and high
	 * ones, are a client's stall and the burst that catches up.  Fewer
	 * while polling: a sleeping probe costs nothing. */
	p->far = far && far == p->far_way ? p->far + 1 : (far != 0);
	p->far_way = far;
	if (p->far >= (p->settled_spin ? 2 : BASE_POLL_FAR_EPOCHS)) {
		p->rate_decided = rate;
		p->far = 0;
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
		won = base_poll_probe_won(p, rate);
		log_debug("busy poll probe %s: %llu B/s %s vs %llu/%llu B/s "
			  "settled, wins %u interval %u",
			  won ? "won" : "lost",
			  (unsigned long long)p->rate_probe,
			  p->settled_spin ? "sleeping" : "polling",
			  (unsigned long long)p->rate_before,
			  (unsigned long long)rate, p->wins, p->interval);
		/* The load the mode is decided for, unless a stall or a
		 * burst makes it unclear. */
		if (!p->rate_decided ||
		    base_poll_close(p->rate_before, rate, BASE_POLL_STEADY_PCT))
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
