"""The Fix tab: the proposal flaketui can write for the selected test, as a diff, and while
``w`` proves it, a bar of the runs before and after the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from flaketui.models import RunOutcome

if TYPE_CHECKING:
    from rich.syntax import Syntax

    from flaketui.apply_fix import ApplyOutcome
    from flaketui.models import RunResult
    from flaketui.proposals import ProposalSet



def _syntax() -> type[Syntax]:
    """Rich's ``Syntax``, imported with Pygments when the first diff is coloured: part of the
    app's start-up budget (ARCHITECTURE.md), 8 ms of a 300 ms first frame that shows no diff."""
    from rich.syntax import Syntax

    return Syntax


_MARKS = {RunOutcome.PASSED: "▮", RunOutcome.SKIPPED: "s"}


class ProposalView(Static):
    """One proposal at a time (``p`` cycles), its why and diff; the proof's bars below."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"diff--added", "diff--removed", "diff--hunk", "diff--file", "proof--failed", "proof--passed"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.found: ProposalSet | None = None
        self.index = 0
        #: Each phase of the proof ("before: ...", "after: ...") and its runs so far.
        self.phases: list[tuple[str, list[RunResult]]] = []
        self.outcome: ApplyOutcome | None = None
        #: ``W``: how many marked tests are being fixed, and what came of each so far.
        self.batch_size: int | None = None
        self.outcomes: list[str] = []

    def show_proposals(self, found: ProposalSet | None, index: int = 0) -> None:
        self.found, self.index = found, index
        self.phases, self.outcome, self.batch_size, self.outcomes = [], None, None, []
        self._show()

    def start_batch(self, count: int) -> None:
        self.found, self.index = None, 0
        self.phases, self.outcome, self.batch_size, self.outcomes = [], None, count, []
        self._show()

    def start_phase(self, text: str) -> None:
        self.phases.append((text, []))
        self._show()

    def add_run(self, result: RunResult) -> None:
        if not self.phases:
            self.phases.append(("runs", []))
        self.phases[-1][1].append(result)
        self._show()

    def finish(self, outcome: ApplyOutcome, *, batch: bool = False) -> None:
        if batch:
            self.outcomes.append(outcome.summary)
        else:
            self.outcome = outcome
        self._show()

    @property
    def text(self) -> str:
        return self._content().plain

    def _show(self) -> None:
        # Made when first asked for, it may be told what to show before it is mounted: its
        # colours (component classes) exist from then on.
        if self.is_mounted:
            self.update(self._content())

    def on_mount(self) -> None:
        self._show()

    def on_resize(self) -> None:
        self._show()  # the diff wraps to the width, each wrapped line under its own indentation

    def _content(self) -> Text:
        out = Text()
        found = self.found
        if self.batch_size is not None:
            return self._batch_content(out)
        if found is None:
            out.append("Press p to see the fix flaketui can write for this test.")
            return out
        if not found.proposals:
            out.append(f"No fix to propose for {found.test.nodeid}: no remedy matches its code.\n")
            for declined in found.declined:
                out.append(f"  {declined.remedy}: {declined.reason}\n")
            return out
        proposal = found.proposals[self.index % len(found.proposals)]
        count = len(found.proposals)
        out.append(f"{self.index % count + 1}/{count}  {proposal.title}\n", style="bold")
        out.append(f"{proposal.category} · {proposal.remedy}" + ("  (p: next)" if count > 1 else "") + "\n\n")
        out.append(proposal.why + "\n")
        if proposal.keep_reason:
            out.append(f"\nNo code change: keep the marker (K), reason: {proposal.keep_reason}\n")
        else:
            out.append("w: write it, prove it before and after, then commit\n\n")
            styles = {name: self.get_component_rich_style(f"diff--{name}") for name in ("added", "removed", "hunk", "file")}
            out.append_text(render_diff(found.diff(proposal), self.content_size.width, styles))
        for label, runs in self.phases:
            out.append(f"\n{label}\n")
            out.append_text(self._bar(runs))
        if self.outcome is not None:
            out.append(f"\n\n{self.outcome.summary}\n", style="bold")
        return out

    def _batch_content(self, out: Text) -> Text:
        out.append(f"Fixing {self.batch_size} marked tests, one after another ({len(self.outcomes)} done)\n", style="bold")
        for summary in self.outcomes:
            out.append(f"  {summary}\n")
        for label, runs in self.phases[-3:]:  # the test in progress: its name, before, after
            out.append(f"\n{label}\n")
            if runs:
                out.append_text(self._bar(runs))
        return out

    def _bar(self, runs: list[RunResult]) -> Text:
        bar = Text("  ")
        failed = self.get_component_rich_style("proof--failed")
        passed = self.get_component_rich_style("proof--passed")
        for run in runs:
            mark = _MARKS.get(run.outcome, "▯")
            bar.append(mark, style=passed if run.outcome is RunOutcome.PASSED else failed)
        bad = sum(1 for r in runs if r.outcome is not RunOutcome.PASSED)
        bar.append(f"  {bad} of {len(runs)} failed")
        return bar


#: Columns of the gutter: the line number (the old file's for a removed line), then ``│`` and
#: the ``+``/``-`` mark. The ``│`` leads every code line, so no renderer trims its indentation.
_GUTTER = 5
_MIN_CODE = 20


def render_diff(diff: str, width: int, styles: dict[str, Style]) -> Text:
    """A unified diff as it is: every line's indentation kept (a line too long for ``width``
    continues under its own indentation, never at the margin), the code syntax-coloured, added
    and removed lines marked and tinted, each hunk's lines numbered."""
    out = Text()
    lexer = "text"
    old = new = 0
    for line in diff.splitlines():
        if line.startswith("--- "):
            continue
        if line.startswith("+++ "):
            path = line[4:].removeprefix("b/")
            lexer = _syntax().guess_lexer(path, "")
            out.append(f"{path}\n", style=styles["file"])
            continue
        if line.startswith("@@"):
            numbers = line.split()
            old, new = (abs(int(n.split(",")[0])) for n in numbers[1:3])
            out.append(f"{line}\n", style=styles["hunk"])
            continue
        if line.startswith("\\"):
            out.append(f"{'':>{_GUTTER}}│ {line}\n", style="dim")
            continue
        mark, code = (line[:1], line[1:]) if line[:1] in ("+", "-", " ") else (" ", line)
        number = old if mark == "-" else new
        old, new = old + (mark != "+"), new + (mark != "-")
        kind = {"+": "added", "-": "removed"}.get(mark)
        _append_line(out, number, mark, code, lexer, width, styles.get(kind) if kind else None)
    return out


def _append_line(out: Text, number: int, mark: str, code: str, lexer: str, width: int, style: Style | None) -> None:
    body = code.lstrip(" \t")
    indent = code[: len(code) - len(body)]
    highlighted = _syntax()("", lexer, theme="ansi_dark").highlight(body)
    highlighted.rstrip()
    tint = Style(bgcolor=style.bgcolor) if style is not None and style.bgcolor is not None else None
    if tint is not None:
        highlighted.stylize(tint)
    room = width - _GUTTER - 2 - len(indent.expandtabs())
    hang = "    " if room - 4 >= _MIN_CODE else ""
    pieces = [highlighted]
    if width > 0 and room >= _MIN_CODE and len(body) > room:
        pieces = list(highlighted.divide(_cuts(body, room, room - len(hang))))
    for index, piece in enumerate(pieces):
        gutter = f"{number:>{_GUTTER - 1}} " if index == 0 else " " * _GUTTER
        out.append(gutter, style="dim")
        lead = f"│{mark if index == 0 else ' '}{indent}{hang if index else ''}"
        out.append(lead, style=style or "")
        out.append_text(piece)
        out.append("\n")


def _cuts(body: str, first: int, rest: int) -> list[int]:
    """Where to break ``body``: after a space or a comma when one is in the second half of the
    room, else at the edge."""
    cuts: list[int] = []
    start, room = 0, first
    while len(body) - start > room:
        edge = start + room
        comma = body.rfind(",", start, edge)
        if comma + 1 < len(body) and body[comma + 1] == " ":
            comma = -1  # a comma followed by a space breaks after the space
        soft = max(body.rfind(" ", start, edge), comma)
        cut = soft + 1 if soft >= start + room // 2 else edge
        cuts.append(cut)
        start, room = cut, rest
    return cuts
