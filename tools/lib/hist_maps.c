// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include "hist_maps.h"
#include "report.h"

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int hl_hist_maps_size(struct bpf_object *obj, bool keyed)
{
	struct bpf_map *slots = bpf_object__find_map_by_name(obj, "hist_slots");
	struct bpf_map *stats = bpf_object__find_map_by_name(obj, "hist_stats");

	if (!slots || !stats)
		return -ENOENT;
	if (bpf_map__set_max_entries(slots, keyed ? HL_KEYED_SLOT_ENTRIES : 1) ||
	    bpf_map__set_max_entries(stats, keyed ? HL_KEYED_STATS_ENTRIES : 1))
		return -EINVAL;
	return 0;
}

int hl_hist_maps_init(struct hl_hist_maps *m, struct bpf_object *obj,
		      volatile __u32 *buf, bool keyed)
{
	memset(m, 0, sizeof(*m));
	m->global_fd = map_fd(obj, "hist_global");
	m->slots_fd = map_fd(obj, "hist_slots");
	m->stats_fd = map_fd(obj, "hist_stats");
	m->lost_fd = map_fd(obj, "lost");
	m->buf = buf;
	m->keyed = keyed;
	m->ncpu = libbpf_num_possible_cpus();
	if (m->global_fd < 0 || m->slots_fd < 0 || m->stats_fd < 0 ||
	    m->lost_fd < 0 || m->ncpu <= 0)
		return -ENOENT;
	return 0;
}

/*
 * BPF tracing programs run inside RCU read-side sections, and
 * MEMBARRIER_CMD_GLOBAL waits for an RCU grace period: after it, no program
 * that saw the old buffer index is still running.
 */
static uint32_t flip(struct hl_hist_maps *m)
{
	uint32_t old = *m->buf & 1;

	*m->buf = old ^ 1;
	__sync_synchronize();
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(20000);	/* nohz_full: programs last microseconds */
	return old;
}

static uint64_t read_lost(struct hl_hist_maps *m)
{
	uint64_t total = 0, *vals = calloc(m->ncpu, sizeof(*vals));

	if (!vals)
		return 0;
	for (__u32 r = 0; r < LOST_REASONS; r++) {
		if (bpf_map_lookup_elem(m->lost_fd, &r, vals))
			continue;
		for (int c = 0; c < m->ncpu; c++)
			total += vals[c];
	}
	free(vals);
	return total;
}

static int collect_global(struct hl_hist_maps *m, uint32_t buf,
			  struct hl_hist *h)
{
	struct hist *cpus = calloc(m->ncpu, sizeof(*cpus));
	int err;

	if (!cpus)
		return -ENOMEM;
	hl_hist_init(h, 0);
	err = bpf_map_lookup_elem(m->global_fd, &buf, cpus);
	if (!err) {
		for (int c = 0; c < m->ncpu; c++)
			hl_hist_merge_cpu(h, &cpus[c]);
		memset(cpus, 0, m->ncpu * sizeof(*cpus));
		err = bpf_map_update_elem(m->global_fd, &buf, cpus, BPF_ANY);
	}
	free(cpus);
	return err ? -errno : 0;
}

/* All keys of one buffer, collected first: deleting while walking a hash
 * with get_next_key can restart the walk. Keys are at most 32 bytes. */
static void *keys_of(int fd, size_t key_size, uint32_t buf, size_t buf_off,
		     size_t *n)
{
	size_t cap = 256, cnt = 0;
	char *keys = malloc(cap * key_size), *bigger;
	char prev[32], cur[32];
	bool first = true;

	while (keys && !bpf_map_get_next_key(fd, first ? NULL : prev, cur)) {
		first = false;
		memcpy(prev, cur, key_size);
		if (*(uint32_t *)(cur + buf_off) != buf)
			continue;
		if (cnt == cap) {
			bigger = realloc(keys, 2 * cap * key_size);
			if (!bigger)
				break;
			keys = bigger;
			cap *= 2;
		}
		memcpy(keys + cnt++ * key_size, cur, key_size);
	}
	*n = cnt;
	return keys;
}

static int cmp_id(const void *a, const void *b)
{
	const struct hl_hist *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * A key that had samples is zeroed, not deleted: freeing a per-CPU hash
 * element is the dearest part of a collection (measured: half of a
 * scrape's CPU time), and a key seen once is likely seen again. A key
 * that stayed at zero for a whole interval is deleted, so that those of
 * gone processes do not fill the map.
 */
static bool keep_zeroed(int fd, const void *key, void *cpus, size_t size,
			bool had_samples)
{
	if (!had_samples) {
		bpf_map_delete_elem(fd, key);
		return false;
	}
	memset(cpus, 0, size);
	bpf_map_update_elem(fd, key, cpus, BPF_EXIST);
	return true;
}

static int collect_stats(struct hl_hist_maps *m, uint32_t buf,
			 struct hl_hist **out, size_t *n)
{
	struct hist_stats *cpus = calloc(m->ncpu, sizeof(*cpus));
	struct hist_stats_key *keys;
	struct hl_hist *hists;
	size_t nkeys, i, nh = 0;

	keys = keys_of(m->stats_fd, sizeof(*keys), buf,
		       offsetof(struct hist_stats_key, buf), &nkeys);
	hists = calloc(nkeys ? nkeys : 1, sizeof(*hists));
	if (!cpus || !keys || !hists) {
		free(cpus), free(keys), free(hists);
		return -ENOMEM;
	}
	for (i = 0; i < nkeys; i++) {
		struct hl_hist *h = &hists[nh];

		if (bpf_map_lookup_elem(m->stats_fd, &keys[i], cpus))
			continue;
		hl_hist_init(h, keys[i].id);
		for (int c = 0; c < m->ncpu; c++)
			hl_hist_merge_stats(h, &cpus[c]);
		nh += keep_zeroed(m->stats_fd, &keys[i], cpus,
				  m->ncpu * sizeof(*cpus), h->count);
	}
	qsort(hists, nh, sizeof(*hists), cmp_id);
	free(cpus);
	free(keys);
	*out = hists;
	*n = nh;
	return 0;
}

static int collect_slots(struct hl_hist_maps *m, uint32_t buf,
			 struct hl_hist *hists, size_t n)
{
	uint64_t *cpus = calloc(m->ncpu, sizeof(*cpus));
	struct hist_slot_key *keys;
	struct hl_hist probe, *h;
	size_t nkeys, i;

	keys = keys_of(m->slots_fd, sizeof(*keys), buf,
		       offsetof(struct hist_slot_key, buf), &nkeys);
	if (!cpus || !keys) {
		free(cpus), free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < nkeys; i++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(m->slots_fd, &keys[i], cpus))
			continue;
		for (int c = 0; c < m->ncpu; c++)
			sum += cpus[c];
		probe.id = keys[i].id;
		h = bsearch(&probe, hists, n, sizeof(*hists), cmp_id);
		if (h && keys[i].slot < HIST_SLOTS)
			h->slots[keys[i].slot] += sum;
		keep_zeroed(m->slots_fd, &keys[i], cpus,
			    m->ncpu * sizeof(*cpus), sum);
	}
	free(cpus);
	free(keys);
	return 0;
}

int hl_hist_collect(struct hl_hist_maps *m, struct hl_hist **out, size_t *n,
		    uint64_t *lost)
{
	uint32_t buf = flip(m);
	int err;

	if (m->keyed) {
		err = collect_stats(m, buf, out, n);
		if (!err)
			err = collect_slots(m, buf, *out, *n);
	} else {
		*out = malloc(sizeof(**out));
		*n = 1;
		err = *out ? collect_global(m, buf, *out) : -ENOMEM;
	}
	*lost = hl_hist_lost(m);
	return err;
}

uint64_t hl_hist_lost(struct hl_hist_maps *m)
{
	uint64_t total = read_lost(m), delta = total - m->lost_seen;

	m->lost_seen = total;
	delta += m->lost_here;
	m->lost_here = 0;
	return delta;
}

void hl_hist_lost_add(struct hl_hist_maps *m, uint64_t n)
{
	m->lost_here += n;
}

uint64_t hl_percpu_sum(struct bpf_map *map, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return 0;
	if (!bpf_map__lookup_elem(map, &key, sizeof(key), vals,
				  ncpu * sizeof(*vals), 0))
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
	free(vals);
	return sum;
}

int hl_counter_labels(struct bpf_map *map, const char *const *names, int n,
		      uint64_t *seen, struct hl_label *c, int max)
{
	int i;

	for (i = 0; i < n && i < max; i++) {
		uint64_t v = hl_percpu_sum(map, i);

		c[i].name = names[i];
		c[i].str = NULL;
		c[i].num = v - seen[i];
		seen[i] = v;
	}
	return i;
}
