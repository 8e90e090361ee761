""""Before" in the mode the cause needs, and the polluter behind an order-dependent failure.

A fix is proven against the failure rate of the unfixed test, measured where the cause shows:
forked for most, random order among its module's tests for state another test leaves behind,
fresh interpreters for hash order. The diagnosis may not see the cause (``unknown``), so when the
runs in its mode see no failure, the modes it could have missed run too before anything calls
the test stable: a test that fails only after a neighbour never gets a marker-only commit.

When it fails in random order, bisection (``flaketui hunt``'s, over the tests of its module) names
the polluter, which is recorded like a hunt's, so the proposals restore state in the polluter.
A polluter in another module (the diagnosis names it, or a bisection confirmed it) makes that
module a *companion*: random order shuffles its tests in with those of the test's module, and
bisection searches them too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flaketui.models import Category, FlakyTest, VerifyMode
from flaketui.proof import mode_for

if TYPE_CHECKING:
    from flaketui.models import Evidence, Verification
    from flaketui.pollution import Bisection
    from flaketui.remedies import Proposal
    from flaketui.workflows.workspace import Workspace

#: Minutes a bisection may take before it gives up (a module's tests, about log2(n) + 5 runs).
BISECT_BUDGET_SECONDS = 300.0
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
_TEST_DEF = re.compile(rb"^\s*(?:async\s+)?def\s+test", re.MULTILINE)

Measure = Callable[[VerifyMode], "Verification"]


def further_modes(workspace: Workspace, test: FlakyTest, tried: VerifyMode,
                  companions: Sequence[str] = ()) -> list[VerifyMode]:  # fmt: skip
    """Where else the test may fail when the runs in ``tried`` saw nothing: among its module's
    other tests (and its companions') in random order (if it has any), then with a fresh hash seed
    per run, then beside them in two xdist workers (a file or folder they share fails only when
    they run at once)."""
    modes = []
    neighbours = has_neighbours(workspace, test)
    if tried is not VerifyMode.RANDOM_ORDER and (neighbours or companions):
        modes.append(VerifyMode.RANDOM_ORDER)
    if tried is not VerifyMode.FRESH_PROCESS:
        modes.append(VerifyMode.FRESH_PROCESS)
    if tried is not VerifyMode.PARALLEL and (neighbours or _parametrized(workspace, test)):
        modes.append(VerifyMode.PARALLEL)
    return modes


def companions(test: FlakyTest, evidence: Sequence[Evidence], confirmed: Sequence[str]) -> tuple[str, ...]:
    """Other test modules (as pytest takes them from the test's rootdir) where the diagnosis, or a
    bisection (``confirmed``: node ids), found what the test fails after."""
    base = "" if test.rootdir in ("", ".") else test.rootdir.rstrip("/") + "/"
    module = test.nodeid.split("::", 1)[0]
    named = [e.fix_path.removeprefix(base) for e in evidence if e.category is Category.ORDER and e.source == "code"
             and e.fix_path.startswith(base) and _TEST_FILE.search(e.fix_path)]  # fmt: skip
    named += [n.split("::", 1)[0] for n in confirmed]
    return tuple(dict.fromkeys(m for m in named if m != module))


def has_neighbours(workspace: Workspace, test: FlakyTest) -> bool:
    source = workspace.read_bytes(test.path) or b""
    return len(_TEST_DEF.findall(source)) > 1


def _parametrized(workspace: Workspace, test: FlakyTest) -> bool:
    """Its cases are neighbours too: two of them may share a file in two xdist workers."""
    return "[" in test.nodeid or b"parametrize" in (workspace.read_bytes(test.path) or b"")


def measure_before(
    measure: Measure, mode: VerifyMode, further: Sequence[VerifyMode], on_phase: Callable[[str], None]
) -> tuple[VerifyMode, Verification]:
    """The first mode (``mode``, then ``further``) whose runs see a failure, with its runs; the
    first mode's when none does."""
    first = measure(mode)
    if first.passed < first.runs:
        return mode, first
    for other in further:
        on_phase(f"no failure {mode}; before: the same runs {other}, where a cause the diagnosis missed shows")
        found = measure(other)
        if found.passed < found.runs:
            return other, found
    return mode, first


def first_for_mode(fixes: Sequence[Proposal], choice: int, mode: VerifyMode) -> list[Proposal]:
    """The proposals from ``choice`` on, those whose cause shows in ``mode`` first: when the test
    failed only in another mode than the best proposal's (a shared folder that only xdist shows,
    behind an undiagnosed sleep), the remedy of what did fail is tried first. Stable: the
    ranking holds among each group."""
    rest = sorted(fixes[choice:], key=lambda p: mode_for(p.category, p.remedy) is not mode)
    return [*fixes[:choice], *rest]


def find_polluter(workspace: Workspace, test: FlakyTest, *, should_stop: Callable[[], bool] | None = None,
                  companions: Sequence[str] = ()) -> Bisection:  # fmt: skip
    """Bisect over the other tests of its module (and of its companions) for the one it fails
    after; a polluter found is recorded (``flaketui hunt`` shows it, and the proposals restore
    state in it)."""
    from flaketui import store_hunts
    from flaketui.hunt_bisect import bisect_victim
    from flaketui.hunting import HuntSettings
    from flaketui.models.history import HuntMode, Polluter
    from flaketui.pollution import Bisection
    from flaketui.verify.hunt import Suite, SuitePass, run_pass
    from flaketui.verify.runner import installed_probe

    stop = should_stop or (lambda: False)
    module = test.nodeid.split("::", 1)[0]
    cwd = workspace.root if test.rootdir in ("", ".") else workspace.root / test.rootdir
    python = workspace.python or workspace.interpreter().path
    suite = Suite(cwd, python, (module, *companions), workspace.pytest_args)
    settings = HuntSettings(test.rootdir, suite, 1, BISECT_BUDGET_SECONDS)
    deadline = time.monotonic() + BISECT_BUDGET_SECONDS
    with installed_probe() as probe_dir:
        listing = run_pass(SuitePass(suite, HuntMode.SERIAL, 1),
                           probe_dir, should_stop=stop, deadline_seconds=BISECT_BUDGET_SECONDS)  # fmt: skip
        order = [o.nodeid for o in listing.outcomes]
        base = test.nodeid.split("[", 1)[0]
        victims = [n for n in order if n == test.nodeid or n.split("[", 1)[0] == base]
        if not listing.complete or not victims:
            return Bisection(None, 1, listing.problem or f"{test.nodeid} did not run", stopped=not listing.complete)
        victim = victims[0]
        others = [n for n in order if n.split("[", 1)[0] != base]
        bisection = bisect_victim(settings, probe_dir, others, victim, 1, stop=stop, deadline=deadline)
    if bisection.polluter is not None:
        store_hunts.add_polluter(workspace.store, Polluter(test.rootdir, victim, bisection.polluter, bisection.runs))
    return bisection


def reached_tests(test: FlakyTest, chosen: Proposal) -> list[str]:
    """Test files, other than the test's own function, whose tests the fix can change: a
    polluter made to restore state, or any file the fix edits besides the test's own file
    (project code imported by other tests too)."""
    if chosen.remedy.startswith("restore.") or any(p != test.path for p in chosen.files):
        return sorted({p for p in chosen.files if _TEST_FILE.search(p)} | {test.path})
    return []


def passing_tests(workspace: Workspace, test: FlakyTest, paths: Sequence[str],
                  should_stop: Callable[[], bool] | None = None) -> set[str]:  # fmt: skip
    """Node ids that pass in one serial pass of these test files (empty for no files)."""
    from flaketui.models.history import HuntMode
    from flaketui.verify.hunt import Suite, SuitePass, run_pass
    from flaketui.verify.runner import installed_probe

    if not paths:
        return set()
    cwd = workspace.root if test.rootdir in ("", ".") else workspace.root / test.rootdir
    base = "" if test.rootdir in ("", ".") else test.rootdir.rstrip("/") + "/"
    relative = tuple(p.removeprefix(base) for p in paths)
    python = workspace.python or workspace.interpreter().path
    with installed_probe() as probe_dir:
        found = run_pass(SuitePass(Suite(cwd, python, relative, workspace.pytest_args), HuntMode.SERIAL, 1),
                         probe_dir, should_stop=should_stop, deadline_seconds=BISECT_BUDGET_SECONDS)  # fmt: skip
    return {o.nodeid for o in found.outcomes if o.outcome == "passed"}


#: Serial passes after the fix that a test which passed before must fail, every one, to count as
#: broken by it: a flaky neighbour fails one pass by chance (1 in 2**4 for one failing half the time),
#: a test that relied on the pollution fails them all.
BREAK_PASSES = 4


def broken_by_fix(workspace: Workspace, test: FlakyTest, paths: Sequence[str], passed_before: set[str],
                  should_stop: Callable[[], bool] | None = None) -> list[str]:  # fmt: skip
    """The tests of ``paths`` that passed before the fix and fail in every pass after it."""
    suspects = passed_before
    for _ in range(BREAK_PASSES):
        suspects = suspects - passing_tests(workspace, test, paths, should_stop)
        if not suspects or (should_stop is not None and should_stop()):
            break
    return sorted(suspects)
