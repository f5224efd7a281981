// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Finding the binary to attach uprobes to (see target.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "target.h"
#include "cli.h"
#include "util.h"

/* Where Debian keeps the libraries of this architecture. */
#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#else
#define MULTIARCH "."
#endif

#define DELETED " (deleted)"

extern char **environ;

/* Does path open as the file want describes? Opening, not just stat(),
 * is what libbpf and the kernel will do with it. */
static bool same_file(const char *path, const struct stat *want)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool same;

	if (fd < 0)
		return false;
	same = !fstat(fd, &st) && st.st_dev == want->st_dev &&
	       st.st_ino == want->st_ino;
	close(fd);
	return same;
}

static int copy_out(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return -ENAMETOOLONG;
	strcpy(dst, src);
	return 0;
}

/* Does name end in the " (deleted)" the kernel appends to the name of
 * an unlinked file? */
static bool is_deleted(const char *name)
{
	size_t n = strlen(name), d = strlen(DELETED);

	return n >= d && !strcmp(name + n - d, DELETED);
}

/* Cut that suffix; true if there was one. */
static bool strip_deleted(char *exe)
{
	if (!is_deleted(exe))
		return false;
	exe[strlen(exe) - strlen(DELETED)] = '\0';
	return true;
}

/* The exe link target, as the process's own mount namespace names it
 * when ours cannot reach the file. */
static int read_exe(pid_t pid, char *buf, size_t len)
{
	char link[32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int hl_target_from_pid(pid_t pid, char *path, size_t len)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32], link[32];
	struct stat want;
	int err;

	snprintf(link, sizeof(link), "/proc/%d", (int)pid);
	if (pid <= 0 || stat(link, &want))
		return -ESRCH;
	err = read_exe(pid, exe, sizeof(exe));
	if (err)
		return err;
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	if (stat(link, &want))
		return -errno;

	if (exe[0] == '/' && !strip_deleted(exe)) {
		if (same_file(exe, &want))
			return copy_out(path, len, exe);
		snprintf(cand, sizeof(cand), "/proc/%d/root%s", (int)pid, exe);
		if (same_file(cand, &want))
			return copy_out(path, len, cand);
	}
	if (!same_file(link, &want))
		return -ENOENT;
	return copy_out(path, len, link);
}

/* The file a maps line names opens, from here, as path? */
static int open_mapped(const char *path, ino_t ino)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (st.st_ino != ino)
		err = -ESTALE;	/* replaced: another file at that name */
	close(fd);
	return err;
}

/* Find a path for f, first mapped at [start, end) from inode ino. */
static int locate_mapped(pid_t pid, struct hl_mapped_file *f,
			 unsigned long start, unsigned long end, ino_t ino)
{
	char *path = NULL;
	int err = -ENOENT;

	if (!is_deleted(f->name) &&
	    asprintf(&path, "/proc/%d/root%s", (int)pid, f->name) >= 0) {
		err = open_mapped(path, ino);
		if (!err) {
			f->path = path;
			return 0;
		}
		free(path);
	}
	if (asprintf(&path, "/proc/%d/map_files/%lx-%lx", (int)pid, start,
		     end) < 0)
		return -ENOMEM;
	/* the link's inode is that of the mapping, by construction */
	if (access(path, R_OK)) {
		f->err = errno == ENOENT ? err : -errno;
		free(path);
		return 0;
	}
	f->path = path;
	return 0;
}

static bool seen_name(const struct hl_mapped_file *f, int n,
		      const char *name)
{
	for (int i = n - 1; i >= 0; i--)
		if (!strcmp(f[i].name, name))
			return true;
	return false;
}

int hl_target_mapped_files(pid_t pid, struct hl_mapped_file **out)
{
	struct hl_mapped_file *files = NULL, *grown;
	unsigned long start, end, ino;
	char maps[64], *line = NULL, *name;
	size_t cap = 0, len = 0;
	int n = 0, err = 0, pos;
	FILE *f;

	*out = NULL;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = pid > 0 ? fopen(maps, "re") : NULL;
	if (!f)
		return pid <= 0 || errno == ENOENT ? -ESRCH : -errno;
	while (!err && getline(&line, &len, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		/* start-end perms offset dev inode   name */
		if (sscanf(line, "%lx-%lx %*s %*x %*x:%*x %lu %n", &start, &end,
			   &ino, &pos) != 3 || line[pos] != '/')
			continue;
		name = line + pos;
		if (seen_name(files, n, name))
			continue;
		if ((size_t)n == cap) {
			cap = cap ? 2 * cap : 32;
			grown = realloc(files, cap * sizeof(*files));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			files = grown;
		}
		files[n] = (struct hl_mapped_file){ .name = strdup(name) };
		if (!files[n].name) {
			err = -ENOMEM;
			break;
		}
		err = locate_mapped(pid, &files[n++], start, end, ino);
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	fclose(f);
	if (err) {
		hl_target_mapped_free(files, n);
		return err;
	}
	*out = files;
	return n;
}

int hl_target_address(pid_t pid, const char *path, uint64_t file_off,
		      uint64_t *addr)
{
	unsigned long start, end, off, ino;
	char maps[64], *line = NULL;
	struct stat st;
	size_t len = 0;
	int err = -ENOENT;
	FILE *f;

	if (stat(path, &st))
		return -errno;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (err == -ENOENT && getline(&line, &len, f) > 0) {
		if (sscanf(line, "%lx-%lx %*s %lx %*x:%*x %lu", &start, &end,
			   &off, &ino) != 4 || ino != st.st_ino)
			continue;
		if (file_off >= off && file_off - off < end - start) {
			*addr = start + (file_off - off);
			err = 0;
		}
	}
	free(line);
	fclose(f);
	return err;
}

void hl_target_mapped_free(struct hl_mapped_file *files, int n)
{
	for (int i = 0; i < n; i++) {
		free(files[i].name);
		free(files[i].path);
	}
	free(files);
}

int hl_target_tgid_and_parent(pid_t pid, pid_t *tgid, pid_t *ppid)
{
	char file[32], line[256];
	int found = 0, v;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/status", (int)pid);
	f = pid > 0 ? fopen(file, "re") : NULL;
	if (!f)
		return pid <= 0 || errno == ENOENT ? -ESRCH : -errno;
	while (found != 3 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Tgid: %d", &v) == 1) {
			*tgid = v;
			found |= 1;
		} else if (sscanf(line, "PPid: %d", &v) == 1) {
			*ppid = v;
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -EIO;
}

/* Is the file name of pid's executable one of names? */
static bool exe_named(pid_t pid, const char *const *names)
{
	char exe[PATH_MAX], *base;

	if (read_exe(pid, exe, sizeof(exe)))
		return false;	/* gone, or a kernel thread */
	strip_deleted(exe);
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	for (; *names; names++)
		if (!strcmp(base, *names))
			return true;
	return false;
}

pid_t hl_target_find_process(const char *const *names, int *nfound)
{
	pid_t best = 0, tgid, ppid;
	struct dirent *de;
	int found = 0;
	DIR *d;

	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || !exe_named(pid, names))
			continue;
		/* a child of the server (a backend) is not the server */
		if (hl_target_tgid_and_parent(pid, &tgid, &ppid) ||
		    (ppid > 0 && exe_named(ppid, names)))
			continue;
		found++;
		if (!best || pid < best)
			best = pid;
	}
	if (d)
		closedir(d);
	if (nfound)
		*nfound = found;
	return best;
}

/* Spawn argv with stdout into a pipe; the first line goes to buf. */
static int run_first_line(char *const *argv, char *buf, size_t len)
{
	posix_spawn_file_actions_t fa;
	int fds[2], err, status;
	size_t got = 0;
	pid_t child;
	ssize_t n;
	char junk[256];

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&child, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (err) {
		close(fds[0]);
		return -err;
	}
	/* Read to EOF so that the command never dies of SIGPIPE. */
	for (;;) {
		bool room = got < len - 1;

		n = read(fds[0], room ? buf + got : junk,
			 room ? len - 1 - got : sizeof(junk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (room)
			got += n;
	}
	close(fds[0]);
	buf[got] = '\0';
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	/* 127: exec failed in the child (where posix_spawn is a fork) */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? 0 : -EIO;
}

int hl_target_from_command(const char *cmd, const char *suffix, char *path,
			   size_t len)
{
	char words[512], out[PATH_MAX], *argv[16], *save = NULL, *w;
	struct stat st;
	int argc = 0, err;

	if (strlen(cmd) >= sizeof(words))
		return -E2BIG;
	strcpy(words, cmd);
	for (w = strtok_r(words, " ", &save); w && argc < 15;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (!argc)
		return -EINVAL;
	err = run_first_line(argv, out, sizeof(out));
	if (err)
		return err;
	if (strlen(out) + strlen(suffix) >= len)
		return -ENAMETOOLONG;
	snprintf(path, len, "%s%s", out, suffix);
	return stat(path, &st) ? -ENOENT : 0;
}

static bool name_matches(const char *file, const char *name)
{
	const char *base = strrchr(file, '/');
	size_t n = strlen(name);

	base = base ? base + 1 : file;
	return !strncmp(base, name, n) &&
	       (!base[n] || base[n] == '.' || !strcmp(base + n, " (deleted)"));
}

int hl_target_mapped(pid_t pid, const char *name, char *path, size_t len)
{
	struct hl_mapped_file *files;
	int n = hl_target_mapped_files(pid, &files), err = -ENOENT;

	if (n < 0)
		return n;
	for (int i = 0; i < n && err == -ENOENT; i++)
		if (files[i].path && name_matches(files[i].name, name))
			err = copy_out(path, len, files[i].path);
	hl_target_mapped_free(files, n);
	return err;
}

/* dir/name, if it is a readable regular file. */
static bool found_in(const char *dir, size_t dlen, const char *name,
		     char *path, size_t len)
{
	struct stat st;

	if ((size_t)snprintf(path, len, "%.*s/%s", (int)dlen, dir, name) >= len)
		return false;
	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, R_OK);
}

static bool search_path(const char *name, char *path, size_t len)
{
	const char *p = getenv("PATH"), *end;

	for (; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end > p && found_in(p, end - p, name, path, len))
			return true;
	}
	return false;
}

/*
 * 0 if process pid maps the very file at path, else -ENXIO (or -ESRCH).
 * A given path and -p that runs another copy (pyenv's python3.11, not
 * /usr/bin's) would otherwise trace nothing, silently. Maps we may not
 * read count as found: the attach that follows reports the real error.
 */
static int maps_inode(pid_t pid, const char *path)
{
	struct hl_mapped_file *files;
	struct stat want, st;
	bool found = false;
	int n;

	if (stat(path, &want))
		return 0;
	n = hl_target_mapped_files(pid, &files);
	if (n < 0)
		return n == -ESRCH ? n : 0;
	for (int i = 0; i < n && !found; i++)
		found = files[i].path && !stat(files[i].path, &st) &&
			st.st_dev == want.st_dev && st.st_ino == want.st_ino;
	hl_target_mapped_free(files, n);
	return found ? 0 : -ENXIO;
}

/* A path given with -p: the file of that name here, or, when the process
 * maps another one (it runs in a container), the file of that name in
 * its root. */
static int resolve_path(const char *name, pid_t pid, char *path, size_t len)
{
	char inside[PATH_MAX + 32];
	int err = access(name, R_OK) ? -errno : 0;

	if (!err && !pid)
		return copy_out(path, len, name);
	if (!err && !(err = maps_inode(pid, name)))
		return copy_out(path, len, name);
	if (!pid || err == -ESRCH)
		return err;
	snprintf(inside, sizeof(inside), "/proc/%d/root%s", (int)pid, name);
	if (access(inside, R_OK))
		return err;
	if (maps_inode(pid, inside))
		return -ENXIO;
	return copy_out(path, len, inside);
}

int hl_target_resolve(const char *name, pid_t pid, char *path, size_t len)
{
	static const char *const libdirs[] = {
		"/lib/" MULTIARCH, "/usr/lib/" MULTIARCH, "/lib", "/usr/lib",
		"/usr/local/lib",
	};
	if (strchr(name, '/'))
		return resolve_path(name, pid, path, len);
	if (pid)
		return hl_target_mapped(pid, name, path, len);
	if (search_path(name, path, len))
		return 0;
	for (size_t i = 0; i < sizeof(libdirs) / sizeof(*libdirs); i++)
		if (found_in(libdirs[i], strlen(libdirs[i]), name, path, len))
			return 0;
	return -ENOENT;
}

void hl_target_die(const char *name, int err)
{
	pid_t pid = hl_opts.filter.tgid;

	if (pid && err == -ENOENT && !strchr(name, '/'))
		hl_usage_error("process %d maps no %s", (int)pid, name);
	if (pid && err == -ENXIO)
		hl_usage_error("process %d does not map %s (see its "
			       "/proc/%d/maps)", (int)pid, name, (int)pid);
	if (pid && err == -ESRCH)
		hl_usage_error("no such process: %d", (int)pid);
	hl_usage_error("cannot find %s: %s", name, strerror(-err));
}
