"""The app's workers (scan, verify, commit, fix, hunt) and the messages they post."""

from __future__ import annotations

from textual.message import Message


class ProgressReport(Message):
    """How far a worker is: a newer report replaces one of its kind still waiting in the queue."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)
