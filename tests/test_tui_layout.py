"""The screen at any width: the table keeps the test names readable from 80x24 up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path

import pytest

from flaketui.demo import write_demo
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.main_screen import NARROW_BELOW, MainScreen
from flaketui.tui.widgets.detail import DetailPane
from flaketui.tui.rows import Row
from flaketui.tui.widgets.test_table import TestTable, columns_for
from textual.widgets._footer import FooterKey
from tests._tui_helpers import run_async, settle


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        pytest.param(200, ["status", "test", "marker", "category", "runs"], id="wide: every column"),
        pytest.param(120, ["status", "test", "marker", "category", "runs"], id="120: every column"),
        pytest.param(96, ["status", "test", "category", "runs"], id="the marker column goes first"),
        pytest.param(80, ["status", "test", "category", "runs"], id="80: runs and category stay"),
        pytest.param(60, ["status", "test", "category", "runs"], id="60: still there, narrower"),
    ],
)
def test_the_marker_column_gives_way_before_runs_and_category(width: int, expected: list[str]) -> None:
    columns = columns_for(width)
    assert [c.key for c in columns] == expected
    widths = {c.key: c.width for c in columns}
    assert widths["test"] >= min(48, width // 3)


@pytest.mark.parametrize(
    ("width", "expected", "status"),
    [
        pytest.param(200, ["status", "test", "source", "marker", "category", "runs"], 2, id="wide: every column"),
        pytest.param(120, ["status", "test", "source", "marker", "category", "runs"], 2, id="120: every column"),
        pytest.param(100, ["status", "test", "source", "category", "runs"], 2, id="the marker column goes first"),
        pytest.param(80, ["status", "test", "category", "runs"], 4, id="80: the source is a badge"),
        pytest.param(60, ["status", "test", "category", "runs"], 4, id="60: still a badge"),
    ],
)
def test_with_candidates_the_source_column_gives_way_after_the_marker(width: int, expected: list[str],
                                                                    status: int) -> None:
    columns = columns_for(width, sources=True)
    assert [c.key for c in columns] == expected
    widths = {c.key: c.width for c in columns}
    assert widths["status"] == status and widths["test"] >= min(46, width // 3)
    # Without candidates there is no source column: every row would read "marker".
    assert "source" not in [c.key for c in columns_for(width)]


def test_columns_shrink_in_order_as_the_table_narrows() -> None:
    runs = [{c.key: c.width for c in columns_for(w)} for w in range(200, 59, -1)]
    for wider, narrower in pairwise(runs):
        assert narrower["runs"] <= wider["runs"] and narrower["category"] <= wider["category"]
    # The runs bar shortens before the category column does.
    assert any(r["runs"] < 14 and r["category"] == 13 for r in runs)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 35)], ids=["80x24", "100x30", "120x35"])
@run_async
async def test_at_80x24_eight_rows_show_each_test_name(tmp_path: Path, size: tuple[int, int]) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.main.table
        visible = table.scrollable_content_region.height - table.header_height
        assert visible >= 8
        assert table.region.bottom <= app.main.query_one(DetailPane).region.y  # the detail went under it
        width = table.columns["test"].width
        names = set()
        for index in range(min(visible, len(app.main.model.shown))):
            row = app.main.model.rows[app.main.model.shown[index]]
            shown = table.get_row_at(index)[1].plain
            name = row.test.nodeid.rpartition("::")[2]  # the function and its parameter id
            if len(name) <= width:
                assert name in shown, (name, shown)
            else:  # cut in the middle: its start and its end (a parameter id) stay
                head, _, tail = shown.partition("…")
                assert name.startswith(head) and name.endswith(tail) and len(head) >= width // 3
            names.add(shown)
        assert len(names) == min(visible, len(app.main.model.shown))  # no two rows read the same


@run_async
async def test_d_gives_the_table_the_whole_screen(tmp_path: Path) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        before = app.main.table.region.height
        await pilot.press("d")
        await pilot.pause()
        assert not app.main.query_one(DetailPane).display or app.main.query_one(DetailPane).region.height == 0
        assert app.main.table.region.height > before
        await pilot.press("d")
        await pilot.pause()
        assert app.main.table.region.height == before


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
@run_async
async def test_D_gives_the_detail_most_of_the_screen_and_keeps_the_selected_row_in_view(
        tmp_path: Path, size: tuple[int, int]) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table, detail = app.main.table, app.main.query_one(DetailPane)
        before = (table.region, detail.region)
        await pilot.press(*"jjjjjjjjj", "D")
        await pilot.pause()
        await pilot.pause()
        if size[0] < 140:  # under the table: taller
            assert detail.region.height > before[1].height + 5 and table.region.height < before[0].height
        else:  # beside it: wider
            assert detail.region.width > before[1].width and table.region.width < before[0].width
        # The selected row is still on screen, between the header and the table's bottom.
        assert table.scroll_offset.y <= table.cursor_row < table.scroll_offset.y + table.size.height - 1
        await pilot.press("D")
        await pilot.pause()
        assert (table.region, detail.region) == before


@pytest.mark.parametrize("size", [(80, 24), (120, 35), (200, 50)], ids=["80x24", "120x35", "200x50"])
@run_async
async def test_the_footer_shows_help_quit_and_the_main_keys_whole(tmp_path: Path, size: tuple[int, int]) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        keys = list(app.main.query(FooterKey))
        shown = {key.description: key.region for key in keys}
        for essential in ("Help", "Quit", "Verify", "Commit", "Fix", "Filter", "Cancel"):
            region = shown[essential]
            assert region.width > len(essential) and region.right <= size[0], (essential, region)
        placed = sorted(shown.values(), key=lambda r: r.x)
        for left, right in pairwise(placed):
            assert left.right <= right.x  # none covers another


@run_async
async def test_ctrl_d_and_ctrl_u_scroll_a_fix_taller_than_the_pane_while_the_table_keeps_the_keys(
        tmp_path: Path) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "p")  # the set-order test's proposal: a diff far taller than the pane
        await settle(pilot)
        detail = app.main.query_one(DetailPane)
        scroller = next(w for w in detail.get_pane("tab-fix").query("*") if w.max_scroll_y > 0)
        assert scroller.scroll_y == 0
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert scroller.scroll_y > 0 and app.focused is app.main.table
        await pilot.press("ctrl+u")
        await pilot.pause()
        assert scroller.scroll_y == 0


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
@run_async
async def test_the_scan_fills_the_table_once_with_the_columns_of_its_width(
        tmp_path: Path, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    # The table is hidden until its first rows arrive; filling it for "no width" and again on
    # the resize that follows doubled the cost of showing a large repository.
    fills: list[tuple[str, ...]] = []
    original = TestTable.fill

    def counted(table: TestTable, rows: Sequence[Row]) -> None:
        original(table, rows)
        fills.append(tuple(c.key for c in table._columns))

    monkeypatch.setattr(TestTable, "fill", counted)
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.main.table
        assert table.row_count == len(app.main.model.shown) > 0
        assert fills == [tuple(c.key for c in columns_for(table.size.width))]


@run_async
async def test_the_footer_rebuilds_only_when_the_keys_it_shows_change(tmp_path: Path) -> None:
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        before = list(app.main.query(FooterKey))
        app.main.refresh_bindings()  # what every reactive with bindings=True does, most often for nothing
        await settle(pilot)
        assert list(app.main.query(FooterKey)) == before  # the same widgets: no rebuild
        await pilot.press("slash")  # the filter takes the focus: the table's keys leave the footer
        await settle(pilot)
        shown = [key.action for key in app.main.query(FooterKey)]
        assert "filter" in shown and "toggle_mark" not in shown
        await pilot.press("escape")
        await settle(pilot)
        assert [key.action for key in app.main.query(FooterKey)] == [key.action for key in before]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
@run_async
async def test_the_screen_has_its_breakpoint_class_before_its_children_are_styled(
        tmp_path: Path, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    # Set by the first resize, after the children were styled, the breakpoint's class restyled
    # the whole screen: 28 ms of the first frame.
    changed: list[set[str]] = []
    original = MainScreen.update_classes

    def recorded(screen: MainScreen, classes: Mapping[str, bool], update: bool = True,
                 animate: bool = True) -> MainScreen:  # fmt: skip
        before = set(screen.classes)
        original(screen, classes, update, animate)
        if set(screen.classes) != before:
            changed.append(set(screen.classes) ^ before)
        return screen

    monkeypatch.setattr(MainScreen, "update_classes", recorded)
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        wide = size[0] >= NARROW_BELOW
        assert app.main.has_class("-wide") is wide and app.main.has_class("-narrow") is not wide
        assert changed == []
