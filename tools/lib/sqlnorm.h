/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * PostgreSQL statement text with every literal value replaced by $N, so
 * that statements differing only in their values group together and no
 * value (a password, an e-mail address) is ever printed.
 */
#ifndef HOWLONG_SQLNORM_H
#define HOWLONG_SQLNORM_H

#include <stddef.h>

/*
 * Writes the normalized form of in to out and returns its strlen.
 * String literals ('', E'', B'', X'', N'', U&'', $tag$...$tag$), numbers,
 * TRUE, FALSE and NULL become $1, $2, ... numbered after the highest $N
 * already in the text; existing $N, identifiers and "quoted identifiers"
 * stay. Comments go, whitespace runs become one space, a trailing ';'
 * goes. As in pg_stat_statements (PostgreSQL 15): a '-' where an operand
 * is expected goes with the number after it ("a + -5" is "a + $1"); an
 * integer alone as an item of GROUP BY, ORDER BY or DISTINCT ON (a
 * position), a type's modifiers (numeric(10,2)) and the TRUE, FALSE or
 * NULL of IS [NOT] tests stay. Unlike it, utility statements (SET, DDL)
 * are normalized too: their literals may be secrets.
 *
 * in may be cut anywhere (a query text captured into a fixed-size buffer):
 * an unterminated literal or comment runs to the end and is still hidden.
 * out is always NUL-terminated (unless out_len is 0, when nothing is
 * written) and never written past out_len. When out is too small, the
 * result is cut before the first token that does not fit, never inside
 * one, so that "$12" cannot show up as "$1".
 */
size_t hl_sql_normalize(const char *in, char *out, size_t out_len);

#endif /* HOWLONG_SQLNORM_H */
