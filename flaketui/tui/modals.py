"""Dialogs pushed over the main screen. Each returns its answer through ``dismiss``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from flaketui.models import Category, Keep, VerifyMode

if TYPE_CHECKING:
    from flaketui.models import Diagnosis, Finding, FixPlan
    from flaketui.tui.workload import Workload


class MessageDialog(ModalScreen[None]):
    """An error (what happened, what to do) or a refusal. Any of enter/esc closes it."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="dialog-close")]

    def __init__(self, title: str, message: str, hint: str = "", *, error: bool = True) -> None:
        super().__init__(classes="error" if error else "info")
        self.title_text, self.message, self.hint = title, message, hint

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(Text(self.message), id="dialog-message")
                if self.hint:
                    yield Static(Text(f"What to do: {self.hint}"), id="dialog-hint")
            yield Static(Text("enter/esc close"), classes="dialog-keys")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


class CategoryPicker(ModalScreen[Category | None]):
    """The categories, ranked by the diagnosis (best supported first)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker-cancel")]

    def __init__(self, diagnosis: Diagnosis | None, current: Category | None) -> None:
        super().__init__()
        self.diagnosis, self.current = diagnosis, current

    def compose(self) -> ComposeResult:
        support = {s.category: s.confidence for s in (self.diagnosis.ranking if self.diagnosis else ())}
        ranked = sorted(Category, key=lambda c: (-support.get(c, -1.0), list(Category).index(c)))
        options = []
        for category in ranked:
            score = f"{support[category]:>4.0%}" if category in support else "    "
            key = category.key or " "
            mark = " (confirmed)" if category is self.current else ""
            options.append(Option(Text(f"{key}  {score}  {category:<9} {category.label}{mark}"), id=str(category)))
        with Vertical(id="dialog"):
            yield Label("Root cause category", id="dialog-title")
            yield OptionList(*options, id="category-options")
            yield Static(Text("enter choose · esc cancel"), classes="dialog-keys")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Category(event.option.id or ""))  # every option is built with its category as id

    def action_cancel(self) -> None:
        self.dismiss(None)


class VerifyOptions(ModalScreen[tuple[int, VerifyMode] | None]):
    """How many runs and which mode ``v`` uses from now on."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="options-cancel")]

    def __init__(self, runs: int, mode: VerifyMode) -> None:
        super().__init__()
        self.runs, self.mode = runs, mode

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Verification settings", id="dialog-title")
            yield Label("Runs per test (1-1000)")
            yield Input(str(self.runs), id="runs", type="integer")
            yield Label("Mode")
            yield Select([(m.value, m) for m in VerifyMode], value=self.mode, allow_blank=False, id="mode")
            yield Static(Text("enter apply · esc cancel"), classes="dialog-keys")

    @on(Input.Submitted)
    def _apply(self) -> None:
        text = self.query_one("#runs", Input).value.strip()
        if not text.isdigit() or not 1 <= int(text) <= 1000:
            self.notify("Runs must be a whole number from 1 to 1000.", severity="error")
            return
        self.dismiss((int(text), self.query_one("#mode", Select).value))  # type: ignore[arg-type]  # allow_blank=False: a VerifyMode

    def action_cancel(self) -> None:
        self.dismiss(None)


class KeepDialog(ModalScreen[Keep | None]):
    """Keep a marker on purpose: a reason, and an optional expiry date."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="keep-cancel")]

    def __init__(self, nodeid: str, current: Keep | None) -> None:
        super().__init__()
        self.nodeid, self.current = nodeid, current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Keep this marker on purpose", id="dialog-title")
            yield Static(Text(self.nodeid))
            yield Label("Reason (empty stops keeping it)")
            yield Input(self.current.reason if self.current else "", placeholder="calls a live service", id="reason")
            yield Label("Expires (YYYY-MM-DD, optional)")
            yield Input(self.current.expires or "" if self.current else "", placeholder="2026-12-31", id="expires")
            yield Static(Text("enter save · tab next field · esc cancel"), classes="dialog-keys")

    @on(Input.Submitted)
    def _save(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        expires = self.query_one("#expires", Input).value.strip() or None
        if expires is not None:
            try:
                dt.date.fromisoformat(expires)
            except ValueError:
                self.notify("The expiry must be a date like 2026-12-31.", severity="error")
                return
        self.dismiss(Keep(reason=reason, expires=expires) if reason else Keep(reason=""))

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommitDialog(ModalScreen[tuple[str, ...] | None]):
    """The exact diff, the message and the files. Returns the other files to include."""

    BINDINGS = [
        Binding("enter", "commit", "Commit", id="commit-confirm", priority=True),
        Binding("exclamation_mark", "commit_anyway", "Commit anyway", id="commit-anyway", show=False),
        Binding("escape", "cancel", "Cancel", id="commit-cancel"),
    ]
    COMPONENT_CLASSES = {"diff--added", "diff--removed", "diff--hunk", "diff--file"}
    #: Narrow terminals stack the diff over the message and files (tcss: ``CommitDialog.-narrow``).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    def __init__(self, plan: FixPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        covered = ", ".join(t.nodeid for t in plan.tests)
        required = [f for f in plan.files if f.required]
        optional = [f for f in plan.files if not f.required]
        with Vertical(id="commit-dialog"):
            yield Label(f"Commit the fix of {plan.target}", id="dialog-title")
            if len(plan.tests) > 1:
                yield Static(Text(f"The marker covers {len(plan.tests)} tests: {covered}"), id="commit-covered")
            if plan.cautions:
                cautions = "\n".join(f"caution: {c}" for c in plan.cautions)
                yield Static(Text(cautions), id="commit-cautions")
            with Horizontal(id="commit-panes"):
                with VerticalScroll(id="commit-diff"):
                    yield Static(colored_diff(self, self.plan.diff), id="commit-diff-text")
                with Vertical(id="commit-side"):
                    yield Label("Message")
                    with VerticalScroll(id="commit-message"):
                        yield Static(Text(plan.message))
                    yield Label("Files (space toggles the other changed files)")
                    yield Static(Text("\n".join(f"[x] {f.status} {f.path}" for f in required)), id="commit-required")
                    selections = [Selection(f"{f.status} {f.path}", f.path, f.path in plan.include) for f in optional]
                    yield SelectionList[str](*selections, id="commit-files")
            keys = "! commit despite the caution · esc cancel" if plan.cautions else "enter commit · esc cancel"
            yield Static(Text(keys), classes="dialog-keys")

    def on_mount(self) -> None:
        if not any(not f.required for f in self.plan.files):
            self.query_one("#commit-files").display = False

    def action_commit(self) -> None:
        if self.plan.cautions:  # what the runs do not prove needs its own key, not the usual one
            self.notify("Press ! to commit despite the caution, or esc.", title="Not committed", severity="warning")
            return
        self.action_commit_anyway()

    def action_commit_anyway(self) -> None:
        chosen = self.query_one("#commit-files", SelectionList).selected
        self.dismiss(tuple(chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)


class FindingsScreen(ModalScreen[None]):
    """What the repository does beyond single markers (config reruns, hooks, CI flags)."""

    BINDINGS = [Binding("escape,enter,f", "close", "Close", id="findings-close")]

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__()
        self.findings = findings

    def compose(self) -> ComposeResult:
        out = Text()
        out.append("Markers added by hooks at run time (pytest_collection_modifyitems, plugins) cannot be read "
                   "from code; these repository findings show where flakiness is hidden beyond single tests.\n\n")
        for finding in self.findings:
            out.append(f"{finding.kind}", style="bold")
            out.append(f"  {finding.path}:{finding.line}\n  {finding.message}\n")
            if finding.source:
                out.append(f"  {finding.source.strip()}\n")
            out.append("\n")
        if not self.findings:
            out.append("No repository findings.")
        with Vertical(id="dialog"):
            yield Label("Repository findings", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(out)
            yield Static(Text("esc close"), classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmWorkload(ModalScreen[bool]):
    """Long work that covers more than the selected test: what it starts, and go on or not."""

    BINDINGS = [
        Binding("enter,y", "answer(True)", "Start", id="workload-start"),
        Binding("escape,n", "answer(False)", "Do not start", id="workload-cancel"),
    ]

    def __init__(self, why: str, workload: Workload, nodeids: Sequence[str]) -> None:
        super().__init__()
        self.why, self.workload, self.nodeids = why, workload, tuple(nodeids)

    def compose(self) -> ComposeResult:
        listed = "\n".join(f"  {n}" for n in self.nodeids[:8])
        more = f"\n  … and {len(self.nodeids) - 8} more" if len(self.nodeids) > 8 else ""
        with Vertical(id="dialog"):
            yield Label(f"{self.why} {self.workload.describe()}", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(Text(f"This starts {self.workload.total_runs} pytest runs:\n{listed}{more}"),
                             id="dialog-message")
            yield Static(Text("enter/y start · esc/n do not start (o changes runs and mode)"), classes="dialog-keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def colored_diff(node: Widget, diff: str) -> Text:
    """A unified diff with the ``diff--*`` component classes of ``node`` (the commit dialog and
    the Fix tab style their diffs the same way)."""
    out = Text()
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "diff--file"
        elif line.startswith("+"):
            style = "diff--added"
        elif line.startswith("-"):
            style = "diff--removed"
        elif line.startswith("@@"):
            style = "diff--hunk"
        else:
            style = ""
        out.append(line + "\n", style=node.get_component_rich_style(style) if style else "")
    return out
