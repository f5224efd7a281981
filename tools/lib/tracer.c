// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "cli.h"
#include "export.h"
#include "owner.h"
#include "tracer.h"
#include "util.h"

void hl_tracer_start(struct hl_tracer *t, int argc, char **argv)
{
	hl_tool = t->name;	/* a usage error names the tool */
	hl_cli_user_space = t->user_space;
	hl_cli_no_task = t->no_task;
	hl_cli_extra = &hl_export_argp;
	if (!t->loop.report.tool)
		t->loop.report.tool = t->name;
	if (t->args_doc)
		hl_parse_args_pos(argc, argv, &t->argp, t->doc, t->args_doc,
				  t->npos);
	else
		hl_parse_args(argc, argv, &t->argp, t->doc);
	hl_setup(t->name);
}

void *hl_tracer_attach(struct hl_tracer *t)
{
	struct bpf_object *obj;

	if (hl_exporting()) {
		if (t->events)
			hl_usage_error("--listen and --textfile export "
				       "histograms: not with -M or --top");
		hl_export_open();
	}
	if (t->path && hl_opts.verbose)
		hl_warn("attaching to %s", t->path);
	t->skel = hl_open_attach(t->ops, t->prepare, NULL, &t->method);
	obj = t->ops->object(t->skel);
	if (hl_hist_maps_init(&t->maps, obj, t->ops->hist_buf(t->skel),
			      t->keyed || hl_owner != HL_OWNER_NONE))
		hl_die("histogram maps missing from the BPF object");
	t->loop.maps = &t->maps;
	if (t->events &&
	    !(t->loop.ring = bpf_object__find_map_by_name(obj, "events")))
		hl_die("event ring buffer missing from the BPF object");
	return t->skel;
}

int hl_tracer_run(struct hl_tracer *t)
{
	int err = hl_loop_run(&t->loop);

	hl_drop_links();
	t->ops->destroy(t->skel);
	t->skel = NULL;
	return err;
}
