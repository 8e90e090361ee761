"""Find the test that pollutes an order-dependent one: bisection over the tests that ran before
it in a failing order (the method of asottile's detect-test-pollution, written anew).

Pure: the caller runs an order and says whether the victim failed at its end. One run of the
victim alone (it must pass), one of everything before it (it must fail again), then halves,
and the polluter alone unless the last half already was; then the victim alone and after the
polluter once more, so a test that fails at random is not pinned on an innocent one: at most
``ceil(log2(n)) + 5`` runs for ``n`` tests before it (13 for 200, under 2*log2(200) = 15.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def find_polluter(before: Sequence[str], victim: str, fails_after: FailsAfter) -> Bisection:
    if not before:
        return Bisection(None, 0, "it failed with no test before it: " + _RANDOM.split(": ", 1)[1])
    runs = 0

    def run(order: Sequence[str]) -> bool | None:
        nonlocal runs
        runs += 1
        return fails_after(order)

    alone = run(())
    if alone is None:
        return Bisection(None, runs, _STOPPED, stopped=True)
    if alone:
        # Twice alone tells a test that needs another one before it from one that fails at random.
        again_alone = run(())
        if again_alone is None:
            return Bisection(None, runs, _STOPPED, stopped=True)
        if not again_alone:
            return Bisection(None, runs, _RANDOM)
        return Bisection(None, runs, "it fails alone: it needs a test that ran before it, not polluted", fails_alone=True)
    again = run(before)
    if again is None:
        return Bisection(None, runs, _STOPPED, stopped=True)
    if not again:
        return Bisection(None, runs, "it passed after the same tests in the same order: its failure is not the order's")
    suspects = list(before)
    last_failing = list(before)  # the replay just failed after all of them
    while len(suspects) > 1:
        half = suspects[: len(suspects) // 2]
        failed = run(half)
        if failed is None:
            return Bisection(None, runs, _STOPPED, reproduced=True, stopped=True)
        if failed:
            last_failing = half
        # The first half did not pollute it: the polluter is in the second (one polluter assumed).
        suspects = half if failed else suspects[len(half) :]
    confirmed: bool | None = True
    if last_failing != suspects:
        # The last suspect was reached without a run of its own: it must fail the victim alone.
        confirmed = run(suspects)
    if confirmed is None:
        return Bisection(None, runs, _STOPPED, reproduced=True, stopped=True)
    if not confirmed:
        return Bisection(None, runs, "no single test makes it fail: several tests share the state", reproduced=True)
    # Once more each way, so a victim that fails at random is not pinned on an innocent test.
    for order, expected in (((), False), (suspects, True)):
        outcome = run(order)
        if outcome is None:
            return Bisection(None, runs, _STOPPED, reproduced=True, stopped=True)
        if outcome is not expected:
            return Bisection(None, runs, _RANDOM)
    return Bisection(suspects[0], runs, reproduced=True)
