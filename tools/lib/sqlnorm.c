// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Just enough of a PostgreSQL lexer to tell literal values from the rest:
 * every token is copied verbatim except literals, which become $N, and
 * whitespace and comments, which become one space. IN ($1, $2) lists are
 * left alone, so lists of different lengths stay distinct statements.
 * Character tests are by hand: <ctype.h> follows the locale, SQL does not.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "sqlnorm.h"

enum tok { T_SPACE, T_LIT, T_PARAM, T_SEMI, T_TEXT };

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

/* A token and the space before it fit whole or not at all. */
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

size_t hl_sql_normalize(const char *in, char *out, size_t out_len)
{
	struct out o = { .s = out, .cap = out_len };
	unsigned long next = 0, v;
	size_t n, i, semi_at = 0;
	bool semi_last = false;
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
	for (p = in; *p && !o.full; p += n) {
		t = next_tok(p, &n);
		if (t == T_SPACE) {
			o.space = true;
			continue;
		}
		semi_last = t == T_SEMI;
		if (semi_last)
			semi_at = o.len;
		if (t == T_LIT)
			emit(&o, ph, placeholder(ph, sizeof(ph), ++next));
		else
			emit(&o, p, n);
	}
	if (semi_last)
		o.len = semi_at;
	out[o.len] = '\0';
	return o.len;
}
