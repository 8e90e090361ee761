"""Everything flaketui asks of git.

Two ways, each for a reason. The commit and the undo (``commit_paths``) go through GitPython,
imported inside that function: it runs ``git commit -- PATHS`` with the user's hooks and
signing and streams their output as it comes. Every question (which files exist, HEAD,
what is dirty, a file at a revision) and the archive of a past tree run the git binary
through ``gitjobs.Running``: importing GitPython costs more than the answer, and a scan asks
on its hot path. No third way: a new git call uses one of these two.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flaketui.errors import FlakeTUIError
from flaketui.gitjobs import Running, own_git_dir, start_listing
from flaketui.settings import DECISIONS_FILE


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    code, out, err = Running(root, args).output()
    result = subprocess.CompletedProcess(list(args), code, out, err)  # args without "git": see gitjobs
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
    own = own_git_dir(root)
    if own is not None:
        return own  # the main work tree's own git dir is the common one: no need to start git
    result = _git(root, "rev-parse", "--git-common-dir", check=False)
    if result.returncode != 0:
        return None
    found = Path(os.fsdecode(result.stdout.strip()))
    return (root / found).resolve() if not found.is_absolute() else found


def list_files(root: Path) -> list[str]:
    """Tracked plus untracked-not-ignored files, repo-relative POSIX paths (``git ls-files``)."""
    return start_listing(root).result().files


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
    # --no-optional-locks: a question must not rewrite the index (a refused commit leaves it
    # byte-identical, and a background refresh must not race the user's own git).
    status = _git(
        root, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"
    )
    paths: list[str] = []
    for entry in status.stdout.split(b"\0"):
        if len(entry) > 3:
            paths.append(os.fsdecode(entry[3:]))
    # The team's decisions file is not read by pytest: deciding a category after a
    # verification must not make it stale.
    paths = sorted(p for p in paths if p != DECISIONS_FILE)
    import hashlib

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


# -- writing: commits ----------------------------------------------------------------------


def signing_needs_terminal(root: Path) -> bool:
    """Whether commits here are signed (``commit.gpgsign``): the signing program may ask for
    a passphrase on the terminal, so the app hands the screen over while git runs."""
    result = _git(root, "config", "--bool", "commit.gpgsign", check=False)
    return result.returncode == 0 and result.stdout.strip() == b"true"


def _signing_env() -> dict[str, str]:
    """gpg's pinentry finds the terminal through GPG_TTY; git's stdin is closed, so name it."""
    if "GPG_TTY" in os.environ:
        return {}
    for fd in (0, 1, 2):
        if os.isatty(fd):
            return {"GPG_TTY": os.ttyname(fd)}
    return {}

OutputCallback = Callable[[str], None]

#: Files git leaves in the git directory while an operation waits for the user.
_IN_PROGRESS = (
    ("MERGE_HEAD", "a merge", "git merge --continue` or `git merge --abort"),
    ("rebase-merge", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("rebase-apply", "a rebase or `git am`", "git rebase --continue` or `git rebase --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue` or `git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue` or `git revert --abort"),
)


def git_path(root: Path, name: str) -> Path:
    """``git rev-parse --git-path NAME``: per-worktree files (index, MERGE_HEAD) live apart
    from the common directory when ``.git`` is a file."""
    found = Path(os.fsdecode(_git(root, "rev-parse", "--git-path", name).stdout.strip()))
    return found if found.is_absolute() else (root / found)


def commit_refusal(root: Path) -> FlakeTUIError | None:
    """Why flaketui may not commit in ``root`` right now, or None when it may."""
    inside = _git(root, "rev-parse", "--is-bare-repository", "--is-inside-work-tree", check=False)
    if inside.returncode != 0:
        return FlakeTUIError(
            f"{root} is not inside a git repository.",
            "Run flaketui in a git work tree (or `git init` and commit your tests first).",
        )
    bare, in_work_tree = inside.stdout.split()[:2]
    if bare == b"true" or in_work_tree != b"true":
        return FlakeTUIError(
            f"{root} is a bare repository: there is no work tree to fix.",
            "Run flaketui in a clone or worktree of it (`git worktree add PATH`).",
        )
    if head(root) is None:
        return FlakeTUIError(
            f"The branch {branch(root) or 'HEAD'} has no commits yet: there is no committed marker to remove.",
            "Commit your tests first, then remove the marker.",
        )
    for name, what, how in _IN_PROGRESS:
        if git_path(root, name).exists():
            return FlakeTUIError(
                f"{what.capitalize()} is in progress: a commit now would become part of it.",
                f"Finish it with `{how}`, then try again.",
            )
    missing = [key for key in ("name", "email") if not _identity_part(root, key)]
    if missing:
        return FlakeTUIError(
            f"git has no user {' and '.join(missing)} configured, so the commit would carry a guessed identity.",
            'Set it with `git config --global user.name "Your Name"` and '
            '`git config --global user.email you@example.com`.',
        )
    return None


def _identity_part(root: Path, key: str) -> str:
    for variable in (f"GIT_AUTHOR_{key.upper()}", f"GIT_COMMITTER_{key.upper()}"):
        if os.environ.get(variable):
            return os.environ[variable]
    if key == "email" and os.environ.get("EMAIL"):
        return os.environ["EMAIL"]
    return _git(root, "config", "--get", f"user.{key}", check=False).stdout.decode(errors="replace").strip()


def preflight(root: Path) -> None:
    """Raise the reason flaketui may not commit here, if there is one."""
    refusal = commit_refusal(root)
    if refusal is not None:
        raise refusal


def status(root: Path) -> dict[str, str]:
    """Uncommitted paths and their two-letter porcelain status (``M ``, `` M``, ``??``)."""
    result = _git(
        root, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"
    )
    return {os.fsdecode(e[3:]): e[:2].decode() for e in result.stdout.split(b"\0") if len(e) > 3}


def show_file(root: Path, rev: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``rev``, or None when it does not exist there."""
    result = _git(root, "show", f"{rev}:{path}", check=False)
    return result.stdout if result.returncode == 0 else None


def resolve_commit(root: Path, rev: str) -> str:
    result = _git(root, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if result.returncode != 0:
        raise FlakeTUIError(f"{rev!r} is not a commit in this repository.", "Give a commit sha from `git log`.")
    return result.stdout.decode().strip()


def commit_message(root: Path, sha: str) -> str:
    return _git(root, "log", "-1", "--format=%B", sha).stdout.decode("utf-8", errors="replace")


def changed_paths(root: Path, sha: str) -> list[str]:
    result = _git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", sha)
    return [os.fsdecode(n) for n in result.stdout.split(b"\0") if n]


def line_history(root: Path, path: str, start: int, end: int, *, limit: int = 12) -> list[tuple[str, str, str]]:
    """(sha, subject, body) of the newest commits that changed lines ``start..end`` of ``path``
    as HEAD has them (``git log -L``), newest first; nothing outside git or for a new file."""
    result = _git(root, "log", f"-n{limit}", f"-L{start},{end}:{path}", "-s", "--format=%H%x1f%s%x1f%b%x1e",
                  check=False)
    if result.returncode != 0:
        return []
    found = []
    for record in result.stdout.decode("utf-8", errors="replace").split("\x1e"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) == 3 and fields[0].strip():
            found.append((fields[0].strip(), fields[1], fields[2].strip()))
    return found


def log_with_trailers(root: Path, *, limit: int = 500) -> list[tuple[str, str]]:
    """(sha, message) of the newest commits that carry a ``Flaky-`` trailer, newest first."""
    result = _git(
        root, "log", f"-n{limit}", "--format=%H%x00%B%x00", "-E", "--grep=^Flaky-(Category|Undoes):", check=False
    )
    if result.returncode != 0:
        return []
    fields = result.stdout.decode("utf-8", errors="replace").split("\0")
    return [(fields[i].strip(), fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


@dataclass(frozen=True)
class _Snapshot:
    """The bytes (and times) of the index and of each path a commit touches, to put back."""

    index_path: Path
    index: tuple[bytes, int, int] | None
    files: dict[Path, tuple[bytes, int, int, int] | None]


def _snapshot(root: Path, paths: Sequence[str]) -> _Snapshot:
    def capture(target: Path) -> tuple[bytes, int, int, int] | None:
        if not target.is_file():
            return None
        stat = target.stat()
        return target.read_bytes(), stat.st_mode, stat.st_atime_ns, stat.st_mtime_ns

    index_path = git_path(root, "index")
    index = capture(index_path)
    return _Snapshot(
        index_path=index_path,
        index=(index[0], index[2], index[3]) if index else None,
        files={root / p: capture(root / p) for p in paths},
    )


def _restore(snapshot: _Snapshot) -> None:
    # Files first, index last, with their old times: the index's stat cache then matches
    # the files again and `git status` sees exactly what it saw before.
    for target, saved in snapshot.files.items():
        if saved is None:
            if target.is_file():
                target.unlink()
            continue
        content, mode, atime, mtime = saved
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        os.chmod(target, mode & 0o7777)
        os.utime(target, ns=(atime, mtime))
    index = snapshot.index_path
    if snapshot.index is None:
        index.unlink(missing_ok=True)
        return
    content, atime, mtime = snapshot.index
    if index.is_file() and index.read_bytes() == content:
        os.utime(index, ns=(atime, mtime))
        return
    # Written the way git writes it: under index.lock, then renamed, so a git command the
    # user runs meanwhile never reads half an index.
    lock = index.with_name(index.name + ".lock")
    try:
        descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError as exc:
        raise FlakeTUIError(
            "The commit failed, and another git process holds the index lock, so the index "
            "could not be put back; the files are as they were.",
            f"When that git command ends, run `git status`; if it is stuck, remove {lock}.",
        ) from exc
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.utime(lock, ns=(atime, mtime))
    os.replace(lock, index)


def commit_paths(
    root: Path,
    paths: Sequence[str],
    message: str,
    on_output: OutputCallback | None = None,
    *,
    contents: Mapping[str, bytes] | None = None,
) -> str:
    """Write ``contents``, then ``git add PATHS`` and ``git commit -m MESSAGE -- PATHS``.

    Hooks and signing run as the user configured them, with stdin closed; their output is
    streamed line by line to ``on_output``. Only ``paths`` are committed: whatever else is
    staged stays staged. If anything fails, the index and every path are put back byte for
    byte as they were, and the error carries git's output. Returns the new commit's sha.
    """
    import git as gitpython

    preflight(root)
    paths = list(dict.fromkeys(paths))
    if not paths:
        raise FlakeTUIError("Nothing to commit: no paths were given.", "Choose at least the test file.")
    snapshot = _snapshot(root, [*paths, *(contents or {})])
    output: list[str] = []

    listeners = [on_output] if on_output is not None else []

    def collect(line: str) -> None:  # str: handle_process_output decodes the streams
        text = line.rstrip("\n")
        output.append(text)
        for listener in listeners:
            try:
                listener(text)
            except Exception:  # noqa: BLE001
                # A failing display must not stop the pipe from being drained: git would
                # block on a full pipe with the index locked.
                listeners.clear()

    try:
        for rel, content in (contents or {}).items():
            (root / rel).write_bytes(content)
        repo = gitpython.Repo(root)
        try:
            repo.git.add("--", *paths)
            process = repo.git.commit("-m", message, "--", *paths, as_process=True, env=_signing_env())
            gitpython.cmd.handle_process_output(process, collect, collect, finalizer=None)
            process.wait()
            sha = str(repo.git.rev_parse("HEAD")).strip()
        finally:
            repo.close()
    except gitpython.GitCommandError as exc:
        _restore(snapshot)
        said = "\n".join(output) or _as_text(exc.stderr) or _as_text(exc.stdout)
        hint = (
            "Signing failed: unlock your key (e.g. `gpg-agent`, or sign once in a terminal), then commit again."
            if "failed to sign" in said
            else "Fix what the hook reports (or the git error above), then commit again."
        )
        raise FlakeTUIError(f"git commit failed; the work tree and index are as they were.\n{said.strip()}", hint) from exc
    except BaseException:
        _restore(snapshot)
        raise
    return sha


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value or "")


def merge_file(current: bytes, base: bytes, other: bytes) -> bytes | None:
    """``git merge-file``: the changes from ``base`` to ``other`` applied to ``current``, or
    None when they conflict. Undo uses it to reverse exactly what a removal changed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flaketui-merge-") as scratch:
        names = []
        for label, content in (("current", current), ("base", base), ("other", other)):
            target = Path(scratch) / label
            target.write_bytes(content)
            names.append(str(target))
        result = _git(Path(scratch), "merge-file", "-p", "-q", *names, check=False)
    return result.stdout if result.returncode == 0 else None


def export_tree(root: Path, rev: str, dest: Path, keep: Callable[[str], bool]) -> int:
    """Write the files of ``rev`` that ``keep`` accepts under ``dest`` (the repository and
    its index untouched); returns how many. Streams ``git archive`` so big blobs cost nothing.

    ``dest`` becomes a repository of its own (nothing committed), so that a temporary
    directory that happens to sit inside another work tree is never mistaken for part of it.
    """
    import tarfile

    job = Running(root, ["archive", "--format=tar", rev], stderr=subprocess.DEVNULL)
    assert job.process is not None and job.process.stdout is not None  # just started, with a pipe
    written = 0
    with job.process.stdout, tarfile.open(fileobj=job.process.stdout, mode="r|") as archive:
        for member in archive:
            if member.isfile() and keep(member.name):
                archive.extract(member, dest, filter="data")
                written += 1
    if job.wait() != 0:
        raise FlakeTUIError(f"git archive {rev} failed.", "Check that the repository is readable (`git status`).")
    _git(dest, "init", "-q")
    return written
