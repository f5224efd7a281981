/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ring buffer of an event-mode tool (tools/lib/loop.c reads it).
 * A tool may set EVENTS_RING_SIZE (bytes, a power of two) first.
 */
#ifndef HOWLONG_EVENTS_BPF_H
#define HOWLONG_EVENTS_BPF_H

#include "hist.bpf.h"

#ifndef EVENTS_RING_SIZE
#define EVENTS_RING_SIZE (1 << 20)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_SIZE);
} events SEC(".maps");

/*
 * Waking the reader costs an interrupt per event, and the woken reader
 * may preempt the traced thread in the middle of the marker's handlers
 * (measured: +12 us on every JVM pause that a second tool also timed).
 * The reader polls every 20 ms instead and is woken only once the buffer
 * is half full.
 */
static __always_inline void events_output(void *data, __u64 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	    EVENTS_RING_SIZE / 2)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, data, size, flags))
		lost_inc(LOST_EVENTS_FULL);
}

#endif /* HOWLONG_EVENTS_BPF_H */
