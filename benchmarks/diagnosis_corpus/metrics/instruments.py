"""Request timings for the shop's dashboard: a timer context and a sampling profiler facade."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class Registry:
    def __init__(self) -> None:
        self.timings: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def timer(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name].append(time.perf_counter() - started)


class Throttle:
    """At most ``rate`` acquisitions per second."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._last = 0.0

    def acquire(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()


def simulate_work(seconds: float) -> None:
    time.sleep(seconds)
