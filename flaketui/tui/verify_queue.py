"""Verifications wait in one queue and run one at a time (one consumer).

Exclusive workers would cancel each other; a queue lets a user press ``v`` on five rows and
get five verifications. The app's handlers own this object (main thread only); a running
job's ``stop`` event is the only thing its worker thread reads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flaketui.models import FlakyTest, TestKey, VerifyMode

_ids = count(1)


@dataclass
class VerifyJob:
    tests: tuple[FlakyTest, ...]
    runs: int
    mode: VerifyMode
    #: The test whose commit waits for this verification (``c`` verifies first).
    then_commit: FlakyTest | None = None
    id: int = field(default_factory=lambda: next(_ids))
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def keys(self) -> set[TestKey]:
        return {t.key for t in self.tests}


class VerifyQueue:
    def __init__(self) -> None:
        self._waiting: deque[VerifyJob] = deque()
        self.current: VerifyJob | None = None

    def add(self, job: VerifyJob) -> None:
        self._waiting.append(job)

    def start_next(self) -> VerifyJob | None:
        """The job to run now, if nothing runs and one waits."""
        if self.current is None and self._waiting:
            self.current = self._waiting.popleft()
            return self.current
        return None

    def finish(self, job: VerifyJob) -> None:
        if self.current is job:
            self.current = None

    def cancel_current(self) -> VerifyJob | None:
        if self.current is not None:
            self.current.stop.set()
        return self.current

    def drop_waiting(self, key: TestKey) -> bool:
        """Take a test out of the waiting jobs (``x`` on a queued row)."""
        before = len(self._waiting)
        self._waiting = deque(j for j in self._waiting if key not in j.keys)
        return len(self._waiting) != before

    def stop_all(self) -> None:
        """Quitting: nothing waiting starts, the running one is killed."""
        self._waiting.clear()
        self.cancel_current()

    def waiting(self) -> Iterator[VerifyJob]:
        return iter(self._waiting)

    def is_waiting(self, key: TestKey) -> bool:
        return any(key in j.keys for j in self._waiting)

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self._waiting)
