/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The little JSON Lines output needs: strings escaped, times in RFC 3339. */
#ifndef HOWLONG_JSON_H
#define HOWLONG_JSON_H

#include <stdint.h>
#include <stdio.h>

/* A JSON string literal, quotes included; bytes that are not valid UTF-8
 * are replaced so that the line always parses. */
void hl_json_str(FILE *f, const char *s);
/* Length of the valid UTF-8 sequence at s (NUL-terminated), 0 if there
 * is none: JSON strings and metric label values must be UTF-8. */
int hl_utf8_len(const unsigned char *s);
/* "2026-11-26T06:50:01.123456789Z" for a CLOCK_REALTIME nanosecond time. */
void hl_json_time(FILE *f, uint64_t wall_ns);
/* The opening of every line: {"type":"...","tool":"..." */
void hl_json_begin(FILE *f, const char *type, const char *tool);

#endif /* HOWLONG_JSON_H */
