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

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

const char *hl_cgroup2_root(void)
{
	static char root[PATH_MAX];
	char line[1024], mnt[PATH_MAX], *sep;
	FILE *f;

	if (root[0])
		return root;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return NULL;
	/* "id parent dev root mountpoint opts... - fstype source opts" */
	while (fgets(line, sizeof(line), f)) {
		sep = strstr(line, " - cgroup2 ");
		if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			copy_str(root, sizeof(root), mnt);
			break;
		}
	}
	fclose(f);
	return root[0] ? root : NULL;
}

static int is_cgroup2(const char *path, struct stat *st)
{
	struct statfs fs;

	return !statfs(path, &fs) && fs.f_type == CGROUP2_SUPER_MAGIC &&
	       !stat(path, st) && S_ISDIR(st->st_mode);
}

static int relative_to(char *buf, size_t len, const char *dir,
		       const char *path)
{
	return snprintf(buf, len, "%s/%s", dir, path) < (int)len &&
	       !access(buf, F_OK);
}

int hl_cgroup_lookup(const char *path, uint64_t *id, uint32_t *level)
{
	char real[PATH_MAX], alt[PATH_MAX], *slash;
	const char *root = hl_cgroup2_root();
	struct stat st, up;
	uint32_t depth = 0;

	if (!root)
		return -1;
	/* Relative to the cgroup2 mount, else to /sys/fs/cgroup, where
	 * hybrid systems mount it as "unified". */
	if (path[0] != '/' && (relative_to(alt, sizeof(alt), root, path) ||
			       relative_to(alt, sizeof(alt), "/sys/fs/cgroup",
					   path)))
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

static int find_id(char *path, size_t len, dev_t dev, uint64_t id,
		   int depth)
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
		if (stat(path, &st) || st.st_dev != dev)
			found = 0;
		else if (st.st_ino == id)
			found = 1;
		else
			found = find_id(path, len, dev, id, depth + 1);
		if (!found)
			path[base] = '\0';
	}
	closedir(d);
	return found;
}

static void resolve(uint64_t id, char *buf, size_t len)
{
	const char *root = hl_cgroup2_root();
	char path[PATH_MAX];
	struct stat st;

	if (!root || stat(root, &st)) {
		snprintf(buf, len, "cgroup:%llu", (unsigned long long)id);
		return;
	}
	copy_str(path, sizeof(path), root);
	if (st.st_ino == id)
		snprintf(buf, len, "/");
	else if (find_id(path, sizeof(path), st.st_dev, id, 0))
		copy_str(buf, len, path + strlen(root));
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
