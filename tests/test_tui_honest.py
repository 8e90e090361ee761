"""Pilot tests: a skip and a cancel are shown as what they are, never as verified."""

from __future__ import annotations

from flaketui.models import Verdict
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.modals import CommitDialog, MessageDialog
from tests._tui_helpers import BLOCKING, PROJECT, processes_under, run_async, settle
from tests.conftest import MakeRepo, git
from tests.test_tui_verify import BLOCKER, SIZE, STABLE, select, start_blocking_run

SKIPPER = (".", "tests/test_skip.py::test_needs_a_gpu")
SKIPPING = {
    "tests/test_skip.py": """\
        import pytest


        @pytest.mark.flaky(reruns=2)
        def test_needs_a_gpu():
            pytest.skip("needs the GPU runner")
    """,
}


def header(app: FlakeTUIApp) -> str:
    return str(app.main.query_one("#header").render())


@run_async
async def test_a_skipping_test_shows_skipped_with_its_reason_and_c_does_not_commit(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, **SKIPPING})
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, SKIPPER)
        await pilot.press("v")
        await settle(pilot)
        row = app.main.model.rows[SKIPPER]
        assert row.state is Verdict.SKIPPED
        assert row.verification_text() == "skipped"
        assert row.verification.runs == 1
        assert "0 verified" in header(app) and "1 skipped" in header(app)
        await pilot.press("l", "l")  # the Runs tab
        assert "needs the GPU runner" in str(app.main.query_one("#runs").render())
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, MessageDialog)
        assert "skipped" in app.screen.message
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


@run_async
async def test_x_leaves_a_cancelled_row_that_counts_as_cancelled_not_verified(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, **BLOCKING})
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await start_blocking_run(app, pilot, root)
        await pilot.press("x")
        await settle(pilot)
        row = app.main.model.rows[BLOCKER]
        assert row.verification.verdict is Verdict.CANCELLED
        assert row.state is Verdict.CANCELLED
        assert row.verification_text() == "cancelled 1/10"
        assert "0 verified" in header(app) and "1 cancelled" in header(app)
        assert processes_under(root) == []


@run_async
async def test_the_commit_modal_asks_for_its_own_key_after_fewer_runs_than_the_minimum(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.model.runs = 3  # as `o` sets it
        select(app, STABLE)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CommitDialog)
        cautions = str(app.screen.query_one("#commit-cautions").render())
        assert "verified with 3 runs, fewer than the 10" in cautions and "failure rate of 63%" in cautions
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CommitDialog)
        assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
        await pilot.press("exclamation_mark")
        await settle(pilot)
        assert not isinstance(app.screen, CommitDialog)
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"
