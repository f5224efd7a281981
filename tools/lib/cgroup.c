// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "cgroup.h"

static int is_cgroup2(const char *path, struct stat *st)
{
	struct statfs fs;

	return !statfs(path, &fs) && fs.f_type == CGROUP2_SUPER_MAGIC &&
	       !stat(path, st) && S_ISDIR(st->st_mode);
}

int hl_cgroup_lookup(const char *path, uint64_t *id, uint32_t *level)
{
	char real[PATH_MAX], alt[PATH_MAX], *slash;
	struct stat st, up;
	uint32_t depth = 0;

	if (path[0] != '/' && snprintf(alt, sizeof(alt), "%s/%s",
				       HL_CGROUP_ROOT, path) < (int)sizeof(alt) &&
	    !access(alt, F_OK))
		path = alt;
	if (!realpath(path, real) || !is_cgroup2(real, &st))
		return -1;
	*id = st.st_ino;
	/* Depth = cgroup2 directories above this one on the same mount. */
	while ((slash = strrchr(real, '/')) && slash != real) {
		*slash = '\0';
		if (!is_cgroup2(real, &up) || up.st_dev != st.st_dev)
			break;
		depth++;
	}
	*level = depth;
	return 0;
}

static int find_id(char *path, size_t len, uint64_t id, int depth)
{
	size_t base = strlen(path);
	struct dirent *de;
	struct stat st;
	int found = 0;
	DIR *d;

	if (depth > 32 || !(d = opendir(path)))
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path + base, len - base, "/%s",
				     de->d_name) >= len - base)
			continue;
		if (!stat(path, &st) && st.st_ino == id)
			found = 1;
		else
			found = find_id(path, len, id, depth + 1);
		if (!found)
			path[base] = '\0';
	}
	closedir(d);
	return found;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void resolve(uint64_t id, char *buf, size_t len)
{
	char path[PATH_MAX] = HL_CGROUP_ROOT;
	struct stat st;
	size_t root = strlen(HL_CGROUP_ROOT);

	if (!stat(path, &st) && st.st_ino == id)
		snprintf(buf, len, "/");
	else if (find_id(path, sizeof(path), id, 0))
		copy_str(buf, len, path + root);
	else
		snprintf(buf, len, "cgroup:%llu", (unsigned long long)id);
}

/* Reports name the same cgroups again and again; walking the cgroup tree
 * for each would cost a directory scan per histogram. */
#define NAME_CACHE 128

void hl_cgroup_name(uint64_t id, char *buf, size_t len)
{
	static struct {
		uint64_t id;
		char name[256];
	} cache[NAME_CACHE];
	size_t i = id % NAME_CACHE;

	if (cache[i].id != id || !cache[i].name[0]) {
		resolve(id, cache[i].name, sizeof(cache[i].name));
		cache[i].id = id;
	}
	copy_str(buf, len, cache[i].name);
}
