"""The verdict on a set of runs."""

from __future__ import annotations

from collections.abc import Sequence

from flaketui.models import RunOutcome, RunResult, Verdict


def verdict_of(results: Sequence[RunResult], *, errored: bool = False) -> Verdict:
    """``stable`` all passed, ``broken`` none passed, ``flaky`` mixed, ``error`` nothing ran.

    Runs that could not run the test at all (every one an ``error``: a skip, a fixture
    that cannot be set up) say nothing about flakiness either, so they are ``error`` too.
    """
    if not results or (errored and all(r.outcome is RunOutcome.ERROR for r in results)):
        return Verdict.ERROR
    passed = sum(1 for r in results if r.outcome is RunOutcome.PASSED)
    if passed == len(results):
        return Verdict.STABLE
    if passed == 0:
        return Verdict.ERROR if all(r.outcome is RunOutcome.ERROR for r in results) else Verdict.BROKEN
    return Verdict.FLAKY
