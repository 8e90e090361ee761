"""vcs.commit_paths and its refusals, on real repositories in tmp_path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from flaketui import vcs
from flaketui.errors import FlakeTUIError
from tests._fix_helpers import repo_state as _state
from tests.conftest import MakeRepo, git, write_files

TEST_FILE = "tests/test_x.py"




def _committed_files(root: Path, rev: str = "HEAD") -> list[str]:
    return sorted(git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", rev).split())


def _hook(root: Path, name: str, script: str) -> None:
    hook = vcs.git_path(root, f"hooks/{name}")
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    return make_repo({TEST_FILE: "def test_y():\n    assert 1\n", "src/app.py": "X = 1\n", "README": "hi\n"})


def test_commit_holds_only_the_given_path(repo: Path) -> None:
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n", "src/app.py": "X = 2\n", "README": "staged\n"})
    git(repo, "add", "README")
    sha = vcs.commit_paths(repo, [TEST_FILE], "test: fix")
    assert sha == vcs.head(repo)
    assert _committed_files(repo) == [TEST_FILE]
    status = vcs.status(repo)
    assert status == {"README": "M ", "src/app.py": " M"}


def test_contents_are_written_then_committed(repo: Path) -> None:
    vcs.commit_paths(repo, [TEST_FILE], "test: write", contents={TEST_FILE: b"def test_y():\n    pass\n"})
    assert vcs.show_file(repo, "HEAD", TEST_FILE) == b"def test_y():\n    pass\n"
    assert vcs.status(repo) == {}


def test_a_new_untracked_file_can_be_included(repo: Path) -> None:
    write_files(repo, {"tests/conftest.py": "import pytest\n", TEST_FILE: "def test_y():\n    assert 3\n"})
    vcs.commit_paths(repo, [TEST_FILE, "tests/conftest.py"], "test: fix with conftest")
    assert _committed_files(repo) == ["tests/conftest.py", TEST_FILE]


def test_failing_hook_restores_work_tree_and_index_byte_for_byte(repo: Path) -> None:
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n", "README": "staged\n", "new.txt": "untracked\n"})
    git(repo, "add", "README")
    _hook(repo, "pre-commit", "echo 'lint: line too long in tests/test_x.py'\necho 'to stderr' >&2\nexit 1\n")
    before, head_before = _state(repo), vcs.head(repo)
    streamed: list[str] = []
    with pytest.raises(FlakeTUIError) as caught:
        vcs.commit_paths(
            repo, [TEST_FILE], "test: fix", streamed.append, contents={TEST_FILE: b"def test_y():\n    assert 9\n"}
        )
    assert _state(repo) == before
    assert vcs.head(repo) == head_before
    assert "lint: line too long in tests/test_x.py" in caught.value.message
    assert "to stderr" in caught.value.message
    assert "lint: line too long in tests/test_x.py" in streamed
    assert caught.value.hint


def test_hooks_run_with_stdin_closed_and_stream_their_output(repo: Path) -> None:
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n"})
    # `cat` would wait forever on a terminal; with stdin closed it reads EOF at once.
    _hook(repo, "pre-commit", "cat\necho 'checked 1 file'\n")
    streamed: list[str] = []
    vcs.commit_paths(repo, [TEST_FILE], "test: fix", streamed.append)
    # Hook output (git's stderr) and git's summary (stdout) arrive on two pipes: no order.
    assert "checked 1 file" in streamed
    assert any(line.startswith("[main ") for line in streamed)


def test_commit_msg_hook_sees_the_message(repo: Path) -> None:
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n"})
    _hook(repo, "commit-msg", 'grep -q "^Flaky-Category: time$" "$1" || { echo "no trailer"; exit 1; }\n')
    vcs.commit_paths(repo, [TEST_FILE], "test: fix\n\nbody\n\nFlaky-Category: time\n")
    assert vcs.commit_message(repo, "HEAD").strip().endswith("Flaky-Category: time")


def test_detached_head_commits(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n"})
    sha = vcs.commit_paths(repo, [TEST_FILE], "test: detached")
    assert vcs.branch(repo) is None
    assert vcs.head(repo) == sha


def test_worktree_commits_and_restores(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(other))
    assert (other / ".git").is_file()
    write_files(other, {TEST_FILE: "def test_y():\n    assert 2\n", "README": "staged\n"})
    git(other, "add", "README")
    _hook(other, "pre-commit", "exit 1\n")
    before = _state(other)
    with pytest.raises(FlakeTUIError):
        vcs.commit_paths(other, [TEST_FILE], "test: fail", contents={TEST_FILE: b"x = 1\n"})
    assert _state(other) == before
    vcs.git_path(other, "hooks/pre-commit").unlink()
    sha = vcs.commit_paths(other, [TEST_FILE], "test: in worktree")
    assert git(repo, "rev-parse", "side").strip() == sha
    assert vcs.status(other) == {"README": "M "}
    assert vcs.head(repo) != sha


def test_crlf_bytes_are_committed_unchanged(make_repo: MakeRepo) -> None:
    crlf = b"def test_y():\r\n    assert 1\r\n"
    root = make_repo({TEST_FILE: crlf})
    vcs.commit_paths(root, [TEST_FILE], "test: crlf", contents={TEST_FILE: crlf.replace(b"1", b"2")})
    assert (root / TEST_FILE).read_bytes() == b"def test_y():\r\n    assert 2\r\n"
    assert vcs.show_file(root, "HEAD", TEST_FILE) == b"def test_y():\r\n    assert 2\r\n"


def test_not_a_git_repository_is_refused(make_repo: MakeRepo) -> None:
    root = make_repo({TEST_FILE: "x = 1\n"}, git_repo=False)
    # The temp directory must not sit inside some other repository for this to mean anything.
    assert vcs.toplevel(root) is None
    with pytest.raises(FlakeTUIError, match="not inside a git repository"):
        vcs.commit_paths(root, [TEST_FILE], "m")


def test_bare_repository_is_refused(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "b.git")
    refusal = vcs.commit_refusal(tmp_path / "b.git")
    assert refusal is not None and "bare" in refusal.message and refusal.hint


def test_unborn_branch_is_refused(make_repo: MakeRepo) -> None:
    root = make_repo({TEST_FILE: "x = 1\n"}, commit=False)
    refusal = vcs.commit_refusal(root)
    assert refusal is not None and "no commits yet" in refusal.message and "main" in refusal.message


def _conflict(root: Path) -> str:
    """Two branches that both change README; returns the other branch's name."""
    git(root, "checkout", "-q", "-b", "other")
    write_files(root, {"README": "other\n"})
    git(root, "commit", "-q", "-am", "other")
    git(root, "checkout", "-q", "main")
    write_files(root, {"README": "main\n"})
    git(root, "commit", "-q", "-am", "main")
    return "other"


@pytest.mark.parametrize(
    ("command", "what"),
    [
        pytest.param(["merge"], "merge", id="merge"),
        pytest.param(["cherry-pick"], "cherry-pick", id="cherry-pick"),
        pytest.param(["rebase"], "rebase", id="rebase"),
    ],
)
def test_operation_in_progress_is_refused(repo: Path, command: list[str], what: str) -> None:
    other = _conflict(repo)
    result = subprocess.run(["git", *command, other], cwd=repo, capture_output=True, env=os.environ.copy())
    assert result.returncode != 0  # stopped on the conflict
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n"})
    before = _state(repo)
    with pytest.raises(FlakeTUIError, match=what) as caught:
        vcs.commit_paths(repo, [TEST_FILE], "m")
    assert "--abort" in caught.value.hint
    assert _state(repo) == before


def test_revert_in_progress_is_refused(repo: Path) -> None:
    write_files(repo, {"README": "two\n"})
    git(repo, "commit", "-q", "-am", "two")
    write_files(repo, {"README": "three\n"})
    git(repo, "commit", "-q", "-am", "three")
    result = subprocess.run(["git", "revert", "HEAD~1"], cwd=repo, capture_output=True, env=os.environ.copy())
    assert result.returncode != 0
    refusal = vcs.commit_refusal(repo)
    assert refusal is not None and "revert" in refusal.message


def test_missing_identity_is_refused(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for variable in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(variable, raising=False)
    refusal = vcs.commit_refusal(repo)
    assert refusal is not None
    assert "name and email" in refusal.message
    assert "git config --global user.email" in refusal.hint


def test_identity_from_the_environment_is_enough(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Env Person")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "env@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Env Person")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "env@example.com")
    assert vcs.commit_refusal(repo) is None


def test_a_deleted_file_can_be_committed_and_restored(repo: Path) -> None:
    (repo / "src/app.py").unlink()
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n"})
    _hook(repo, "pre-commit", "exit 1\n")
    before = _state(repo)
    with pytest.raises(FlakeTUIError):
        vcs.commit_paths(repo, [TEST_FILE, "src/app.py"], "m")
    assert _state(repo) == before
    vcs.git_path(repo, "hooks/pre-commit").unlink()
    vcs.commit_paths(repo, [TEST_FILE, "src/app.py"], "test: fix and drop app")
    assert _committed_files(repo) == ["src/app.py", TEST_FILE]
    assert vcs.show_file(repo, "HEAD", "src/app.py") is None


def test_paths_with_spaces_and_unicode(make_repo: MakeRepo) -> None:
    name = "tests/tést dir/test x.py"
    root = make_repo({name: "x = 1\n", "other.py": "y = 1\n"})
    write_files(root, {name: "x = 2\n", "other.py": "y = 2\n"})
    assert set(vcs.status(root)) == {name, "other.py"}
    vcs.commit_paths(root, [name], "test: unicode")
    assert vcs.show_file(root, "HEAD", name) == b"x = 2\n"
    assert vcs.status(root) == {"other.py": " M"}


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param(b"a\nb\nc\nd\ne\nX\n", b"A\nb\nc\nd\ne\nX\n", id="apart-merges"),
        pytest.param(b"Z\nb\nc\nd\ne\nf\n", None, id="same-line-conflicts"),
        pytest.param(b"a\r\nb\r\nc\r\nd\r\ne\r\nX\r\n", None, id="every-line-differs"),
    ],
)
def test_merge_file(current: bytes, expected: bytes | None) -> None:
    assert vcs.merge_file(current, b"a\nb\nc\nd\ne\nf\n", b"A\nb\nc\nd\ne\nf\n") == expected


def test_signing_runs_as_configured_and_its_failure_restores(repo: Path) -> None:
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", "false")  # a signer that always fails
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n", "README": "staged\n"})
    git(repo, "add", "README")
    before = _state(repo)
    with pytest.raises(FlakeTUIError, match="gpg failed to sign"):
        vcs.commit_paths(repo, [TEST_FILE], "test: signed", contents={TEST_FILE: b"x = 3\n"})
    assert _state(repo) == before


def test_export_tree_writes_the_committed_files_it_is_asked_for(repo: Path, tmp_path: Path) -> None:
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 'fixed'\n"})  # uncommitted: not exported
    index = vcs.git_path(repo, "index").read_bytes()
    dest = tmp_path / "exported"
    written = vcs.export_tree(repo, "HEAD", dest, lambda name: name.endswith(".py"))
    assert written == 2
    exported = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert exported == ["src/app.py", TEST_FILE]
    assert vcs.toplevel(dest) == dest.resolve()
    assert (dest / TEST_FILE).read_text() == "def test_y():\n    assert 1\n"
    assert vcs.git_path(repo, "index").read_bytes() == index


def test_a_failing_output_listener_does_not_stall_the_commit(repo: Path) -> None:
    write_files(repo, {TEST_FILE: "def test_y():\n    assert 2\n"})
    # Far more than a pipe holds: git would block if nobody drained it.
    _hook(repo, "pre-commit", "i=0\nwhile [ $i -lt 5000 ]; do echo \"line $i of hook output\"; i=$((i+1)); done\n")
    calls: list[str] = []

    def broken(line: str) -> None:
        calls.append(line)
        raise RuntimeError("the screen went away")

    sha = vcs.commit_paths(repo, [TEST_FILE], "test: fix", broken)
    assert vcs.head(repo) == sha
    assert len(calls) == 1  # dropped after its first failure, whichever pipe spoke first


def test_the_tree_fingerprint_ignores_the_decisions_file_but_not_a_code_edit(repo: Path) -> None:
    before = vcs.tree_state(repo)
    (repo / ".flaketui.toml").write_text('[tests."tests/test_x.py::test_y"]\ncategory = "time"\n')
    after_decision = vcs.tree_state(repo)
    (repo / "src/app.py").write_text("X = 2\n")
    after_edit = vcs.tree_state(repo)
    assert after_decision == before
    assert after_edit.fingerprint != before.fingerprint
    assert after_edit.dirty_paths == ("src/app.py",)


FAKE_GPG = """#!/bin/sh
# Stands in for gpg: git pipes the commit in and reads the signature and a status line back.
cat > /dev/null
[ -n "$FAIL_SIGNING" ] && { echo "gpg: signing failed: No pinentry" >&2; exit 2; }
echo "[GNUPG:] SIG_CREATED D 1 8 00 1700000000 0123456789ABCDEF" >&2
printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'
"""


@pytest.fixture
def signing_repo(repo: Path) -> Path:
    gpg = repo.parent / f"{repo.name}-fake-gpg"
    gpg.write_text(FAKE_GPG)
    gpg.chmod(0o755)
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", str(gpg))
    return repo


def test_signing_is_detected_so_the_app_can_hand_over_the_terminal(repo: Path, signing_repo: Path) -> None:
    assert vcs.signing_needs_terminal(signing_repo)
    git(repo, "config", "commit.gpgsign", "false")
    assert not vcs.signing_needs_terminal(repo)


def test_a_signed_commit_runs_the_configured_signing_program(signing_repo: Path) -> None:
    (signing_repo / TEST_FILE).write_text("def test_y():\n    assert 2\n")
    vcs.commit_paths(signing_repo, [TEST_FILE], "test: signed")
    assert "gpgsig -----BEGIN PGP SIGNATURE-----" in git(signing_repo, "cat-file", "-p", "HEAD")


def test_a_signing_failure_restores_everything_and_says_why(
    signing_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (signing_repo / TEST_FILE).write_text("def test_y():\n    assert 2\n")
    before = _state(signing_repo)
    head = git(signing_repo, "rev-parse", "HEAD")
    monkeypatch.setenv("FAIL_SIGNING", "1")
    with pytest.raises(FlakeTUIError) as raised:
        vcs.commit_paths(signing_repo, [TEST_FILE], "test: signed")
    assert "gpg failed to sign the data" in raised.value.message
    assert raised.value.hint.startswith("Signing failed: unlock your key")
    assert _state(signing_repo) == before
    assert git(signing_repo, "rev-parse", "HEAD") == head
