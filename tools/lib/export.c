// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"
#include "export.h"
#include "hist_maps.h"
#include "httpd.h"
#include "loop.h"
#include "metrics.h"
#include "util.h"

#define DEFAULT_MAX_SERIES 128
#define MAX_MAX_SERIES 100000

enum {
	OPT_LISTEN = 0x200,
	OPT_TEXTFILE,
	OPT_BUCKETS,
	OPT_MAX_SERIES,
};

static struct {
	const char *listen;
	const char *textfile;
	const char *buckets;
	uint64_t max_series;
	const char *export_only;	/* an option that needs the two above */
	struct hl_bounds bounds;
	struct hl_httpd *httpd;
	struct hl_metrics *metrics;
	const struct hl_loop *loop;
	bool textfile_failing;	/* warned: quiet until it works again */
} ex = { .buckets = "log2", .max_series = DEFAULT_MAX_SERIES };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Export to Prometheus (docs/metrics.md):", 5 },
	{ "listen", OPT_LISTEN, "[ADDR:]PORT", 0,
	  "Serve totals at http://ADDR:PORT/metrics instead of printing "
	  "reports (ADDR default 127.0.0.1)", 5 },
	{ "textfile", OPT_TEXTFILE, "PATH", 0,
	  "Write totals to this .prom file every interval, for "
	  "node_exporter's textfile collector", 5 },
	{ "buckets", OPT_BUCKETS, "SCHEME", 0,
	  "Exported buckets: log2 (one per power of two, the default), fine "
	  "(16 per power of two) or bounds in seconds (0.001,0.01,...)", 5 },
	{ "max-series", OPT_MAX_SERIES, "N", 0,
	  "Label sets kept (default 128); later ones count as \"other\"", 5 },
	{}
};

bool hl_exporting(void)
{
	return ex.listen || ex.textfile;
}

static void check_textfile(const char *path)
{
	char *copy = strdup(path), *dir;
	size_t n = strlen(path);

	if (!copy)
		hl_die("out of memory");
	if (n < 6 || strcmp(path + n - 5, ".prom") || path[n - 6] == '/')
		hl_usage_error("invalid text file '%s': the name must end in "
			       ".prom (node_exporter reads no other)", path);
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK))
		hl_usage_error("cannot write text file '%s': %s: %s", path, dir,
			       strerror(errno));
	free(copy);
}

static void check_export(void)
{
	if (hl_opts.json)
		hl_usage_error("-j prints reports, %s exports them: use one",
			       ex.listen ? "--listen" : "--textfile");
	if (ex.textfile)
		check_textfile(ex.textfile);
	if (!hl_opts.interval_ns)
		hl_opts.interval_ns = 1000000000ULL;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	char err[256];

	(void)state;
	switch (key) {
	case OPT_LISTEN: ex.listen = arg; break;
	case OPT_TEXTFILE: ex.textfile = arg; break;
	case OPT_BUCKETS:
		ex.buckets = arg;
		ex.export_only = "--buckets";
		break;
	case OPT_MAX_SERIES:
		ex.export_only = "--max-series";
		if (!hl_parse_u64(arg, 1, MAX_MAX_SERIES, &ex.max_series))
			hl_usage_error("invalid --max-series '%s': expected a "
				       "number from 1 to %d", arg,
				       MAX_MAX_SERIES);
		break;
	case ARGP_KEY_END:
		if (hl_bounds_parse(ex.buckets, &ex.bounds, err, sizeof(err)))
			hl_usage_error("%s", err);
		if (hl_exporting())
			check_export();
		else if (ex.export_only)
			hl_usage_error("%s shapes what --listen or --textfile "
				       "export: give one of them", ex.export_only);
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp hl_export_argp = { .options = options, .parser = parse };

/* The maps into the totals: every interval, not at each scrape. A drain
 * walks the whole of the keyed hashes, occupied or not, and waits for an
 * RCU grace period (measured: 5 to 11 ms of CPU on this 2-CPU machine);
 * a scrape costs only the writing, however often and by how many
 * scrapers, and what it serves is at most one interval old. */
static int collect(void)
{
	struct hl_hist *h = NULL;
	uint64_t lost = 0;
	size_t n = 0;
	int err = hl_hist_collect(ex.loop->maps, &h, &n, &lost);

	if (err) {
		free(h);
		hl_warn("cannot read the histogram maps: error %d", err);
		return -EIO;
	}
	hl_metrics_add(ex.metrics, h, n, lost);
	free(h);
	return 0;
}

static int body(enum hl_expo_format fmt, char **buf, size_t *len, void *ctx)
{
	FILE *f;
	int err;

	(void)ctx;
	f = open_memstream(buf, len);
	if (!f)
		return -errno;
	err = hl_metrics_write(ex.metrics, f, fmt);
	if (fclose(f) || err) {
		free(*buf);
		*buf = NULL;
		return -EIO;
	}
	return 0;
}

void hl_export_open(void)
{
	char err[256];

	if (!ex.listen)
		return;
	ex.httpd = hl_httpd_open(ex.listen, body, NULL, err, sizeof(err));
	if (!ex.httpd)
		hl_usage_error("%s", err);
}

void hl_export_begin(const struct hl_loop *l)
{
	struct hl_metrics_cfg cfg = {
		.tool = l->report.tool, .what = l->what, .report = &l->report,
		.bounds = &ex.bounds, .max_series = ex.max_series,
	};

	ex.loop = l;
	ex.metrics = hl_metrics_new(&cfg);
	if (ex.httpd)
		fprintf(stderr, "Serving metrics at %s\n",
			hl_httpd_url(ex.httpd));
	if (ex.textfile)
		fprintf(stderr, "Writing metrics to %s every %llu s\n",
			ex.textfile,
			(unsigned long long)(hl_opts.interval_ns / 1000000000ULL));
}

int hl_export_fd(void)
{
	return ex.httpd ? hl_httpd_fd(ex.httpd) : -1;
}

uint64_t hl_export_deadline(void)
{
	return ex.httpd ? hl_httpd_deadline(ex.httpd) : 0;
}

void hl_export_serve(uint64_t now_ns)
{
	if (ex.httpd)
		hl_httpd_serve(ex.httpd, now_ns);
}

/* node_exporter must never read half a file: a temporary file in the
 * same directory (a name it ignores), renamed over the old one. */
static int write_textfile(void)
{
	size_t n = strlen(ex.textfile) + 16;
	char *tmp = malloc(n), *slash;
	int fd, err = -1;
	FILE *f;

	if (!tmp)
		return -1;
	slash = strrchr(ex.textfile, '/');
	snprintf(tmp, n, "%.*s.%s.XXXXXX",
		 slash ? (int)(slash - ex.textfile + 1) : 0, ex.textfile,
		 slash ? slash + 1 : ex.textfile);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0644) || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	err = hl_metrics_write(ex.metrics, f, HL_EXPO_PROMETHEUS);
	err |= fclose(f);
	if (!err)
		err = rename(tmp, ex.textfile);
out:
	if (err && fd >= 0)
		unlink(tmp);
	free(tmp);
	return err;
}

int hl_export_drain(void)
{
	int err = collect();

	if (err)
		return HL_EXIT_FAIL;
	if (!ex.textfile)
		return HL_EXIT_OK;
	if (write_textfile()) {
		if (!ex.textfile_failing)
			hl_warn("cannot write %s: %s", ex.textfile,
				strerror(errno));
		ex.textfile_failing = true;
	} else {
		ex.textfile_failing = false;
	}
	return HL_EXIT_OK;
}

void hl_export_end(void)
{
	if (ex.httpd)
		hl_httpd_close(ex.httpd);
	ex.httpd = NULL;
	hl_metrics_free(ex.metrics);
	ex.metrics = NULL;
}
