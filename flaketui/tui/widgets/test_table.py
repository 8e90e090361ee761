"""The table of flaky tests: one row per test, columns that make room for the test's name.

It observes the triage model (a scan refills it, a run repaints one row) and owns the keys
that move in it and mark rows. Colours come from flaketui.tcss through component classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowKey

from flaketui.tui.rows import ROW_STATES, STATE_GLYPHS, fit_test

if TYPE_CHECKING:
    from flaketui.models import TestKey
    from flaketui.tui.rows import Row
    from flaketui.tui.triage import Change, TriageModel


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


#: The test column's width under which the other columns give way, in this order: the
#: marker column goes, then the source column folds into a badge in the status column
#: (``H`` hunt, ``C`` CI history), then the runs bar shortens, then the category column.
_TEST_NEEDS = 48
#: Past this width the test column shares its room with the marker column.
_TEST_ENOUGH = 72
_MARKER = Column("marker", "marker", 12)
#: Only when the table holds candidates (unmarked tests a hunt or CI history found): a
#: column of ``marker`` on every row would tell nothing.
_SOURCE = Column("source", "source", 9)
_NARROWER = (
    (Column("category", "category", 13), Column("runs", "runs", 14)),
    (Column("category", "category", 13), Column("runs", "runs", 9)),
    (Column("category", "category", 11), Column("runs", "runs", 9)),
)
_LAYOUTS: tuple[tuple[Column, ...], ...] = ((_MARKER, *_NARROWER[0]), *_NARROWER)
_SOURCED_LAYOUTS: tuple[tuple[Column, ...], ...] = ((_SOURCE, _MARKER, *_NARROWER[0]), (_SOURCE, *_NARROWER[0]),
                                                    *_NARROWER)
_STATUS = Column("status", "", 2)
_STATUS_BADGED = Column("status", "", 4)


def columns_for(width: int, *, sources: bool = False) -> tuple[Column, ...]:
    """The columns of a table ``width`` cells wide (``sources``: it holds candidates); the
    test column takes what the others leave."""

    def status(others: tuple[Column, ...]) -> Column:
        return _STATUS_BADGED if sources and _SOURCE not in others else _STATUS

    def test_width(others: tuple[Column, ...]) -> int:
        # Each column has a cell padding of one on each side; two more cells for the scrollbar.
        return width - sum(c.width + 2 for c in (status(others), *others)) - 2 - 2

    layouts = _SOURCED_LAYOUTS if sources else _LAYOUTS
    others = next((o for o in layouts if test_width(o) >= _TEST_NEEDS), layouts[-1])
    spare = test_width(others) - _TEST_ENOUGH
    if spare > 0 and _MARKER in others:
        at = others.index(_MARKER)
        wider = Column(_MARKER.key, _MARKER.label, _MARKER.width + min(spare, 18))
        others = (*others[:at], wider, *others[at + 1:])
    return (status(others), Column("test", "test", max(20, test_width(others))), *others)


class TestTable(DataTable[Text | str]):
    """The flaky tests. Row keys are ``rootdir::nodeid``."""

    __test__ = False  # a widget, not a pytest class

    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False, id="cursor-down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="cursor-up"),
        Binding("g,home", "scroll_top", "Top", show=False, id="cursor-top"),
        Binding("G,end", "scroll_bottom", "Bottom", show=False, id="cursor-bottom"),
        Binding("space", "toggle_mark", "Mark", id="mark", tooltip="Mark the test for V (verify marked)"),
    ]
    COMPONENT_CLASSES = {f"test-table--{state}" for state in ROW_STATES} | {
        "test-table--marked", "test-table--file", "test-table--source"}
    HELP = "Moving in the table"

    @dataclass
    class MarkToggled(Message):
        """Space on a row: mark it for ``V`` (or unmark it)."""

        key: TestKey

    def __init__(self, model: TriageModel, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.model = model
        self._columns: tuple[Column, ...] = ()
        self._styles: dict[str, Style] = {}
        #: A refill moves the cursor through rows that are not what the user selected.
        self._filling = False

    def on_mount(self) -> None:
        self.model.observe(self._model_changed)

    def _model_changed(self, change: Change) -> None:
        if change.shown:
            self.fill(self.model.shown_rows())
        elif change.keys:
            for key in change.keys:
                self.show_row(self.model.rows[key])

    @property
    def selected_key(self) -> TestKey | None:
        shown = self.model.shown
        if not shown or self.row_count == 0:
            return None
        return shown[min(max(self.cursor_row, 0), len(shown) - 1)]

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        # The model's selection follows the cursor at once, not when the (posted) RowHighlighted
        # is handled: keys typed in a burst (j j v) are handled before that message, and each
        # must act on the row the cursor has reached.
        if not self._filling:
            self.model.select(self.selected_key)

    def select(self, key: TestKey) -> None:
        if key in self.model.shown:
            self.move_cursor(row=self.model.shown.index(key), animate=False, scroll=True)

    def action_toggle_mark(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.MarkToggled(key))
            self.action_cursor_down()

    # -- cells ------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        """A component class's style, cached: looking one up costs more than a whole cell."""
        if name not in self._styles:
            self._styles[name] = self.get_component_rich_style(name, partial=True)
        return self._styles[name]

    def cells(self, row: Row) -> list[Text | str]:
        # Once per row on every refill: only the columns shown are built.
        return [self._cell(column, row) for column in self._columns]

    def _cell(self, column: Column, row: Row) -> Text | str:
        key = column.key
        if key == "status":
            state = row.state
            glyph = Text(("▸" if row.marked else " ") + STATE_GLYPHS[state], style=self._style(f"test-table--{state}"))
            if column.width > len(glyph):
                glyph.append(row.badge, style=self._style("test-table--source"))
            return glyph
        if key == "test":
            file, name = fit_test(row.test.nodeid, column.width)
            test = Text(file + name, no_wrap=True, overflow="ellipsis")
            if file:
                test.stylize(self._style("test-table--file"), 0, len(file))
            if row.marked:
                test.stylize(self._style("test-table--marked"))
            return test
        if key == "source":
            return Text(row.source, no_wrap=True, overflow="ellipsis",
                        style=self._style("test-table--source") if row.candidate is not None else "")
        if key == "marker":
            return Text(row.marker_text(), no_wrap=True, overflow="ellipsis")
        if key == "category":
            return Text(row.category_text(column.width), no_wrap=True, overflow="ellipsis")
        return row.verification_text(bar_width=8 if column.width >= 14 else 3)

    def fill(self, rows: Sequence[Row]) -> None:
        """Replace every row (after a scan, a filter or a sort), keeping the selected test."""
        keep = self.model.selected_key
        wanted = self._wanted_columns()
        self._filling = True
        try:
            if wanted != self._columns or not self.columns:
                self._columns = wanted
                self.clear(columns=True)
                for column in wanted:
                    self.add_column(column.label, key=column.key, width=column.width)
            else:
                self.clear()
            for row in rows:
                self.add_row(*self.cells(row), key=row_key(row.key))
            if keep is not None:
                self.select(keep)
        finally:
            self._filling = False
        # A selection the filter hid moves to the row the cursor is on now.
        self.model.select(self.selected_key)

    def _wanted_columns(self) -> tuple[Column, ...]:
        # The table is hidden until the first rows arrive, so the fill that shows them finds it
        # with no size yet; it spans its parent, whose width is known. Without this the first
        # 1,000 rows were laid out for width 0 and filled again on the next resize.
        width = self.size.width
        if not width and isinstance(self.parent, Widget):
            width = self.parent.content_size.width
        return columns_for(width, sources=any(r.candidate is not None for r in self.model.rows.values()))

    def on_resize(self) -> None:
        if self.row_count and self._wanted_columns() != self._columns:
            self.fill(self.model.shown_rows())

    # Every column has a fixed width and every row one line, so the measuring DataTable does
    # for each new or updated cell (most of a 1,000-row refill) is skipped; only the virtual
    # size is kept right. Textual is pinned exactly, which keeps these internals stable.
    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        header_height = self.header_height if self.show_header else 0
        width = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(width + self._row_label_column_width, self._total_row_height + header_height)

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        self._require_update_dimensions = True

    def show_row(self, row: Row) -> None:
        key = row_key(row.key)
        if key not in self.rows:
            return
        for column, value in zip(self._columns, self.cells(row), strict=True):
            self.update_cell(key, column.key, value)


def row_key(key: TestKey) -> str:
    return f"{key[0]}::{key[1]}"
