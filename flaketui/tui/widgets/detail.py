"""The detail pane: the selected test's source, evidence, runs and history, in tabs.

Colours live in flaketui.tcss: these widgets name component classes (``source--time``) and
ask the stylesheet for their style. The pane observes the triage model and shows the
selected row; it asks for a test's history (a message) the first time its tab opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from rich.style import Style
from rich.text import Text
from textual import on
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from flaketui.models import (
    Category,
    Verdict,
    VerifyMode,
)
from flaketui.tui.rows import verdict_sentence
from flaketui.tui.widgets.proposal import ProposalView

if TYPE_CHECKING:
    from flaketui.models import (
        Diagnosis,
        Evidence,
        FlakyTest,
        TestKey,
        Verification,
    )
    from flaketui.models.history import Candidate, HuntTest
    from flaketui.tui.rows import Row
    from flaketui.tui.triage import Change, TriageModel


class SourceView(ScrollView):
    """The test's source with suspicious lines highlighted by category and a gutter note.

    A line-API scroll view rather than a Static: a new test changes only the virtual size,
    not the screen's layout, which keeps a cursor move cheap.
    """

    COMPONENT_CLASSES = {"source--lineno", "source--note", "source--test", "source--fix"} | {f"source--{c}" for c in Category}

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

    def _set_lines(self, lines: list[Text], *, at_line: int = 0) -> None:
        """Show ``lines``, the one at index ``at_line`` a third of the way down."""
        self._lines = lines
        self._strips.clear()
        self.virtual_size = Size(max((line.cell_len for line in lines), default=0), len(lines))
        self.scroll_to(0, 0, animate=False, immediate=True)
        if at_line:
            # After the layout: a pane that was just shown (d, F) has no height yet.
            self.call_after_refresh(self._scroll_to_line, at_line)
        self.refresh()

    def _scroll_to_line(self, index: int) -> None:
        self.scroll_to(0, max(0, index - self.scrollable_content_region.height // 3), animate=False, immediate=True)

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

    def show(self, test: FlakyTest, text: str, diagnosis: Diagnosis | None,
             polluter: tuple[str, str | None, Sequence[str]] | None = None) -> None:
        """The test's lines, its marker's and the evidence's in its file; for an
        order-dependent test, ``polluter`` (node id, its file's text, the shared names) shows the
        polluter's lines under the victim's, each line that names the shared state highlighted."""
        lines = text.splitlines()
        here = [e for e in (diagnosis.evidence if diagnosis else ()) if e.path == test.path]
        # The marker usually sits just above the def; a module-level ``pytestmark`` does not.
        near = [m.line for m in test.markers if m.path == test.path and test.line - 10 <= m.line <= test.line]
        first = max(1, min([test.line, *near, *(e.line for e in here)]) - 1)
        last = min(len(lines), max([test.end_line or test.line + 20, *(e.end_line for e in here)]) + 1)
        fix_at = diagnosis.fix_at if diagnosis else None
        title = f"fix at {fix_at[0]}:{fix_at[1]} · F shows that line" if fix_at else None
        out, at = self._numbered(test.path, lines, (first, last), diagnosis,
                                 {m.line for m in test.markers if m.path == test.path}, title=title)  # fmt: skip
        if polluter is not None:
            out.extend(self._polluter_lines(*polluter))
        self._set_lines(out, at_line=at)

    def _polluter_lines(self, nodeid: str, text: str | None, shared: Sequence[str]) -> list[Text]:
        note, lineno = self.get_component_rich_style("source--note"), self.get_component_rich_style("source--lineno")
        out = [Text(""), Text(f"polluter: {nodeid}", style=note),
               Text(f"  it runs first and leaves {', '.join(shared) or 'state'} behind; this test then fails",
                    style=note)]  # fmt: skip
        span = _def_span(text, nodeid) if text is not None else None
        if text is None or span is None:
            return [*out, Text("  (its source cannot be found)", style=note)]
        lines, (first, last) = text.splitlines(), span
        hot = self.get_component_rich_style(f"source--{Category.ORDER}")
        width = len(str(last))
        for number in range(first, last + 1):
            line = lines[number - 1].expandtabs(4)
            style: Style | str = hot if any(name in line for name in shared) else ""
            out.append(Text.assemble((f"{number:>{width}} ", lineno), ("▌" if style else " ", style), (line, style)))
        return out

    def show_fix(self, path: str, text: str, line: int, diagnosis: Diagnosis) -> None:
        """The whole file the fix must change (the test's, the code under test's, the polluter's),
        scrolled to that line, which stands out."""
        lines = text.splitlines()
        self._show_lines(path, lines, (1, len(lines)), diagnosis, set(), fix_line=line,
                         title=f"{path}:{line}: the line to change · F back to the test")  # fmt: skip

    def _show_lines(self, path: str, lines: list[str], span: tuple[int, int], diagnosis: Diagnosis | None,
                    marker_lines: set[int], *, title: str | None, fix_line: int = 0) -> None:  # fmt: skip
        out, at = self._numbered(path, lines, span, diagnosis, marker_lines, title=title, fix_line=fix_line)
        self._set_lines(out, at_line=at)

    def _numbered(self, path: str, lines: list[str], span: tuple[int, int], diagnosis: Diagnosis | None,
               marker_lines: set[int], *, title: str | None, fix_line: int = 0) -> tuple[list[Text], int]:  # fmt: skip
        """The numbered lines ``span`` of ``path``, highlighted, and the index of the fix's line."""
        first, last = span
        notes: dict[int, Evidence] = {}
        for evidence in sorted((e for e in (diagnosis.evidence if diagnosis else ()) if e.path == path),
                               key=lambda e: -e.weight):  # fmt: skip
            for number in range(evidence.line, evidence.end_line + 1):
                notes.setdefault(number, evidence)
        fix_note = next((e for e in (diagnosis.evidence if diagnosis else ()) if e.fix_at == (path, fix_line)), None)
        width = len(str(last))
        lineno, note_style = self.get_component_rich_style("source--lineno"), self.get_component_rich_style("source--note")
        out: list[Text] = [] if title is None else [Text(title, style=note_style)]
        at = 0
        for number in range(first, last + 1):
            note = notes.get(number)
            style: Style | str = ""
            if number == fix_line:
                style, at = self.get_component_rich_style("source--fix"), len(out)
            elif note is not None:
                style = self.get_component_rich_style(f"source--{note.category}")
            elif number in marker_lines:
                style = self.get_component_rich_style("source--test")
            line = Text.assemble((f"{number:>{width}} ", lineno), ("▌" if style else " ", style))
            line.append(lines[number - 1].expandtabs(4), style=style)
            out.append(line)
            # The reason sits under its line, in the gutter, so it is never cut off.
            if number == fix_line:
                fix = fix_note.fix if fix_note is not None else "the diagnosis names this line"
                out.append(Text(f"{'':>{width}}  └ change this line: {fix}", style=note_style))
            elif note is not None and number == note.end_line:
                out.append(Text(f"{'':>{width}}  └ {note.category}: {note.message}", style=note_style))
            elif number in marker_lines and note is None:
                out.append(Text(f"{'':>{width}}  └ the flaky marker", style=note_style))
        return out, at

    def show_message(self, message: str) -> None:
        self._set_lines([Text(line) for line in message.splitlines()])


def _def_span(text: str, nodeid: str) -> tuple[int, int] | None:
    """The lines (1-based, inclusive) of the test ``nodeid`` names in its file's ``text``: its
    ``def`` (inside its class for a method) to the last line indented under it."""
    names = [n for n in nodeid.partition("::")[2].split("[", 1)[0].split("::") if n]
    lines, start, indent = text.splitlines(), 0, -1
    for name in names:
        pattern = re.compile(rf"^(\s*)(?:async\s+def|def|class)\s+{re.escape(name)}\b")
        for index in range(start, len(lines)):
            found = pattern.match(lines[index])
            if found and len(found.group(1)) > indent:
                start, indent = index, len(found.group(1))
                break
        else:
            return None
    end = start
    for index in range(start + 1, len(lines)):
        if lines[index].strip() and len(lines[index]) - len(lines[index].lstrip()) <= indent:
            break
        if lines[index].strip():
            end = index
    return start + 1, end + 1


class EvidenceView(Static):
    def show(self, test: FlakyTest, diagnosis: Diagnosis | None, candidate: Candidate | None = None,
             hunt: HuntTest | None = None) -> None:
        out = Text()
        out.append(f"{test.nodeid}\n", style="bold")
        if candidate is None:
            markers = ", ".join(f"{m.source} ({m.path}:{m.line}, {m.scope})" for m in test.markers)
            out.append(f"marker: {markers}\n")
            if hunt is not None:
                modes = ", ".join(f"{mode} {tally.failed}/{tally.runs}" for mode, tally in hunt.modes if tally.runs)
                polluter = f"; fails after {hunt.polluter}" if hunt.polluter else ""
                out.append(f"latest hunt: {hunt.verdict}, failed {modes}{polluter}\n")
            out.append("\n")
        else:
            _candidate_lines(out, test, candidate)
        if diagnosis is None:
            out.append("Diagnosing…")
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


def _candidate_lines(out: Text, test: FlakyTest, candidate: Candidate) -> None:
    """No marker: what found it, and for an order-dependent test its polluter beside it."""
    out.append(f"no marker; found by {', '.join(candidate.sources)}\n")
    history = candidate.sources.get("history")
    if history:
        out.append(f"CI history: failed {history['failed']} of {int(history['passed']) + int(history['failed'])} "
                   f"attempts in {history['reports']} reports ({str(history['first_seen'])[:10]} to "
                   f"{str(history['last_seen'])[:10]})\n")  # fmt: skip
        if history.get("last_failure"):
            out.append(f"  last failure: {str(history['last_failure']).splitlines()[0]}\n")
    hunt = candidate.sources.get("hunt")
    if hunt:
        modes = ", ".join(f"{m} {v['failed']}/{v['runs']}" for m, v in hunt["modes"].items() if v["runs"])
        out.append(f"hunt: {hunt['verdict']}, failed {modes}\n")
        if hunt.get("polluter"):
            out.append("\nvictim    ", style="bold")
            out.append(f"{test.nodeid}\n")
            out.append("polluter  ", style="bold")
            out.append(f"{hunt['polluter']} (confirmed by bisection: it fails after it, passes alone)\n")
            shared = ", ".join(hunt.get("shared") or ()) or "nothing both name: look at fixtures and files"
            out.append("shared    ", style="bold")
            out.append(f"{shared}\n")
    out.append("\n")


class RunsView(Static):
    def show(self, row: Row) -> None:
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
            if verification.verdict is Verdict.BROKEN and row.category is Category.ORDER:
                # Alone it always fails, yet its diagnosis says order: it needs what a test before it sets up.
                out.append("It fails every time alone, and its diagnosis says order: it likely needs state that "
                           "a test run before it sets up. H hunts the suite in several orders and names that test.\n")
            out.append(f"$ {verification.command}\n")
            if verification.note and verification.verdict is not Verdict.ERROR:  # the sentence has it then
                out.append(f"{verification.note}\n")
            out.append("\n")
            results, mode = list(verification.results), verification.mode
        else:
            out.append("Not verified yet: press v to run it with the rerun plugins off.")
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
    def show(self, history: Sequence[Verification] | None) -> None:
        if history is None:
            self.update(Text("Loading…"))
            return
        if not history:
            self.update(Text("No verification recorded yet."))
            return
        out = Text()
        for verification in reversed(history):
            when = verification.started_at[:16].replace("T", " ")
            out.append(f"{when}  {(verification.head or 'no commit')[:8]}  {verdict_sentence(verification)}\n")
        self.update(out)


#: The tabs after Source: each view's class, its tab's title, the pane's id and the view's id.
_LATER: dict[type[Widget], tuple[str, str, str]] = {
    EvidenceView: ("Evidence", "tab-evidence", "evidence"),
    RunsView: ("Runs", "tab-runs", "runs"),
    HistoryView: ("History", "tab-history", "history"),
    ProposalView: ("Fix", "tab-fix", "proposal"),
}
LaterView = TypeVar("LaterView", EvidenceView, RunsView, HistoryView, ProposalView)


class DetailPane(TabbedContent):
    """The selected test in five tabs. ``h``/``l`` (the screen's keys) switch tabs."""

    HELP = "The selected test: its source with the suspicious lines, evidence, runs, history and fix"

    @dataclass
    class HistoryWanted(Message):
        """The History tab shows a test whose history has not been loaded."""

        test: FlakyTest

    def __init__(self, model: TriageModel, read_source: Callable[[str], str | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.compose_add_child(TabPane("Source", SourceView(id="source"), id="tab-source"))
        for title, pane_id, _view_id in _LATER.values():
            self.compose_add_child(TabPane(title, id=pane_id))
        #: The other tabs' views, each made the first time its tab shows (or a flow asks for it).
        self._views: dict[type[Widget], Widget] = {}
        self.model = model
        self.read_source = read_source
        #: The row whose Source tab shows the line its fix must change (F) rather than the test.
        self.at_fix: TestKey | None = None

    def on_mount(self) -> None:
        self.model.observe(self._model_changed)

    def view(self, kind: type[LaterView]) -> LaterView:
        """The view of one of the later tabs, made and mounted the first time it is asked for.

        Composed up front, the four tabs nobody sees at start-up (and the diff's component
        classes) were styled and restyled with the screen before its first frame.
        """
        made = self._views.get(kind)
        if made is None:
            _title, pane_id, view_id = _LATER[kind]
            made = self._views[kind] = kind(id=view_id)
            self.get_pane(pane_id).mount(VerticalScroll(made))
        return cast(LaterView, made)

    def toggle_fix(self) -> None:
        """``F``: the Source tab shows the line the fix must change; again, the test."""
        row = self.model.selected
        if row is None:
            return
        self.at_fix = None if self.at_fix == row.key and self.active == "tab-source" else row.key
        self.active = "tab-source"
        self.show_selected()

    def _polluter_of(self, row: Row) -> tuple[str, str | None, Sequence[str]] | None:
        """For an order-dependent candidate, its polluter's node id, file text and shared names."""
        hunt = row.candidate.sources.get("hunt") if row.candidate is not None else None
        polluter = hunt.get("polluter") if hunt else None
        if not polluter:
            return None
        module = str(polluter).partition("::")[0]
        path = module if row.test.rootdir in ("", ".") else f"{row.test.rootdir}/{module}"
        return str(polluter), self.read_source(path), [str(n) for n in hunt.get("shared") or ()] if hunt else []

    def _model_changed(self, change: Change) -> None:
        if change.selection:
            self.show_selected()

    def scroll_active(self, direction: int) -> None:
        """Half a page down (1) or up (-1) in the active tab, whose content may be taller than
        a short terminal's pane (a diff, a proof)."""
        pane = self.get_pane(self.active)
        for view in (pane, *pane.query("*")):
            if view.max_scroll_y > 0:
                view.scroll_relative(y=direction * max(1, view.scrollable_content_region.height // 2), animate=False)
                return

    def step(self, by: int) -> None:
        """The next (1) or previous (-1) tab, wrapping around."""
        ids = [pane.id or "" for pane in self.query(TabPane)]
        self.active = ids[(ids.index(self.active) + by) % len(ids)]

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self.show_selected()

    def show_selected(self) -> None:
        """Show the selected row in the active tab (only that tab: the others wait until shown)."""
        row = self.model.selected
        source = self.query_one(SourceView)
        if row is None:
            source.show_message("No test selected.")
            for kind, view in self._views.items():
                if kind is not ProposalView:
                    cast(Static, view).update("")
            return
        if self.active == "tab-source":
            fix_at = row.diagnosis.fix_at if row.diagnosis is not None and self.at_fix == row.key else None
            path = fix_at[0] if fix_at else row.test.path
            text = self.read_source(path)
            if text is None:
                source.show_message(f"{path} cannot be read.")
            elif fix_at is not None and row.diagnosis is not None:
                source.show_fix(path, text, fix_at[1], row.diagnosis)
            else:
                source.show(row.test, text, row.diagnosis, self._polluter_of(row))
        elif self.active == "tab-evidence":
            self.view(EvidenceView).show(row.test, row.diagnosis, row.candidate, row.hunt)
        elif self.active == "tab-runs":
            self.view(RunsView).show(row)
        elif self.active == "tab-history":
            history = self.model.history.get(row.key)
            self.view(HistoryView).show(history)
            if history is None:
                self.post_message(self.HistoryWanted(row.test))
