/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-thread state of the current thread, on every kernel.
 *
 * Task-local storage (Linux 5.11) dies with its thread and never fills.
 * Older kernels get an LRU hash keyed by thread id instead: the entries of
 * threads that have exited are the least recently used, so they are the
 * ones evicted, and the map never refuses a live thread.
 *
 * User space decides once, at start-up (hl_tstore_setup()): it sets
 * have_task_storage and creates only the maps of the way chosen. The branch
 * not taken is dead code to the verifier (.rodata is constant), so a kernel
 * never sees the helpers it lacks (bpf_task_storage_get and
 * bpf_get_current_task_btf are 5.11 too), and libbpf turns the loads of
 * maps it did not create into calls that are never reached.
 */
#ifndef HOWLONG_TSTORE_BPF_H
#define HOWLONG_TSTORE_BPF_H

const volatile bool have_task_storage = true;

/*
 * Declares the maps NAME__task, NAME__tid and NAME__zero (a zeroed value
 * to insert: values may be too big for the stack), and
 *   VTYPE *NAME_get(bool create)
 * which returns the current thread's value, zeroed when created, or NULL
 * (not there and !create, or no memory). max_threads bounds the hash.
 */
#define DEFINE_THREAD_STORAGE(name, vtype, max_threads)			\
struct {								\
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);			\
	__uint(map_flags, BPF_F_NO_PREALLOC);				\
	__type(key, int);						\
	__type(value, vtype);						\
} name##__task SEC(".maps");						\
									\
struct {								\
	__uint(type, BPF_MAP_TYPE_LRU_HASH);				\
	__uint(max_entries, max_threads);				\
	__type(key, __u32);						\
	__type(value, vtype);						\
} name##__tid SEC(".maps");						\
									\
struct {								\
	__uint(type, BPF_MAP_TYPE_ARRAY);				\
	__uint(max_entries, 1);						\
	__type(key, __u32);						\
	__type(value, vtype);						\
} name##__zero SEC(".maps");						\
									\
static __always_inline vtype *name##_get(bool create)			\
{									\
	__u32 tid, zero = 0;						\
	vtype *v, *init;						\
									\
	if (have_task_storage)						\
		return bpf_task_storage_get(&name##__task,		\
			bpf_get_current_task_btf(), NULL,		\
			create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);	\
	tid = (__u32)bpf_get_current_pid_tgid();			\
	v = bpf_map_lookup_elem(&name##__tid, &tid);			\
	if (v || !create)						\
		return v;						\
	init = bpf_map_lookup_elem(&name##__zero, &zero);		\
	if (!init)							\
		return NULL;						\
	bpf_map_update_elem(&name##__tid, &tid, init, BPF_NOEXIST);	\
	return bpf_map_lookup_elem(&name##__tid, &tid);			\
}

#endif /* HOWLONG_TSTORE_BPF_H */
