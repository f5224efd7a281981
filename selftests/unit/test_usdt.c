// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Marker support (tools/lib/usdt.c, tools/lib/target.c) against real
 * binaries: Debian's PostgreSQL 15 server (which has markers), /bin/true
 * (which has none), and running processes in the situations a tool meets:
 * itself, a program whose file was deleted while it runs (a package
 * upgrade), a server with children of the same name, and a process in a
 * container (its own mount namespace and root).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "target.h"
#include "usdt.h"
#include "tap.h"

#define PG_BIN "/usr/lib/postgresql/15/bin/postgres"

/* ---- markers ---- */

/* binutils' reading of the same notes, site by site, as ground truth. */
static void test_like_readelf(const struct hl_usdt_list *l)
{
	char line[1024], name[256];
	unsigned long long pc, base, sema;
	size_t i = 0, bad = 0;
	FILE *f = popen("readelf -n --wide " PG_BIN " 2>/dev/null", "r");

	while (f && fgets(line, sizeof(line), f)) {
		const struct hl_usdt *s = i < l->n ? &l->sites[i] : NULL;
		char *args = strstr(line, "Arguments:");

		if (sscanf(line, " Name: %255s", name) == 1)
			bad += !s || strcmp(s->name, name);
		else if (sscanf(line, " Location: %llx, Base: %llx, "
				"Semaphore: %llx", &pc, &base, &sema) == 3)
			bad += !s || s->pc != pc || s->semaphore != sema;
		else if (args) {
			args += strlen("Arguments:");
			args += *args == ' ';
			args[strcspn(args, "\n")] = '\0';
			bad += !s || strcmp(s->args, args);
			i++;
		}
	}
	if (f)
		pclose(f);
	tap_check(i == l->n && !bad, "same %zu sites, names, addresses, "
		  "semaphores and args as readelf -n (%zu differ)", i, bad);
}

static void test_postgres(void)
{
	static const char *const one_arg[] = {
		"statement__status", "query__start", "query__done",
		"transaction__abort",
	};
	struct hl_usdt_list l;
	const struct hl_usdt *s;
	char bad[512] = "";
	size_t n, nbad = 0;
	int err;

	err = hl_usdt_read(PG_BIN, &l);
	if (!tap_check(!err && l.n > 0, "%s: read %zu markers (err %d)",
		       PG_BIN, l.n, err))
		return;
	for (size_t i = 0; i < sizeof(one_arg) / sizeof(one_arg[0]); i++) {
		s = hl_usdt_find(&l, "postgresql", one_arg[i], &n);
		tap_check(s && n == 1 && s->nargs == 1 && s->pc &&
			  hl_usdt_args_parsable(s->args),
			  "postgresql:%s: one site, 1 parsable arg (%s)",
			  one_arg[i], s ? s->args : "missing");
	}
	s = hl_usdt_find(&l, "postgresql", "statement__status", NULL);
	tap_check(s && s->semaphore, "statement__status has a semaphore");
	s = hl_usdt_find(&l, "postgresql", "lwlock__wait__start", &n);
	tap_check(s && n == 3 && s->nargs == 2,
		  "lwlock__wait__start: 3 inlined sites, 2 args");
	tap_check(!hl_usdt_find(&l, "postgresql", "no__such", &n) && !n &&
		  !hl_usdt_find(&l, "python", "query__start", NULL),
		  "absent names and providers are not found");

	for (size_t i = 0; i < l.n; i++) {
		char spec[64];

		if (!hl_usdt_bad_arg(l.sites[i].args, spec, sizeof(spec)))
			continue;
		nbad++;
		snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
			 " %s (%s)", l.sites[i].name, spec);
	}
	tap_diag("unparsable sites:%s", bad);
	tap_check(nbad == 2 && strstr(bad, " checkpoint__done (") &&
		  strstr(bad, " buffer__sync__done ("),
		  "exactly checkpoint__done and buffer__sync__done are "
		  "unparsable");
	test_like_readelf(&l);
	hl_usdt_free(&l);
}

static void test_arg_grammar(void)
{
	static const char *const good[] = {
		"", "8@%rsi", "-4@%ebx", "1@%al", "1@%dil", "4@%r14d",
		"2@%r8w", "1@%r15b", "8@%r9", "8@-144(%rbp)", "4@60(%rax)",
		"4@(%r12)", "4@0(%r13)", "-4@$8192", "1@$-1",
		"8@%rax 4@%r14d", " -4@12(%rbx)  4@16(%rbx) ",
		"1@$0 1@$1 1@$0 1@$1 1@$0 1@$1 1@$0 1@$1 1@$0 1@$1 1@$0 1@$1",
	};
	static const char *const bad[][2] = {
		{ "-4@NBuffers(%rip)", "-4@NBuffers(%rip)" },
		{ "8@%rax -4@40+CheckpointStats(%rip)",
		  "-4@40+CheckpointStats(%rip)" },
		{ "8@(%rax,%rbx,8)", "8@(%rax,%rbx,8)" },
		{ "4@-8(%rbp,%rax,4)", "4@-8(%rbp,%rax,4)" },
		{ "3@%rax", "3@%rax" }, { "8@%xmm0", "8@%xmm0" },
		{ "8@%r16", "8@%r16" }, { "%rdi", "%rdi" }, { "8@", "8@" },
		{ "8@0x10(%rax)", "8@0x10(%rax)" }, { "4@$", "4@$" },
		{ "1@$0 1@$1 1@$0 1@$1 1@$0 1@$1 1@$0 1@$1 1@$0 1@$1 1@$0 "
		  "1@$1 1@$0", "1@$0" },
	};
	int nok = 0;
	char spec[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		nok += tap_check(hl_usdt_args_parsable(good[i]),
				 "parsable: \"%s\"", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_check(hl_usdt_bad_arg(bad[i][0], spec, sizeof(spec)) &&
			  !strcmp(spec, bad[i][1]),
			  "unparsable: \"%s\", names \"%s\"", bad[i][0],
			  bad[i][1]);
}

static void test_arg_decode(void)
{
	static const struct {
		const char *spec, *type;
		enum hl_usdt_arg_kind kind;
		const char *reg, *loc;
		int64_t val;
		const char *problem;	/* substring, or NULL */
	} cases[] = {
		{ "-4@%r14d", "int32", HL_USDT_ARG_REG, "r14d", "%r14d", 0,
		  NULL },
		{ "1@%dil", "uint8", HL_USDT_ARG_REG, "dil", "%dil", 0, NULL },
		{ "8@-8(%rbp)", "uint64", HL_USDT_ARG_MEM, "rbp", "-8(%rbp)",
		  -8, NULL },
		{ "-2@+12(%rsp)", "int16", HL_USDT_ARG_MEM, "rsp", "+12(%rsp)",
		  12, NULL },
		{ "4@(%r12)", "uint32", HL_USDT_ARG_MEM, "r12", "(%r12)", 0,
		  NULL },
		{ "-8@$5", "int64", HL_USDT_ARG_CONST, "", "$5", 5, NULL },
		/* gas writes an unsigned byte of 200 as $-56 */
		{ "1@$-56", "uint8", HL_USDT_ARG_CONST, "", "$-56", 200, NULL },
		{ "-2@$65535", "int16", HL_USDT_ARG_CONST, "", "$65535", -1,
		  NULL },
		{ "-8@$-9223372036854775808", "int64", HL_USDT_ARG_CONST, "",
		  "$-9223372036854775808", INT64_MIN, NULL },
		{ "4f@%xmm0", "float32", HL_USDT_ARG_REG, "xmm0", "%xmm0", 0,
		  "floating-point" },
		{ "8f@%rax", "float64", HL_USDT_ARG_REG, "rax", "%rax", 0,
		  "floating-point" },
		{ "-4@40+CheckpointStats(%rip)", "int32", HL_USDT_ARG_OTHER, "",
		  "40+CheckpointStats(%rip)", 0, "symbol-relative" },
		{ "-4@NBuffers(%rip)", "int32", HL_USDT_ARG_OTHER, "",
		  "NBuffers(%rip)", 0, "symbol-relative" },
		{ "8@(%rax,%rbx,8)", "uint64", HL_USDT_ARG_OTHER, "",
		  "(%rax,%rbx,8)", 0, "indexed" },
		{ "%rdi", "?", HL_USDT_ARG_REG, "rdi", "%rdi", 0, "no size" },
		{ "3@%rax", "?", HL_USDT_ARG_REG, "rax", "%rax", 0, "size" },
		{ "8@%r16", "uint64", HL_USDT_ARG_REG, "r16", "%r16", 0,
		  "register" },
		{ "8@", "uint64", HL_USDT_ARG_OTHER, "", "", 0, "cannot" },
		{ "8@$0x10", "uint64", HL_USDT_ARG_OTHER, "", "$0x10", 0,
		  "cannot" },
		{ "-8@$9223372036854775808", "int64", HL_USDT_ARG_OTHER, "",
		  "$9223372036854775808", 0, "cannot" },
		{ "8@%averylongname", "uint64", HL_USDT_ARG_OTHER, "",
		  "%averylongname", 0, "cannot" },
		{ "99999999@%rax", "?", HL_USDT_ARG_REG, "rax", "%rax", 0,
		  "size" },
	};
	struct hl_usdt_arg a, bad;
	const char *p, *why;
	int n, index;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].problem;

		p = cases[i].spec;
		n = hl_usdt_arg_next(&p, &a);
		why = hl_usdt_arg_problem(&a);
		tap_check(n && !*p && a.spec == cases[i].spec &&
			  a.spec_len == (int)strlen(cases[i].spec) &&
			  !strcmp(hl_usdt_arg_type(&a), cases[i].type) &&
			  a.kind == cases[i].kind &&
			  !strcmp(a.reg, cases[i].reg) &&
			  a.loc_len == (int)strlen(cases[i].loc) &&
			  !memcmp(a.loc, cases[i].loc, a.loc_len) &&
			  a.val == cases[i].val &&
			  (want ? why && strstr(why, want) : !why),
			  "decode \"%s\": %s kind %d reg \"%s\" val %lld, %s",
			  cases[i].spec, hl_usdt_arg_type(&a), a.kind, a.reg,
			  (long long)a.val, why ? why : "libbpf can read it");
	}

	p = "  -4@%ebx   8@-8(%rbp) ";
	n = 0;
	while (hl_usdt_arg_next(&p, &a))
		n++;
	tap_check(n == 2 && !*p, "two specs among extra spaces: %d", n);
	p = "";
	tap_check(!hl_usdt_arg_next(&p, &a), "no specs in \"\"");

	why = hl_usdt_args_problem("8@%rax -4@NBuffers(%rip) 8@%r16", &bad,
				   &index);
	tap_check(why && index == 1 && bad.spec_len == 17 &&
		  !memcmp(bad.spec, "-4@NBuffers(%rip)", 17),
		  "the first bad argument is reported: arg%d %.*s (%s)",
		  index, bad.spec_len, bad.spec, why ? why : "none");
}

/* A whole file in memory, as the fuzzer hands it over. */
static void *slurp(const char *path, size_t *size)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && !fstat(fd, &st) && (buf = malloc(st.st_size))) {
		*size = 0;
		while (*size < (size_t)st.st_size) {
			ssize_t n = read(fd, buf + *size, st.st_size - *size);

			if (n <= 0)
				break;
			*size += n;
		}
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

static void test_read_mem(void)
{
	char tmp[] = "/tmp/hl-usdt-XXXXXX", fifo[64];
	struct hl_usdt_list f, m;
	size_t size = 0, same = 0;
	char *img = slurp(PG_BIN, &size);
	int err, fd;

	if (!tap_check(img && size > 4096, "read %s into memory", PG_BIN))
		return;
	err = hl_usdt_read(PG_BIN, &f);
	tap_check(!err && !hl_usdt_read_mem(img, size, &m) && m.n == f.n &&
		  m.machine == EM_X86_64 && f.machine == EM_X86_64,
		  "from memory as from the file: %zu sites", m.n);
	for (size_t i = 0; i < m.n && i < f.n; i++)
		same += m.sites[i].pc == f.sites[i].pc &&
			m.sites[i].semaphore == f.sites[i].semaphore &&
			!strcmp(m.sites[i].args, f.sites[i].args) &&
			!strcmp(m.sites[i].name, f.sites[i].name);
	tap_check(same == f.n, "%zu of %zu sites the same", same, f.n);
	hl_usdt_free(&m);
	hl_usdt_free(&f);

	/* cut before the section headers (at the end of the file) */
	err = hl_usdt_read_mem(img, size / 2, &m);
	tap_check(err == -EBADMSG && !m.n && !m.sites,
		  "the first half of postgres: -EBADMSG (%d)", err);
	err = hl_usdt_read_mem(img, 40, &m);
	tap_check(err == -EBADMSG, "40 bytes of ELF header: -EBADMSG (%d)",
		  err);
	err = hl_usdt_read_mem(img, 3, &m);
	tap_check(err == -ENOEXEC, "3 bytes: not ELF (%d)", err);
	free(img);

	err = hl_usdt_read("/tmp", &m);
	tap_check(err == -EISDIR, "a directory: -EISDIR (%d)", err);
	fd = mkstemp(tmp);
	if (fd >= 0)
		close(fd);
	err = hl_usdt_read(tmp, &m);
	tap_check(err == -ENOEXEC, "an empty file: -ENOEXEC (%d)", err);
	unlink(tmp);
	snprintf(fifo, sizeof(fifo), "/tmp/hl-usdt-fifo-%d", (int)getpid());
	err = mkfifo(fifo, 0600) ? -errno : hl_usdt_read(fifo, &m);
	tap_check(err == -ENOEXEC, "a FIFO with no writer: -ENOEXEC at once "
		  "(%d)", err);
	unlink(fifo);
}

static void test_no_markers(void)
{
	char tmp[] = "/tmp/hl-usdt-XXXXXX";
	struct hl_usdt_list l;
	int fd, err;

	err = hl_usdt_read("/bin/true", &l);
	tap_check(!err && l.n == 0 && !hl_usdt_find(&l, "p", "n", NULL),
		  "/bin/true: no markers, no error (err %d)", err);
	hl_usdt_free(&l);

	fd = mkstemp(tmp);
	if (fd >= 0) {
		(void)!write(fd, "#!/bin/sh\necho not ELF\n", 23);
		close(fd);
	}
	err = hl_usdt_read(tmp, &l);
	tap_check(err == -ENOEXEC && !l.n, "a shell script: -ENOEXEC (%d)",
		  err);
	unlink(tmp);
	err = hl_usdt_read("/nonexistent/postgres", &l);
	tap_check(err == -ENOENT, "a missing file: -ENOENT (%d)", err);
}

/* Run fn in a child; its stderr and exit status. */
static int in_child(void (*fn)(void), char *err, size_t len)
{
	int fds[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(fds[1], 2);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < len - 1 &&
	       (n = read(fds[0], err + got, len - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *req_bin, *req_name;

static void require_child(void)
{
	struct hl_usdt_list l;

	hl_usdt_read_or_die(req_bin, &l);
	hl_usdt_require(&l, req_bin, "postgresql", req_name);
}

static void test_require(void)
{
	static const char *const cases[][3] = {
		{ PG_BIN, "query__start", "" },
		{ PG_BIN, "no__such", "howlong: " PG_BIN
		  " has no marker postgresql:no__such\n" },
		{ PG_BIN, "checkpoint__done", "howlong: " PG_BIN ": marker "
		  "postgresql:checkpoint__done has an argument libbpf cannot "
		  "read (-4@40+CheckpointStats(%rip))\n" },
		{ "/bin/true", "query__start", "howlong: /bin/true has no USDT "
		  "markers: built without --enable-dtrace?\n" },
		{ "/etc/passwd", "query__start",
		  "howlong: /etc/passwd is not an ELF file\n" },
		{ "/nonexistent", "query__start", "howlong: /nonexistent: "
		  "cannot read markers: No such file or directory\n" },
	};
	char err[512];
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req_bin = cases[i][0];
		req_name = cases[i][1];
		rc = in_child(require_child, err, sizeof(err));
		tap_check(rc == (*cases[i][2] ? 1 : 0) &&
			  !strcmp(err, cases[i][2]),
			  "require %s %s: exit %d, \"%.*s\"", req_bin,
			  req_name, rc, (int)strcspn(err, "\n"), err);
	}
}

/* ---- targets ---- */

static void copy_file(const char *from, int to_fd)
{
	char buf[65536];
	ssize_t n;
	int fd = open(from, O_RDONLY | O_CLOEXEC);

	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(to_fd, buf, n);
	if (fd >= 0)
		close(fd);
	fchmod(to_fd, 0755);
}

/* An executable copy of from in /tmp (so that it can be deleted). */
static bool temp_copy(const char *from, char *path)
{
	int fd;

	strcpy(path, "/tmp/hl-usdt-XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return false;
	copy_file(from, fd);
	close(fd);	/* an exec of a file open for writing is ETXTBSY */
	return true;
}

/* Wait up to 5 s until pid's exe link reads want. */
/* libc is mapped: the dynamic loader, which runs after exec, is done
 * with it (on a slow machine that takes a while). */
static bool libc_mapped(pid_t pid)
{
	char maps[32], line[512];
	bool found = false;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libc.so.6");
	if (f)
		fclose(f);
	return found;
}

/* pid runs want, with libc mapped. */
static bool exe_becomes(pid_t pid, const char *want)
{
	char link[32], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	for (int i = 0; i < 1000; i++) {
		n = readlink(link, buf, sizeof(buf) - 1);
		if (n > 0 && (buf[n] = '\0', !strcmp(buf, want)) &&
		    libc_mapped(pid))
			return true;
		usleep(10000);
	}
	return false;
}

/* A child in its own process group that dies with us. */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Does path open to the inode of /proc/PID/exe? */
static bool opens_as_exe(const char *path, pid_t pid)
{
	struct stat a, b;
	char link[32];
	int fd = open(path, O_RDONLY);

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	if (fd < 0)
		return false;
	if (fstat(fd, &a) || stat(link, &b))
		a.st_ino = ~b.st_ino;
	close(fd);
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The mapped file of pid named name (exactly): its path must open to the
 * inode of /proc/PID/exe, and the list must also hold libc. want_path:
 * the path it must have, or NULL for any.
 */
static void check_mapped(pid_t pid, const char *name, const char *want_path,
			 const char *what)
{
	struct hl_mapped_file *files;
	const struct hl_mapped_file *exe = NULL;
	bool libc = false;
	int n = hl_target_mapped_files(pid, &files);

	for (int i = 0; i < n; i++) {
		if (!strcmp(files[i].name, name))
			exe = &files[i];
		libc |= strstr(files[i].name, "/libc.so.6") && files[i].path;
	}
	tap_check(n > 0 && exe && exe->path && opens_as_exe(exe->path, pid) &&
		  (!want_path || !strcmp(exe->path, want_path)) && libc,
		  "%s: %d mapped files, %s as %s, libc %s", what, n, name,
		  exe && exe->path ? exe->path : "(none)",
		  libc ? "too" : "missing");
	if (n > 0)
		hl_target_mapped_free(files, n);
}

static void test_self(const char *argv0)
{
	const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') : argv0;
	char path[PATH_MAX], want[PATH_MAX + 32];
	struct hl_mapped_file *files;
	pid_t tgid = 0, ppid = 0;
	ssize_t n;
	int err;

	err = hl_target_from_pid(getpid(), path, sizeof(path));
	tap_check(!err && path[0] == '/' && strlen(path) >= strlen(base) &&
		  !strcmp(path + strlen(path) - strlen(base), base) &&
		  opens_as_exe(path, getpid()),
		  "own pid: %s (err %d)", err ? "" : path, err);
	err = hl_target_tgid_and_parent(getpid(), &tgid, &ppid);
	tap_check(!err && tgid == getpid() && ppid == getppid(),
		  "own tgid %d and parent %d", tgid, ppid);
	tap_check(hl_target_from_pid(0x3ffffe, path, sizeof(path)) == -ESRCH &&
		  hl_target_tgid_and_parent(0x3ffffe, &tgid, &ppid) == -ESRCH &&
		  hl_target_mapped_files(0x3ffffe, &files) == -ESRCH,
		  "a pid that does not exist: -ESRCH");
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	snprintf(want, sizeof(want), "/proc/%d/root%s", getpid(), path);
	check_mapped(getpid(), path, want, "own pid");
	tap_check(hl_target_from_pid(2, path, sizeof(path)) == -ENOENT,
		  "kthreadd has no executable: -ENOENT");
	tap_check(hl_target_from_pid(getpid(), path, 8) == -ENAMETOOLONG,
		  "a short buffer: -ENAMETOOLONG");
}

/* The upgrade case: the running file is deleted. */
static void test_deleted(void)
{
	char copy[32], path[PATH_MAX], want[64];
	const char *names[2];
	pid_t pid;
	int n, err;

	if (!tap_check(temp_copy("/bin/sleep", copy), "copy /bin/sleep"))
		return;
	pid = spawn((char *[]){ copy, "30", NULL });
	if (!tap_check(exe_becomes(pid, copy), "%s runs", copy)) {
		reap(pid);
		unlink(copy);
		return;
	}
	unlink(copy);
	err = hl_target_from_pid(pid, path, sizeof(path));
	snprintf(want, sizeof(want), "/proc/%d/exe", pid);
	tap_check(!err && !strcmp(path, want) && opens_as_exe(path, pid),
		  "deleted while running: %s, same inode (err %d)",
		  err ? "" : path, err);
	names[0] = strrchr(copy, '/') + 1;
	names[1] = NULL;
	tap_check(hl_target_find_process(names, &n) == pid && n == 1,
		  "found by name although deleted");
	/* only map_files still reaches the file */
	snprintf(path, sizeof(path), "%s (deleted)", copy);
	check_mapped(pid, path, NULL, "deleted while running");
	reap(pid);
}

/* A server forks children of its own name: only the server is a root. */
static void test_find_root(void)
{
	char sh[32], cmd[160], children[64], buf[64] = "";
	const char *names[] = { "no-such-exe", NULL, NULL };
	pid_t pid, tgid, ppid, found;
	int n = -1, fd;
	ssize_t got;

	if (!tap_check(temp_copy("/bin/sh", sh), "copy /bin/sh"))
		return;
	snprintf(cmd, sizeof(cmd), "%s -c 'sleep 30; true'; true", sh);
	pid = spawn((char *[]){ sh, "-c", cmd, NULL });
	snprintf(children, sizeof(children), "/proc/%d/task/%d/children",
		 pid, pid);
	for (int i = 0; i < 500 && !buf[0]; i++) {
		fd = open(children, O_RDONLY);
		if (fd >= 0) {
			got = read(fd, buf, sizeof(buf) - 1);
			buf[got > 0 ? got : 0] = '\0';
			close(fd);
		}
		usleep(10000);
	}
	tap_check(buf[0] && !hl_target_tgid_and_parent(atoi(buf), &tgid,
							  &ppid) &&
		  ppid == pid, "shell %d started child %d", pid, atoi(buf));
	names[1] = strrchr(sh, '/') + 1;
	found = hl_target_find_process(names, &n);
	tap_check(found == pid && n == 1,
		  "find_process: the parent %d, not its child (%d, %d found)",
		  pid, found, n);
	names[1] = NULL;
	tap_check(hl_target_find_process(names, &n) == 0 && n == 0,
		  "find_process: none of a name nothing runs");
	reap(pid);
	unlink(sh);
}

/* Child: a minimal container, /usr bound in, /sleeper as its program. */
static void container_child(const char *root)
{
	char p[PATH_MAX];
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", root, "tmpfs", 0, NULL))
		_exit(3);
	snprintf(p, sizeof(p), "%s/usr", root);
	mkdir(p, 0755);
	if (mount("/usr", p, NULL, MS_BIND | MS_REC, NULL))
		_exit(3);
	for (const char *const *d = (const char *const[]){ "bin", "lib",
	     "lib64", NULL }; *d; d++) {
		char target[32];

		snprintf(target, sizeof(target), "usr/%s", *d);
		snprintf(p, sizeof(p), "%s/%s", root, *d);
		(void)!symlink(target, p);
	}
	snprintf(p, sizeof(p), "%s/sleeper", root);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	copy_file("/bin/sleep", fd);
	close(fd);
	snprintf(p, sizeof(p), "%s/old", root);
	mkdir(p, 0755);
	if (syscall(SYS_pivot_root, root, p) || chdir("/") ||
	    umount2("/old", MNT_DETACH))
		_exit(3);
	execl("/sleeper", "sleeper", "30", (char *)NULL);
	_exit(127);
}

static void test_container(void)
{
	char root[] = "/tmp/hl-usdt-root-XXXXXX", path[PATH_MAX], want[64];
	pid_t pid;
	int err;

	if (!tap_check(mkdtemp(root), "mkdtemp %s", root))
		return;
	pid = fork();
	if (!pid)
		container_child(root);
	if (!tap_check(exe_becomes(pid, "/sleeper"),
		       "a process in its own mount namespace and root runs")) {
		reap(pid);
		rmdir(root);
		return;
	}
	err = hl_target_from_pid(pid, path, sizeof(path));
	snprintf(want, sizeof(want), "/proc/%d/root/sleeper", pid);
	tap_check(!err && !strcmp(path, want) && opens_as_exe(path, pid),
		  "in a container: %s, same inode (err %d)", err ? "" : path,
		  err);
	check_mapped(pid, "/sleeper", want, "in a container");
	reap(pid);
	rmdir(root);
}

static void test_command(void)
{
	char path[PATH_MAX];
	int err;

	err = hl_target_from_command("pg_config --bindir", "/postgres", path,
				     sizeof(path));
	tap_check(!err && !strcmp(path, PG_BIN),
		  "pg_config --bindir + /postgres: %s (err %d)",
		  err ? "" : path, err);
	err = hl_target_from_command("echo  /usr/bin ", "/env", path,
				     sizeof(path));
	tap_check(!err && !strcmp(path, "/usr/bin/env"),
		  "echo /usr/bin + /env: %s (err %d)", err ? "" : path, err);
	tap_check(hl_target_from_command("hl-no-such-command --bindir", "/x",
					 path, sizeof(path)) == -ENOENT,
		  "a command that is not installed: -ENOENT");
	tap_check(hl_target_from_command("false", "/x", path,
					 sizeof(path)) == -EIO,
		  "a command that fails: -EIO");
	tap_check(hl_target_from_command("echo /nonexistent", "/postgres",
					 path, sizeof(path)) == -ENOENT,
		  "a result that does not exist: -ENOENT");
}

int main(int argc, char **argv)
{
	(void)argc;
	/* forked children must not print our buffered lines again */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_postgres();
	test_arg_grammar();
	test_arg_decode();
	test_read_mem();
	test_no_markers();
	test_require();
	test_self(argv[0]);
	test_deleted();
	test_find_root();
	test_container();
	test_command();
	return tap_done();
}
