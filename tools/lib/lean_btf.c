// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Memory-lean kernel BTF: see lean_btf.h for what and why.
 *
 * The source is never copied whole. Where sysfs lets it be mapped (recent
 * kernels), the mapping shows the kernel's own pages and costs no RSS;
 * elsewhere the string section is read (names are looked up all over it)
 * and types are read as they are needed.
 *
 * One pass over the type headers notes where every 16th type starts and
 * takes as roots the INTs and FLOATs and the types named like a wanted
 * name (two hash filters leave strcmp a few dozen of ~70k names). A
 * worklist keeps what the roots reach, down to named structs, unions and
 * enums, which libbpf matches by name: those become placeholders of the
 * right kind and size. Kept types and such placeholders are copied aside
 * with their strings, and the source is let go before the result grows.
 *
 * The result grows in libbpf's own buffers: btf__add_type() for what was
 * copied aside, btf__add_btf() of ready-made BTFs of 1, 2, 4 ... 1024
 * anonymous "void *"s for the runs of other types in between. btf__new()
 * on an assembled blob would copy it, 1.5 MB more at the peak; one
 * btf__add_type() per type takes 40% longer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <linux/btf.h>
#include <linux/magic.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "lean_btf.h"

#define LB_DEFAULT_PATH	"/sys/kernel/btf/vmlinux"
#define LB_BUF_SZ	(256 * 1024)	/* read window; sysfs reads give 4 KB */
#define LB_NAME_MAX	1024	/* kernel symbols stop at KSYM_NAME_LEN (512) */
#define LB_HASH_BITS	14	/* per want filter: 2 KB */
#define LB_HASH_WORDS	4	/* the second filter hashes up to 32 bytes */
#define LB_RUNS		11	/* placeholder BTFs of 1, 2, 4 ... 1024 types */
#define LB_REACHED	0x80000000u	/* worklist item: reached, not a root */
#define LB_STRIDE	16	/* offsets kept of every 16th type */

/* What follows a btf_type, by kind: @one record of that many bytes, or
 * btf_vlen() records of @each bytes; the 32-bit words flagged in @refs of
 * each record are type ids, and so is btf_type.type if @self. */
static const struct lb_shape {
	uint8_t one, each, refs;
	bool self;
} shapes[32] = {	/* all 5-bit kinds: indexing needs no check */
	[BTF_KIND_INT]		= { 4, 0, 0, false },
	[BTF_KIND_PTR]		= { 0, 0, 0, true },
	[BTF_KIND_ARRAY]	= { 12, 0, 3, false },	/* type, index, n */
	[BTF_KIND_STRUCT]	= { 0, 12, 2, false },	/* name, type, off */
	[BTF_KIND_UNION]	= { 0, 12, 2, false },
	[BTF_KIND_ENUM]		= { 0, 8, 0, false },
	[BTF_KIND_FWD]		= { 0, 0, 0, false },
	[BTF_KIND_TYPEDEF]	= { 0, 0, 0, true },
	[BTF_KIND_VOLATILE]	= { 0, 0, 0, true },
	[BTF_KIND_CONST]	= { 0, 0, 0, true },
	[BTF_KIND_RESTRICT]	= { 0, 0, 0, true },
	[BTF_KIND_FUNC]		= { 0, 0, 0, true },
	[BTF_KIND_FUNC_PROTO]	= { 0, 8, 2, true },	/* name, type */
	[BTF_KIND_VAR]		= { 4, 0, 0, true },
	[BTF_KIND_DATASEC]	= { 0, 12, 1, false },	/* type, off, size */
	[BTF_KIND_FLOAT]	= { 0, 0, 0, false },
	[BTF_KIND_DECL_TAG]	= { 4, 0, 0, true },
	[BTF_KIND_TYPE_TAG]	= { 0, 0, 0, true },
	[BTF_KIND_ENUM64]	= { 0, 12, 0, false },	/* name, lo, hi */
};

struct lb_ctx {
	int fd;
	uint64_t file_len, type_start;
	uint32_t type_len, str_len;
	const unsigned char *map;	/* the whole file, if mapped */
	const char *strs;		/* string section, mapped or read */
	char *strs_buf;
	unsigned char *buf;		/* else a window on file bytes */
	uint64_t boff;			/* [boff, boff + blen) */
	size_t blen;
	uint32_t *offs;			/* of types 1, 17, 33 ... in the section */
	uint32_t nr_types;		/* with void */
	uint64_t *keep, *sized;		/* bitmaps over ids: kept, placeholder
					 * of the right kind and size */
	uint32_t *todo;			/* worklist */
	size_t ntodo, side_len;
	char *side;			/* ids and types copied aside */
	struct btf *names;		/* strings of the types copied aside */
	uint64_t filter[2][(1u << LB_HASH_BITS) / 64];
};

static char **wants;
static size_t nwants, wants_cap;
static bool want_active, want_failed, disabled;
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

/* Hash of the first @words 8-byte words of the name at @s, its NUL and
 * what follows left out, so that names need no strlen(); @s must be
 * readable that far. */
static uint32_t name_hash(const char *s, int words)
{
	uint64_t h = 0, w, z;

	do {
		memcpy(&w, s, sizeof(w));
		s += sizeof(w);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);	/* first byte lowest */
#endif
		/* exact for the lowest zero byte, which is all we use */
		z = (w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull;
		if (z)
			w &= ((z & -z) >> 7) - 1;
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	} while (!z && --words);
	return h >> (64 - LB_HASH_BITS);
}

static void filter_add(struct lb_ctx *c, const char *name)
{
	char pad[8 * LB_HASH_WORDS] = "";

	memcpy(pad, name, strnlen(name, sizeof(pad)));
	set_bit(c->filter[0], name_hash(pad, 1));
	set_bit(c->filter[1], name_hash(pad, LB_HASH_WORDS));
}

/* Is the name at @off wanted? The filters turn away all but a few dozen
 * of the kernel's names before any strcmp(). */
static bool wanted(const struct lb_ctx *c, uint32_t off)
{
	char pad[8 * LB_HASH_WORDS] = "";
	const char *s = c->strs + off;

	if (off >= c->str_len)
		return false;	/* only kept types' names must be valid */
	if (c->str_len - off < sizeof(pad))
		s = memcpy(pad, s, c->str_len - off);
	return bit(c->filter[0], name_hash(s, 1)) &&
	       bit(c->filter[1], name_hash(s, LB_HASH_WORDS)) &&
	       bsearch(s, wants, nwants, sizeof(*wants), cmp_key);
}

static int read_at(int fd, void *dst, size_t len, uint64_t off)
{
	ssize_t got;

	while (len) {
		got = pread(fd, dst, len, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got ? -errno : -EIO;
		dst = (char *)dst + got;
		len -= got;
		off += got;
	}
	return 0;
}

static const void *refill(struct lb_ctx *c, uint64_t off, size_t len,
			  size_t ahead)
{
	int err;

	ahead = ahead > len ? ahead : len;
	ahead = ahead < c->file_len - off ? ahead : c->file_len - off;
	ahead = ahead < LB_BUF_SZ ? ahead : LB_BUF_SZ;
	c->blen = 0;
	err = len > ahead ? -E2BIG : read_at(c->fd, c->buf, ahead, off);
	if (err) {
		errno = -err;
		return NULL;
	}
	c->boff = off;
	c->blen = ahead;
	return c->buf;
}

/* File bytes [@off, @off + @len), valid until the next call: from the
 * mapping, or read into the window, @ahead bytes if more. NULL and errno
 * on failure; callers keep within the file. */
static inline const void *at(struct lb_ctx *c, uint64_t off, size_t len,
			     size_t ahead)
{
	if (c->map)
		return c->map + off;
	if (off >= c->boff && off + len <= c->boff + c->blen)
		return c->buf + (off - c->boff);
	return refill(c, off, len, ahead);
}

static int open_btf(struct lb_ctx *c, const char *path)
{
	const struct btf_header *h;
	uint64_t str_start;
	struct statfs fs;
	struct stat st;
	void *map;
	int err;

	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0 || fstat(c->fd, &st))
		return -errno;
	c->file_len = st.st_size;
	/* sysfs maps the kernel's own pages, which cost no RSS; a regular
	 * file's page cache would count, so it is read instead */
	if (!fstatfs(c->fd, &fs) && fs.f_type == SYSFS_MAGIC) {
		map = mmap(NULL, c->file_len, PROT_READ, MAP_PRIVATE, c->fd, 0);
		c->map = map == MAP_FAILED ? NULL : map;
	}
	if (!c->map && !(c->buf = malloc(LB_BUF_SZ)))
		return -ENOMEM;
	if (c->file_len < sizeof(*h))
		return -EPROTO;
	h = at(c, 0, sizeof(*h), sizeof(*h));
	if (!h)
		return -errno;
	/* foreign-endian or odd files are left to libbpf */
	if (h->magic != BTF_MAGIC || h->hdr_len < sizeof(*h) ||
	    ((uint64_t)h->hdr_len + h->type_off) % 4 || !h->str_len ||
	    (uint64_t)h->type_off + h->type_len > h->str_off ||
	    (uint64_t)h->hdr_len + h->str_off + h->str_len > c->file_len)
		return -EPROTO;
	c->type_start = (uint64_t)h->hdr_len + h->type_off;
	c->type_len = h->type_len;
	c->str_len = h->str_len;
	str_start = (uint64_t)h->hdr_len + h->str_off;
	if (c->map) {
		c->strs = (const char *)c->map + str_start;
	} else {
		c->strs = c->strs_buf = malloc(c->str_len);
		if (!c->strs_buf)
			return -ENOMEM;
		err = read_at(c->fd, c->strs_buf, c->str_len, str_start);
		if (err)
			return err;
	}
	/* then every offset inside starts a string that ends inside */
	return c->strs[c->str_len - 1] ? -EPROTO : 0;
}

/* The shape of @t, NULL if unknown, and its size with what follows. */
static const struct lb_shape *shape(const struct btf_type *t, uint32_t *size)
{
	const struct lb_shape *s = &shapes[btf_kind(t)];

	/* branch-free: the type pass is one long chain of these */
	*size = sizeof(*t) + s->one + btf_vlen(t) * s->each;
	return btf_kind(t) && btf_kind(t) <= BTF_KIND_ENUM64 ? s : NULL;
}

/* Type @id, whole, as at() gives it, and its size. */
static const struct btf_type *type_at(struct lb_ctx *c, uint32_t id,
				      const struct lb_shape **s, uint32_t *size)
{
	uint64_t off = c->type_start + c->offs[(id - 1) / LB_STRIDE];
	uint32_t i = (id - 1) / LB_STRIDE * LB_STRIDE + 1;
	const struct btf_type *t;

	for (;; i++, off += *size) {
		t = at(c, off, sizeof(*t), 4096);
		if (!t)
			return NULL;
		*s = shape(t, size);	/* checked by scan_types() */
		if (i == id)
			break;
	}
	return *size > sizeof(*t) ? at(c, off, *size, 0) : t;
}

static void push(struct lb_ctx *c, uint32_t item)
{
	c->todo[c->ntodo++] = item;
	set_bit(c->keep, item & ~LB_REACHED);
}

static int scan_types(struct lb_ctx *c)
{
	const struct btf_type *t;
	uint32_t id, off, size;

	for (id = 1, off = 0; off < c->type_len; id++, off += size) {
		if (c->type_len - off < sizeof(*t))
			return -EINVAL;
		t = at(c, c->type_start + off, sizeof(*t), LB_BUF_SZ);
		if (!t)
			return -errno;
		if (!shape(t, &size))
			return -EOPNOTSUPP;
		if (size > c->type_len - off)
			return -EINVAL;
		if (!((id - 1) % LB_STRIDE))
			c->offs[(id - 1) / LB_STRIDE] = off;
		/* libbpf never looks these up in vmlinux BTF */
		if (btf_is_datasec(t) || btf_is_decl_tag(t))
			continue;
		if (btf_is_int(t) || btf_is_float(t) ||
		    (t->name_off && wanted(c, t->name_off)))
			push(c, id);
	}
	c->nr_types = id;
	return 0;
}

static int visit(struct lb_ctx *c, uint32_t ref)
{
	if (ref >= c->nr_types)
		return -EINVAL;
	if (ref && !bit(c->keep, ref) && !bit(c->sized, ref))
		push(c, ref | LB_REACHED);
	return 0;
}

static int reach(struct lb_ctx *c)
{
	const struct lb_shape *s;
	const struct btf_type *t;
	const uint32_t *rec, *end;
	uint32_t item, id, w, size;
	int err = 0;

	while (!err && c->ntodo) {
		item = c->todo[--c->ntodo];
		id = item & ~LB_REACHED;
		t = type_at(c, id, &s, &size);
		if (!t)
			return -errno;
		/* libbpf matches structs, unions and enums by name: reached
		 * ones are placeholders that keep what it compares them by */
		if (item & LB_REACHED && t->name_off &&
		    (btf_is_composite(t) || btf_is_any_enum(t))) {
			c->keep[id / 64] &= ~(1ull << (id % 64));
			set_bit(c->sized, id);
			continue;
		}
		err = s->self ? visit(c, t->type) : 0;
		end = (const uint32_t *)((const char *)t + size);
		for (rec = (const uint32_t *)(t + 1); s->refs && rec < end;
		     rec += (s->one + s->each) / 4)
			for (w = 0; w < 3; w++)
				if (!err && s->refs >> w & 1)
					err = visit(c, rec[w]);
	}
	return err;
}

/* The first id from @id on that is kept or sized, else nr_types. */
static uint32_t next_aside(const struct lb_ctx *c, uint32_t id)
{
	uint64_t w;

	for (; id < c->nr_types; id = (id | 63) + 1) {
		w = (c->keep[id / 64] | c->sized[id / 64]) >> (id % 64);
		if (w)
			return id + __builtin_ctzll(w);
	}
	return c->nr_types;
}

static int rename_str(struct lb_ctx *c, uint32_t *off)
{
	int n;

	if (!*off)
		return 0;
	if (*off >= c->str_len)
		return -EINVAL;
	n = btf__add_str(c->names, c->strs + *off);
	if (n < 0)
		return n;
	*off = n;
	return 0;
}

/* Copy kept types, with their strings moved to c->names, and sized
 * placeholders aside in id order, each after its id. */
static int collect(struct lb_ctx *c)
{
	const struct lb_shape *s;
	const struct btf_type *t;
	uint32_t id, size, *name;
	struct btf_type *d;
	int err;

	c->names = btf__new_empty();
	if (!c->names)
		return -ENOMEM;
	for (id = next_aside(c, 1); id < c->nr_types; id = next_aside(c, id + 1)) {
		t = type_at(c, id, &s, &size);
		if (!t)
			return -errno;
		if (bit(c->sized, id))
			size = sizeof(*t);
		memcpy(c->side + c->side_len, &id, sizeof(id));
		d = memcpy(c->side + c->side_len + sizeof(id), t, size);
		c->side_len += sizeof(id) + size;
		if (bit(c->sized, id)) {
			d->name_off = 0;
			d->info &= ~0xffffu;	/* no members */
			continue;
		}
		err = rename_str(c, &d->name_off);
		/* member, enumerator and parameter records lead with a name */
		for (name = (uint32_t *)(d + 1); !err && s->each &&
		     !btf_is_datasec(d) && name < (uint32_t *)((char *)d + size);
		     name += s->each / 4)
			err = rename_str(c, name);
		if (err)
			return err;
	}
	return 0;
}

static void drop_source(struct lb_ctx *c)
{
	if (c->map)
		munmap((void *)c->map, c->file_len);
	if (c->fd >= 0)
		close(c->fd);
	free(c->strs_buf);
	free(c->buf);
	free(c->offs);
	free(c->todo);
	free(c->keep);
	free(c->sized);
}

/* Append @len placeholders from run[k], BTFs of 2^k of them. */
static int add_run(struct btf *btf, struct btf **run, uint32_t len)
{
	int k, err;

	for (k = LB_RUNS - 1; k >= 0; k--) {
		for (; len >= 1u << k; len -= 1u << k) {
			err = btf__add_btf(btf, run[k]);
			if (err < 0)
				return err;
		}
	}
	return 0;
}

static int emit(struct lb_ctx *c, struct btf *btf)
{
	struct btf *run[LB_RUNS] = { NULL };
	uint32_t id, next = 1, i, size;
	const size_t max = 1u << (LB_RUNS - 1);
	struct btf_header *h;
	struct btf_type *t;
	size_t pos = 0;
	int k, err = 0;

	/* 1024 placeholders and a NUL: ending the type section after 2^k of
	 * them leaves a string section of one NUL (the next name_off's) */
	h = calloc(1, sizeof(*h) + max * sizeof(*t) + 1);
	if (!h)
		return -ENOMEM;
	h->magic = BTF_MAGIC;
	h->version = BTF_VERSION;
	h->hdr_len = sizeof(*h);
	h->str_len = 1;
	for (t = (void *)(h + 1), i = 0; i < max; i++)
		t[i].info = BTF_KIND_PTR << 24;
	for (k = 0; k < LB_RUNS && !err; k++) {
		h->type_len = h->str_off = sizeof(*t) << k;
		run[k] = btf__new(h, sizeof(*h) + h->type_len + 1);
		err = run[k] ? 0 : -errno;
	}
	free(h);
	while (!err && pos < c->side_len) {
		memcpy(&id, c->side + pos, sizeof(id));
		t = (void *)(c->side + pos + sizeof(id));
		shape(t, &size);
		pos += sizeof(id) + size;
		err = add_run(btf, run, id - next);
		if (!err) {
			err = btf__add_type(btf, c->names, t);
			err = err < 0 ? err : (uint32_t)err == id ? 0 : -EINVAL;
		}
		next = id + 1;
	}
	if (!err)
		err = add_run(btf, run, c->nr_types - next);
	for (k = 0; k < LB_RUNS; k++)
		btf__free(run[k]);
	return err;
}

struct btf *lean_btf_load(void)
{
	struct btf *btf = NULL;
	struct lb_ctx *c;
	size_t i, j, max;
	int err;

	if (want_failed) {
		errno = ENOMEM;
		return NULL;
	}
#ifdef __GLIBC__
	/* Blocks from 4 KiB up are mmap()ed for now, so that the arrays of
	 * the result grow by mremap() instead of moving through the heap and
	 * leaving holes there. */
	mallopt(M_MMAP_THRESHOLD, 4096);
#endif
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = -1;
	if (nwants)
		qsort(wants, nwants, sizeof(*wants), cmp_str);
	for (i = j = 0; i < nwants; i++) {	/* wants repeat across objects */
		if (j && !strcmp(wants[j - 1], wants[i]))
			free(wants[i]);
		else
			wants[j++] = wants[i];
	}
	nwants = j;
	for (i = 0; i < nwants; i++)
		filter_add(c, wants[i]);
	err = open_btf(c, btf_path ? btf_path : LB_DEFAULT_PATH);
	if (!err) {
		/* sized for the worst case: only what is written is resident */
		max = c->type_len / sizeof(struct btf_type) + 2;
		c->offs = malloc((max / LB_STRIDE + 1) * sizeof(*c->offs));
		c->keep = calloc(max / 64 + 1, sizeof(uint64_t));
		c->sized = calloc(max / 64 + 1, sizeof(uint64_t));
		c->todo = malloc(max * sizeof(*c->todo));
		c->side = malloc(c->type_len + max * sizeof(uint32_t));
		err = c->offs && c->keep && c->sized && c->todo && c->side ?
		      scan_types(c) : -ENOMEM;
	}
	if (!err)
		err = reach(c);
	if (!err)
		err = collect(c);
	drop_source(c);		/* before the result grows to its peak */
	if (!err) {
		btf = btf__new_empty();
		err = btf ? emit(c, btf) : -ENOMEM;
	}
#ifdef __GLIBC__
	/* Pinned, not left to glibc, which raises the threshold to the size
	 * of a large block freed (a previous lean BTF, say): a result would
	 * then grow in the heap by copying, 1.5 MB more at the peak. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	btf__free(c->names);
	free(c->side);
	free(c);
	if (err) {
		btf__free(btf);
		errno = -err;
		return NULL;
	}
	return btf;
}

void lean_btf_disable(void)
{
	disabled = true;
}

int lean_btf_count_named(int kind, const char *const *names)
{
	struct lb_ctx c = { .fd = -1 };
	const struct btf_type *t;
	uint32_t off, size;
	int err, found = 0, want = 0;

	while (names[want])
		want++;
	err = open_btf(&c, btf_path ? btf_path : LB_DEFAULT_PATH);
	for (off = 0; !err && found < want && off < c.type_len; off += size) {
		t = c.type_len - off < sizeof(*t) ? NULL :
		    at(&c, c.type_start + off, sizeof(*t), LB_BUF_SZ);
		if (!t || !shape(t, &size) || size > c.type_len - off)
			err = t ? -EINVAL : -EIO;
		else if (btf_kind(t) == kind && t->name_off < c.str_len)
			for (int i = 0; i < want; i++)
				found += !strcmp(c.strs + t->name_off,
						 names[i]);
	}
	drop_source(&c);
	return err ? err : found;
}

/* The members of struct @t, whose header is at @off: 1 if one is named
 * @member. */
static int struct_has(struct lb_ctx *c, uint32_t off, uint32_t vlen,
		      const char *member)
{
	const struct btf_member *m = at(c, c->type_start + off +
					sizeof(struct btf_type),
					vlen * sizeof(*m), LB_BUF_SZ);

	for (uint32_t i = 0; m && i < vlen; i++)
		if (m[i].name_off < c->str_len &&
		    !strcmp(c->strs + m[i].name_off, member))
			return 1;
	return 0;
}

int lean_btf_has_member(const char *sname, const char *member)
{
	struct lb_ctx c = { .fd = -1 };
	const struct btf_type *t;
	uint32_t off, size;
	int err, found = -ENOENT;

	err = open_btf(&c, btf_path ? btf_path : LB_DEFAULT_PATH);
	for (off = 0; !err && found < 0 && off < c.type_len; off += size) {
		t = c.type_len - off < sizeof(*t) ? NULL :
		    at(&c, c.type_start + off, sizeof(*t), LB_BUF_SZ);
		if (!t || !shape(t, &size) || size > c.type_len - off)
			err = t ? -EINVAL : -EIO;
		else if (btf_is_struct(t) && t->name_off < c.str_len &&
			 !strcmp(c.strs + t->name_off, sname))
			found = struct_has(&c, off, btf_vlen(t), member);
	}
	drop_source(&c);
	return err ? err : found < 0 ? 0 : found;
}

/* Type @id's header, or with @name that of the first typedef so named,
 * copied to @out: one pass over the headers. 0 or -errno. */
static int find_type(struct lb_ctx *c, uint32_t id, const char *name,
		     struct btf_type *out)
{
	const struct btf_type *t;
	uint32_t i, off, size;

	for (i = 1, off = 0; off < c->type_len; i++, off += size) {
		t = c->type_len - off < sizeof(*t) ? NULL :
		    at(c, c->type_start + off, sizeof(*t), LB_BUF_SZ);
		if (!t || !shape(t, &size) || size > c->type_len - off)
			return t ? -EINVAL : -EIO;
		if (name ? btf_is_typedef(t) && t->name_off < c->str_len &&
			   !strcmp(c->strs + t->name_off, name) : i == id) {
			*out = *t;
			return 0;
		}
	}
	return -ENOENT;
}

int lean_btf_proto_params(const char *name)
{
	struct lb_ctx c = { .fd = -1 };
	struct btf_type t;
	int err;

	err = open_btf(&c, btf_path ? btf_path : LB_DEFAULT_PATH);
	if (!err)
		err = find_type(&c, 0, name, &t);
	if (!err)
		err = find_type(&c, t.type, NULL, &t);
	if (!err && btf_is_ptr(&t))
		err = find_type(&c, t.type, NULL, &t);
	if (!err && !btf_is_func_proto(&t))
		err = -EPROTO;
	drop_source(&c);
	return err ? err : (int)btf_vlen(&t);
}

int lean_btf_has_func(const char *name)
{
	const char *const names[] = { name, NULL };

	return lean_btf_count_named(BTF_KIND_FUNC, names);
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

	if (want_active && !disabled) {
		btf = lean_btf_load();
		if (btf)
			return btf;
	}
	/* libbpf's own loader, under its other, never diverted, name */
	return btf_path ? btf__parse(btf_path, NULL) : libbpf_find_kernel_btf();
}
