// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Just enough of a PostgreSQL lexer to tell literal values from the rest:
 * every token is copied verbatim except literals, which become $N, and
 * whitespace and comments, which become one space. IN ($1, $2) lists are
 * left alone, so lists of different lengths stay distinct statements.
 * Character tests are by hand: <ctype.h> follows the locale, SQL does not.
 *
 * The text is to read as pg_stat_statements' (PostgreSQL 15) does, which
 * replaces the constants the parser made, not the tokens that look like
 * one. Hence the little context kept beside the lexer: the parser folds a
 * sign into the number after it, positions in GROUP BY and ORDER BY and a
 * type's modifiers are no constants, TRUE, FALSE and NULL are (except
 * where IS and NOT make them part of a test).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "sqlnorm.h"

enum tok { T_SPACE, T_LIT, T_PARAM, T_SEMI, T_TEXT, T_END };

struct out {
	char *s;
	size_t len, cap;
	bool space;	/* whitespace seen since the last token */
	bool full;	/* a token did not fit: stop */
};

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Bytes >= 0x80 are letters to PostgreSQL, whatever the encoding. */
static bool ident_start(unsigned char c)
{
	return (is_alnum(c) && !is_digit(c)) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || is_digit(c) || c == '$';
}

/*
 * Length of the quoted text at p (p[0] is the quote), closing quote
 * included. A doubled quote is an escaped one, and with backslash (E'')
 * so is \x. Text cut mid-literal ends at its NUL.
 */
static size_t quoted(const char *p, bool backslash)
{
	size_t i = 1;

	while (p[i]) {
		if (backslash && p[i] == '\\' && p[i + 1])
			i += 2;
		else if (p[i] != p[0])
			i++;
		else if (p[i + 1] == p[0])
			i += 2;
		else
			return i + 1;
	}
	return i;
}

/* Length of the $tag$...$tag$ at p, or 0 if p does not open one. */
static size_t dollar_quoted(const char *p)
{
	size_t t = 1, i;

	if (ident_start(p[1]))
		while (ident_start(p[t]) || is_digit(p[t]))
			t++;
	if (p[t++] != '$')
		return 0;
	for (i = t; p[i]; i++)
		if (p[i] == '$' && !strncmp(p + i, p, t))
			return i + t;
	return i;
}

/* 0x1F, 0o17, 0b101, 1_000, 1.5, .5, 1., 1e-3; "1..5" is 1 then "..5". */
static size_t number(const char *p)
{
	size_t i = 0, e;

	if (p[0] == '0' && p[1] && strchr("xXoObB", p[1]) && is_alnum(p[2])) {
		i = 2;
		while (is_alnum(p[i]) || p[i] == '_')
			i++;
		return i;
	}
	while (is_digit(p[i]) || p[i] == '_')
		i++;
	if (p[i] == '.' && p[i + 1] != '.') {
		i++;
		while (is_digit(p[i]) || p[i] == '_')
			i++;
	}
	if ((p[i] | 0x20) == 'e') {
		e = p[i + 1] == '+' || p[i + 1] == '-' ? 2 : 1;
		if (is_digit(p[i + e])) {
			i += e;
			while (is_digit(p[i]))
				i++;
		}
	}
	return i;
}

/* The kind and length (at least 1) of the token at p, p[0] not NUL. */
static enum tok next_tok(const char *p, size_t *len)
{
	unsigned char c = p[0];
	size_t i = 1;
	int depth = 1;

	*len = 1;
	if (c == ' ' || (c >= '\t' && c <= '\r')) {	/* the hot path */
		return T_SPACE;
	} else if (c == '-' && p[1] == '-') {
		*len = strcspn(p, "\n");
		return T_SPACE;
	} else if (c == '/' && p[1] == '*') {
		for (i = 2; p[i] && depth; i++) {
			if (p[i] == '/' && p[i + 1] == '*')
				depth++;
			else if (p[i] == '*' && p[i + 1] == '/')
				depth--;
			else
				continue;
			i++;
		}
		*len = i;
		return T_SPACE;
	} else if (c == '\'' || c == '"') {
		*len = quoted(p, false);
		return c == '"' ? T_TEXT : T_LIT;
	} else if (c == '$') {
		while (is_digit(p[i]))
			i++;
		*len = i;
		if (i > 1)
			return T_PARAM;
		*len = dollar_quoted(p);
		if (*len)
			return T_LIT;
		*len = 1;
	} else if (c == ':' && p[1] == ':') {	/* a cast, as the parser sees it */
		*len = 2;
	} else if (is_digit(c) || (c == '.' && is_digit(p[1]))) {
		*len = number(p);
		return T_LIT;
	} else if (ident_start(c)) {
		while (ident_char(p[i]))
			i++;
		/* A prefix must be the whole word: type'x' is no B'' string. */
		if (i == 1 && p[1] == '\'' && strchr("eEbBxXnN", c)) {
			*len = 1 + quoted(p + 1, (c | 0x20) == 'e');
			return T_LIT;
		}
		if (i == 1 && (c | 0x20) == 'u' && p[1] == '&' && p[2] == '\'') {
			*len = 2 + quoted(p + 2, false);
			return T_LIT;
		}
		*len = i;
	}
	return c == ';' ? T_SEMI : T_TEXT;
}

/* "$N" into buf (at least 22 bytes); its length. snprintf showed up in
 * profiles: --top normalizes every statement. */
static size_t placeholder(char *buf, size_t len, unsigned long n)
{
	char digits[20];
	size_t k = 0, i = 0;

	do
		digits[k++] = '0' + n % 10;
	while ((n /= 10) && k < sizeof(digits));
	buf[i++] = '$';
	while (k && i < len - 1)
		buf[i++] = digits[--k];
	buf[i] = '\0';
	return i;
}

/* A token and the space before it fit whole or not at all. */
static void emit(struct out *o, const char *s, size_t n)
{
	size_t sp = o->space && o->len;

	o->space = false;
	if (o->len + sp + n >= o->cap) {
		o->full = true;
		return;
	}
	if (sp)
		o->s[o->len] = ' ';
	memcpy(o->s + o->len + sp, s, n);
	o->len += sp + n;
}

/* ---- the parser's view, as far as constants need it ---- */

/* What a keyword does here (a word may do several things). */
enum {
	K_SIGN = 1,		/* an expression may follow: '-' is a sign */
	K_QUERY = 2,		/* its parentheses hold a query */
	K_LIST_END = 4,		/* ends a GROUP BY/ORDER BY list */
	K_ITEM_END = 8,		/* may follow a position in such a list */
	K_GROUPING = 16,	/* ROLLUP (1, 2): positions inside too */
};

enum kw {
	KW_NONE, KW_OTHER, KW_BY, KW_GROUP, KW_ORDER, KW_DISTINCT, KW_ON,
	KW_AS, KW_IS, KW_NOT, KW_FROM, KW_TRUE, KW_FALSE, KW_NULL,
	KW_MATERIALIZED, KW_VARYING,
};

static const struct keyword {
	const char *word;	/* lower case */
	enum kw id;
	unsigned roles;
} keywords[] = {
	{ "all", KW_OTHER, K_SIGN },
	{ "and", KW_OTHER, K_SIGN },
	{ "as", KW_AS, 0 },
	{ "asc", KW_OTHER, K_ITEM_END },
	{ "between", KW_OTHER, K_SIGN },
	{ "by", KW_BY, 0 },
	{ "case", KW_OTHER, K_SIGN },
	{ "cube", KW_OTHER, K_GROUPING },
	{ "desc", KW_OTHER, K_ITEM_END },
	{ "distinct", KW_DISTINCT, K_SIGN },
	{ "else", KW_OTHER, K_SIGN },
	{ "escape", KW_OTHER, K_SIGN },
	{ "except", KW_OTHER, K_QUERY | K_LIST_END | K_ITEM_END },
	{ "false", KW_FALSE, 0 },
	{ "fetch", KW_OTHER, K_LIST_END | K_ITEM_END },
	{ "for", KW_OTHER, K_SIGN | K_LIST_END | K_ITEM_END },
	{ "from", KW_FROM, K_SIGN | K_LIST_END },
	{ "group", KW_GROUP, 0 },
	{ "having", KW_OTHER, K_SIGN | K_LIST_END | K_ITEM_END },
	{ "ilike", KW_OTHER, K_SIGN },
	{ "intersect", KW_OTHER, K_QUERY | K_LIST_END | K_ITEM_END },
	{ "into", KW_OTHER, K_LIST_END },
	{ "is", KW_IS, 0 },
	{ "like", KW_OTHER, K_SIGN },
	{ "limit", KW_OTHER, K_SIGN | K_LIST_END | K_ITEM_END },
	{ "materialized", KW_MATERIALIZED, 0 },
	{ "not", KW_NOT, K_SIGN },
	{ "null", KW_NULL, 0 },
	{ "nulls", KW_OTHER, K_ITEM_END },
	{ "offset", KW_OTHER, K_SIGN | K_LIST_END | K_ITEM_END },
	{ "on", KW_ON, K_SIGN | K_LIST_END },
	{ "or", KW_OTHER, K_SIGN },
	{ "order", KW_ORDER, K_ITEM_END },
	{ "returning", KW_OTHER, K_SIGN | K_LIST_END },
	{ "rollup", KW_OTHER, K_GROUPING },
	{ "select", KW_OTHER, K_SIGN | K_QUERY | K_LIST_END },
	{ "set", KW_OTHER, K_LIST_END },
	{ "sets", KW_OTHER, K_GROUPING },
	{ "symmetric", KW_OTHER, K_SIGN },
	{ "then", KW_OTHER, K_SIGN },
	{ "true", KW_TRUE, 0 },
	{ "union", KW_OTHER, K_QUERY | K_LIST_END | K_ITEM_END },
	{ "using", KW_OTHER, K_ITEM_END },
	{ "values", KW_OTHER, K_QUERY | K_LIST_END },
	{ "varying", KW_VARYING, 0 },
	{ "when", KW_OTHER, K_SIGN },
	{ "where", KW_OTHER, K_SIGN | K_LIST_END },
	{ "window", KW_OTHER, K_LIST_END | K_ITEM_END },
};

#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

/* The keyword a token is, case-insensitively; NULL for anything else. */
static const struct keyword *keyword(const char *p, size_t n, enum tok t)
{
	char low[13];

	if (t != T_TEXT || n >= sizeof(low) || !ident_start(p[0]))
		return NULL;
	for (size_t i = 0; i < n; i++)
		low[i] = p[i] | 0x20;	/* no keyword has a byte it would spoil */
	low[n] = '\0';
	for (size_t i = 0; i < NKEYWORDS; i++)
		if (keywords[i].word[0] == low[0] &&
		    !strcmp(keywords[i].word, low))
			return &keywords[i];
	return NULL;
}

/* A significant token, with what the parser would make of it. */
struct token {
	const char *p;
	size_t n;
	enum tok t;
	enum kw kw;
	unsigned roles;
};

static struct token classify(const char *p, size_t n, enum tok t)
{
	const struct keyword *w = keyword(p, n, t);
	struct token k = { .p = p, .n = n, .t = t };

	if (w) {
		k.kw = w->id;
		k.roles = w->roles;
	}
	return k;
}

/* The next significant token from p on (T_END at the end). */
static struct token token_at(const char *p)
{
	enum tok t = T_END;
	size_t n = 0;

	while (*p && (t = next_tok(p, &n)) == T_SPACE)
		p += n;
	if (!*p)
		return classify(p, 0, T_END);
	return classify(p, n, t);
}

static bool is_char(const struct token *k, char c)
{
	return k->t == T_TEXT && k->n == 1 && k->p[0] == c;
}

static bool is_number(const struct token *k)
{
	return k->t == T_LIT && (is_digit(k->p[0]) || k->p[0] == '.');
}

#define MAX_DEPTH 32	/* parentheses followed; deeper ones are plain */

struct ctx {
	unsigned depth;
	uint32_t query;		/* bit d: depth d holds a query */
	uint32_t by_list;	/* bit d: in a GROUP BY/ORDER BY/DISTINCT ON list */
	uint32_t typmod;	/* bit d: a type's modifiers, numeric(10, 2) */
	enum { CAST_NONE, CAST_WANT_TYPE, CAST_TYPE } cast; /* after :: or AS */
	struct token prev[2];	/* the last two significant tokens */
};

static bool bit(uint32_t set, unsigned d)
{
	return d < MAX_DEPTH && (set >> d & 1);
}

static void set_bit(uint32_t *set, unsigned d, bool on)
{
	if (d >= MAX_DEPTH)
		return;
	if (on)
		*set |= UINT32_C(1) << d;
	else
		*set &= ~(UINT32_C(1) << d);
}

/* Depth 0 is the statement itself: always a query, when it is one. */
static bool query_level(const struct ctx *c)
{
	return !c->depth || bit(c->query, c->depth);
}

/* Can an expression start after the previous token, so that '-' is a
 * sign? After an operator, an opening bracket, a comma or a keyword that
 * expects one; not after an operand, which is what a name is. */
static bool sign_expected(const struct ctx *c)
{
	const struct token *k = &c->prev[0];

	if (k->t == T_END || k->t == T_SEMI)
		return true;
	if (k->t != T_TEXT)
		return false;	/* a literal or $N: '-' subtracts */
	if (k->roles & K_SIGN)
		return true;
	return !is_alnum(k->p[0]) && k->p[0] != '_' && k->p[0] != '"' &&
	       (unsigned char)k->p[0] < 0x80 && k->p[0] != ')' &&
	       k->p[0] != ']';
}

/* The parser folds a sign into the number after it ("- 5" is the constant
 * -5), unless a cast binds the number first: -5::int is -(5::int). The
 * length of the sign and number together, or 0. */
static size_t signed_number(const struct ctx *c, const struct token *minus)
{
	struct token num, after;

	if (!is_char(minus, '-') || !sign_expected(c))
		return 0;
	num = token_at(minus->p + 1);
	if (!is_number(&num))
		return 0;
	after = token_at(num.p + num.n);
	if (after.t == T_TEXT && after.n == 2 && after.p[0] == ':')
		return 0;
	return num.p + num.n - minus->p;
}

/* An integer alone as an item of GROUP BY, ORDER BY or DISTINCT ON is a
 * position in the select list, which the parser resolves: no constant. */
static bool position(const struct ctx *c, const struct token *k)
{
	const struct token *prev = &c->prev[0];
	struct token next;

	if (!bit(c->by_list, c->depth) || k->t != T_LIT)
		return false;
	for (size_t i = 0; i < k->n; i++)
		if (!is_digit(k->p[i]))
			return false;
	if (prev->kw != KW_BY && !is_char(prev, ',') && !is_char(prev, '('))
		return false;
	next = token_at(k->p + k->n);
	return next.t == T_END || next.t == T_SEMI || is_char(&next, ',') ||
	       is_char(&next, ')') || (next.roles & K_ITEM_END);
}

/* TRUE, FALSE and NULL are constants, except in IS [NOT] TRUE, IS [NOT]
 * NULL, NOT NULL and IS [NOT] DISTINCT FROM NULL, which test for them. */
static bool bool_or_null(const struct ctx *c, const struct token *k)
{
	enum kw p0 = c->prev[0].kw, p1 = c->prev[1].kw;

	switch (k->kw) {
	case KW_TRUE:
	case KW_FALSE:
		return p0 != KW_IS && !(p0 == KW_NOT && p1 == KW_IS);
	case KW_NULL:
		return p0 != KW_IS && p0 != KW_NOT &&
		       !(p0 == KW_FROM && p1 == KW_DISTINCT);
	default:
		return false;
	}
}

/* "(" opens a level: a GROUP BY item in parentheses or ROLLUP (...) keeps
 * its positions, DISTINCT ON (...) is such a list, a type name's
 * parentheses hold its modifiers. */
static void open_paren(struct ctx *c)
{
	const struct token *prev = &c->prev[0];
	bool list, typmod = c->cast == CAST_TYPE;

	list = (bit(c->by_list, c->depth) &&
		(prev->kw == KW_BY || is_char(prev, ',') || is_char(prev, '(') ||
		 (prev->roles & K_GROUPING))) ||
	       (prev->kw == KW_ON && c->prev[1].kw == KW_DISTINCT);
	c->depth++;
	set_bit(&c->query, c->depth, false);
	set_bit(&c->by_list, c->depth, list);
	set_bit(&c->typmod, c->depth, typmod);
}

/* After "::" or AS comes a type name, maybe qualified or two words
 * (character varying); AS MATERIALIZED (...) is a WITH query. */
static void follow_cast(struct ctx *c, const struct token *k)
{
	bool word = k->t == T_TEXT && (ident_start(k->p[0]) || k->p[0] == '"');

	if (k->t == T_TEXT && k->n == 2 && k->p[0] == ':')
		c->cast = CAST_WANT_TYPE;
	else if (k->kw == KW_AS)
		c->cast = CAST_WANT_TYPE;
	else if (c->cast == CAST_WANT_TYPE && word &&
		 k->kw != KW_MATERIALIZED && k->kw != KW_NOT)
		c->cast = CAST_TYPE;
	else if (c->cast == CAST_TYPE && is_char(k, '.'))
		c->cast = CAST_WANT_TYPE;
	else if (!(c->cast == CAST_TYPE && k->kw == KW_VARYING))
		c->cast = CAST_NONE;
}

/* Keeps the context up to date with token k, copied or replaced. */
static void follow(struct ctx *c, const struct token *k)
{
	if (k->t == T_SEMI) {	/* the next statement starts afresh */
		memset(c, 0, sizeof(*c));
		c->prev[0] = *k;
		c->prev[1].t = T_END;
		return;
	}
	if (is_char(k, '('))
		open_paren(c);
	else if (is_char(k, ')') && c->depth)
		c->depth--;
	if (k->roles & K_QUERY)
		set_bit(&c->query, c->depth, true);
	if (k->roles & K_LIST_END)
		set_bit(&c->by_list, c->depth, false);
	if (k->kw == KW_BY && (c->prev[0].kw == KW_GROUP ||
			       c->prev[0].kw == KW_ORDER) && query_level(c))
		set_bit(&c->by_list, c->depth, true);
	if (!is_char(k, '('))
		follow_cast(c, k);
	else
		c->cast = CAST_NONE;
	c->prev[1] = c->prev[0];
	c->prev[0] = *k;
}

size_t hl_sql_normalize(const char *in, char *out, size_t out_len)
{
	struct out o = { .s = out, .cap = out_len };
	unsigned long next = 0, v;
	size_t n, i, semi_at = 0;
	bool semi_last = false, constant;
	struct ctx c = { 0 };
	struct token k;
	const char *p;
	char ph[24];
	enum tok t;

	if (!out_len)
		return 0;
	if (!in)
		in = "";
	/* New placeholders must not collide with $N further on, so look first. */
	for (p = in; *p; p += n) {
		if (next_tok(p, &n) != T_PARAM)
			continue;
		/* Saturate: a bogus $99999999999 must not wrap the numbering. */
		for (v = 0, i = 1; i < n; i++)
			if (v < 100000000)
				v = v * 10 + (p[i] - '0');
		if (v > next)
			next = v;
	}
	c.prev[0].t = c.prev[1].t = T_END;
	for (p = in; *p && !o.full; p += n) {
		t = next_tok(p, &n);
		if (t == T_SPACE) {
			o.space = true;
			continue;
		}
		k = classify(p, n, t);
		semi_last = t == T_SEMI;
		if (semi_last)
			semi_at = o.len;
		if (t == T_LIT) {
			constant = !position(&c, &k) &&
				   !(is_number(&k) && bit(c.typmod, c.depth));
		} else if ((i = signed_number(&c, &k))) {
			constant = true;
			n = i;		/* sign and number: one constant */
		} else {
			constant = bool_or_null(&c, &k);
		}
		if (constant) {
			emit(&o, ph, placeholder(ph, sizeof(ph), ++next));
			k.t = T_LIT;	/* an operand, whatever it was */
		} else {
			emit(&o, p, n);
		}
		follow(&c, &k);
	}
	if (semi_last)
		o.len = semi_at;
	out[o.len] = '\0';
	return o.len;
}
