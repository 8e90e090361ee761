"""``flaketui fix`` without a terminal: what it needs is checked before any run, a
verification of the very same tree is reused, and what a verification cannot prove (few runs,
a marker for another platform) needs an explicit --anyway. Real runs, real commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.service import Service
from tests.conftest import MakeRepo, git

TEST = "tests/test_jobs.py::test_expiry"
STABLE = """\
import pytest


@pytest.mark.flaky(reruns=3)
def test_expiry():
    assert True
"""
#: A marker that applies on Windows only: runs on this machine say nothing about it.
WINDOWS_ONLY = """\
import sys

import pytest

WINDOWS = sys.platform == "win32"


@pytest.mark.flaky(reruns=3, condition=WINDOWS)
def test_expiry():
    assert True
"""


def fix(root: Path, *args: str) -> int:
    return main(["-C", str(root), "fix", TEST, *args])


def commits(root: Path) -> int:
    return int(git(root, "rev-list", "--count", "HEAD"))


def test_without_a_terminal_or_yes_it_refuses_before_any_run(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_jobs.py": STABLE})
    assert fix(root) == 2
    assert "no terminal to ask on; nothing was run" in capsys.readouterr().err
    assert Service(root).history(TEST) == []


def test_fewer_runs_than_min_runs_need_anyway_and_are_refused_before_the_runs(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_jobs.py": STABLE})
    assert fix(root, "--yes", "--runs", "3") == 2
    assert "--runs 3 is fewer than the 10 [tool.flaketui] min-runs asks" in capsys.readouterr().err
    assert Service(root).history(TEST) == [] and commits(root) == 1
    assert fix(root, "--yes", "--runs", "3", "--anyway") == 0
    err = capsys.readouterr().err
    assert "caution: tests/test_jobs.py::test_expiry was verified with 3 runs, fewer than the 10" in err
    assert "3/3 passes still allow a failure rate of 63% at 95%" in err
    assert commits(root) == 2


def test_a_verification_of_the_same_tree_is_reused_not_run_again(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_jobs.py": STABLE})
    [verified] = Service(root).verify([TEST], runs=10)
    assert fix(root, "--yes") == 0
    assert "Reusing the verification of this very tree" in capsys.readouterr().err
    assert Service(root).history(TEST) == [verified]
    assert f"Flaky-Verified: {verified.passed}/{verified.runs}" in git(root, "log", "-1", "--format=%B")


def test_a_verification_of_another_tree_is_not_reused(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_jobs.py": STABLE, "src/app.py": "X = 1\n"})
    Service(root).verify([TEST], runs=10)
    (root / "src/app.py").write_text("X = 2\n")
    assert fix(root, "--yes") == 0
    assert "Reusing" not in capsys.readouterr().err
    assert len(Service(root).history(TEST)) == 2


def test_a_marker_for_another_platform_needs_anyway(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_jobs.py": WINDOWS_ONLY})
    assert fix(root, "--yes") == 2
    err = capsys.readouterr().err
    assert "condition=WINDOWS, which names Windows" in err and "prove nothing about Windows" in err
    assert Service(root).history(TEST) == [] and commits(root) == 1
    assert fix(root, "--yes", "--anyway") == 0
    assert "caution: tests/test_jobs.py::test_expiry: its marker applies only when condition=WINDOWS" in capsys.readouterr().err
    assert commits(root) == 2


def test_the_audit_says_a_verification_here_proves_nothing_for_another_platforms_marker(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_jobs.py": WINDOWS_ONLY})
    Service(root).verify([TEST], runs=2)
    assert main(["-C", str(root), "audit"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| `{TEST}` | 2/2"))
    assert "stable; caution: its marker applies only when condition=WINDOWS" in row
    assert "prove nothing about Windows" in row
