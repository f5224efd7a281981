// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <math.h>
#include <string.h>
#include "histo.h"

void hl_hist_init(struct hl_hist *h, uint64_t id)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
	h->id = id;
}

void hl_hist_add(struct hl_hist *h, uint64_t v)
{
	h->slots[hist_slot(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

static void merge_extremes(struct hl_hist *h, uint64_t nmin, uint64_t max)
{
	if (nmin && ~nmin < h->min)
		h->min = ~nmin;
	if (max > h->max)
		h->max = max;
}

void hl_hist_merge_cpu(struct hl_hist *h, const struct hist *cpu)
{
	for (int i = 0; i < (int)HIST_SLOTS; i++) {
		h->slots[i] += cpu->slots[i];
		h->count += cpu->slots[i];
	}
	h->sum += cpu->sum;
	merge_extremes(h, cpu->nmin, cpu->max);
}

void hl_hist_merge_cell(struct hl_hist *h, __u32 s,
			const struct hist_cell *cpu)
{
	if (!cpu->count || s >= HIST_SLOTS)
		return;
	h->slots[s] += cpu->count;
	h->count += cpu->count;
	h->sum += cpu->sum;
	merge_extremes(h, cpu->nmin, cpu->max);
}

void hl_hist_merge(struct hl_hist *dst, const struct hl_hist *src)
{
	for (uint32_t s = 0; s < HIST_SLOTS; s++)
		dst->slots[s] += src->slots[s];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->count && src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

void hl_hist_regroup(struct hl_hist *h, size_t *n, uint64_t id,
		     const struct hl_hist *src)
{
	struct hl_hist cur = *src;	/* h[*n] may be src */
	size_t j;

	for (j = 0; j < *n && h[j].id != id; j++)
		;
	if (j == *n) {
		hl_hist_init(&h[(*n)++], id);
		memcpy(h[j].comm, cur.comm, sizeof(h[j].comm));
	}
	hl_hist_merge(&h[j], &cur);
}

static uint64_t slot_estimate(uint32_t s)
{
	uint64_t lo = hist_slot_lo(s), hi = hist_slot_hi(s);

	if (hi == ~0ULL)
		return lo;
	return lo + (hi - 1 - lo) / 2;
}

uint64_t hl_hist_quantile(const struct hl_hist *h, double q)
{
	uint64_t total = 0, rank, seen = 0, v;
	uint32_t s;

	for (s = 0; s < HIST_SLOTS; s++)
		total += h->slots[s];
	if (!total)
		return 0;
	rank = (uint64_t)ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	for (s = 0; s < HIST_SLOTS; s++) {
		seen += h->slots[s];
		if (seen >= rank)
			break;
	}
	if (s == HIST_SLOTS - 1)
		return h->max;
	v = slot_estimate(s);
	if (h->count && v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}
