"""Verification: one queue, one consumer; ``x`` and ``q`` kill the running process group.

``Verifier`` is a widget that shows nothing: it owns the verification worker and the
handlers of its messages, and changes only the triage model. Before it queues work that
covers more than the selected test and is estimated over a minute, it asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.worker import Worker, WorkerState

from flaketui.models import Verdict
from flaketui.tui.flows import Flow
from flaketui.tui.flows.failures import forward_failure
from flaketui.tui.modals import ConfirmWorkload
from flaketui.tui.rows import verdict_sentence
from flaketui.tui.workload import estimate

if TYPE_CHECKING:
    from flaketui.models import FlakyTest, RunResult, TestKey, Verification
    from flaketui.tui.verify_queue import VerifyJob
    from flaketui.tui.workload import Workload


class Verifier(Flow):
    """Queues verifications and runs them one at a time in a thread worker."""

    @dataclass
    class RunFinished(Message):
        """One run of a verification; never replaced, since the Runs tab lists each one."""

        key: TestKey
        result: RunResult

    @dataclass
    class Done(Message):
        job_id: int
        verifications: list[Verification]
        cancelled: bool

    @dataclass
    class JobEnded(Message):
        """A verification ended (for ``c``, which waits on it to commit)."""

        job: VerifyJob
        verifications: list[Verification]
        cancelled: bool

    # -- asking -----------------------------------------------------------------------------------
    def workload(self, tests: Sequence[FlakyTest]) -> Workload:
        """What verifying ``tests`` with the current runs and mode starts, and how long it takes."""
        rows = self.model.rows
        last = [rows[t.key].verification if t.key in rows else None for t in tests]
        return estimate(last, self.model.runs, self.model.mode)

    def request(self, tests: Sequence[FlakyTest], *, why: str = "v verifies",
                then_commit: FlakyTest | None = None) -> None:
        """Queue a verification of ``tests``; says what it starts, and asks first if it is long
        and covers more than the selected test (the selected test alone never asks)."""
        workload = self.workload(tests)
        selected = self.model.selected_key
        only_the_selected = all(t.key == selected for t in tests)

        def go(answer: bool | None = True) -> None:
            if answer:
                self.model.say(f"{why} {workload.describe()}")
                if then_commit is not None:  # one job: the commit waits for all of it
                    self.enqueue(tests, then_commit=then_commit)
                else:  # a job per test, so `x` stops one and the others still run
                    for test in tests:
                        self.enqueue((test,))
            else:
                self.model.say("not started; nothing was queued")

        if workload.needs_asking(only_the_selected=only_the_selected):
            self.app.push_screen(ConfirmWorkload(why, workload, [t.nodeid for t in tests]), go)
        else:
            go()

    # -- the queue ---------------------------------------------------------------------------------
    def enqueue(self, tests: Sequence[FlakyTest], *, then_commit: FlakyTest | None = None) -> None:
        self.model.enqueue(tests, then_commit=then_commit)
        self._next()

    def _next(self) -> None:
        job = self.model.start_next()
        if job is not None:
            self._run(job)

    @work(thread=True, exit_on_error=False, group="verify", name="verify")
    def _run(self, job: VerifyJob) -> None:
        by_nodeid = {t.nodeid: t.key for t in job.tests}
        first = job.tests[0].key

        def on_run(result: RunResult) -> None:
            self.post_message(self.RunFinished(by_nodeid.get(result.nodeid, first), result))

        verifications = self.service.verify(
            job.tests, runs=job.runs, mode=job.mode, on_run=on_run, should_stop=job.stop.is_set
        )
        self.post_message(self.Done(job.id, verifications, job.stop.is_set()))

    @on(RunFinished)
    def _run_finished(self, message: RunFinished) -> None:
        message.stop()
        self.model.run_finished(message.key, message.result)

    @on(Done)
    def _done(self, message: Done) -> None:
        message.stop()
        job = self.model.queue.current
        if job is None or job.id != message.job_id:
            return
        self.model.verified(job, message.verifications)
        if message.cancelled:
            self.notify("Verification cancelled; the runs so far are recorded.", title="Cancelled")
        elif job.then_commit is None:  # before a commit, the dialog that follows is the answer
            for verification in message.verifications:
                self.notify(verdict_sentence(verification), title=verification.nodeid,
                            severity="information" if verification.verdict is Verdict.STABLE else "warning")
        self._end(job)
        self.post_message(self.JobEnded(job, message.verifications, message.cancelled))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "verify" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            job = self.model.queue.current
            if job is not None:
                self._end(job)
        forward_failure(self, event)

    def _end(self, job: VerifyJob) -> None:
        self.model.end_job(job)
        self._next()

    # -- cancelling ----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """``x``: the selected row leaves the queue, or else the running verification stops."""
        selected = self.model.selected_key
        if selected is not None and self.model.drop_waiting(selected):
            return
        if self.model.queue.cancel_current() is not None:
            self.model.say("cancelling…")

    def stop_everything(self) -> None:
        """Quitting: nothing queued starts, and the running verification's process group dies."""
        self.model.queue.stop_all()
        for worker in self.workers:
            worker.cancel()
