// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's HTTP server (tools/lib/httpd.c): the request parser's
 * verdicts and the Accept negotiation on fixed cases, then a real server
 * on 127.0.0.1 (the first free port from 39100) served from a thread and
 * driven by blocking client sockets: answers, keep-alive, HEAD, pipelining,
 * errors, the request timeout and the connection limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include "httpd.h"
#include "util.h"
#include "tap.h"

#define MS 1000000ULL

/* ---- the parser ---- */

#define GET_METRICS "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

struct parse_case {
	const char *what;
	const char *req;
	int status;
	int head;
	int keep_alive;
};

static const struct parse_case parse_cases[] = {
	{ "GET", GET_METRICS, 200, 0, 1 },
	{ "HEAD", "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, 1, 1 },
	{ "query string", "GET /metrics?x=y HTTP/1.1\r\n\r\n", 200, 0, 1 },
	{ "absolute form", "GET http://h:1/metrics HTTP/1.1\r\n\r\n", 200, 0, 1 },
	{ "bare LF", "GET /metrics HTTP/1.1\nHost: x\n\n", 200, 0, 1 },
	{ "empty line first", "\r\nGET /metrics HTTP/1.1\r\n\r\n", 200, 0, 1 },
	{ "1.1 close", "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
	  200, 0, 0 },
	{ "1.1 close in a list",
	  "GET /metrics HTTP/1.1\r\nconnection: TE, Close\r\n\r\n", 200, 0, 0 },
	{ "1.0", "GET /metrics HTTP/1.0\r\n\r\n", 200, 0, 0 },
	{ "1.0 keep-alive",
	  "GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 200, 0, 1 },
	{ "Content-Length 0", "GET /metrics HTTP/1.1\r\nContent-Length: 0\r\n"
	  "Content-Length: 00\r\n\r\n", 200, 0, 1 },
	{ "other path", "GET /other HTTP/1.1\r\n\r\n", 404, 0, 1 },
	{ "root", "GET / HTTP/1.1\r\n\r\n", 404, 0, 1 },
	{ "trailing slash", "GET /metrics/ HTTP/1.1\r\n\r\n", 404, 0, 1 },
	{ "HEAD other path", "HEAD /x HTTP/1.1\r\n\r\n", 404, 1, 1 },
	{ "POST", "POST /metrics HTTP/1.1\r\n\r\n", 405, 0, 1 },
	{ "lower-case get", "get /metrics HTTP/1.1\r\n\r\n", 405, 0, 1 },
	{ "HTTP/2.0", "GET /metrics HTTP/2.0\r\n\r\n", 505, 0, 0 },
	{ "HTTP/0.9", "GET /metrics\r\n\r\n", 400, 0, 0 },
	{ "bad version", "GET /metrics HTTP/1.x\r\n\r\n", 400, 0, 0 },
	{ "two spaces", "GET  /metrics HTTP/1.1\r\n\r\n", 400, 0, 0 },
	{ "trailing space", "GET /metrics HTTP/1.1 \r\n\r\n", 400, 0, 0 },
	{ "no colon", "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n", 400, 0, 1 },
	{ "space before colon", "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
	  400, 0, 1 },
	{ "obs-fold", "GET /metrics HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, 0, 1 },
	{ "bare CR in value", "GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n",
	  400, 0, 1 },
	{ "body", "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400, 0, 1 },
	{ "negative length", "GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	  400, 0, 1 },
	{ "huge length", "GET /metrics HTTP/1.1\r\n"
	  "Content-Length: 99999999999999999999999999\r\n\r\n", 400, 0, 1 },
	{ "lengths 0 and 7", "GET /metrics HTTP/1.1\r\nContent-Length: 0\r\n"
	  "Content-Length: 7\r\n\r\n", 400, 0, 1 },
	{ "chunked", "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n", 400, 0, 1 },
	{ "garbage", "\x01\x02 \xff\r\n\r\n", 400, 0, 0 },
};

static void test_parse_cases(void)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct hl_http_request r;
		size_t len = strlen(c->req);
		size_t n = hl_http_parse(c->req, len, &r);

		tap_check(n == len && r.status == c->status &&
			  r.head == c->head &&
			  (c->status != 200 || r.keep_alive == c->keep_alive),
			  "parse %s: took %zu of %zu, status %d head %d "
			  "keep-alive %d", c->what, n, len, r.status, r.head,
			  r.keep_alive);
	}
}

static void test_parse_incomplete(void)
{
	const char *req = GET_METRICS;
	size_t len = strlen(req), bad = 0;
	struct hl_http_request r;

	for (size_t i = 0; i < len; i++)
		if (hl_http_parse(req, i, &r))
			bad++;
	tap_check(!bad, "parse: every proper prefix of a request needs more "
		  "(%zu did not)", bad);
}

static void test_parse_embedded(void)
{
	static const char nul[] = "GET /met\0rics HTTP/1.1\r\n\r\n";
	static const char nul_value[] = "GET /metrics HTTP/1.1\r\nA: \0\r\n\r\n";
	static const char two[] = GET_METRICS "HEAD /metrics HTTP/1.1\r\n\r\n";
	struct hl_http_request r;
	size_t n;

	n = hl_http_parse(nul, sizeof(nul) - 1, &r);
	tap_check(n == sizeof(nul) - 1 && r.status == 400,
		  "parse: NUL in the target is 400 (%d)", r.status);
	n = hl_http_parse(nul_value, sizeof(nul_value) - 1, &r);
	tap_check(n == sizeof(nul_value) - 1 && r.status == 400,
		  "parse: NUL in a value is 400 (%d)", r.status);
	n = hl_http_parse(two, sizeof(two) - 1, &r);
	tap_check(n == strlen(GET_METRICS) && r.status == 200 && !r.head,
		  "parse: pipelined, the first request only (%zu)", n);
	n = hl_http_parse(two + n, sizeof(two) - 1 - n, &r);
	tap_check(n && r.status == 200 && r.head,
		  "parse: pipelined, then the second (%zu)", n);
}

/* A request of "GET /metrics" and nfields fields of pad bytes each. */
static size_t big_request(char *buf, size_t size, int nfields, size_t pad)
{
	size_t len = snprintf(buf, size, "GET /metrics HTTP/1.1\r\n");

	for (int i = 0; i < nfields && len + pad + 16 < size; i++) {
		len += snprintf(buf + len, size - len, "X-%d: ", i);
		memset(buf + len, 'a', pad);
		len += pad;
		len += snprintf(buf + len, size - len, "\r\n");
	}
	len += snprintf(buf + len, size - len, "\r\n");
	return len;
}

static void test_parse_limits(void)
{
	static char buf[3 * HL_HTTP_MAX_REQUEST];
	struct hl_http_request r;
	size_t len, n;

	len = big_request(buf, sizeof(buf), HL_HTTP_MAX_HEADERS, 1);
	n = hl_http_parse(buf, len, &r);
	tap_check(n == len && r.status == 200, "parse: %d fields are allowed "
		  "(%d)", HL_HTTP_MAX_HEADERS, r.status);
	len = big_request(buf, sizeof(buf), HL_HTTP_MAX_HEADERS + 1, 1);
	n = hl_http_parse(buf, len, &r);
	tap_check(n && r.status == 431, "parse: %d fields are 431 (%d)",
		  HL_HTTP_MAX_HEADERS + 1, r.status);
	/* exactly the limit: request line 23, field 5 + pad + 2, end 2 */
	len = big_request(buf, sizeof(buf), 1, HL_HTTP_MAX_REQUEST - 32);
	n = hl_http_parse(buf, len, &r);
	tap_check(len == HL_HTTP_MAX_REQUEST && n == len && r.status == 200,
		  "parse: a request of %zu bytes is allowed (%d)", len,
		  r.status);
	len = big_request(buf, sizeof(buf), 1, HL_HTTP_MAX_REQUEST - 31);
	tap_check(!hl_http_parse(buf, HL_HTTP_MAX_REQUEST - 1, &r),
		  "parse: one byte short of the limit needs more");
	n = hl_http_parse(buf, len, &r);
	tap_check(n == HL_HTTP_MAX_REQUEST && r.status == 431,
		  "parse: %zu bytes are 431 (%d, took %zu)", len, r.status, n);
	memset(buf, '\n', HL_HTTP_MAX_REQUEST);
	n = hl_http_parse(buf, HL_HTTP_MAX_REQUEST, &r);
	tap_check(n == HL_HTTP_MAX_REQUEST && r.status == 431,
		  "parse: 8 KiB of empty lines are 431 (%d)", r.status);
}

static void test_parse_accept(void)
{
	static const char om[] = "GET /metrics HTTP/1.1\r\nAccept: "
		"application/openmetrics-text; version=1.0.0\r\n\r\n";
	static const char split[] = "GET /metrics HTTP/1.1\r\n"
		"Accept: text/plain;q=0.5\r\n"
		"ACCEPT: application/openmetrics-text;q=0.6\r\n\r\n";
	static const char plain[] = "GET /metrics HTTP/1.1\r\n"
		"Accept: application/openmetrics-text;q=0.4\r\n"
		"Accept: text/plain;q=0.5\r\n\r\n";
	struct hl_http_request r;

	hl_http_parse(GET_METRICS, strlen(GET_METRICS), &r);
	tap_check(r.format == HL_EXPO_PROMETHEUS, "parse: no Accept is 0.0.4");
	hl_http_parse(om, sizeof(om) - 1, &r);
	tap_check(r.format == HL_EXPO_OPENMETRICS, "parse: Accept OpenMetrics");
	hl_http_parse(split, sizeof(split) - 1, &r);
	tap_check(r.format == HL_EXPO_OPENMETRICS,
		  "parse: two Accept fields count as one list (OpenMetrics)");
	hl_http_parse(plain, sizeof(plain) - 1, &r);
	tap_check(r.format == HL_EXPO_PROMETHEUS,
		  "parse: two Accept fields count as one list (0.0.4)");
}

/* ---- negotiation ---- */

struct accept_case {
	const char *accept;
	enum hl_expo_format want;
};

static const struct accept_case accept_cases[] = {
	{ "application/openmetrics-text;version=1.0.0,"
	  "application/openmetrics-text;version=0.0.1;q=0.75,"
	  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", HL_EXPO_OPENMETRICS },
	{ "*/*", HL_EXPO_PROMETHEUS },
	{ "", HL_EXPO_PROMETHEUS },
	{ "text/plain", HL_EXPO_PROMETHEUS },
	{ "application/openmetrics-text", HL_EXPO_OPENMETRICS },
	{ "application/openmetrics-text;version=0.0.1", HL_EXPO_PROMETHEUS },
	{ "application/openmetrics-text;version=\"1.0.0\"", HL_EXPO_OPENMETRICS },
	{ "application/openmetrics-text;q=0", HL_EXPO_PROMETHEUS },
	{ "application/openmetrics-text;q=1.5", HL_EXPO_PROMETHEUS },
	{ "application/openmetrics-text;q=0.5,text/plain", HL_EXPO_PROMETHEUS },
	{ "text/plain;q=0.5,application/openmetrics-text;q=0.6",
	  HL_EXPO_OPENMETRICS },
	{ " APPLICATION/OpenMetrics-Text ; Version=1.0.0 ; Q=0.9 , "
	  "text/*;q=0.900", HL_EXPO_OPENMETRICS },
	{ "application/openmetrics-text;q=0.001,*/*;q=0.002",
	  HL_EXPO_PROMETHEUS },
	{ ",,;;=,application/openmetrics-text;;q=1;,", HL_EXPO_OPENMETRICS },
};

static void test_negotiate(void)
{
	for (size_t i = 0; i < sizeof(accept_cases) / sizeof(accept_cases[0]); i++) {
		const struct accept_case *c = &accept_cases[i];
		enum hl_expo_format f = hl_http_negotiate(c->accept,
							  strlen(c->accept));

		tap_check(f == c->want, "negotiate '%s': %s", c->accept,
			  f == HL_EXPO_OPENMETRICS ? "OpenMetrics" : "0.0.4");
	}
	tap_check(hl_http_negotiate(NULL, 0) == HL_EXPO_PROMETHEUS,
		  "negotiate: no Accept is 0.0.4");
	/* only len bytes count: "application" is nothing known */
	tap_check(hl_http_negotiate("application/openmetrics-text", 11) ==
		  HL_EXPO_PROMETHEUS, "negotiate: reads no further than len");
}

/* ---- opening ---- */

static int no_body(enum hl_expo_format fmt, char **body, size_t *len,
		   void *ctx)
{
	(void)fmt, (void)body, (void)len, (void)ctx;
	return -EIO;
}

static void test_open_errors(void)
{
	static const char *const bad[] = {
		"", "x", "0", "65536", "127.0.0.1:0", "127.0.0.1:", ":9100",
		"localhost:9100", "::1:9100", "[::1]", "[::1]9100", "[x]:9100",
		"1.2.3:9100", "+9100", "9100 ", "99999999999999999999",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hl_httpd *s = hl_httpd_open(bad[i], no_body, NULL, err,
						   sizeof(err));
		char want[64];

		snprintf(want, sizeof(want), "invalid listen address '%s': ",
			 bad[i]);
		tap_check(!s && !strncmp(err, want, strlen(want)) &&
			  !strchr(err, '\n'), "open '%s': %s", bad[i], err);
		hl_httpd_close(s);
	}
}

/* ---- a real server ---- */

struct server {
	struct hl_httpd *httpd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int calls;	/* of the body callback */
	atomic_bool fail;	/* the body callback fails */
	atomic_size_t big;	/* a body of this many bytes instead */
};

static const char body_text[] = "# TYPE up gauge\nup 1\n";

static int test_body(enum hl_expo_format fmt, char **body, size_t *len,
		     void *ctx)
{
	struct server *srv = ctx;

	(void)fmt;
	atomic_fetch_add(&srv->calls, 1);
	if (atomic_load(&srv->fail))
		return -ENOMEM;
	if (atomic_load(&srv->big)) {
		*len = atomic_load(&srv->big);
		*body = malloc(*len);
		for (size_t i = 0; *body && i < *len; i++)
			(*body)[i] = 'a' + i % 26;
		return *body ? 0 : -ENOMEM;
	}
	*body = strdup(body_text);
	*len = strlen(body_text);
	return *body ? 0 : -ENOMEM;
}

static void *serve_thread(void *arg)
{
	struct server *srv = arg;
	struct pollfd pfd = { .fd = hl_httpd_fd(srv->httpd),
			      .events = POLLIN };

	while (!atomic_load(&srv->stop)) {
		poll(&pfd, 1, 5);
		hl_httpd_serve(srv->httpd, hl_now_ns());
	}
	return NULL;
}

/* On the first port from 39100 that is free, with that timeout. */
static bool server_start(struct server *srv, uint64_t timeout_ns)
{
	char listen[32], err[256] = "";

	memset(srv, 0, sizeof(*srv));
	hl_httpd_timeout_ns = timeout_ns;
	for (srv->port = 39100; srv->port < 39200; srv->port++) {
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv->port);
		srv->httpd = hl_httpd_open(listen, test_body, srv, err,
					   sizeof(err));
		if (srv->httpd || !strstr(err, "in use"))
			break;
	}
	if (!tap_check(srv->httpd != NULL, "server on %s (%s)", listen,
		       srv->httpd ? hl_httpd_url(srv->httpd) : err))
		return false;
	pthread_create(&srv->thread, NULL, serve_thread, srv);
	return true;
}

static void server_stop(struct server *srv)
{
	atomic_store(&srv->stop, true);
	pthread_join(srv->thread, NULL);
	hl_httpd_close(srv->httpd);
}

static int client(const struct server *srv)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(srv->port) };
	struct timeval tv = { .tv_sec = 10 };	/* emulated guests are slow */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		tap_diag("connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void send_str(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len && (n = send(fd, s + off, len - off,
				      MSG_NOSIGNAL)) > 0)
		off += n;
}

struct answer {
	int status;
	size_t length;		/* Content-Length, or SIZE_MAX */
	char head[1024];	/* status line and fields */
	char body[256];
	size_t body_len;
};

/* Reads one answer: its head, then Content-Length bytes (none for
 * HEAD). False if the connection ended or stalled before. */
static bool read_answer(int fd, bool head_only, struct answer *a)
{
	size_t got = 0;
	char *end = NULL, *cl;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	while (!end) {
		if (got == sizeof(a->head) - 1)
			return false;
		n = recv(fd, a->head + got, 1, 0);	/* never past the head */
		if (n <= 0)
			return false;
		got += n;
		end = strstr(a->head, "\r\n\r\n");
	}
	a->status = atoi(a->head + 9);
	cl = strcasestr(a->head, "\r\nContent-Length: ");
	a->length = cl ? strtoul(cl + 18, NULL, 10) : SIZE_MAX;
	if (head_only || a->length == SIZE_MAX)
		return true;
	while (a->body_len < a->length && a->body_len < sizeof(a->body) - 1) {
		n = recv(fd, a->body + a->body_len, a->length - a->body_len, 0);
		if (n <= 0)
			return false;
		a->body_len += n;
	}
	return a->body_len == a->length;
}

/* Whether the server has closed: EOF within the receive timeout. */
static bool closed_by_server(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) == 0;
}

static bool still_open(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void test_get_keep_alive(const struct server *srv)
{
	struct answer a;
	int fd = client(srv);
	bool ok;

	send_str(fd, GET_METRICS);
	ok = read_answer(fd, false, &a);
	tap_check(ok && a.status == 200 && a.length == strlen(body_text) &&
		  !strcmp(a.body, body_text) &&
		  strstr(a.head, "Content-Type: text/plain; version=0.0.4; "
			 "charset=utf-8\r\n"), "GET: 200, the body, 0.0.4");
	send_str(fd, "GET /metrics HTTP/1.1\r\nAccept: "
		 "application/openmetrics-text\r\n\r\n");
	ok = read_answer(fd, false, &a);
	tap_check(ok && a.status == 200 && !strcmp(a.body, body_text) &&
		  strstr(a.head, "Content-Type: application/openmetrics-text; "
			 "version=1.0.0; charset=utf-8\r\n"),
		  "GET again on the same connection: OpenMetrics");
	send_str(fd, "HEAD /metrics HTTP/1.1\r\n\r\n");
	ok = read_answer(fd, true, &a);
	tap_check(ok && a.status == 200 && a.length == strlen(body_text),
		  "HEAD: Content-Length %zu", a.length);
	/* two at once: the HEAD above must have sent no body either */
	send_str(fd, GET_METRICS "GET /metrics?a=b HTTP/1.1\r\n"
		 "Connection: close\r\n\r\n");
	ok = read_answer(fd, false, &a) && a.status == 200 &&
	     read_answer(fd, false, &a) && a.status == 200 &&
	     strstr(a.head, "Connection: close\r\n");
	tap_check(ok && closed_by_server(fd),
		  "pipelined GETs: both answered, then closed as asked");
	close(fd);
	tap_check(atomic_load(&srv->calls) == 5, "the body was made 5 times "
		  "(%d)", atomic_load(&srv->calls));
}

/* More than the socket takes at once: sent in parts as it drains. */
static void test_big_body(struct server *srv)
{
	size_t size = 16 << 20, got = 0, bad = 0;
	char buf[65536];
	struct answer a;
	int fd = client(srv);
	ssize_t n = 1;

	atomic_store(&srv->big, size);
	send_str(fd, GET_METRICS);
	if (read_answer(fd, true, &a) && a.length == size) {
		while (got < size && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				bad += buf[i] != (char)('a' + (got + i) % 26);
			got += n;
		}
	}
	tap_check(a.status == 200 && got == size && !bad,
		  "a 16 MiB body: %zu bytes, %zu wrong", got, bad);
	atomic_store(&srv->big, 0);
	close(fd);
}

static void test_http10(const struct server *srv)
{
	struct answer a;
	int fd = client(srv);

	send_str(fd, "GET /metrics HTTP/1.0\r\n\r\n");
	tap_check(read_answer(fd, false, &a) && a.status == 200 &&
		  closed_by_server(fd), "HTTP/1.0: answered, then closed");
	close(fd);
}

/* An error: its status, a text body, "Connection: close", and EOF. */
static void check_error(const struct server *srv, const char *what,
			const char *req, int status)
{
	struct answer a;
	int fd = client(srv);
	bool ok;

	send_str(fd, req);
	ok = read_answer(fd, false, &a);
	tap_check(ok && a.status == status && a.body_len > 0 &&
		  strstr(a.head, "Connection: close\r\n") &&
		  closed_by_server(fd), "%s: %d (%d), closed", what, status,
		  a.status);
	if (status == 405)
		tap_check(strstr(a.head, "\r\nAllow: GET, HEAD\r\n") != NULL,
			  "405 says Allow: GET, HEAD");
	close(fd);
}

static void test_errors(struct server *srv)
{
	static char big[2 * HL_HTTP_MAX_REQUEST];

	check_error(srv, "other path", "GET /x HTTP/1.1\r\n\r\n", 404);
	check_error(srv, "PUT", "PUT /metrics HTTP/1.1\r\n\r\n", 405);
	check_error(srv, "HTTP/3.0", "GET /metrics HTTP/3.0\r\n\r\n", 505);
	check_error(srv, "a body", "GET /metrics HTTP/1.1\r\n"
		    "Content-Length: 3\r\n\r\nabc", 400);
	/* a client still sending when the 431 comes must get it, not RST */
	big_request(big, sizeof(big), 1, sizeof(big) - 100);
	check_error(srv, "16 KiB of fields", big, 431);
	atomic_store(&srv->fail, true);
	check_error(srv, "body callback fails", GET_METRICS, 500);
	atomic_store(&srv->fail, false);
}

static void test_timeout(void)
{
	struct server srv;
	uint64_t t0, waited;
	int fd, part;

	if (!server_start(&srv, 200 * MS))
		return;
	fd = client(&srv);
	part = client(&srv);
	send_str(part, "GET /metrics HTTP/1.1\r\n");
	t0 = hl_now_ns();
	tap_check(closed_by_server(fd), "a silent client is closed");
	waited = hl_now_ns() - t0;
	tap_check(waited > 150 * MS && waited < 2000 * MS,
		  "after %lu ms, timeout 200 ms", (unsigned long)(waited / MS));
	tap_check(closed_by_server(part), "a slow client is closed too");
	close(fd);
	close(part);
	server_stop(&srv);
}

/* 16 clients that have begun a request, then a 17th. */
static void test_conn_limit(void)
{
	int fds[HL_HTTPD_MAX_CONNS + 1];
	struct server srv;
	struct answer a;
	int n = HL_HTTPD_MAX_CONNS, last;

	if (!server_start(&srv, 5000 * MS))
		return;
	for (int i = 0; i < n; i++) {
		fds[i] = client(&srv);
		send_str(fds[i], "GET /metrics HTTP/1.1\r\n");
		usleep(2000);	/* accepted in this order */
	}
	usleep(50000);
	last = client(&srv);
	send_str(last, GET_METRICS);
	tap_check(read_answer(last, false, &a) && a.status == 200,
		  "connection %d: answered", n + 1);
	tap_check(closed_by_server(fds[0]), "the oldest one was closed");
	tap_check(still_open(fds[1]), "the second oldest is open");
	send_str(fds[1], "Host: x\r\n\r\n");
	tap_check(read_answer(fds[1], false, &a) && a.status == 200,
		  "and its request is answered");
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(last);
	server_stop(&srv);
}

/* A port in use, and the URL of an IPv6 address. */
static void test_open_socket(const struct server *srv)
{
	char listen[32], want[128], err[256] = "";
	struct hl_httpd *s;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv->port);
	snprintf(want, sizeof(want), "cannot listen on %s: %s", listen,
		 strerror(EADDRINUSE));
	s = hl_httpd_open(listen, no_body, NULL, err, sizeof(err));
	tap_check(!s && !strcmp(err, want), "open a port in use: %s", err);
	hl_httpd_close(s);
	snprintf(listen, sizeof(listen), "[::1]:%d", srv->port);
	snprintf(want, sizeof(want), "http://[::1]:%d/metrics", srv->port);
	s = hl_httpd_open(listen, no_body, NULL, err, sizeof(err));
	if (s)
		tap_check(!strcmp(hl_httpd_url(s), want), "url %s",
			  hl_httpd_url(s));
	else
		tap_diag("no IPv6 here: %s", err);
	hl_httpd_close(s);
}

static void test_server(void)
{
	struct server srv;

	if (!server_start(&srv, 5000 * MS))
		return;
	test_open_socket(&srv);
	test_get_keep_alive(&srv);
	test_http10(&srv);
	test_big_body(&srv);
	test_errors(&srv);
	server_stop(&srv);
	test_timeout();
	test_conn_limit();
}

int main(void)
{
	test_parse_cases();
	test_parse_incomplete();
	test_parse_embedded();
	test_parse_limits();
	test_parse_accept();
	test_negotiate();
	test_open_errors();
	test_server();
	tap_diag("%d parser and negotiation cases, a server on 127.0.0.1",
		 (int)(sizeof(parse_cases) / sizeof(parse_cases[0]) +
		       sizeof(accept_cases) / sizeof(accept_cases[0])));
	return tap_done();
}
