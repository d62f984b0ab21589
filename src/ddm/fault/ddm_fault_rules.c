// SPDX-License-Identifier: MIT
/*
 * The fault DDM's injection rules: parsing the settings an operator gives
 * ("flush=EIO:once", "write=ENOSPC:range=1M-2M:rate=0.1", "delay=20") and
 * deciding, request by request, what happens.  One rule per operation;
 * the caller holds the device's lock around every function here except
 * the parsers of a rule that is not yet in use.
 *
 * Rule value: items separated by ':', in any order --
 *   ERRNO            EIO, ENOSPC, ... or a number: the error to inject
 *   once | sticky    fail once then disarm / after the first failure, fail
 *                    every later request in range (a dead device); the
 *                    default fails each matching request independently
 *   after=N          let the first N matching requests through
 *   rate=P           fail a matching request with probability P (0.25 or
 *                    25%), drawn from the device's seeded generator
 *   range=A-B|A+LEN  only requests overlapping bytes [A, B) (flushes have
 *                    no range and always match)
 *   partial          WRITE only: write the first half, then fail
 *   delay=MS         hold every request of this operation MS milliseconds
 *   off              no rule
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/fault/ddm_fault.h"

#define FAULT_DEFAULT_SEED 0x1f0d5eedull
#define FAULT_DELAY_MAX_MS 600000u

static const char *const fault_op_names[FAULT_N_OPS] = {
	[DDM_OP_READ] = "read",
	[DDM_OP_WRITE] = "write",
	[DDM_OP_FLUSH] = "flush",
	[DDM_OP_TRIM] = "trim",
	[DDM_OP_WRITE_ZEROES] = "write_zeroes",
};

static const struct {
	const char *name;
	int err;
} fault_errnos[] = {
	{ "EIO", EIO },
	{ "ENOSPC", ENOSPC },
	{ "EPERM", EPERM },
	{ "EROFS", EROFS },
	{ "ENOMEM", ENOMEM },
	{ "EINVAL", EINVAL },
	{ "EDQUOT", EDQUOT },
	{ "ENOTSUP", ENOTSUP },
	{ "EOPNOTSUPP", EOPNOTSUPP },
	{ "ETIMEDOUT", ETIMEDOUT },
	{ "EFBIG", EFBIG },
	{ "EOVERFLOW", EOVERFLOW },
	{ "ESHUTDOWN", ESHUTDOWN },
	{ "ENODEV", ENODEV },
	{ "ENXIO", ENXIO },
	{ "EAGAIN", EAGAIN },
	{ "EBUSY", EBUSY },
	{ "ECANCELED", ECANCELED },
	{ "EILSEQ", EILSEQ },
	{ "ENOLINK", ENOLINK },
};

const char *fault_op_name(unsigned int op)
{
	return op < FAULT_N_OPS ? fault_op_names[op] : "?";
}

static const char *fault_errno_name(int err)
{
	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]);
	     i++)
		if (fault_errnos[i].err == err)
			return fault_errnos[i].name;
	return NULL;
}

/* Returns the positive errno, or 0 if text is not one. */
static int fault_errno_parse(const char *text)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]);
	     i++)
		if (!strcasecmp(text, fault_errnos[i].name))
			return fault_errnos[i].err;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v <= 0 || v > 4095)
		return 0;
	return (int)v;
}

int fault_size_parse(const char *text, uint64_t *bytes)
{
	static const char suffixes[] = "KMGTP";
	unsigned long long v;
	unsigned int shift = 0;
	const char *s;
	char *end;

	if (!text[0] || text[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text)
		return -EINVAL;
	if (*end && (s = strchr(suffixes, *end & ~0x20))) {
		shift = 10 * (unsigned int)(s - suffixes + 1);
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

static int fault_uint_parse(const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!text[0] || text[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "A-B" or "A+LEN". */
static int fault_range_parse(char *text, struct fault_rule *rule)
{
	char *sep = strpbrk(text, "-+");
	bool plus;
	uint64_t a, b;

	if (!sep)
		return -EINVAL;
	plus = *sep == '+';
	*sep = 0;
	if (fault_size_parse(text, &a) < 0 || fault_size_parse(sep + 1, &b) < 0)
		return -EINVAL;
	if (plus && __builtin_add_overflow(a, b, &b))
		return -EINVAL;
	if (b <= a)
		return -EINVAL;
	rule->range_start = a;
	rule->range_end = b;
	return 0;
}

static int fault_rate_parse(const char *text, double *rate)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text)
		return -EINVAL;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || !(v > 0 && v <= 1))
		return -EINVAL;
	*rate = v;
	return 0;
}

/* One ':' item of a rule value. */
static int fault_item_parse(char *item, struct fault_rule *rule)
{
	char *eq = strchr(item, '=');
	uint64_t n;
	int err;

	if (eq)
		*eq++ = 0;
	if (!eq && !strcmp(item, "once"))
		rule->mode = FAULT_MODE_ONCE;
	else if (!eq && !strcmp(item, "sticky"))
		rule->mode = FAULT_MODE_STICKY;
	else if (!eq && !strcmp(item, "every"))
		rule->mode = FAULT_MODE_EVERY;
	else if (!eq && !strcmp(item, "partial"))
		rule->partial = true;
	else if (eq && !strcmp(item, "after"))
		return fault_uint_parse(eq, UINT64_MAX, &rule->after);
	else if (eq && !strcmp(item, "rate"))
		return fault_rate_parse(eq, &rule->rate);
	else if (eq && !strcmp(item, "range"))
		return fault_range_parse(eq, rule);
	else if (eq && !strcmp(item, "delay")) {
		if (fault_uint_parse(eq, FAULT_DELAY_MAX_MS, &n) < 0)
			return -EINVAL;
		rule->delay_ms = (unsigned int)n;
	} else if (!eq && (err = fault_errno_parse(item)))
		rule->error = err;
	else
		return -EINVAL;
	return 0;
}

static int fault_rule_parse(const char *value, unsigned int op,
			    struct fault_rule *rule)
{
	char buf[256], *save = NULL, *item;

	memset(rule, 0, sizeof(*rule));
	rule->rate = 1;
	if (!value[0] || !strcmp(value, "off"))
		return 0;
	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	for (item = strtok_r(buf, ":", &save); item;
	     item = strtok_r(NULL, ":", &save))
		if (fault_item_parse(item, rule) < 0)
			return -EINVAL;
	if (rule->partial && op != DDM_OP_WRITE)
		return -EINVAL;
	/* Modifiers without an error to inject would do nothing. */
	if (!rule->error && (rule->partial || rule->after || rule->range_end ||
			     rule->rate < 1 || rule->mode != FAULT_MODE_EVERY))
		return -EINVAL;
	return 0;
}

void fault_rules_init(struct fault_rules *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned int op = 0; op < FAULT_N_OPS; op++)
		r->op[op].rate = 1;
	r->seed = FAULT_DEFAULT_SEED;
	r->prng = r->seed;
}

int fault_rules_set(struct fault_rules *r, const char *key, const char *value,
		    const char *dev_name)
{
	struct fault_rule rule;
	uint64_t n;

	for (unsigned int op = 0; op < FAULT_N_OPS; op++) {
		if (strcmp(key, fault_op_names[op]))
			continue;
		if (fault_rule_parse(value, op, &rule) < 0) {
			log_error("%s: fault: %s=%s: expected ERRNO[:once|"
				  "sticky][:after=N][:rate=P][:range=A-B]%s"
				  "[:delay=MS], or off",
				  dev_name, key, value,
				  op == DDM_OP_WRITE ? "[:partial]" : "");
			return -EINVAL;
		}
		r->op[op] = rule;
		return 0;
	}
	if (!strcmp(key, "delay")) {
		if (fault_uint_parse(value, FAULT_DELAY_MAX_MS, &n) < 0) {
			log_error("%s: fault: delay=%s: expected milliseconds "
				  "(at most %u)",
				  dev_name, value, FAULT_DELAY_MAX_MS);
			return -EINVAL;
		}
		r->delay_ms = (unsigned int)n;
		return 0;
	}
	if (!strcmp(key, "seed")) {
		if (fault_uint_parse(value, UINT64_MAX, &n) < 0) {
			log_error("%s: fault: seed=%s: expected a number",
				  dev_name, value);
			return -EINVAL;
		}
		r->seed = n;
		r->prng = n;
		return 0;
	}
	return -ENOENT;
}

/* splitmix64: small, fast and fully determined by the seed. */
static double fault_prng_unit(struct fault_rules *r)
{
	uint64_t z = (r->prng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

static bool fault_rule_in_range(const struct fault_rule *rule,
				const struct ddm_req *req)
{
	uint64_t len = req->len ? req->len : 1;

	if (req->op == DDM_OP_FLUSH || !rule->range_end)
		return true;
	return req->offset < rule->range_end &&
	       req->offset + len > rule->range_start;
}

void fault_rules_decide(struct fault_rules *r, const struct ddm_req *req,
			struct fault_fate *f)
{
	struct fault_rule *rule;

	memset(f, 0, sizeof(*f));
	if ((unsigned int)req->op >= FAULT_N_OPS)
		return;
	rule = &r->op[req->op];
	f->delay_ms = rule->delay_ms ? rule->delay_ms : r->delay_ms;
	if (!rule->error || !fault_rule_in_range(rule, req))
		return;
	if (rule->fired && rule->mode == FAULT_MODE_ONCE)
		return;
	if (!(rule->fired && rule->mode == FAULT_MODE_STICKY)) {
		if (++rule->seen <= rule->after)
			return;
		if (rule->rate < 1 && fault_prng_unit(r) >= rule->rate)
			return;
	}
	rule->fired = true;
	f->error = -rule->error;
	f->partial = rule->partial && req->op == DDM_OP_WRITE;
}

/* Append to buf (len bytes) at *n, snprintf style: *n counts what would
 * have been written. */
static void __attribute__((format(printf, 4, 5)))
fault_append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vsnprintf(buf + (*n < len ? *n : len), *n < len ? len - *n : 0,
			fmt, ap);
	va_end(ap);
	if (ret > 0)
		*n += (size_t)ret;
}

static void fault_rule_describe(const struct fault_rule *rule, unsigned int op,
				char *buf, size_t len, size_t *n)
{
	static const char *const modes[] = { "", ":once", ":sticky" };
	const char *name = fault_errno_name(rule->error);
	const char *sep = "";

	if (!rule->error && !rule->delay_ms)
		return;
	fault_append(buf, len, n, "rule.%s=", fault_op_names[op]);
	if (rule->error) {
		if (name)
			fault_append(buf, len, n, "%s", name);
		else
			fault_append(buf, len, n, "%d", rule->error);
		fault_append(buf, len, n, "%s%s", modes[rule->mode],
			     rule->partial ? ":partial" : "");
		sep = ":";
	}
	if (rule->after)
		fault_append(buf, len, n, ":after=%" PRIu64, rule->after);
	if (rule->rate < 1)
		fault_append(buf, len, n, ":rate=%g", rule->rate);
	if (rule->range_end)
		fault_append(buf, len, n, ":range=%" PRIu64 "-%" PRIu64,
			     rule->range_start, rule->range_end);
	if (rule->delay_ms)
		fault_append(buf, len, n, "%sdelay=%u", sep, rule->delay_ms);
	fault_append(buf, len, n, "\n");
	if (rule->error)
		fault_append(buf, len, n, "fired.%s=%d\n", fault_op_names[op],
			     rule->fired);
}

size_t fault_rules_describe(const struct fault_rules *r, char *buf, size_t len)
{
	size_t n = 0;

	fault_append(buf, len, &n, "seed=%" PRIu64 "\ndelay_ms=%u\n", r->seed,
		     r->delay_ms);
	for (unsigned int op = 0; op < FAULT_N_OPS; op++)
		fault_rule_describe(&r->op[op], op, buf, len, &n);
	return n;
}
