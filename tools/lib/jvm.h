/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Finding HotSpot's libjvm.so, where the JVM's markers live. */
#ifndef HOWLONG_JVM_H
#define HOWLONG_JVM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* libjvm.so as process pid maps it (through /proc/PID/root, so that a
 * container's JVM works too); false if pid maps none. */
bool hl_jvm_of_pid(pid_t pid, char *path, size_t len);

/* $JAVA_HOME's libjvm.so, else that of the java on PATH; false if
 * neither is there. */
bool hl_jvm_default(char *path, size_t len);

/* --jvm, else pid's, else $JAVA_HOME's, else that of the java on PATH.
 * Exits with a one-line error when there is none. */
void hl_jvm_find(const char *jvm, pid_t pid, char *path, size_t len);

/* The --jvm option of the JVM tools, in argp option group group. */
#define HL_JVM_OPTION(key, group)					\
	{ "jvm", key, "PATH", 0,					\
	  "libjvm.so (default: from -p, $JAVA_HOME, or the java on PATH)", \
	  group }

#endif /* HOWLONG_JVM_H */
