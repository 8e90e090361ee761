"""What ``v``, ``V`` and ``c`` start: how many tests and runs, how long, and asking first when
that is long and covers more than the selected test."""

from __future__ import annotations

import pytest

from flaketui.models import RunOutcome, RunResult, Verdict, Verification, VerifyMode
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.modals import ConfirmWorkload
from flaketui.tui.workload import (
    ASK_ABOVE,
    DEFAULT_RUN,
    STARTUP,
    Workload,
    duration_text,
    estimate,
)
from tests._tui_helpers import processes_under, run_async, settle
from tests.conftest import MakeRepo

SIZE = (120, 35)

#: One module-level marker over three tests: ``c`` on any of them verifies all three.
MODULE_MARKER = {
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
    "tests/__init__.py": "",
    "tests/test_module.py": """\
        import pytest

        pytestmark = pytest.mark.flaky(reruns=2)


        def test_one():
            assert True


        def test_two():
            assert True


        def test_three():
            assert True
    """,
}


def verification(durations: list[float]) -> Verification:
    results = tuple(RunResult("n", i, RunOutcome.PASSED, duration=d) for i, d in enumerate(durations))
    return Verification("n", ".", VerifyMode.FORKED, len(results), results, Verdict.STABLE, "pytest n")


@pytest.mark.parametrize(
    ("last", "runs", "mode", "seconds"),
    [
        pytest.param([None], 10, VerifyMode.FORKED, STARTUP + 10 * DEFAULT_RUN, id="never verified: defaults"),
        pytest.param([verification([2.0, 4.0])], 10, VerifyMode.FORKED, STARTUP + 10 * 3.0, id="measured runs"),
        pytest.param([None, None], 5, VerifyMode.FRESH_PROCESS, 2 * 5 * (STARTUP + DEFAULT_RUN),
                     id="fresh-process pays start-up per run"),
        pytest.param([], 10, VerifyMode.FORKED, 0.0, id="nothing"),
    ],
)
def test_the_estimate(last: list[Verification | None], runs: int, mode: VerifyMode, seconds: float) -> None:
    workload = estimate(last, runs, mode)
    assert workload.seconds == pytest.approx(seconds)
    assert (workload.tests, workload.runs) == (len(last), runs)


@pytest.mark.parametrize(
    ("workload", "text"),
    [
        pytest.param(Workload(1, 10, 4.2), "1 test × 10 runs, about 4 s", id="one test"),
        pytest.param(Workload(24, 10, 640), "24 tests × 10 runs = 240 runs, about 11 min", id="a module"),
        pytest.param(Workload(3, 1, 0.1), "3 tests × 1 run = 3 runs, about 1 s", id="never 0 s"),
    ],
)
def test_describe_says_tests_runs_and_time(workload: Workload, text: str) -> None:
    assert workload.describe() == text


def test_only_long_work_beyond_the_selected_test_asks() -> None:
    long = Workload(3, 100, ASK_ABOVE + 1)
    assert long.needs_asking(only_the_selected=False)
    assert not long.needs_asking(only_the_selected=True)
    assert not Workload(3, 10, ASK_ABOVE).needs_asking(only_the_selected=False)
    assert duration_text(3700) == "1 h 2 min"


async def set_runs(pilot, runs: int) -> None:
    await pilot.press("o", "end", "backspace", "backspace", *str(runs), "enter")


@run_async
async def test_c_under_a_module_marker_says_what_it_starts_and_asks(make_repo: MakeRepo) -> None:
    root = make_repo(MODULE_MARKER)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await set_runs(pilot, 100)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWorkload)
        assert app.screen.workload.tests == 3 and app.screen.workload.total_runs == 300
        assert "3 tests × 100 runs = 300 runs, about 2 min" in str(app.screen.query_one("#dialog-title").render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.main
        assert not app.main.model.queue.busy
        assert all(row.verification is None for row in app.main.model.rows.values())
        assert "nothing was queued" in str(app.main.query_one("#activity").render())
    assert Service(root).last_verifications() == {}


@run_async
async def test_accepting_the_question_verifies_every_test_the_marker_covers(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(MODULE_MARKER)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "space")
        await set_runs(pilot, 100)
        await pilot.press("V")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWorkload)
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.model.queue.current is not None
        assert len(app.main.model.queue.current.tests) + app.main.model.queued_tests() == 3
        assert "V verifies 3 tests × 100 runs" in str(app.main.query_one("#activity").render())
        await pilot.press("x")  # the first test's verification stops; the others stay queued
        app.main.stop_everything()
        await settle(pilot)


@run_async
async def test_the_selected_test_alone_never_asks_however_long(make_repo: MakeRepo) -> None:
    root = make_repo(MODULE_MARKER)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await set_runs(pilot, 1000)
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is app.main
        assert app.main.model.queue.current is not None
        assert "v verifies 1 test × 1000 runs, about 5 min" in str(app.main.query_one("#activity").render())
        await pilot.press("x")
        await settle(pilot)
    assert processes_under(root) == []


@run_async
async def test_short_work_over_several_tests_starts_at_once_and_says_so(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(MODULE_MARKER)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await set_runs(pilot, 3)
        await pilot.press("c")
        await settle(pilot)
        # 3 tests × 3 runs is seconds: no question, the verification ran, then the commit dialog.
        assert not isinstance(app.screen, ConfirmWorkload)
        assert all(row.verification is not None and row.verification.runs == 3
                   for row in app.main.model.rows.values())
