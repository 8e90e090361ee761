"""What a key will start: how many tests, how many runs, and about how long they take.

A rough estimate on purpose (the point is to tell ten seconds from ten minutes before a key
queues them): each test pays pytest's start-up once (forked, same-process, random order) or
once per run (fresh-process, parallel), plus its runs at the duration its last verification
measured, or a default where it has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaketui.models import VerifyMode

if TYPE_CHECKING:
    from flaketui.models import Verification

#: Seconds for an interpreter to start and pytest to collect one test (a small project).
STARTUP = 1.5
#: Seconds per run of a test never verified here.
DEFAULT_RUN = 0.3
#: Above this many seconds a key that covers more than the selected test asks first.
ASK_ABOVE = 60.0

_STARTUP_PER_RUN = {VerifyMode.FRESH_PROCESS, VerifyMode.PARALLEL}


@dataclass(frozen=True)
class Workload:
    tests: int
    runs: int
    seconds: float

    @property
    def total_runs(self) -> int:
        return self.tests * self.runs

    def describe(self) -> str:
        """``3 tests × 10 runs = 30 runs, about 20 s``."""
        tests = f"{self.tests} test{'' if self.tests == 1 else 's'}"
        runs = f"{self.runs} run{'' if self.runs == 1 else 's'}"
        total = f" = {self.total_runs} runs" if self.tests > 1 else ""
        return f"{tests} × {runs}{total}, about {duration_text(self.seconds)}"

    def needs_asking(self, *, only_the_selected: bool) -> bool:
        """Long work that covers more than the selected test is confirmed first."""
        return not only_the_selected and self.seconds > ASK_ABOVE


def estimate(last: Sequence[Verification | None], runs: int, mode: VerifyMode) -> Workload:
    """The workload of verifying tests whose last verifications are ``last`` (None: never)."""
    seconds = 0.0
    for verification in last:
        per_run = _mean_run(verification)
        if mode in _STARTUP_PER_RUN:
            seconds += runs * (STARTUP + per_run)
        else:
            seconds += STARTUP + runs * per_run
    return Workload(len(last), runs, seconds)


def _mean_run(verification: Verification | None) -> float:
    durations = [r.duration for r in verification.results if r.duration > 0] if verification else []
    return sum(durations) / len(durations) if durations else DEFAULT_RUN


def duration_text(seconds: float) -> str:
    """``8 s``, ``2 min``, ``1 h 5 min``: as precise as an estimate deserves."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"
