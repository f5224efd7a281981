/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Finding the binary a marker-based tool attaches to: from a running
 * process, by looking for one, or by asking a command such as
 * `pg_config --bindir`. Nothing here knows a particular program; the tool
 * passes the names in. All functions return 0 or -errno unless noted.
 */
#ifndef HOWLONG_TARGET_H
#define HOWLONG_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A path to the file process pid executes, usable for uprobes (libbpf
 * attaches by path; the kernel then keys the probe on the inode). Each
 * candidate is opened and must be the very inode of /proc/PID/exe:
 *  1. the link target of /proc/PID/exe as is, e.g. "/usr/bin/postgres":
 *     the usual case, and a chroot in our own mount namespace;
 *  2. "/proc/PID/root" + that target: a process in a container (its own
 *     mount namespace and root), where the target is the path inside it;
 *  3. "/proc/PID/exe" itself: the file was deleted or replaced (a package
 *     upgrade while the process runs: the link ends in " (deleted)"), or
 *     neither path above reaches it. Processes started later from the new
 *     file at the old path are a different inode and are not covered.
 * -ESRCH: no such process; -ENOENT: it has no executable (kernel thread).
 */
int hl_target_from_pid(pid_t pid, char *path, size_t len);

/*
 * The lowest pid whose executable's file name is one of the NULL-ended
 * names (e.g. {"postgres", "postmaster", NULL}) and whose parent's is not:
 * the server itself rather than one of its children. 0 if none.
 * *nfound (if not NULL) gets how many such processes run, so that a tool
 * can ask for -p when there are several.
 */
pid_t hl_target_find_process(const char *const *names, int *nfound);

/* Thread group (process) id and parent process id of the thread or
 * process pid, from /proc/PID/status. -ESRCH: no such thread. */
int hl_target_tgid_and_parent(pid_t pid, pid_t *tgid, pid_t *ppid);

/* A file mapped into a process (see hl_target_mapped_files). */
struct hl_mapped_file {
	char *name;	/* as /proc/PID/maps says, " (deleted)" and all */
	char *path;	/* opens that very file from here; NULL: cannot */
	int err;	/* why path is NULL: -errno */
};

/*
 * The distinct files mapped into process pid, in address order: its
 * executable, libraries, any mmap()ed file. Each path is
 *  1. "/proc/PID/root" + name, if it opens to the inode mapped: through
 *     the process's root, so that a container's file is found;
 *  2. else "/proc/PID/map_files/START-END" of its first mapping: a file
 *     deleted or replaced since it was mapped (a package upgrade); opening
 *     it needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE.
 * Returns how many (*out to free with hl_target_mapped_free) or -ESRCH
 * (no such process), -EACCES (not ours, not root), -ENOMEM.
 */
int hl_target_mapped_files(pid_t pid, struct hl_mapped_file **out);
void hl_target_mapped_free(struct hl_mapped_file *files, int n);

/*
 * Where the byte at file_off of the file at path sits in process pid's
 * memory (the file is found in /proc/PID/maps by its inode). -ENOENT:
 * that part of the file is not mapped there; -ESRCH: no such process.
 */
int hl_target_address(pid_t pid, const char *path, uint64_t file_off,
		      uint64_t *addr);

/*
 * Run cmd (words split at spaces, no shell, looked up in PATH, stderr
 * discarded), take the first line it prints and append suffix: e.g.
 * "pg_config --bindir" and "/postgres". The result must exist.
 * -ENOENT: the command is not installed, or the result does not exist;
 * -EIO: the command failed or printed nothing.
 */
int hl_target_from_command(const char *cmd, const char *suffix, char *path,
			   size_t len);

/*
 * The first file process pid maps whose base name is name, or starts with
 * name and a dot ("libc.so" finds libc.so.6), as a path that opens it
 * (see hl_target_mapped_files). -ENOENT: none mapped; -ESRCH: no such
 * process.
 */
int hl_target_mapped(pid_t pid, const char *name, char *path, size_t len);

/*
 * The binary or library a tool was given by name: a path (it contains a
 * '/') as is, which with pid that process must map (-ENXIO if not), or
 * else the file of that name in pid's root (a container's); else, with
 * pid, the object pid maps by that name (the
 * executable's too); else the first match in $PATH, then in the
 * multiarch and plain library directories. -ENOENT when none is found.
 */
int hl_target_resolve(const char *name, pid_t pid, char *path, size_t len);

/* The usage error for hl_target_resolve()'s err (with -p PID in
 * hl_opts), one line: exits 2. */
void hl_target_die(const char *name, int err) __attribute__((noreturn));

#endif /* HOWLONG_TARGET_H */
