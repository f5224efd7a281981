/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Histogram recording on the BPF side. Samples go to one of two buffers
 * (hist_buf); user space flips the buffer, waits for an RCU grace period so
 * that no program still writes to the old one, then reads and clears it.
 * Nothing is lost or double-counted across intervals that way.
 */
#ifndef HOWLONG_HIST_BPF_H
#define HOWLONG_HIST_BPF_H

#include "lib/hist.h"
#include "lib/common.h"

volatile __u32 hist_buf;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct hist);
} hist_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);	/* 2 per id, sized by user space when dense */
	__type(key, __u32);
	__type(value, struct hist);
} hist_dense SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);	/* sized by user space when keyed */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hist_slot_key);
	__type(value, struct hist_cell);
} hist_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hist_name_key);
	__type(value, struct hist_name);
} hist_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void lost_inc(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&lost, &reason);

	if (c)
		(*c)++;
}

/*
 * hist_slot(), with the bound that it guarantees made visible to the
 * verifier. Written in C, clang checks the bound on one register and
 * indexes with a copy of it, which verifiers before 6.x cannot follow
 * ("R0 unbounded memory access"); here the clamp is done on the very
 * register that every later copy is made from.
 */
static __always_inline __u64 hist_bounded_slot(__u64 v)
{
	__u64 s = hist_slot(v);

	asm volatile("if %[s] < %[n] goto +1;"
		     "%[s] = %[last];"
		     : [s] "+r"(s)
		     : [n] "i"(HIST_SLOTS), [last] "i"(HIST_SLOTS - 1));
	return s;
}

/* Per-CPU data: a program never races with itself on one CPU. */
static __always_inline void hist_add(struct hist *h, __u64 v)
{
	h->slots[hist_bounded_slot(v)]++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (~v > h->nmin)
		h->nmin = ~v;
}

static __always_inline void hist_record(__u64 v)
{
	__u32 buf = hist_buf & 1;
	struct hist *h = bpf_map_lookup_elem(&hist_global, &buf);

	if (h)
		hist_add(h, v);
}

/*
 * Dense ids (0 to a few dozen: softirq vectors), a whole histogram each,
 * two buffers apart: one array lookup a sample. User space sizes the map
 * (hl_hist_dense_size()); an id beyond it is counted lost.
 */
static __always_inline void hist_record_dense(__u32 id, __u64 v)
{
	__u32 k = id << 1 | (hist_buf & 1);
	struct hist *h = bpf_map_lookup_elem(&hist_dense, &k);

	if (h)
		hist_add(h, v);
	else
		lost_inc(LOST_HIST_FULL);
}

/*
 * The first sample of a key in a slot on this CPU since user space reset
 * the cell (or ever): names the key if its buffer has no name for it yet
 * (user space deletes the names it has read: the task may have exec'ed
 * since), makes the cell if it is missing.
 */
static __always_inline struct hist_cell *
hist_cell_first(const struct hist_slot_key *k, struct hist_cell *c,
		const void *comm)
{
	struct hist_name_key nk = {
		.id = k->id, .owner = k->owner, .buf = k->buf,
	};
	struct hist_cell zero = {};
	struct hist_name name = {};

	if (!bpf_map_lookup_elem(&hist_names, &nk)) {
		bpf_probe_read_kernel_str(name.comm, sizeof(name.comm), comm);
		bpf_map_update_elem(&hist_names, &nk, &name, BPF_NOEXIST);
	}
	if (c)
		return c;
	/* Failing also when another CPU added this cell a moment ago (two
	 * threads in step): then it is there now, with our copy at zero. */
	bpf_map_update_elem(&hist_slots, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&hist_slots, k);
}

/* comm: kernel address of the name to show for a new key. */
static __noinline void hist_record_owned(__u64 id, __u64 owner, __u64 v,
					      const void *comm)
{
	struct hist_slot_key k = {
		.id = id, .owner = owner, .buf = hist_buf & 1,
		.slot = hist_bounded_slot(v),
	};
	struct hist_cell *c = bpf_map_lookup_elem(&hist_slots, &k);

	if (!c || !c->count) {
		c = hist_cell_first(&k, c, comm);
		if (!c) {
			lost_inc(LOST_HIST_FULL);
			return;
		}
	}
	c->count++;
	c->sum += v;
	if (v > c->max)
		c->max = v;
	if (~v > c->nmin)
		c->nmin = ~v;
}

static __always_inline void hist_record_keyed(__u64 id, __u64 v,
					      const void *comm)
{
	hist_record_owned(id, 0, v, comm);
}

#endif /* HOWLONG_HIST_BPF_H */
