"""The main screen: the table of flaky tests, the selected test's detail, every triage key.

State lives here and changes only in handlers; workers call the service and post messages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from flaketui.errors import FlakeTUIError
from flaketui.models import (
    Category,
    DecidedBy,
    FlakyTest,
    Keep,
    RepoInfo,
    ScanResult,
    Triage,
    VerifyMode,
)
from flaketui.service import Service
from flaketui.tui import messages as msg
from flaketui.tui.availability import Availability
from flaketui.tui.commit_flow import CommitFlow
from flaketui.tui.fixer import Fixer
from flaketui.tui.modals import CategoryPicker, FindingsScreen, KeepDialog, MessageDialog
from flaketui.tui.proposal_view import ProposalView
from flaketui.tui.rows import Progress, Row, SortOrder, counts, parse_filter, same_tree, sort_key
from flaketui.tui.verify_flow import VerifyFlow
from flaketui.tui.verify_queue import VerifyQueue
from flaketui.tui.widgets import EvidenceView, HistoryView, RepoHeader, RunsView, SourceView, TestTable

Key = tuple[str, str]

#: How long (s) after the user's last move or keystroke background diagnosis stays paused,
#: and how long the cursor must rest on an undiagnosed row before it is diagnosed first.
_QUIET_AFTER_INPUT = 0.4
_REST_BEFORE_DIAGNOSIS = 0.15
#: Tables up to this many rows refill at every keystroke; bigger ones after a pause of _FILTER_PAUSE s.
_REFILL_AT_ONCE_UP_TO = 300
_FILTER_PAUSE = 0.12

_CATEGORY_BINDINGS = [
    Binding(c.key, f"set_category('{c.value}')", f"Category {c.value}", show=False, id=f"category-{c.value}",
            tooltip=f"Confirm the root cause: {c.label}")
    for c in Category
    if c.key is not None
]


class MainScreen(VerifyFlow, CommitFlow):
    BINDINGS = [
        Binding("a", "accept", "Accept", id="accept", tooltip="Confirm the suggested category"),
        *_CATEGORY_BINDINGS,
        Binding("t", "pick_category", "Category", id="pick-category", tooltip="Pick a category, ranked by the diagnosis"),
        Binding("v", "verify", "Verify", id="verify", tooltip="Run the test N times with the rerun plugins off"),
        Binding("V", "verify_marked", "Verify marked", show=False, id="verify-marked",
                tooltip="Queue a verification of every marked test"),
        Binding("o", "verify_options", "Runs/mode", show=False, id="verify-options",
                tooltip="Change the number of runs and the verification mode"),
        Binding("x", "cancel", "Cancel", id="cancel", tooltip="Cancel the running verification (or a queued row)"),
        Binding("c", "commit", "Commit", id="commit", tooltip="Verify if needed, then commit the marker removal"),
        Binding("z", "undo", "Undo", show=False, id="undo", tooltip="Put the last removed marker back (a new commit)"),
        Binding("K", "keep", "Keep", show=False, id="keep", tooltip="Keep the marker on purpose, with a reason"),
        # A priority binding runs while the app reads the key, before the keys typed after it
        # are handed to the table: they then reach the filter, not the triage bindings.
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter: text, cat:time, state:flaky", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
        Binding("s", "sort", "Sort", show=False, id="sort", tooltip="Cycle the order: file, category, state, confidence"),
        Binding("e", "edit", "Edit", show=False, id="edit", tooltip="Open $EDITOR at the test"),
        Binding("y", "copy_repro", "Copy repro", show=False, id="copy-repro",
                tooltip="Copy the command that reproduces the runs"),
        Binding("R", "rescan", "Rescan", show=False, id="rescan", tooltip="Scan the repository again"),
        Binding("f", "findings", "Findings", show=False, id="findings",
                tooltip="Repository findings: config reruns, hooks, CI flags"),
        Binding("p", "propose", "Fix", id="propose",
                tooltip="Show the fix flaketui can write for the test (again: the next proposal)"),
        Binding("w", "write_fix", "Write fix", show=False, id="write-fix",
                tooltip="Write the shown fix, prove it before and after, then commit it with the marker removal"),
        Binding("h", "tab(-1)", "Prev tab", show=False, id="tab-previous"),
        Binding("l", "tab(1)", "Next tab", show=False, id="tab-next"),
    ]

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self.available = Availability(service)
        self.info: RepoInfo | None = None
        self.rows: dict[Key, Row] = {}
        self.shown: list[Key] = []
        self.scan_result: ScanResult | None = None
        self.fixed_count = 0
        self.filter_text = ""
        self.sort_order = SortOrder.FILE
        self.runs = 10
        self.mode = VerifyMode.FORKED
        self.queue = VerifyQueue()
        self.history: dict[Key, list] = {}
        self._sources: dict[str, str] = {}
        self._scanning = False
        self._availability: tuple[tuple[str, bool], ...] = ()
        self._table: TestTable | None = None
        #: When the user last moved or typed (monotonic): background diagnosis waits for quiet.
        self._last_input = 0.0
        self._rest_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        self.fixer = Fixer(service, lambda: self.query_one(ProposalView), self._set_activity)

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield RepoHeader(id="header")
        yield ProgressBar(id="scan-progress", show_eta=False)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield TestTable(id="tests")
                yield Static(id="empty")
                yield Static(id="notice")
            with TabbedContent(id="detail"):
                with TabPane("Source", id="tab-source"):
                    yield SourceView(id="source")
                with TabPane("Evidence", id="tab-evidence"):
                    with VerticalScroll():
                        yield EvidenceView(id="evidence")
                with TabPane("Runs", id="tab-runs"):
                    with VerticalScroll():
                        yield RunsView(id="runs")
                with TabPane("History", id="tab-history"):
                    with VerticalScroll():
                        yield HistoryView(id="history")
                with TabPane("Fix", id="tab-fix"):
                    with VerticalScroll():
                        yield ProposalView(id="proposal")
        yield Static(id="activity")
        yield Input(placeholder="filter: text, cat:time, state:flaky (enter keeps, esc clears)", id="filter")
        yield Footer()
        yield self.fixer

    def on_mount(self) -> None:
        self.query_one("#tests", TestTable).focus()
        self._set_activity()
        self.start_scan(use_cache=True)

    # -- availability ------------------------------------------------------------------
    def unavailable_reason(self, action: str) -> str | None:
        """Why ``action`` cannot run now, in words; None when it can."""
        row = self.selected
        needs_row = {"accept", "set_category", "pick_category", "verify", "commit", "keep", "edit", "copy_repro",
                     "toggle_mark", "propose", "write_fix"}
        if action in needs_row and row is None:
            return "no test is selected"
        if action in ("accept", "set_category", "pick_category", "keep") and self.available.reason("decide"):
            return self.available.reason("decide")
        if action == "accept":
            if row.diagnosis is None:
                return self.available.reason("diagnose") or "the diagnosis is not ready yet"
            if row.suggested is Category.UNKNOWN:
                return "the suggestion is unknown: pick a category with t or 1-7"
        if action in ("verify", "verify_marked"):
            if action == "verify" and row.fixed:
                return "its marker was removed; press R to rescan"
            if action == "verify_marked" and not any(r.marked for r in self.rows.values()):
                return "no test is marked (space marks)"
            return self.available.reason("verify")
        if action == "cancel" and self.queue.current is None and not (row and self.queue.is_waiting(row.key)):
            return "no verification is running"
        if action == "write_fix" and row.fixed:
            return "its marker was removed; press R to rescan"
        if action in ("commit", "undo", "write_fix"):
            if self.info is not None and self.info.git_problem:
                return self.info.git_problem
            if action == "commit" and row.fixed:
                return "it is already committed"
            return self.available.reason("undo" if action == "undo" else "commit")
        if action == "edit":
            if not (os.environ.get("VISUAL") or os.environ.get("EDITOR")):
                return "neither $VISUAL nor $EDITOR is set"
            return self.available.reason("editor")
        if action == "copy_repro":
            return self.available.reason("repro")
        if action == "rescan" and self._scanning:
            return "a scan is running"
        if action == "findings" and self.scan_result is None:
            return "the scan has not finished"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.unavailable_reason(action) else True

    def _availability_changed(self) -> None:
        """Refresh the footer only when some action's availability changed: the footer
        rebuilds its widgets on every refresh, which is most of a cursor move's cost."""
        actions = {b.action.split("(", 1)[0] for b in self.BINDINGS if isinstance(b, Binding)}
        signature = tuple(sorted((a, self.unavailable_reason(a) is None) for a in actions))
        if signature != self._availability:
            self._availability = signature
            self.refresh_bindings()

    # -- rows and the table ------------------------------------------------------------
    @property
    def table(self) -> TestTable:
        if self._table is None:
            self._table = self.query_one("#tests", TestTable)
        return self._table

    @property
    def selected(self) -> Row | None:
        table = self.table
        if not self.shown or table.row_count == 0:
            return None
        index = min(max(table.cursor_row, 0), len(self.shown) - 1)
        return self.rows.get(self.shown[index])

    def _rebuild_table(self, keep: Key | None = None, *, refill: bool = True) -> None:
        """Show the rows the filter matches in the sort order, keeping the selection.

        ``refill=False`` (a keystroke in the filter) skips refilling when the same rows
        would be shown: typing the first letters of a word usually changes nothing.
        """
        keep = keep or (self.selected.key if self.selected else None)
        matches = parse_filter(self.filter_text)
        ordered = sorted((r for r in self.rows.values() if matches(r)), key=sort_key(self.sort_order))
        shown = [r.key for r in ordered]
        if not refill and shown == self.shown:
            return
        self.shown = shown
        table = self.table
        table.fill(ordered)
        if keep in self.shown:
            table.move_cursor(row=self.shown.index(keep), animate=False, scroll=True)
        self._show_empty_state()
        self._update_header()
        self._show_selected()

    def _touch(self, key: Key) -> None:
        row = self.rows.get(key)
        if row is None:
            return
        self.table.show_row(row)
        self._update_header()
        if self.selected is row:
            self._show_selected()
        self._availability_changed()

    def _update_header(self) -> None:
        by_state, by_category = counts(self.rows.values())
        self.query_one(RepoHeader).show(self.info, by_state, by_category, len(self.rows), self.fixed_count)

    def _show_empty_state(self) -> None:
        empty = self.query_one("#empty", Static)
        has_rows = bool(self.shown)
        self.table.set_class(not has_rows, "hidden")
        empty.set_class(has_rows, "hidden")
        if has_rows:
            return
        if self.scan_result is None:
            empty.update(Text("Scanning…"))
        elif not self.rows:
            result = self.scan_result
            files = f"{result.files_scanned} test file{'' if result.files_scanned == 1 else 's'}"
            lines = [f"No flaky markers found in {files}."]
            if result.findings:
                lines.append(f"{len(result.findings)} repository findings (press f): flakiness may be hidden "
                             "in config or CI (reruns in addopts, hooks).")
            lines.append("Markers added by hooks at run time cannot be read from code.")
            if result.skipped:
                lines.append(f"{len(result.skipped)} files could not be read: "
                             + ", ".join(f"{s.path} ({s.reason})" for s in result.skipped[:3]))
            empty.update(Text("\n".join(lines)))
        else:
            empty.update(Text(f"No test matches the filter {self.filter_text!r} (esc clears it)."))

    def _show_notice(self) -> None:
        parts: list[str] = []
        if self.info is not None and not self.info.is_git:
            parts.append("Not a git repository: scan, diagnosis and verification work; commits are disabled.")
        elif self.info is not None and self.info.git_problem:
            parts.append(f"Commits unavailable: {self.info.git_problem}")
        result = self.scan_result
        if result is not None and result.findings:
            parts.append(f"{len(result.findings)} repository finding{'s' if len(result.findings) != 1 else ''} (f): markers added by hooks at run time "
                         "cannot be read from code.")
        if result is not None and result.skipped:
            parts.append(f"{len(result.skipped)} files skipped (unparsable).")
        notice = self.query_one("#notice", Static)
        notice.update(Text(" ".join(parts)))
        notice.set_class(not parts, "hidden")

    def _set_activity(self, text: str = "") -> None:
        waiting = sum(len(j.tests) for j in self.queue.waiting())
        queue = f" · {waiting} queued" if waiting else ""
        filt = f" · filter: {self.filter_text}" if self.filter_text else ""
        settings = f"verify: {self.runs} runs, {self.mode}{queue} · sort: {self.sort_order}{filt}"
        self.query_one("#activity", Static).update(Text(f"{settings}  {text}".rstrip()))

    # -- the detail pane ----------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#tests")
    def _row_highlighted(self) -> None:
        self._last_input = time.monotonic()
        self._show_selected()
        self._availability_changed()
        # Diagnose the row the cursor rests on, not every row it passes: a thread per move
        # would fight the UI for the GIL while j is held down.
        if self._rest_timer is not None:
            self._rest_timer.stop()
        self._rest_timer = self.set_timer(_REST_BEFORE_DIAGNOSIS, self._diagnose_resting_row)

    def _diagnose_resting_row(self) -> None:
        row = self.selected
        if row is not None and row.diagnosis is None and self.available.reason("diagnose") is None:
            self._diagnose_one(row.test)

    @on(TabbedContent.TabActivated, "#detail")
    def _tab_activated(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        row = self.selected
        source, evidence = self.query_one(SourceView), self.query_one(EvidenceView)
        if row is None:
            source.show_message("No test selected.")
            evidence.update("")
            self.query_one(RunsView).update("")
            self.query_one(HistoryView).update("")
            return
        active = self.query_one("#detail", TabbedContent).active
        diag_reason = self.available.reason("diagnose")
        if active == "tab-source":
            text = self._source_of(row.test.path)
            if text is None:
                source.show_message(f"{row.test.path} cannot be read.")
            else:
                source.show(row.test, text, row.diagnosis)
        elif active == "tab-evidence":
            evidence.show(row.test, row.diagnosis, f"Diagnosis unavailable: {diag_reason}" if diag_reason else None)
        elif active == "tab-runs":
            reason = self.available.reason("verify")
            self.query_one(RunsView).show(row, f"Verification unavailable: {reason}" if reason else None)
        elif active == "tab-history":
            reason = self.available.reason("history")
            self.query_one(HistoryView).show(self.history.get(row.key), reason)
            if reason is None and row.key not in self.history:
                self._load_history(row.test)

    def _source_of(self, path: str) -> str | None:
        if path not in self._sources:
            try:
                self._sources[path] = self.service.read_text(path)
            except OSError:
                return None
        return self._sources[path]

    # -- scanning -----------------------------------------------------------------------
    def start_scan(self, *, use_cache: bool) -> None:
        self._scanning = True
        self.query_one("#scan-progress").remove_class("hidden")
        self._scan(use_cache)

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan", name="scan")
    def _scan(self, use_cache: bool) -> None:
        service = self.service
        self.post_message(msg.RepoLoaded(service.repo_info()))
        result = service.scan(use_cache=use_cache, on_progress=lambda d, t: self.post_message(msg.ScanProgress(d, t)))
        decisions = _optional(service.decisions, {})
        verifications = _optional(service.last_verifications, {})
        fixed = _optional(lambda: _fixed_commits(service), 0)
        self.post_message(msg.ScanDone(result, decisions, verifications, fixed))

    @on(msg.RepoLoaded)
    def _repo_loaded(self, message: msg.RepoLoaded) -> None:
        self.info = message.info
        for row in self.rows.values():
            stale = row.verification is not None and not same_tree(row.verification, self.info)
            if stale != row.stale:
                row.stale = stale
                self.table.show_row(row)
        self._update_header()
        self._show_notice()
        self._availability_changed()

    @on(msg.ScanProgress)
    def _scan_progress(self, message: msg.ScanProgress) -> None:
        self.query_one("#scan-progress", ProgressBar).update(total=message.total or None, progress=message.done)

    @on(msg.ScanDone)
    def _scan_done(self, message: msg.ScanDone) -> None:
        self._scanning = False
        self.query_one("#scan-progress").add_class("hidden")
        self.scan_result = message.result
        self.fixed_count = message.fixed_count
        self._sources.clear()
        self.history.clear()
        old = self.rows
        self.rows = {}
        for test in message.result.tests:
            previous = old.get(test.key)
            verification = message.verifications.get(test.key)
            self.rows[test.key] = Row(
                test=test,
                triage=message.decisions.get(test.key),
                verification=verification,
                stale=verification is not None and self.info is not None and not same_tree(verification, self.info),
                diagnosis=previous.diagnosis if previous and previous.test == test else None,
                marked=previous.marked if previous else False,
                queued=self.queue.is_waiting(test.key),
            )
        current = self.queue.current
        if current is not None:
            for key in current.keys & self.rows.keys():
                self.rows[key].progress = old[key].progress if key in old else Progress(self.runs)
        self._rebuild_table()
        self._show_notice()
        self._availability_changed()
        self._diagnose_all()

    # -- diagnosis ----------------------------------------------------------------------
    def _diagnose_all(self) -> None:
        if self.available.reason("diagnose") is not None:
            return
        selected = self.selected
        todo = [self.rows[k].test for k in self.shown if self.rows[k].diagnosis is None]
        todo += [r.test for k, r in self.rows.items() if r.diagnosis is None and k not in set(self.shown)]
        if selected is not None and selected.test in todo:
            todo.remove(selected.test)
            todo.insert(0, selected.test)
        if todo:
            self._diagnose_background(todo)

    @work(thread=True, exclusive=True, exit_on_error=False, group="diagnose", name="diagnose")
    def _diagnose_background(self, tests: list[FlakyTest]) -> None:
        worker = get_current_worker()

        def user_active() -> bool:
            return time.monotonic() - self._last_input < _QUIET_AFTER_INPUT

        # A file's tests together: diagnose_many parses each file once. Parsing holds the GIL,
        # so the worker stops as soon as the user moves or types and resumes when it is quiet.
        for batch in _by_file(tests):
            while batch:
                while user_active() and not worker.is_cancelled:
                    time.sleep(_QUIET_AFTER_INPUT / 4)
                if worker.is_cancelled:
                    return
                found = self.service.diagnose_many(batch, should_stop=lambda: worker.is_cancelled or user_active())
                if found:
                    self.post_message(msg.Diagnosed([(t.key, d) for t, d in zip(batch, found, strict=False)]))
                batch = batch[len(found) :]

    @work(thread=True, exclusive=True, exit_on_error=False, group="diagnose-one", name="diagnose")
    def _diagnose_one(self, test: FlakyTest) -> None:
        self.post_message(msg.Diagnosed([(test.key, self.service.diagnose(test))]))

    @on(msg.Diagnosed)
    def _diagnosed(self, message: msg.Diagnosed) -> None:
        selected = self.selected
        changed = False
        for key, diagnosis in message.diagnoses:
            row = self.rows.get(key)
            if row is not None and row.diagnosis is None:
                row.diagnosis = diagnosis
                self.table.show_row(row)
                changed = True
        if changed:
            self._update_header()
            if selected is not None and any(key == selected.key for key, _ in message.diagnoses):
                self._show_selected()
            self._availability_changed()

    # -- history ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="history", name="history")
    def _load_history(self, test: FlakyTest) -> None:
        self.post_message(msg.HistoryLoaded(test.key, self.service.history(test.nodeid)))

    @on(msg.HistoryLoaded)
    def _history_loaded(self, message: msg.HistoryLoaded) -> None:
        self.history[message.key] = message.history
        self._show_selected()

    # -- decisions ----------------------------------------------------------------------
    def action_accept(self) -> None:
        row = self.selected
        if row is not None and row.suggested is not None:
            self._decide(row.test, lambda s, t: s.set_category(t, row.suggested, DecidedBy.SUGGESTION))

    def action_set_category(self, value: str) -> None:
        row = self.selected
        if row is not None:
            category = Category(value)
            self._decide(row.test, lambda s, t: s.set_category(t, category, DecidedBy.USER))

    def action_pick_category(self) -> None:
        row = self.selected
        if row is None:
            return

        def chosen(category: Category | None) -> None:
            if category is not None:
                self._decide(row.test, lambda s, t: s.set_category(t, category, DecidedBy.USER))

        self.app.push_screen(CategoryPicker(row.diagnosis, row.confirmed), chosen)

    def action_keep(self) -> None:
        row = self.selected
        if row is None:
            return

        def answered(keep: Keep | None) -> None:
            if keep is not None:
                self._decide(row.test, lambda s, t: s.keep_marker(t, keep if keep.reason else None))

        self.app.push_screen(KeepDialog(row.test.nodeid, row.triage.keep if row.triage else None), answered)

    @work(thread=True, exit_on_error=False, group="decide", name="decide")
    def _decide(self, test: FlakyTest, change: Callable[[Service, FlakyTest], Triage]) -> None:
        self.post_message(msg.Decided(test.key, change(self.service, test)))

    @on(msg.Decided)
    def _decided(self, message: msg.Decided) -> None:
        row = self.rows.get(message.key)
        if row is not None:
            row.triage = message.triage
            self._touch(row.key)

    # -- marking, filtering, sorting ------------------------------------------------------
    def action_toggle_mark(self) -> None:
        row = self.selected
        if row is not None:
            row.marked = not row.marked
            self._touch(row.key)
            self.table.action_cursor_down()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if self.focused is field:
            # A `/` typed in the filter (tests/test_x.py) is text: hand it to the input behind
            # the keys already queued there, so the characters keep their order.
            field.post_message(events.Key("slash", "/"))
            return
        field.add_class("open")
        # Synchronously: Widget.focus() is deferred, and letters typed right after `/`
        # would otherwise reach the screen's bindings (`c` would start a commit).
        self.set_focus(field)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._last_input = time.monotonic()
        self.filter_text = event.value.strip()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        # Refilling a big table costs more than a keystroke should: wait for a pause in typing.
        if len(self.rows) > _REFILL_AT_ONCE_UP_TO:
            self._filter_timer = self.set_timer(_FILTER_PAUSE, self._apply_filter)
        else:
            self._apply_filter()

    def _apply_filter(self) -> None:
        self._filter_timer = None
        self._rebuild_table(refill=False)
        self._set_activity()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#filter").remove_class("open")
        self.set_focus(self.table)

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.remove_class("open")
        self.set_focus(self.table)
        if field.value:
            field.value = ""  # posts Input.Changed, which rebuilds the table

    def action_sort(self) -> None:
        self.sort_order = self.sort_order.next()
        self._rebuild_table()
        self._set_activity()

    def action_tab(self, step: int) -> None:
        tabs = self.query_one("#detail", TabbedContent)
        ids = [pane.id for pane in tabs.query(TabPane)]
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)]

    def action_propose(self) -> None:
        row = self.selected
        if row is not None:
            self.query_one("#detail", TabbedContent).active = "tab-fix"
            self.fixer.show(row.test)

    def action_write_fix(self) -> None:
        row = self.selected
        if row is not None:
            self.query_one("#detail", TabbedContent).active = "tab-fix"
            self.fixer.write(row.test)

    def action_findings(self) -> None:
        if self.scan_result is not None:
            self.app.push_screen(FindingsScreen(self.scan_result.findings))

    def action_rescan(self) -> None:
        self.start_scan(use_cache=False)

    # -- editor and clipboard ----------------------------------------------------------------
    def action_edit(self) -> None:
        row = self.selected
        if row is None:
            return
        error: FlakeTUIError | None = None
        try:
            with self.app.suspend():
                try:
                    self.service.open_in_editor(row.test.path, row.test.line)
                except FlakeTUIError as exc:
                    error = exc
        except SuspendNotSupported:
            error = FlakeTUIError(
                "This terminal cannot hand the screen over to an editor.",
                f"Open {row.test.path}:{row.test.line} yourself, then press R to rescan.",
            )
        if error is not None:
            self.app.push_screen(MessageDialog("Cannot open the editor", error.message, error.hint))
        self._sources.pop(row.test.path, None)
        self._show_selected()

    def action_copy_repro(self) -> None:
        row = self.selected
        if row is None:
            return
        try:
            command = self.service.repro_command(row.test)
        except NotImplementedError:
            self.available.missing("repro")
            self._availability_changed()
            return
        self.app.copy_to_clipboard(command)
        self._set_activity(f"copied: {command}")

    # -- failures ---------------------------------------------------------------------------
    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if worker.group == "verify" and state in (WorkerState.ERROR, WorkerState.CANCELLED):
            job = self.queue.current
            if job is not None:
                self._end_job(job)
        if worker.group == "scan" and state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._scanning = False
            self.query_one("#scan-progress").add_class("hidden")
            if self.scan_result is None:
                self.scan_result = ScanResult(root=str(self.service.root))
                self._rebuild_table()
        if worker.group == "commit" and state is WorkerState.ERROR:
            self._set_activity()
        if state is WorkerState.ERROR and worker.error is not None:
            self._report(worker.name, worker.error)
            self._availability_changed()

    def _report(self, what: str, error: BaseException) -> None:
        feature = {"scan": "scan", "diagnose": "diagnose", "verify": "verify", "plan": "commit", "commit": "commit",
                   "undo": "undo", "decide": "decide", "history": "history"}.get(what, what)
        if isinstance(error, NotImplementedError):
            self.available.missing(feature)
            self.notify(f"{feature} is not available in this build.", title="Unavailable", severity="warning")
            self._show_selected()
        elif isinstance(error, FlakeTUIError):
            self.app.push_screen(MessageDialog(f"{what} failed", error.message, error.hint))
        else:
            self.app.push_screen(MessageDialog(
                f"{what} failed", f"{type(error).__name__}: {error}",
                "This is a bug in flaketui; please report it with the steps that led here.",
            ))


def _by_file(tests: Sequence[FlakyTest]) -> list[list[FlakyTest]]:
    """Consecutive tests of the same file, together (the order is kept)."""
    batches: list[list[FlakyTest]] = []
    for test in tests:
        if batches and batches[-1][0].path == test.path:
            batches[-1].append(test)
        else:
            batches.append([test])
    return batches


def _optional(call, default):
    """A service call whose engine may not have landed: its absence is not an error here."""
    try:
        return call()
    except NotImplementedError:
        return default


def _fixed_commits(service: Service) -> int:
    commits = service.commits()
    undone = {c.undoes for c in commits if c.kind == "undo"}
    return sum(1 for c in commits if c.kind == "fix" and c.sha not in undone)
