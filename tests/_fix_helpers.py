"""Builders for the fix/commit/undo tests: flaky tests and verifications of the real tree."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from flaketui import vcs
from flaketui.models import (
    FixPlan,
    FlakyTest,
    Marker,
    MarkerKind,
    MarkerScope,
    RemovedMarker,
    RunOutcome,
    RunResult,
    Verdict,
    Verification,
    VerifyMode,
)
from flaketui.service import Service

from tests.conftest import git, write_files

FLAKY_SOURCE = (
    "import pytest\n"
    "\n"
    "\n"
    "@pytest.mark.flaky(reruns=3)\n"
    "def test_y():\n"
    "    assert compute() == 2\n"
)
FIXED_SOURCE = FLAKY_SOURCE.replace("compute() == 2", "compute(seed=1) == 2")
REMOVED_SOURCE = FIXED_SOURCE.replace("@pytest.mark.flaky(reruns=3)\n", "")


def flaky_test(path: str = "tests/test_x.py", name: str = "test_y", line: int = 5) -> FlakyTest:
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, path, line - 1, "@pytest.mark.flaky(reruns=3)")
    return FlakyTest(nodeid=f"{path}::{name}", rootdir=".", path=path, line=line, name=name, markers=(marker,))


def verification_of_tree(
    root: Path, test: FlakyTest, *, passed: int = 10, runs: int = 10, verdict: Verdict = Verdict.STABLE
) -> Verification:
    """A verification as the engine records it, pinned to the tree as it is right now."""
    state = vcs.tree_state(root)
    results = tuple(
        RunResult(test.nodeid, i, RunOutcome.PASSED if i < passed else RunOutcome.FAILED) for i in range(runs)
    )
    return Verification(
        nodeid=test.nodeid,
        rootdir=test.rootdir,
        mode=VerifyMode.FORKED,
        runs_requested=10,
        results=results,
        verdict=verdict,
        command="python -m pytest",
        head=state.head,
        tree_fingerprint=state.fingerprint,
        python="/repo/.venv/bin/python (from .venv) · Python 3.11.7, pytest 8.4.2",
        dirty_paths=state.dirty_paths,
    )


def record_verification(service: Service, test: FlakyTest, **kwargs: object) -> Verification:
    verification = verification_of_tree(service.root, test, **kwargs)  # type: ignore[arg-type]
    service.record.add_verification(verification)
    return verification


def plan_with(test: FlakyTest, root: Path, new_content: bytes) -> FixPlan:
    """A plan as ``plan_fix`` makes it, with the removal given instead of computed."""
    current = (root / test.path).read_bytes()
    return FixPlan(
        target=test.nodeid,
        tests=(test,),
        diff="",
        message="",
        new_contents=((test.path, new_content),),
        sources=((test.path, hashlib.sha256(current).hexdigest()),),
        restore=(RemovedMarker.of(test, test.marker),),
    )


def repo_state(root: Path) -> dict[str, bytes]:
    """Every work-tree file, the index and HEAD, as bytes: "nothing changed" means equal."""
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    files["<index>"] = vcs.git_path(root, "index").read_bytes()
    files["<HEAD>"] = (vcs.head(root) or "").encode()
    return files


def start_conflicting_merge(repo: Path) -> None:
    """Leave ``repo`` mid-merge: two branches change README, and the merge stops on the conflict."""
    git(repo, "checkout", "-q", "-b", "other")
    write_files(repo, {"README": "other\n"})
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    write_files(repo, {"README": "main\n"})
    git(repo, "commit", "-q", "-am", "main")
    with pytest.raises(Exception):
        git(repo, "merge", "other")


def counter_fixture(counter: Path) -> str:
    """A ``run_number`` fixture: 0, 1, 2... across runs, counted in a file outside the repository."""
    return textwrap.dedent(f"""\
        import pathlib

        import pytest


        @pytest.fixture
        def run_number():
            path = pathlib.Path({str(counter)!r})
            runs = int(path.read_text()) if path.exists() else 0
            path.write_text(str(runs + 1))
            return runs
    """)


def sleepy(slow_when: str) -> str:
    """A worker thread that is slow on the runs ``slow_when`` selects; the test sleeps instead of joining."""
    return textwrap.dedent(f"""\
        import threading
        import time

        import pytest


        @pytest.mark.flaky(reruns=2)
        def test_worker_fills_the_box(run_number):
            box = []
            delay = 0.3 if {slow_when} else 0.0
            worker = threading.Thread(target=lambda: (time.sleep(delay), box.append(1)))
            worker.start()
            time.sleep(0.05)
            assert box == [1]
    """)
