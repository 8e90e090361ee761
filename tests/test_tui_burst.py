"""Keys typed in a burst act on the row the cursor is on, not on the row it was on when the
table's (posted) highlight message was last handled."""

from __future__ import annotations

from textual import events

from flaketui.models import Category
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.widgets.test_table import TestTable
from tests._tui_helpers import PROJECT, run_async, settle, wait_for
from tests.conftest import MakeRepo

SIZE = (80, 24)
THIRD = "tests/test_time.py::test_today_is_a_weekday"


def burst(app: FlakeTUIApp, *keys: str) -> None:
    """Keys as a terminal delivers them when typed (or sent by tmux) faster than the app
    handles them: all queued before the first is handled. (``pilot.press`` waits for the app
    to be idle after each key, so it never shows this.)"""
    for key in keys:
        app.post_message(events.Key(key, " " if key == "space" else key))


@run_async
async def test_j_j_v_without_a_pause_verifies_the_third_row(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.model.set_verify_options(3, app.main.model.mode)
        burst(app, "j", "j", "v")
        await pilot.pause()
        job = app.main.model.queue.current
        assert job is not None and [t.nodeid for t in job.tests] == [THIRD]
        await settle(pilot)
        assert app.main.model.rows[(".", THIRD)].verification is not None
        assert all(r.verification is None for k, r in app.main.model.rows.items() if k[1] != THIRD)


@run_async
async def test_keys_arriving_in_one_read_act_on_the_row_the_cursor_reached(make_repo: MakeRepo) -> None:
    """What a terminal delivers when keys are typed (or sent by tmux) faster than the app
    handles them: every key event is queued before the first is handled."""
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        burst(app, "j", "j", "3", "k", "space", "k", "k", "5")
        await settle(pilot)
        rows = app.main.model.rows
        # Decisions land from a thread: wait for two, then see which rows they went to.
        await wait_for(pilot, lambda: sum(r.triage is not None for r in rows.values()) == 2
                       and any(r.marked for r in rows.values()))
        assert rows[(".", THIRD)].confirmed is Category.TIME
        second = rows[(".", "tests/test_stable.py::test_always_passes")]
        assert second.marked and second.confirmed is None
        assert rows[(".", "tests/test_counter.py::test_every_third_run_fails")].confirmed is Category.DATA
        assert app.main.model.selected_key == (".", "tests/test_counter.py::test_every_third_run_fails")


@run_async
async def test_a_click_selects_the_row_clicked_and_a_key_right_after_acts_on_it(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click(TestTable, offset=(10, 3))  # the header's line, then the rows
        burst(app, "3")
        await settle(pilot)
        await wait_for(pilot, lambda: any(r.triage is not None for r in app.main.model.rows.values()))
        assert app.main.model.selected_key == (".", THIRD)
        assert app.main.model.rows[(".", THIRD)].confirmed is Category.TIME


@run_async
async def test_a_filter_that_hides_the_selection_moves_it_to_a_shown_row(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "slash", *"stable", "enter")
        assert app.main.model.selected_key == (".", "tests/test_stable.py::test_always_passes")
        burst(app, "escape", "4")
        await settle(pilot)
        await wait_for(pilot, lambda: any(r.triage is not None for r in app.main.model.rows.values()))
        # Back to every row, the cursor stays on the test it was on, and 4 acts on it.
        assert app.main.model.selected_key == (".", "tests/test_stable.py::test_always_passes")
        assert app.main.model.rows[(".", "tests/test_stable.py::test_always_passes")].confirmed is Category.EXTERNAL
