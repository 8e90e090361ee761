"""The Fix tab: the proposal flaketui can write for the selected test, as a diff, and while
``w`` proves it, a bar of the runs before and after the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.widgets import Static

from flaketui.models import RunOutcome, RunResult
from flaketui.tui.modals import colored_diff

if TYPE_CHECKING:
    from flaketui.apply_fix import ApplyOutcome
    from flaketui.proposals import ProposalSet

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

    def show_proposals(self, found: ProposalSet | None, index: int = 0) -> None:
        self.found, self.index = found, index
        self.phases, self.outcome = [], None
        self._show()

    def start_phase(self, text: str) -> None:
        self.phases.append((text, []))
        self._show()

    def add_run(self, result: RunResult) -> None:
        if not self.phases:
            self.phases.append(("runs", []))
        self.phases[-1][1].append(result)
        self._show()

    def finish(self, outcome: ApplyOutcome) -> None:
        self.outcome = outcome
        self._show()

    @property
    def text(self) -> str:
        return self._content().plain

    def _show(self) -> None:
        self.update(self._content())

    def _content(self) -> Text:
        out = Text()
        found = self.found
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
            out.append_text(colored_diff(self, found.diff(proposal)))
        for label, runs in self.phases:
            out.append(f"\n{label}\n")
            out.append_text(self._bar(runs))
        if self.outcome is not None:
            out.append(f"\n\n{self.outcome.summary}\n", style="bold")
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
