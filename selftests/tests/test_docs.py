"""Every tool of the Makefile's TOOLS and PLAIN_TOOLS is where a user
looks for it: a row in README.md's table of tools (linking its man page)
and in its Kernels table, a line in the package description, and a
mention in docs/json.md. A new tool fails here until it is."""
import os
import re

from lib import project
from lib.harness import check, test
from lib.tool import ROOT


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def section(text, heading):
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


@test("docs/every-tool-indexed")
def every_tool_indexed():
    readme, control, json_md = (read("README.md"), read("debian/control"),
                                read("docs/json.md"))
    tools = project.tools()
    kernels = section(readme, "## Kernels")
    for t in tools:
        check("| [`%s`](man/%s.8) |" % (t, t) in readme,
              "README.md has no row for %s in its table of tools" % t)
        check(re.search(r"^\|[^|\n]*`%s`[^|\n]*\|" % t, kernels, re.M),
              "README.md's Kernels table has no row naming %s" % t)
        check("  * %s: " % t in control, "debian/control's description "
              "does not list %s" % t)
        check(re.search(r"\b%s\b" % t, json_md), "docs/json.md does not "
              "mention %s" % t)
    return "%d tools: README (tools, kernels), debian/control, docs/json.md" \
        % len(tools)
