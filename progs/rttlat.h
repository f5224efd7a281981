/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* rttlat: types shared by progs/rttlat.bpf.c and tools/rttlat.c. */
#ifndef HOWLONG_RTTLAT_H
#define HOWLONG_RTTLAT_H

#include "lib/sock.h"

/* One histogram for all, or one per remote or local endpoint (its id,
 * lib/sock.h). */
enum rttlat_key {
	RTTLAT_KEY_NONE,
	RTTLAT_KEY_REMOTE,
	RTTLAT_KEY_LOCAL,
};

/* Sockets of the processes -p, -c or --comm select, at most. */
#define RTTLAT_OWNED_MAX 65536

#endif /* HOWLONG_RTTLAT_H */
