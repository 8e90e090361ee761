"""The verdict on a set of runs."""

from __future__ import annotations

from collections.abc import Sequence

from flaketui.models import RunOutcome, RunResult, Verdict


def verdict_of(results: Sequence[RunResult], *, errored: bool = False, cancelled: bool = False, runs_requested: int = 0) -> Verdict:
    """``stable`` all passed, ``broken`` none passed, ``flaky`` mixed, ``error`` nothing ran.

    A run that skipped makes the whole verification ``skipped``: the test did not run, so it
    is neither a failure nor a pass. Fewer runs than asked for because of a cancel is
    ``cancelled``, whatever they said: a verification is the runs that were asked for.
    Runs that could not run the test at all (every one an ``error``: a fixture that cannot
    be set up) say nothing about flakiness either, so they are ``error`` too.
    """
    if any(r.outcome is RunOutcome.SKIPPED for r in results):
        return Verdict.SKIPPED
    if cancelled and len(results) < runs_requested:
        return Verdict.CANCELLED
    if not results or (errored and all(r.outcome is RunOutcome.ERROR for r in results)):
        return Verdict.ERROR
    passed = sum(1 for r in results if r.outcome is RunOutcome.PASSED)
    if passed == len(results):
        return Verdict.STABLE
    if passed == 0:
        return Verdict.ERROR if all(r.outcome is RunOutcome.ERROR for r in results) else Verdict.BROKEN
    return Verdict.FLAKY
