/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* schedlat: types shared by progs/schedlat.bpf.c and tools/schedlat.c. */
#ifndef HOWLONG_SCHEDLAT_H
#define HOWLONG_SCHEDLAT_H

/* Bounded fallback store of wakeup times, when task storage is unusable. */
#define SCHEDLAT_START_ENTRIES 32768

#endif /* HOWLONG_SCHEDLAT_H */
