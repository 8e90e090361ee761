"""The Runs tab says what a verdict means for the test it is about."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TabbedContent

from flaketui.demo import write_demo
from flaketui.models import Category, Verdict
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.widgets.detail import RunsView
from tests._tui_helpers import run_async, settle

DISPATCH = (".", "tests/test_registry.py::test_dispatch_runs_the_registered_handler")


@run_async
async def test_a_test_that_fails_alone_and_reads_order_says_it_needs_a_test_before_it(tmp_path: Path) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        model = app.main.model
        model.set_verify_options(2, model.mode)
        app.main.table.select(DISPATCH)
        await pilot.press("v")
        await settle(pilot)
        row = model.rows[DISPATCH]
        assert row.verification is not None and row.verification.verdict is Verdict.BROKEN
        assert row.category is Category.ORDER
        app.main.query_one(TabbedContent).active = "tab-runs"
        await pilot.pause()
        text = str(app.main.query_one(RunsView).render())
        assert "0/2 passed: broken" in text and "it likely needs state that a test run before it sets up" in text
