/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the running kernel offers BPF, probed once at start-up: each tool
 * builds its one object for what is there instead of trying objects until
 * one loads. -v prints the findings.
 */
#ifndef HOWLONG_KFEATURES_H
#define HOWLONG_KFEATURES_H

#include <stdbool.h>

struct bpf_object;

struct hl_features {
	bool task_storage;	/* task-local storage in tracing programs (5.11) */
	bool attach_cookie;	/* bpf_get_attach_cookie() in uprobes (5.15) */
};

/* Probed on the first call (a few tiny program loads), then cached. */
const struct hl_features *hl_features(void);

/* BPF compare-and-swap and fetch ops (5.12). */
bool hl_kernel_has_atomics(void);
/* Task storage may be created in scheduler hooks (6.4: see kfeatures.c). */
bool hl_kernel_sched_task_storage(void);

/* Creates the maps of progs/lib/tstore.bpf.h's way for this kernel and
 * leaves the others uncreated; returns the value for the object's
 * have_task_storage. Call between open and load. */
bool hl_tstore_setup(struct bpf_object *obj);
/* The same for an object that creates thread storage in scheduler hooks
 * (sched_switch, sched_wakeup): task storage only where that is safe. */
bool hl_tstore_setup_sched(struct bpf_object *obj);

/* The kfunc @name exists in this kernel (its BTF says so). */
bool hl_kernel_has_kfunc(const char *name);

#endif /* HOWLONG_KFEATURES_H */
