"""The verification half of the main screen: one queue, one consumer, `x` and `q` kill.

A base class of ``MainScreen`` (which owns the rows and the table); split out to keep each
module readable. Workers post messages; only these handlers change the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on, work
from textual.screen import Screen

from flaketui.models import FlakyTest, Verdict, VerifyMode
from flaketui.tui import messages as msg
from flaketui.tui.modals import VerifyOptions
from flaketui.tui.rows import Progress, verdict_sentence
from flaketui.tui.verify_queue import VerifyJob


class VerifyFlow(Screen[None]):
    def action_verify(self) -> None:
        row = self.selected
        if row is not None:
            self.enqueue((row.test,))

    def action_verify_marked(self) -> None:
        marked = [self.rows[k].test for k in self.shown if self.rows[k].marked]
        for test in marked:
            self.enqueue((test,))
            self.rows[test.key].marked = False
            self._touch(test.key)

    def action_verify_options(self) -> None:
        def chosen(answer: tuple[int, VerifyMode] | None) -> None:
            if answer is not None:
                self.runs, self.mode = answer
                self._set_activity()

        self.app.push_screen(VerifyOptions(self.runs, self.mode), chosen)

    def enqueue(self, tests: Sequence[FlakyTest], then_commit: FlakyTest | None = None) -> None:
        job = VerifyJob(tuple(tests), self.runs, self.mode, then_commit=then_commit)
        self.queue.add(job)
        for test in tests:
            if test.key in self.rows:
                self.rows[test.key].queued = True
                self._touch(test.key)
        self._next_verification()

    def _next_verification(self) -> None:
        job = self.queue.start_next()
        if job is not None:
            for test in job.tests:
                row = self.rows.get(test.key)
                if row is not None:
                    row.queued = self.queue.is_waiting(test.key)
                    row.progress = Progress(job.runs, mode=job.mode)
                    self._touch(test.key)
            self._run_verification(job)
        self._set_activity()
        self._availability_changed()

    @work(thread=True, exit_on_error=False, group="verify", name="verify")
    def _run_verification(self, job: VerifyJob) -> None:
        by_nodeid = {t.nodeid: t.key for t in job.tests}
        first = job.tests[0].key

        def on_run(result) -> None:
            self.post_message(msg.RunFinished(by_nodeid.get(result.nodeid, first), result))

        verifications = self.service.verify(
            job.tests, runs=job.runs, mode=job.mode, on_run=on_run, should_stop=job.stop.is_set
        )
        self.post_message(msg.VerificationDone(job.id, verifications, job.stop.is_set()))

    @on(msg.RunFinished)
    def _run_finished(self, message: msg.RunFinished) -> None:
        row = self.rows.get(message.key)
        if row is not None and row.progress is not None:
            row.progress.results.append(message.result)
            self._touch(row.key)

    @on(msg.VerificationDone)
    def _verification_done(self, message: msg.VerificationDone) -> None:
        job = self.queue.current
        if job is None or job.id != message.job_id:
            return
        by_nodeid = {t.nodeid: t.key for t in job.tests}
        for verification in message.verifications:
            key = (verification.rootdir, verification.nodeid)
            key = key if key in self.rows else by_nodeid.get(verification.nodeid, key)
            row = self.rows.get(key)
            if row is not None:
                row.verification = verification
                row.stale = False
                self.history.pop(key, None)
        if message.cancelled:
            self.notify("Verification cancelled; the runs so far are recorded.", title="Cancelled")
        elif job.then_commit is None:  # before a commit, the dialog that follows is the answer
            for verification in message.verifications:
                self.notify(verdict_sentence(verification), title=verification.nodeid,
                            severity="information" if verification.verdict is Verdict.STABLE else "warning")
        if job.then_commit is not None and not message.cancelled:
            self._continue_commit(job.then_commit, message.verifications)
        self._end_job(job)

    def _end_job(self, job: VerifyJob) -> None:
        self.queue.finish(job)
        for test in job.tests:
            row = self.rows.get(test.key)
            if row is not None:
                row.progress = None
                row.queued = self.queue.is_waiting(test.key)
                self._touch(test.key)
        self._next_verification()

    def action_cancel(self) -> None:
        row = self.selected
        if row is not None and self.queue.drop_waiting(row.key):
            row.queued = False
            self._touch(row.key)
            self._set_activity()
            return
        if self.queue.cancel_current() is not None:
            self._set_activity("cancelling…")

    def stop_everything(self) -> None:
        """Quitting: nothing queued starts, and the running verification's process group dies."""
        self.queue.stop_all()
        for worker in self.workers:
            worker.cancel()

