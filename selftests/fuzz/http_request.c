// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the exporter's request parser and Accept negotiation
 * (tools/lib/httpd.c) on whatever a client may send. Each input is parsed
 * as the server does it, request after pipelined request, and also given
 * whole to the negotiation as an Accept value. A verdict must not depend
 * on bytes after the request it took. Built with -fsanitize=fuzzer,address
 * together with httpd.c (see the Makefile); selftests/tests/test_fuzz.py
 * runs it over http-corpus/ and for a while.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "httpd.h"

/* Where the verdicts go, so that no parse can be optimised away. */
static volatile size_t sink;

static int known_status(int status)
{
	return status == 200 || status == 400 || status == 404 ||
	       status == 405 || status == 431 || status == 505;
}

/* One request at buf: checked against the parser's promises. */
static size_t parse_one(const char *buf, size_t len)
{
	struct hl_http_request req, again;
	size_t n = hl_http_parse(buf, len, &req);

	if (!n) {
		/* "more bytes needed" only below the limit */
		if (len >= HL_HTTP_MAX_REQUEST)
			abort();
		return 0;
	}
	if (n > len || n > HL_HTTP_MAX_REQUEST || !known_status(req.status) ||
	    (req.head & ~1) || (req.keep_alive & ~1) ||
	    (req.format != HL_EXPO_PROMETHEUS &&
	     req.format != HL_EXPO_OPENMETRICS))
		abort();
	/* what follows the request is not part of it */
	if (hl_http_parse(buf, n, &again) != n || again.status != req.status ||
	    again.head != req.head || again.keep_alive != req.keep_alive ||
	    again.format != req.format)
		abort();
	sink += req.status + req.format;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: ASan then sees any read past it */
	char *buf = malloc(size ? size : 1);
	size_t off = 0, n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (off < size && (n = parse_one(buf + off, size - off)))
		off += n;
	sink += hl_http_negotiate(buf, size);
	free(buf);
	return 0;
}
