// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * irqlat: how long interrupts take. By default a hard IRQ handler's time,
 * irq:irq_handler_entry to irq_handler_exit, one histogram per IRQ and
 * action (a shared line calls each of its handlers in turn, each between
 * its own entry and exit); with -S a softirq handler's time,
 * irq:softirq_entry to softirq_exit, one per vector; with -w how long a
 * softirq waited to run, irq:softirq_raise to softirq_entry of that
 * vector on that CPU.
 *
 * Interrupts are hot: every hook reads one per-CPU array entry and
 * nothing else before it records. Hard handlers run with interrupts off
 * and softirqs do not nest on a CPU, so one start of each per CPU is all
 * the state there is. Raising a softirq marks it pending on the raising
 * CPU, where it will run: the first raise while pending starts the clock,
 * later ones do not restart it, and its entry stops it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/kernel.bpf.h"
#include "irqlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool per_cpu = false;		/* -C */
const volatile bool some_irqs = false;		/* -I: only wanted_irqs */
const volatile __u8 wanted_irqs[IRQLAT_IRQ_MAX / 8];
const volatile __u32 wanted_vecs = (1U << IRQLAT_VECTORS) - 1;	/* -s */
const volatile bool time_soft = false;		/* -S */
const volatile bool time_wait = false;		/* -w */
/* per IRQ number: its dense histogram plus one, or 0 (irqlat.h) */
const volatile __u8 dense_irq[IRQLAT_DENSE_IRQ_MAX];

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IRQLAT_DENSE_IRQS);
	__type(key, __u32);
	__type(value, struct irqlat_owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct irqlat_cpu);
} cpus SEC(".maps");

struct irqaction___hl {
	const char *name;
} __hl_core;

static __always_inline struct irqlat_cpu *this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpus, &zero);
}

static __always_inline __u64 cpu_bits(void)
{
	if (!per_cpu)
		return 0;
	return (__u64)(bpf_get_smp_processor_id() + 1) << IRQLAT_CPU_SHIFT;
}

static __always_inline __u64 id_of(enum irqlat_kind kind, __u32 num,
				   __u64 tag)
{
	return (tag & IRQLAT_TAG_MASK) |
	       (__u64)(num & IRQLAT_NUM_MASK) << IRQLAT_NUM_SHIFT |
	       (__u64)kind << IRQLAT_KIND_SHIFT | cpu_bits();
}

/*
 * val, known to be below lim (a constant), as an index the verifier can
 * follow on any kernel: clang otherwise checks a 32-bit copy and indexes
 * with the 64-bit register (see hist_bounded_slot()).
 */
#define INDEX_BELOW(val, lim) ({					\
	__u64 __v = (val);						\
	asm volatile("if %[v] < %[n] goto +1;"				\
		     "%[v] = 0;"					\
		     : [v] "+r"(__v)					\
		     : [n] "i"(lim));					\
	__v;								\
})

/* ---- hard IRQs ---- */

static __always_inline bool irq_wanted(__u32 irq)
{
	if (!some_irqs)
		return true;
	if (irq >= IRQLAT_IRQ_MAX)
		return false;
	return wanted_irqs[INDEX_BELOW(irq / 8, IRQLAT_IRQ_MAX / 8)] &
	       (1U << (irq % 8));
}

/* tag tells the line's actions apart (see irqlat.h). */
static __always_inline struct irqlat_cpu *hard_entry(__u32 irq, __u64 tag)
{
	struct irqlat_cpu *c;

	if (!irq_wanted(irq))
		return NULL;
	c = this_cpu();
	if (!c)
		return NULL;
	c->hard_id = id_of(IRQLAT_HARD, irq, tag);
	c->hard_dense = irq < IRQLAT_DENSE_IRQ_MAX && !per_cpu ?
		dense_irq[INDEX_BELOW(irq, IRQLAT_DENSE_IRQ_MAX)] : 0;
	c->hard_ts = bpf_ktime_get_ns();
	return c;
}

/*
 * Into the IRQ's dense histogram if it has one and the handler is the
 * line's first (one IRQ is handled on one CPU at a time: no race for the
 * owner); false: keyed.
 */
static __always_inline bool hard_dense(const struct irqlat_cpu *c, __u64 ns,
				       const void *name)
{
	__u32 i = c->hard_dense - 1;
	__u64 tag = (c->hard_id & IRQLAT_TAG_MASK) | IRQLAT_OWNED;
	struct irqlat_owner *o;

	if (!c->hard_dense)
		return false;
	o = bpf_map_lookup_elem(&owners, &i);
	if (!o)
		return false;
	if (o->tag != tag) {
		if (o->tag)
			return false;
		bpf_probe_read_kernel_str(o->name, sizeof(o->name), name);
		o->tag = tag;
	}
	hist_record_dense(i, ns);
	return true;
}

/* name: the action's name, kernel memory, read only for a new key. */
static __always_inline int hard_exit(const void *name)
{
	struct irqlat_cpu *c = this_cpu();
	__u64 now;

	if (!c || !c->hard_ts)
		return 0;
	now = bpf_ktime_get_ns();
	if (!hard_dense(c, now - c->hard_ts, name))
		hist_record_keyed(c->hard_id, now - c->hard_ts, name);
	c->hard_ts = 0;
	return 0;
}

/* The action's address above the 3 bits kmalloc's alignment leaves
 * equal (measured from the map's, for tp_btf: see addr_bits()). */
static __always_inline __u64 action_tag(const void *action, bool btf)
{
	return addr_bits((__u64)action, btf, &cpus) >> 3;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(hard_entry_btf, int irq, struct irqaction___hl *action)
{
	hard_entry(irq, action_tag(action, true));
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(hard_exit_btf, int irq, struct irqaction___hl *action)
{
	return hard_exit(action->name);
}

SEC("raw_tp/irq_handler_entry")
int BPF_PROG(hard_entry_raw, int irq, struct irqaction___hl *action)
{
	hard_entry(irq, action_tag(action, false));
	return 0;
}

SEC("raw_tp/irq_handler_exit")
int BPF_PROG(hard_exit_raw, int irq, struct irqaction___hl *action)
{
	return hard_exit(BPF_CORE_READ(action, name));
}

/* Classic tracepoints carry the IRQ and, at entry only, a copy of the
 * name: kept for the exit, and a hash of it tells the actions apart. */
struct trace_event_raw_irq_handler_entry___hl {
	int irq;
	__u32 __data_loc_name;
} __hl_core;

SEC("tracepoint/irq/irq_handler_entry")
int hard_entry_tp(struct trace_event_raw_irq_handler_entry___hl *ctx)
{
	__u32 loc = ctx->__data_loc_name & 0xffff;
	__u64 w[2] = {};
	struct irqlat_cpu *c;

	/* -I first: no copy for an IRQ not wanted */
	if (!irq_wanted(ctx->irq))
		return 0;
	if (bpf_probe_read_kernel_str(w, sizeof(w), (void *)ctx + loc) < 0)
		return 0;
	c = hard_entry(ctx->irq, w[0] ^ w[1] ^ (w[0] >> 24) ^ (w[1] >> 40));
	if (c)
		__builtin_memcpy(c->name, w, sizeof(c->name));
	return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int hard_exit_tp(void *ctx)
{
	struct irqlat_cpu *c = this_cpu();

	return hard_exit(c ? c->name : NULL);
}

/* ---- softirqs ---- */

static __always_inline bool vec_wanted(__u32 vec)
{
	return vec < IRQLAT_VECTORS && (wanted_vecs & (1U << vec));
}

/* This CPU's state, if vec is wanted. */
static __always_inline struct irqlat_cpu *vec_cpu(__u32 vec)
{
	if (!vec_wanted(vec))
		return NULL;
	return this_cpu();
}

/* Per CPU (-C), keyed; else dense, by vector (irqlat.h). */
static __always_inline void record_soft(enum irqlat_kind kind, __u32 vec,
					__u64 ns)
{
	if (per_cpu)
		hist_record_keyed(id_of(kind, vec, 0), ns, NULL);
	else
		hist_record_dense(irqlat_dense_id(kind, vec), ns);
}

static __always_inline int soft_raise(__u32 vec)
{
	struct irqlat_cpu *c = vec_cpu(vec);
	__u64 *raised;

	if (!c)
		return 0;
	/* Already pending: it waits since the first raise. */
	raised = &c->raised[INDEX_BELOW(vec, IRQLAT_VECTORS)];
	if (!*raised)
		*raised = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int soft_entry(__u32 vec)
{
	struct irqlat_cpu *c = vec_cpu(vec);
	__u64 *raised;

	if (!c)
		return 0;
	raised = &c->raised[INDEX_BELOW(vec, IRQLAT_VECTORS)];
	if (time_wait && *raised) {
		record_soft(IRQLAT_WAIT, vec, bpf_ktime_get_ns() - *raised);
		*raised = 0;
	}
	/* the handler starts after any recording */
	if (time_soft)
		c->soft_ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int soft_exit(__u32 vec)
{
	struct irqlat_cpu *c = this_cpu();
	__u64 now;

	if (!c || !c->soft_ts)
		return 0;
	now = bpf_ktime_get_ns();
	record_soft(IRQLAT_SOFT, vec, now - c->soft_ts);
	c->soft_ts = 0;
	return 0;
}

/*
 * The skeleton attaches programs in the order they are defined here, one
 * by one: each method's exit comes before its entry and its entry before
 * its raise, so that from the first recorded wait on, the entry's run is
 * timed as well (an entry watched before its exit counts waits without
 * their runs while the exit is being attached, a long while under
 * emulation: a 6.12 guest once counted 238 RCU waits to 233 runs).
 */
SEC("tp_btf/softirq_exit")
int BPF_PROG(soft_exit_btf, unsigned int vec) { return soft_exit(vec); }

SEC("tp_btf/softirq_entry")
int BPF_PROG(soft_entry_btf, unsigned int vec) { return soft_entry(vec); }

SEC("tp_btf/softirq_raise")
int BPF_PROG(raise_btf, unsigned int vec) { return soft_raise(vec); }

SEC("raw_tp/softirq_exit")
int BPF_PROG(soft_exit_raw, unsigned int vec) { return soft_exit(vec); }

SEC("raw_tp/softirq_entry")
int BPF_PROG(soft_entry_raw, unsigned int vec) { return soft_entry(vec); }

SEC("raw_tp/softirq_raise")
int BPF_PROG(raise_raw, unsigned int vec) { return soft_raise(vec); }

struct trace_event_raw_softirq___hl {
	unsigned int vec;
} __hl_core;

SEC("tracepoint/irq/softirq_exit")
int soft_exit_tp(struct trace_event_raw_softirq___hl *ctx)
{
	return soft_exit(ctx->vec);
}

SEC("tracepoint/irq/softirq_entry")
int soft_entry_tp(struct trace_event_raw_softirq___hl *ctx)
{
	return soft_entry(ctx->vec);
}

SEC("tracepoint/irq/softirq_raise")
int raise_tp(struct trace_event_raw_softirq___hl *ctx)
{
	return soft_raise(ctx->vec);
}
