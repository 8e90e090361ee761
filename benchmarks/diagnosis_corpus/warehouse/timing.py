"""A stopwatch for the pick-rate dashboard."""

from __future__ import annotations

import time


class Stopwatch:
    def __init__(self) -> None:
        self.duration = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.duration = time.perf_counter() - self._started
