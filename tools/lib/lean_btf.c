// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Memory-lean kernel BTF: see lean_btf.h for what and why.
 *
 * The source BTF is never held in memory. Its string section is streamed
 * once to find where the wanted names are; its type section is streamed
 * until reachability settles (a kept type keeps what it refers to, down to
 * named structs, unions and enums, which libbpf matches by name), then once
 * more to copy each type, kept or reduced to a placeholder, into the result
 * with btf__add_type(). That grows libbpf's buffers in place, where
 * btf__new() on assembled bytes would copy them: one copy of the result is
 * the whole cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/btf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "lean_btf.h"

#define LB_DEFAULT_PATH	"/sys/kernel/btf/vmlinux"
#define LB_BUF_SZ	(32 * 1024)
#define LB_NAME_MAX	1024	/* kernel symbols stop at KSYM_NAME_LEN (512) */

/* What follows a btf_type, by kind: records of @sz bytes, one per
 * btf_vlen() if @list, else exactly one; the 32-bit words flagged in @refs
 * are type ids, and so is btf_type.type if @self. */
static const struct lb_shape {
	uint8_t sz, refs;
	bool list, self;
} shapes[] = {
	[BTF_KIND_INT]		= { 4, 0, false, false },
	[BTF_KIND_PTR]		= { 0, 0, false, true },
	[BTF_KIND_ARRAY]	= { 12, 3, false, false }, /* type, index, n */
	[BTF_KIND_STRUCT]	= { 12, 2, true, false },  /* name, type, off */
	[BTF_KIND_UNION]	= { 12, 2, true, false },
	[BTF_KIND_ENUM]		= { 8, 0, true, false },
	[BTF_KIND_FWD]		= { 0, 0, false, false },
	[BTF_KIND_TYPEDEF]	= { 0, 0, false, true },
	[BTF_KIND_VOLATILE]	= { 0, 0, false, true },
	[BTF_KIND_CONST]	= { 0, 0, false, true },
	[BTF_KIND_RESTRICT]	= { 0, 0, false, true },
	[BTF_KIND_FUNC]		= { 0, 0, false, true },
	[BTF_KIND_FUNC_PROTO]	= { 8, 2, true, true },    /* name, type */
	[BTF_KIND_VAR]		= { 4, 0, false, true },
	[BTF_KIND_DATASEC]	= { 12, 1, true, false },  /* type, off, size */
	[BTF_KIND_FLOAT]	= { 0, 0, false, false },
	[BTF_KIND_DECL_TAG]	= { 4, 0, false, true },
	[BTF_KIND_TYPE_TAG]	= { 0, 0, false, true },
	[BTF_KIND_ENUM64]	= { 12, 0, true, false },  /* name, lo, hi */
};

struct lb_ctx {
	int fd;
	uint64_t type_start, str_start;
	uint32_t type_len, str_len;
	uint32_t *offs;		/* string offsets of wanted names, ascending */
	size_t noffs, offs_cap;
	uint64_t *reached, *keep;	/* bitmaps over type ids */
	uint32_t nr_types;	/* with void; 0 until the first pass ends */
	uint32_t max_types;
	void *tbuf;		/* the type being looked at, whole */
	size_t tbuf_sz;
	uint64_t next, end;	/* buffered reader: file offsets */
	size_t len, pos;
	unsigned char buf[LB_BUF_SZ];
};

static char **wants;
static size_t nwants, wants_cap;
static bool want_active, want_failed;
static char *btf_path;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_key(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

static void want_add(const char *s, size_t len)
{
	char **p;

	want_active = true;
	if (!len || len >= LB_NAME_MAX)
		return;
	if (nwants == wants_cap) {
		wants_cap = wants_cap ? wants_cap * 2 : 256;
		p = realloc(wants, wants_cap * sizeof(*p));
		if (!p) {
			want_failed = true;
			return;
		}
		wants = p;
	}
	wants[nwants] = strndup(s, len);
	if (!wants[nwants])
		want_failed = true;
	else
		nwants++;
}

void lean_btf_want_name(const char *name)
{
	want_add(name, strlen(name));
}

/* Program section names map to the kernel names libbpf looks up. */
static void want_section(const char *sec)
{
	static const char *const map[][2] = {
		{ "tp_btf/", "btf_trace_" },
		{ "fentry/", "" }, { "fentry.s/", "" },
		{ "fexit/", "" }, { "fexit.s/", "" },
		{ "fmod_ret/", "" }, { "fmod_ret.s/", "" },
		{ "lsm/", "bpf_lsm_" }, { "lsm.s/", "bpf_lsm_" },
		{ "iter/", "bpf_iter_" }, { "iter.s/", "bpf_iter_" },
	};
	char name[LB_NAME_MAX];
	size_t i, n;
	int len;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		n = strlen(map[i][0]);
		if (strncmp(sec, map[i][0], n))
			continue;
		len = snprintf(name, sizeof(name), "%s%s", map[i][1], sec + n);
		if (len > 0 && (size_t)len < sizeof(name))
			want_add(name, len);
	}
}

void lean_btf_want(const struct btf *local)
{
	__u32 id, n = btf__type_cnt(local), off = 0;
	const struct btf_type *t;
	const char *s, *flavor;

	want_active = true;
	for (id = 1; id < n; id++) {
		t = btf__type_by_id(local, id);
		if (!t) {
			want_failed = true;
			return;
		}
		switch (btf_kind(t)) {
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64: case BTF_KIND_TYPEDEF: case BTF_KIND_FWD:
		case BTF_KIND_VAR: case BTF_KIND_FUNC:
			break;
		default:
			continue;
		}
		s = btf__name_by_offset(local, t->name_off);
		if (!s)
			continue;
		flavor = strstr(s, "___");
		want_add(s, flavor ? (size_t)(flavor - s) : strlen(s));
	}
	/* .BTF.ext names the program sections in this same string table */
	while ((s = btf__str_by_offset(local, off))) {
		want_section(s);
		off += strlen(s) + 1;
	}
}

void lean_btf_set_path(const char *path)
{
	free(btf_path);
	btf_path = path ? strdup(path) : NULL;
	if (path && !btf_path)
		want_failed = true;
}

static bool bit(const uint64_t *map, uint32_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static void set_bit(uint64_t *map, uint32_t i)
{
	map[i / 64] |= 1ull << (i % 64);
}

static void rd_start(struct lb_ctx *c, uint64_t start, uint32_t len)
{
	c->next = start;
	c->end = start + len;
	c->len = c->pos = 0;
}

static bool rd_eof(const struct lb_ctx *c)
{
	return c->pos == c->len && c->next == c->end;
}

static int rd_read(struct lb_ctx *c, void *dst, size_t n)
{
	unsigned char *d = dst;
	ssize_t got;
	size_t k;

	while (n) {
		if (c->pos == c->len) {
			k = c->end - c->next < LB_BUF_SZ ? c->end - c->next
							 : LB_BUF_SZ;
			if (!k)
				return -EINVAL;	/* record runs past its section */
			got = pread(c->fd, c->buf, k, c->next);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return got ? -errno : -EIO;
			c->next += got;
			c->len = got;
			c->pos = 0;
		}
		k = n < c->len - c->pos ? n : c->len - c->pos;
		memcpy(d, c->buf + c->pos, k);
		c->pos += k;
		d += k;
		n -= k;
	}
	return 0;
}

static int get_name(struct lb_ctx *c, uint32_t off, char *name)
{
	ssize_t got;
	size_t n;

	name[0] = '\0';
	if (!off)
		return 0;
	if (off >= c->str_len)
		return -EINVAL;
	n = c->str_len - off < LB_NAME_MAX ? c->str_len - off : LB_NAME_MAX;
	got = pread(c->fd, name, n, c->str_start + off);
	if (got < 0)
		return -errno;
	return memchr(name, '\0', got) ? 0 : -ENAMETOOLONG;
}

static int scan_strings(struct lb_ctx *c)
{
	char name[LB_NAME_MAX], ch;
	uint32_t off, start = 0, *p;
	size_t nlen = 0;
	int err;

	rd_start(c, c->str_start, c->str_len);
	for (off = 0; off < c->str_len; off++) {
		if (c->pos < c->len) {
			ch = c->buf[c->pos++];
		} else {
			err = rd_read(c, &ch, 1);
			if (err)
				return err;
		}
		if (nlen < sizeof(name))
			name[nlen] = ch;
		nlen++;
		if (ch)
			continue;
		if (nlen <= sizeof(name) && nwants &&
		    bsearch(name, wants, nwants, sizeof(*wants), cmp_key)) {
			if (c->noffs == c->offs_cap) {
				c->offs_cap = c->offs_cap ? c->offs_cap * 2 : 256;
				p = realloc(c->offs, c->offs_cap * sizeof(*p));
				if (!p)
					return -ENOMEM;
				c->offs = p;
			}
			c->offs[c->noffs++] = start;
		}
		nlen = 0;
		start = off + 1;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Read the next type, head and records, into c->tbuf. */
static int read_type(struct lb_ctx *c, struct btf_type **t,
		     const struct lb_shape **s, uint32_t *n)
{
	struct btf_type head;
	size_t need;
	void *p;
	int err;

	err = rd_read(c, &head, sizeof(head));
	if (err)
		return err;
	if (!btf_kind(&head) ||
	    btf_kind(&head) >= sizeof(shapes) / sizeof(shapes[0]))
		return -EOPNOTSUPP;
	*s = &shapes[btf_kind(&head)];
	*n = (*s)->list ? btf_vlen(&head) : !!(*s)->sz;
	need = sizeof(head) + (size_t)*n * (*s)->sz;
	if (need > c->tbuf_sz) {
		p = realloc(c->tbuf, need);
		if (!p)
			return -ENOMEM;
		c->tbuf = p;
		c->tbuf_sz = need;
	}
	*t = c->tbuf;
	**t = head;
	return rd_read(c, *t + 1, need - sizeof(head));
}

static int mark(struct lb_ctx *c, uint32_t id, uint32_t ref, bool *again)
{
	if (ref >= (c->nr_types ? c->nr_types : c->max_types))
		return -EINVAL;
	if (ref && !bit(c->reached, ref)) {
		set_bit(c->reached, ref);
		*again |= ref <= id;	/* already passed: needs another pass */
	}
	return 0;
}

static int mark_pass(struct lb_ctx *c, bool *again)
{
	const struct lb_shape *s;
	struct btf_type *t;
	uint32_t id, i, w, n, *rec;
	bool keep;
	int err;

	*again = false;
	rd_start(c, c->type_start, c->type_len);
	for (id = 1; !rd_eof(c); id++) {
		if (id >= c->max_types)
			return -EINVAL;
		err = read_type(c, &t, &s, &n);
		if (err)
			return err;
		keep = bit(c->keep, id);
		if (!keep && !c->nr_types)
			keep = btf_is_int(t) || btf_is_float(t) ||
			       (t->name_off && bsearch(&t->name_off, c->offs,
						       c->noffs, sizeof(*c->offs),
						       cmp_u32));
		/* named aggregates reached from kept types stay placeholders */
		if (!keep && bit(c->reached, id))
			keep = !t->name_off || !(btf_is_composite(t) ||
						 btf_is_any_enum(t));
		/* libbpf never looks these up in vmlinux BTF */
		if (!keep || btf_is_datasec(t) || btf_is_decl_tag(t))
			continue;
		set_bit(c->keep, id);
		err = s->self ? mark(c, id, t->type, again) : 0;
		rec = (uint32_t *)(t + 1);
		for (i = 0; i < n; i++, rec += s->sz / 4)
			for (w = 0; w < 3; w++)
				if (!err && (s->refs >> w & 1))
					err = mark(c, id, rec[w], again);
		if (err)
			return err;
	}
	if (!c->nr_types) {
		c->nr_types = id;
		for (i = id; i < c->max_types; i++)
			if (bit(c->reached, i))
				return -EINVAL;	/* reference past the end */
	}
	return 0;
}

/* Point *@off at the same string in @names, the scratch BTF whose strings
 * btf__add_type() copies into the result. */
static int rename_str(struct lb_ctx *c, struct btf *names, uint32_t *off)
{
	char name[LB_NAME_MAX];
	int err;

	if (!*off)
		return 0;
	err = get_name(c, *off, name);
	if (err)
		return err;
	err = btf__add_str(names, name);
	if (err < 0)
		return err;
	*off = err;
	return 0;
}

static int emit_pass(struct lb_ctx *c, struct btf *btf, struct btf *names)
{
	const struct lb_shape *s;
	struct btf_type *t;
	uint32_t id, i, n, *rec;
	int err;

	rd_start(c, c->type_start, c->type_len);
	for (id = 1; id < c->nr_types; id++) {
		err = read_type(c, &t, &s, &n);
		if (err)
			return err;
		if (!bit(c->keep, id)) {
			/* Kept types may point here: keep what libbpf's
			 * compatibility checks compare, kind and size, but
			 * no name and no members. */
			t->name_off = 0;
			if (btf_is_composite(t) || btf_is_any_enum(t)) {
				t->info &= ~0xffffu;
			} else {
				t->info = BTF_KIND_PTR << 24;
				t->type = 0;
			}
		} else {
			err = rename_str(c, names, &t->name_off);
			rec = (uint32_t *)(t + 1);
			/* member, enumerator and parameter records lead
			 * with a name */
			for (i = 0; !err && s->list && !btf_is_datasec(t) &&
			     i < n; i++, rec += s->sz / 4)
				err = rename_str(c, names, rec);
			if (err)
				return err;
		}
		err = btf__add_type(btf, names, t);
		if (err < 0)
			return err;
		if ((uint32_t)err != id)
			return -EINVAL;
	}
	return 0;
}

static int open_btf(struct lb_ctx *c, const char *path)
{
	struct btf_header h;
	struct stat st;
	ssize_t got;

	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0 || fstat(c->fd, &st))
		return -errno;
	got = pread(c->fd, &h, sizeof(h), 0);
	if (got < 0)
		return -errno;
	/* foreign-endian or odd files are left to libbpf */
	if (got != (ssize_t)sizeof(h) || h.magic != BTF_MAGIC ||
	    h.hdr_len < sizeof(h) || h.type_off % 4 ||
	    (uint64_t)h.type_off + h.type_len > h.str_off ||
	    (uint64_t)h.hdr_len + h.str_off + h.str_len > (uint64_t)st.st_size)
		return -EPROTO;
	c->type_start = (uint64_t)h.hdr_len + h.type_off;
	c->str_start = (uint64_t)h.hdr_len + h.str_off;
	c->type_len = h.type_len;
	c->str_len = h.str_len;
	c->max_types = h.type_len / sizeof(struct btf_type) + 2;
	return 0;
}

struct btf *lean_btf_load(void)
{
	struct btf *btf = NULL, *names = NULL;
	bool again = true;
	struct lb_ctx *c;
	size_t i, j, words;
	int err;

	if (want_failed) {
		errno = ENOMEM;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (nwants)
		qsort(wants, nwants, sizeof(*wants), cmp_str);
	for (i = j = 0; i < nwants; i++) {	/* wants repeat across objects */
		if (j && !strcmp(wants[j - 1], wants[i]))
			free(wants[i]);
		else
			wants[j++] = wants[i];
	}
	nwants = j;
	err = open_btf(c, btf_path ? btf_path : LB_DEFAULT_PATH);
	if (!err) {
		words = c->max_types / 64 + 1;
		c->reached = calloc(words, sizeof(uint64_t));
		c->keep = calloc(words, sizeof(uint64_t));
		err = c->reached && c->keep ? scan_strings(c) : -ENOMEM;
	}
	while (!err && again)
		err = mark_pass(c, &again);
	if (!err) {
		btf = btf__new_empty();
		names = btf__new_empty();
		err = btf && names ? emit_pass(c, btf, names) : -ENOMEM;
	}
	if (c->fd >= 0)
		close(c->fd);
	btf__free(names);
	free(c->tbuf);
	free(c->reached);
	free(c->keep);
	free(c->offs);
	free(c);
	if (err) {
		btf__free(btf);
		errno = -err;
		return NULL;
	}
	return btf;
}

#ifdef HL_STATIC
/* -Wl,--wrap=btf__load_vmlinux_btf sends libbpf.a's calls here */
struct btf *__wrap_btf__load_vmlinux_btf(void);
struct btf *__wrap_btf__load_vmlinux_btf(void)
#else
/* the executable's definition takes libbpf.so's call through its PLT */
struct btf *btf__load_vmlinux_btf(void)
#endif
{
	struct btf *btf;

	if (want_active) {
		btf = lean_btf_load();
		if (btf)
			return btf;
	}
	/* libbpf's own loader, under its other, never diverted, name */
	return btf_path ? btf__parse(btf_path, NULL) : libbpf_find_kernel_btf();
}
