// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * SQL normalization (tools/lib/sqlnorm.c). The output is printed to users
 * and used as a grouping key, so it must hide every literal value and be
 * exact. Checked on fixed cases, then on every prefix of every case (query
 * texts are captured cut at a fixed size) and every output size, with
 * exact-size heap copies and canaries so that valgrind or the canary sees
 * any access out of bounds.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "sqlnorm.h"
#include "tap.h"

static const struct {
	const char *in, *want;
} cases[] = {
	/* the two the brief names */
	{ "select * from t1 where id = 42 and name = 'O''Brien'",
	  "select * from t1 where id = $1 and name = $2" },
	{ "SELECT pg_sleep(0.1)", "SELECT pg_sleep($1)" },
	/* strings */
	{ "SELECT 'sekret'", "SELECT $1" },
	{ "SELECT '', 'it''s', ''''", "SELECT $1, $2, $3" },
	{ "SELECT 'a\\', 2", "SELECT $1, $2" },	/* \ is plain in '' */
	{ "SELECT E'it\\'s sekret', 1", "SELECT $1, $2" },
	{ "SELECT e'\\\\', 'x'", "SELECT $1, $2" },
	{ "SELECT B'1010', x'1F', N'sekret'", "SELECT $1, $2, $3" },
	{ "SELECT U&'d\\0061t\\+000061'", "SELECT $1" },
	{ "SELECT U&\"d\\0061t\" FROM t", "SELECT U&\"d\\0061t\" FROM t" },
	{ "SELECT $$it's sekret$$", "SELECT $1" },
	{ "SELECT $fn$ a $$ b $$ 'c' $fn$, 2", "SELECT $1, $2" },
	{ "SELECT $a1$x$a1$||$_$y$_$", "SELECT $1||$2" },
	{ "SELECT interval '1 day', DATE '2020-01-01'",
	  "SELECT interval $1, DATE $2" },
	{ "SELECT x FROM t WHERE type='a' AND rate='b'",
	  "SELECT x FROM t WHERE type=$1 AND rate=$2" },
	{ "SELECT data->>'k' FROM t", "SELECT data->>$1 FROM t" },
	/* numbers */
	{ "SELECT 1, 1.5, .5, 1., 1e-3, 2.5E+10, 7e3",
	  "SELECT $1, $2, $3, $4, $5, $6, $7" },
	{ "SELECT 0x1F, 0X1f, 0o17, 0b101, 1_000_000",
	  "SELECT $1, $2, $3, $4, $5" },
	{ "SELECT a[1:2], f(3)", "SELECT a[$1:$2], f($3)" },
	/* As pg_stat_statements (PostgreSQL 15) prints them, each checked
	 * there: a sign the parser folds into the number is part of it */
	{ "SELECT - 5, -5, a-1, +2", "SELECT $1, $2, a-$3, +$4" },
	{ "UPDATE pgbench_accounts SET abalance = abalance + -1234 WHERE aid = 5",
	  "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2" },
	{ "SELECT a + -5, a + - 5, a - - 5 FROM t",
	  "SELECT a + $1, a + $2, a - $3 FROM t" },
	{ "SELECT a - 5, a -5, a-5 FROM t", "SELECT a - $1, a -$2, a-$3 FROM t" },
	{ "SELECT a -1, \"a\" -1, abs(a) -1, NULL -1 FROM t",
	  "SELECT a -$1, \"a\" -$2, abs(a) -$3, $4 -$5 FROM t" },
	{ "SELECT a*-5, a=-5, a>=-5, a<-5 FROM t",
	  "SELECT a*$1, a=$2, a>=$3, a<$4 FROM t" },
	{ "SELECT -5.5, -1e3, -.5, - /* c */ 5 FROM t",
	  "SELECT $1, $2, $3, $4 FROM t" },
	{ "SELECT -5::int, a + -5 :: int, 1 - -2, -5 ^ 2",
	  "SELECT -$1::int, a + -$2 :: int, $3 - $4, $5 ^ $6" },
	{ "SELECT CASE WHEN a > 0 THEN -1 ELSE -2 END, a - (-5) FROM t",
	  "SELECT CASE WHEN a > $1 THEN $2 ELSE $3 END, a - ($4) FROM t" },
	{ "SELECT a FROM t WHERE a BETWEEN -5 AND -1 OR a IN (-1, -2)",
	  "SELECT a FROM t WHERE a BETWEEN $1 AND $2 OR a IN ($3, $4)" },
	{ "SELECT ARRAY[-1, -2], abs(-5), (ARRAY[1,2,3])[1:-2]",
	  "SELECT ARRAY[$1, $2], abs($3), (ARRAY[$4,$5,$6])[$7:$8]" },
	{ "SELECT -interval '1 day', -$1, -a; SELECT -1",
	  "SELECT -interval $2, -$1, -a; SELECT $3" },
	/* an integer alone in GROUP BY, ORDER BY, DISTINCT ON is a position */
	{ "SELECT a, b, count(*) FROM t GROUP BY 1, 2 ORDER BY 1",
	  "SELECT a, b, count(*) FROM t GROUP BY 1, 2 ORDER BY 1" },
	{ "SELECT a, b FROM t WHERE a = 5 ORDER BY 2 DESC, 1 NULLS FIRST",
	  "SELECT a, b FROM t WHERE a = $1 ORDER BY 2 DESC, 1 NULLS FIRST" },
	{ "SELECT a FROM t ORDER BY 1 LIMIT 5 OFFSET 2",
	  "SELECT a FROM t ORDER BY 1 LIMIT $1 OFFSET $2" },
	{ "SELECT a FROM t ORDER BY abs(1), (a + 1), 1",
	  "SELECT a FROM t ORDER BY abs($1), (a + $2), 1" },
	{ "SELECT a FROM t GROUP BY a, 1 + 0", "SELECT a FROM t GROUP BY a, $1 + $2" },
	{ "SELECT a, sum(b) OVER (ORDER BY 1), array_agg(a ORDER BY 1) FROM t",
	  "SELECT a, sum(b) OVER (ORDER BY $1), array_agg(a ORDER BY $2) FROM t" },
	{ "SELECT DISTINCT ON (1) a FROM t GROUP BY (1)",
	  "SELECT DISTINCT ON (1) a FROM t GROUP BY (1)" },
	{ "SELECT a FROM t GROUP BY ROLLUP (1, 2), GROUPING SETS ((1), (2))",
	  "SELECT a FROM t GROUP BY ROLLUP (1, 2), GROUPING SETS ((1), (2))" },
	{ "SELECT (SELECT a FROM t ORDER BY 1 LIMIT 1), a IN (SELECT b FROM t "
	  "GROUP BY 1)", "SELECT (SELECT a FROM t ORDER BY 1 LIMIT $1), a IN "
	  "(SELECT b FROM t GROUP BY 1)" },
	{ "SELECT a FROM t WHERE a = 1 UNION ALL SELECT 2 ORDER BY 1 DESC",
	  "SELECT a FROM t WHERE a = $1 UNION ALL SELECT $2 ORDER BY 1 DESC" },
	{ "VALUES (1, 2), (3, 4) ORDER BY 2", "VALUES ($1, $2), ($3, $4) ORDER BY 2" },
	{ "SELECT a FROM t ORDER BY a USING <, 1", "SELECT a FROM t ORDER BY a USING <, 1" },
	/* a type's modifiers are no constants */
	{ "SELECT CAST(a AS numeric(10, 2)), a::numeric(10,2), c::varchar(5) FROM t",
	  "SELECT CAST(a AS numeric(10, 2)), a::numeric(10,2), c::varchar(5) FROM t" },
	{ "SELECT '1'::character varying(4), 1::pg_catalog.numeric(5), "
	  "'2020-01-01'::timestamp(3)", "SELECT $1::character varying(4), "
	  "$2::pg_catalog.numeric(5), $3::timestamp(3)" },
	{ "SELECT abs(1) AS x, abs(2) FROM t AS x",
	  "SELECT abs($1) AS x, abs($2) FROM t AS x" },
	{ "WITH w AS MATERIALIZED (SELECT 1 AS x) SELECT x FROM w",
	  "WITH w AS MATERIALIZED (SELECT $1 AS x) SELECT x FROM w" },
	/* TRUE, FALSE, NULL are constants, but not in IS tests */
	{ "SELECT true, FALSE, Null, NULL::int FROM t LIMIT NULL",
	  "SELECT $1, $2, $3, $4::int FROM t LIMIT $5" },
	{ "SELECT a FROM t WHERE c IS NULL AND d IS NOT NULL AND e IS DISTINCT "
	  "FROM NULL", "SELECT a FROM t WHERE c IS NULL AND d IS NOT NULL AND e "
	  "IS DISTINCT FROM NULL" },
	{ "SELECT a FROM t WHERE (a > 1) IS TRUE AND (a > 2) IS NOT FALSE AND "
	  "NOT TRUE AND b NOTNULL", "SELECT a FROM t WHERE (a > $1) IS TRUE AND "
	  "(a > $2) IS NOT FALSE AND NOT $3 AND b NOTNULL" },
	{ "INSERT INTO t VALUES (NULL, DEFAULT, 'x', now())",
	  "INSERT INTO t VALUES ($1, DEFAULT, $2, now())" },
	{ "SELECT * FROM unnest(current_schemas(true)) WITH ORDINALITY AS o(n, i)",
	  "SELECT * FROM unnest(current_schemas($1)) WITH ORDINALITY AS o(n, i)" },
	/* identifiers keep their digits and case */
	{ "SELECT t1.col_2, \"a1\", x1y2, a$1, _9 FROM t1",
	  "SELECT t1.col_2, \"a1\", x1y2, a$1, _9 FROM t1" },
	{ "SeLeCt Foo FROM Bar WHERE x = 1",
	  "SeLeCt Foo FROM Bar WHERE x = $1" },
	{ "SELECT \"we\"\"ird 42 'x'\" FROM \"T\"",
	  "SELECT \"we\"\"ird 42 'x'\" FROM \"T\"" },
	/* numbering continues after the highest existing $N */
	{ "SELECT * FROM t WHERE a = $1 AND b = 5",
	  "SELECT * FROM t WHERE a = $1 AND b = $2" },
	{ "SELECT 7 WHERE a = $3 AND b = $1", "SELECT $4 WHERE a = $3 AND b = $1" },
	{ "SELECT '$9', 3 -- $8\n", "SELECT $1, $2" },
	{ "SELECT $1, 2 WHERE x = $99999999999999999999",
	  "SELECT $1, $1000000000 WHERE x = $99999999999999999999" },
	/* casts, lists */
	{ "SELECT '5'::int, 3::bigint", "SELECT $1::int, $2::bigint" },
	{ "SELECT * FROM t WHERE id IN (1, 2, 3)",
	  "SELECT * FROM t WHERE id IN ($1, $2, $3)" },
	/* comments, whitespace, semicolons */
	{ "SELECT 1 -- sekret 42\n+ 2", "SELECT $1 + $2" },
	{ "SELECT /* a /* nested 'x' */ sekret */ 1", "SELECT $1" },
	{ "SELECT a/**/FROM t", "SELECT a FROM t" },
	{ "  SELECT\n\t a ,\r\n  b   FROM t  \n", "SELECT a , b FROM t" },
	{ "SELECT 1;", "SELECT $1" },
	{ "SELECT 1 ; -- done\n", "SELECT $1" },
	{ "BEGIN; SELECT 1;", "BEGIN; SELECT $1" },
	{ "SELECT ';'", "SELECT $1" },
	{ "", "" },
	{ " \n\t-- only a comment", "" },
	{ ";", "" },
	/* cut mid-token: the literal runs to the end and stays hidden */
	{ "SELECT 'unterminated sekret", "SELECT $1" },
	{ "SELECT 'O''Br", "SELECT $1" },
	{ "SELECT E'sekret\\", "SELECT $1" },
	{ "SELECT $tag$ sekret", "SELECT $1" },
	{ "SELECT $$", "SELECT $1" },
	{ "SELECT 1 /* open /* sekret */", "SELECT $1" },
	{ "SELECT 1 -- sekret", "SELECT $1" },
	{ "SELECT \"abc", "SELECT \"abc" },
	{ "SELECT 1.", "SELECT $1" },
	{ "SELECT U&'sek", "SELECT $1" },
	{ "SELECT $", "SELECT $" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define CANARY 0x5a
#define SLACK 16

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool canary_intact(const char *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (buf[i] != (char)CANARY)
			return false;
	return true;
}

/* Normalizes an exact-size heap copy of in[0, n) into a canaried buffer. */
static size_t normalize_n(const char *in, size_t n, char *out, size_t out_len,
			  bool *ok)
{
	char *copy = malloc(n + 1), *buf = malloc(out_len + SLACK);
	size_t ret;

	memcpy(copy, in, n);
	copy[n] = '\0';
	memset(buf, CANARY, out_len + SLACK);
	ret = hl_sql_normalize(copy, buf, out_len);
	*ok = canary_intact(buf, out_len, out_len + SLACK) &&
	      (out_len ? ret < out_len && strlen(buf) == ret : ret == 0 &&
	       canary_intact(buf, 0, SLACK));
	if (out_len)
		memcpy(out, buf, ret + 1);
	free(copy);
	free(buf);
	return ret;
}

static void test_cases(void)
{
	char out[256], name[48];
	bool ok;

	for (size_t i = 0; i < NCASES; i++) {
		size_t ret = normalize_n(cases[i].in, strlen(cases[i].in), out,
					 sizeof(out), &ok);

		/* One line per check: the input's control bytes as '.' */
		snprintf(name, sizeof(name), "%s", cases[i].in);
		for (char *c = name; *c; c++)
			if ((unsigned char)*c < ' ')
				*c = '.';
		if (!tap_check(ok && ret == strlen(cases[i].want) &&
			       !strcmp(out, cases[i].want), "\"%s\" -> \"%s\"",
			       name, cases[i].want))
			tap_diag("got \"%s\"", out);
	}
}

static void test_same_key(void)
{
	char a[64], b[64];

	hl_sql_normalize("SELECT pg_sleep(0.1)", a, sizeof(a));
	hl_sql_normalize("SELECT  pg_sleep(0.001);", b, sizeof(b));
	tap_check(!strcmp(a, b) && !strcmp(a, "SELECT pg_sleep($1)"),
		  "pg_sleep(0.1) and pg_sleep(0.001) give one key");
}

/*
 * Every prefix of every case: in bounds, and no literal byte shows (the
 * cases keep "sekret" only in literals and comments).
 */
static void test_prefixes(void)
{
	size_t bad = 0, leaks = 0, total = 0;
	char out[256];
	bool ok;

	for (size_t i = 0; i < NCASES; i++) {
		for (size_t n = 0; n <= strlen(cases[i].in); n++, total++) {
			normalize_n(cases[i].in, n, out, sizeof(out), &ok);
			bad += !ok;
			if (strstr(out, "sek") || strstr(out, "Br")) {
				if (!leaks++)
					tap_diag("leak: \"%.*s\" -> \"%s\"",
						 (int)n, cases[i].in, out);
			}
		}
	}
	tap_check(!bad, "%zu truncated inputs stay in bounds", total);
	tap_check(!leaks, "truncated inputs leak no literal");
}

/*
 * Every out_len from 0 up: never past out_len, and the result is a prefix
 * of the full one cut between tokens (so never a partial "$1" of "$12").
 */
static void test_small_out(void)
{
	size_t bad = 0, total = 0;
	char full[256], out[256];
	bool ok;

	for (size_t i = 0; i < NCASES; i++) {
		size_t len = strlen(cases[i].in);
		size_t flen = normalize_n(cases[i].in, len, full, sizeof(full),
					  &ok);

		for (size_t cap = 0; cap <= flen + 1; cap++, total++) {
			size_t ret = normalize_n(cases[i].in, len, out, cap, &ok);

			if (!ok || (cap && strncmp(out, full, ret)) ||
			    (cap > flen && ret != flen) ||
			    (ret && ret < flen && is_digit(full[ret]) &&
			     (is_digit(out[ret - 1]) || out[ret - 1] == '$'))) {
				if (!bad++)
					tap_diag("case %zu out_len %zu: \"%s\"",
						 i, cap, cap ? out : "");
			}
		}
	}
	tap_check(!bad, "%zu small out buffers: bounded, cut between tokens",
		  total);
}

/* A fixed out buffer inside a struct: the bytes right after are the canary. */
static void test_canary(void)
{
	struct {
		char out[12];
		char canary[8];
	} s;
	size_t ret;

	memset(&s, CANARY, sizeof(s));
	ret = hl_sql_normalize("SELECT * FROM accounts WHERE pw = 'sekret'",
			       s.out, sizeof(s.out));
	tap_check(ret == 8 && !strcmp(s.out, "SELECT *") &&
		  canary_intact(s.canary, 0, sizeof(s.canary)),
		  "out buffer too small: \"%s\", canary intact", s.out);
	memset(&s, CANARY, sizeof(s));
	ret = hl_sql_normalize("SELECT 1", s.out, 0);
	tap_check(ret == 0 && canary_intact(s.out, 0, 1),
		  "out_len 0 writes nothing");
	ret = hl_sql_normalize(NULL, s.out, sizeof(s.out));
	tap_check(ret == 0 && !s.out[0], "NULL input gives \"\"");
}

/* Random SQL-ish bytes, cut anywhere: no crash, bounded, NUL-terminated. */
static void test_random(void)
{
	static const char alpha[] = "'\"$$$eEuUbBxX&\\-/*;. \n1a0_:";
	size_t bad = 0;
	char in[64], out[256];
	bool ok;

	for (int r = 0; r < 20000; r++) {
		size_t n = tap_rand() % sizeof(in);

		for (size_t i = 0; i < n; i++)
			in[i] = alpha[tap_rand() % (sizeof(alpha) - 1)];
		normalize_n(in, n, out, 1 + tap_rand() % sizeof(out), &ok);
		bad += !ok;
	}
	tap_check(!bad, "20000 random inputs stay in bounds");
}

int main(void)
{
	test_cases();
	test_same_key();
	test_prefixes();
	test_small_out();
	test_canary();
	test_random();
	return tap_done();
}
