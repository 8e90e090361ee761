"""The main screen: the table of flaky tests beside (or, when narrow, above) the selected
test's detail.

It composes the components, wires their messages to the flows with ``@on``, and owns the
keys that concern the whole repository. State lives in the triage model; components observe
it; the flows (scanner, verifier, committer, fixer) own their workers, which only post messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, ProgressBar
from textual.worker import Worker, WorkerState

from flaketui.errors import FlakeTUIError
from flaketui.tui.flows.committer import Committer
from flaketui.tui.flows.failures import WorkFailed, forward_failure
from flaketui.tui.flows.fixer import Fixer
from flaketui.tui.flows.hunter import Hunter, finished_text
from flaketui.tui.flows.scanner import Scanner
from flaketui.tui.flows.verifier import Verifier
from flaketui.tui.modals import FindingsScreen, MessageDialog, VerifyOptions
from flaketui.tui.triage import TriageModel
from flaketui.tui.widgets.bars import ActivityBar, RepoHeader
from flaketui.tui.widgets.detail import DetailPane
from flaketui.tui.widgets.footer import KeyFooter
from flaketui.tui.widgets.proposal import ProposalView
from flaketui.tui.widgets.test_list import TestList
from flaketui.tui.widgets.test_table import TestTable

if TYPE_CHECKING:
    from flaketui.models import FlakyTest, Keep, TestKey, Triage, VerifyMode
    from flaketui.service import Service
    from flaketui.tui.rows import Row
    from flaketui.tui.triage import Change

#: Below this width the detail pane goes under the table (tcss: ``MainScreen.-narrow``).
NARROW_BELOW = 140


def _hidden(key: str, action: str, description: str, tooltip: str = "", *, id: str = "") -> Binding:
    """A key of the whole screen that help and the palette list but the footer does not; its id
    (what a keymap remaps) is the action's name with dashes, unless given."""
    return Binding(key, action, description, show=False, id=id or action.replace("_", "-"), tooltip=tooltip)


class MainScreen(Screen[None]):
    BINDINGS = [
        _hidden("V", "verify_marked", "Verify marked",
                "Queue a verification of every marked test (asks first if that is long)"),
        _hidden("W", "write_marked", "Fix marked",
                "Write, prove and offer to commit the best fix of every marked test, one after another"),
        _hidden("o", "verify_options", "Runs/mode", "Change the number of runs and the verification mode"),
        Binding("x", "cancel", "Cancel", id="cancel", tooltip="Cancel the running verification (or a queued row)"),
        _hidden("z", "undo", "Undo", "Put the last removed marker back (a new commit)"),
        _hidden("d", "toggle_detail", "Detail", "Show or hide the detail pane (the table takes the whole screen)"),
        _hidden("D", "big_detail", "Big detail",
                "The detail pane takes most of the screen, for a diff or a proof (D again: back)"),
        _hidden("ctrl+d", "scroll_detail(1)", "Detail down",
                "Scroll the detail pane half a page down (the table keeps the keys)", id="detail-down"),
        _hidden("ctrl+u", "scroll_detail(-1)", "Detail up", "Scroll the detail pane half a page up", id="detail-up"),
        _hidden("R", "rescan", "Rescan", "Scan the repository again"),
        _hidden("H", "hunt", "Hunt",
                "Hunt for unmarked flaky tests: the suite serially, shuffled and under xdist (x stops; H again continues)"),
        _hidden("f", "findings", "Findings", "Repository findings: config reruns, hooks, CI flags"),
        _hidden("F", "goto_fix", "Fix line", "Show the line the fix must change, in whichever file (F again: back to the test)"),
        _hidden("h", "tab(-1)", "Prev tab", id="tab-previous"),
        _hidden("l", "tab(1)", "Next tab", id="tab-next"),
    ]
    HELP = "The repository"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]

    #: What the repository-wide keys depend on; a change refreshes the footer.
    scanning: reactive[bool] = reactive(False, bindings=True)
    scanned: reactive[bool] = reactive(False, bindings=True)
    marked: reactive[int] = reactive(0, bindings=True)
    verifying: reactive[bool] = reactive(False, bindings=True)
    hunting: reactive[bool] = reactive(False, bindings=True)
    selected_queued: reactive[bool] = reactive(False, bindings=True)
    commit_problem: reactive[str | None] = reactive(None, bindings=True)

    @dataclass
    class Saved(Message):
        """A decision (category, keep) is in ``.flaketui.toml``."""

        key: TestKey
        triage: Triage

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self.model = TriageModel()
        self.scanner = Scanner(service, self.model)
        self.verifier = Verifier(service, self.model)
        self.committer = Committer(service, self.model)
        self.fixer = Fixer(service, self.model, self.committer, lambda: self.query_one(DetailPane).view(ProposalView))
        self.hunter = Hunter(service, self.model)
        self._sources: dict[str, str] = {}
        #: Decisions being written, and what waits for them (see _when_saved).
        self._saving = 0
        self._after_saves: list[Callable[[], None]] = []

    def compose(self) -> ComposeResult:
        # The breakpoint's class before the children exist, so they are styled once: left to the
        # first resize, it restyled the whole screen (28 ms of a 330 ms first frame).
        width = self.app.size.width
        chosen = max((b for b in self.HORIZONTAL_BREAKPOINTS if width >= b[0]), default=None)
        for breakpoint in self.HORIZONTAL_BREAKPOINTS:
            self.set_class(breakpoint == chosen, breakpoint[1], update=False)
        yield RepoHeader(self.model, id="header")
        yield ProgressBar(id="scan-progress", show_eta=False)
        with Horizontal(id="body"):
            yield TestList(self.model, id="left")
            yield DetailPane(self.model, self._source_of, id="detail")
        yield ActivityBar(self.model, id="activity")
        yield KeyFooter()
        yield self.scanner
        yield self.verifier
        yield self.committer
        yield self.fixer
        yield self.hunter

    def on_mount(self) -> None:
        self.model.observe(self._model_changed)
        self.table.focus()
        self.scanner.start(use_cache=True)

    # -- reading ---------------------------------------------------------------------------------
    @property
    def table(self) -> TestTable:
        return self.query_one(TestTable)

    @property
    def selected(self) -> Row | None:
        return self.model.selected

    def _source_of(self, path: str) -> str | None:
        if path not in self._sources:
            try:
                self._sources[path] = self.service.read_text(path)
            except OSError:
                return None
        return self._sources[path]

    # -- the model -------------------------------------------------------------------------------
    def _model_changed(self, change: Change) -> None:
        model = self.model
        if change.repo:
            self.query_one("#scan-progress").set_class(not model.scanning, "hidden")
            if not model.scanning:  # files may have changed (a scan, a commit): read them again
                self._sources.clear()
                self.query_one(DetailPane).show_selected()
        self.scanning = model.scanning
        self.scanned = model.scan_result is not None
        self.marked = sum(1 for r in model.rows.values() if r.marked)
        self.verifying = model.queue.busy
        self.hunting = model.hunting
        self.selected_queued = model.selected_key is not None and model.queue.is_waiting(model.selected_key)
        self.commit_problem = model.info.git_problem if model.info else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.model.unavailable_reason(action) else True

    def unavailable_reason(self, action: str) -> str | None:
        return self.model.unavailable_reason(action)

    @on(DataTable.RowHighlighted, "#tests")
    @on(TestList.Typed)
    def _user_input(self) -> None:
        # The selection itself follows the cursor synchronously (TestTable); this only tells
        # the scanner the user is moving or typing, so diagnosis waits for a pause.
        self.scanner.user_input()

    @on(Scanner.Progress)
    def _scan_progress(self, message: Scanner.Progress) -> None:
        self.query_one("#scan-progress", ProgressBar).update(total=message.total or None, progress=message.done)

    # -- the test list's messages ------------------------------------------------------------------
    @on(TestTable.MarkToggled)
    def _mark_toggled(self, message: TestTable.MarkToggled) -> None:
        self.model.toggle_mark(message.key)

    @on(TestList.Decided)
    def _decided(self, message: TestList.Decided) -> None:
        category, by = message.category, message.by
        self._save(message.test, lambda test: self.service.set_category(test, category, by))

    @on(TestList.KeepChanged)
    def _keep_changed(self, message: TestList.KeepChanged) -> None:
        keep: Keep | None = message.keep
        self._save(message.test, lambda test: self.service.keep_marker(test, keep))

    def _save(self, test: FlakyTest, change: Callable[[FlakyTest], Triage]) -> None:
        self._saving += 1
        self._decide(test, change)

    def _when_saved(self, then: Callable[[], None]) -> None:
        """Run ``then`` once every decision being saved is in ``.flaketui.toml``: ``c`` pressed
        right after ``4`` puts the category just chosen in the commit message."""
        if self._saving:
            self._after_saves.append(then)
        else:
            then()

    @work(thread=True, exit_on_error=False, group="decide", name="decide")
    def _decide(self, test: FlakyTest, change: Callable[[FlakyTest], Triage]) -> None:
        self.post_message(self.Saved(test.key, change(test)))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self.model.set_triage(message.key, message.triage)

    @on(TestList.VerifyAsked)
    def _verify_asked(self, message: TestList.VerifyAsked) -> None:
        self.verifier.request([message.test])

    @on(TestList.CommitAsked)
    def _commit_asked(self, message: TestList.CommitAsked) -> None:
        test = message.test
        self._when_saved(lambda: self.committer.start(test))

    @on(Committer.NeedsVerification)
    def _needs_verification(self, message: Committer.NeedsVerification) -> None:
        self.verifier.request(message.tests, why="c verifies first", then_commit=message.target)

    @on(Verifier.JobEnded)
    def _job_ended(self, message: Verifier.JobEnded) -> None:
        # What the runs showed (the exception, where it ended, the modes that failed) is evidence.
        self.scanner.rediagnose([self.model.rows[t.key].test for t in message.job.tests if t.key in self.model.rows])
        target = message.job.then_commit
        if target is not None and not message.cancelled:
            self.committer.continue_after(target, message.verifications)

    @on(Committer.Committed)
    def _committed(self, message: Committer.Committed) -> None:
        if message.record.kind == "undo":
            self.scanner.start(use_cache=False)
        else:
            self.scanner.reload_repo()

    @on(TestList.FilterChanged)
    def _filter_changed(self, message: TestList.FilterChanged) -> None:
        self.model.set_filter(message.text)

    @on(TestList.SortAsked)
    def _sort_asked(self) -> None:
        self.model.cycle_sort()

    @on(DetailPane.HistoryWanted)
    def _history_wanted(self, message: DetailPane.HistoryWanted) -> None:
        self.scanner.load_history(message.test)

    @on(TestList.ProposeAsked)
    def _propose_asked(self, message: TestList.ProposeAsked) -> None:
        self._show_fix_tab()
        self.fixer.show(message.test)

    @on(TestList.WriteFixAsked)
    def _write_fix_asked(self, message: TestList.WriteFixAsked) -> None:
        self._show_fix_tab()
        self.fixer.write(message.test)

    def _show_fix_tab(self) -> None:
        # The diff and the proof's bars are what p and w are for: show them even if d hid the pane.
        self.query_one("#body").remove_class("-no-detail")
        self.query_one(DetailPane).active = "tab-fix"

    @on(TestList.EditAsked)
    def _edit_asked(self, message: TestList.EditAsked) -> None:
        test = message.test
        error: FlakeTUIError | None = None
        try:
            with self.app.suspend():
                try:
                    self.service.open_in_editor(test.path, test.line)
                except FlakeTUIError as exc:
                    error = exc
        except SuspendNotSupported:
            error = FlakeTUIError(
                "This terminal cannot hand the screen over to an editor.",
                f"Open {test.path}:{test.line} yourself, then press R to rescan.",
            )
        if error is not None:
            self.app.push_screen(MessageDialog("Cannot open the editor", error.message, error.hint))
        self._sources.pop(test.path, None)
        self.query_one(DetailPane).show_selected()

    @on(TestList.CopyAsked)
    def _copy_asked(self, message: TestList.CopyAsked) -> None:
        command = self.service.repro_command(message.test)
        self.app.copy_to_clipboard(command)
        self.model.say(f"copied: {command}")

    # -- the repository's keys -----------------------------------------------------------------------
    def action_verify_marked(self) -> None:
        marked = self.model.marked()
        if marked:
            self.verifier.request([r.test for r in marked], why="V verifies")

    def action_write_marked(self) -> None:
        marked = self.model.marked()
        if marked:
            self._show_fix_tab()
            self.fixer.write_many([r.test for r in marked])

    def action_verify_options(self) -> None:
        def chosen(answer: tuple[int, VerifyMode] | None) -> None:
            if answer is not None:
                self.model.set_verify_options(*answer)

        self.app.push_screen(VerifyOptions(self.model.runs, self.model.mode), chosen)

    def action_cancel(self) -> None:
        if self.model.hunting and self.model.queue.current is None:
            self.hunter.cancel()
            return
        self.verifier.cancel()

    def action_hunt(self) -> None:
        self.hunter.start()

    @on(Hunter.Finished)
    def _hunt_finished(self, message: Hunter.Finished) -> None:
        marked = [key for key, row in self.model.rows.items() if row.test.markers]
        self.model.say(finished_text(message.report, marked))
        self.scanner.start(use_cache=True)

    def action_undo(self) -> None:
        self.committer.undo()

    def action_toggle_detail(self) -> None:
        body = self.query_one("#body")
        body.remove_class("-big-detail")
        body.toggle_class("-no-detail")
        self._keep_cursor_in_view()

    def action_big_detail(self) -> None:
        body = self.query_one("#body")
        body.remove_class("-no-detail")
        body.toggle_class("-big-detail")
        self._keep_cursor_in_view()

    def action_scroll_detail(self, direction: int) -> None:
        self.query_one(DetailPane).scroll_active(direction)

    def _keep_cursor_in_view(self) -> None:
        # After the new layout: a shorter table must still show the selected row.
        self.call_after_refresh(lambda: self.table.move_cursor(row=self.table.cursor_row, scroll=True))

    def action_rescan(self) -> None:
        self.scanner.start(use_cache=False)

    def action_findings(self) -> None:
        if self.model.scan_result is not None:
            self.app.push_screen(FindingsScreen(self.model.scan_result.findings))

    def action_goto_fix(self) -> None:
        self.query_one("#body").remove_class("-no-detail")
        self.query_one(DetailPane).toggle_fix()

    def action_tab(self, step: int) -> None:
        self.query_one(DetailPane).step(step)

    def stop_everything(self) -> None:
        self.verifier.stop_everything()
        self.hunter.cancel()

    # -- failures --------------------------------------------------------------------------------------
    @on(WorkFailed)
    def _work_failed(self, message: WorkFailed) -> None:
        self._report(message.what, message.error)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "decide" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                              WorkerState.CANCELLED):
            self._saving -= 1
            if not self._saving:
                waiting, self._after_saves = self._after_saves, []
                for then in waiting:
                    then()
        forward_failure(self, event)  # the screen's own worker (decisions)

    def _report(self, what: str, error: BaseException) -> None:
        if isinstance(error, FlakeTUIError):
            self.app.push_screen(MessageDialog(f"{what} failed", error.message, error.hint))
        else:
            self.app.push_screen(MessageDialog(
                f"{what} failed", f"{type(error).__name__}: {error}",
                "This is a bug in flaketui; please report it with the steps that led here.",
            ))
