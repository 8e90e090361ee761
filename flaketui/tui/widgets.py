"""The main screen's widgets. Colours live in flaketui.tcss: these widgets name component
classes (``source--time``, ``test-table--flaky``) and ask the stylesheet for their style."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellKey, RowKey

from flaketui.models import (
    Category,
    Diagnosis,
    Evidence,
    FlakyTest,
    RepoInfo,
    TestKey,
    Verdict,
    Verification,
    VerifyMode,
)
from flaketui.tui.rows import STATE_GLYPHS, Row, RowState, fit_nodeid, verdict_sentence

#: (key, label, width); the test column takes what the others leave.
COLUMNS = (("status", "", 2), ("test", "test", 0), ("marker", "marker", 12), ("category", "category", 13),
           ("runs", "runs", 14))
_MIN_TEST_WIDTH = 24
#: Header words for verdict states, so "16 flaky" (marked) and "1 still flaky" (verified) differ.
_STATE_WORDS = {RowState.FLAKY: "still flaky", RowState.BROKEN: "broken", RowState.KEPT: "kept on purpose",
                RowState.STALE: "verified on an older tree", RowState.CANCELLED: "cancelled"}


class RepoHeader(Static):
    """``flaketui ─ repo@branch ─ 23 flaky · 4 verified · 2 fixed`` and counts by category."""

    def show(self, info: RepoInfo | None, by_state: dict[RowState, int], by_category: dict[Category, int],
             total: int, fixed: int) -> None:
        where = "…" if info is None else (f"{info.name}@{info.branch or 'detached'}" if info.is_git
                                          else f"{info.name} (no git)")
        verified = by_state.get(RowState.STABLE, 0)
        parts = [f"{total} flaky", f"{verified} verified", f"{fixed} fixed"]
        for state in (RowState.FLAKY, RowState.BROKEN, RowState.SKIPPED, RowState.CANCELLED, RowState.STALE,
                      RowState.KEPT, RowState.RUNNING, RowState.QUEUED):
            if by_state.get(state):
                parts.append(f"{by_state[state]} {_STATE_WORDS.get(state, state)}")
        categories = " ".join(f"{c}:{n}" for c, n in sorted(by_category.items(), key=lambda kv: -kv[1]))
        line = Text.assemble(("flaketui", "bold"), " ─ ", where, " ─ ", " · ".join(parts))
        if categories:
            line.append(f" ─ {categories}")
        self.update(line)


class TestTable(DataTable[Text | str]):
    """The flaky tests. Row keys are ``rootdir::nodeid``."""

    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False, id="cursor-down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="cursor-up"),
        Binding("g,home", "scroll_top", "Top", show=False, id="cursor-top"),
        Binding("G,end", "scroll_bottom", "Bottom", show=False, id="cursor-bottom"),
        Binding("space", "screen.toggle_mark", "Mark", id="mark", tooltip="Mark the test for V (verify marked)"),
    ]
    COMPONENT_CLASSES = {f"test-table--{state}" for state in RowState} | {"test-table--marked"}
    HELP = "The flaky-marked tests. j/k move, space marks for a batch verification."

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._filled: Sequence[Row] = ()
        self._test_width = 0
        self._styles: dict[str, Style] = {}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        """A component class's style, cached: looking one up costs more than a whole cell."""
        if name not in self._styles:
            self._styles[name] = self.get_component_rich_style(name, partial=True)
        return self._styles[name]

    def cells(self, row: Row) -> list[Text | str]:
        state = row.state
        glyph = Text(("▸" if row.marked else " ") + STATE_GLYPHS[state], style=self._style(f"test-table--{state}"))
        nodeid = Text(fit_nodeid(row.test.nodeid, self._test_width), no_wrap=True, overflow="ellipsis")
        if row.marked:
            nodeid.stylize(self._style("test-table--marked"))
        return [glyph, nodeid, Text(row.marker_text(), no_wrap=True, overflow="ellipsis"),
                Text(row.category_text(), no_wrap=True, overflow="ellipsis"), row.verification_text()]

    def _wanted_test_width(self) -> int:
        others = sum(width + 2 * self.cell_padding for key, _, width in COLUMNS if key != "test")
        return max(_MIN_TEST_WIDTH, self.size.width - others - 2 * self.cell_padding - 1)

    def fill(self, rows: Sequence[Row]) -> None:
        """Replace every row (after a scan, a filter or a sort)."""
        self._filled = rows
        wanted = self._wanted_test_width()
        if wanted != self._test_width or not self.columns:
            self._test_width = wanted
            self.clear(columns=True)
            for key, label, width in COLUMNS:
                self.add_column(label, key=key, width=width or wanted)
        else:
            self.clear()
        for row in rows:
            self.add_row(*self.cells(row), key=row_key(row.key))

    def on_resize(self) -> None:
        if self._filled and self._wanted_test_width() != self._test_width:
            cursor = self.cursor_row
            self.fill(self._filled)
            self.move_cursor(row=cursor, animate=False)

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
        for (column, _, _), value in zip(COLUMNS, self.cells(row), strict=True):
            self.update_cell(key, column, value)


def row_key(key: TestKey) -> str:
    return f"{key[0]}::{key[1]}"


class SourceView(ScrollView):
    """The test's source with suspicious lines highlighted by category and a gutter note.

    A line-API scroll view rather than a Static: a new test changes only the virtual size,
    not the screen's layout, which keeps a cursor move cheap.
    """

    COMPONENT_CLASSES = {"source--lineno", "source--note", "source--test"} | {f"source--{c}" for c in Category}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}
        self._base: Style | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._strips.clear()

    @property
    def text(self) -> str:
        """What is shown, as plain text (for tests and copy)."""
        return "\n".join(line.plain for line in self._lines)

    def _set_lines(self, lines: list[Text]) -> None:
        self._lines = lines
        self._strips.clear()
        self.virtual_size = Size(max((line.cell_len for line in lines), default=0), len(lines))
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if self._base is None:  # computing it walks the ancestors: once per style change
            self._base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, self._base)
        strip = self._strips.get(index)
        if strip is None:
            segments = list(self._lines[index].render(self.app.console, end=""))
            strip = self._strips[index] = Strip(segments).apply_style(self._base)
        return strip.crop_extend(scroll_x, scroll_x + width, self._base)

    def show(self, test: FlakyTest, text: str, diagnosis: Diagnosis | None) -> None:
        lines = text.splitlines()
        here = [e for e in (diagnosis.evidence if diagnosis else ()) if e.path == test.path]
        # The marker usually sits just above the def; a module-level ``pytestmark`` does not.
        near = [m.line for m in test.markers if m.path == test.path and test.line - 10 <= m.line <= test.line]
        first = max(1, min([test.line, *near, *(e.line for e in here)]) - 1)
        last = min(len(lines), max([test.end_line or test.line + 20, *(e.end_line for e in here)]) + 1)
        notes: dict[int, Evidence] = {}
        for evidence in sorted(here, key=lambda e: -e.weight):
            for number in range(evidence.line, evidence.end_line + 1):
                notes.setdefault(number, evidence)
        width = len(str(last))
        lineno, note_style = self.get_component_rich_style("source--lineno"), self.get_component_rich_style("source--note")
        marker_lines = {m.line for m in test.markers if m.path == test.path}
        out: list[Text] = []
        for number in range(first, last + 1):
            note = notes.get(number)
            style: Style | str = ""
            if note is not None:
                style = self.get_component_rich_style(f"source--{note.category}")
            elif number in marker_lines:
                style = self.get_component_rich_style("source--test")
            line = Text.assemble((f"{number:>{width}} ", lineno), ("▌" if style else " ", style))
            line.append(lines[number - 1].expandtabs(4), style=style)
            out.append(line)
            # The reason sits under its line, in the gutter, so it is never cut off.
            if note is not None and number == note.end_line:
                out.append(Text(f"{'':>{width}}  └ {note.category}: {note.message}", style=note_style))
            elif number in marker_lines and note is None:
                out.append(Text(f"{'':>{width}}  └ the flaky marker", style=note_style))
        self._set_lines(out)

    def show_message(self, message: str) -> None:
        self._set_lines([Text(line) for line in message.splitlines()])


class EvidenceView(Static):
    def show(self, test: FlakyTest, diagnosis: Diagnosis | None, unavailable: str | None) -> None:
        out = Text()
        markers = ", ".join(f"{m.source} ({m.path}:{m.line}, {m.scope})" for m in test.markers)
        out.append(f"{test.nodeid}\n", style="bold")
        out.append(f"marker: {markers}\n\n")
        if diagnosis is None:
            out.append(unavailable or "Diagnosing…")
            self.update(out)
            return
        suggestion = diagnosis.suggestion
        if suggestion.category is Category.UNKNOWN:
            out.append("Suggested: unknown (no rule matched; read the test and pick a category)\n")
        else:
            out.append(f"Suggested: {suggestion.category} ({suggestion.category.label}), "
                       f"{suggestion.confidence:.0%} confidence\n")
        ranked = ", ".join(f"{s.category} {s.confidence:.0%}" for s in diagnosis.ranking[1:4] if s.confidence > 0)
        if ranked:
            out.append(f"Also possible: {ranked}\n")
        if diagnosis.fix_at is not None:
            out.append(f"Fix at: {diagnosis.fix_at[0]}:{diagnosis.fix_at[1]}\n")
        code = [e for e in diagnosis.evidence if e.source != "runs"]
        runs = [e for e in diagnosis.evidence if e.source == "runs"]
        for title, items in (("From the code", code), ("From " + runs[0].where.removeprefix("from ") if runs and runs[0].where.startswith("from ") else "From runs", runs)):
            if items:
                out.append(f"\n{title}\n", style="bold underline")
            for evidence in items:
                place = f"{evidence.path}:{evidence.line}  " if evidence.path else ""
                out.append(f"\n{evidence.category}", style="bold")
                out.append(f"  {place}({evidence.where}, rule {evidence.rule})\n")
                out.append(f"  {evidence.message}\n")
                out.append(f"  fix: {evidence.fix}\n")
        if not code:
            out.append("\nNo suspicious line found in the test, its fixtures, its helpers or the code they call.\n")
        self.update(out)


class RunsView(Static):
    def show(self, row: Row, unavailable: str | None) -> None:
        out = Text()
        if row.progress is not None:
            out.append(f"Running: {row.progress.done}/{row.progress.total} runs done, "
                       f"{row.progress.passed} passed\n\n")
            results, mode = row.progress.results, row.progress.mode
        elif row.verification is not None:
            verification = row.verification
            out.append(verdict_sentence(verification) + "\n")
            if row.stale:
                out.append("It ran on an older tree (HEAD moved or files changed since): verify again before "
                           "committing.\n")
            out.append(f"$ {verification.command}\n")
            if verification.note and verification.verdict is not Verdict.ERROR:  # the sentence has it then
                out.append(f"{verification.note}\n")
            out.append("\n")
            results, mode = list(verification.results), verification.mode
        else:
            out.append(unavailable or "Not verified yet: press v to run it 10 times with the rerun plugins off.")
            self.update(out)
            return
        for result in results:
            # Only the shuffled order depends on the seed; elsewhere it is noise.
            seed = f" seed={result.seed}" if result.seed is not None and mode is VerifyMode.RANDOM_ORDER else ""
            out.append(f"run {result.index + 1:>3}  {result.outcome:<8}{seed}\n")
            if result.message:
                for line in result.message.strip().splitlines()[-6:]:
                    out.append(f"         {line}\n")
        self.update(out)


class HistoryView(Static):
    def show(self, history: Sequence[Verification] | None, unavailable: str | None) -> None:
        if history is None:
            self.update(Text(unavailable or "Loading…"))
            return
        if not history:
            self.update(Text("No verification recorded yet."))
            return
        out = Text()
        for verification in reversed(history):
            when = verification.started_at[:16].replace("T", " ")
            out.append(f"{when}  {(verification.head or 'no commit')[:8]}  {verdict_sentence(verification)}\n")
        self.update(out)
