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

/* --jvm, else pid's, else $JAVA_HOME's, else that of the java on PATH.
 * Exits with a one-line error when there is none. */
void hl_jvm_find(const char *jvm, pid_t pid, char *path, size_t len);

#endif /* HOWLONG_JVM_H */
