/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* tcprtt: types shared by progs/tcprtt.bpf.c and tools/tcprtt.c. */
#ifndef HOWLONG_TCPRTT_H
#define HOWLONG_TCPRTT_H

#include "lib/sock.h"

/* One histogram for all, or one per remote or local endpoint (its id,
 * lib/sock.h). */
enum tcprtt_key {
	TCPRTT_KEY_NONE,
	TCPRTT_KEY_REMOTE,
	TCPRTT_KEY_LOCAL,
};

/* Sockets of the processes -p, -c or --comm select, at most. */
#define TCPRTT_OWNED_MAX 65536

#endif /* HOWLONG_TCPRTT_H */
