/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reading the histogram maps of progs/lib/hist.bpf.h: flip the double
 * buffer, wait until no BPF program can still write the old half, merge
 * the per-CPU copies, clear the old half.
 */
#ifndef HOWLONG_HIST_MAPS_H
#define HOWLONG_HIST_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include "histo.h"

/* Cells (key, buffer, slot) and names (key, buffer) at most. */
#define HL_KEYED_SLOT_ENTRIES 131072
#define HL_KEYED_NAME_ENTRIES 32768

struct hl_hist_maps {
	int global_fd, slots_fd, names_fd, lost_fd, dense_fd;
	uint32_t dense_ids;	/* hist_record_dense()'s ids, 0: none */
	volatile __u32 *buf;	/* the BPF side's hist_buf (in .bss) */
	bool keyed;
	int ncpu;
	uint64_t lost_seen;
	uint64_t lost_here;	/* found lost by user space, not yet reported */
};

/* Before load: size the keyed maps (or shrink them when unused). */
int hl_hist_maps_size(struct bpf_object *obj, bool keyed);
/* Before load: ids 0 to ids - 1 for hist_record_dense(). */
int hl_hist_dense_size(struct bpf_object *obj, unsigned int ids);
/* After load. */
int hl_hist_maps_init(struct hl_hist_maps *m, struct bpf_object *obj,
		      volatile __u32 *buf, bool keyed);
/*
 * Everything recorded since the last call: *out (malloc'ed, *n entries:
 * the keyed histograms by id, then the dense ones that have samples, by
 * id; one for a tool that has neither, even when empty) and samples
 * lost meanwhile.
 */
int hl_hist_collect(struct hl_hist_maps *m, struct hl_hist **out, size_t *n,
		    uint64_t *lost);

/* Samples lost since the last call (hl_hist_collect() counts them too):
 * for tools that report events rather than histograms. */
uint64_t hl_hist_lost(struct hl_hist_maps *m);

/* n samples user space found lost (e.g. starts expired): reported with
 * the next hl_hist_collect() or hl_hist_lost(). */
void hl_hist_lost_add(struct hl_hist_maps *m, uint64_t n);

/* Sum over CPUs of a per-CPU array's u64 at key (a tool's own counter);
 * 0 when it cannot be read. */
uint64_t hl_percpu_sum(struct bpf_map *map, __u32 key);

struct hl_label;

/*
 * A tool's counters map (progs/lib/counters.bpf.h) as the counts of one
 * report (struct hl_report's counters callback): counter i is names[i],
 * seen[i] keeps the total already reported. Returns the labels filled.
 */
int hl_counter_labels(struct bpf_map *map, const char *const *names, int n,
		      uint64_t *seen, struct hl_label *c, int max);

#endif /* HOWLONG_HIST_MAPS_H */
