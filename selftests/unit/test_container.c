// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Container names from cgroup paths (tools/lib/container.c), on the paths
 * the common runtimes make with either cgroup driver; and nothing for the
 * paths that are not containers.
 */
#include <string.h>
#include "container.h"
#include "tap.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHORT "0123456789ab"

static const struct {
	const char *path, *want;	/* want NULL: not a container */
} cases[] = {
	{ "/system.slice/docker-" ID ".scope", "docker:" SHORT },
	{ "/docker/" ID, "docker:" SHORT },
	{ "/system.slice/containerd.service", NULL },
	{ "/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/"
	  "cri-containerd-" ID ".scope", "pod:1a2b3c4d/containerd:" SHORT },
	{ "/kubepods.slice/kubepods-pod99aa00bb_1111_2222_3333_444455556666"
	  ".slice/crio-" ID ".scope", "pod:99aa00bb/crio:" SHORT },
	{ "/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" ID,
	  "pod:1a2b3c4d/container:" SHORT },
	{ "/kubepods.slice/kubepods-burstable.slice", NULL },
	{ "/machine.slice/libpod-" ID ".scope/container", "podman:" SHORT },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-"
	  ID ".scope", "podman:" SHORT },
	{ "/lxc.payload.web/init.scope", "lxc:web" },
	{ "/machine.slice/systemd-nspawn@db.service/payload", "nspawn:db" },
	{ "/", NULL },
	{ "", NULL },
	{ "/system.slice/nginx.service", NULL },
	{ "/docker-" SHORT ".scope", NULL },		/* not a full id */
	{ "/docker-" ID "0.scope", NULL },		/* 65 digits */
	{ "/docker-" ID ".scopex", NULL },
	{ "cgroup:1234", NULL },
	{ "/lxc.payload.", NULL },
	{ "/a/" ID "/b/docker-" ID ".scope", "docker:" SHORT },
};

int main(void)
{
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		bool got = hl_container_name(cases[i].path, buf, sizeof(buf));

		if (cases[i].want)
			tap_check(got && !strcmp(buf, cases[i].want),
				  "%s -> %s (got %s)", cases[i].path,
				  cases[i].want, got ? buf : "nothing");
		else
			tap_check(!got && !buf[0], "%s -> nothing (got %s)",
				  cases[i].path, buf);
	}
	/* a short buffer cuts, never overflows */
	hl_container_name(cases[0].path, buf, 8);
	tap_check(strlen(buf) == 7, "cut to 7 characters: %s", buf);
	return tap_done();
}
