// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "kfeatures.h"
#include "lean_btf.h"
#include "util.h"

static bool helper_in_uprobes(enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, id, NULL) == 1;
}

/* A program of five instructions: a compare-and-swap on its stack. */
static bool has_atomics(void)
{
	const struct bpf_insn prog[] = {
		{ .code = BPF_ST | BPF_DW | BPF_MEM, .dst_reg = BPF_REG_10,
		  .off = -8, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1,
		  .imm = 1 },
		{ .code = BPF_STX | BPF_DW | BPF_ATOMIC, .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_1, .off = -8, .imm = BPF_CMPXCHG },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", prog,
			       sizeof(prog) / sizeof(*prog), NULL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static const char *yes(bool b)
{
	return b ? "yes" : "no";
}

/* Probed once, on the first call: only the tools that ask pay for it. */
bool hl_kernel_has_atomics(void)
{
	static int known = -1;

	if (known < 0)
		known = has_atomics();
	return known;
}

/*
 * Creating task storage allocates. Before 6.4 that is kmalloc, which in a
 * scheduler hook (run-queue lock held) may wake kswapd on this very CPU:
 * a deadlock. 6.4 allocates from BPF's own caches and says so with
 * bpf_local_storage_map.bpf_ma. Probed once, on the first call.
 */
bool hl_kernel_sched_task_storage(void)
{
	static int known = -1;

	if (known < 0)
		known = hl_features()->task_storage &&
			lean_btf_has_member("bpf_local_storage_map",
					    "bpf_ma") == 1;
	return known;
}

const struct hl_features *hl_features(void)
{
	static struct hl_features f;
	static bool probed;

	if (probed)
		return &f;
	probed = true;
	f.task_storage = helper_in_uprobes(BPF_FUNC_task_storage_get) &&
			 helper_in_uprobes(BPF_FUNC_get_current_task_btf);
	f.attach_cookie = helper_in_uprobes(BPF_FUNC_get_attach_cookie);
	if (hl_opts.verbose)	/* all of it, probed or not by the tool */
		hl_warn("kernel: task storage %s (in scheduler hooks %s), attach "
			"cookies %s, atomics %s", yes(f.task_storage),
			yes(hl_kernel_sched_task_storage()),
			yes(f.attach_cookie), yes(hl_kernel_has_atomics()));
	return &f;
}

static bool tstore_setup(struct bpf_object *obj, bool task)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);

		if (hl_ends_with(name, "__task"))
			bpf_map__set_autocreate(map, task);
		else if (hl_ends_with(name, "__tid") ||
			 hl_ends_with(name, "__zero"))
			bpf_map__set_autocreate(map, !task);
	}
	return task;
}

bool hl_tstore_setup(struct bpf_object *obj)
{
	return tstore_setup(obj, hl_features()->task_storage);
}

bool hl_tstore_setup_sched(struct bpf_object *obj)
{
	return tstore_setup(obj, hl_kernel_sched_task_storage());
}

bool hl_kernel_has_kfunc(const char *name)
{
	int found = lean_btf_has_func(name);

	if (hl_opts.verbose)
		hl_warn("kernel: kfunc %s %s", name,
			found < 0 ? "unknown (BTF unreadable)" : yes(found));
	return found == 1;
}
