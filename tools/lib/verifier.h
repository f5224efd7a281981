/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reading the verifier's verdict out of libbpf's messages, so that a
 * program the kernel's verifier refused is reported as that, with its
 * reason, and never as a missing privilege (both are EACCES).
 */
#ifndef HOWLONG_VERIFIER_H
#define HOWLONG_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * @msg: one libbpf warning. If it carries a program's verifier log
 * ("prog 'NAME': -- BEGIN PROG LOAD LOG -- ... -- END PROG LOAD LOG --"),
 * stores NAME in @prog and the reason in @why (the log's last line that
 * is not a statistic, "" if none) and returns true.
 */
bool hl_verifier_reason(const char *msg, char *prog, size_t prog_len,
			char *why, size_t why_len);

#endif /* HOWLONG_VERIFIER_H */
