"""The triage model: rows, selection, filter and sort, the verification queue, the counts.

Plain Python (no widgets): the main screen's handlers change it, widgets observe it. Every
change tells its observers what changed (``Change``), so a run finishing repaints one row
and a filter refills the table, without any caller knowing which widgets care.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaketui.models import (
    Category,
    FlakyTest,
    MarkerScope,
    ScanResult,
    TestKey,
    VerifyMode,
)
from flaketui.tui.rows import (
    Progress,
    Row,
    SortOrder,
    counts,
    parse_filter,
    same_tree,
    sort_key,
)
from flaketui.tui.verify_queue import VerifyJob, VerifyQueue

if TYPE_CHECKING:
    from flaketui.models import (
        Diagnosis,
        RepoInfo,
        RunResult,
        Triage,
        Verification,
    )
    from flaketui.models.history import Candidate, HuntTest
    from flaketui.tui.rows import (
        RowState,
    )


@dataclass(frozen=True)
class Change:
    """What one update changed, for the observers to repaint only that."""

    #: Rows whose cells changed (state, category, progress...).
    keys: frozenset[TestKey] = frozenset()
    #: Which rows are shown, or their order (a scan, the filter, the sort).
    shown: bool = False
    #: The selected row (the detail pane follows it).
    selection: bool = False
    #: Runs, mode, filter, sort, the queue's length: the activity line.
    settings: bool = False
    #: Repository info or the scan result (header, notice, empty state).
    repo: bool = False


Observer = Callable[[Change], None]


class TriageModel:
    """The state of one triage session; main thread only (workers post messages instead)."""

    def __init__(self, *, runs: int = 10, mode: VerifyMode = VerifyMode.FORKED) -> None:
        self.rows: dict[TestKey, Row] = {}
        #: The keys the filter matches, in the sort order: what the table shows.
        self.shown: list[TestKey] = []
        self.selected_key: TestKey | None = None
        self.filter_text = ""
        self.sort_order = SortOrder.FAILURES
        self.runs = runs
        self.mode = mode
        self.queue = VerifyQueue()
        self.info: RepoInfo | None = None
        self.scan_result: ScanResult | None = None
        self.scanning = False
        self.fixed_count = 0
        #: Each test's past verifications, loaded when its History tab is first shown.
        self.history: dict[TestKey, list[Verification]] = {}
        #: A hunt runs (``H``): ``x`` stops it.
        self.hunting = False
        #: What just happened, for the activity line (``copied: ...``, ``committing…``).
        self.activity = ""
        self._observers: list[Observer] = []

    # -- observing ------------------------------------------------------------------------
    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def _changed(self, change: Change) -> None:
        for observer in self._observers:
            observer(change)

    def _rows_changed(self, keys: Iterable[TestKey]) -> None:
        changed = frozenset(k for k in keys if k in self.rows)
        if changed:
            self._changed(Change(keys=changed, selection=self.selected_key in changed))

    def say(self, text: str = "") -> None:
        """Tell the user what just happened (empty: nothing)."""
        self.activity = text
        self._changed(Change(settings=True))

    # -- reading --------------------------------------------------------------------------
    @property
    def selected(self) -> Row | None:
        return self.rows.get(self.selected_key) if self.selected_key is not None else None

    def shown_rows(self) -> list[Row]:
        return [self.rows[k] for k in self.shown]

    def marked(self) -> list[Row]:
        return [self.rows[k] for k in self.shown if self.rows[k].marked]

    def counts(self) -> tuple[dict[RowState, int], dict[Category, int]]:
        return counts(self.rows.values())

    def queued_tests(self) -> int:
        return sum(len(j.tests) for j in self.queue.waiting())

    def covered_by_marker(self, test: FlakyTest) -> list[Row]:
        """The rows whose marker is the one ``c`` on ``test`` removes (itself, its class's or module's)."""
        owner = marker_owner(test)
        if isinstance(owner, FlakyTest):
            return [self.rows[test.key]] if test.key in self.rows else []
        return [r for r in self.rows.values()
                if r.test.rootdir == test.rootdir and r.test.nodeid.startswith(owner + "::")
                and bool(r.test.markers) and r.test.marker.scope is test.marker.scope]

    # -- scanning -------------------------------------------------------------------------
    def set_scanning(self, scanning: bool) -> None:
        self.scanning = scanning
        self._changed(Change(repo=True))

    def set_repo(self, info: RepoInfo) -> None:
        """Repository info (again): verifications of another tree turn old."""
        self.info = info
        changed = []
        for row in self.rows.values():
            stale = row.verification is not None and not same_tree(row.verification, info)
            if stale != row.stale:
                row.stale = stale
                changed.append(row.key)
        self._changed(Change(keys=frozenset(changed), repo=True, selection=self.selected_key in changed))

    def load_scan(self, result: ScanResult, decisions: dict[TestKey, Triage], verifications: dict[TestKey, Verification],
                  fixed_count: int, candidates: Sequence[tuple[FlakyTest, Candidate]] = (),
                  hunted: Mapping[TestKey, HuntTest] | None = None) -> None:
        """A finished scan: new rows, keeping what the old ones knew (diagnosis, marks, progress)."""
        self.scanning = False
        self.scan_result = result
        self.fixed_count = fixed_count
        self.history.clear()
        old, self.rows = self.rows, {}
        current = self.queue.current
        # Marked tests, then the unmarked ones CI history or a hunt shows flaky (candidates).
        for test, candidate in [*((t, None) for t in result.tests), *candidates]:
            if test.key in self.rows:
                continue
            previous = old.get(test.key)
            verification = verifications.get(test.key)
            row = self.rows[test.key] = Row(
                test=test,
                candidate=candidate,
                hunt=(hunted or {}).get(test.key) if candidate is None else None,
                triage=decisions.get(test.key),
                verification=verification,
                stale=verification is not None and self.info is not None and not same_tree(verification, self.info),
                diagnosis=previous.diagnosis if previous and previous.test == test else None,
                marked=previous.marked if previous else False,
                queued=self.queue.is_waiting(test.key),
            )
            if current is not None and test.key in current.keys:
                row.progress = previous.progress if previous and previous.progress else Progress(current.runs)
        self.refilter()
        self._changed(Change(repo=True))

    def scan_failed(self, root: str) -> None:
        self.scanning = False
        if self.scan_result is None:
            self.scan_result = ScanResult(root=root)
            self.refilter()
        self._changed(Change(repo=True))

    # -- selection, filter, sort ------------------------------------------------------------
    def select(self, key: TestKey | None) -> None:
        if key != self.selected_key:
            self.selected_key = key
            self._changed(Change(selection=True))

    def refilter(self) -> bool:
        """Recompute the shown rows; True (and observers told) when they changed."""
        matches = parse_filter(self.filter_text)
        ordered = sorted((r for r in self.rows.values() if matches(r)), key=sort_key(self.sort_order))
        shown = [r.key for r in ordered]
        if shown == self.shown and all(k in self.rows for k in shown):
            return False
        self.shown = shown
        self._changed(Change(shown=True, selection=True))
        return True

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.refilter()
        self._changed(Change(settings=True))

    def cycle_sort(self) -> None:
        self.sort_order = self.sort_order.next()
        self.refilter()
        self._changed(Change(settings=True))

    def set_verify_options(self, runs: int, mode: VerifyMode) -> None:
        self.runs, self.mode = runs, mode
        self._changed(Change(settings=True))

    # -- decisions and marks ----------------------------------------------------------------
    def set_triage(self, key: TestKey, triage: Triage) -> None:
        if key in self.rows:
            self.rows[key].triage = triage
            self._rows_changed([key])

    def toggle_mark(self, key: TestKey) -> None:
        if key in self.rows:
            self.rows[key].marked = not self.rows[key].marked
            self._rows_changed([key])

    def add_diagnoses(self, diagnoses: Sequence[tuple[TestKey, Diagnosis]], *, replace: bool = False) -> None:
        """Diagnoses for rows that had none (``replace``: new ones, after new runs)."""
        changed = []
        for key, diagnosis in diagnoses:
            row = self.rows.get(key)
            if row is not None and (row.diagnosis is None or (replace and diagnosis != row.diagnosis)):
                row.diagnosis = diagnosis
                changed.append(key)
        self._rows_changed(changed)

    def set_history(self, key: TestKey, history: list[Verification]) -> None:
        self.history[key] = history
        if key == self.selected_key:
            self._changed(Change(selection=True))

    # -- verification -------------------------------------------------------------------------
    def enqueue(self, tests: Sequence[FlakyTest], then_commit: FlakyTest | None = None) -> VerifyJob:
        job = VerifyJob(tuple(tests), self.runs, self.mode, then_commit=then_commit)
        self.queue.add(job)
        for test in tests:
            if test.key in self.rows:
                self.rows[test.key].queued = True
                self.rows[test.key].marked = False
        self._rows_changed(t.key for t in tests)
        self._changed(Change(settings=True))
        return job

    def start_next(self) -> VerifyJob | None:
        """The job to run now (its rows turn running), if nothing runs and one waits."""
        job = self.queue.start_next()
        if job is not None:
            for test in job.tests:
                row = self.rows.get(test.key)
                if row is not None:
                    row.queued = self.queue.is_waiting(test.key)
                    row.progress = Progress(job.runs, mode=job.mode)
            self._rows_changed(job.keys)
            self._changed(Change(settings=True))
        return job

    def run_finished(self, key: TestKey, result: RunResult) -> None:
        row = self.rows.get(key)
        if row is not None and row.progress is not None:
            row.progress.results.append(result)
            self._rows_changed([key])

    def verified(self, job: VerifyJob, verifications: Sequence[Verification]) -> None:
        by_nodeid = {t.nodeid: t.key for t in job.tests}
        changed: list[TestKey] = []
        for verification in verifications:
            key = TestKey(verification.rootdir, verification.nodeid)
            key = key if key in self.rows else by_nodeid.get(verification.nodeid, key)
            row = self.rows.get(key)
            if row is not None:
                row.verification = verification
                row.stale = False
                self.history.pop(key, None)
                changed.append(key)
        self._rows_changed(changed)

    def end_job(self, job: VerifyJob) -> None:
        self.queue.finish(job)
        for test in job.tests:
            row = self.rows.get(test.key)
            if row is not None:
                row.progress = None
                row.queued = self.queue.is_waiting(test.key)
        self._rows_changed(job.keys)
        self._changed(Change(settings=True))

    def drop_waiting(self, key: TestKey) -> bool:
        """``x`` on a queued row: it leaves the queue."""
        if not self.queue.drop_waiting(key):
            return False
        if key in self.rows:
            self.rows[key].queued = False
        self._rows_changed([key])
        self._changed(Change(settings=True))
        return True

    # -- commits --------------------------------------------------------------------------------
    def committed(self, keys: Iterable[TestKey]) -> None:
        self.fixed_count += 1
        keys = list(keys)
        for key in keys:
            if key in self.rows:
                self.rows[key].fixed = True
        self._rows_changed(keys)
        self._changed(Change(repo=True))

    def undone(self) -> None:
        self.fixed_count = max(0, self.fixed_count - 1)
        self._changed(Change(repo=True))

    # -- what a key may do now ---------------------------------------------------------------------
    def unavailable_reason(self, action: str) -> str | None:
        """Why ``action`` cannot run now, in words; None when it can. Read from the state alone."""
        row = self.selected
        if action in _NEEDS_ROW and row is None:
            return "no test is selected"
        if row is not None and action in _NEEDS_ROW:
            reason = _row_reason(action, row)
            if reason:
                return reason
        if action == "hunt" and self.hunting:
            return "a hunt is running (x stops it)"
        if action in ("verify_marked", "write_marked") and not self.marked():
            return "no test is marked (space marks)"
        if action == "cancel" and self.queue.current is None and not (row and self.queue.is_waiting(row.key)) \
                and not self.hunting:
            return "no verification is running"
        if action in ("commit", "undo", "write_fix") and self.info is not None and self.info.git_problem:
            return self.info.git_problem
        if action == "edit" and not (os.environ.get("VISUAL") or os.environ.get("EDITOR")):
            return "neither $VISUAL nor $EDITOR is set"
        if action == "rescan" and self.scanning:
            return "a scan is running"
        if action == "findings" and self.scan_result is None:
            return "the scan has not finished"
        return None


_NEEDS_ROW = frozenset({"accept", "set_category", "pick_category", "verify", "commit", "keep", "edit", "copy_repro",
                        "toggle_mark", "propose", "write_fix", "goto_fix"})


def _row_reason(action: str, row: Row) -> str | None:
    """Why ``action`` cannot run on the selected ``row`` (its own state), or None."""
    if action == "accept":
        if row.diagnosis is None:
            return "the diagnosis is not ready yet"
        if row.suggested is Category.UNKNOWN:
            return "the suggestion is unknown: pick a category with t or 1-7"
    if action == "goto_fix":
        if row.diagnosis is None:
            return "the diagnosis is not ready yet"
        if row.diagnosis.fix_at is None:
            return "the diagnosis names no line to change"
    if action in ("verify", "write_fix") and row.fixed:
        return "its marker was removed; press R to rescan"
    if action == "commit" and row.fixed:
        return "it is already committed"
    if action in ("commit", "keep") and row.candidate is not None:
        return "it carries no marker: fix it, verify it with v, and commit the fix with git"
    return None


def marker_owner(test: FlakyTest) -> FlakyTest | str:
    """What a commit removes the marker from: the test, or the class or module whose marker
    covers it (then every test it covers is verified and listed)."""
    parts = test.nodeid.split("::")
    if not test.markers:  # a candidate: no marker to remove
        return test
    if test.marker.scope is MarkerScope.CLASS and len(parts) > 2:
        return "::".join(parts[:-1])
    if test.marker.scope is MarkerScope.MODULE:
        return parts[0]
    return test
