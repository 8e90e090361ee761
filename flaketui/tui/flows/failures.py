"""A worker's failure, wherever it ran, reaches the screen as one message.

``Worker.StateChanged`` does not bubble, so each flow forwards the failures of its own
workers; the screen turns every one into a dialog with what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState


@dataclass
class WorkFailed(Message):
    #: The worker's name: what failed (``scan``, ``verify``, ``commit``...).
    what: str
    error: BaseException


def forward_failure(node: Widget, event: Worker.StateChanged) -> None:
    """Post ``WorkFailed`` for a worker of ``node`` that raised."""
    worker = event.worker
    if event.state is WorkerState.ERROR and worker.error is not None:
        node.post_message(WorkFailed(worker.name, worker.error))
