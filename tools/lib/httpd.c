// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's HTTP server (httpd.h). Two halves: a pure parser of one
 * request and of an Accept value, which sees raw client bytes and is
 * fuzzed (selftests/fuzz/http_request.c), and a single-threaded epoll
 * server around it whose every wait is bounded by a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "httpd.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

uint64_t hl_httpd_timeout_ns = 10ULL * 1000000000ULL;

/* ---- the parser: bytes in, a verdict out; no I/O, no allocation ---- */

struct span {
	const char *p;
	size_t len;
};

/* ASCII only: the tool may run under any locale. */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != lower(lit[i]))
			return false;
	return true;
}

static bool span_eq(struct span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(s.p, lit, s.len);
}

static struct span trim(struct span s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/* RFC 9110 tchar: what a method or a header name may be made of. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(struct span s)
{
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_tchar(s.p[i]))
			return false;
	return true;
}

/*
 * Where the delimiter ch ends the item starting at i, or len: a comma or
 * semicolon inside a quoted string (version="1,0") ends nothing.
 */
static size_t item_end(const char *s, size_t len, size_t i, char ch)
{
	bool quoted = false;

	for (; i < len; i++) {
		if (quoted && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == ch)
			return i;
	}
	return len;
}

/* The next item of a ch-separated list, trimmed; false at the end. */
static bool next_item(const char *s, size_t len, size_t *pos, char ch,
		      struct span *item)
{
	size_t end;

	if (*pos > len)
		return false;
	end = item_end(s, len, *pos, ch);
	*item = trim((struct span){ s + *pos, end - *pos });
	*pos = end + 1;
	return true;
}

/* A qvalue (RFC 9110 12.4.2) in thousandths, or -1 if it is none. */
static int parse_q(struct span v)
{
	int q, scale = 100;

	if (!v.len || (v.p[0] != '0' && v.p[0] != '1'))
		return -1;
	q = (v.p[0] - '0') * 1000;
	if (v.len == 1)
		return q;
	if (v.p[1] != '.' || v.len > 5)
		return -1;
	for (size_t i = 2; i < v.len; i++, scale /= 10) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		q += (v.p[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* The best q seen for each format across all Accept items; -1: none. */
struct accept_score {
	int openmetrics;
	int plain;
};

static struct span unquote(struct span v)
{
	if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"')
		return (struct span){ v.p + 1, v.len - 2 };
	return v;
}

/* One media range with its parameters: "text/plain;version=0.0.4;q=0.5". */
static void accept_item(struct accept_score *a, struct span item)
{
	struct span type, param, version = { NULL, 0 };
	size_t pos = 0;
	int q = 1000;

	next_item(item.p, item.len, &pos, ';', &type);
	while (next_item(item.p, item.len, &pos, ';', &param)) {
		const char *eq = memchr(param.p, '=', param.len);
		struct span name, value;

		if (!eq)
			continue;
		name = trim((struct span){ param.p, eq - param.p });
		value = unquote(trim((struct span){ eq + 1,
				param.len - (eq + 1 - param.p) }));
		if (span_ieq(name, "q"))
			q = parse_q(value);
		else if (span_ieq(name, "version"))
			version = value;
	}
	if (q < 0)
		return;		/* malformed: as if it were not there */
	if (span_ieq(type, "application/openmetrics-text")) {
		if ((!version.p || span_eq(version, "1.0.0")) &&
		    q > a->openmetrics)
			a->openmetrics = q;
	} else if (span_ieq(type, "text/plain") || span_ieq(type, "text/*") ||
		   span_ieq(type, "*/*")) {
		if (q > a->plain)
			a->plain = q;
	}
}

static void accept_scan(struct accept_score *a, const char *s, size_t len)
{
	struct span item;
	size_t pos = 0;

	while (next_item(s, len, &pos, ',', &item))
		if (item.len)
			accept_item(a, item);
}

/* Ties go to OpenMetrics: a client that names it wants it. */
static enum hl_expo_format accept_format(const struct accept_score *a)
{
	return a->openmetrics > 0 && a->openmetrics >= a->plain ?
	       HL_EXPO_OPENMETRICS : HL_EXPO_PROMETHEUS;
}

enum hl_expo_format hl_http_negotiate(const char *accept, size_t len)
{
	struct accept_score a = { -1, -1 };

	if (accept)
		accept_scan(&a, accept, len);
	return accept_format(&a);
}

/* What the header fields say, gathered while they are read. */
struct fields {
	bool bad;		/* a malformed field: 400 */
	bool body;		/* the request has a body: 400 */
	bool close;
	bool keep_alive;
	struct accept_score accept;
};

static void connection_field(struct fields *f, struct span v)
{
	struct span opt;
	size_t pos = 0;

	while (next_item(v.p, v.len, &pos, ',', &opt)) {
		if (span_ieq(opt, "close"))
			f->close = true;
		else if (span_ieq(opt, "keep-alive"))
			f->keep_alive = true;
	}
}

/* Only 0 is no body; anything else, even a malformed value, refuses. */
static void length_field(struct fields *f, struct span v)
{
	if (!v.len)
		f->bad = true;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			f->bad = true;
		else if (v.p[i] != '0')
			f->body = true;
	}
}

/* Visible characters, spaces, tabs and obs-text: no CR, LF or NUL. */
static bool is_field_value(struct span v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static void header_field(struct fields *f, struct span line)
{
	const char *colon = memchr(line.p, ':', line.len);
	struct span name, value;

	/* no name, a space before the colon, or obs-fold: all rejected */
	if (!colon) {
		f->bad = true;
		return;
	}
	name = (struct span){ line.p, colon - line.p };
	value = trim((struct span){ colon + 1, line.len - name.len - 1 });
	if (!is_token(name) || !is_field_value(value)) {
		f->bad = true;
		return;
	}
	if (span_ieq(name, "connection"))
		connection_field(f, value);
	else if (span_ieq(name, "content-length"))
		length_field(f, value);
	else if (span_ieq(name, "transfer-encoding"))
		f->body = true;
	else if (span_ieq(name, "accept"))
		accept_scan(&f->accept, value.p, value.len);
}

/* The path of an origin-form or absolute-form target, without query. */
static struct span target_path(struct span t)
{
	const char *q;

	if (t.len > 7 && span_ieq((struct span){ t.p, 7 }, "http://")) {
		const char *slash = memchr(t.p + 7, '/', t.len - 7);

		t = slash ? (struct span){ slash, t.len - (slash - t.p) } :
			    (struct span){ "/", 1 };
	}
	q = memchr(t.p, '?', t.len);
	if (q)
		t.len = q - t.p;
	return t;
}

static bool is_target(struct span t)
{
	if (!t.len)
		return false;
	for (size_t i = 0; i < t.len; i++)
		if ((unsigned char)t.p[i] <= ' ' || t.p[i] == 0x7f)
			return false;
	return true;
}

/* "HTTP/1.1": the minor version, -1 for another major, -2 if malformed. */
static int http_minor(struct span v)
{
	if (v.len != 8 || memcmp(v.p, "HTTP/", 5) || v.p[6] != '.' ||
	    v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
		return -2;
	return v.p[5] == '1' ? v.p[7] - '0' : -1;
}

/* The verdict on a request line ("GET /metrics HTTP/1.1") and fields. */
static void judge(struct hl_http_request *req, struct span line,
		  const struct fields *f)
{
	const char *sp1 = memchr(line.p, ' ', line.len), *sp2;
	struct span method, target, version;
	int minor;

	if (!sp1)
		return;
	sp2 = memchr(sp1 + 1, ' ', line.len - (sp1 + 1 - line.p));
	if (!sp2)
		return;
	method = (struct span){ line.p, sp1 - line.p };
	target = (struct span){ sp1 + 1, sp2 - sp1 - 1 };
	version = (struct span){ sp2 + 1, line.len - (sp2 + 1 - line.p) };
	minor = http_minor(version);
	if (!is_token(method) || !is_target(target) || minor == -2)
		return;
	req->head = span_eq(method, "HEAD");
	if (minor < 0)
		req->status = 505;
	else if (f->bad)
		req->status = 400;
	else if (!req->head && !span_eq(method, "GET"))
		req->status = 405;
	else if (!span_eq(target_path(target), "/metrics"))
		req->status = 404;
	else if (f->body)
		req->status = 400;
	else
		req->status = 200;
	req->keep_alive = !f->close && (minor >= 1 || f->keep_alive);
	req->format = accept_format(&f->accept);
}

/* The next line in buf[*pos, end), without "\n" or "\r\n"; false when its
 * end has not come yet. A bare "\n" ends a line too (RFC 9112 2.2). */
static bool next_line(const char *buf, size_t end, size_t *pos,
		      struct span *line)
{
	const char *nl = memchr(buf + *pos, '\n', end - *pos);

	if (!nl)
		return false;
	line->p = buf + *pos;
	line->len = nl - line->p;
	if (line->len && line->p[line->len - 1] == '\r')
		line->len--;
	*pos = nl + 1 - buf;
	return true;
}

/* No end of the header block in sight: wait, unless the limit is hit. */
static size_t incomplete(size_t len, struct hl_http_request *req)
{
	if (len < HL_HTTP_MAX_REQUEST)
		return 0;
	req->status = 431;
	return HL_HTTP_MAX_REQUEST;
}

size_t hl_http_parse(const char *buf, size_t len, struct hl_http_request *req)
{
	size_t end = len < HL_HTTP_MAX_REQUEST ? len : HL_HTTP_MAX_REQUEST;
	struct fields f = { .accept = { -1, -1 } };
	struct span first, line;
	size_t pos = 0, nfields = 0;

	*req = (struct hl_http_request){ .status = 400 };
	/* empty lines before a request are ignored (RFC 9112 2.2) */
	do {
		if (!next_line(buf, end, &pos, &first))
			return incomplete(len, req);
	} while (!first.len);
	for (;;) {
		if (!next_line(buf, end, &pos, &line))
			return incomplete(len, req);
		if (!line.len)
			break;
		if (++nfields > HL_HTTP_MAX_HEADERS) {
			req->status = 431;
			return pos;
		}
		header_field(&f, line);
	}
	judge(req, first, &f);
	return pos;
}

/* ---- the server ---- */

enum conn_state {
	CONN_FREE,
	CONN_READ,	/* waiting for (the rest of) a request */
	CONN_WRITE,	/* sending an answer */
	CONN_DRAIN,	/* answered and shut down for writing: reading to EOF
			 * so that unread bytes do not turn close into RST */
};

struct conn {
	enum conn_state state;
	int fd;
	uint32_t events;	/* what epoll watches for */
	uint64_t seq;		/* accept order: the oldest has the lowest */
	uint64_t deadline;
	bool peer_closed;	/* EOF read: answer what came, then close */
	bool close_after;	/* close once the answer is out */
	char *req;		/* HL_HTTP_MAX_REQUEST bytes, from the 1st read */
	size_t req_len;
	char head[512];		/* status line, fields, an error's body */
	size_t head_len;
	char *body;		/* from the body callback */
	size_t body_len;
	size_t sent;		/* of head, then body */
};

struct hl_httpd {
	int listen_fd;
	int epoll_fd;
	hl_httpd_body_fn body_fn;
	void *ctx;
	uint64_t next_seq;
	uint64_t accept_paused_until;	/* after EMFILE and the like */
	char url[96];
	struct conn conns[HL_HTTPD_MAX_CONNS];
};

/* epoll's data: the slot and the accept number, so that an event left
 * over for a slot that was closed and reused this round is recognised. */
#define LISTENER_TAG UINT64_MAX
#define SLOT_BITS 5

static uint64_t conn_tag(const struct hl_httpd *s, const struct conn *c)
{
	return c->seq << SLOT_BITS | (uint64_t)(c - s->conns);
}

static void conn_watch(struct hl_httpd *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	if (c->events == events)
		return;
	ev.data.u64 = conn_tag(s, c);
	/* cannot fail for a registered fd with valid arguments */
	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = events;
}

static void conn_close(struct conn *c)
{
	close(c->fd);	/* also takes it out of the epoll set */
	free(c->req);
	free(c->body);
	*c = (struct conn){ .state = CONN_FREE, .fd = -1 };
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* What an error's short text body says, for a person trying curl. */
static const char *explain(int status)
{
	switch (status) {
	case 404: return "not found: the metrics are at /metrics\n";
	case 405: return "method not allowed: only GET and HEAD\n";
	case 431: return "request too large: at most 8192 bytes and 64 header fields\n";
	case 505: return "HTTP version not supported: only HTTP/1.0 and HTTP/1.1\n";
	case 500: return "cannot produce the metrics, see the tool's log\n";
	default: return "bad request\n";
	}
}

static const char *content_type(enum hl_expo_format fmt)
{
	return fmt == HL_EXPO_OPENMETRICS ?
	       "application/openmetrics-text; version=1.0.0; charset=utf-8" :
	       "text/plain; version=0.0.4; charset=utf-8";
}

static void error_answer(struct conn *c, const struct hl_http_request *req)
{
	const char *text = explain(req->status);
	int n;

	n = snprintf(c->head, sizeof(c->head),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n%s"
		     "Connection: close\r\n\r\n%s",
		     req->status, reason(req->status), strlen(text),
		     req->status == 405 ? "Allow: GET, HEAD\r\n" : "",
		     req->head ? "" : text);
	c->head_len = n < (int)sizeof(c->head) ? (size_t)n : sizeof(c->head) - 1;
	c->close_after = true;
}

/* The answer to a parsed request, ready in c->head and c->body. */
static void make_answer(struct hl_httpd *s, struct conn *c,
			struct hl_http_request *req)
{
	char *body = NULL;
	size_t len = 0;

	/* a failed callback has no buffer to give: nothing to free */
	if (req->status == 200 &&
	    s->body_fn(req->format, &body, &len, s->ctx) < 0)
		req->status = 500;
	if (req->status != 200) {
		error_answer(c, req);
		return;
	}
	c->close_after = !req->keep_alive || c->peer_closed;
	c->head_len = snprintf(c->head, sizeof(c->head),
			       "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
			       "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
			       content_type(req->format), len,
			       c->close_after ? "close" : "keep-alive");
	if (req->head) {
		free(body);
		body = NULL;
		len = 0;
	}
	c->body = body;
	c->body_len = len;
}

/* Parses what has come; true if a request was complete and is answered. */
static bool start_answer(struct hl_httpd *s, struct conn *c, uint64_t now)
{
	struct hl_http_request req;
	size_t n;

	if (!c->req_len)
		return false;
	n = hl_http_parse(c->req, c->req_len, &req);
	if (!n)
		return false;
	/* a pipelined next request stays for after this answer */
	memmove(c->req, c->req + n, c->req_len - n);
	c->req_len -= n;
	make_answer(s, c, &req);
	c->sent = 0;
	c->state = CONN_WRITE;
	c->deadline = now + hl_httpd_timeout_ns;
	return true;
}

/* Sends what the socket takes: 1 all sent, 0 later, -1 a dead client. */
static int send_some(struct conn *c)
{
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t total = c->head_len + c->body_len;
	ssize_t n;

	while (c->sent < total) {
		size_t in_head = c->sent < c->head_len ? c->sent : c->head_len;
		size_t in_body = c->sent - in_head;

		iov[0] = (struct iovec){ c->head + in_head,
					 c->head_len - in_head };
		/* no body (HEAD, errors) is a NULL one: no arithmetic on it */
		iov[1] = (struct iovec){ c->body ? c->body + in_body : NULL,
					 c->body_len - in_body };
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->sent += n;
	}
	return 1;
}

/* The answer is out: wait for the next request, or end the connection. */
static void finish_answer(struct hl_httpd *s, struct conn *c, uint64_t now)
{
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->deadline = now + hl_httpd_timeout_ns;
	if (!c->close_after) {
		c->state = CONN_READ;
		conn_watch(s, c, EPOLLIN);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	conn_watch(s, c, EPOLLIN);
}

/* Runs a connection as far as it goes without waiting. */
static void conn_advance(struct hl_httpd *s, struct conn *c, uint64_t now)
{
	for (;;) {
		if (c->state == CONN_READ && !start_answer(s, c, now)) {
			if (c->peer_closed)
				conn_close(c);
			return;
		}
		if (c->state != CONN_WRITE)
			return;
		switch (send_some(c)) {
		case -1:
			conn_close(c);
			return;
		case 0:
			conn_watch(s, c, EPOLLOUT);
			return;
		}
		finish_answer(s, c, now);
	}
}

static void conn_read(struct hl_httpd *s, struct conn *c, uint64_t now)
{
	ssize_t n;

	if (!c->req) {
		c->req = malloc(HL_HTTP_MAX_REQUEST);
		if (!c->req) {
			conn_close(c);
			return;
		}
	}
	/* a full buffer is always parsed to a verdict: never read then */
	do {
		n = recv(c->fd, c->req + c->req_len,
			 HL_HTTP_MAX_REQUEST - c->req_len, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_close(c);
		return;
	}
	if (n == 0)
		c->peer_closed = true;
	if (n > 0)
		c->req_len += n;
	conn_advance(s, c, now);
}

/* Reads and forgets until the client closes its side. */
static void conn_drain(struct conn *c)
{
	char sink[1024];
	ssize_t n;

	for (int i = 0; i < 16; i++) {
		n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			conn_close(c);
		return;
	}
}

static void conn_event(struct hl_httpd *s, uint64_t tag, uint32_t events,
		       uint64_t now)
{
	struct conn *c = &s->conns[tag & ((1u << SLOT_BITS) - 1)];

	if (c->state == CONN_FREE || c->seq != tag >> SLOT_BITS)
		return;		/* closed earlier in this round */
	if (c->state == CONN_READ)
		conn_read(s, c, now);
	else if (c->state == CONN_WRITE && (events & (EPOLLOUT | EPOLLERR |
						      EPOLLHUP)))
		conn_advance(s, c, now);
	else if (c->state == CONN_DRAIN)
		conn_drain(c);
}

/*
 * A slot for a new connection: a free one, else the oldest that is done
 * (draining), else the oldest still reading its request; NULL when all
 * are sending answers, which are not cut off for a newcomer.
 */
static struct conn *conn_slot(struct hl_httpd *s)
{
	struct conn *victim = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(s->conns); i++) {
		struct conn *c = &s->conns[i];

		if (c->state == CONN_FREE)
			return c;
		if (c->state == CONN_WRITE)
			continue;
		if (!victim || (c->state == CONN_DRAIN &&
				victim->state != CONN_DRAIN) ||
		    (c->state == victim->state && c->seq < victim->seq))
			victim = c;
	}
	if (victim)
		conn_close(victim);
	return victim;
}

static void conn_start(struct hl_httpd *s, int fd, uint64_t now)
{
	struct conn *c = conn_slot(s);
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c) {
		close(fd);
		return;
	}
	*c = (struct conn){ .state = CONN_READ, .fd = fd, .events = EPOLLIN,
			    .seq = s->next_seq++,
			    .deadline = now + hl_httpd_timeout_ns };
	ev.data.u64 = conn_tag(s, c);
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		conn_close(c);
}

static void listener_watch(struct hl_httpd *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = LISTENER_TAG };

	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev);
}

/*
 * Takes the waiting connections, a bounded number per round so that a
 * flood cannot hold the tool. Out of descriptors or memory, the listener
 * rests for 100 ms instead of waking the loop over and over.
 */
static void accept_some(struct hl_httpd *s, uint64_t now)
{
	for (int i = 0; i < HL_HTTPD_MAX_CONNS; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_start(s, fd, now);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			s->accept_paused_until = now + 100000000ULL;
			listener_watch(s, 0);
		}
		return;
	}
}

static void expire(struct hl_httpd *s, uint64_t now)
{
	for (size_t i = 0; i < ARRAY_SIZE(s->conns); i++)
		if (s->conns[i].state != CONN_FREE &&
		    now >= s->conns[i].deadline)
			conn_close(&s->conns[i]);
	if (s->accept_paused_until && now >= s->accept_paused_until) {
		s->accept_paused_until = 0;
		listener_watch(s, EPOLLIN);
	}
}

void hl_httpd_serve(struct hl_httpd *s, uint64_t now_ns)
{
	struct epoll_event ev[HL_HTTPD_MAX_CONNS + 1];
	int n;

	do {
		n = epoll_wait(s->epoll_fd, ev, ARRAY_SIZE(ev), 0);
	} while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u64 == LISTENER_TAG)
			accept_some(s, now_ns);
		else
			conn_event(s, ev[i].data.u64, ev[i].events, now_ns);
	}
	expire(s, now_ns);
}

uint64_t hl_httpd_deadline(const struct hl_httpd *s)
{
	uint64_t next = s->accept_paused_until;

	for (size_t i = 0; i < ARRAY_SIZE(s->conns); i++) {
		const struct conn *c = &s->conns[i];

		if (c->state != CONN_FREE && (!next || c->deadline < next))
			next = c->deadline;
	}
	return next;
}

/* ---- opening ---- */

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

#define LISTEN_USAGE "expected [ADDR:]PORT, e.g. 9100 or 127.0.0.1:9100"

/* 1 to 65535 in decimal, nothing else; 0 if it is not. */
static unsigned int parse_port(const char *p)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; p[i] >= '0' && p[i] <= '9' && i < 6; i++)
		v = v * 10 + (p[i] - '0');
	return i && !p[i] && v <= 65535 ? (unsigned int)v : 0;
}

/* Copies "[::1]"'s or "10.0.0.1:"'s address part; false if too long. */
static bool copy_host(char *dst, size_t size, const char *p, size_t len)
{
	if (len >= size)
		return false;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return true;
}

/* The address of "[ADDR:]PORT", or a reason why it is not one. */
static const char *parse_listen(const char *listen, union sockaddr_any *a)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *port = listen;
	int family = AF_INET;
	void *addr = &a->in.sin_addr;

	memset(a, 0, sizeof(*a));
	strcpy(host, "127.0.0.1");
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':' ||
		    !copy_host(host, sizeof(host), listen + 1,
			       close - listen - 1))
			return LISTEN_USAGE;
		port = close + 2;
		family = AF_INET6;
		addr = &a->in6.sin6_addr;
	} else if ((colon = strrchr(listen, ':'))) {
		if (memchr(listen, ':', colon - listen))
			return "an IPv6 address goes in brackets, e.g. [::1]:9100";
		if (!copy_host(host, sizeof(host), listen, colon - listen))
			return LISTEN_USAGE;
		port = colon + 1;
	}
	if (port[0] < '0' || port[0] > '9')
		return LISTEN_USAGE;
	a->sa.sa_family = family;
	a->in.sin_port = htons(parse_port(port));	/* same place in in6 */
	if (!a->in.sin_port)
		return "the port must be a number from 1 to 65535";
	if (inet_pton(family, host, addr) != 1)
		return family == AF_INET ?
		       "ADDR must be an IPv4 address like 127.0.0.1, or [IPv6]" :
		       "not an IPv6 address between the brackets";
	return NULL;
}

/* "127.0.0.1:9100" or "[::1]:9100": as the address is, canonically. */
static void format_addr(const union sockaddr_any *a, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	bool v6 = a->sa.sa_family == AF_INET6;

	inet_ntop(a->sa.sa_family,
		  v6 ? (const void *)&a->in6.sin6_addr :
		       (const void *)&a->in.sin_addr, host, sizeof(host));
	snprintf(out, size, v6 ? "[%s]:%u" : "%s:%u", host,
		 ntohs(a->in.sin_port));
}

static int listen_on(const union sockaddr_any *a)
{
	int one = 1;
	socklen_t len = a->sa.sa_family == AF_INET6 ? sizeof(a->in6) :
						      sizeof(a->in);
	int fd = socket(a->sa.sa_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* a restarted exporter must not wait out TIME_WAIT of its port */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, &a->sa, len) || listen(fd, 64)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int watch_listener(struct hl_httpd *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER_TAG };

	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epoll_fd < 0)
		return -1;
	return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev);
}

struct hl_httpd *hl_httpd_open(const char *listen, hl_httpd_body_fn body,
			       void *ctx, char *err, size_t errlen)
{
	union sockaddr_any a;
	const char *why = listen ? parse_listen(listen, &a) : LISTEN_USAGE;
	char where[INET6_ADDRSTRLEN + 8];
	struct hl_httpd *s;

	if (why) {
		snprintf(err, errlen, "invalid listen address '%s': %s",
			 listen ? listen : "", why);
		return NULL;
	}
	format_addr(&a, where, sizeof(where));
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "cannot listen on %s: %s", where,
			 strerror(ENOMEM));
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(s->conns); i++)
		s->conns[i].fd = -1;
	s->body_fn = body;
	s->ctx = ctx;
	s->epoll_fd = -1;
	s->listen_fd = listen_on(&a);
	if (s->listen_fd < 0 || watch_listener(s)) {
		snprintf(err, errlen, "cannot listen on %s: %s", where,
			 strerror(errno));
		hl_httpd_close(s);
		return NULL;
	}
	snprintf(s->url, sizeof(s->url), "http://%s/metrics", where);
	return s;
}

const char *hl_httpd_url(const struct hl_httpd *s)
{
	return s->url;
}

int hl_httpd_fd(const struct hl_httpd *s)
{
	return s->epoll_fd;
}

void hl_httpd_close(struct hl_httpd *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(s->conns); i++)
		if (s->conns[i].state != CONN_FREE)
			conn_close(&s->conns[i]);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	free(s);
}
