// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * hl_verifier_reason() on libbpf's messages: a verifier log is found and
 * its verdict taken, whatever statistics follow it; messages without a
 * log are not taken for one.
 */
#include <string.h>
#include "tap.h"
#include "verifier.h"

/* As libbpf 1.1 formats it; the log is 6.1's refusal of schedlat's
 * histogram increment before hist_bounded_slot() clamped in asm. */
static const char rejected_61[] =
	"libbpf: prog 'switch_btf_si': -- BEGIN PROG LOAD LOG --\n"
	"reg type unsupported for arg#0 function switch_btf_si#11\n"
	"0: R1=ctx(off=0,imm=0) R10=fp0\n"
	"; int BPF_PROG(switch_btf_si, bool preempt, ...)\n"
	"45: (0f) r0 += r3\n"
	"R0 unbounded memory access, make sure to bounds check any such "
	"access\n"
	"processed 46 insns (limit 1000000) max_states_per_insn 0 "
	"total_states 3 peak_states 3 mark_read 2\n"
	"-- END PROG LOAD LOG --\n";

/* Newer kernels add a verification time and stack depth line. */
static const char rejected_new[] =
	"libbpf: prog 'status_ev': -- BEGIN PROG LOAD LOG --\n"
	"0: R1=ctx() R10=fp0\n"
	"calling kernel function bpf_copy_from_user_str is not allowed\n"
	"processed 12 insns (limit 1000000) max_states_per_insn 0\n"
	"verification time 42 usec\n"
	"stack depth 8\n"
	"-- END PROG LOAD LOG --\n";

static const char empty_log[] =
	"libbpf: prog 'x': -- BEGIN PROG LOAD LOG --\n"
	"-- END PROG LOAD LOG --\n";

static const char not_a_log[] =
	"libbpf: prog 'switch_btf_si': BPF program load failed: Permission "
	"denied\n";

int main(void)
{
	char prog[64], why[160];

	tap_check(hl_verifier_reason(rejected_61, prog, sizeof(prog), why,
				     sizeof(why)), "6.1 log found");
	tap_check(!strcmp(prog, "switch_btf_si"), "program named: %s", prog);
	tap_check(!strcmp(why, "R0 unbounded memory access, make sure to "
			  "bounds check any such access"), "verdict: %s", why);
	tap_check(hl_verifier_reason(rejected_new, prog, sizeof(prog), why,
				     sizeof(why)) &&
		  !strcmp(why, "calling kernel function "
			  "bpf_copy_from_user_str is not allowed"),
		  "statistics after the verdict skipped: %s", why);
	tap_check(hl_verifier_reason(empty_log, prog, sizeof(prog), why,
				     sizeof(why)) && !why[0],
		  "an empty log: no verdict, still a rejection");
	tap_check(!hl_verifier_reason(not_a_log, prog, sizeof(prog), why,
				      sizeof(why)), "no log, no rejection");
	tap_check(hl_verifier_reason(rejected_61, prog, 5, why, 10) &&
		  !strcmp(prog, "swit") && !strcmp(why, "R0 unboun"),
		  "short buffers: cut, terminated");
	tap_diag("verifier verdicts read from 4 libbpf messages");
	return tap_done();
}
