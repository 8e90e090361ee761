"""`flaketui fix` and `flaketui undo` end to end: real scans, real pytest runs, real commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui import vcs
from flaketui.cli import main
from flaketui.service import Service
from tests._fix_helpers import repo_state as _state
from tests._fix_helpers import start_conflicting_merge
from tests.conftest import MakeRepo, git, write_files

TEST_FILE = "tests/test_jobs.py"


def _flaky_source(counter: Path) -> str:
    """A test that fails on every third run, counted in a file outside the repository (a
    counter inside it would itself change the tree that was verified)."""
    return (
        "import pathlib\n"
        "\n"
        "import pytest\n"
        "\n"
        "\n"
        "@pytest.fixture\n"
        "def counter():\n"
        f"    return pathlib.Path({str(counter)!r})\n"
        "\n"
        "\n"
        "@pytest.mark.flaky(reruns=3)\n"
        "def test_expiry(counter):\n"
        "    runs = int(counter.read_text()) if counter.exists() else 0\n"
        "    counter.write_text(str(runs + 1))\n"
        "    assert runs % 3 != 2\n"
    )


def _fixed(source: str) -> str:
    return source.replace("    assert runs % 3 != 2\n", "    assert runs >= 0\n")


@pytest.fixture
def repo(make_repo: MakeRepo, tmp_path: Path) -> Path:
    return make_repo(
        {
            TEST_FILE: _flaky_source(tmp_path / "counter"),
            "tests/conftest.py": "import pytest\n",
            "src/app.py": "X = 1\n",
            "README": "hi\n",
        }
    )




def _committed(root: Path) -> list[str]:
    return sorted(git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").split())


def _fix(root: Path, *args: str) -> int:
    # Three runs are fewer than min-runs asks: --anyway accepts that caution (see test_fix_cautions.py).
    return main(["-C", str(root), "fix", f"{TEST_FILE}::test_expiry", "--runs", "3", "--anyway", *args])


def test_flaky_test_is_not_committed_and_nothing_changes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _state(repo)
    assert _fix(repo, "--yes") == 1
    err = capsys.readouterr().err
    assert "..F" in err and "Not stable: the marker stays and nothing was changed." in err
    assert f"`flaketui explain {TEST_FILE}::test_expiry` shows the likely cause." in err
    assert _state(repo) == before


def test_fixed_test_is_verified_and_committed_alone(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = (repo / TEST_FILE).read_text()
    write_files(repo, {TEST_FILE: _fixed(source), "README": "staged\n", "src/app.py": "X = 2\n"})
    git(repo, "add", "README")
    assert _fix(repo, "--yes", "--category", "time") == 0
    out = capsys.readouterr().out
    assert "-@pytest.mark.flaky(reruns=3)" in out and "+    assert runs >= 0" in out
    assert _committed(repo) == [TEST_FILE]
    committed = vcs.show_file(repo, "HEAD", TEST_FILE)
    assert committed == _fixed(source).replace("@pytest.mark.flaky(reruns=3)\n", "").encode()
    assert vcs.status(repo) == {"README": "M ", "src/app.py": " M"}
    message = vcs.commit_message(repo, "HEAD")
    assert "Verification: 3/3 passed, forked" in message
    assert "Verified with uncommitted changes in: README, src/app.py" in message
    assert "Flaky-Category: time\nFlaky-Verified: 3/3 forked\n" in message
    assert f"Committed {vcs.head(repo)[:12]}" in out  # type: ignore[index]


def test_include_commits_a_conftest_fix(make_repo: MakeRepo, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    conftest = (
        "import pathlib\n\nimport pytest\n\n\n@pytest.fixture\ndef slot():\n"
        f"    path = pathlib.Path({str(counter)!r})\n"
        "    runs = int(path.read_text()) if path.exists() else 0\n"
        "    path.write_text(str(runs + 1))\n"
        "    return runs % 2\n"
    )
    root = make_repo(
        {
            "tests/conftest.py": conftest,
            TEST_FILE: "import pytest\n\n\n@pytest.mark.flaky\ndef test_expiry(slot):\n    assert slot == 0\n",
        }
    )
    write_files(root, {"tests/conftest.py": conftest.replace("return runs % 2", "return 0")})
    assert _fix(root, "--yes", "--include", "tests/conftest.py") == 0
    assert _committed(root) == ["tests/conftest.py", TEST_FILE]
    assert vcs.status(root) == {}
    assert "uncommitted changes" not in vcs.commit_message(root, "HEAD")


def test_dry_run_prints_the_diff_and_changes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(repo, {TEST_FILE: _fixed((repo / TEST_FILE).read_text())})
    before = _state(repo)
    assert _fix(repo, "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- a/{TEST_FILE}\n+++ b/{TEST_FILE}\n")
    assert "Flaky-Category" not in out
    assert _state(repo) == before


def test_dry_run_unverified_runs_nothing(repo: Path, tmp_path: Path) -> None:
    assert _fix(repo, "--dry-run", "--unverified") == 0
    assert not (tmp_path / "counter").exists()
    assert Service(repo).last_verifications() == {}


def test_unverified_commit_says_so(repo: Path) -> None:
    assert _fix(repo, "--yes", "--unverified") == 0
    message = vcs.commit_message(repo, "HEAD")
    assert "Not verified" in message and "Flaky-Verified: no" in message


def test_without_yes_a_script_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(repo, {TEST_FILE: _fixed((repo / TEST_FILE).read_text())})
    before = _state(repo)
    assert _fix(repo, "--unverified") == 2
    assert "Pass --yes" in capsys.readouterr().err
    assert _state(repo) == before


def test_failing_hook_output_is_shown_and_nothing_changes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(repo, {TEST_FILE: _fixed((repo / TEST_FILE).read_text()), "README": "staged\n"})
    git(repo, "add", "README")
    hook = vcs.git_path(repo, "hooks/pre-commit")
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'mypy: error: tests/test_jobs.py:12'\nexit 1\n")
    hook.chmod(0o755)
    before = _state(repo)
    assert _fix(repo, "--yes") == 2
    err = capsys.readouterr().err
    assert "git: mypy: error: tests/test_jobs.py:12" in err
    assert "work tree and index are as they were" in err
    assert _state(repo) == before


def test_one_test_under_a_class_marker_is_told_which_node_id(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "    def test_a(self):\n        assert 1\n\n    def test_b(self):\n        assert 1\n"
    root = make_repo({TEST_FILE: f"import pytest\n\n\n@pytest.mark.flaky(reruns=2)\nclass TestC:\n{body}"})
    before = _state(root)
    assert main(["-C", str(root), "fix", f"{TEST_FILE}::TestC::test_a", "--yes"]) == 1
    assert f"Give `{TEST_FILE}::TestC` to remove it for all 2 tests" in capsys.readouterr().err
    assert _state(root) == before
    assert main(["-C", str(root), "fix", f"{TEST_FILE}::TestC", "--yes", "--runs", "2", "--anyway"]) == 0
    # `import pytest` served only the marker, so it went too.
    assert (root / TEST_FILE).read_text() == f"class TestC:\n{body}"
    assert "Flaky-Verified: 4/4 forked" in vcs.commit_message(root, "HEAD")


def test_tree_edited_after_verification_is_refused(repo: Path) -> None:
    write_files(repo, {TEST_FILE: _fixed((repo / TEST_FILE).read_text())})
    service = Service(repo)
    plan = service.plan_fix(f"{TEST_FILE}::test_expiry")
    [verification] = service.verify(plan.tests, runs=3)
    assert verification.verdict == "stable"
    write_files(repo, {"src/app.py": "X = 3\n"})
    before = _state(repo)
    with pytest.raises(Exception, match=r"changed since .* was verified \(src/app.py\)"):
        service.commit_fix(plan)
    assert _state(repo) == before


def test_crlf_file_keeps_crlf(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({TEST_FILE: _fixed(_flaky_source(tmp_path / "counter")).replace("\n", "\r\n").encode()})
    assert _fix(root, "--yes") == 0
    committed = vcs.show_file(root, "HEAD", TEST_FILE)
    assert committed is not None and b"flaky" not in committed
    assert committed.count(b"\r\n") == committed.count(b"\n")
    assert (root / TEST_FILE).read_bytes() == committed


def test_detached_head_and_worktree(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "--detach", str(other))
    write_files(other, {TEST_FILE: _fixed((other / TEST_FILE).read_text())})
    assert _fix(other, "--yes") == 0
    assert vcs.branch(other) is None
    assert _committed(other) == [TEST_FILE]
    assert vcs.head(repo) != vcs.head(other)


def test_merge_in_progress_and_unborn_branch_are_refused(
    repo: Path, make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    start_conflicting_merge(repo)
    assert _fix(repo, "--yes") == 1
    assert "merge is in progress" in capsys.readouterr().err
    unborn = make_repo({TEST_FILE: (repo / TEST_FILE).read_text()}, commit=False)
    assert _fix(unborn, "--yes") == 1
    assert "no commits yet" in capsys.readouterr().err


def test_undo_with_something_staged(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = _fixed((repo / TEST_FILE).read_text())
    write_files(repo, {TEST_FILE: fixed})
    assert _fix(repo, "--yes") == 0
    write_files(repo, {"README": "staged\n"})
    git(repo, "add", "README")
    assert main(["-C", str(repo), "undo"]) == 0
    assert "restore flaky marker" in capsys.readouterr().out
    assert (repo / TEST_FILE).read_text() == fixed
    assert _committed(repo) == [TEST_FILE]
    assert vcs.status(repo) == {"README": "M "}


def test_root_cause_comes_from_the_code_before_the_fix(make_repo: MakeRepo) -> None:
    timed = (
        "import time\n\nimport pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_fast():\n"
        "    started = time.monotonic()\n    sum(range(10))\n    assert time.monotonic() - started < 0.001\n"
    )
    root = make_repo({TEST_FILE: timed})
    fixed = timed.replace("    assert time.monotonic() - started < 0.001\n", "    assert sum(range(10)) == 45\n")
    write_files(root, {TEST_FILE: fixed})
    assert main(["-C", str(root), "fix", f"{TEST_FILE}::test_fast", "--yes", "--runs", "2", "--anyway"]) == 0
    message = vcs.commit_message(root, "HEAD")
    assert "Root cause: time (time and dates; suggested" in message
    assert "from the code as it was before this commit" in message
    assert f"  {TEST_FILE}:10: " in message
    assert "Flaky-Category: time" in message
