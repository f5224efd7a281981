// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Finding the running copies of a binary (see copies.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "copies.h"
#include "elfsym.h"

#define ID_MAX 64

/* What a copy must match, and the files already looked at. */
struct search {
	struct stat ref;
	dev_t mapped_dev;	/* the reference as maps lines name it */
	ino_t mapped_ino;
	uint8_t id[ID_MAX];
	int id_len;
	struct { dev_t dev; ino_t ino; } *seen;
	size_t nseen, cap;
	struct hl_copies *out;
};

/* True the first time (dev, ino) is asked about. */
static bool first_look(struct search *s, dev_t dev, ino_t ino)
{
	void *grown;

	for (size_t i = 0; i < s->nseen; i++)
		if (s->seen[i].dev == dev && s->seen[i].ino == ino)
			return false;
	if (s->nseen == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		grown = realloc(s->seen, s->cap * sizeof(*s->seen));
		if (!grown)
			return false;
		s->seen = grown;
	}
	s->seen[s->nseen].dev = dev;
	s->seen[s->nseen++].ino = ino;
	return true;
}

/* A path from here to the file mapped at [start, end) of pid from
 * inode ino, if it has the reference's size; NULL otherwise. */
static char *same_size_path(const struct search *s, pid_t pid,
			    const char *name, unsigned long start,
			    unsigned long end, ino_t ino)
{
	struct stat st;
	char *p = NULL;

	if (asprintf(&p, "/proc/%d/root%s", (int)pid, name) >= 0 &&
	    !stat(p, &st) && st.st_ino == ino) {
		if (st.st_size == s->ref.st_size)
			return p;
		free(p);
		return NULL;
	}
	free(p);
	if (asprintf(&p, "/proc/%d/map_files/%lx-%lx", (int)pid, start,
		     end) < 0)
		return NULL;
	if (!stat(p, &st) && st.st_size == s->ref.st_size)
		return p;
	free(p);
	return NULL;
}

static int add_copy(struct hl_copies *c, char *path, pid_t pid)
{
	char **paths = realloc(c->paths, (c->n + 1) * sizeof(*paths));
	pid_t *pids;

	if (paths)
		c->paths = paths;
	pids = paths ? realloc(c->pids, (c->n + 1) * sizeof(*pids)) : NULL;
	if (!pids) {
		free(path);
		return -ENOMEM;
	}
	c->pids = pids;
	c->paths[c->n] = path;
	c->pids[c->n++] = pid;
	return 0;
}

/* One line of /proc/PID/maps. */
static int look_at(struct search *s, pid_t pid, const char *line)
{
	unsigned long start, end, ino;
	unsigned int maj, min;
	uint8_t id[ID_MAX];
	char *path;
	int pos;

	if (sscanf(line, "%lx-%lx %*s %*x %x:%x %lu %n", &start, &end, &maj,
		   &min, &ino, &pos) != 5 || line[pos] != '/')
		return 0;
	if ((makedev(maj, min) == s->ref.st_dev && ino == s->ref.st_ino) ||
	    (makedev(maj, min) == s->mapped_dev && ino == s->mapped_ino) ||
	    !first_look(s, makedev(maj, min), ino))
		return 0;
	path = same_size_path(s, pid, line + pos, start, end, ino);
	if (!path)
		return 0;
	if (hl_elf_build_id(path, id, sizeof(id)) != s->id_len ||
	    memcmp(id, s->id, s->id_len)) {
		free(path);
		return 0;
	}
	return add_copy(s->out, path, pid);
}

static int scan_process(struct search *s, pid_t pid)
{
	char maps[32], *line = NULL;
	size_t len = 0;
	int err = 0;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return 0;	/* gone, or a kernel thread */
	while (!err && getline(&line, &len, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		err = look_at(s, pid, line);
	}
	free(line);
	fclose(f);
	return err;
}

/*
 * How /proc/PID/maps names a mapping of the file at path: by the file's
 * own device and inode, except on an overlay, whose mappings are of the
 * file underneath (an overlay root: a container's, or a test guest's).
 * Found by mapping one page of it here.
 */
static void mapped_identity(const char *path, struct search *s)
{
	unsigned long start, ino;
	unsigned int maj, min;
	char *line = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p = fd < 0 ? MAP_FAILED :
		  mmap(NULL, 1, PROT_READ, MAP_PRIVATE, fd, 0);
	FILE *f = p == MAP_FAILED ? NULL : fopen("/proc/self/maps", "re");

	s->mapped_dev = s->ref.st_dev;
	s->mapped_ino = s->ref.st_ino;
	while (f && getline(&line, &len, f) > 0)
		if (sscanf(line, "%lx-%*x %*s %*x %x:%x %lu", &start, &maj, &min,
			   &ino) == 4 && start == (unsigned long)p) {
			s->mapped_dev = makedev(maj, min);
			s->mapped_ino = ino;
			break;
		}
	free(line);
	if (f)
		fclose(f);
	if (p != MAP_FAILED)
		munmap(p, 1);
	if (fd >= 0)
		close(fd);
}

int hl_copies_find(const char *path, struct hl_copies *out)
{
	struct search s = { .out = out };
	struct dirent *de;
	int err = 0;
	DIR *d;

	memset(out, 0, sizeof(*out));
	if (stat(path, &s.ref))
		return -errno;
	s.id_len = hl_elf_build_id(path, s.id, sizeof(s.id));
	if (s.id_len <= 0)
		return s.id_len ? s.id_len : -ENOENT;
	mapped_identity(path, &s);
	d = opendir("/proc");
	if (!d)
		return -errno;
	while (!err && (de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]))
			err = scan_process(&s, atoi(de->d_name));
	closedir(d);
	free(s.seen);
	if (err)
		hl_copies_free(out);
	return err;
}

void hl_copies_free(struct hl_copies *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->pids);
	memset(c, 0, sizeof(*c));
}
