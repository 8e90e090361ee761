"""Helpers for the discovery tests: scan a directory, and ask real pytest what it collects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from flaketui.discover.engine import scan_repository
from flaketui.discover.files import walk_files
from flaketui.models import FlakyTest, ScanResult


def scan(root: Path) -> ScanResult:
    """The engine on a plain directory (no git, no cache): what the service does outside git.

    Each call also scans a committed git copy of the directory, where ``git grep`` picks the
    files Python reads, and checks that both answers agree.
    """
    result = scan_repository(root, walk_files(root))
    _assert_the_git_scan_agrees(root, result)
    return result


def _assert_the_git_scan_agrees(root: Path, expected: ScanResult) -> None:
    from flaketui import vcs
    from flaketui.service import Service

    copy = root.parent / f"{root.name}-in-git"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "fixture"]):
        subprocess.run(["git", *args], cwd=copy, check=True, capture_output=True)
    if sorted(vcs.list_files(copy)) != sorted(walk_files(copy)):
        return  # git ignores part of the fixture (a .gitignore): the two scans see different files
    found = Service(copy).scan(use_cache=False)
    assert (found.tests, found.findings, found.skipped, found.files_scanned) == (
        expected.tests, expected.findings, expected.skipped, expected.files_scanned
    )


def by_nodeid(result: ScanResult, rootdir: str = ".") -> dict[str, FlakyTest]:
    return {t.nodeid: t for t in result.tests if t.rootdir == rootdir}


def assert_agrees_with_pytest(root: Path) -> None:
    """flaketui's flaky tests under ``root`` are exactly those ``pytest -m flaky`` selects."""
    expected = pytest_collect(root, "-m", "flaky")
    found = set(by_nodeid(scan(root)))
    assert expected, "the fixture project must hold flaky tests"
    assert found == expected


def pytest_collect(directory: Path, *args: str) -> set[str]:
    """``pytest --collect-only -q`` node ids, run from ``directory`` with no plugin of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--collect-only", "-q",
            "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist",
            "-p", "no:rerunfailures", "-p", "no:flaky", "-p", "no:pytest-retry",
            "-W", "ignore::pytest.PytestCollectionWarning", *args,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line and not line.startswith(" ")}
