// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include "verifier.h"

#define LOG_BEGIN "-- BEGIN PROG LOAD LOG --\n"
#define LOG_END "-- END PROG LOAD LOG --"

/* The statistics the verifier ends a log with, after its verdict. */
static bool is_statistic(const char *line)
{
	return !strncmp(line, "processed ", 10) ||
	       !strncmp(line, "verification time", 17) ||
	       !strncmp(line, "stack depth", 11);
}

bool hl_verifier_reason(const char *msg, char *prog, size_t prog_len,
			char *why, size_t why_len)
{
	const char *name = strstr(msg, "prog '");
	const char *log = strstr(msg, LOG_BEGIN);
	const char *end = log ? strstr(log, LOG_END) : NULL;
	const char *p, *nl, *line = NULL;
	int n = 0;

	if (!name || !log || !end || name > log)
		return false;
	name += strlen("prog '");
	n = strcspn(name, "'");
	snprintf(prog, prog_len, "%.*s", n, name);
	n = 0;
	for (p = log + strlen(LOG_BEGIN); p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (nl > p && !is_statistic(p)) {
			line = p;
			n = nl - p;
		}
	}
	snprintf(why, why_len, "%.*s", n, line ? line : "");
	return true;
}
