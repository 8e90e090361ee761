"""`fix --apply` and `fix --prove` on a test no marker covers, that CI history shows flaky:
the commit holds just the fix. Real pytest runs, real JUnit reports, real commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui import vcs
from flaketui.cli import main
from flaketui.service import Service

from tests._fix_helpers import counter_fixture, repo_state, sleepy
from tests.conftest import MakeRepo, git

TEST_FILE = "tests/test_box.py"
NODEID = f"{TEST_FILE}::test_worker_fills_the_box"
#: The helper's test without its marker: nobody marked it, CI reruns hid it.
UNMARKED = sleepy("run_number % 2 == 1").replace("@pytest.mark.flaky(reruns=2)\n", "")


def _report(directory: Path, index: int, failed: bool) -> Path:
    outcome = '<failure message="assert [] == [1]">AssertionError</failure>' if failed else ""
    path = directory / f"run{index}.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="pytest" tests="1" '
        f'timestamp="2026-11-0{index}T09:00:00">'
        f'<testcase classname="tests.test_box" name="test_worker_fills_the_box" time="0.1">{outcome}</testcase>'
        "</testsuite></testsuites>\n"
    )
    return path


@pytest.fixture
def project(make_repo: MakeRepo, tmp_path: Path) -> Path:
    root = make_repo({
        "tests/conftest.py": counter_fixture(tmp_path / "counter"),
        TEST_FILE: UNMARKED,
        "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    })  # fmt: skip
    reports = tmp_path / "reports"
    reports.mkdir()
    Service(root).import_junit([_report(reports, 1, failed=True), _report(reports, 2, failed=False)])
    return root


def test_unmarked_test_gets_its_fix_committed_alone(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "flaky" not in UNMARKED
    head = vcs.head(project)
    assert main(["-C", str(project), "fix", NODEID, "--apply", "--yes", "--runs-before", "10", "--min-runs", "3"]) == 0
    assert "the fix alone (the test carries no marker)" in capsys.readouterr().out
    message = vcs.commit_message(project, "HEAD")
    assert message.startswith(f"test: fix flaky {NODEID} (no marker to remove)\n")
    assert "before: 5 of 10 runs failed; after: 0 of 10; fixed at 95% (forked)" in message
    committed = vcs.show_file(project, "HEAD", TEST_FILE) or b""
    assert committed == UNMARKED.replace("    time.sleep(0.05)\n", "    worker.join(timeout=10)\n").encode()
    assert git(project, "diff", "--name-only", f"{head}..HEAD").split() == [TEST_FILE]
    assert vcs.status(project) == {}
    capsys.readouterr()
    assert main(["-C", str(project), "undo"]) != 0  # no marker to put back: undo says so, changes nothing
    assert "carried no flaky marker: there is no marker to put back" in capsys.readouterr().err
    assert vcs.status(project) == {}


def test_unmarked_test_that_never_fails_changes_nothing(make_repo: MakeRepo, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    root = make_repo({
        "tests/conftest.py": counter_fixture(tmp_path / "counter"),
        TEST_FILE: sleepy("False").replace("@pytest.mark.flaky(reruns=2)\n", ""),
        "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    })  # fmt: skip
    reports = tmp_path / "reports"
    reports.mkdir()
    Service(root).import_junit([_report(reports, 1, failed=True), _report(reports, 2, failed=False)])
    before = repo_state(root)
    assert main(["-C", str(root), "fix", NODEID, "--apply", "--yes", "--runs-before", "3"]) == 1
    assert "carries no marker: there is no failure to prove a fix against" in capsys.readouterr().err
    assert repo_state(root) == before


def test_hand_fix_of_an_unmarked_test_commits_the_test_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = UNMARKED.replace("    time.sleep(0.05)\n", "    worker.join()\n")
    (project / TEST_FILE).write_text(fixed)
    assert main(["-C", str(project), "fix", NODEID, "--prove", "--yes", "--runs-before", "10", "--min-runs", "3"]) == 0
    message = vcs.commit_message(project, "HEAD")
    assert message.startswith(f"test: fix flaky {NODEID} (no marker to remove)\n") and "Fix: written by hand." in message
    assert vcs.show_file(project, "HEAD", TEST_FILE) == fixed.encode()
    assert vcs.status(project) == {}


def test_a_test_neither_marked_nor_found_flaky_is_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(project), "fix", f"{TEST_FILE}::test_elsewhere", "--propose"]) != 0
    assert "no hunt or CI history shows it flaky" in capsys.readouterr().err
