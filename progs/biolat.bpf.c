// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * biolat: how long block I/O requests take on the device, from
 * block:block_rq_issue (handed to the driver) to block:block_rq_complete,
 * and with -Q how long they waited before, from block_rq_insert.
 *
 * A request is known by its struct request's address while in flight
 * (by disk and sector with classic tracepoints, which lack it). Who
 * submitted it is taken where it is inserted or issued, in the
 * submitter's context; completion runs in interrupt context and only
 * looks the request up. The hash of requests in flight is an LRU: a
 * request that never completes (merged into another, failed before
 * issue) ages out rather than leaking, and one whose address is reused
 * is told apart by its allocation time. A requeued request loses its
 * issue time and is timed again from its next issue: counted once.
 *
 * Where nothing is asked of a request but its device time (no -Q, no
 * owner, no task filter) and the kernel has BPF atomics (5.12), the
 * *_fast programs are loaded instead: a request in flight is kept in a
 * slot of a direct-mapped table chosen by its address, claimed with a
 * compare-and-swap, which costs a fraction of a hash update and delete;
 * a request whose slot another one holds goes to the hash as above.
 * (The compare-and-swap lives in programs of their own: 5.10's verifier
 * refuses the instruction even where it is never reached.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "biolat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool per_disk = false;		/* -D */
const volatile bool per_op = false;		/* -F */
const volatile bool queue_phase = false;	/* -Q */
const volatile __u32 only_dev = 0;		/* -d: major << 20 | minor */
const volatile bool keyed = false;		/* any of the above, or -P */
const volatile bool track_insert = false;	/* insert hook loaded */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct biolat_key);
	__type(value, struct biolat_rq);
} inflight SEC(".maps");

/* Direct-mapped requests in flight (the *_fast programs). */
struct biolat_slot {
	__u64 rq;	/* the request's address while it holds the slot, or 0 */
	__u64 issued;	/* 0 while requeued */
	__u64 id;
	__u64 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << BIOLAT_SLOT_BITS);
	__type(key, __u32);
	__type(value, struct biolat_slot);
} slots SEC(".maps");

/* The few fields read, as CO-RE flavors (see lib/kernel.bpf.h). */
struct gendisk___hl {
	int major;
	int first_minor;
} __hl_core;

struct request_queue___hl {
	struct gendisk___hl *disk;	/* 5.15 and later */
} __hl_core;

struct request___hl {
	struct request_queue___hl *q;
	unsigned int cmd_flags;
	__u64 start_time_ns;
	struct gendisk___hl *rq_disk;	/* until 5.18 */
} __hl_core;

/* Until 5.11, insert, issue and requeue passed the queue first: user
 * space reads their prototype from the kernel's BTF. */
const volatile bool queue_arg = false;

static __always_inline struct request___hl *rq_arg(__u64 *ctx)
{
	if (queue_arg)
		return (void *)ctx[1];
	return (void *)ctx[0];
}

static __always_inline __u32 op_of(__u32 cmd_flags)
{
	switch (cmd_flags & 0xff) {	/* REQ_OP_MASK */
	case 0: return BIOLAT_OP_READ;
	case 1: return BIOLAT_OP_WRITE;
	case 2: return BIOLAT_OP_FLUSH;
	case 3: return BIOLAT_OP_DISCARD;
	case 9: return BIOLAT_OP_WRITE_ZEROES;
	default: return BIOLAT_OP_OTHER;
	}
}

/* The bit of each flag is the kernel's (the order changed over time). */
static __always_inline __u32 flags_of(__u32 f)
{
	__u32 r = 0;

	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC)))
		r |= BIOLAT_F_SYNC;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_META)))
		r |= BIOLAT_F_META;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_FUA)))
		r |= BIOLAT_F_FUA;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits,
					   __REQ_PREFLUSH)))
		r |= BIOLAT_F_PREFLUSH;
	return r;
}

/* What a request is, as the id of its histogram. */
struct rq_desc {
	__u32 dev;
	__u32 op;
	__u32 flags;
	__u64 born;	/* allocated at (0: unknown) */
};

static __always_inline void record(__u64 id, __u64 ns, const char *comm)
{
	if (keyed)
		hist_record_owned(id & ~(BIOLAT_OWNER_MASK << BIOLAT_OWNER_SHIFT),
				  id >> BIOLAT_OWNER_SHIFT, ns, comm);
	else
		hist_record(ns);
}

static __always_inline __u64 id_of(const struct rq_desc *d)
{
	__u64 id = 0;

	if (per_disk)
		id |= d->dev & BIOLAT_DEV_MASK;
	if (per_op)
		id |= (__u64)d->op << BIOLAT_OP_SHIFT |
		      (__u64)d->flags << BIOLAT_FLAGS_SHIFT;
	return id;
}

/* A new entry for a request first seen now, in its submitter's context. */
static __always_inline void start(struct biolat_key *k,
				  const struct rq_desc *d, __u64 now,
				  bool issued)
{
	struct task_struct___hl *t = (void *)bpf_get_current_task();
	struct biolat_rq e = { .born = now };

	if (!task_matches(t)) {
		if (!has_task_filter())
			return;
		/* Remember the verdict: a kworker may issue it later. */
		e.skip = 1;
	} else {
		e.id = id_of(d) |
		       (owner_id(t) & BIOLAT_OWNER_MASK) << BIOLAT_OWNER_SHIFT;
		if (owner_mode == HL_OWNER_PID || owner_mode == HL_OWNER_TID)
			bpf_probe_read_kernel_str(e.comm, sizeof(e.comm),
						  owner_comm(t));
	}
	if (issued)
		e.issued = now;
	else
		e.queued = now;
	if (bpf_map_update_elem(&inflight, k, &e, BPF_ANY))
		lost_inc(LOST_START_FULL);
}

/* An entry left by an earlier request at the same address. */
static __always_inline bool stale(const struct biolat_rq *e,
				  const struct rq_desc *d)
{
	return d->born && e->born < d->born;
}

static __always_inline int insert(struct biolat_key *k,
				  const struct rq_desc *d)
{
	struct biolat_rq *e;

	if (only_dev && d->dev != only_dev)
		return 0;
	e = bpf_map_lookup_elem(&inflight, k);
	if (e && e->requeued && !stale(e, d)) {
		e->requeued = 0;	/* queued since its requeue */
		return 0;
	}
	start(k, d, bpf_ktime_get_ns(), false);
	return 0;
}

static __always_inline int issue(struct biolat_key *k,
				 const struct rq_desc *d)
{
	struct biolat_rq *e;
	__u64 now;

	if (only_dev && d->dev != only_dev)
		return 0;
	now = bpf_ktime_get_ns();
	/* Without insertions, every entry is made here: a new one always. */
	e = track_insert ? bpf_map_lookup_elem(&inflight, k) : NULL;
	if (!e || stale(e, d)) {
		start(k, d, now, true);
		return 0;
	}
	if (e->skip)
		return 0;
	if (queue_phase && e->queued && now >= e->queued)
		record(e->id | BIOLAT_QUEUE_BIT, now - e->queued, e->comm);
	e->queued = 0;
	e->requeued = 0;
	e->issued = now;
	return 0;
}

/* Back to a queue: its time on the device so far does not count. */
static __always_inline int requeue(struct biolat_key *k)
{
	struct biolat_rq *e = bpf_map_lookup_elem(&inflight, k);

	if (!e)
		return 0;
	e->issued = 0;
	e->queued = bpf_ktime_get_ns();
	e->requeued = 1;
	return 0;
}

static __always_inline int complete(struct biolat_key *k)
{
	struct biolat_rq *e = bpf_map_lookup_elem(&inflight, k);
	__u64 now;

	if (!e)
		return 0;
	/* Partly completed requests pass here again: timed at the first. */
	if (e->issued && !e->skip) {
		now = bpf_ktime_get_ns();
		if (now >= e->issued)
			record(e->id, now - e->issued, e->comm);
	}
	bpf_map_delete_elem(&inflight, k);
	return 0;
}

/* ---- the fast path: a slot per request in flight ---- */

static __always_inline struct biolat_slot *slot_of(__u64 rq, bool btf)
{
	/* measured from the table's address, for tp_btf: see addr_bits() */
	__u32 i = biolat_slot_index(addr_bits(rq, btf, &slots));

	return bpf_map_lookup_elem(&slots, &i);
}

static __always_inline int issue_fast(__u64 rq, const struct rq_desc *d,
				      bool btf)
{
	struct biolat_slot *s = slot_of(rq, btf);
	struct biolat_key k = { .rq = rq };
	__u64 held;

	if (only_dev && d->dev != only_dev)
		return 0;
	if (!s)
		return issue(&k, d);
	/* Free, or ours again after a requeue (or a request at this
	 * address whose completion was never seen: the same thing). */
	held = __sync_val_compare_and_swap(&s->rq, 0, rq);
	if (held && held != rq)
		return issue(&k, d);
	s->id = id_of(d);
	s->issued = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int requeue_fast(__u64 rq, bool btf)
{
	struct biolat_slot *s = slot_of(rq, btf);
	struct biolat_key k = { .rq = rq };

	if (s && s->rq == rq) {
		s->issued = 0;
		return 0;
	}
	return requeue(&k);
}

static __always_inline int complete_fast(__u64 rq, bool btf)
{
	struct biolat_slot *s = slot_of(rq, btf);
	struct biolat_key k = { .rq = rq };
	__u64 issued, id, now;

	if (!s || s->rq != rq)
		return complete(&k);
	issued = s->issued;
	id = s->id;
	/* Read before it is let go (fully ordered): the next holder
	 * writes its own. A second, partial completion finds it gone. */
	if (__sync_val_compare_and_swap(&s->rq, rq, 0) != rq || !issued)
		return 0;
	now = bpf_ktime_get_ns();
	if (now >= issued)
		record(id, now - issued, "");
	return 0;
}

/* ---- tp_btf and raw_tp: the struct request itself ---- */

/* Only what the options use. tp_btf passes a pointer the verifier knows
 * (direct loads); raw_tp an address to read from. */
#define RQ_LOAD(btf, p, f) ((btf) ? (p)->f : BPF_CORE_READ(p, f))

static __always_inline __u32 rq_dev_of(struct request___hl *rq, bool btf)
{
	struct gendisk___hl *disk;

	if (bpf_core_field_exists(rq->q->disk))
		disk = btf ? rq->q->disk : BPF_CORE_READ(rq, q, disk);
	else
		disk = RQ_LOAD(btf, rq, rq_disk);
	if (!disk)
		return 0;
	return (RQ_LOAD(btf, disk, major) << BIOLAT_MINOR_BITS) |
	       RQ_LOAD(btf, disk, first_minor);
}

static __always_inline void describe(struct request___hl *rq,
				     struct rq_desc *d, bool btf)
{
	__u32 f = 0;

	d->dev = per_disk || only_dev ? rq_dev_of(rq, btf) : 0;
	if (per_op)
		f = RQ_LOAD(btf, rq, cmd_flags);
	d->op = op_of(f);
	d->flags = flags_of(f);
	d->born = track_insert ? RQ_LOAD(btf, rq, start_time_ns) : 0;
}

static __always_inline int insert_rq(struct request___hl *rq, bool btf)
{
	struct biolat_key k = { .rq = (__u64)rq };
	struct rq_desc d;

	describe(rq, &d, btf);
	return insert(&k, &d);
}

static __always_inline int issue_rq(struct request___hl *rq, bool btf)
{
	struct biolat_key k = { .rq = (__u64)rq };
	struct rq_desc d;

	describe(rq, &d, btf);
	return issue(&k, &d);
}

static __always_inline int issue_rq_fast(struct request___hl *rq, bool btf)
{
	struct rq_desc d;

	describe(rq, &d, btf);
	return issue_fast((__u64)rq, &d, btf);
}

static __always_inline int requeue_rq(struct request___hl *rq)
{
	struct biolat_key k = { .rq = (__u64)rq };

	return requeue(&k);
}

static __always_inline int complete_rq(struct request___hl *rq)
{
	struct biolat_key k = { .rq = (__u64)rq };

	return complete(&k);
}

SEC("tp_btf/block_rq_insert")
int insert_btf(__u64 *ctx) { return insert_rq(rq_arg(ctx), true); }

SEC("tp_btf/block_rq_issue")
int issue_btf(__u64 *ctx) { return issue_rq(rq_arg(ctx), true); }

SEC("tp_btf/block_rq_requeue")
int requeue_btf(__u64 *ctx) { return requeue_rq(rq_arg(ctx)); }

/* (rq, error, nr_bytes) on every kernel */
SEC("tp_btf/block_rq_complete")
int complete_btf(__u64 *ctx) { return complete_rq((void *)ctx[0]); }

SEC("tp_btf/block_rq_issue")
int issue_fast_btf(__u64 *ctx) { return issue_rq_fast(rq_arg(ctx), true); }

SEC("tp_btf/block_rq_requeue")
int requeue_fast_btf(__u64 *ctx)
{
	return requeue_fast((__u64)rq_arg(ctx), true);
}

SEC("tp_btf/block_rq_complete")
int complete_fast_btf(__u64 *ctx) { return complete_fast(ctx[0], true); }

SEC("raw_tp/block_rq_insert")
int insert_raw(__u64 *ctx) { return insert_rq(rq_arg(ctx), false); }

SEC("raw_tp/block_rq_issue")
int issue_raw(__u64 *ctx) { return issue_rq(rq_arg(ctx), false); }

SEC("raw_tp/block_rq_requeue")
int requeue_raw(__u64 *ctx) { return requeue_rq(rq_arg(ctx)); }

SEC("raw_tp/block_rq_complete")
int complete_raw(__u64 *ctx) { return complete_rq((void *)ctx[0]); }

SEC("raw_tp/block_rq_issue")
int issue_fast_raw(__u64 *ctx) { return issue_rq_fast(rq_arg(ctx), false); }

SEC("raw_tp/block_rq_requeue")
int requeue_fast_raw(__u64 *ctx)
{
	return requeue_fast((__u64)rq_arg(ctx), false);
}

SEC("raw_tp/block_rq_complete")
int complete_fast_raw(__u64 *ctx) { return complete_fast(ctx[0], false); }

/* ---- classic tracepoints: disk, sector and the rwbs string ---- */

struct trace_event_raw_block_rq___hl {
	__u32 dev;
	__u64 sector;
	char rwbs[8];
} __hl_core;

struct trace_event_raw_block_rq_requeue___hl {
	__u32 dev;
	__u64 sector;
} __hl_core;

/* block_rq_complete's record: its own until 6.6, then a class's. */
struct trace_event_raw_block_rq_completion___hl {
	__u32 dev;
	__u64 sector;
} __hl_core;

struct trace_event_raw_block_rq_complete___hl {
	__u32 dev;
	__u64 sector;
} __hl_core;

/* The kernel's dev_t in these records is major << 20 | minor too. */
static __always_inline void tp_key(struct biolat_key *k, __u32 dev,
				   __u64 sector)
{
	k->rq = sector;
	k->dev = dev | (1ULL << 32);	/* never 0 */
}

/* "[F]OP[F][A][S][M]": a preflush, the operation, then flags. */
static __always_inline void tp_describe(struct trace_event_raw_block_rq___hl *ctx,
					struct rq_desc *d)
{
	char rwbs[8] = {};
	int i = 0;

	/* a copy: the verifier allows the record only constant offsets */
	bpf_probe_read_kernel(rwbs, sizeof(rwbs) - 1, ctx->rwbs);
	d->dev = ctx->dev;
	d->born = 0;
	d->flags = 0;
	char op = rwbs[0], next = rwbs[1];

	if (op == 'F' && (next == 'W' || next == 'R' || next == 'D' ||
			  next == 'F' || next == 'N')) {
		d->flags |= BIOLAT_F_PREFLUSH;
		op = next;
		i = 1;
	}
	switch (op) {
	case 'R': d->op = BIOLAT_OP_READ; break;
	case 'W': d->op = BIOLAT_OP_WRITE; break;
	case 'F': d->op = BIOLAT_OP_FLUSH; break;
	case 'D': d->op = BIOLAT_OP_DISCARD; break;
	default: d->op = BIOLAT_OP_OTHER; break;
	}
#pragma unroll
	for (int j = 1; j < 7; j++) {
		if (j <= i)
			continue;
		if (!rwbs[j])
			break;
		if (rwbs[j] == 'F')
			d->flags |= BIOLAT_F_FUA;
		else if (rwbs[j] == 'S')
			d->flags |= BIOLAT_F_SYNC;
		else if (rwbs[j] == 'M')
			d->flags |= BIOLAT_F_META;
	}
}

SEC("tracepoint/block/block_rq_insert")
int insert_tp(struct trace_event_raw_block_rq___hl *ctx)
{
	struct biolat_key k;
	struct rq_desc d;

	tp_describe(ctx, &d);
	tp_key(&k, d.dev, ctx->sector);
	return insert(&k, &d);
}

SEC("tracepoint/block/block_rq_issue")
int issue_tp(struct trace_event_raw_block_rq___hl *ctx)
{
	struct biolat_key k;
	struct rq_desc d;

	tp_describe(ctx, &d);
	tp_key(&k, d.dev, ctx->sector);
	return issue(&k, &d);
}

SEC("tracepoint/block/block_rq_requeue")
int requeue_tp(struct trace_event_raw_block_rq_requeue___hl *ctx)
{
	struct biolat_key k;

	tp_key(&k, ctx->dev, ctx->sector);
	return requeue(&k);
}

SEC("tracepoint/block/block_rq_complete")
int complete_tp(void *ctx)
{
	struct trace_event_raw_block_rq_completion___hl *n = ctx;
	struct trace_event_raw_block_rq_complete___hl *o = ctx;
	struct biolat_key k;

	/* read, not loaded: the verifier takes no ctx offset chosen by a
	 * branch, which is what clang makes of this */
	if (bpf_core_type_exists(struct trace_event_raw_block_rq_completion___hl))
		tp_key(&k, BPF_CORE_READ(n, dev), BPF_CORE_READ(n, sector));
	else
		tp_key(&k, BPF_CORE_READ(o, dev), BPF_CORE_READ(o, sector));
	return complete(&k);
}
