"""Pilot tests of verification, commit and undo: real pytest runs, real git commits."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.pilot import Pilot

from flaketui.models import Category, Verdict
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.modals import CommitDialog, MessageDialog
from flaketui.tui.rows import Stage
from tests._tui_helpers import (
    BLOCKING,
    PROJECT,
    processes_under,
    run_async,
    settle,
    wait_for,
)
from tests.conftest import MakeRepo, git

SIZE = (150, 40)
COUNTER = (".", "tests/test_counter.py::test_every_third_run_fails")
STABLE = (".", "tests/test_stable.py::test_always_passes")
BLOCKER = (".", "tests/test_blocking.py::test_blocks_on_second_run")


def select(app: FlakeTUIApp, key: tuple[str, str]) -> None:
    app.main.table.move_cursor(row=app.main.model.shown.index(key), animate=False)


@run_async
async def test_verify_a_flaky_test_shows_k_of_n_and_the_honest_bound(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, COUNTER)
        await pilot.press("v")
        await settle(pilot)
        row = app.main.model.rows[COUNTER]
        assert row.verification_text() == "7/10"
        assert row.state is Verdict.FLAKY
        assert app.main.table.get_cell(app.main.table.coordinate_to_cell_key((0, 0)).row_key, "runs") == "7/10"
        await pilot.press("l", "l")  # the Runs tab
        runs = str(app.main.query_one("#runs").render())
        assert "7/10 passed: flaky" in runs and "failed" in runs


@run_async
async def test_a_stable_result_states_the_95_percent_bound(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("l", "l")
        assert "10/10 passed: failure rate < 26% at 95%" in str(app.main.query_one("#runs").render())
        assert app.main.model.rows[STABLE].state is Verdict.STABLE


@run_async
async def test_verifications_queue_behind_one_consumer(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "V")  # mark the counter and stable tests, verify both
        assert app.main.model.queue.current is not None
        assert sum(1 for r in app.main.model.rows.values() if r.state in (Stage.RUNNING, Stage.QUEUED)) == 2
        assert [w for w in app.workers if w.group == "verify" and w.is_running].__len__() <= 1
        await settle(pilot)
        assert app.main.model.rows[COUNTER].verification.verdict is Verdict.FLAKY
        assert app.main.model.rows[STABLE].verification.verdict is Verdict.STABLE
        assert not app.main.model.queue.busy


@run_async
async def test_c_verifies_then_commits_through_the_modal(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        await pilot.press("4")  # the team's category goes into the message
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CommitDialog)
        assert "-@pytest.mark.flaky(reruns=2)" in app.screen.plan.diff
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.model.rows[STABLE].state is Stage.FIXED
        assert "1 fixed" in str(app.main.query_one("#header").render())
    log = git(root, "log", "-1", "--format=%B")
    assert "Flaky-Category: external" in log
    assert "pytest.mark.flaky" not in (root / "tests/test_stable.py").read_text()
    assert git(root, "status", "--porcelain", "tests/test_stable.py") == ""
    assert Service(root).decisions()[STABLE].category is Category.EXTERNAL


@run_async
async def test_esc_in_the_commit_modal_changes_nothing(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CommitDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.main
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    assert "pytest.mark.flaky" in (root / "tests/test_stable.py").read_text()


@run_async
async def test_c_on_a_flaky_test_refuses_with_what_to_do(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, COUNTER)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, MessageDialog)
        assert "7/10 passed" in app.screen.message and "fix the root cause" in app.screen.hint
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


@run_async
async def test_c_after_runs_that_failed_on_this_tree_refuses_without_running_again(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, COUNTER)
        await pilot.press("v")
        await settle(pilot)
        runs = int((root / "tests/counter.txt").read_text())
        assert app.main.model.rows[COUNTER].state is Verdict.FLAKY
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, MessageDialog) and app.screen.title_text == "Not committed"
        assert "7/10 passed" in app.screen.message and "on this very tree" in app.screen.message
        assert int((root / "tests/counter.txt").read_text()) == runs  # not one more run
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


@run_async
async def test_z_undoes_the_last_fix(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("enter")
        # The commit and the undo run in workers that a handler starts after the key: settle alone
        # can look before they exist, so wait for what each one leaves in the repository.
        await wait_for(pilot, lambda: git(root, "rev-list", "--count", "HEAD").strip() == "2")
        await settle(pilot)
        await pilot.press("z")
        await wait_for(pilot, lambda: git(root, "rev-list", "--count", "HEAD").strip() == "3")
        await settle(pilot)
        assert STABLE in app.main.model.rows and app.main.model.rows[STABLE].state is not Stage.FIXED
    assert "@pytest.mark.flaky(reruns=2)" in (root / "tests/test_stable.py").read_text()
    assert git(root, "rev-list", "--count", "HEAD").strip() == "3"


async def start_blocking_run(app: FlakeTUIApp, pilot: Pilot, root: Path) -> None:
    """Verify the blocking test and return once its first run is under way."""
    running = root / "tests/running.txt"
    select(app, BLOCKER)
    await pilot.press("v")
    await wait_for(pilot, lambda: running.exists() and running.read_text().isdigit())


@run_async
async def test_x_cancels_and_leaves_no_process(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, **BLOCKING})
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await start_blocking_run(app, pilot, root)
        assert app.main.model.rows[BLOCKER].state is Stage.RUNNING
        await pilot.press("x")
        await settle(pilot)
        assert app.main.model.rows[BLOCKER].state is not Stage.RUNNING
        assert processes_under(root) == []


@run_async
async def test_keys_work_while_a_verification_runs(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, **BLOCKING})
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await start_blocking_run(app, pilot, root)
        await pilot.press("j", "3")  # move to the next test and confirm `time` while it runs
        await wait_for(pilot, lambda: app.main.model.rows[COUNTER].confirmed is Category.TIME)
        assert app.main.model.rows[BLOCKER].state is Stage.RUNNING
        await pilot.press("x")
        await settle(pilot)
    assert Service(root).decisions()[COUNTER].category is Category.TIME


@run_async
async def test_q_quits_at_once_and_kills_the_run(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, **BLOCKING})
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await start_blocking_run(app, pilot, root)
        await pilot.press("q")
    assert app.return_code == 0
    assert processes_under(root) == []


@run_async
async def test_an_edit_after_verifying_makes_the_result_old(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        await pilot.press("v")
        await settle(pilot)
        assert app.main.model.rows[STABLE].state is Verdict.STABLE
    with (root / "tests/test_stable.py").open("a") as source:
        source.write("\n# edited after the verification\n")
    again = FlakeTUIApp(Service(root))
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = again.main.model.rows[STABLE]
        assert row.state is Stage.STALE and row.verification_text() == "10/10 old"


@run_async
async def test_history_lists_each_verification_and_y_copies_the_repro(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        await pilot.press("o", "end", "backspace", "backspace", "3", "enter", "v")
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("h", "h")  # Source -> Fix -> History (wraps around)
        await settle(pilot)
        history = str(app.main.query_one("#history").render())
        # Fewer runs than min-runs: the sentence says what three passes leave open.
        assert history.count("3/3 passed (forked), only: 3/3 passes still allow a failure rate of 63% at 95%") == 2
        await pilot.press("y")
        assert "test_always_passes" in app.clipboard and "pytest" in app.clipboard


@run_async
async def test_a_class_marker_is_verified_and_committed_for_every_test_it_covers(make_repo: MakeRepo) -> None:
    root = make_repo({
        "tests/test_pair.py": """\
            import pytest


            @pytest.mark.flaky(reruns=2)
            class TestPair:
                def test_a(self):
                    assert True

                def test_b(self):
                    assert True
        """,
    })
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CommitDialog)
        assert app.screen.plan.target == "tests/test_pair.py::TestPair"
        assert "covers 2 tests" in str(app.screen.query_one("#commit-covered").render())
        await pilot.press("enter")
        await settle(pilot)
        assert all(row.state is Stage.FIXED for row in app.main.model.rows.values())
        assert all(row.verification.passed == 10 for row in app.main.model.rows.values())
    assert "flaky" not in (root / "tests/test_pair.py").read_text()


class _SlowDecisions(Service):
    """Writing a decision waits for the test's word: ``c`` arrives while it is being saved."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.release = threading.Event()

    def set_category(self, *args, **kwargs):
        self.release.wait()
        return super().set_category(*args, **kwargs)


@run_async
async def test_c_right_after_a_category_commits_with_that_category(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    service = _SlowDecisions(root)
    app = FlakeTUIApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, STABLE)
        try:
            await pilot.press("4", "c")
            await pilot.pause()
            planning = [w for w in app.workers if w.group == "commit"]
        finally:
            service.release.set()  # whatever happened, the decision's thread must end
        assert planning == []  # the plan waited for the decision
        await settle(pilot)
        assert isinstance(app.screen, CommitDialog)
        assert "Flaky-Category: external" in app.screen.plan.message
        await pilot.press("escape")
