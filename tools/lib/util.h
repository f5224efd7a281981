/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Error reporting and number parsing shared by every tool. */
#ifndef HOWLONG_UTIL_H
#define HOWLONG_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes, the same in every tool. */
#define HL_EXIT_OK	0
#define HL_EXIT_FAIL	1
#define HL_EXIT_USAGE	2

extern const char *hl_tool;	/* program name used in messages */

/* One line "tool: message" on stderr, then exit 2 (bad input). */
void hl_usage_error(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
/* One line "tool: message" on stderr, then exit 1 (runtime failure). */
void hl_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
/* One line "tool: message" on stderr; the caller goes on. */
void hl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s ends with suffix (map and program names' conventions). */
bool hl_ends_with(const char *s, const char *suffix);

/* Strict decimal parse of the whole string into [min, max]. */
bool hl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A threshold in milliseconds (fractions allowed) as nanoseconds; bad
 * input is a usage error naming the option. */
uint64_t hl_parse_ms(const char *arg, const char *what);

/* Monotonic and wall clocks in nanoseconds. */
uint64_t hl_now_ns(void);
uint64_t hl_wall_ns(void);

#endif /* HOWLONG_UTIL_H */
