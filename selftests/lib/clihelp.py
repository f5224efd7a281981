"""What the tools say about themselves on --help: the options of its
option table, with the value each takes. Shared by the man page and
completion tests; the tool list and the version are lib/project's.
"""
import re

from lib import tool
from lib.harness import check

ROOT = tool.ROOT

# argp's option column: "  -c, --cgroup=PATH", "      --comm=NAME",
# "  -h", "  -?, --help"; the description starts two or more spaces later
# (or on the next line when the options are long).
_OPTION_LINE = re.compile(r"^(?:  -[^-\s]|      --[^-\s])")
_OPTION = re.compile(r"^(--?[^\s=\[,]+)(?:\[?[= ](\S+?)\]?)?$")


def help_text(name):
    """TOOL --help: exit 0, nothing on stderr."""
    r = tool.run(["--help"], name=name)
    r.expect_rc(0)
    check(not r.err, "%s wrote to stderr: %r" % (r.cmd(), r.err[:120]))
    return r.out


def help_options(text):
    """[(option, metavar or None)] in the order --help lists them, e.g.
    ("-p", "PID"), ("--pid", "PID"), ("-?", None): every short and long
    option of the option table (usage, description and examples are not
    read)."""
    found = []
    for line in text.splitlines():
        if not _OPTION_LINE.match(line):
            continue
        spec = re.split(r"\s{2,}", line.strip())[0]
        parts = [p.strip() for p in spec.split(", ")]
        opts = []
        for p in parts:
            m = _OPTION.match(p)
            check(m, "cannot read option %r in --help line %r" % (p, line))
            opts.append(m.groups())
        # argp writes the argument once, on the last (long) form
        arg = next((a for _, a in reversed(opts) if a), None)
        found += [(o, arg) for o, _ in opts]
    check(found, "no option table in --help output")
    return found
