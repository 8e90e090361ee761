"""The fix plan puts what fails most often first; the audit lists unmarked candidates and the
suite's stability from the newest hunt."""

from __future__ import annotations

from flaketui.models import Category
from flaketui.models.history import (
    Candidate,
    HuntMode,
    HuntReport,
    HuntTest,
    HuntVerdict,
    Tally,
)
from flaketui.report import build_audit, render_markdown, to_data
from tests._record_helpers import diagnosis, flaky

TIME_A, TIME_B = flaky("tests/test_t.py::test_a"), flaky("tests/test_t.py::test_b")
TIME_C = flaky("tests/test_t.py::test_c")
RACE = flaky("tests/test_r.py::test_r")
VICTIM = "tests/test_v.py::test_victim"
POLLUTER = "tests/test_p.py::test_polluter"


def audit(rates: dict[str, tuple[int, int]], candidates=(), hunt=None):
    tests = [TIME_A, TIME_B, TIME_C, RACE]
    categories = {TIME_A: Category.TIME, TIME_B: Category.TIME, TIME_C: Category.TIME, RACE: Category.RACE}
    return build_audit(
        generated="2026-12-03", repository="shop", branch="main", head="abc", tests=tests, decisions={},
        diagnoses={t.key: diagnosis(t, categories[t], "why", 3) for t in tests}, verifications={}, commits=[],
        candidates=candidates, hunt=hunt, failure_rates=rates,
    )  # fmt: skip


def plan(result) -> list[tuple[str, list[str]]]:
    return [(str(item.category), list(item.tests)) for item in result.advice]


def test_without_measurements_the_biggest_cause_comes_first() -> None:
    assert [c for c, _ in plan(audit({}))] == ["time", "race"]


def test_the_most_often_failing_test_and_its_cause_come_first() -> None:
    rates = {RACE.nodeid: (6, 10), TIME_B.nodeid: (3, 10), TIME_C.nodeid: (3, 30)}
    assert plan(audit(rates)) == [
        ("race", [RACE.nodeid]),
        # 3/10 before 3/30 (fails more often), which comes before the unmeasured test_a.
        ("time", [TIME_B.nodeid, TIME_C.nodeid, TIME_A.nodeid]),
    ]


def test_equal_rates_put_the_test_that_runs_most_first() -> None:
    rates = {TIME_A.nodeid: (1, 10), TIME_B.nodeid: (5, 50)}
    assert plan(audit(rates))[0] == ("time", [TIME_B.nodeid, TIME_A.nodeid, TIME_C.nodeid])


def hunt_report() -> HuntReport:
    victim = HuntTest(".", VICTIM, ((HuntMode.SERIAL, Tally(0, 2)), (HuntMode.SHUFFLED, Tally(1, 1))),
                      HuntVerdict.ORDER_DEPENDENT, polluter=POLLUTER)  # fmt: skip
    return HuntReport(1, ".", 2, ((HuntMode.SERIAL, 2), (HuntMode.SHUFFLED, 2), (HuntMode.XDIST, 0)), (victim,), True,
                      suite_size=12)  # fmt: skip


def test_candidates_and_stability_sections_and_a_confirmed_polluter_means_order() -> None:
    hunt = hunt_report()
    candidate = Candidate(".", VICTIM, {"hunt": {"passed": 1, "failed": 3, "verdict": "order-dependent",
                          "modes": {"serial": {"runs": 2, "passed": 0, "failed": 2}}, "polluter": POLLUTER}},
                          failure_rate=0.75, runs=4)  # fmt: skip
    result = audit({VICTIM: (3, 4)}, [candidate], hunt)
    assert plan(result)[0] == ("order", [VICTIM])
    text = render_markdown(result)
    assert f"| `{VICTIM}` | hunt | 3/4 | order-dependent, polluted by `{POLLUTER}` |" in text
    assert "- Stable: no\n- Serial results equal parallel ones: not measured (no xdist)\n- All runs identical: no" in text
    data = to_data(result)
    assert data["stability"]["stable"] is False and data["candidates"][0]["polluter"] == POLLUTER
