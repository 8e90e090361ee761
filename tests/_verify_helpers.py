"""Target projects for the verification tests: small pytest projects with deterministic flakiness."""

from __future__ import annotations

import os
import select
from pathlib import Path

from tests.conftest import write_files

#: Our test environment has heavy pytest plugins no target needs (textual snapshots, syrupy,
#: hypothesis): blocking them takes a target's start-up from seconds to a fraction of one.
LIGHT = "-p no:textual-snapshot -p no:syrupy -p no:hypothesispytest"

PYTEST_INI = f"""\
[pytest]
addopts = --strict-markers {LIGHT}
"""

#: Fails on its third run, whatever isolates the runs: the count lives in a file.
COUNTER_TEST = '''
import pathlib

COUNTER = pathlib.Path(__file__).with_name("counter.txt")


def test_third_run_fails():
    count = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(count))
    assert count != 3
'''

#: Pass only in a process where no earlier run has been: shared state, two ways.
LEAK_TESTS = '''
import os

CALLS = []


def test_env_leak():
    first = "FLAKETUI_TEST_LEAK" not in os.environ
    os.environ["FLAKETUI_TEST_LEAK"] = "1"
    assert first, "an earlier run left FLAKETUI_TEST_LEAK behind"


def test_module_global():
    CALLS.append(1)
    assert len(CALLS) == 1, "an earlier run appended to CALLS"
'''

#: Writes what a fresh process would vary, one line per run.
RECORDING_TESTS = '''
import os
import pathlib
import random

OUT = pathlib.Path(__file__).with_name("seen.txt")


def test_records_hash_and_random():
    with OUT.open("a") as out:
        out.write("%d|%r|%s\\n" % (hash("flaketui"), random.random(), os.environ.get("PYTHONHASHSEED", "")))
'''


def project(root: Path, files: dict[str, str], ini: str = PYTEST_INI) -> Path:
    """A pytest project at ``root`` (its own pytest.ini, so it is its rootdir)."""
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, {"pytest.ini": ini, **files})
    return root


def outcomes(verification) -> list[str]:
    return [str(r.outcome) for r in verification.results]


def wait_until_dead(pid: int, timeout: float = 10.0) -> bool:
    """True once ``pid`` has exited (a zombie counts: it runs nothing). Waits on a pidfd, no polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)
