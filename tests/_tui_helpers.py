"""Projects and waiting helpers for the app's Pilot and snapshot tests."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine
from typing import Any
from pathlib import Path

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

#: Three flaky-marked tests: one that fails every third run (a counter file next to it),
#: one that always passes (safe to commit), one that sleeps a fixed time (``time``/``async``).
PROJECT = {
    "pyproject.toml": """\
        [tool.pytest.ini_options]
        testpaths = ["tests"]
    """,
    "tests/__init__.py": "",
    "tests/test_counter.py": """\
        import pathlib

        import pytest

        COUNTER = pathlib.Path(__file__).with_name("counter.txt")


        @pytest.mark.flaky(reruns=3)
        def test_every_third_run_fails():
            count = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
            COUNTER.write_text(str(count))
            assert count % 3 != 0
    """,
    "tests/test_stable.py": """\
        import pytest


        @pytest.mark.flaky(reruns=2)
        def test_always_passes():
            assert 1 + 1 == 2
    """,
    "tests/test_time.py": """\
        import datetime

        import pytest


        @pytest.mark.flaky(reruns=2)
        def test_today_is_a_weekday():
            assert datetime.datetime.now().year > 2000
    """,
    ".gitignore": "counter.txt\nrunning.txt\n",
}

#: A test whose first run passes and whose second blocks until killed: cancel it mid-run.
BLOCKING = {
    "tests/test_blocking.py": """\
        import os
        import pathlib
        import time

        import pytest

        MARK = pathlib.Path(__file__).with_name("running.txt")


        @pytest.mark.flaky(reruns=1)
        def test_blocks_on_second_run():
            if MARK.exists():
                MARK.write_text(str(os.getpid()))
                time.sleep(600)
            MARK.write_text("first")
    """,
}


async def settle(pilot: Pilot, *, rounds: int = 200) -> None:
    """Wait until no worker runs. Queued verifications start from handlers after the
    previous one ends, so one ``wait_for_complete`` is not enough: loop until idle."""
    app = pilot.app
    for _ in range(rounds):
        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:
            pass  # the app turns it into a dialog; the test looks at that
        except WorkerCancelled:
            pass  # an exclusive worker replaced by a newer one (the cursor moved on)
        await pilot.pause()
        # A key pressed sets diagnosis aside until it is quiet: no worker runs in between.
        scanner = getattr(getattr(app, "main", None), "scanner", None)
        if scanner is not None and scanner.waiting_for_quiet:
            await pilot.pause(0.05)
            continue
        if not any(w.is_running for w in app.workers):
            return
    raise AssertionError("the app's workers never finished")


async def wait_for(pilot: Pilot, done: Callable[[], bool], *, rounds: int = 3000) -> None:
    """Wait for a condition a subprocess brings about while a worker still runs (a run
    finishing): no worker completes to wait on, so poll between Pilot pauses."""
    for _ in range(rounds):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError("the condition never held")


def processes_under(root: Path) -> list[int]:
    """Live processes whose working directory or command line mentions ``root``."""
    found = []
    needle = str(root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd").encode()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and (needle in cmdline or cwd.startswith(needle)):
            found.append(int(entry.name))
    return found


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test in its own event loop (no asyncio plugin in our suite)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
