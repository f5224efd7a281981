// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor for bench/pgquerylat.py: empty USDT programs on the three
 * PostgreSQL markers pgquerylat uses by default, attached the same way
 * (libbpf USDT, by binary path, every process). What one run of these costs
 * is libbpf's USDT entry plus bpf_stats' own clock reads; the uprobe trap
 * itself is outside bpf_stats and is paid by floor and tool alike.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* postgresql:statement__status(const char *text_or_NULL) */
SEC("usdt")
int BPF_USDT(floor_status) { return 0; }

/* postgresql:transaction__abort(LocalTransactionId) */
SEC("usdt")
int BPF_USDT(floor_abort) { return 0; }

/* postgresql:query__execute__start(): pgquerylat's "a statement ran" */
SEC("usdt")
int BPF_USDT(floor_exec) { return 0; }
