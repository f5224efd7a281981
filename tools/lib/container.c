// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Container names from cgroup paths (see container.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "container.h"

#define SHORT_ID 12	/* what docker, crictl and podman print */
#define POD_ID 8	/* a pod's uid, up to its first dash */

/* Runtimes that name a container's scope (systemd cgroup driver)
 * PREFIX<64 hex>.scope, and under which name we show them. */
static const struct {
	const char *prefix, *runtime;
} scopes[] = {
	{ "docker-", "docker" },
	{ "cri-containerd-", "containerd" },
	{ "crio-", "crio" },
	{ "libpod-", "podman" },
};

static bool is_hex_id(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n >= p && !strncmp(s, prefix, p);
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !strncmp(s + n - k, suffix, k);
}

/* The container in one path component c (n bytes) whose parent is up
 * (m bytes, may be empty): "runtime:shortid" or "runtime:name". */
static bool component(const char *up, size_t m, const char *c, size_t n,
		      char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(scopes) / sizeof(*scopes); i++) {
		size_t p = strlen(scopes[i].prefix);

		if (has_prefix(c, n, scopes[i].prefix) &&
		    has_suffix(c, n, ".scope") &&
		    is_hex_id(c + p, n - p - strlen(".scope"))) {
			snprintf(buf, len, "%s:%.*s", scopes[i].runtime,
				 SHORT_ID, c + p);
			return true;
		}
	}
	/* cgroupfs driver: /docker/<id>, /kubepods/.../pod<uid>/<id> */
	if (is_hex_id(c, n)) {
		const char *rt = m == 6 && !strncmp(up, "docker", 6) ?
				 "docker" : "container";

		snprintf(buf, len, "%s:%.*s", rt, SHORT_ID, c);
		return true;
	}
	if (has_prefix(c, n, "lxc.payload.") && n > 12) {
		snprintf(buf, len, "lxc:%.*s", (int)(n - 12), c + 12);
		return true;
	}
	if (has_prefix(c, n, "systemd-nspawn@") &&
	    has_suffix(c, n, ".service") && n > 23) {
		snprintf(buf, len, "nspawn:%.*s", (int)(n - 23), c + 15);
		return true;
	}
	return false;
}

/* The pod uid in a component "kubepods-burstable-pod<uid>.slice" or
 * "pod<uid>" (cgroupfs), cut at POD_ID characters. */
static bool pod_of(const char *c, size_t n, char *buf, size_t len)
{
	const char *p = NULL;

	if (has_prefix(c, n, "kubepods") && has_suffix(c, n, ".slice")) {
		for (size_t i = 0; i + 3 < n; i++)
			if (!strncmp(c + i, "-pod", 4))
				p = c + i + 4;
	} else if (has_prefix(c, n, "pod") && n > 3) {
		p = c + 3;
	}
	if (!p)
		return false;
	n = strcspn(p, "-_./");
	snprintf(buf, len, "%.*s", (int)(n < POD_ID ? n : POD_ID), p);
	return n > 0;
}

bool hl_container_name(const char *path, char *buf, size_t len)
{
	const char *c[64], *s = path;
	size_t n[64], k = 0;
	char pod[POD_ID + 1] = "", ctr[128];

	while (*s && k < 64) {
		s += strspn(s, "/");
		if (!*s)
			break;
		c[k] = s;
		n[k] = strcspn(s, "/");
		s += n[k++];
	}
	buf[0] = '\0';
	/* The deepest container wins: podman nests "container" below its
	 * scope, and a container may run its own. */
	for (size_t i = k; i-- > 0;) {
		if (!component(i ? c[i - 1] : "", i ? n[i - 1] : 0, c[i],
			       n[i], ctr, sizeof(ctr)))
			continue;
		for (size_t j = 0; j < i && !pod[0]; j++)
			pod_of(c[j], n[j], pod, sizeof(pod));
		if (pod[0])
			snprintf(buf, len, "pod:%s/%s", pod, ctr);
		else
			snprintf(buf, len, "%s", ctr);
		return true;
	}
	return false;
}
