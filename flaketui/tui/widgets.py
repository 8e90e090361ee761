"""The main screen's widgets. Colours live in flaketui.tcss: these widgets name component
classes (``source--time``, ``test-table--flaky``) and ask the stylesheet for their style."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Static

from flaketui.models import Category, Diagnosis, Evidence, FlakyTest, Verification, VerifyMode
from flaketui.service import RepoInfo
from flaketui.tui.rows import STATE_GLYPHS, Row, RowState, verdict_sentence

#: (key, label, width); the test column takes what the others leave.
COLUMNS = (("status", "", 2), ("test", "test", 0), ("marker", "marker", 12), ("category", "category", 13),
           ("runs", "runs", 14))
_MIN_TEST_WIDTH = 24


class RepoHeader(Static):
    """``flaketui ─ repo@branch ─ 23 flaky · 4 verified · 2 fixed`` and counts by category."""

    def show(self, info: RepoInfo | None, by_state: dict[RowState, int], by_category: dict[Category, int],
             total: int, fixed: int) -> None:
        where = "…" if info is None else (f"{info.name}@{info.branch or 'detached'}" if info.is_git
                                          else f"{info.name} (no git)")
        verified = by_state.get(RowState.STABLE, 0)
        parts = [f"{total} flaky", f"{verified} verified", f"{fixed} fixed"]
        for state in (RowState.FLAKY, RowState.BROKEN, RowState.KEPT, RowState.RUNNING, RowState.QUEUED):
            if by_state.get(state):
                parts.append(f"{by_state[state]} {state}")
        categories = " ".join(f"{c}:{n}" for c, n in sorted(by_category.items(), key=lambda kv: -kv[1]))
        line = Text.assemble(("flaketui", "bold"), " ─ ", where, " ─ ", " · ".join(parts))
        if categories:
            line.append(f" ─ {categories}")
        self.update(line)


class TestTable(DataTable):
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

    def cells(self, row: Row) -> list[Text | str]:
        state = row.state
        glyph = Text(("▸" if row.marked else " ") + STATE_GLYPHS[state],
                     style=self.get_component_rich_style(f"test-table--{state}", partial=True))
        nodeid = Text(row.test.nodeid, no_wrap=True, overflow="ellipsis")
        if row.marked:
            nodeid.stylize(self.get_component_rich_style("test-table--marked", partial=True))
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

    def show_row(self, row: Row) -> None:
        key = row_key(row.key)
        if key not in self.rows:
            return
        for (column, _, _), value in zip(COLUMNS, self.cells(row), strict=True):
            self.update_cell(key, column, value)


def row_key(key: tuple[str, str]) -> str:
    return f"{key[0]}::{key[1]}"


class SourceView(Static):
    """The test's source with suspicious lines highlighted by category and a gutter note."""

    COMPONENT_CLASSES = {"source--lineno", "source--note", "source--test"} | {f"source--{c}" for c in Category}

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
        out = Text(no_wrap=True, overflow="ellipsis")
        for number in range(first, last + 1):
            evidence = notes.get(number)
            style = ""
            if evidence is not None:
                style = self.get_component_rich_style(f"source--{evidence.category}")
            elif number in marker_lines:
                style = self.get_component_rich_style("source--test")
            out.append(f"{number:>{width}} ", style=lineno)
            out.append("▌" if style else " ", style=style)
            out.append(lines[number - 1].expandtabs(4), style=style)
            out.append("\n")
            # The reason sits under its line, in the gutter, so it is never cut off.
            if evidence is not None and number == evidence.end_line:
                out.append(f"{'':>{width}}  └ {evidence.category}: {evidence.message}\n", style=note_style)
            elif number in marker_lines and evidence is None:
                out.append(f"{'':>{width}}  └ the flaky marker\n", style=note_style)
        self.update(out)

    def show_message(self, message: str) -> None:
        self.update(Text(message))


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
        ranked = ", ".join(f"{s.category} {s.confidence:.0%}" for s in diagnosis.ranking[1:4])
        if ranked:
            out.append(f"Also possible: {ranked}\n")
        for evidence in diagnosis.evidence:
            out.append(f"\n{evidence.category}", style="bold")
            out.append(f"  {evidence.path}:{evidence.line}  ({evidence.where}, rule {evidence.rule})\n")
            out.append(f"  {evidence.message}\n")
            out.append(f"  fix: {evidence.fix}\n")
        if not diagnosis.evidence:
            out.append("\nNo suspicious line found in the test, its fixtures or its helpers.\n")
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
            out.append(verdict_sentence(verification) + "\n", style="bold")
            out.append(f"$ {verification.command}\n")
            if verification.note:
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
