"""Bisection for a polluter, and the verdicts of a hunt: pure functions, given the runs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from flaketui.hunting import classify
from flaketui.models.history import HuntMode, HuntRun, HuntVerdict, SuiteOutcome
from flaketui.pollution import find_polluter, find_setter

SUITE = [f"tests/test_m.py::test_{i:03d}" for i in range(200)]
VICTIM = "tests/test_z.py::test_victim"


def polluted_by(*polluters: str):
    """The victim fails exactly when every one of ``polluters`` ran before it."""
    calls: list[tuple[str, ...]] = []

    def fails_after(order: Sequence[str]) -> bool:
        calls.append(tuple(order))
        return bool(polluters) and all(p in order for p in polluters)

    return fails_after, calls


@pytest.mark.parametrize("position", [0, 1, 57, 100, 198, 199])
def test_finds_the_polluter_in_at_most_two_log2_n_runs(position: int) -> None:
    fails_after, calls = polluted_by(SUITE[position])
    found = find_polluter(SUITE, VICTIM, fails_after)
    assert found.polluter == SUITE[position]
    assert found.runs == len(calls) <= 2 * math.log2(len(SUITE))
    # Alone first, then everything before it; alone and after the polluter again last.
    assert calls[0] == () and calls[1] == tuple(SUITE) and calls[-2:] == [(), (SUITE[position],)]


@pytest.mark.parametrize(
    ("polluters", "alone_fails", "reason"),
    [
        pytest.param((), False, "passed after the same tests", id="not-reproduced-so-not-the-order"),
        pytest.param((SUITE[3], SUITE[150]), False, "no single test", id="two-tests-together"),
        pytest.param((), True, "fails alone", id="needs-a-setter"),
    ],
)
def test_no_polluter_says_why(polluters: tuple[str, ...], alone_fails: bool, reason: str) -> None:
    fails_after, _ = polluted_by(*polluters)
    found = find_polluter(SUITE, VICTIM, (lambda order: True) if alone_fails else fails_after)
    assert found.polluter is None and reason in found.reason
    assert found.fails_alone is alone_fails


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([True, False], id="fails-alone-then-passes-alone"),
        pytest.param([False, True, True, False, True, False, False], id="the-polluter-does-not-fail-it-again"),
        pytest.param([False, True, True, False, True, True], id="fails-alone-at-the-recheck"),
    ],
)
def test_a_victim_that_fails_at_random_gets_no_polluter(answers: list[bool]) -> None:
    # Four tests before it; for the second and third: the first half [a, b] fails it, [a] does not.
    replies = iter(answers)
    found = find_polluter(["a", "b", "c", "d"], VICTIM, lambda order: next(replies))
    assert found.polluter is None and "at random" in found.reason and not found.reproduced


def test_a_victim_that_failed_first_in_its_order_is_not_bisected() -> None:
    found = find_polluter([], VICTIM, lambda order: pytest.fail("no run is needed"))
    assert (found.polluter, found.runs, found.reproduced) == (None, 0, False)
    assert "no test before it" in found.reason


def test_a_stop_ends_the_bisection_without_an_answer() -> None:
    answers = iter([False, True, None])
    found = find_polluter(SUITE, VICTIM, lambda order: next(answers))
    assert (found.polluter, found.runs, found.reproduced) == (None, 3, True)


def run(mode: HuntMode, **outcomes: str) -> HuntRun:
    return HuntRun(mode, 1, tuple(SuiteOutcome(f"t.py::{name}", outcome) for name, outcome in outcomes.items()))


S, H, X = HuntMode.SERIAL, HuntMode.SHUFFLED, HuntMode.XDIST


@pytest.mark.parametrize(
    ("runs", "verdict"),
    [
        pytest.param([run(S, a="failed"), run(S, a="passed"), run(H, a="passed")], HuntVerdict.FLAKY, id="same-order-both"),
        pytest.param([run(S, a="failed"), run(S, a="failed"), run(H, a="passed")], HuntVerdict.ORDER_DEPENDENT,
                     id="serial-always-fails-a-shuffle-passes"),
        pytest.param([run(S, a="passed"), run(H, a="failed"), run(H, a="passed")], HuntVerdict.ORDER_DEPENDENT,
                     id="only-some-shuffles-fail"),
        pytest.param([run(S, a="passed"), run(H, a="passed"), run(X, a="failed")], HuntVerdict.PARALLEL_UNSAFE,
                     id="xdist-only"),
        pytest.param([run(S, a="failed"), run(H, a="failed"), run(X, a="failed")], HuntVerdict.BROKEN, id="always"),
        pytest.param([run(S, a="failed"), run(H, a="failed"), run(X, a="passed")], HuntVerdict.ORDER_DEPENDENT,
                     id="passes-only-under-xdist"),
    ],
)  # fmt: skip
def test_verdicts(runs: list[HuntRun], verdict: HuntVerdict) -> None:
    [test] = classify(runs)
    assert test.verdict is verdict


def test_stable_and_skipped_tests_are_not_reported() -> None:
    runs = [run(S, a="passed", b="skipped"), run(H, a="passed", b="skipped"), run(X, a="passed", b="passed")]
    assert classify(runs) == []


def needs(*setters: str):
    """The victim passes exactly when every one of ``setters`` ran before it."""
    calls: list[tuple[str, ...]] = []

    def fails_after(order: Sequence[str]) -> bool:
        calls.append(tuple(order))
        return not (setters and all(s in order for s in setters))

    return fails_after, calls


@pytest.mark.parametrize("position", [0, 1, 57, 199])
def test_finds_the_setter_of_a_test_that_fails_alone(position: int) -> None:
    fails_after, calls = needs(SUITE[position])
    found = find_setter(SUITE, VICTIM, fails_after, runs_before=2)
    assert (found.setter, found.polluter, found.fails_alone) == (SUITE[position], None, True)
    assert found.runs == len(calls) + 2 <= 2 * math.log2(len(SUITE)) + 2
    assert calls[0] == tuple(SUITE) and calls[-2:] == [(), (SUITE[position],)]


@pytest.mark.parametrize(
    ("setters", "reason", "at_random"),
    [
        pytest.param((SUITE[3], SUITE[150]), "no single test sets up", False, id="two-tests-together"),
        pytest.param((), "failed after the tests it once passed after", True, id="not-reproduced"),
    ],
)
def test_no_setter_says_why(setters: tuple[str, ...], reason: str, at_random: bool) -> None:
    fails_after, _ = needs(*setters)
    found = find_setter(SUITE, VICTIM, fails_after)
    assert found.setter is None and reason in found.reason and found.at_random is at_random


def test_the_likely_tests_are_bisected_first_and_all_of_them_when_they_miss() -> None:
    fails_after, calls = polluted_by(SUITE[120])
    hit = find_polluter(SUITE, VICTIM, fails_after, likely=[SUITE[7], SUITE[120]])
    # Alone, the two likely ones (fails), the first of them (passes), the polluter alone, then
    # alone and after the polluter again.
    assert hit.polluter == SUITE[120] and calls[1] == (SUITE[7], SUITE[120]) and hit.runs == 6
    fails_after, calls = polluted_by(SUITE[120])
    miss = find_polluter(SUITE, VICTIM, fails_after, likely=[SUITE[7], SUITE[8]])
    assert miss.polluter == SUITE[120] and calls[1:3] == [(SUITE[7], SUITE[8]), tuple(SUITE)]
    assert miss.runs <= 2 * math.log2(len(SUITE)) + 1


def test_a_test_that_hung_gets_a_shorter_timeout_in_later_runs() -> None:
    from flaketui.hunting import hung_timeouts

    hung = SuiteOutcome("t::hangs", "failed", "timed out after 60s", 60.0)
    slow = SuiteOutcome("t::slow", "failed", "timed out after 60s", 60.0)
    runs = [
        HuntRun(HuntMode.SERIAL, 1, (hung, slow, SuiteOutcome("t::ok", "passed", "", 0.1))),
        HuntRun(HuntMode.SHUFFLED, 2, (SuiteOutcome("t::slow", "passed", "", 2.0), SuiteOutcome("t::ok", "passed", "", 9.0))),
    ]
    # Never ended on its own: the minimum; ended once after 2 s: ten times that; the rest: the default.
    assert hung_timeouts(runs, 60.0) == {"t::hangs": 5.0, "t::slow": 20.0}
    assert hung_timeouts(runs, 3.0) == {"t::hangs": 3.0, "t::slow": 3.0}


def test_a_polluter_found_for_another_test_is_tried_first() -> None:
    fails_after, calls = polluted_by(SUITE[120])
    found = find_polluter(SUITE, VICTIM, fails_after, likely=SUITE[100:130], known={SUITE[120], "elsewhere"})
    # Alone, the known polluter (fails), then alone and after it again: no halving at all.
    assert found.polluter == SUITE[120] and calls == [(), (SUITE[120],), (), (SUITE[120],)]
    fails_after, calls = polluted_by(SUITE[120])
    missed = find_polluter(SUITE, VICTIM, fails_after, likely=SUITE[100:130], known={SUITE[3]})
    assert missed.polluter == SUITE[120] and calls[1:3] == [(SUITE[3],), tuple(SUITE[100:130])]


def outcomes_of(polluter_of: dict[str, str], setter_of: dict[str, str] | None = None, at_random: set[str] = frozenset()):
    """Each victim fails after its polluter (or alone, but not after its setter); a victim in
    ``at_random`` fails every other time it runs, whatever ran before it."""
    setter_of = setter_of or {}
    calls: list[tuple[str, ...]] = []
    counts: dict[str, int] = {}

    def run(order: Sequence[str]) -> dict[str, bool]:
        calls.append(tuple(order))
        seen = {}
        for i, test in enumerate(order):
            before = order[:i]
            counts[test] = counts.get(test, 0) + 1
            if test in at_random:
                seen[test] = counts[test] % 2 == 0
            elif test in setter_of:
                seen[test] = setter_of[test] not in before
            else:
                seen[test] = polluter_of.get(test) in before
        return seen

    return run, calls


def test_many_victims_share_the_runs_of_one_search() -> None:
    from flaketui.pollution import Culprit, Suspects, find_together

    victims = {f"tests/test_v.py::test_v{i}": Suspects(tuple(SUITE[:60])) for i in range(6)}
    polluter_of = dict(zip(victims, [SUITE[3], SUITE[3], SUITE[17], SUITE[40], SUITE[59], SUITE[0]], strict=True))
    run, calls = outcomes_of(polluter_of)
    found, runs, stopped = find_together(victims, run)
    assert found == {v: Culprit(p) for v, p in polluter_of.items()} and not stopped
    # Alone, 6 bits for 60 suspects each with its mirror, one confirmation per polluter (5):
    # what one bisection of one victim would take.
    assert runs == len(calls) == 1 + 2 * 6 + 5
    assert all(call[-6:] == tuple(victims) for call in calls)


def test_named_polluters_are_tried_first_and_a_wrong_name_falls_back_to_the_coded_runs() -> None:
    from flaketui.pollution import Culprit, Suspects, find_together

    victims = {f"tests/test_v.py::test_v{i}": Suspects(tuple(SUITE[:60])) for i in range(3)}
    polluter_of = dict(zip(victims, [SUITE[3], SUITE[17], SUITE[40]], strict=True))
    run, calls = outcomes_of(polluter_of)
    named = {"tests/test_v.py::test_v0": [SUITE[3]], "tests/test_v.py::test_v1": [SUITE[17]],
             "tests/test_v.py::test_v2": [SUITE[41]]}  # fmt: skip
    found, runs, stopped = find_together(victims, run, named)
    assert found == {v: Culprit(p) for v, p in polluter_of.items()} and not stopped
    # Alone, twice after each right name, once after the wrong one, alone again; then v2 alone
    # is coded (6 bits with mirrors) and confirmed: where coding all three takes 1 + 2 * 6 + 3.
    assert calls[1:6] == [(SUITE[i], *victims) for i in (3, 3, 17, 17, 41)]
    assert runs == len(calls) == 1 + 5 + 1 + 2 * 6 + 1


def test_a_named_polluter_of_a_victim_failing_at_random_is_not_confirmed() -> None:
    from flaketui.pollution import Suspects, find_together

    victims = {"v::random": Suspects(tuple(SUITE[:4])), "v::other": Suspects(tuple(SUITE[:4]))}
    # It passes alone, fails after the named test, then passes after it: no confirmation.
    run, _ = outcomes_of({"v::other": SUITE[2]}, {}, {"v::random"})
    found, _, _ = find_together(victims, run, {"v::random": [SUITE[1]]})
    assert "v::random" not in found


def test_a_setter_a_random_victim_and_an_unsuspected_polluter_are_told_apart() -> None:
    from flaketui.pollution import Culprit, Suspects, find_together

    suspects = tuple(SUITE[:20])
    victims = {"v::polluted": Suspects(suspects), "v::brittle": Suspects((), suspects),
               "v::random": Suspects(suspects), "v::elsewhere": Suspects(suspects)}  # fmt: skip
    run, _ = outcomes_of({"v::polluted": SUITE[5], "v::elsewhere": SUITE[150]}, {"v::brittle": SUITE[11]}, {"v::random"})
    found, _, _ = find_together(victims, run)
    # The random one failed in its mirror run too, the polluter of the last one was no suspect:
    # both are left to a bisection of their own.
    assert found == {"v::polluted": Culprit(SUITE[5]), "v::brittle": Culprit(SUITE[11], setter=True)}


def test_a_stop_keeps_the_culprits_confirmed_before_it() -> None:
    from flaketui.pollution import Culprit, Suspects, find_together

    victims = {"v::one": Suspects(tuple(SUITE[:4])), "v::two": Suspects(tuple(SUITE[:4]))}
    run, calls = outcomes_of({"v::one": SUITE[1], "v::two": SUITE[2]})
    found, runs, stopped = find_together(victims, lambda order: run(order) if len(calls) < 8 else None)
    # Alone, 3 bits with mirrors, v::one confirmed, then the stop in the run confirming v::two.
    assert (found, runs, stopped) == ({"v::one": Culprit(SUITE[1])}, 9, True)


@pytest.mark.parametrize(
    ("serial", "others", "verdict"),
    [
        pytest.param((10, 0), (17, 3), HuntVerdict.FLAKY, id="0/10-serial-3/20-else-is-chance"),
        pytest.param((10, 0), (11, 9), HuntVerdict.ORDER_DEPENDENT, id="0/10-serial-9/20-else-is-not"),
        pytest.param((0, 10), (14, 6), HuntVerdict.ORDER_DEPENDENT, id="always-fails-serially-passes-elsewhere"),
        pytest.param((0, 0), (10, 10), HuntVerdict.FLAKY, id="no-serial-run-no-evidence"),
    ],
)
def test_an_order_dependent_verdict_without_a_culprit_needs_more_than_chance(
    serial: tuple[int, int], others: tuple[int, int], verdict: HuntVerdict
) -> None:
    from flaketui.hunting import settled
    from flaketui.models.history import HuntTest, Tally

    modes = ((S, Tally(*serial)), (H, Tally(*others)), (X, Tally()))
    test = HuntTest(".", "t.py::a", modes, HuntVerdict.ORDER_DEPENDENT)
    assert settled(test).verdict is verdict
    assert settled(HuntTest(".", "t.py::a", modes, HuntVerdict.ORDER_DEPENDENT, polluter="t.py::p")).verdict is (
        HuntVerdict.ORDER_DEPENDENT
    )


@pytest.mark.parametrize(
    ("runs_per_mode", "rounds", "left", "now"),
    [
        pytest.param(10, 4, 0.9, False, id="before-halfway"),
        pytest.param(10, 5, 0.9, True, id="halfway"),
        pytest.param(10, 2, 0.3, True, id="the-budget-runs-low"),
        pytest.param(10, 1, 0.1, False, id="one-order-is-too-few-to-point-at-suspects"),
        pytest.param(2, 2, 0.1, False, id="a-short-hunt-bisects-at-its-end"),
    ],
)
def test_a_hunt_bisects_before_its_last_passes(runs_per_mode: int, rounds: int, left: float, now: bool) -> None:
    from pathlib import Path

    from flaketui.hunting import HuntSettings, _time_to_bisect
    from flaketui.verify.hunt import Suite

    settings = HuntSettings(".", Suite(Path("."), "python", ()), runs_per_mode, 900.0)
    runs = [run(mode, a="passed") for _ in range(rounds) for mode in (S, H, X)]
    assert _time_to_bisect(settings, runs, left * 900.0) is now


def test_a_victim_whose_counts_could_be_chance_is_checked_twice() -> None:
    fails_after, calls = polluted_by(SUITE[57])
    once = find_polluter(SUITE, VICTIM, fails_after).runs
    fails_after, calls = polluted_by(SUITE[57])
    twice = find_polluter(SUITE, VICTIM, fails_after, checks=2)
    assert twice.polluter == SUITE[57] and twice.runs == once + 2
    assert calls[-4:] == [(), (SUITE[57],), (), (SUITE[57],)]
    # A victim that happened to fail after the polluter once, but passes after it the second time.
    fails_after, calls = polluted_by(SUITE[57])
    random_one = find_polluter(SUITE, VICTIM, lambda order: fails_after(order) and len(calls) != once + 2, checks=2)
    assert random_one.polluter is None and random_one.at_random and len(calls) == once + 2
