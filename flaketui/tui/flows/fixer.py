"""Fix proposals in the app: ``p`` shows the remedy flaketui can write (``p`` again: the next
one), ``w`` writes it, proves it before and after (live bars) and opens the commit dialog.

``Fixer`` is a widget that shows nothing: it owns the propose and apply workers, which only
post messages, and its own handlers update the Fix tab and the triage model. The commit
dialog answers the worker, which waits for it; a commit it makes is posted to the committer
as its own ``Committed`` message, so rows, the header and undo (``z``) treat it as any
marker removal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from flaketui.models import RunOutcome
from flaketui.tui.flows import Flow
from flaketui.tui.flows.committer import Committer
from flaketui.tui.flows.failures import forward_failure
from flaketui.tui.modals import CommitDialog

if TYPE_CHECKING:
    from flaketui.apply_fix import ApplyOptions, ApplyOutcome
    from flaketui.models import FixPlan, FlakyTest, RunResult, TestKey
    from flaketui.proposals import ProposalSet
    from flaketui.service import Service
    from flaketui.tui.triage import TriageModel
    from flaketui.tui.widgets.proposal import ProposalView


class Answer:
    """A yes/no the app gives and a worker thread waits for (polling its own cancellation)."""

    def __init__(self) -> None:
        self._given = threading.Event()
        self._yes = False

    def __call__(self, yes: bool) -> None:
        self._yes = yes
        self._given.set()

    def wait(self, cancelled: Callable[[], bool]) -> bool:
        while not self._given.wait(0.05):
            if cancelled():
                return False
        return self._yes


class Fixer(Flow):
    """The propose / apply-and-prove workflow of the app."""

    @dataclass
    class Proposed(Message):
        key: TestKey
        found: ProposalSet

    @dataclass
    class Phase(Message):
        """``before: 20 runs of the unfixed test, forked`` / ``after: ...``."""

        text: str

    @dataclass
    class Run(Message):
        result: RunResult

    @dataclass
    class Confirm(Message):
        """The proof held: show ``plan`` and tell the worker whether to commit it."""

        plan: FixPlan
        answer: Answer

    @dataclass
    class Finished(Message):
        key: TestKey
        outcome: ApplyOutcome
        #: One of several marked tests (``W``): the view lists each outcome under the others.
        batch: bool = False

    def __init__(self, service: Service, model: TriageModel, committer: Committer,
                 view: Callable[[], ProposalView]) -> None:
        super().__init__(service, model)
        self.committer = committer
        self._view = view
        self.found: ProposalSet | None = None
        self.index = 0
        #: The proof's phase and its runs so far, for the activity line (the Fix tab's bars
        #: may be out of sight on a short terminal).
        self._phase_text = ""
        self._runs: list[RunResult] = []

    # -- the keys ----------------------------------------------------------------------------------
    def show(self, test: FlakyTest) -> None:
        """``p``: the proposals for ``test``; again on the same test, the next one."""
        if self.found is not None and self.found.test.key == test.key and self.found.proposals:
            self.index = (self.index + 1) % len(self.found.proposals)
            self._view().show_proposals(self.found, self.index)
            return
        self.found, self.index = None, 0
        self.model.say(f"looking for a fix of {test.nodeid}…")
        self._propose(test)

    def write(self, test: FlakyTest) -> None:
        """``w``: write the proposal shown, prove it, ask to commit."""
        found = self.found
        if found is None or found.test.key != test.key or not found.proposals:
            self.model.say("press p first: w writes the fix the Fix tab shows")
            return
        shown = found.proposals[self.index]
        if not shown.changes_code:
            self.model.say("this proposal changes no code: press K to keep the marker with its reason")
            return
        fixes = [p for p in found.proposals if p.changes_code]
        self._view().show_proposals(found, self.index)
        self.model.say(f"proving the fix of {test.nodeid}: before, then after…")
        self._apply(test, fixes.index(shown))

    def write_many(self, tests: list[FlakyTest]) -> None:
        """``W``: the best fix of each marked test, written, proven and offered for commit, one
        test after another (each commit dialog answered before the next test starts)."""
        self.found, self.index = None, 0
        self._view().start_batch(len(tests))
        self.model.say(f"fixing {len(tests)} marked tests, one after another…")
        self._apply_many(tests)

    # -- the workers -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="fix", name="propose")
    def _propose(self, test: FlakyTest) -> None:
        self.post_message(self.Proposed(test.key, self.service.propose_fixes(test)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="fix", name="fix")
    def _apply(self, test: FlakyTest, choice: int) -> None:
        from flaketui.apply_fix import ApplyOptions

        self.post_message(self.Finished(test.key, self._prove(test, ApplyOptions(choice=choice, alternatives=1))))

    @work(thread=True, exclusive=True, exit_on_error=False, group="fix", name="fix-many")
    def _apply_many(self, tests: list[FlakyTest]) -> None:
        from flaketui.apply_fix import ApplyOptions, ApplyOutcome, ApplyStatus
        from flaketui.errors import FlakeTUIError

        worker = get_current_worker()
        for number, test in enumerate(tests, 1):
            if worker.is_cancelled:
                return
            self.post_message(self.Phase(f"{number}/{len(tests)} {test.nodeid}"))
            try:
                # By node id: an earlier commit of the batch may have moved this test's lines.
                outcome = self._prove(test.nodeid, ApplyOptions())
            except FlakeTUIError as exc:  # this test cannot be fixed here: say why, go on with the next
                outcome = ApplyOutcome(ApplyStatus.NOT_PROVEN, f"{exc.message} {exc.hint}".strip())
            self.post_message(self.Finished(test.key, outcome, batch=True))

    def _prove(self, test: FlakyTest | str, options: ApplyOptions) -> ApplyOutcome:
        """Runs in a worker: write, prove, ask (the commit dialog), commit."""
        worker = get_current_worker()

        def confirm(plan: FixPlan) -> bool:
            answer = Answer()
            self.post_message(self.Confirm(plan, answer))
            return answer.wait(lambda: worker.is_cancelled)

        def on_run(result: RunResult) -> None:
            self.post_message(self.Run(result))

        def on_phase(text: str) -> None:
            self.post_message(self.Phase(text))

        return self.service.apply_fix(
            test, options, on_run=on_run, on_phase=on_phase, should_stop=lambda: worker.is_cancelled, confirm=confirm
        )

    # -- their messages ----------------------------------------------------------------------------
    @on(Proposed)
    def _proposed(self, message: Proposed) -> None:
        message.stop()
        self.found, self.index = message.found, 0
        count = sum(1 for p in message.found.proposals if p.changes_code)
        self.model.say(f"{count} fix(es) to propose; p shows the next, w writes one" if count else "no fix to write")
        self._view().show_proposals(message.found, 0)

    @on(Phase)
    def _phase(self, message: Phase) -> None:
        message.stop()
        self._phase_text, self._runs = message.text, []
        self.model.say(message.text)
        self._view().start_phase(message.text)

    @on(Run)
    def _run(self, message: Run) -> None:
        message.stop()
        self._runs.append(message.result)
        failed = sum(1 for r in self._runs if r.outcome not in (RunOutcome.PASSED, RunOutcome.SKIPPED))
        self.model.say(f"{self._phase_text}: {len(self._runs)} done, {failed} failed")
        self._view().add_run(message.result)

    @on(Confirm)
    def _confirm(self, message: Confirm) -> None:
        message.stop()
        self.app.push_screen(CommitDialog(message.plan), lambda include: message.answer(include is not None))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        message.stop()
        outcome = message.outcome
        self._view().finish(outcome, batch=message.batch)
        self.model.say(headline(outcome.summary, committed=outcome.record is not None))
        if outcome.record is not None:
            self.found = None
            # Through the committer, which records it in the model; it bubbles on to the screen,
            # which reloads the repository, as after ``c``.
            self.committer.post_message(Committer.Committed(outcome.record, (message.key,)))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "fix" and event.state is WorkerState.ERROR:
            self.model.say()
        forward_failure(self, event)


def headline(summary: str, *, committed: bool) -> str:
    """The activity line's part of an outcome: its first clause, never cut inside a parenthesis
    (``No fix held``), and where the rest is when that is not a commit."""
    cuts = [i for i in (summary.find(" ("), summary.find(";")) if i > 0]
    head = summary[:min(cuts)] if cuts else summary
    return head if committed else f"{head.rstrip('.')} · the Fix tab says why (D enlarges it)"
