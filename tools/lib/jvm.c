// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "jvm.h"
#include "target.h"
#include "util.h"

#define LIBJVM "/libjvm.so"

bool hl_jvm_of_pid(pid_t pid, char *path, size_t len)
{
	return !hl_target_mapped(pid, "libjvm.so", path, len);
}

static bool from_java_on_path(char *path, size_t len)
{
	char *java = realpath("/usr/bin/java", NULL), *bin;
	bool ok = false;

	if (!java)
		return false;
	bin = strrchr(java, '/');
	if (bin && bin - java > 4 && !strncmp(bin - 4, "/bin", 4)) {
		bin[-4] = '\0';
		ok = (size_t)snprintf(path, len, "%s/lib/server%s", java,
				      LIBJVM) < len && !access(path, R_OK);
	}
	free(java);
	return ok;
}

bool hl_jvm_default(char *path, size_t len)
{
	const char *home = getenv("JAVA_HOME");

	if (home && (size_t)snprintf(path, len, "%s/lib/server%s", home,
				     LIBJVM) < len && !access(path, R_OK))
		return true;
	return from_java_on_path(path, len);
}

void hl_jvm_find(const char *jvm, pid_t pid, char *path, size_t len)
{
	if (jvm) {
		if (access(jvm, R_OK))
			hl_usage_error("cannot read --jvm %s: %s", jvm,
				       strerror(errno));
		snprintf(path, len, "%s", jvm);
		return;
	}
	if (pid) {
		if (!hl_jvm_of_pid(pid, path, len))
			hl_usage_error("process %d is not a HotSpot JVM (no "
				       "libjvm.so mapped)", (int)pid);
		return;
	}
	if (hl_jvm_default(path, len))
		return;
	hl_die("no JVM found: pass --jvm PATH to libjvm.so, or -p PID");
}
