"""Everything flaketui asks of git.

Read-only questions asked on hot paths (which files exist, HEAD, what is dirty) run the git
binary directly: importing GitPython costs more than the answer. Anything that writes
(commits, undo) goes through GitPython, imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flaketui.errors import FlakeTUIError


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:  # no git binary on PATH
        raise FlakeTUIError("git is not installed or not on PATH.", "Install git, then run flaketui again.") from exc
    if check and result.returncode != 0:
        raise FlakeTUIError(
            f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}",
            "Check that the repository is readable and not corrupt (`git status`).",
        )
    return result


def is_work_tree(root: Path) -> bool:
    result = _git(root, "rev-parse", "--is-inside-work-tree", check=False)
    return result.returncode == 0 and result.stdout.strip() == b"true"


def toplevel(path: Path) -> Path | None:
    """The work tree's top directory around ``path``, or None outside git."""
    result = _git(path, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        return None
    return Path(os.fsdecode(result.stdout.strip()))


def common_git_dir(root: Path) -> Path | None:
    """``git rev-parse --git-common-dir``: shared by every worktree of the repository."""
    result = _git(root, "rev-parse", "--git-common-dir", check=False)
    if result.returncode != 0:
        return None
    found = Path(os.fsdecode(result.stdout.strip()))
    return (root / found).resolve() if not found.is_absolute() else found


def list_files(root: Path) -> list[str]:
    """Tracked plus untracked-not-ignored files, repo-relative POSIX paths (``git ls-files``)."""
    result = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
    names = [os.fsdecode(n) for n in result.stdout.split(b"\0") if n]
    # A path deleted in the work tree but still in the index is listed too: drop it.
    return [n for n in dict.fromkeys(names) if os.path.lexists(root / n)]


def head(root: Path) -> str | None:
    """The commit HEAD points at, or None on an unborn branch / outside git."""
    result = _git(root, "rev-parse", "--verify", "-q", "HEAD", check=False)
    return result.stdout.decode().strip() or None if result.returncode == 0 else None


def branch(root: Path) -> str | None:
    """The current branch name, or None when HEAD is detached."""
    result = _git(root, "symbolic-ref", "--short", "-q", "HEAD", check=False)
    return result.stdout.decode().strip() or None if result.returncode == 0 else None


@dataclass(frozen=True)
class TreeState:
    """The tree a verification ran on: HEAD plus every uncommitted change, hashed."""

    head: str | None
    fingerprint: str
    dirty_paths: tuple[str, ...]


def tree_state(root: Path) -> TreeState:
    """HEAD and a fingerprint of every uncommitted change (staged, unstaged, untracked).

    The fingerprint hashes each dirty path with its current bytes, so editing a file after
    a verification changes it, and undoing the edit restores it.
    """
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    paths: list[str] = []
    for entry in status.stdout.split(b"\0"):
        if len(entry) > 3:
            paths.append(os.fsdecode(entry[3:]))
    paths.sort()
    digest = hashlib.sha256()
    current = head(root)
    digest.update((current or "unborn").encode())
    for rel in paths:
        digest.update(b"\0" + rel.encode("utf-8", "surrogateescape") + b"\0")
        target = root / rel
        if target.is_file():
            digest.update(hashlib.sha256(target.read_bytes()).digest())
        else:
            digest.update(b"<absent>")
    return TreeState(head=current, fingerprint=digest.hexdigest()[:16], dirty_paths=tuple(paths))
