"""The app's workers (scan, verify, commit, fix, hunt) and the messages they post."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message
from textual.widget import Widget

if TYPE_CHECKING:
    from flaketui.service import Service
    from flaketui.tui.triage import TriageModel


class Flow(Widget):
    """A widget with no look that runs one kind of work: it calls the service in workers and
    tells the triage model what came of it."""

    def __init__(self, service: Service, model: TriageModel) -> None:
        super().__init__()
        self.service = service
        self.model = model


class ProgressReport(Message):
    """How far a worker is: a newer report replaces one of its kind still waiting in the queue."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)
