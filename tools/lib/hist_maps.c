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
#include "owner.h"
#include "report.h"

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int hl_hist_maps_size(struct bpf_object *obj, bool keyed)
{
	struct bpf_map *slots = bpf_object__find_map_by_name(obj, "hist_slots");
	struct bpf_map *names = bpf_object__find_map_by_name(obj, "hist_names");

	if (!slots || !names)
		return -ENOENT;
	keyed |= hl_owner != HL_OWNER_NONE;	/* one per owner at least */
	if (bpf_map__set_max_entries(slots, keyed ? HL_KEYED_SLOT_ENTRIES : 1) ||
	    bpf_map__set_max_entries(names, keyed ? HL_KEYED_NAME_ENTRIES : 1))
		return -EINVAL;
	return 0;
}

int hl_hist_dense_size(struct bpf_object *obj, unsigned int ids)
{
	struct bpf_map *dense = bpf_object__find_map_by_name(obj, "hist_dense");

	if (!dense)
		return -ENOENT;
	/* an array has an entry at least: one is no id (1 / 2 == 0) */
	return bpf_map__set_max_entries(dense, ids ? 2 * ids : 1) ? -EINVAL : 0;
}

int hl_hist_maps_init(struct hl_hist_maps *m, struct bpf_object *obj,
		      volatile __u32 *buf, bool keyed)
{
	memset(m, 0, sizeof(*m));
	m->global_fd = map_fd(obj, "hist_global");
	m->slots_fd = map_fd(obj, "hist_slots");
	m->names_fd = map_fd(obj, "hist_names");
	m->lost_fd = map_fd(obj, "lost");
	m->dense_fd = map_fd(obj, "hist_dense");
	if (m->dense_fd >= 0)
		m->dense_ids = bpf_map__max_entries(
			bpf_object__find_map_by_name(obj, "hist_dense")) / 2;
	m->buf = buf;
	m->keyed = keyed;
	m->ncpu = libbpf_num_possible_cpus();
	if (m->global_fd < 0 || m->slots_fd < 0 || m->names_fd < 0 ||
	    m->lost_fd < 0 || m->dense_fd < 0 || m->ncpu <= 0)
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

/*
 * The entries of a per-CPU hash, keys and values, read a batch at a time
 * (Linux 5.6+): one system call per thousands of entries rather than
 * three per entry, which made a collection cost tens of milliseconds.
 */
struct entries {
	char *keys;
	char *vals;		/* ncpu values of val_size per key */
	size_t n, cap;
	size_t key_size, val_size;
	int ncpu;
};

#define BATCH 4096

static int entries_grow(struct entries *e, size_t want)
{
	char *k, *v;

	if (want <= e->cap)
		return 0;
	k = realloc(e->keys, want * e->key_size);
	if (k)
		e->keys = k;
	v = realloc(e->vals, want * e->ncpu * e->val_size);
	if (v)
		e->vals = v;
	if (!k || !v)
		return -ENOMEM;
	e->cap = want;
	return 0;
}

static int entries_read(int fd, struct entries *e)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 token = 0, count;
	size_t chunk = BATCH;
	bool first = true;
	int err;

	for (;;) {
		if (entries_grow(e, e->n + chunk))
			return -ENOMEM;
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token,
					   e->keys + e->n * e->key_size,
					   e->vals + e->n * e->ncpu * e->val_size,
					   &count, &opts);
		if (err && errno == ENOSPC) {	/* a bucket larger than chunk */
			chunk *= 2;
			continue;
		}
		e->n += count;
		first = false;
		if (err)
			return errno == ENOENT ? 0 : -errno;
	}
}

static void *entry_key(const struct entries *e, size_t i)
{
	return e->keys + i * e->key_size;
}

static void *entry_vals(const struct entries *e, size_t i)
{
	return e->vals + i * e->ncpu * e->val_size;
}

/* One at a time, where a batch call failed part way (a key that cannot
 * be reset is deleted: its samples were read). */
static int zero_or_delete_one(int fd, const void *key, const void *zeros,
			      bool keep)
{
	if (keep && !bpf_map_update_elem(fd, key, zeros, BPF_ANY))
		return 0;
	return bpf_map_delete_elem(fd, key) && errno != ENOENT ? -errno : 0;
}

/*
 * Entries i with keep[i] set are zeroed, the others deleted: freeing a
 * per-CPU hash element is dear, and a key that had samples is likely to
 * have more; one that stayed at zero for a whole interval is deleted so
 * that the keys of gone processes do not fill the map. Entries are packed
 * in place, e is spent afterwards.
 */
static int zero_or_delete(int fd, struct entries *e, const bool *keep)
{
	char *gone = malloc(e->n ? e->n * e->key_size : 1);
	size_t nk = 0, nd = 0, i;
	__u32 done;
	int err = 0;

	if (!gone)
		return -ENOMEM;
	for (i = 0; i < e->n; i++) {
		if (keep[i])
			memmove(entry_key(e, nk++), entry_key(e, i),
				e->key_size);
		else
			memcpy(gone + nd++ * e->key_size, entry_key(e, i),
			       e->key_size);
	}
	memset(e->vals, 0, nk * e->ncpu * e->val_size);
	/* No elem_flags: Linux 5.10 refused BPF_EXIST here, and the keys
	 * read were not reset (counted again at the next drain). done says
	 * how far a failed call got. */
	done = nk;
	if (nk && bpf_map_update_batch(fd, e->keys, e->vals, &done, NULL))
		for (i = done; i < nk && !err; i++)
			err = zero_or_delete_one(fd, entry_key(e, i), e->vals,
						 true);
	done = nd;
	if (nd && bpf_map_delete_batch(fd, gone, &done, NULL))
		for (i = done; i < nd && !err; i++)
			err = zero_or_delete_one(fd, gone + i * e->key_size,
						 NULL, false);
	free(gone);
	return err;
}

/* The entries of one buffer (offset buf_off in the key) of a hash. */
static int read_buffer(int fd, struct entries *e, uint32_t buf,
		       size_t buf_off)
{
	size_t n = 0;
	int err = entries_read(fd, e);

	if (err)
		return err;
	for (size_t i = 0; i < e->n; i++) {
		if (*(uint32_t *)((char *)entry_key(e, i) + buf_off) != buf)
			continue;
		if (n != i) {
			memcpy(entry_key(e, n), entry_key(e, i), e->key_size);
			memcpy(entry_vals(e, n), entry_vals(e, i),
			       e->ncpu * e->val_size);
		}
		n++;
	}
	e->n = n;
	return 0;
}

static void entries_free(struct entries *e)
{
	free(e->keys);
	free(e->vals);
}

/* Histograms come by owner, then by the tool's key. */
static int cmp_key(uint64_t owner_x, uint64_t id_x, uint64_t owner_y,
		   uint64_t id_y)
{
	if (owner_x != owner_y)
		return owner_x < owner_y ? -1 : 1;
	return id_x < id_y ? -1 : id_x > id_y;
}

static int cmp_id(const void *a, const void *b)
{
	const struct hl_hist *x = a, *y = b;

	return cmp_key(x->owner, x->id, y->owner, y->id);
}

static int cmp_entry_id(const void *a, const void *b, void *arg)
{
	const struct hist_slot_key *x = entry_key(arg, *(const size_t *)a);
	const struct hist_slot_key *y = entry_key(arg, *(const size_t *)b);

	return cmp_key(x->owner, x->id, y->owner, y->id);
}

/* The cells of e, one histogram per owner and id that has samples. */
static struct hl_hist *add_cells(const struct entries *e, bool *keep,
				 size_t *n)
{
	size_t *order = malloc((e->n ? e->n : 1) * sizeof(*order));
	struct hl_hist *hists = calloc(e->n ? e->n : 1, sizeof(*hists));
	struct hl_hist *h = NULL;
	size_t nh = 0;

	if (!order || !hists) {
		free(order);
		free(hists);
		return NULL;
	}
	for (size_t i = 0; i < e->n; i++)
		order[i] = i;
	qsort_r(order, e->n, sizeof(*order), cmp_entry_id, (void *)e);
	for (size_t j = 0; j < e->n; j++) {
		const struct hist_slot_key *k = entry_key(e, order[j]);
		const struct hist_cell *cpus = entry_vals(e, order[j]);

		if (!h || h->id != k->id || h->owner != k->owner) {
			if (h && h->count)
				nh++;
			h = &hists[nh];
			hl_hist_init(h, k->id);
			h->owner = k->owner;
		}
		for (int c = 0; c < e->ncpu; c++) {
			hl_hist_merge_cell(h, k->slot, &cpus[c]);
			keep[order[j]] |= cpus[c].count != 0;
		}
	}
	if (h && h->count)
		nh++;
	free(order);
	*n = nh;
	return hists;
}

static int collect_cells(struct hl_hist_maps *m, uint32_t buf,
			 struct hl_hist **out, size_t *n)
{
	struct entries e = {
		.key_size = sizeof(struct hist_slot_key),
		.val_size = sizeof(struct hist_cell), .ncpu = m->ncpu,
	};
	struct hl_hist *hists = NULL;
	bool *keep = NULL;
	int err = read_buffer(m->slots_fd, &e, buf,
			      offsetof(struct hist_slot_key, buf));

	if (!err && !(keep = calloc(e.n ? e.n : 1, sizeof(*keep))))
		err = -ENOMEM;
	if (!err && !(hists = add_cells(&e, keep, n)))
		err = -ENOMEM;
	if (!err)
		err = zero_or_delete(m->slots_fd, &e, keep);
	entries_free(&e);
	free(keep);
	if (err) {
		free(hists);
		return err;
	}
	*out = hists;
	return 0;
}

/* The names of one buffer's keys, each deleted once read: the first
 * sample of a key after that names it again. */
static int collect_names(struct hl_hist_maps *m, uint32_t buf,
			 struct hl_hist *hists, size_t n)
{
	struct entries e = {
		.key_size = sizeof(struct hist_name_key),
		.val_size = sizeof(struct hist_name), .ncpu = 1,
	};
	struct hl_hist probe, *h;
	bool *keep = NULL;
	int err = read_buffer(m->names_fd, &e, buf,
			      offsetof(struct hist_name_key, buf));

	if (!err && !(keep = calloc(e.n ? e.n : 1, sizeof(*keep))))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < e.n; i++) {
		const struct hist_name_key *k = entry_key(&e, i);
		const struct hist_name *name = entry_vals(&e, i);

		probe.id = k->id;
		probe.owner = k->owner;
		h = bsearch(&probe, hists, n, sizeof(*hists), cmp_id);
		if (h)
			memcpy(h->comm, name->comm, sizeof(h->comm) - 1);
	}
	if (!err)
		err = zero_or_delete(m->names_fd, &e, keep);
	entries_free(&e);
	free(keep);
	return err;
}

/* Each dense id's histogram of buffer buf, after those in *out. */
static int collect_dense(struct hl_hist_maps *m, uint32_t buf,
			 struct hl_hist **out, size_t *n)
{
	struct hist *cpus = calloc(m->ncpu, sizeof(*cpus));
	struct hl_hist *all = realloc(*out, (*n + m->dense_ids + 1) *
				      sizeof(**out));
	int err = 0;

	if (all)
		*out = all;
	if (!cpus || !all) {
		free(cpus);
		return -ENOMEM;
	}
	for (uint32_t id = 0; id < m->dense_ids && !err; id++) {
		uint32_t key = id << 1 | buf;
		struct hl_hist *h = &all[*n];

		if (bpf_map_lookup_elem(m->dense_fd, &key, cpus)) {
			err = -errno;
			break;
		}
		hl_hist_init(h, id);
		h->dense = true;
		for (int c = 0; c < m->ncpu; c++)
			hl_hist_merge_cpu(h, &cpus[c]);
		if (!h->count)
			continue;
		(*n)++;
		memset(cpus, 0, m->ncpu * sizeof(*cpus));
		if (bpf_map_update_elem(m->dense_fd, &key, cpus, BPF_ANY))
			err = -errno;
	}
	free(cpus);
	return err;
}

int hl_hist_collect(struct hl_hist_maps *m, struct hl_hist **out, size_t *n,
		    uint64_t *lost)
{
	uint32_t buf = flip(m);
	int err = 0;

	*out = NULL;
	*n = 0;
	if (m->keyed) {
		err = collect_cells(m, buf, out, n);
		if (!err)
			err = collect_names(m, buf, *out, *n);
	}
	if (m->dense_ids && !err) {
		err = collect_dense(m, buf, out, n);
	} else if (!m->keyed) {
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
