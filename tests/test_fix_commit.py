"""Service.commit_fix on real repositories: what goes in the commit, and every refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui import vcs
from flaketui.errors import FlakeTUIError
from flaketui.models import Verdict
from flaketui.service import Service
from tests._fix_helpers import (
    FIXED_SOURCE,
    FLAKY_SOURCE,
    REMOVED_SOURCE,
    flaky_test,
    plan_with,
    record_verification,
)
from tests._fix_helpers import repo_state as _state
from tests._fix_helpers import start_conflicting_merge
from tests.conftest import MakeRepo, git, write_files

TEST_FILE = "tests/test_x.py"


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    return make_repo(
        {
            TEST_FILE: FLAKY_SOURCE,
            "tests/conftest.py": "import pytest\n",
            "src/app.py": "X = 1\n",
            "README": "hi\n",
        }
    )




def _committed(root: Path) -> list[str]:
    return sorted(git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").split())


def _fixed_and_verified(root: Path) -> tuple[Service, object]:
    """The usual flow: the user fixed the test in its file, then verified it on this tree."""
    write_files(root, {TEST_FILE: FIXED_SOURCE})
    service = Service(root)
    test = flaky_test()
    record_verification(service, test)
    return service, test


def test_commit_holds_the_fix_and_the_removal_in_the_test_file_only(repo: Path) -> None:
    service, test = _fixed_and_verified(repo)
    record = service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert _committed(repo) == [TEST_FILE]
    assert vcs.show_file(repo, "HEAD", TEST_FILE) == REMOVED_SOURCE.encode()
    assert vcs.status(repo) == {}
    message = vcs.commit_message(repo, "HEAD")
    assert message.startswith(f"test: remove flaky marker from {TEST_FILE}::test_y\n\n")
    assert "Verification: 10/10 passed, forked, failure rate < 26% at 95% (Python 3.11.7, pytest 8.4.2)." in message
    assert "Flaky-Category: unknown" in message
    assert "Flaky-Verified: 10/10 forked" in message
    assert record.sha == vcs.head(repo) and record.kind == "fix" and record.files == (TEST_FILE,)
    assert [c.sha for c in service.commits()] == [record.sha]


def test_unrelated_staged_file_stays_staged(repo: Path) -> None:
    write_files(repo, {"README": "staged by the user\n"})
    git(repo, "add", "README")
    service, test = _fixed_and_verified(repo)
    service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert _committed(repo) == [TEST_FILE]
    assert vcs.status(repo) == {"README": "M "}
    assert git(repo, "diff", "--cached", "--name-only").split() == ["README"]


def test_unrelated_modified_file_is_left_out_and_named(repo: Path) -> None:
    write_files(repo, {"src/app.py": "X = 2\n"})
    service, test = _fixed_and_verified(repo)
    service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert _committed(repo) == [TEST_FILE]
    assert vcs.status(repo) == {"src/app.py": " M"}
    assert "Verified with uncommitted changes in: src/app.py" in vcs.commit_message(repo, "HEAD")


def test_include_adds_a_conftest_fix(repo: Path) -> None:
    write_files(repo, {"tests/conftest.py": "import pytest\n\nSEED = 1\n", "src/app.py": "X = 2\n"})
    service, test = _fixed_and_verified(repo)
    service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()), include=["tests/conftest.py"])
    assert _committed(repo) == ["tests/conftest.py", TEST_FILE]
    message = vcs.commit_message(repo, "HEAD")
    assert "uncommitted changes in: src/app.py" in message
    assert "conftest" not in message


def test_failing_pre_commit_hook_changes_nothing_and_shows_its_output(repo: Path) -> None:
    write_files(repo, {"README": "staged\n", "src/app.py": "X = 2\n"})
    git(repo, "add", "README")
    service, test = _fixed_and_verified(repo)
    hook = vcs.git_path(repo, "hooks/pre-commit")
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'ruff: F401 unused import in tests/test_x.py'\nexit 1\n")
    hook.chmod(0o755)
    before, head = _state(repo), vcs.head(repo)
    streamed: list[str] = []
    with pytest.raises(FlakeTUIError, match="F401 unused import"):
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()), on_output=streamed.append)
    assert _state(repo) == before
    assert vcs.head(repo) == head
    assert streamed == ["ruff: F401 unused import in tests/test_x.py"]
    assert service.commits() == []


def test_tree_edited_after_verification_is_refused(repo: Path) -> None:
    service, test = _fixed_and_verified(repo)
    write_files(repo, {"src/app.py": "X = 3\n"})
    before = _state(repo)
    with pytest.raises(FlakeTUIError, match=r"changed since .* was verified \(src/app.py\)") as caught:
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert "Verify again" in caught.value.hint
    assert _state(repo) == before


def test_edit_of_an_already_dirty_file_is_refused(repo: Path) -> None:
    write_files(repo, {"src/app.py": "X = 2\n"})
    service, test = _fixed_and_verified(repo)
    write_files(repo, {"src/app.py": "X = 3\n"})
    with pytest.raises(FlakeTUIError, match="a file was edited"):
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))


def test_head_moved_since_verification_is_refused(repo: Path) -> None:
    service, test = _fixed_and_verified(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "later")
    with pytest.raises(FlakeTUIError, match="HEAD moved"):
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))


UNSTABLE_OR_INCOMPLETE_VERIFICATION_IS_REFUSED_CASES = [
    pytest.param({"passed": 7, "verdict": Verdict.FLAKY}, "not stable: flaky, 7/10 passed", id="flaky"),
    pytest.param({"passed": 3, "runs": 3}, "stopped after 3 of 10 runs", id="cancelled"),
]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    UNSTABLE_OR_INCOMPLETE_VERIFICATION_IS_REFUSED_CASES,
)
def test_unstable_or_incomplete_verification_is_refused(repo: Path, kwargs: dict, reason: str) -> None:
    write_files(repo, {TEST_FILE: FIXED_SOURCE})
    service, test = Service(repo), flaky_test()
    record_verification(service, test, **kwargs)
    with pytest.raises(FlakeTUIError, match=reason):
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert (repo / TEST_FILE).read_text() == FIXED_SOURCE


def test_no_verification_is_refused_unless_unverified(repo: Path) -> None:
    write_files(repo, {TEST_FILE: FIXED_SOURCE})
    service, test = Service(repo), flaky_test()
    with pytest.raises(FlakeTUIError, match="has not been verified") as caught:
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert "flaketui fix tests/test_x.py::test_y" in caught.value.hint
    service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()), unverified=True)
    message = vcs.commit_message(repo, "HEAD")
    assert "Not verified" in message and "Flaky-Verified: no" in message


def test_file_edited_after_the_plan_is_refused(repo: Path) -> None:
    service, test = _fixed_and_verified(repo)
    plan = plan_with(test, repo, REMOVED_SOURCE.encode())
    write_files(repo, {TEST_FILE: FIXED_SOURCE + "# more\n"})
    with pytest.raises(FlakeTUIError, match="changed after the fix was planned"):
        service.commit_fix(plan)
    assert (repo / TEST_FILE).read_text() == FIXED_SOURCE + "# more\n"


def test_refused_plan_cannot_be_committed(repo: Path) -> None:
    plan = plan_with(flaky_test(), repo, b"")
    refused = type(plan)(target=plan.target, tests=plan.tests, diff="", message="", refusal="shared marker")
    with pytest.raises(FlakeTUIError, match="shared marker"):
        Service(repo).commit_fix(refused)


def test_crlf_file_keeps_crlf(make_repo: MakeRepo) -> None:
    crlf = FLAKY_SOURCE.replace("\n", "\r\n").encode()
    root = make_repo({TEST_FILE: crlf})
    service, test = Service(root), flaky_test()
    record_verification(service, test)
    removed = FLAKY_SOURCE.replace("@pytest.mark.flaky(reruns=3)\n", "").replace("\n", "\r\n").encode()
    service.commit_fix(plan_with(test, root, removed))
    assert (root / TEST_FILE).read_bytes() == removed
    assert vcs.show_file(root, "HEAD", TEST_FILE) == removed


def test_detached_head_commits(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    service, test = _fixed_and_verified(repo)
    record = service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert vcs.head(repo) == record.sha and vcs.branch(repo) is None


def test_worktree_commits_on_its_branch(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "fixes", str(other))
    service, test = _fixed_and_verified(other)
    record = service.commit_fix(plan_with(test, other, REMOVED_SOURCE.encode()))
    assert git(repo, "rev-parse", "fixes").strip() == record.sha
    # Private state lives in the common git directory: the main checkout sees the commit.
    assert [c.sha for c in Service(repo).commits()] == [record.sha]
    assert vcs.status(other) == {}


def test_template_in_pyproject_shapes_the_message(repo: Path) -> None:
    template = '[tool.flaketui]\ncommit-template = "fix(tests): unflake $nodeid\\n\\n$verification"\n'
    write_files(repo, {"pyproject.toml": template})
    git(repo, "add", "pyproject.toml")
    git(repo, "commit", "-q", "-m", "config")
    service, test = _fixed_and_verified(repo)
    service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    message = vcs.commit_message(repo, "HEAD")
    assert message.startswith("fix(tests): unflake tests/test_x.py::test_y\n\nVerification: 10/10 passed")
    assert message.rstrip().endswith("Flaky-Target: tests/test_x.py::test_y")
    assert "Flaky-Category: unknown" in message


def test_merge_in_progress_is_refused(repo: Path) -> None:
    start_conflicting_merge(repo)
    service, test = _fixed_and_verified(repo)
    with pytest.raises(FlakeTUIError, match="merge is in progress"):
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))


def test_refresh_plan_follows_the_chosen_files_and_notices_edits(repo: Path) -> None:
    write_files(repo, {"tests/conftest.py": "import pytest\n\nSEED = 1\n"})
    service, test = _fixed_and_verified(repo)
    plan = service.refresh_plan(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert "uncommitted changes in: tests/conftest.py" in plan.message
    assert [(f.path, f.required) for f in plan.files] == [(TEST_FILE, True), ("tests/conftest.py", False)]
    with_conftest = service.refresh_plan(plan, include=["tests/conftest.py"])
    assert "uncommitted" not in with_conftest.message
    assert "+SEED = 1" in with_conftest.diff and "-@pytest.mark.flaky(reruns=3)" in with_conftest.diff
    assert with_conftest.restore == plan.restore
    assert service.refresh_plan(plan, include=["README"]).refusal == "README has no uncommitted changes to include."
    write_files(repo, {TEST_FILE: FIXED_SOURCE + "# later\n"})
    assert service.refresh_plan(plan).refusal == f"{TEST_FILE} changed after the fix was planned; plan it again."


def test_files_written_after_verification_get_a_gitignore_hint(repo: Path) -> None:
    service, test = _fixed_and_verified(repo)
    write_files(repo, {"out.log": "written by the test\n"})
    with pytest.raises(FlakeTUIError, match=r"\(out.log\)") as caught:
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert ".gitignore" in caught.value.hint


def test_include_paths_repo_relative_or_relative_to_where_one_stands(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(repo, {"tests/conftest.py": "import pytest\n\nSEED = 1\n", "src/app.py": "X = 2\n"})
    service, test = _fixed_and_verified(repo)
    monkeypatch.chdir(repo / "tests")
    plan = plan_with(test, repo, REMOVED_SOURCE.encode())
    assert service.refresh_plan(plan, include=["src/app.py"]).include == ("src/app.py",)
    assert service.refresh_plan(plan, include=["conftest.py"]).include == ("tests/conftest.py",)
    assert service.refresh_plan(plan, include=[str(repo / "src/app.py")]).include == ("src/app.py",)
    with pytest.raises(FlakeTUIError, match="is not inside"):
        service.refresh_plan(plan, include=["/etc/hostname"])


def test_a_commit_that_cannot_be_recorded_says_it_is_committed(repo: Path) -> None:
    from flaketui.store import FILENAME

    service, test = _fixed_and_verified(repo)
    database = service.state_dir() / FILENAME
    hook = vcs.git_path(repo, "hooks/post-commit")
    hook.parent.mkdir(parents=True, exist_ok=True)
    # Runs after the commit exists: the record is what fails, not the commit.
    hook.write_text(f"#!/bin/sh\nrm -f '{database}-wal' '{database}-shm'\nprintf 'not a database' > '{database}'\n")
    hook.chmod(0o755)
    with pytest.raises(FlakeTUIError, match=r"^Committed [0-9a-f]{12}, but flaketui could not record it") as caught:
        service.commit_fix(plan_with(test, repo, REMOVED_SOURCE.encode()))
    assert "flaketui undo" in caught.value.hint
    assert vcs.show_file(repo, "HEAD", TEST_FILE) == REMOVED_SOURCE.encode()
