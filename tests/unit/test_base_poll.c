// SPDX-License-Identifier: MIT
/*
 * The busy-polling governor against simulated loads: a client that waits
 * for each reply (polling raises its rate) gets polling, one that sends
 * at its own pace does not and is probed ever more rarely, an idle loop
 * is never probed, a noisy paced load does not fool it, and a change of
 * load is followed both ways.
 */
#include <stdbool.h>
#include <stdint.h>

#include "base/base_poll.h"
#include "test.h"

#define MS (1000ull * 1000)

/* A load: completions per second while polling and while sleeping, with
 * a relative noise of up to noise_pct; each moves bytes_spin or
 * bytes_sleep bytes (0: one). */
struct load {
	uint64_t rate_spin, rate_sleep;
	unsigned int noise_pct;
	uint64_t bytes_spin, bytes_sleep;
};

struct sim {
	struct base_poll p;
	uint64_t now_ns, count, work,
		frac;	  /* frac: completions * 1e9 not yet whole */
	uint64_t spin_ns; /* time spent in polling mode */
	uint32_t seed;
	int64_t noise; /* percent */
};

static void sim_init(struct sim *s)
{
	memset(s, 0, sizeof(*s));
	s->seed = 12345;
	base_poll_init(&s->p, s->now_ns, s->count, s->work);
}

static uint32_t sim_rand(struct sim *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return s->seed >> 8;
}

/* Run the loop for ms milliseconds, ticking every 100 µs. */
static void sim_run(struct sim *s, const struct load *l, unsigned int ms)
{
	const uint64_t step = 100 * 1000;

	for (uint64_t t = 0; t < (uint64_t)ms * MS; t += step) {
		bool spin = base_poll_tick(&s->p, s->now_ns, s->count, s->work);
		uint64_t rate = spin ? l->rate_spin : l->rate_sleep;
		uint64_t bytes = spin ? l->bytes_spin : l->bytes_sleep;
		uint64_t n;

		/* A machine shared with others: the rate drifts every 7 ms,
		 * out of step with the epochs. */
		if (l->noise_pct && s->now_ns % (7 * MS) == 0)
			s->noise = (int64_t)(sim_rand(s) %
					     (2 * l->noise_pct + 1)) -
				   (int64_t)l->noise_pct;
		rate = (uint64_t)((int64_t)rate * (100 + s->noise) / 100);
		if (spin)
			s->spin_ns += step;
		s->frac += rate * step;
		n = s->frac / 1000000000u;
		s->count += n;
		s->work += n * (bytes ? bytes : 1);
		s->frac %= 1000000000u;
		s->now_ns += step;
	}
}

static void test_closed_loop_polls(void)
{
	struct load qd1 = { .rate_spin = 40000, .rate_sleep = 30000 };
	struct sim s;

	sim_init(&s);
	sim_run(&s, &qd1, 200);
	CHECK(s.p.settled_spin);
	s.spin_ns = 0;
	sim_run(&s, &qd1, 2000);
	CHECK(s.p.settled_spin);
	/* Only the sleeping probes interrupt it. */
	CHECK(s.spin_ns > 1900u * MS);
}

static void test_paced_load_sleeps(void)
{
	struct load paced = { .rate_spin = 20000, .rate_sleep = 20000 };
	struct sim s;

	sim_init(&s);
	sim_run(&s, &paced, 10000);
	CHECK(!s.p.settled_spin);
	CHECK_EQ_INT(s.p.switches, 0);
	/* 4, 8, ... 256 epochs apart: a handful of probes in 10 s, and a
	 * fraction of a percent of the time polling. */
	CHECK(s.p.probes >= 5 && s.p.probes <= 12);
	CHECK(s.spin_ns < 10000u * MS / 100);
	CHECK_EQ_INT(s.p.interval, BASE_POLL_PROBE_LAST);
}

/* A paced load at qd32: polling picks each request up as it arrives, so
 * twice the receives and sends complete (half the bytes each) for the
 * same requests.  Judged by completions polling would win. */
static void test_split_operations_sleep(void)
{
	struct load paced = { .rate_spin = 40000,
			      .rate_sleep = 20000,
			      .bytes_spin = 2100,
			      .bytes_sleep = 4200 };
	struct sim s;

	sim_init(&s);
	sim_run(&s, &paced, 10000);
	CHECK(!s.p.settled_spin);
	CHECK_EQ_INT(s.p.switches, 0);
	CHECK(s.spin_ns < 10000u * MS / 100);
}

static void test_noisy_paced_load_sleeps(void)
{
	struct load paced = { .rate_spin = 5000,
			      .rate_sleep = 5000,
			      .noise_pct = 8 };
	struct sim s;

	struct load qd1 = { .rate_spin = 40000,
			    .rate_sleep = 30000,
			    .noise_pct = 20 };

	sim_init(&s);
	sim_run(&s, &paced, 20000);
	CHECK(s.spin_ns < 20000u * MS / 50);
	paced.noise_pct = 20;
	sim_init(&s);
	sim_run(&s, &paced, 20000);
	CHECK(s.spin_ns < 20000u * MS / 50);
	/* A real gain still shows through the noise. */
	sim_init(&s);
	sim_run(&s, &qd1, 5000);
	CHECK(s.spin_ns > 5000u * MS * 3 / 4);
}

/*
 * A rate-limited client on a busy machine (fio --rate_iops): it is
 * descheduled now and then, sends nothing for a few milliseconds and then
 * catches up in a burst of up to five times its rate.  Polling changes
 * none of that, but an epoch that catches a burst moves far more bytes
 * than the one before it (which caught the stall).  Run in the same mode
 * all along, since the client does not care.
 */
static void sim_run_stalls(struct sim *s, uint64_t rate, unsigned int ms)
{
	const uint64_t step = 100 * 1000;
	uint64_t sent = 0, stall_ns = 0;

	for (uint64_t t = 0; t < (uint64_t)ms * MS; t += step) {
		uint64_t due = rate * (t + step) / 1000000000u;
		uint64_t most = 5 * rate * step / 1000000000u + 1;
		uint64_t n = due - sent;

		if (base_poll_tick(&s->p, s->now_ns, s->count, s->work))
			s->spin_ns += step;
		/* A stall every 30 ms on average, of 2 to 20 ms. */
		if (!stall_ns && sim_rand(s) % 300 == 0)
			stall_ns = (2 + sim_rand(s) % 19) * MS;
		if (stall_ns) {
			stall_ns -= step;
			n = 0;
		}
		n = n < most ? n : most;
		sent += n;
		s->count += n;
		s->work += n * 4096;
		s->now_ns += step;
	}
}

static void test_bursty_paced_load_sleeps(void)
{
	struct sim s;

	sim_init(&s);
	sim_run_stalls(&s, 20000, 20000);
	CHECK_EQ_INT(s.p.switches, 0);
	CHECK(s.spin_ns < 20000u * MS / 100);
	sim_init(&s);
	/* Epochs of 200 completions last 100 ms here, and the probes come
	 * 4, 8, 16... epochs apart: five probes in 20 s. */
	sim_run_stalls(&s, 2000, 20000);
	CHECK_EQ_INT(s.p.switches, 0);
	CHECK(s.spin_ns < 20000u * MS * 3 / 100);
}

static void test_idle_never_probes(void)
{
	struct load idle = { 0 };
	struct load slow = { .rate_spin = 100, .rate_sleep = 100 };
	struct sim s;

	sim_init(&s);
	sim_run(&s, &idle, 5000);
	sim_run(&s, &slow, 5000);
	CHECK_EQ_INT(s.p.probes, 0);
	CHECK_EQ_INT(s.spin_ns, 0);
}

static void test_follows_load_changes(void)
{
	struct load qd1 = { .rate_spin = 40000, .rate_sleep = 30000 };
	struct load paced = { .rate_spin = 2000, .rate_sleep = 2000 };
	struct sim s;

	sim_init(&s);
	sim_run(&s, &paced, 5000);
	CHECK(!s.p.settled_spin);
	/* A qd1 client after a long paced load: the rate jump brings the
	 * next probe forward. */
	sim_run(&s, &qd1, 300);
	CHECK(s.p.settled_spin);
	sim_run(&s, &qd1, 3000);
	/* And back: polling is given up as soon as it stops paying. */
	sim_run(&s, &paced, 500);
	CHECK(!s.p.settled_spin);
}

static void test_small_gain_not_worth_it(void)
{
	struct load meh = { .rate_spin = 31500, .rate_sleep = 30000 };
	struct sim s;

	sim_init(&s);
	sim_run(&s, &meh, 5000);
	CHECK(!s.p.settled_spin);
	CHECK_EQ_INT(s.p.switches, 0);
}

int main(void)
{
	TEST_CASE(test_closed_loop_polls);
	TEST_CASE(test_paced_load_sleeps);
	TEST_CASE(test_split_operations_sleep);
	TEST_CASE(test_noisy_paced_load_sleeps);
	TEST_CASE(test_bursty_paced_load_sleeps);
	TEST_CASE(test_idle_never_probes);
	TEST_CASE(test_follows_load_changes);
	TEST_CASE(test_small_gain_not_worth_it);
	return test_done();
}
