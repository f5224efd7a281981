"""Facts about the project the tests check against: its tools (from the
Makefile, so a new tool is covered without touching the tests) and its
one version (the VERSION file)."""
import os

from lib.harness import fail
from lib.tool import ROOT


def tools():
    """TOOLS and PLAIN_TOOLS of the Makefile, in that order."""
    names = []
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            if line.startswith(("TOOLS :=", "PLAIN_TOOLS :=")):
                names += line.split(":=", 1)[1].split()
    if not names:
        fail("no TOOLS in the Makefile")
    return names


def version():
    with open(os.path.join(ROOT, "VERSION")) as f:
        return f.read().strip()
