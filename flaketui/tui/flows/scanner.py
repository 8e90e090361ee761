"""Scanning, background diagnosis and history: the work that fills the rows.

``Scanner`` is a widget that shows nothing: it owns the workers and the handlers of their
messages, and changes only the triage model. Workers never touch widgets or the model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from flaketui.tui.flows import Flow, ProgressReport
from flaketui.tui.flows.failures import forward_failure

if TYPE_CHECKING:
    from flaketui.models import (
        Diagnosis,
        FlakyTest,
        RepoInfo,
        ScanResult,
        TestKey,
        Triage,
        Verification,
    )
    from flaketui.models.history import Candidate, HuntTest
    from flaketui.service import Service
    from flaketui.tui.triage import TriageModel

#: How long (s) after the user's last move or keystroke background diagnosis stays paused,
#: and how long the cursor must rest on an undiagnosed row before it is diagnosed first.
QUIET_AFTER_INPUT = 0.4
REST_BEFORE_DIAGNOSIS = 0.15


class Scanner(Flow):
    """Scans in the background, then diagnoses every row while the user is not typing."""

    @dataclass
    class RepoLoaded(Message):
        info: RepoInfo

    @dataclass
    class Progress(ProgressReport):
        done: int
        total: int

    @dataclass
    class Scanned(Message):
        result: ScanResult
        decisions: dict[TestKey, Triage]
        verifications: dict[TestKey, Verification]
        fixed_count: int
        #: Unmarked tests CI history or a hunt shows flaky, as tests without a marker.
        candidates: list[tuple[FlakyTest, Candidate]]
        #: What the latest hunt measured of each test that did not pass every run (marked ones too).
        hunted: dict[TestKey, HuntTest]

    @dataclass
    class Diagnosed(Message):
        """Diagnoses, a file's worth at a time: one repaint and one header update per batch."""

        diagnoses: list[tuple[TestKey, Diagnosis]]
        #: Asked again after new runs: these replace what the rows had.
        again: bool = False

    @dataclass
    class HistoryLoaded(Message):
        key: TestKey
        history: list[Verification]

    def __init__(self, service: Service, model: TriageModel) -> None:
        super().__init__(service, model)
        #: When the user last moved or typed (monotonic); the diagnosis worker reads it.
        self._last_input = 0.0
        self._resume: Timer | None = None
        self._rest: Timer | None = None
        #: Diagnosed messages not applied yet (see _diagnosed).
        self._landing: list[Scanner.Diagnosed] = []

    # -- scanning -------------------------------------------------------------------------------
    def start(self, *, use_cache: bool) -> None:
        self.model.set_scanning(True)
        self._scan(use_cache)

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan", name="scan")
    def _scan(self, use_cache: bool) -> None:
        service = self.service
        self.post_message(self.RepoLoaded(service.repo_info()))

        def progress(done: int, total: int) -> None:
            self.post_message(self.Progress(done, total))

        result = service.scan(use_cache=use_cache, on_progress=progress)
        candidates = service.candidates(marked=result.tests)
        hunt = service.latest_hunt()
        self.post_message(self.Scanned(result, service.decisions(), service.last_verifications(),
                                       _fixed_commits(service),
                                       list(zip(service.hunting.candidate_tests(candidates), candidates, strict=True))
                                       if candidates else [],
                                       {t.key: t for t in hunt.tests} if hunt is not None else {}))

    def reload_repo(self) -> None:
        """HEAD moved (a commit): every other verification now ran on an older tree."""
        self._reload_repo()

    @work(thread=True, exclusive=True, exit_on_error=False, group="repo", name="scan")
    def _reload_repo(self) -> None:
        self.post_message(self.RepoLoaded(self.service.repo_info()))

    @on(RepoLoaded)
    def _repo_loaded(self, message: RepoLoaded) -> None:
        self.model.set_repo(message.info)

    @on(Scanned)
    def _scanned(self, message: Scanned) -> None:
        self.model.load_scan(message.result, message.decisions, message.verifications, message.fixed_count,
                             message.candidates, message.hunted)
        self.diagnose_all()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "scan" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.model.scan_failed(str(self.service.root))
        forward_failure(self, event)

    # -- diagnosis ------------------------------------------------------------------------------
    def user_active(self) -> bool:
        return time.monotonic() - self._last_input < QUIET_AFTER_INPUT

    def user_input(self) -> None:
        """The user moved or typed: diagnosis steps aside, resumes when it is quiet, and
        the row the cursor rests on goes first."""
        self._last_input = time.monotonic()
        for timer in (self._resume, self._rest):
            if timer is not None:
                timer.stop()
        # Diagnose the row the cursor rests on, not every row it passes: a thread per move
        # would fight the UI for the GIL while j is held down.
        self._rest = self.set_timer(REST_BEFORE_DIAGNOSIS, self._diagnose_resting_row)
        self._resume = self.set_timer(QUIET_AFTER_INPUT, self._quiet_again)

    def _quiet_again(self) -> None:
        self._resume = None
        self.diagnose_all()

    @property
    def waiting_for_quiet(self) -> bool:
        """Diagnosis stepped aside for the user and resumes once it is quiet (no worker runs meanwhile)."""
        return self._resume is not None

    def _diagnose_resting_row(self) -> None:
        row = self.model.selected
        if row is not None and row.diagnosis is None:
            self._diagnose_one(row.test)

    def diagnose_all(self) -> None:
        """Diagnose every row without one: shown rows first, the selected one before them."""
        model = self.model
        shown = set(model.shown)
        todo = [model.rows[k].test for k in model.shown if model.rows[k].diagnosis is None]
        todo += [r.test for k, r in model.rows.items() if r.diagnosis is None and k not in shown]
        selected = model.selected
        if selected is not None and selected.test in todo:
            todo.remove(selected.test)
            todo.insert(0, selected.test)
        if todo:
            self._diagnose_background(todo)

    @work(thread=True, exclusive=True, exit_on_error=False, group="diagnose", name="diagnose")
    def _diagnose_background(self, tests: list[FlakyTest]) -> None:
        worker = get_current_worker()

        def should_stop() -> bool:
            return worker.is_cancelled or self.user_active()

        # A file's tests together: diagnose_many parses each file once. Parsing holds the GIL,
        # so the worker ends as soon as the user moves or types; user_input's timer starts
        # a new one over what is left once it is quiet again.
        for batch in _by_file(tests):
            while batch and not should_stop():
                found = self.service.diagnose_many(batch, should_stop=should_stop)
                if found:
                    self.post_message(self.Diagnosed([(t.key, d) for t, d in zip(batch, found, strict=False)]))
                batch = batch[len(found):]
            if should_stop():
                return

    @work(thread=True, exclusive=True, exit_on_error=False, group="diagnose-one", name="diagnose")
    def _diagnose_one(self, test: FlakyTest) -> None:
        self.post_message(self.Diagnosed([(test.key, self.service.diagnose(test))]))

    def rediagnose(self, tests: Sequence[FlakyTest]) -> None:
        """New runs were recorded for ``tests``: what they showed joins the evidence (the
        core's cache is keyed by the latest verification, so asking again reads them)."""
        if tests:
            self._rediagnose(list(tests))

    @work(thread=True, exit_on_error=False, group="rediagnose", name="diagnose")
    def _rediagnose(self, tests: list[FlakyTest]) -> None:
        found = self.service.diagnose_many(tests)
        self.post_message(self.Diagnosed([(t.key, d) for t, d in zip(tests, found, strict=False)], again=True))

    @on(Diagnosed)
    def _diagnosed(self, message: Diagnosed) -> None:
        # From the cache, a worker posts a thousand rows' batches in a blink, and each batch
        # landing costs the main thread a pass over every row (counts, header): land all the
        # batches queued by now together, from a callback queued behind them.
        if not self._landing:
            self.call_later(self._land)
        self._landing.append(message)

    def _land(self) -> None:
        landing, self._landing = self._landing, []
        for again, messages in groupby(landing, key=lambda m: m.again):
            self.model.add_diagnoses([d for m in messages for d in m.diagnoses], replace=again)

    # -- history --------------------------------------------------------------------------------
    def load_history(self, test: FlakyTest) -> None:
        self._load_history(test)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history", name="history")
    def _load_history(self, test: FlakyTest) -> None:
        self.post_message(self.HistoryLoaded(test.key, self.service.history(test.nodeid)))

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        self.model.set_history(message.key, message.history)


def _by_file(tests: Sequence[FlakyTest]) -> list[list[FlakyTest]]:
    """Consecutive tests of the same file, together (the order is kept)."""
    batches: list[list[FlakyTest]] = []
    for test in tests:
        if batches and batches[-1][0].path == test.path:
            batches[-1].append(test)
        else:
            batches.append([test])
    return batches


def _fixed_commits(service: Service) -> int:
    commits = service.commits()
    undone = {c.undoes for c in commits if c.kind == "undo"}
    return sum(1 for c in commits if c.kind == "fix" and c.sha not in undone)
