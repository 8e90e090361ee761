"""A hunt's verdicts from its runs' counts: which tests failed, in which modes, and what that
makes them (``flaky``, ``order-dependent``, ``parallel-unsafe``, ``broken``); an
order-dependent verdict with no culprit found stands only when chance could not give it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from flaketui.models.history import HuntMode, HuntRun, HuntTest, HuntVerdict, Tally

MODES = (HuntMode.SERIAL, HuntMode.SHUFFLED, HuntMode.XDIST)


def classify(runs: Sequence[HuntRun], rootdir: str = ".") -> list[HuntTest]:
    """Every test that failed at least once, with its counts per mode and a verdict.

    ``order-dependent`` here means "its outcome changed with the order only"; bisection
    confirms it (or turns it into ``flaky`` when the failing order passes when run again).
    """
    tallies: dict[str, dict[HuntMode, Tally]] = {}
    failures: dict[str, str] = {}
    for run in runs:
        for outcome in run.outcomes:
            if outcome.outcome not in ("passed", "failed"):
                continue
            by_mode = tallies.setdefault(outcome.nodeid, {})
            failed = outcome.outcome == "failed"
            by_mode[run.mode] = by_mode.get(run.mode, Tally()) + Tally(int(not failed), int(failed))
            if failed:
                failures[outcome.nodeid] = outcome.message
    found = []
    for nodeid, by_mode in tallies.items():
        total = sum(by_mode.values(), Tally())
        if not total.failed:
            continue
        found.append(
            HuntTest(
                rootdir=rootdir,
                nodeid=nodeid,
                modes=tuple((m, by_mode.get(m, Tally())) for m in MODES),
                verdict=_verdict(by_mode, total),
                last_failure=failures.get(nodeid, ""),
            )
        )
    return sorted(found, key=lambda t: (-t.total.failure_rate, -t.total.runs, t.nodeid))


def _verdict(by_mode: dict[HuntMode, Tally], total: Tally) -> HuntVerdict:
    if not total.passed:
        return HuntVerdict.BROKEN
    serial = by_mode.get(HuntMode.SERIAL, Tally())
    sequential = serial + by_mode.get(HuntMode.SHUFFLED, Tally())
    xdist = by_mode.get(HuntMode.XDIST, Tally())
    if serial.passed and serial.failed:
        return HuntVerdict.FLAKY  # the same order gave both outcomes
    if sequential.passed and sequential.failed:
        return HuntVerdict.ORDER_DEPENDENT
    if sequential.runs and not sequential.failed and xdist.failed:
        return HuntVerdict.PARALLEL_UNSAFE
    if sequential.runs and not sequential.passed:
        # Every serial and shuffled run failed it, xdist passed it: not broken, not random.
        # Spread over workers it runs after fewer tests: what ran before it decides.
        return HuntVerdict.ORDER_DEPENDENT
    return HuntVerdict.FLAKY


def passes_only_under_xdist(test: HuntTest) -> bool:
    """It failed in every serial and shuffled run and passed under xdist."""
    sequential = test.mode(HuntMode.SERIAL) + test.mode(HuntMode.SHUFFLED)
    return bool(sequential.runs) and not sequential.passed and bool(test.mode(HuntMode.XDIST).passed)


#: An order-dependent test with no culprit found keeps its verdict only when its serial runs
#: (all one outcome) differ from the other modes' by more than chance would at this level.
_SIGNIFICANCE = 0.05


def settled(test: HuntTest) -> HuntTest:
    """The verdict of a test the hunt's counts alone call order-dependent (its culprit was not
    found): 0 failures in 10 serial runs, against 2 in 20 other runs, is what a test failing at
    random 10% of the time does often; it is ``flaky`` unless the split is unlikely by chance."""
    if test.verdict is not HuntVerdict.ORDER_DEPENDENT or test.polluter or test.setter:
        return test
    if chance_of_split(test.mode(HuntMode.SERIAL), test.mode(HuntMode.SHUFFLED) + test.mode(HuntMode.XDIST)) < _SIGNIFICANCE:
        return test
    return replace(test, verdict=HuntVerdict.FLAKY)


def chance_of_split(serial: Tally, others: Tally) -> float:
    """Fisher's exact test, one-sided: the odds that every outcome serial runs did not show fell
    in the other runs by chance, were all runs alike (1.0 when serial runs showed both)."""
    if not serial.runs or (serial.passed and serial.failed):
        return 1.0
    unseen = others.failed if serial.passed else others.passed
    return math.comb(others.runs, unseen) / math.comb(serial.runs + others.runs, unseen)
