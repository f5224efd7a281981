// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The semaphore-guarded marker of the test program. sys/sdt.h decides
 * once per file, when it is included, whether its markers name a
 * semaphore: hence a file of its own.
 */
#define _SDT_HAS_SEMAPHORES 1
#include "markers.h"

/* Raised by the kernel (uprobe ref_ctr_offset) while a tool is attached;
 * the name is sys/sdt.h's: provider_name_semaphore. */
unsigned short hltest_guarded_semaphore __attribute__((section(".probes")));

HL_SITE_FN void fire_guarded(int round, const char *what)
{
	/* the cost of the arguments is paid only while someone listens */
	if (hltest_guarded_semaphore)
		MARK2(guarded, round, what);
}
