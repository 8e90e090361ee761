"""Fix proposals in the app: ``p`` shows the remedy flaketui can write (``p`` again: the next
one), ``w`` writes it, proves it before and after, and opens the commit dialog.

``Fixer`` is a widget that shows nothing: it owns the propose and apply workers, which only
post messages; the screen shows them in the Fix tab. The commit dialog is answered from the
worker's point of view through ``confirm``: the worker waits for the answer, the app stays live.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from flaketui.models import FlakyTest, RunResult

if TYPE_CHECKING:
    from flaketui.apply_fix import ApplyOutcome
    from flaketui.proposals import ProposalSet
    from flaketui.service import FixPlan, Service

Key = tuple[str, str]


class Fixer(Widget):
    """The propose / apply-and-prove workflow of the app."""

    @dataclass
    class Proposed(Message):
        key: Key
        found: ProposalSet

    @dataclass
    class Phase(Message):
        """``before: 20 runs of the unfixed test, forked`` / ``after: ...``."""

        key: Key
        text: str

    @dataclass
    class Run(Message):
        key: Key
        result: RunResult

    @dataclass
    class Confirm(Message):
        """The proof held: show ``plan`` and call ``answer`` with the user's choice."""

        plan: FixPlan
        answer: Answer

    @dataclass
    class Finished(Message):
        key: Key
        outcome: ApplyOutcome

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service

    @work(thread=True, exclusive=True, exit_on_error=False, group="fix", name="propose")
    def propose(self, test: FlakyTest) -> None:
        self.post_message(self.Proposed(test.key, self.service.propose_fixes(test)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="fix", name="fix")
    def apply(self, test: FlakyTest, choice: int) -> None:
        from flaketui.apply_fix import ApplyOptions

        worker = get_current_worker()

        def confirm(plan: FixPlan) -> bool:
            answer = Answer()
            self.post_message(self.Confirm(plan, answer))
            return answer.wait(lambda: worker.is_cancelled)

        outcome = self.service.apply_fix(
            test,
            ApplyOptions(choice=choice, alternatives=1),
            on_run=lambda result: self.post_message(self.Run(test.key, result)),
            on_phase=lambda text: self.post_message(self.Phase(test.key, text)),
            should_stop=lambda: worker.is_cancelled,
            confirm=confirm,
        )
        self.post_message(self.Finished(test.key, outcome))


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
