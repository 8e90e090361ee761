"""Commit and undo: ``c`` plans the removal, has what it covers verified, shows the exact
diff, commits; ``z`` puts the last removed marker back.

``Committer`` is a widget that shows nothing: it owns the plan, commit and undo workers and
the handlers of their messages. It asks for a verification with a message (the screen hands
it to the verifier) and continues when the screen hands the result back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import SuspendNotSupported
from textual.message import Message
from textual.worker import Worker, WorkerState

from flaketui.errors import FlakeTUIError
from flaketui.models import Verdict
from flaketui.tui.flows import Flow
from flaketui.tui.flows.failures import forward_failure
from flaketui.tui.modals import CommitDialog, MessageDialog
from flaketui.tui.rows import same_tree, verdict_sentence, verified_here
from flaketui.tui.triage import marker_owner

if TYPE_CHECKING:
    from flaketui.models import CommitRecord, FixPlan, FlakyTest, TestKey, Verification


class Committer(Flow):
    """The fix-and-commit workflow of the app, and its undo."""

    @dataclass
    class NeedsVerification(Message):
        """``c`` found no stable verification of this tree: verify these, then commit ``target``."""

        tests: tuple[FlakyTest, ...]
        target: FlakyTest

    @dataclass
    class PlanReady(Message):
        plan: FixPlan
        target: FlakyTest

    @dataclass
    class Refused(Message):
        title: str
        message: str
        hint: str

    @dataclass
    class Output(Message):
        line: str

    @dataclass
    class Committed(Message):
        record: CommitRecord
        #: The rows the commit fixed (none for an undo).
        keys: tuple[TestKey, ...]

    # -- planning ---------------------------------------------------------------------------------
    def start(self, test: FlakyTest) -> None:
        self.model.say(f"planning the fix of {test.nodeid}…")
        self._plan(test, verified_now=False)

    def continue_after(self, target: FlakyTest, verifications: Sequence[Verification]) -> None:
        """The verification ``c`` asked for ended: commit if every test is stable."""
        unstable = [v for v in verifications if v.verdict is not Verdict.STABLE]
        if unstable:
            first = unstable[0]
            self.model.say()
            self.app.push_screen(MessageDialog(
                "Not committed", f"{first.nodeid}: {verdict_sentence(first)}.",
                "The marker is still needed: fix the root cause (see Evidence), then press c again.",
            ))
            return
        self._plan(target, verified_now=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="commit", name="plan")
    def _plan(self, test: FlakyTest, verified_now: bool) -> None:
        service = self.service
        plan = service.plan_fix(marker_owner(test))
        if plan.refusal:
            self.post_message(self.Refused("Cannot commit", plan.refusal, "Nothing was changed."))
            return
        info = service.repo_info()
        latest = service.last_verifications()
        # Runs on this very tree already saw it fail: more runs cannot make the marker unneeded.
        failing = [v for t in plan.tests if (v := latest.get(t.key)) is not None
                   and v.verdict in (Verdict.FLAKY, Verdict.BROKEN) and same_tree(v, info)]
        unverified = [t for t in plan.tests if not verified_here(latest.get(t.key), info)]
        if failing and not verified_now:
            self.post_message(self.Refused(
                "Not committed", f"{failing[0].nodeid}: {verdict_sentence(failing[0])}, on this very tree.",
                "The marker is still needed: fix the root cause (see Evidence), then press c again "
                "(an edit makes that result old, and c verifies again)."))
        elif not unverified:
            self.post_message(self.PlanReady(plan, test))
        elif verified_now:
            self.post_message(self.Refused(
                "Cannot commit", f"{unverified[0].nodeid} has no stable verification of this tree.",
                "Fix the cause, then press c again: the commit needs 10/10 passes on this very tree."))
        else:
            self.post_message(self.NeedsVerification(tuple(unverified), test))

    @on(PlanReady)
    def _plan_ready(self, message: PlanReady) -> None:
        message.stop()
        self.model.say()
        plan = message.plan

        def answered(include: tuple[str, ...] | None) -> None:
            if include is None:
                self.model.say("commit cancelled; nothing changed")
                return
            self.model.say("committing…")
            if self.service.commit_needs_terminal() and self._commit_on_terminal(plan, include):
                return
            self._commit(plan, include)

        self.app.push_screen(CommitDialog(plan), answered)

    # -- committing ---------------------------------------------------------------------------------
    def _commit_on_terminal(self, plan: FixPlan, include: tuple[str, ...]) -> bool:
        """Commit with the screen handed over, so a signing passphrase prompt can be answered.

        Returns False where the terminal cannot be handed over (the commit then runs in the
        background and a prompt, if any, fails the commit with everything restored)."""
        error: FlakeTUIError | None = None
        record = None
        try:
            with self.app.suspend():
                print("flaketui: committing; git signs the commit and may ask for your passphrase.", flush=True)
                try:
                    record = self.service.commit_fix(plan, include=include, on_output=print, accept_cautions=True)
                except FlakeTUIError as exc:
                    error = exc
        except SuspendNotSupported:
            return False
        if error is not None:
            self.model.say("commit failed; nothing changed")
            self.app.push_screen(MessageDialog("Not committed", error.message, error.hint))
        elif record is not None:
            self.post_message(self.Committed(record, tuple(t.key for t in plan.tests)))
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="commit", name="commit")
    def _commit(self, plan: FixPlan, include: tuple[str, ...]) -> None:
        # The dialog took ! for its cautions, the only way past them.
        record = self.service.commit_fix(plan, include=include, on_output=self._say_output, accept_cautions=True)
        self.post_message(self.Committed(record, tuple(t.key for t in plan.tests)))

    def undo(self) -> None:
        self.model.say("undoing the last fix…")
        self._undo()

    @work(thread=True, exclusive=True, exit_on_error=False, group="commit", name="undo")
    def _undo(self) -> None:
        record = self.service.undo(on_output=self._say_output)
        self.post_message(self.Committed(record, ()))

    def _say_output(self, line: str) -> None:
        """git's output, from a worker thread: shown on the activity line."""
        self.post_message(self.Output(line))

    @on(Output)
    def _output(self, message: Output) -> None:
        message.stop()
        self.model.say(f"git: {message.line}")

    @on(Committed)
    def _committed(self, message: Committed) -> None:
        record = message.record
        subject = record.message.split("\n", 1)[0]
        if record.kind == "undo":
            self.model.undone()
            self.model.say(f"undone in {record.sha[:8]}")
            self.notify(f"{record.sha[:8]} {subject}", title="Marker restored")
            return  # the screen rescans: the marker is back
        self.model.committed(message.keys)
        self.model.say(f"committed {record.sha[:8]}")
        self.notify(f"{record.sha[:8]} {subject}", title="Committed")

    @on(Refused)
    def _refused(self, message: Refused) -> None:
        message.stop()
        self.model.say()
        self.app.push_screen(MessageDialog(message.title, message.message, message.hint))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "commit" and event.state is WorkerState.ERROR:
            self.model.say()
        forward_failure(self, event)
