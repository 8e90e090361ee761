"""`flaketui fix --apply`: real pytest runs before and after, real commits, files restored byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui import vcs
from flaketui.cli import main
from flaketui.proof import lower_bound, runs_for_rate, runs_needed

from tests._fix_helpers import counter_fixture, repo_state, sleepy
from tests.conftest import MakeRepo, git

TEST_FILE = "tests/test_box.py"


@pytest.fixture
def make_project(make_repo: MakeRepo, tmp_path: Path):
    def factory(source: str) -> Path:
        return make_repo({
            "tests/conftest.py": counter_fixture(tmp_path / "counter"),
            TEST_FILE: source,
            "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
        })

    return factory


def _apply(root: Path, *args: str) -> int:
    return main(["-C", str(root), "fix", f"{TEST_FILE}::test_worker_fills_the_box", "--apply", "--yes", *args])


def test_fix_is_proven_and_committed_with_the_marker_removal(make_project, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(sleepy("run_number % 2 == 1"))
    head = vcs.head(root)
    assert _apply(root, "--runs-before", "10", "--min-runs", "3") == 0
    message = vcs.commit_message(root, "HEAD")
    assert "before: 5 of 10 runs failed; after: 0 of 10; fixed at 95% (forked)" in message
    assert "Fix: Wait for the event, not a fixed time (wait.event)" in message
    committed = vcs.show_file(root, "HEAD", TEST_FILE) or b""
    assert b"worker.join(timeout=10)" in committed and b"time.sleep(0.05)" not in committed
    assert b"flaky" not in committed
    assert git(root, "rev-parse", "HEAD~1").strip() == head
    assert vcs.status(root) == {}


def test_fix_that_does_not_hold_restores_every_byte(make_project, capsys: pytest.CaptureFixture[str]) -> None:
    # The slow runs also fail an assertion of their own: joining cannot cure that.
    source = sleepy("run_number % 2 == 1").replace("    assert box == [1]\n", "    assert box == [1]\n    assert delay == 0.0\n")
    root = make_project(source)
    before = repo_state(root)
    assert _apply(root, "--runs-before", "10", "--min-runs", "3") == 1
    err = capsys.readouterr().err
    assert "No fix held (wait.event: before: 5 of 10 runs failed; after: 1 of 2; not fixed (forked)" in err
    assert repo_state(root) == before


def test_test_that_never_fails_gets_a_marker_only_commit(make_project, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(sleepy("False"))
    assert _apply(root, "--runs-before", "5") == 0
    message = vcs.commit_message(root, "HEAD")
    assert "before: 0 of 5 runs failed (forked): no cause was seen failing; the marker alone is removed" in message
    committed = vcs.show_file(root, "HEAD", TEST_FILE) or b""
    assert b"time.sleep(0.05)" in committed and b"flaky" not in committed
    assert vcs.status(root) == {}


def test_too_rare_a_failure_is_refused_unchanged(make_project, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(sleepy("run_number == 3"))
    before = repo_state(root)
    assert _apply(root, "--runs-before", "10", "--max-runs", "50") == 4
    assert "more than --max-runs 50" in capsys.readouterr().err
    assert repo_state(root) == before


def test_hand_fix_is_measured_before_at_head_and_committed(make_project, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(sleepy("run_number % 2 == 1"))
    edited = (root / TEST_FILE).read_text().replace("    time.sleep(0.05)\n", "    worker.join()\n")
    (root / TEST_FILE).write_text(edited)
    args = ["-C", str(root), "fix", f"{TEST_FILE}::test_worker_fills_the_box", "--prove", "--yes"]
    assert main([*args, "--runs-before", "10", "--min-runs", "3"]) == 0
    message = vcs.commit_message(root, "HEAD")
    assert "Fix: written by hand.\nbefore: 5 of 10 runs failed; after: 0 of 10; fixed at 95% (forked)" in message
    committed = vcs.show_file(root, "HEAD", TEST_FILE) or b""
    assert b"    worker.join()\n" in committed and b"time.sleep(0.05)" not in committed and b"flaky" not in committed
    assert vcs.status(root) == {}


def test_network_only_test_runs_nothing_and_changes_nothing(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({
        TEST_FILE: (
            "import urllib.request\n\nimport pytest\n\n\n@pytest.mark.flaky(reruns=2)\n"
            "def test_worker_fills_the_box():\n"
            '    assert urllib.request.urlopen("https://partner.example.com/health", timeout=0.5).status == 200\n'
        ),
    })
    before = repo_state(root)
    assert _apply(root) == 3
    assert "Keep the marker" in capsys.readouterr().err
    assert repo_state(root) == before


@pytest.mark.parametrize(
    ("rate", "runs"),
    [pytest.param(0.5, 5, id="half"), pytest.param(0.1, 29, id="tenth"), pytest.param(0.02, 149, id="two-percent")],
)
def test_clean_runs_that_rule_out_a_rate(rate: float, runs: int) -> None:
    assert runs_for_rate(rate) == runs


def test_runs_needed_uses_a_lower_bound_and_the_minimum() -> None:
    assert runs_needed(0, 20) is None
    assert 0 < lower_bound(11, 20) < 11 / 20
    assert runs_needed(11, 20, minimum=3) == runs_for_rate(lower_bound(11, 20)) > runs_for_rate(11 / 20)
    assert runs_needed(20, 20, minimum=10) == 10
    assert runs_needed(1, 20) > 200  # one failure in twenty cannot be proven within the default budget
