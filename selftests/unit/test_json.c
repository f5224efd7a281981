// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * JSON output helpers (tools/lib/json.c). Every string hl_json_str writes
 * must be a valid JSON string literal in valid UTF-8 (RFC 8259, RFC 3629),
 * whatever bytes it is given: a command name is any 15 bytes a process
 * chose. Checked with exact expected strings, and by parsing the output
 * back with the strict decoder below, on fixed and on random inputs.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "tap.h"

/* ---- a strict decoder, the "JSON parser" the output must satisfy ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static int strict_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;	/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;	/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;	/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;	/* above U+10FFFF */
	if ((size_t)len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static bool valid_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int len;

	while (i < n) {
		if (!(len = strict_utf8_len(s + i, n - i)))
			return false;
		i += len;
	}
	return true;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/*
 * Decode the JSON string literal in (in, n) -- quotes included, nothing
 * after -- into out (NUL-terminated). Returns NULL or what is wrong.
 */
static const char *json_decode(const char *in, size_t n, char *out)
{
	size_t i = 1, o = 0;
	unsigned cp, lo;
	int len;

	if (n < 2 || in[0] != '"' || in[n - 1] != '"')
		return "not enclosed in quotes";
	if (!valid_utf8(in, n))
		return "not valid UTF-8";
	while (i < n - 1) {
		unsigned char c = in[i];

		if (c < 0x20)
			return "raw control character";
		if (c == '"')
			return "unescaped quote inside";
		if (c != '\\') {
			len = strict_utf8_len((const unsigned char *)in + i,
					      n - 1 - i);
			memcpy(out + o, in + i, len);
			o += len;
			i += len;
			continue;
		}
		if (i + 1 >= n - 1)
			return "backslash at the end";
		c = in[i + 1];
		i += 2;
		switch (c) {
		case '"': case '\\': case '/': out[o++] = c; continue;
		case 'b': out[o++] = '\b'; continue;
		case 'f': out[o++] = '\f'; continue;
		case 'n': out[o++] = '\n'; continue;
		case 'r': out[o++] = '\r'; continue;
		case 't': out[o++] = '\t'; continue;
		case 'u': break;
		default: return "unknown escape";
		}
		if (i + 4 > n - 1 || hex4(in + i, &cp))
			return "bad \\u escape";
		i += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return "lone low surrogate";
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 6 > n - 1 || in[i] != '\\' || in[i + 1] != 'u' ||
			    hex4(in + i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return "lone high surrogate";
			i += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (!cp)
			return "\\u0000 cannot come from a C string";
		o += put_utf8(out + o, cp);
	}
	out[o] = '\0';
	return NULL;
}

/* ---- capturing the output ---- */

static char *capture_str(const char *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	hl_json_str(f, s);
	fclose(f);
	return buf;
}

/* C-escaped copy of s for messages. */
static const char *show(const char *s)
{
	static char buf[4][512];
	static int n;
	char *b = buf[n++ % 4];
	size_t o = 0;

	for (; *s && o < sizeof(buf[0]) - 5; s++) {
		unsigned char c = *s;

		o += snprintf(b + o, sizeof(buf[0]) - o,
			      c < 0x20 || c >= 0x7f ? "\\x%02x" : "%c", c);
	}
	b[o] = '\0';
	return b;
}

/* ---- tests ---- */

static const struct {
	const char *in, *out;
} exact[] = {
	{ "", "\"\"" },
	{ "schedlat", "\"schedlat\"" },
	{ "a\"b", "\"a\\\"b\"" },
	{ "a\\b", "\"a\\\\b\"" },
	{ "\"\\\"", "\"\\\"\\\\\\\"\"" },
	{ "/slash", "\"/slash\"" },
	{ "\n\t\r\b\f", "\"\\u000a\\u0009\\u000d\\u0008\\u000c\"" },
	{ "\x01\x1f", "\"\\u0001\\u001f\"" },
	{ "del\x7f", "\"del\x7f\"" },
	/* valid UTF-8 passes through untouched */
	{ "\xc2\xb5s", "\"\xc2\xb5s\"" },				/* µs */
	{ "\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\"" },
	{ "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" },			/* U+1F600 */
	{ "\xef\xbf\xbf", "\"\xef\xbf\xbf\"" },				/* U+FFFF */
	{ "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" },			/* U+10FFFF */
	/* every byte not part of a valid sequence becomes U+FFFD */
	{ "\x80", "\"\\ufffd\"" },
	{ "a\xff" "b", "\"a\\ufffdb\"" },
	{ "\xc3", "\"\\ufffd\"" },				/* truncated */
	{ "\xc3(", "\"\\ufffd(\"" },
	{ "\xe2\x82", "\"\\ufffd\\ufffd\"" },
	{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },			/* overlong '/' */
	{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },	/* overlong '/' */
	{ "\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* U+D800 */
	{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* >10FFFF */
	{ "\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
};

static void test_exact(void)
{
	char dec[512];

	for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++) {
		size_t len;
		char *out = capture_str(exact[i].in, &len);
		const char *err = json_decode(out, len, dec);

		tap_check(!strcmp(out, exact[i].out) && !err,
			  "hl_json_str(\"%s\") == %s (got %s%s%s)",
			  show(exact[i].in), show(exact[i].out), show(out),
			  err ? ": " : "", err ? err : "");
		free(out);
	}
}

/* Random byte strings, biased towards the interesting bytes: the output
 * always parses, and valid UTF-8 input comes back unchanged. */
static void test_fuzz(void)
{
	static const unsigned char pool[] = {
		'a', 'Z', ' ', '"', '\\', '/', 0x01, 0x1f, 0x7f, 0x80, 0x8f,
		0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed,
		0xef, 0xf0, 0xf4, 0xf5, 0xff,
	};
	int invalid_out = 0, changed = 0, valid_in = 0, shown = 0;
	char in[32], dec[512];

	for (int i = 0; i < 200000; i++) {
		int n = 1 + tap_rand() % 24;
		const char *err;
		size_t len;
		char *out;

		for (int j = 0; j < n; j++) {
			uint64_t r = tap_rand();

			in[j] = r & 1 ? pool[(r >> 1) % sizeof(pool)] :
				1 + (r >> 1) % 255;
		}
		in[n] = '\0';
		out = capture_str(in, &len);
		err = json_decode(out, len, dec);
		if (err) {
			invalid_out++;
			if (shown++ < 3)
				tap_diag("input \"%s\": output %s: %s",
					 show(in), show(out), err);
		} else if (valid_utf8(in, n)) {
			valid_in++;
			if (strcmp(dec, in)) {
				changed++;
				if (shown++ < 3)
					tap_diag("valid input \"%s\" came back "
						 "as \"%s\"", show(in),
						 show(dec));
			}
		}
		free(out);
	}
	tap_check(!invalid_out, "200000 random byte strings: output is always a "
		  "valid JSON string (%d invalid)", invalid_out);
	tap_check(!changed, "valid UTF-8 among them round-trips unchanged "
		  "(%d of %d changed)", changed, valid_in);
}

static char *capture_time(uint64_t ns)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	hl_json_time(f, ns);
	fclose(f);
	return buf;
}

static void test_time(void)
{
	static const struct {
		uint64_t ns;
		const char *out;
	} cases[] = {
		{ 0, "\"1970-01-01T00:00:00.000000000Z\"" },
		{ 1, "\"1970-01-01T00:00:00.000000001Z\"" },
		{ 951782400999999999ULL, "\"2000-02-29T00:00:00.999999999Z\"" },
		{ 1795676328123456789ULL, "\"2026-11-26T06:58:48.123456789Z\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *out = capture_time(cases[i].ns);

		tap_check(!strcmp(out, cases[i].out), "hl_json_time(%llu) == %s "
			  "(got %s)", (unsigned long long)cases[i].ns,
			  cases[i].out, out);
		free(out);
	}
}

static void test_begin(void)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	hl_json_begin(f, "hist", "sched\"lat");
	fputc('}', f);
	fclose(f);
	tap_check(!strcmp(buf, "{\"type\":\"hist\",\"tool\":\"sched\\\"lat\"}"),
		  "hl_json_begin opens the object with type and tool (got %s)",
		  buf);
	free(buf);
}

int main(void)
{
	test_exact();
	test_fuzz();
	test_time();
	test_begin();
	tap_diag("%d exact strings, 200000 random inputs parsed back",
		 (int)(sizeof(exact) / sizeof(*exact)));
	return tap_done();
}
