#!/usr/bin/python3
"""howlong selftests: run as root by `make check` (which builds first).

    selftests/run.py [-k SUBSTRING]...

Runs every test registered by selftests/tests/test_*.py, prints one line per
test ("ok   <name>  <detail>" or "FAIL <name>: <reason>") and ends with
"N passed, N failed"; exits 1 if any failed. -k runs only the tests whose
name contains one of the substrings (for development).
"""
import argparse
import glob
import importlib
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from lib import harness  # noqa: E402
from lib.procs import check_no_strays  # noqa: E402

# Cheap and fundamental first; anything new is appended alphabetically.
ORDER = ["unit", "cli", "output", "accuracy", "filters"]


def modules():
    names = [os.path.basename(p)[len("test_"):-len(".py")]
             for p in glob.glob(os.path.join(HERE, "tests", "test_*.py"))]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER
                                        else len(ORDER), n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", action="append", default=[],
                    help="only tests whose name contains this")
    ap.add_argument("-x", action="append", default=[],
                    help="not the tests whose name contains this (the "
                    "kernel matrix: where a peer cannot run)")
    ap.add_argument("--after", help="only the tests after this one (the "
                    "kernel matrix: the rest of a run whose guest stopped)")
    args = ap.parse_args()

    passed = failed = 0
    failures = []

    def report(ok, line):
        nonlocal passed, failed
        print(line, flush=True)
        passed += ok
        failed += not ok
        if not ok:
            failures.append(line.splitlines()[0][:200])

    if os.geteuid() != 0:
        report(False, "FAIL selftests: must run as root (sudo make check)")
    else:
        for mod in modules():
            try:
                importlib.import_module("tests.test_" + mod)
            except Exception as e:
                report(False, "FAIL %s: cannot load tests/test_%s.py: %s: %s"
                       % (mod, mod, type(e).__name__, e))
        waiting = args.after
        for name, fn in harness.tests():
            if waiting:
                waiting = None if name == waiting else waiting
                continue
            if args.k and not any(k in name for k in args.k) or \
                    any(x in name for x in args.x):
                continue
            report(*harness.run_one(name, fn, after_test=check_no_strays))
    # Repeated at the end: a CI log is often read from its tail only.
    for line in failures:
        print("failed: " + line, flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
