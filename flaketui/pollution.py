"""Find the test that pollutes an order-dependent one, or the test a brittle one needs before
it: bisection over the tests that ran before it (the method of asottile's
detect-test-pollution, written anew; the setter search is its mirror).

Pure: the caller runs an order and says whether the victim failed at its end. A polluter: one
run of the victim alone (it must pass), one of everything before it (it must fail again), then
halves, and the polluter alone unless the last half already was; then the victim alone and
after the polluter once more, so a test that fails at random is not pinned on an innocent one:
at most ``ceil(log2(n)) + 5`` runs for ``n`` tests before it (13 for 200, under 2*log2(200) =
15.3). ``likely``: a smaller list the hunt's runs point at (the tests before the victim in
every failing order and in no passing one), tried first: one run more when it misses; before
it, those of them ``known`` as culprits of other tests (one polluter often has many victims).

A setter (the victim fails alone, and passed after some tests): the same with the outcomes
swapped, over the tests before it in a passing order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

#: Runs ``before`` then the victim; True when the victim failed, False when it passed, None
#: when the run did not finish (a stop, the budget): bisection ends without an answer.
FailsAfter = Callable[[Sequence[str]], "bool | None"]
_STOPPED = "stopped before the bisection finished"
_RANDOM = "the same order gave both outcomes: it fails at random, not because of the order"


@dataclass(frozen=True)
class Bisection:
    polluter: str | None
    runs: int
    #: Why there is no polluter ("" when there is one).
    reason: str = ""
    #: The victim failed again after the same tests: its failure depends on them.
    reproduced: bool = False
    #: It fails alone (and passed in other orders): it needs a test that sets something up.
    fails_alone: bool = False
    #: A run did not finish (a stop, the budget): no answer either way.
    stopped: bool = False
    #: The test it needs before it (it fails alone, passes after this one), when found.
    setter: str | None = None
    #: The same order gave both outcomes: flaky whatever the order.
    at_random: bool = False


class _Stopped(Exception):
    pass


class _Runs:
    def __init__(self, fails_after: FailsAfter) -> None:
        self.fails_after = fails_after
        self.count = 0

    def __call__(self, order: Sequence[str]) -> bool:
        self.count += 1
        outcome = self.fails_after(order)
        if outcome is None:
            raise _Stopped
        return outcome


def find_polluter(before: Sequence[str], victim: str, fails_after: FailsAfter, likely: Sequence[str] | None = None,
                  known: Collection[str] = (), checks: int = 1) -> Bisection:  # fmt: skip
    """``checks``: how many times the victim is run alone and after the polluter at the end
    (more when its counts could be chance: a test failing at random 40% of the time passes
    one such check in 1 case in 4)."""
    if not before:
        return Bisection(None, 0, "it failed with no test before it: " + _RANDOM.split(": ", 1)[1])
    run = _Runs(fails_after)
    reproduced = False
    try:
        if run(()):
            # Twice alone tells a test that needs another one before it from one that fails at random.
            if not run(()):
                return Bisection(None, run.count, _RANDOM, at_random=True)
            return Bisection(None, run.count, "it fails alone: it needs a test that ran before it, not polluted",
                             fails_alone=True)  # fmt: skip
        suspects = _reproduce(run, before, likely, want=True, known=known)
        if suspects is None:
            return Bisection(None, run.count, "it passed after the same tests in the same order: its failure is not the order's")
        reproduced = True
        found = _narrow(run, suspects, want=True)
        if found is None:
            return Bisection(None, run.count, "no single test makes it fail: several tests share the state", reproduced=True)
        # Once more each way, so a victim that fails at random is not pinned on an innocent test.
        if any(run(()) or not run((found,)) for _ in range(checks)):
            return Bisection(None, run.count, _RANDOM, at_random=True)
    except _Stopped:
        return Bisection(None, run.count, _STOPPED, reproduced=reproduced, stopped=True)
    return Bisection(found, run.count, reproduced=True)


def find_setter(before: Sequence[str], victim: str, fails_after: FailsAfter, likely: Sequence[str] | None = None,
                runs_before: int = 0, known: Collection[str] = (), checks: int = 1) -> Bisection:  # fmt: skip
    """For a victim that failed alone (``runs_before`` runs said so) and passed after
    ``before``: the one test of them it needs to pass."""
    if not before:
        return Bisection(None, runs_before, "it passed with no test before it: it fails at random", fails_alone=True)
    run = _Runs(fails_after)
    run.count = runs_before
    try:
        suspects = _reproduce(run, before, likely, want=False, known=known)
        if suspects is None:
            return Bisection(None, run.count, "it failed after the tests it once passed after: " + _RANDOM,
                             fails_alone=True, at_random=True)  # fmt: skip
        found = _narrow(run, suspects, want=False)
        if found is None:
            return Bisection(None, run.count, "no single test sets up what it needs", fails_alone=True)
        if any(not run(()) or run((found,)) for _ in range(checks)):
            return Bisection(None, run.count, _RANDOM, fails_alone=True, at_random=True)
    except _Stopped:
        return Bisection(None, run.count, _STOPPED, fails_alone=True, stopped=True)
    return Bisection(None, run.count, "it fails alone and passes after the test that sets it up",
                     fails_alone=True, setter=found)  # fmt: skip


def _reproduce(run: _Runs, before: Sequence[str], likely: Sequence[str] | None, *, want: bool,
               known: Collection[str] = ()) -> list[str] | None:  # fmt: skip
    """The tests to bisect: ``likely`` if the victim's outcome after them is ``want``, else all
    of ``before`` if it is; None when not even all of them give it. Before ``likely``, the
    ``known`` culprits of other tests among ``before``."""
    guesses = [[t for t in before if t in known], list(likely or ())]
    for guess in guesses:
        if guess and len(guess) < len(before) and run(guess) is want:
            return guess
    return list(before) if run(before) is want else None


def _narrow(run: _Runs, suspects: list[str], *, want: bool) -> str | None:
    """Halve ``suspects`` (after which the victim's outcome is ``want``) down to one test that
    gives ``want`` on its own; None when no single test does (one culprit assumed)."""
    last = list(suspects)  # the replay just gave ``want`` after all of them
    while len(suspects) > 1:
        half = suspects[: len(suspects) // 2]
        if run(half) is want:
            last = suspects = half
        else:
            # The first half did not do it: the culprit is in the second.
            suspects = suspects[len(half) :]
    # The last suspect was reached without a run of its own: it must do it alone.
    if last != suspects and run(suspects) is not want:
        return None
    return suspects[0]


# -- many victims at once ------------------------------------------------------------------

#: Runs an order; each test's outcome in it (True: failed), or None when the run did not finish.
RunOrder = Callable[[Sequence[str]], "Mapping[str, bool] | None"]


@dataclass(frozen=True)
class Suspects:
    """One victim for :func:`find_together`: the tests that may pollute it (if it passes
    alone) and those that may set up what it needs (if it fails alone)."""

    polluters: tuple[str, ...]
    setters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Culprit:
    test: str
    #: It sets up what the victim needs (the victim fails alone), rather than polluting it.
    setter: bool = False


def find_together(victims: Mapping[str, Suspects], run: RunOrder,
                  first: Mapping[str, Sequence[str]] | None = None) -> tuple[dict[str, Culprit], int, bool]:  # fmt: skip
    """The culprit of many victims in the same few runs, each run ending with every victim.

    First every victim without a suspect before it: one that passes needs a polluter, one
    that fails a setter. Then each suspect (of any victim) gets a number; run ``r`` holds the
    suspects whose number has bit ``r`` set, and its mirror run the others. A victim's outcomes
    over the runs spell its culprit's number, and each mirror run must show the opposite
    outcome, which a test failing at random does with odds of 1 in 2 per bit. Last, one run of
    each culprit before its victims confirms it. ``1 + 2*ceil(log2(n + 1)) + culprits`` runs
    for n suspects at most (a run already made is not made again: 3 for one suspect, 4 for
    two), however many victims share them.

    ``first``: the tests a victim's diagnosis names as its polluter, tried before the coding:
    two runs each before the victims, then one of the victims alone that must show the
    baseline again (a victim failing at random 40% of the time passes this 1 time in 17): a
    right guess costs 3 runs more than the victims alone, a wrong one 1 run.

    Returns the culprits found, the runs taken and whether a run did not finish. A victim
    left out (no one suspect explains its outcomes) is for :func:`find_polluter` or
    :func:`find_setter` on its own.
    """
    order = list(victims)
    runs = 0

    def outcomes(tests: Sequence[str]) -> Mapping[str, bool]:
        nonlocal runs
        runs += 1
        seen = run([*tests, *order])
        if seen is None:
            raise _Stopped
        return seen

    found: dict[str, Culprit] = {}
    try:
        # Alone (but for the other victims), each victim shows the outcome it has without its culprit.
        baseline = outcomes([])
        needs_setter = {v: baseline[v] for v in order if v in baseline}
        suspects = {v: victims[v].setters if needs_setter[v] else victims[v].polluters for v in needs_setter}
        found.update(_named_first(suspects, first or {}, needs_setter, outcomes))
        suspects = {v: tests for v, tests in suspects.items() if v not in found}
        pool = list(dict.fromkeys(t for tests in suspects.values() for t in tests if t not in victims))
        alive = [v for v in suspects if suspects[v]]
        codes = dict.fromkeys(alive, 0)

        def culprit_in(seen: Mapping[str, bool], victim: str) -> bool | None:
            failed = seen.get(victim)
            return None if failed is None else failed is not needs_setter[victim]

        done: dict[tuple[str, ...], Mapping[str, bool]] = {(): baseline}

        def coded(tests: list[str]) -> Mapping[str, bool]:
            # With few suspects a mirror run is another bit's run: it is not run twice.
            if tuple(tests) not in done:
                done[tuple(tests)] = outcomes(tests)
            return done[tuple(tests)]

        for bit in range(len(pool).bit_length() if alive else 0):
            inside = [t for i, t in enumerate(pool, 1) if i >> bit & 1]
            outside = [t for i, t in enumerate(pool, 1) if not i >> bit & 1]
            seen_in, seen_out = coded(inside), coded(outside)
            for v in list(alive):
                hit, miss = culprit_in(seen_in, v), culprit_in(seen_out, v)
                if hit is None or miss is None or hit == miss:
                    alive.remove(v)  # both or neither: not one suspect's doing (or at random)
                elif hit:
                    codes[v] |= 1 << bit
        guesses = {v: pool[codes[v] - 1] for v in alive if 0 < codes[v] <= len(pool)}
        guesses = {v: c for v, c in guesses.items() if c in suspects[v]}
        for culprit in dict.fromkeys(guesses.values()):
            seen = outcomes([culprit])
            found.update({v: Culprit(c, needs_setter[v]) for v, c in guesses.items()
                          if c == culprit and culprit_in(seen, v)})  # fmt: skip
    except _Stopped:
        return found, runs, True
    return found, runs, False


def _named_first(suspects: Mapping[str, Sequence[str]], first: Mapping[str, Sequence[str]],
                 needs_setter: Mapping[str, bool],
                 outcomes: Callable[[Sequence[str]], Mapping[str, bool]]) -> dict[str, Culprit]:  # fmt: skip
    """The victims (that pass alone) whose named suspect makes them fail, twice, and who pass
    alone once more after that."""
    named = {v: [t for t in first.get(v, ()) if t in suspects[v]] for v in suspects if not needs_setter[v]}
    hits: dict[str, str] = {}
    for suspect in dict.fromkeys(t for tests in named.values() for t in tests):
        wanted = [v for v, tests in named.items() if v not in hits and suspect in tests]
        if not wanted:
            continue
        seen = outcomes([suspect])
        failed = [v for v in wanted if seen.get(v)]
        if failed:
            again = outcomes([suspect])  # twice: one failure after it is what a random one gives
            hits.update({v: suspect for v in failed if again.get(v)})
    if not hits:
        return {}
    again = outcomes([])
    return {v: Culprit(c) for v, c in hits.items() if again.get(v) is False}
