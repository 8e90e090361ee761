"""The hunt: the whole suite in three modes, in the background, with its progress live.

``Hunter`` shows nothing: it owns the worker and turns its callbacks into messages; its
progress goes to the activity line, and when the hunt ends the screen rescans, so the
candidates it found join the table.
``x`` (the screen's cancel) stops it at once; what ran is kept and ``flaketui hunt --resume``
continues it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from flaketui.tui.flows import Flow, ProgressReport
from flaketui.tui.flows.failures import forward_failure

if TYPE_CHECKING:
    from flaketui.models import TestKey
    from flaketui.models.history import HuntProgress, HuntReport
    from flaketui.service import Service
    from flaketui.tui.triage import TriageModel

#: The app's hunt: what ``flaketui hunt`` does by default, in a third of its budget.
RUNS_PER_MODE = 10
BUDGET_MINUTES = 5.0


class Hunter(Flow):
    """Runs one hunt at a time."""

    @dataclass
    class Progress(ProgressReport):
        progress: HuntProgress

    @dataclass
    class Finished(Message):
        report: HuntReport

    def __init__(self, service: Service, model: TriageModel, *, runs: int = RUNS_PER_MODE,
                 budget_minutes: float = BUDGET_MINUTES) -> None:  # fmt: skip
        super().__init__(service, model)
        self.runs = runs
        self.budget_minutes = budget_minutes
        #: Repeats a hunt's shuffles and hash seeds exactly (None: fresh ones).
        self.seed: int | None = None
        self._stop = False
        #: The last hunt of this session was cut short (budget, x): H continues it.
        self.resumable = False

    def start(self) -> None:
        """Start a hunt, or continue the one this session cut short (the screen asks only when none runs)."""
        self.model.hunting, self._stop = True, False
        doing = "continuing the hunt" if self.resumable else f"hunting: {self.runs} runs per mode"
        self.model.say(f"{doing} within {self.budget_minutes:g} min · x stops")
        self._hunt(self.runs, self.budget_minutes, self.resumable)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.resumable = not message.report.complete  # and on to the screen

    def cancel(self) -> None:
        """Stop at once: the running pytest's process group dies; finished runs are kept."""
        self._stop = True

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.model.say(progress_text(message.progress, self.budget_minutes))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.model.hunting = False
            if event.state is not WorkerState.SUCCESS:
                self.model.say("hunt stopped")
        forward_failure(self, event)

    @work(thread=True, exit_on_error=False, group="hunt", name="hunt")
    def _hunt(self, runs: int, budget_minutes: float, resume: bool) -> None:
        worker = get_current_worker()

        def progressed(progress: HuntProgress) -> None:
            self.post_message(self.Progress(progress))

        report = self.service.hunting.hunt(
            runs=runs,
            budget_minutes=budget_minutes,
            resume=resume,
            seed=self.seed,
            on_progress=progressed,
            should_stop=lambda: self._stop or worker.is_cancelled,
        )
        self.post_message(self.Finished(report))


def progress_text(progress: HuntProgress, budget_minutes: float) -> str:
    """``hunting: run 3/30 (shuffled) 12/200 tests, about 4 min left (budget 5 min) · x stops``."""
    if progress.phase == "bisect":
        return f"hunting: bisecting for the polluter of {progress.mode}, run {progress.run} · x stops"
    size = f"/{progress.suite_size}" if progress.suite_size else ""
    left = ""
    if progress.eta is not None:
        left = f", about {progress.eta / 60:.0f} min left" if progress.eta >= 90 else f", about {progress.eta:.0f} s left"
    return (
        f"hunting: run {progress.run}/{progress.runs} ({progress.mode}) {progress.tests_done}{size} tests{left} "
        f"(budget {budget_minutes:g} min) · x stops"
    )


def finished_text(report: HuntReport, marked: Collection[TestKey] = ()) -> str:
    """``hunt: 3 flaky tests found in 29 tests, 1 unmarked (now in the table)``; ``marked``: the
    tests that carry a marker, which the table shows already."""
    found = len(report.flaky)
    verdict = "stable" if report.stable else f"{found} flaky test{'' if found == 1 else 's'} found"
    unmarked = sum(1 for t in report.flaky if t.key not in marked)
    news = ""
    if found:
        news = f", {unmarked} unmarked (now in the table)" if unmarked else ", every one already marked"
    cut = "" if report.complete else " (cut short: H continues it)"
    return f"hunt: {verdict} in {report.suite_size} tests{news}{cut}"
