"""Service.undo: the marker goes back as a new commit of the test file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui import vcs
from flaketui.errors import FlakeTUIError
from flaketui.service import Service
from tests._fix_helpers import FIXED_SOURCE, FLAKY_SOURCE, REMOVED_SOURCE, flaky_test, plan_with, record_verification
from tests.conftest import MakeRepo, git, write_files

TEST_FILE = "tests/test_x.py"


@pytest.fixture
def fixed(make_repo: MakeRepo) -> tuple[Path, str]:
    """A repository where flaketui committed a fix (the user's change plus the marker removal)."""
    root = make_repo({TEST_FILE: FLAKY_SOURCE, "README": "hi\n", "src/app.py": "X = 1\n"})
    write_files(root, {TEST_FILE: FIXED_SOURCE})
    service, test = Service(root), flaky_test()
    record_verification(service, test)
    record = service.commit_fix(plan_with(test, root, REMOVED_SOURCE.encode()))
    return root, record.sha


def test_undo_with_something_staged_restores_only_the_marker(fixed: tuple[Path, str]) -> None:
    root, fix_sha = fixed
    write_files(root, {"README": "staged\n", "src/app.py": "X = 2\n"})
    git(root, "add", "README")
    record = Service(root).undo()
    assert record.undoes == fix_sha and record.kind == "undo" and record.files == (TEST_FILE,)
    assert git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").split() == [TEST_FILE]
    # The fix stays; only the marker comes back, where it was.
    assert (root / TEST_FILE).read_text() == FIXED_SOURCE
    assert vcs.show_file(root, "HEAD", TEST_FILE) == FIXED_SOURCE.encode()
    assert vcs.status(root) == {"README": "M ", "src/app.py": " M"}
    message = vcs.commit_message(root, "HEAD")
    assert message.startswith(f"test: restore flaky marker on {TEST_FILE}::test_y\n")
    assert f"undoes the marker removal of commit {fix_sha[:12]}" in message
    assert f"Flaky-Undoes: {fix_sha}" in message
    assert [c.kind for c in Service(root).commits()] == ["fix", "undo"]


def test_undo_by_sha_and_nothing_left_to_undo_after(fixed: tuple[Path, str]) -> None:
    root, fix_sha = fixed
    git(root, "commit", "-q", "--allow-empty", "-m", "unrelated work")
    Service(root).undo(fix_sha[:10])
    with pytest.raises(FlakeTUIError, match="No flaketui fix commit to undo"):
        Service(root).undo()
    with pytest.raises(FlakeTUIError, match="already back"):
        Service(root).undo(fix_sha)


def test_undo_refuses_a_commit_flaketui_did_not_make(fixed: tuple[Path, str]) -> None:
    root, _ = fixed
    first = git(root, "rev-list", "--max-parents=0", "HEAD").strip()
    with pytest.raises(FlakeTUIError, match="not a flaketui fix commit"):
        Service(root).undo(first)
    with pytest.raises(FlakeTUIError, match="not a commit"):
        Service(root).undo("no-such-rev")


def test_undo_refuses_to_sweep_in_changes_to_the_test_file(fixed: tuple[Path, str]) -> None:
    root, _ = fixed
    write_files(root, {TEST_FILE: FIXED_SOURCE + "\n# wip\n"})
    head = vcs.head(root)
    with pytest.raises(FlakeTUIError, match="uncommitted changes"):
        Service(root).undo()
    assert vcs.head(root) == head
    assert (root / TEST_FILE).read_text() == FIXED_SOURCE + "\n# wip\n"


def test_undo_failing_hook_changes_nothing(fixed: tuple[Path, str]) -> None:
    root, _ = fixed
    write_files(root, {"README": "staged\n"})
    git(root, "add", "README")
    hook = vcs.git_path(root, "hooks/pre-commit")
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'blocked by policy'\nexit 1\n")
    hook.chmod(0o755)
    index, content = vcs.git_path(root, "index").read_bytes(), (root / TEST_FILE).read_bytes()
    with pytest.raises(FlakeTUIError, match="blocked by policy"):
        Service(root).undo()
    assert vcs.git_path(root, "index").read_bytes() == index
    assert (root / TEST_FILE).read_bytes() == content


def test_undo_in_another_clone_finds_the_markers_in_the_parent_commit(fixed: tuple[Path, str], tmp_path: Path) -> None:
    root, fix_sha = fixed
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    record = Service(clone).undo()
    assert record.undoes == fix_sha
    # The parent had the marker but not the user's fix: the fix stays, the marker comes back.
    assert (clone / TEST_FILE).read_text() == FIXED_SOURCE


def test_undo_of_a_commit_whose_parent_has_no_marker_says_what_to_do(make_repo: MakeRepo) -> None:
    root = make_repo({TEST_FILE: REMOVED_SOURCE})
    write_files(root, {TEST_FILE: REMOVED_SOURCE + "# tidy\n"})
    git(root, "commit", "-q", "-am", f"tidy\n\nFlaky-Category: time\nFlaky-Target: {TEST_FILE}::test_y")
    with pytest.raises(FlakeTUIError, match="finds none on tests/test_x.py::test_y in its parent") as caught:
        Service(root).undo()
    assert "git show" in caught.value.hint


def test_undo_keeps_later_commits_to_the_test_file(fixed: tuple[Path, str]) -> None:
    root, _ = fixed
    added = "\n\ndef test_more():\n    assert True\n"
    write_files(root, {TEST_FILE: REMOVED_SOURCE + added})
    git(root, "commit", "-q", "-am", "more tests")
    Service(root).undo()
    assert (root / TEST_FILE).read_text() == FIXED_SOURCE + added


def test_undo_after_an_edit_next_to_the_marker_places_it_with_the_codemod(fixed: tuple[Path, str]) -> None:
    root, _ = fixed
    # An edit on the line next to the removed decorator: a textual merge would conflict.
    write_files(root, {TEST_FILE: REMOVED_SOURCE.replace("def test_y():", "def test_y() -> None:")})
    git(root, "commit", "-q", "-am", "annotate")
    Service(root).undo()
    assert (root / TEST_FILE).read_text() == FIXED_SOURCE.replace("def test_y():", "def test_y() -> None:")
