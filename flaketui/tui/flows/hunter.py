"""The hunt: the whole suite in three modes, in the background, with its progress live.

``Hunter`` shows nothing: it owns the worker and turns its callbacks into messages; the
screen shows them in the activity bar and, when the hunt ends, loads the candidates it found.
``x`` (the screen's cancel) stops it at once; what ran is kept and ``flaketui hunt --resume``
continues it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from flaketui.models.history import HuntProgress, HuntReport
from flaketui.service import Service

#: The app's hunt: what ``flaketui hunt`` does by default, in a third of its budget.
RUNS_PER_MODE = 10
BUDGET_MINUTES = 5.0


class Hunter(Widget):
    """Runs one hunt at a time."""

    @dataclass
    class Progress(Message):
        progress: HuntProgress

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Hunter.Progress)

    @dataclass
    class Finished(Message):
        report: HuntReport

    def __init__(self, service: Service, *, runs: int = RUNS_PER_MODE, budget_minutes: float = BUDGET_MINUTES) -> None:
        super().__init__()
        self.service = service
        self.runs = runs
        self.budget_minutes = budget_minutes
        self.running = False
        self._stop = False

    def start(self) -> bool:
        """Start a hunt; False when one already runs."""
        if self.running:
            return False
        self.running, self._stop = True, False
        self._hunt(self.runs, self.budget_minutes)
        return True

    def cancel(self) -> None:
        self._stop = True

    @work(thread=True, exit_on_error=False, group="hunt", name="hunt")
    def _hunt(self, runs: int, budget_minutes: float) -> None:
        worker = get_current_worker()

        def progressed(progress: HuntProgress) -> None:
            self.post_message(self.Progress(progress))

        try:
            report = self.service.hunting.hunt(
                runs=runs,
                budget_minutes=budget_minutes,
                on_progress=progressed,
                should_stop=lambda: self._stop or worker.is_cancelled,
            )
        finally:
            self.running = False
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


def finished_text(report: HuntReport) -> str:
    found = len(report.flaky)
    verdict = "stable" if report.stable else f"{found} flaky test{'' if found == 1 else 's'} found"
    cut = "" if report.complete else " (cut short: flaketui hunt --resume continues it)"
    return f"hunt: {verdict} in {report.suite_size} tests{cut}"
