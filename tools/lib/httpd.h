/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The smallest HTTP/1.1 server that Prometheus can scrape: GET (and HEAD)
 * of /metrics, nothing else. It runs in the tool's own thread, never
 * blocks, and bounds what a client can make it hold: request size, header
 * count, time to send a request and to take the answer, and the number
 * of connections. A client that breaks a rule is answered with an error
 * status where that is still possible and disconnected.
 */
#ifndef HOWLONG_HTTPD_H
#define HOWLONG_HTTPD_H

#include <stddef.h>
#include <stdint.h>

enum hl_expo_format {
	HL_EXPO_PROMETHEUS,	/* text/plain; version=0.0.4 */
	HL_EXPO_OPENMETRICS,	/* application/openmetrics-text; version=1.0.0 */
};

/*
 * The body of one answer to GET /metrics, in the negotiated format: a
 * malloc'ed buffer the server frees. Returns 0, or -errno (answered with
 * 500).
 */
typedef int (*hl_httpd_body_fn)(enum hl_expo_format fmt, char **body,
				size_t *len, void *ctx);

struct hl_httpd;

/* Connections open at once: a 17th evicts the oldest one still reading. */
#define HL_HTTPD_MAX_CONNS 16

/*
 * How long a client may take to send a whole request (from connecting, or
 * from the end of the previous answer) and to take an answer: 10 s. A
 * variable only so that tests can wait less; read when a wait starts.
 */
extern uint64_t hl_httpd_timeout_ns;

/*
 * Listens on "[ADDR:]PORT": ADDR an IPv4 address or a bracketed IPv6 one
 * ("[::1]:9100"), default 127.0.0.1. NULL with a one-line reason in err.
 */
struct hl_httpd *hl_httpd_open(const char *listen, hl_httpd_body_fn body,
			       void *ctx, char *err, size_t errlen);
/* "http://127.0.0.1:9100/metrics": for the start-up message. */
const char *hl_httpd_url(const struct hl_httpd *s);
/* One file descriptor (an epoll set of the server's own) that is readable
 * whenever hl_httpd_serve() has work. */
int hl_httpd_fd(const struct hl_httpd *s);
/* Does all work that is ready, without blocking; now_ns: hl_now_ns(). */
void hl_httpd_serve(struct hl_httpd *s, uint64_t now_ns);
/* When hl_httpd_serve() must run next for a timeout (hl_now_ns() clock);
 * 0 when no timeout is pending. */
uint64_t hl_httpd_deadline(const struct hl_httpd *s);
void hl_httpd_close(struct hl_httpd *s);

/* The request parser, apart so that it can be fuzzed. */
#define HL_HTTP_MAX_REQUEST 8192	/* request line and headers */
#define HL_HTTP_MAX_HEADERS 64

struct hl_http_request {
	int head;		/* HEAD: headers only */
	int keep_alive;		/* HTTP/1.1 without "Connection: close" */
	int status;		/* 200, or the error to answer with */
	enum hl_expo_format format;	/* from Accept */
};

/*
 * Parses one request at the start of buf. Returns the bytes it took (> 0)
 * with *req filled (req->status 200 for GET/HEAD /metrics, 404 for another
 * path, 405 for another method, 400 for a malformed request, 431 for too
 * many or too long headers, 505 for a version other than HTTP/1.x); 0
 * when more bytes are needed and len < HL_HTTP_MAX_REQUEST. A request with
 * a body (Content-Length > 0 or Transfer-Encoding) is answered 400: scrapes
 * have none.
 */
size_t hl_http_parse(const char *buf, size_t len, struct hl_http_request *req);

/* The format an Accept header's value asks for: OpenMetrics 1.0.0 when it
 * is acceptable with a q at least that of text/plain, else 0.0.4. */
enum hl_expo_format hl_http_negotiate(const char *accept, size_t len);

#endif /* HOWLONG_HTTPD_H */
