// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Histogram math: the log-linear slots shared with BPF (progs/lib/hist.h)
 * and the user-space histogram and percentiles (tools/lib/histo.c).
 *
 * The percentile claim under test: hl_hist_quantile(h, q) is within 1/32
 * (3.125%) of the exact sample at rank ceil(q * n), and exact below 16 ns,
 * for any distribution of values below 2^HIST_MAX_POW ns.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "histo.h"
#include "tap.h"

#define LAST_SLOT (HIST_SLOTS - 1)

/* ---- slot math ---- */

static void test_slot_bounds(void)
{
	int bad_contig = 0, bad_lo = 0, bad_hi = 0, bad_order = 0;
	int bad_width = 0, bad_exact = 0;

	for (uint32_t s = 0; s < LAST_SLOT; s++) {
		uint64_t lo = hist_slot_lo(s), hi = hist_slot_hi(s);

		bad_contig += hi != hist_slot_lo(s + 1);
		bad_order += !(lo < hi);
		bad_lo += hist_slot(lo) != s;
		bad_hi += hist_slot(hi - 1) != s;
		if (s < HIST_SUB)
			bad_exact += lo != s || hi != s + 1;
		else	/* never wider than 1/HIST_SUB of its lower bound */
			bad_width += (hi - lo) * HIST_SUB > lo;
	}
	tap_check(!bad_contig, "contiguous: hist_slot_hi(s) == hist_slot_lo(s+1) "
		  "for all %u slots (%d bad)", HIST_SLOTS, bad_contig);
	tap_check(!bad_order, "every slot non-empty: lo < hi (%d bad)", bad_order);
	tap_check(!bad_lo, "hist_slot(hist_slot_lo(s)) == s (%d bad)", bad_lo);
	tap_check(!bad_hi, "hist_slot(hist_slot_hi(s) - 1) == s (%d bad)", bad_hi);
	tap_check(!bad_exact, "values below %u have a slot each (%d bad)",
		  HIST_SUB, bad_exact);
	tap_check(!bad_width, "slot width <= lo/%u above the exact range "
		  "(%d bad)", HIST_SUB, bad_width);
	tap_check(hist_slot_lo(0) == 0, "slot 0 starts at 0");
}

static void test_small_values_exact(void)
{
	int bad = 0;

	for (uint64_t v = 0; v < HIST_SUB; v++)
		bad += hist_slot(v) != v;
	tap_check(!bad, "hist_slot(v) == v for v < %u", HIST_SUB);
}

/* Every value from 0 to 2^22 in turn: the slot never decreases and never
 * skips one. */
static void test_monotonic_sweep(void)
{
	uint32_t prev = hist_slot(0);
	uint64_t bad_at = 0;
	int bad = 0;

	for (uint64_t v = 1; v <= (1ULL << 22); v++) {
		uint32_t s = hist_slot(v);

		if (s != prev && s != prev + 1 && !bad++)
			bad_at = v;
		prev = s;
	}
	tap_check(!bad, "monotonic and gap-free over 0..2^22 (%d bad, first "
		  "at %llu)", bad, (unsigned long long)bad_at);
}

/* Random values at every magnitude: the value lies inside its slot, the
 * slot order follows the value order, and log2 matches the compiler's. */
static void test_random_values(void)
{
	int bad_in = 0, bad_order = 0, bad_log = 0;

	for (int i = 0; i < 1000000; i++) {
		int bits = 1 + tap_rand() % 64;
		uint64_t a = (tap_rand() >> (64 - bits)) | 1;
		uint64_t b = tap_rand() >> (64 - bits);
		uint32_t s = hist_slot(a);

		if (hist_log2(a) != (uint32_t)(63 - __builtin_clzll(a)))
			bad_log++;
		if (s < LAST_SLOT &&
		    !(hist_slot_lo(s) <= a && a < hist_slot_hi(s)))
			bad_in++;
		if (s == LAST_SLOT && a < hist_slot_lo(s))
			bad_in++;
		if ((a < b && hist_slot(a) > hist_slot(b)) ||
		    (a > b && hist_slot(a) < hist_slot(b)))
			bad_order++;
	}
	tap_check(!bad_log, "hist_log2 == 63 - clz over 1e6 random values "
		  "(%d bad)", bad_log);
	tap_check(!bad_in, "hist_slot_lo(slot(v)) <= v < hist_slot_hi(slot(v)) "
		  "(%d bad)", bad_in);
	tap_check(!bad_order, "a < b implies slot(a) <= slot(b) (%d bad)",
		  bad_order);
}

/* "Values of 2^HIST_MAX_POW ns and more share the last slot": smaller ones
 * keep a bounded slot, so their percentiles keep the error bound. */
static void test_huge_values(void)
{
	const uint64_t top = 1ULL << HIST_MAX_POW;
	uint32_t below = hist_slot(top - 1);

	tap_check(below < LAST_SLOT && hist_slot_hi(below) == top,
		  "2^%d - 1 ns is in a bounded slot ending at 2^%d (slot %u "
		  "of %u, hi %llu)", HIST_MAX_POW, HIST_MAX_POW, below,
		  HIST_SLOTS, (unsigned long long)hist_slot_hi(below));
	tap_check(hist_slot(top) == LAST_SLOT && hist_slot_lo(LAST_SLOT) == top,
		  "the last slot starts at 2^%d ns (lo %llu)", HIST_MAX_POW,
		  (unsigned long long)hist_slot_lo(LAST_SLOT));
	tap_check(hist_slot(1ULL << 50) == LAST_SLOT &&
		  hist_slot(1ULL << 63) == LAST_SLOT &&
		  hist_slot(UINT64_MAX) == LAST_SLOT,
		  "2^50, 2^63 and 2^64-1 land in the last slot");
	tap_check(hist_slot_hi(LAST_SLOT) == UINT64_MAX,
		  "the last slot is open-ended");
}

/* ---- hl_hist ---- */

static void test_add_stats(void)
{
	static struct hl_hist h;
	const uint64_t vals[] = { 7, 0, 123456789, 1000, 15, 16 };
	uint64_t sum = 0, slots = 0;

	hl_hist_init(&h, 42);
	for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++) {
		hl_hist_add(&h, vals[i]);
		sum += vals[i];
	}
	for (uint32_t s = 0; s < HIST_SLOTS; s++)
		slots += h.slots[s];
	tap_check(h.count == 6 && slots == 6 && h.sum == sum && h.min == 0 &&
		  h.max == 123456789 && h.id == 42,
		  "hl_hist_add keeps count, slot total, sum, min, max, id");
}

/* The BPF side keeps ~min so that zeroed memory means "empty". */
static void test_merge(void)
{
	static struct hist cpu[2];
	static struct hist_cell st[3];
	static struct hl_hist ref, m, k;
	const uint64_t vals[] = { 5000, 70, 3, 999999, 42, 123 };

	memset(cpu, 0, sizeof(cpu));
	hl_hist_init(&ref, 0);
	for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++) {
		struct hist *c = &cpu[i % 2];

		hl_hist_add(&ref, vals[i]);
		c->slots[hist_slot(vals[i])]++;
		c->sum += vals[i];
		if (vals[i] > c->max)
			c->max = vals[i];
		if (!c->nmin || vals[i] < ~c->nmin)
			c->nmin = ~vals[i];
	}
	hl_hist_init(&m, 0);
	hl_hist_merge_cpu(&m, &cpu[0]);
	hl_hist_merge_cpu(&m, &cpu[1]);
	tap_check(!memcmp(m.slots, ref.slots, sizeof(m.slots)) &&
		  m.count == ref.count && m.sum == ref.sum &&
		  m.min == ref.min && m.max == ref.max,
		  "hl_hist_merge_cpu of two CPUs == adding every value");

	memset(st, 0, sizeof(st));
	st[0] = (struct hist_cell){ .count = 2, .sum = 30, .max = 20,
				    .nmin = ~10ULL };
	st[2] = (struct hist_cell){ .count = 1, .sum = 5, .max = 5,
				    .nmin = ~5ULL };
	hl_hist_init(&k, 7);
	for (int i = 0; i < 3; i++)	/* st[1]: a CPU that saw nothing */
		hl_hist_merge_cell(&k, i == 2 ? 9 : 4, &st[i]);
	tap_check(k.count == 3 && k.sum == 35 && k.min == 5 && k.max == 20 &&
		  k.slots[4] == 2 && k.slots[9] == 1,
		  "hl_hist_merge_cell sums counts into slots, keeps extremes");
}

static void test_quantile_edges(void)
{
	static struct hl_hist h;
	int bad = 0;

	hl_hist_init(&h, 0);
	tap_check(hl_hist_quantile(&h, 0.5) == 0, "empty histogram: p50 is 0");

	/* A single sample is its own percentile, whatever its slot width. */
	for (int i = 0; i < 2000; i++) {
		uint64_t v = tap_rand() >> (tap_rand() % 64);

		hl_hist_init(&h, 0);
		hl_hist_add(&h, v);
		bad += hl_hist_quantile(&h, 0.5) != v ||
		       hl_hist_quantile(&h, 0.999) != v;
	}
	tap_check(!bad, "one sample: every percentile is that sample "
		  "(%d bad)", bad);

	/* Beyond 2^HIST_MAX_POW only max is known: that is what is shown. */
	hl_hist_init(&h, 0);
	hl_hist_add(&h, 1ULL << 41);
	hl_hist_add(&h, 1ULL << 45);
	tap_check(hl_hist_quantile(&h, 0.99) == 1ULL << 45,
		  "values in the open last slot report max");
}

/* ---- percentile error bound ---- */

enum dist {
	D_UNIFORM_SMALL,	/* 0..63 ns: the exact range and just above */
	D_UNIFORM,		/* 0..1 ms */
	D_LOG_UNIFORM,		/* 1 ns .. 10 s, every magnitude alike */
	D_EXPONENTIAL,		/* mean from 100 ns to 100 ms */
	D_BIMODAL,		/* fast path + slow tail, two clusters */
	D_TWO_POINT,		/* two values only: ranks straddle a gap */
	D_PARETO,		/* heavy tail */
	D_CONSTANT,
	D_COUNT,
};

static const char *const dist_names[D_COUNT] = {
	"uniform-small", "uniform", "log-uniform", "exponential", "bimodal",
	"two-point", "pareto", "constant",
};

struct dist_params {
	double a, b, p;
};

static void pick_params(enum dist d, struct dist_params *dp)
{
	dp->a = exp(log(100.0) + tap_rand_unit() * log(1e6));	/* 100ns..100ms */
	dp->b = dp->a * (2 + tap_rand_unit() * 1000);
	dp->p = 0.5 + tap_rand_unit() * 0.499;
	if (d == D_TWO_POINT)
		dp->a = floor(dp->a), dp->b = floor(dp->b);
}

static uint64_t draw(enum dist d, const struct dist_params *dp)
{
	double u = tap_rand_unit(), v;

	switch (d) {
	case D_UNIFORM_SMALL:
		return tap_rand() % 64;
	case D_UNIFORM:
		return tap_rand() % 1000000;
	case D_LOG_UNIFORM:
		return (uint64_t)exp(u * log(1e10));
	case D_EXPONENTIAL:
		return (uint64_t)(-dp->a * log(1 - u));
	case D_BIMODAL:
		v = tap_rand_unit() < dp->p ? dp->a : dp->b;
		return (uint64_t)(v * (0.8 + 0.4 * u));
	case D_TWO_POINT:
		return (uint64_t)(tap_rand_unit() < dp->p ? dp->a : dp->b);
	case D_PARETO:
		v = dp->a / pow(1 - u, 1 / 1.2);
		return v > 1e12 ? (uint64_t)1e12 : (uint64_t)v;
	case D_CONSTANT:
		return (uint64_t)dp->a;
	default:
		return 0;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct worst {
	double err;
	double q;
	enum dist d;
	size_t n;
	uint64_t exact, est;
};

static const struct {
	double q;
	uint64_t per_mille;	/* q exactly, for an integer rank */
} quantiles[] = { { 0.5, 500 }, { 0.9, 900 }, { 0.99, 990 }, { 0.999, 999 } };

/* Returns the number of (sample set, q) pairs outside the bound. */
static int check_sample(const uint64_t *sorted, size_t n,
			const struct hl_hist *h, enum dist d, struct worst *w,
			int *cases)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(quantiles) / sizeof(*quantiles); i++) {
		uint64_t rank = (quantiles[i].per_mille * n + 999) / 1000;
		uint64_t exact = sorted[rank - 1];
		uint64_t est = hl_hist_quantile(h, quantiles[i].q);
		uint64_t diff = est > exact ? est - exact : exact - est;
		double err = exact ? (double)diff / (double)exact : (diff ? 1 : 0);

		(*cases)++;
		/* exact below HIST_SUB; else |est - exact| <= exact / 32 */
		if ((exact < HIST_SUB && diff) || diff * 2 * HIST_SUB > exact) {
			if (bad++ < 5)
				tap_diag("out of bound: %s n=%zu q=%g exact=%llu "
					 "est=%llu", dist_names[d], n,
					 quantiles[i].q,
					 (unsigned long long)exact,
					 (unsigned long long)est);
		}
		if (err > w->err)
			*w = (struct worst){ err, quantiles[i].q, d, n, exact,
					     est };
	}
	return bad;
}

static void test_quantile_bound(void)
{
	enum { TRIALS = 60, MAX_N = 100000 };
	static struct hl_hist h;
	static uint64_t vals[MAX_N];
	struct worst worst = { 0 };
	int bad = 0, cases = 0;

	for (int d = 0; d < D_COUNT; d++) {
		for (int t = 0; t < TRIALS; t++) {
			/* n from 1 to 1e5, log-uniform; a few tiny sets */
			size_t n = t < 5 ? (size_t)t + 1 :
				   (size_t)exp(tap_rand_unit() * log(MAX_N));
			struct dist_params dp;

			if (n < 1)
				n = 1;
			pick_params(d, &dp);
			hl_hist_init(&h, 0);
			for (size_t i = 0; i < n; i++) {
				vals[i] = draw(d, &dp);
				hl_hist_add(&h, vals[i]);
			}
			qsort(vals, n, sizeof(*vals), cmp_u64);
			bad += check_sample(vals, n, &h, d, &worst, &cases);
		}
	}
	tap_check(!bad, "percentiles within 1/%u of the exact sample at rank "
		  "ceil(q*n): %d cases (%d distributions x %d sets x 4 q), "
		  "%d out of bound", 2 * HIST_SUB, cases, D_COUNT, TRIALS, bad);
	tap_diag("worst percentile error %.3f%% (bound %.3f%%): %s n=%zu "
		 "q=%g exact=%llu est=%llu", worst.err * 100,
		 100.0 / (2 * HIST_SUB), dist_names[worst.d], worst.n, worst.q,
		 (unsigned long long)worst.exact,
		 (unsigned long long)worst.est);
}

int main(void)
{
	test_slot_bounds();
	test_small_values_exact();
	test_monotonic_sweep();
	test_random_values();
	test_huge_values();
	test_add_stats();
	test_merge();
	test_quantile_edges();
	test_quantile_bound();
	return tap_done();
}
