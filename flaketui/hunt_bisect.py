"""After a hunt's passes: for each order-dependent test, the test that pollutes it (it fails
after that one, passes alone) or, for a brittle test that fails alone, the test that sets up
what it needs; each by bisection runs (``flaketui.pollution``), within the hunt's deadline.

The hunt's own runs narrow the suspects first: a polluter ran before the victim in every
failing order and in no passing one (a setter the other way round)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from flaketui.hunt_verdicts import passes_only_under_xdist, settled
from flaketui.hunting import (
    HuntSettings,
    ProgressCallback,
    StopPredicate,
    hung_timeouts,
    progress_of,
    suite_pass,
)
from flaketui.models.history import HuntMode, HuntRun, HuntTest, HuntVerdict, Polluter
from flaketui.pollution import Bisection, Culprit, Suspects, find_polluter, find_setter, find_together

if TYPE_CHECKING:
    from flaketui.store import Store


def find_culprits(store: Store, hunt_id: int, settings: HuntSettings, tests: list[HuntTest], runs: Sequence[HuntRun],
                  probe_dir: str, on_progress: ProgressCallback | None, stop: StopPredicate, started: float,
                  deadline: float, *, together_only: bool = False, runs_before: int = 0,
                  only: Collection[str] | None = None, hints: Hints | None = None,
                  ) -> tuple[list[HuntTest], int, bool]:  # fmt: skip
    """Bisect the order-dependent tests whose culprit is not known yet: all of them together
    first (one run tells about every victim in it), then (unless ``together_only``: a hunt
    halfway through) each one left on its own. Returns the tests, the bisection runs so far
    (``runs_before`` and these) and whether the deadline or a stop cut the bisections short.
    ``only``: bisect these tests alone (the others were bisected already). ``hints``: the
    polluters a diagnosis names, victim by victim, tried before any bisection."""
    from flaketui import store_hunts

    total_runs = runs_before

    def step(order_size: int, victim: str) -> None:
        nonlocal total_runs
        total_runs += 1
        if on_progress is not None:
            on_progress(progress_of("bisect", total_runs, 0, victim, started, runs, order_size, None))

    def wanted(test: HuntTest) -> bool:
        return (test.verdict is HuntVerdict.ORDER_DEPENDENT and not (test.polluter or test.setter)
                and (only is None or test.nodeid in only))  # fmt: skip

    victims = [t.nodeid for t in tests if wanted(t)]
    named = _hinted(hints, victims, runs)
    # One victim alone: the mirror runs cost more than halving does.
    together, stopped = (_together(settings, probe_dir, runs, victims, stop, deadline, step, named)
                         if len(victims) > 1 else ({}, False))  # fmt: skip
    found: list[HuntTest] = []
    for test in tests:
        culprit = together.get(test.nodeid)
        if culprit is not None and culprit.setter:
            test = replace(test, setter=culprit.test)
        elif culprit is not None:
            store_hunts.add_polluter(store, Polluter(settings.rootdir, test.nodeid, culprit.test, total_runs, hunt_id))
            test = replace(test, polluter=culprit.test)
        elif stopped and not together_only and wanted(test):
            test = settled(test)  # no culprit in time: the counts decide
        found.append(test)
    if stopped or together_only:
        return found, total_runs, stopped
    for index, test in enumerate(found):
        if not wanted(test):
            continue
        known = {name for t in found if (name := t.polluter or t.setter)} | set(named.get(test.nodeid, ()))
        # Counts that chance could give (0/10 serially, 3/20 else) need the final check twice.
        checks = 1 if settled(test) is test else 2
        bisection = bisect_in_runs(settings, probe_dir, runs, test.nodeid, stop=stop, deadline=deadline,
                                   on_step=partial(_step_of, step, test.nodeid), known=known, checks=checks)  # fmt: skip
        if bisection.polluter is not None:
            store_hunts.add_polluter(store, Polluter(settings.rootdir, test.nodeid, bisection.polluter,
                                                     bisection.runs, hunt_id))  # fmt: skip
            found[index] = replace(test, polluter=bisection.polluter)
        elif bisection.setter is not None:
            found[index] = replace(test, setter=bisection.setter)
        elif bisection.fails_alone and not bisection.stopped and passes_only_under_xdist(test):
            found[index] = replace(test, verdict=HuntVerdict.FLAKY)  # alone too: xdist, not the order, passes it
        elif bisection.stopped or not bisection.at_random and (bisection.reproduced or bisection.fails_alone):
            found[index] = settled(test)  # no single culprit (or not found in time): the counts decide
        else:
            # The failing order passed when run again, or the same order gave both outcomes.
            found[index] = replace(test, verdict=HuntVerdict.FLAKY)
        if bisection.stopped:
            return [settled(t) if wanted(t) else t for t in found], total_runs, True
    return found, total_runs, False


class Midway:
    """Bisections while the passes go on: halfway (or with 40% of the budget left), every
    order-dependent test known by then, several together; from then on each one as soon as its
    counts call it order-dependent, on its own. A hunt the budget cuts later keeps what they
    found; at the end only the tests they did not settle are bisected."""

    def __init__(self) -> None:
        #: What a bisection settled, test by test: its culprit, or its verdict without one.
        self.decided: dict[str, HuntTest] = {}
        #: Tests a shared search missed: bisected alone at the end, or once the budget runs short.
        self.missed_together: set[str] = set()
        self.runs = 0
        self.rounds = 0

    def bisect(self, store: Store, hunt_id: int, settings: HuntSettings, tests: list[HuntTest],
               runs: Sequence[HuntRun], probe_dir: str, on_progress: ProgressCallback | None, stop: StopPredicate,
               started: float, deadline: float, *, short: bool, hints: Hints | None = None) -> bool:  # fmt: skip
        """Bisect the order-dependent tests not settled yet; True when the deadline or a stop cut it."""
        tests = [self.apply(t) for t in tests]  # the culprits found so far are tried first
        pending = {t.nodeid for t in tests if t.verdict is HuntVerdict.ORDER_DEPENDENT and t.nodeid not in self.decided
                   and (short or t.nodeid not in self.missed_together)}  # fmt: skip
        if not pending:
            return False
        together_only = not self.rounds and len(pending) > 1 and not short
        self.rounds += 1
        found, self.runs, stopped = find_culprits(store, hunt_id, settings, tests, runs, probe_dir, on_progress, stop,
                                                  started, deadline, together_only=together_only,
                                                  runs_before=self.runs, only=pending, hints=hints)  # fmt: skip
        for test in found:
            if test.nodeid not in pending:
                continue
            if test.polluter or test.setter or not (together_only or stopped):
                self.decided[test.nodeid] = test
            elif together_only:
                self.missed_together.add(test.nodeid)
        return stopped

    def apply(self, test: HuntTest) -> HuntTest:
        """The test as the hunt's final counts classify it, with what a bisection settled, if it
        is still order-dependent."""
        decided = self.decided.get(test.nodeid)
        if decided is None or test.verdict is not HuntVerdict.ORDER_DEPENDENT:
            return test
        if decided.polluter or decided.setter:
            return replace(test, polluter=decided.polluter, setter=decided.setter)
        # The failing order passed when run again (flaky), or no single culprit: the counts decide.
        return replace(test, verdict=HuntVerdict.FLAKY) if decided.verdict is HuntVerdict.FLAKY else settled(test)


#: The polluters a static diagnosis names for each victim (node ids; a parametrized test's
#: without its parameters), asked once per bisection for the victims left.
Hints = Callable[[Sequence[str]], Mapping[str, Sequence[str]]]


def _hinted(hints: Hints | None, victims: Sequence[str], runs: Sequence[HuntRun]) -> dict[str, list[str]]:
    """Each victim's named suspects as the node ids that ran before it (every parameter of a
    parametrized one)."""
    try:
        named = hints(victims) if hints is not None and victims else {}
    except Exception:  # noqa: BLE001  # a shortcut only: a diagnosis that fails leaves the bisection to do it all
        named = {}
    found: dict[str, list[str]] = {}
    for victim, suspects in named.items():
        ran = dict.fromkeys(n for r in runs if r.mode is not HuntMode.XDIST and victim in r.order for n in _before(r, victim))
        found[victim] = [n for n in ran if any(n == s or n.startswith(s + "[") for s in suspects)]
    return found


def _step_of(step: Callable[[int, str], None], victim: str, order_size: int) -> None:
    step(order_size, victim)


def _together(settings: HuntSettings, probe_dir: str, runs: Sequence[HuntRun], victims: Sequence[str],
              stop: StopPredicate, deadline: float,
              step: Callable[[int, str], None],
              named: Mapping[str, Sequence[str]] | None = None) -> tuple[dict[str, Culprit], bool]:  # fmt: skip
    """Every victim's culprit among the tests the hunt's runs point at, in shared runs."""
    from flaketui.verify.hunt import run_pass

    suspects: dict[str, Suspects] = {}
    hash_seed = 0
    for victim in victims:
        ordered = [r for r in runs if r.mode is not HuntMode.XDIST and victim in r.order]
        failing = [r for r in ordered if _outcome(r, victim) == "failed"]
        passing = [r for r in ordered if _outcome(r, victim) == "passed"]
        if failing and passing:
            suspects[victim] = Suspects(tuple(_likely(failing, passing, victim)), tuple(_likely(passing, failing, victim)))
            hash_seed = hash_seed or _shortest(failing, victim).hash_seed
    if not suspects:
        return {}, False
    timeouts = hung_timeouts(runs, settings.timeout)

    def outcomes(order: Sequence[str]) -> dict[str, bool] | None:
        remaining = deadline - time.monotonic()
        if stop() or remaining <= 0:
            return None
        step(len(order), f"{len(suspects)} order-dependent tests at once")
        request = replace(suite_pass(settings, HuntMode.SERIAL, hash_seed, None, timeouts), order=tuple(order))
        result = run_pass(request, probe_dir, should_stop=stop, deadline_seconds=remaining)
        if not result.complete:
            return None
        return {o.nodeid: o.outcome == "failed" for o in result.outcomes if o.outcome in ("passed", "failed")}

    found, _, stopped = find_together(suspects, outcomes, named)
    return found, stopped


def bisect_in_runs(settings: HuntSettings, probe_dir: str, runs: Sequence[HuntRun], victim: str, *,
                   stop: StopPredicate, deadline: float, on_step: Callable[[int], None] | None = None,
                   known: Collection[str] = (), checks: int = 1) -> Bisection:  # fmt: skip
    """The polluter of ``victim`` over the tests before it in its shortest failing order (the
    likely ones first, the ``known`` culprits of other tests before them); if it fails alone,
    its setter over a passing order."""
    ordered = [r for r in runs if r.mode is not HuntMode.XDIST and victim in r.order]
    failing = [r for r in ordered if _outcome(r, victim) == "failed"]
    passing = [r for r in ordered if _outcome(r, victim) == "passed"]
    # A test that hung in the hunt hangs in a bisection run too: it gets its shorter timeout there.
    timeouts = hung_timeouts(runs, settings.timeout)
    bisection = Bisection(None, 0)
    if failing:
        shortest = _shortest(failing, victim)
        before = _before(shortest, victim)
        fails_after = _runner(settings, probe_dir, victim, shortest.hash_seed, stop, deadline, on_step, timeouts)
        bisection = find_polluter(before, victim, fails_after, _likely(failing, passing, victim), known, checks)
        if before and not bisection.fails_alone:
            return bisection
    if not passing or bisection.stopped:
        return bisection
    shortest = _shortest(passing, victim)
    fails_after = _runner(settings, probe_dir, victim, shortest.hash_seed, stop, deadline, on_step, timeouts)
    return find_setter(_before(shortest, victim), victim, fails_after, _likely(passing, failing, victim),
                       runs_before=bisection.runs, known=known, checks=checks)  # fmt: skip


def _runner(settings: HuntSettings, probe_dir: str, victim: str, hash_seed: int, stop: StopPredicate, deadline: float,
            on_step: Callable[[int], None] | None,
            timeouts: Mapping[str, float] | None = None) -> Callable[[Sequence[str]], bool | None]:  # fmt: skip
    """Serial passes of exactly ``order + [victim]``, with a failing run's hash seed."""
    from flaketui.verify.hunt import run_pass

    def fails_after(order: Sequence[str]) -> bool | None:
        remaining = deadline - time.monotonic()
        if stop() or remaining <= 0:
            return None
        if on_step is not None:
            on_step(len(order) + 1)
        request = replace(suite_pass(settings, HuntMode.SERIAL, hash_seed, None, timeouts), order=(*order, victim))
        result = run_pass(request, probe_dir, should_stop=stop, deadline_seconds=remaining)
        if not result.complete:
            return None
        return any(o.nodeid == victim and o.outcome == "failed" for o in result.outcomes)

    return fails_after


def bisect_victim(settings: HuntSettings, probe_dir: str, before: Sequence[str], victim: str, hash_seed: int, *,
                  stop: StopPredicate, deadline: float, on_step: Callable[[int], None] | None = None,
                  known: Collection[str] = ()) -> Bisection:  # fmt: skip
    """Bisection runs for one victim over ``before``, within the deadline (``known``: suspects
    to try first)."""
    return find_polluter(before, victim, _runner(settings, probe_dir, victim, hash_seed, stop, deadline, on_step),
                         known=known)  # fmt: skip


def _outcome(run: HuntRun, nodeid: str) -> str:
    return next((o.outcome for o in run.outcomes if o.nodeid == nodeid), "")


def _before(run: HuntRun, victim: str) -> list[str]:
    order = run.order
    return [n for n in order[: order.index(victim)] if n != victim]


def _shortest(runs: Sequence[HuntRun], victim: str) -> HuntRun:
    """The run with the fewest tests before the victim, but some (fewer runs to bisect)."""
    return min(runs, key=lambda r: (not _before(r, victim), len(_before(r, victim))))


def _likely(same: Sequence[HuntRun], other: Sequence[HuntRun], victim: str) -> list[str]:
    """The tests before the victim in every run of ``same`` and in none of ``other``, in the
    order of the shortest run of ``same``."""
    first = _before(_shortest(same, victim), victim)
    everywhere = set(first).intersection(*(_before(r, victim) for r in same))
    nowhere = set().union(*(_before(r, victim) for r in other)) if other else set()
    return [n for n in first if n in everywhere and n not in nowhere]


def find_polluter_of(store: Store, settings: HuntSettings, victim: str, *, on_progress: ProgressCallback | None = None,
                     should_stop: StopPredicate | None = None, hints: Hints | None = None) -> tuple[Bisection, int]:  # fmt: skip
    """Without a hunt: one serial pass for pytest's order (the victim must fail in it), then
    bisection over the tests before it, the polluters ``hints`` names first. Returns the
    bisection and the runs of both."""
    import random

    from flaketui import store_hunts
    from flaketui.verify.hunt import run_pass
    from flaketui.verify.runner import installed_probe

    stop = should_stop or (lambda: False)
    started = time.monotonic()
    deadline = started + settings.budget_seconds
    rng = random.Random(settings.seed) if settings.seed is not None else random.SystemRandom()
    hash_seed = rng.randrange(1, 2**32)
    steps = 0

    def step(order_size: int) -> None:
        nonlocal steps
        steps += 1
        if on_progress is not None:
            on_progress(progress_of("bisect", steps, 0, victim, started, [], order_size, None))

    with installed_probe() as probe_dir:
        first = run_pass(suite_pass(settings, HuntMode.SERIAL, hash_seed, None), probe_dir, should_stop=stop,
                         deadline_seconds=settings.budget_seconds)  # fmt: skip
        order = [o.nodeid for o in first.outcomes]
        if not first.complete:
            return Bisection(None, 0, first.problem or "stopped", stopped=True), 1
        if _outcome(HuntRun(HuntMode.SERIAL, hash_seed, tuple(first.outcomes)), victim) != "failed":
            reason = "it did not fail in pytest's order" if victim in order else f"{victim} did not run"
            return Bisection(None, 0, reason + ": hunt first, to find an order it fails in"), 1
        ran = HuntRun(HuntMode.SERIAL, hash_seed, tuple(first.outcomes))
        bisection = bisect_victim(settings, probe_dir, order[: order.index(victim)], victim, hash_seed, stop=stop,
                                  deadline=deadline, on_step=step,
                                  known=_hinted(hints, [victim], [ran]).get(victim, ()))  # fmt: skip
    if bisection.polluter is not None:
        store_hunts.add_polluter(store, Polluter(settings.rootdir, victim, bisection.polluter, bisection.runs))
    return bisection, bisection.runs + 1
