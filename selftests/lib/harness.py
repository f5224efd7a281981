"""Test registry and runner core.

A test is a function registered with @test("area/name"). It returns a short
detail string for the "ok" line, or raises Failure (via check()/fail()).
Helpers that find a problem which must fail the current test but must not
interrupt its cleanup (a BPF program left loaded, say) call note_failure().
"""
import os
import signal
import time
import traceback

_TESTS = []
_current = None
# A test that hangs (a process stuck in the kernel, a wait without a
# timeout) fails on its own, saying where it hung, and the run goes on.
# The package build, the slowest test, takes about four minutes.
TEST_TIMEOUT = int(os.environ.get("HL_TEST_TIMEOUT", "900"))


class Failure(Exception):
    """The current test failed; the message is its one-line reason."""


class Done(Exception):
    """The test has checked all that applies on this machine (e.g. that a
    tool says in one line why this kernel cannot do what the test does)
    and ends early; the message is its detail, saying what was checked."""


def test(name):
    def register(fn):
        if any(t[0] == name for t in _TESTS):
            raise RuntimeError("duplicate test name " + name)
        _TESTS.append((name, fn))
        return fn
    return register


def tests():
    return list(_TESTS)


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def note_failure(msg):
    """Fail the running test without raising (used from cleanup paths)."""
    if _current is None:
        raise Failure(msg)
    _current.append(msg)


def _one_line(s):
    return " ".join(str(s).split())


def _timed_out(signum, frame):
    """Names the innermost line of ours it was at (not the library's)."""
    ours = [f for f in traceback.extract_stack(frame)
            if "/selftests/" in f.filename] if frame else []
    where = "%s:%d" % (ours[-1].filename.rsplit("/", 1)[-1],
                       ours[-1].lineno) if ours else "?"
    raise Failure("did not finish within %d s (was at %s)" % (
        TEST_TIMEOUT, where))


def run_one(name, fn, after_test=None):
    """Run one test; returns (passed, line)."""
    global _current
    _current = []
    detail, reason = "", None
    start = time.monotonic()
    old = signal.signal(signal.SIGALRM, _timed_out)
    signal.alarm(TEST_TIMEOUT)
    try:
        detail = fn() or ""
    except Done as e:
        detail = str(e)
    except Failure as e:
        reason = str(e)
    except Exception as e:  # a bug in the test itself: still one line
        tb = traceback.extract_tb(e.__traceback__)[-1]
        reason = "%s: %s (%s:%d)" % (type(e).__name__, e,
                                     tb.filename.rsplit("/", 1)[-1], tb.lineno)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        if after_test:
            try:
                after_test()
            except Failure as e:
                _current.append(str(e))
        problems, _current = _current, None
    if reason is None and problems:
        reason = problems[0]
        problems = problems[1:]
    if reason is not None:
        extra = "; ".join(problems)
        return False, "FAIL %s: %s%s" % (name, _one_line(reason),
                                         " (also: %s)" % _one_line(extra)
                                         if extra else "")
    secs = time.monotonic() - start
    return True, "ok   %s  %s" % (name, _one_line(
        detail + ("  [%.1fs]" % secs if secs >= 1 else "")))
