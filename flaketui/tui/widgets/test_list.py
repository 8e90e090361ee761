"""The left pane: the filter, the table, and what shows when it is empty.

It owns the keys that act on the selected test (decide, verify, commit, fix, edit, copy) and on
the list (filter, sort). Each key posts a message the screen wires to the service; which keys
are available follows the selected row through reactives bound to the footer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partialmethod
from typing import TYPE_CHECKING, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Static

from flaketui.models import Category, DecidedBy
from flaketui.tui.modals import CategoryPicker, KeepDialog
from flaketui.tui.widgets.test_table import TestTable

if TYPE_CHECKING:
    from flaketui.models import FlakyTest, Keep
    from flaketui.tui.rows import Row, RowState
    from flaketui.tui.triage import Change, TriageModel

#: Tables up to this many rows refill at every keystroke; bigger ones after a pause of _FILTER_PAUSE s.
_REFILL_AT_ONCE_UP_TO = 300
_FILTER_PAUSE = 0.12
_Answer = TypeVar("_Answer")

_CATEGORY_BINDINGS = [
    Binding(c.key, f"set_category('{c.value}')", f"Category {c.value}", show=False, id=f"category-{c.value}",
            tooltip=f"Confirm the root cause: {c.label}")
    for c in Category
    if c.key is not None
]


@dataclass
class TestAsked(Message):
    """A key on the selected test that the screen carries out (verify, commit, fix, edit, copy)."""

    __test__ = False  # a message, not a pytest class

    test: FlakyTest


class TestList(Vertical):
    """The flaky tests and the keys on the selected one."""

    __test__ = False  # a widget, not a pytest class

    BINDINGS = [
        Binding("a", "accept", "Accept", id="accept", tooltip="Confirm the suggested category"),
        *_CATEGORY_BINDINGS,
        Binding("t", "pick_category", "Category", id="pick-category", tooltip="Pick a category, ranked by the diagnosis"),
        Binding("v", "verify", "Verify", id="verify",
                tooltip="Run the test N times with the rerun plugins off (says how many runs and how long)"),
        Binding("c", "commit", "Commit", id="commit",
                tooltip="Verify what the marker covers if needed (asks first if that is long), then commit"),
        Binding("p", "propose", "Fix", id="propose",
                tooltip="Show the fix flaketui can write for the test (again: the next proposal)"),
        Binding("w", "write_fix", "Write fix", show=False, id="write-fix",
                tooltip="Write the shown fix, prove it before and after, then commit it with the marker removal"),
        Binding("K", "keep", "Keep", show=False, id="keep", tooltip="Keep the marker on purpose, with a reason"),
        Binding("e", "edit", "Edit", show=False, id="edit", tooltip="Open $EDITOR at the test"),
        Binding("y", "copy_repro", "Copy repro", show=False, id="copy-repro",
                tooltip="Copy the command that reproduces the runs"),
        # A priority binding runs while the app reads the key, before the keys typed after it
        # are handed to the table: they then reach the filter, not the triage bindings.
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter: text, cat:time, state:flaky, src:hunt", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
        Binding("s", "sort", "Sort", show=False, id="sort", tooltip="Cycle the order: file, category, state, confidence"),
    ]
    HELP = "The selected test"

    #: Where the selected test stands: its keys' availability follows these. (Not the key
    #: itself: the footer rebuilds on each refresh, and most moves change none of these.)
    has_selection: reactive[bool] = reactive(False, bindings=True)
    selected_state: reactive[RowState | None] = reactive(None, bindings=True)
    suggestion: reactive[Category | None] = reactive(None, bindings=True)
    commit_problem: reactive[str | None] = reactive(None, bindings=True)

    @dataclass
    class Decided(Message):
        """A category for ``test`` (``a``, ``1``-``7``, ``t``)."""

        test: FlakyTest
        category: Category
        by: DecidedBy

    @dataclass
    class KeepChanged(Message):
        """``K``: keep the marker on purpose (``keep`` None: stop keeping it)."""

        test: FlakyTest
        keep: Keep | None

    class VerifyAsked(TestAsked):
        """``v``: verify the test."""

    class CommitAsked(TestAsked):
        """``c``: commit the marker's removal (verifying first if needed)."""

    class ProposeAsked(TestAsked):
        """``p``: show the fix flaketui can write (again: the next one)."""

    class WriteFixAsked(TestAsked):
        """``w``: write the fix shown, prove it, offer the commit."""

    class EditAsked(TestAsked):
        """``e``: open the test in ``$EDITOR``."""

    class CopyAsked(TestAsked):
        """``y``: copy the command that reproduces the runs."""

    class Typed(Message):
        """A key changed the filter's text: background work steps aside now, not only once
        the filter applies after a pause in typing."""

    @dataclass
    class FilterChanged(Message):
        text: str

    class SortAsked(Message):
        pass

    def __init__(self, model: TriageModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        # Composed as they will be shown: setting their classes on mount restyled the table (and
        # its 15 component classes) a second time before the first frame.
        empty, notice = self._empty_text(), self._notice_text()
        yield TestTable(self.model, id="tests", classes="" if empty is None else "hidden")
        yield Static(Text(empty or ""), id="empty", classes="hidden" if empty is None else "")
        yield Static(Text(notice), id="notice", classes="" if notice else "hidden")
        yield Input(placeholder="filter: text, cat:time, state:flaky, src:hunt (enter keeps, esc clears)", id="filter")

    @property
    def table(self) -> TestTable:
        return self.query_one(TestTable)

    def on_mount(self) -> None:
        self.model.observe(self._model_changed)

    def _model_changed(self, change: Change) -> None:
        row = self.model.selected
        self.has_selection = row is not None
        self.selected_state = row.state if row else None
        self.suggestion = row.suggested if row else None
        self.commit_problem = self.model.info.git_problem if self.model.info else None
        if change.shown or change.repo:
            self._show_empty_state()
        if change.repo:
            self._show_notice()

    # -- availability ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.model.unavailable_reason(action) else True

    def unavailable_reason(self, action: str) -> str | None:
        return self.model.unavailable_reason(action)

    # -- decisions --------------------------------------------------------------------------------
    def _selected(self) -> Row | None:
        return self.model.selected

    def action_accept(self) -> None:
        row = self._selected()
        if row is not None and row.suggested is not None:
            self.post_message(self.Decided(row.test, row.suggested, DecidedBy.SUGGESTION))

    def action_set_category(self, value: str) -> None:
        row = self._selected()
        if row is not None:
            self.post_message(self.Decided(row.test, Category(value), DecidedBy.USER))

    def action_pick_category(self) -> None:
        self._ask_in_modal(lambda row: CategoryPicker(row.diagnosis, row.confirmed),
                           lambda row, category: self.Decided(row.test, category, DecidedBy.USER))  # fmt: skip

    def action_keep(self) -> None:
        self._ask_in_modal(lambda row: KeepDialog(row.test.nodeid, row.triage.keep if row.triage else None),
                           lambda row, keep: self.KeepChanged(row.test, keep if keep.reason else None))  # fmt: skip

    def _ask_in_modal(self, modal: Callable[[Row], ModalScreen[_Answer | None]],
                      answered: Callable[[Row, _Answer], Message]) -> None:  # fmt: skip
        """Ask about the selected row in ``modal``; post what ``answered`` makes of its answer
        (nothing when it was dismissed without one)."""
        row = self._selected()
        if row is None:
            return

        def post(answer: _Answer | None) -> None:
            if answer is not None:
                self.post_message(answered(row, answer))

        self.app.push_screen(modal(row), post)

    # -- work on the selected test: each key posts its message, the screen carries it out --------
    def _ask(self, asked: type[TestAsked]) -> None:
        if (row := self._selected()) is not None:
            self.post_message(asked(row.test))

    action_verify = partialmethod(_ask, VerifyAsked)
    action_commit = partialmethod(_ask, CommitAsked)
    action_propose = partialmethod(_ask, ProposeAsked)
    action_write_fix = partialmethod(_ask, WriteFixAsked)
    action_edit = partialmethod(_ask, EditAsked)
    action_copy_repro = partialmethod(_ask, CopyAsked)

    # -- filter and sort ----------------------------------------------------------------------------
    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if self.screen.focused is field:
            # A `/` typed in the filter (tests/test_x.py) is text: hand it to the input behind
            # the keys already queued there, so the characters keep their order.
            field.post_message(events.Key("slash", "/"))
            return
        field.add_class("open")
        # Synchronously: Widget.focus() is deferred, and letters typed right after `/`
        # would otherwise reach the bindings (`c` would start a commit).
        self.screen.set_focus(field)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Typed())
        if self._filter_timer is not None:
            self._filter_timer.stop()
        # Refilling a big table costs more than a keystroke should: wait for a pause in typing.
        if len(self.model.rows) > _REFILL_AT_ONCE_UP_TO:
            self._filter_timer = self.set_timer(_FILTER_PAUSE, lambda: self._post_filter(event.value))
        else:
            self._post_filter(event.value)

    def _post_filter(self, text: str) -> None:
        self._filter_timer = None
        self.post_message(self.FilterChanged(text))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#filter").remove_class("open")
        self.screen.set_focus(self.table)

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.remove_class("open")
        self.screen.set_focus(self.table)
        if field.value:
            field.value = ""  # posts Input.Changed, which refilters

    def action_sort(self) -> None:
        self.post_message(self.SortAsked())

    # -- empty state and notice -------------------------------------------------------------------
    def _show_empty_state(self) -> None:
        text = self._empty_text()
        empty = self.query_one("#empty", Static)
        self.table.set_class(text is not None, "hidden")
        empty.set_class(text is None, "hidden")
        if text is not None:
            empty.update(Text(text))

    def _empty_text(self) -> str | None:
        """What the list says in place of the table; None while it has rows to show."""
        if self.model.shown:
            return None
        result = self.model.scan_result
        if result is None:
            return "Scanning…"
        if self.model.rows:
            return f"No test matches the filter {self.model.filter_text!r} (esc clears it)."
        files = f"{result.files_scanned} test file{'' if result.files_scanned == 1 else 's'}"
        lines = [f"No flaky markers found in {files}."]
        if result.findings:
            lines.append(f"{len(result.findings)} repository findings (press f): flakiness may be hidden "
                         "in config or CI (reruns in addopts, hooks).")
        lines.append("Markers added by hooks at run time cannot be read from code.")
        if result.skipped:
            lines.append(f"{len(result.skipped)} files could not be read: "
                         + ", ".join(f"{s.path} ({s.reason})" for s in result.skipped[:3]))
        return "\n".join(lines)

    def _show_notice(self) -> None:
        text = self._notice_text()
        notice = self.query_one("#notice", Static)
        notice.update(Text(text))
        notice.set_class(not text, "hidden")

    def _notice_text(self) -> str:
        parts: list[str] = []
        info, result = self.model.info, self.model.scan_result
        if info is not None and not info.is_git:
            parts.append("Not a git repository: scan, diagnosis and verification work; commits are disabled.")
        elif info is not None and info.git_problem:
            parts.append(f"Commits unavailable: {info.git_problem}")
        if result is not None and result.findings:
            count = len(result.findings)
            parts.append(f"{count} repository finding{'s' if count != 1 else ''} (f): markers added by hooks "
                         "cannot be read from code.")
        if result is not None and result.skipped:
            parts.append(f"{len(result.skipped)} files skipped (unparsable).")
        return " ".join(parts)
