"""The git binary, started now and read later: every git process flaketui starts but one.

``Running`` is the only way flaketui runs the git binary: the scan's file listing and greps
(started by the launcher, ``flaketui.launch``, on another core while Python imports and
parses), ``vcs``'s questions and archive, the demo's history. A process costs less than
importing GitPython, and this module imports only what starting a process needs, so the
launcher can use it before click, dataclasses and the models load.

The exception is the commit and undo path (``vcs.commit_paths``): GitPython, as the mission
names it, runs the commit so hooks and signing stream their output to the user.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from flaketui.errors import FlakeTUIError


def find_root(start: Path) -> Path:
    """The enclosing git work tree's top, found without starting git; else ``start`` itself."""
    start = start.resolve()
    if not start.is_dir():
        raise FlakeTUIError(f"{start} is not a directory.", "Pass an existing directory with -C PATH.")
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


class Listing:
    """The work tree's files, and what ``git status`` vouches for about their content.

    ``state`` (HEAD plus the status of every changed, staged or untracked path) pins the
    bytes of every listed file except ``unsettled`` ones: those git reports as changed or
    untracked, and those it is told not to look at (assume-unchanged, skip-worktree). A
    cache keyed by ``state`` and the stat of the unsettled files is as exact as git's own
    index, racily clean files included (git compares their content).
    """

    __slots__ = ("files", "state", "unsettled")

    def __init__(self, files: list[str], state: bytes, unsettled: tuple[str, ...]) -> None:
        self.files = files
        self.state = state
        self.unsettled = unsettled

    def head(self) -> str | None:
        """The commit HEAD pointed at (``# branch.oid``, the first header ``--branch``
        writes), or None on an unborn branch: the same answer as ``vcs.head``, unasked."""
        for entry in self.state.split(b"\0", 4)[:4]:
            if entry.startswith(b"# branch.oid "):
                oid = entry[len(b"# branch.oid ") :].decode()
                return None if oid == "(initial)" else oid
        return None


class Running:
    """A git command started now and read later, so that git works while Python imports
    and parses. ``close()`` kills it if its answer is never read."""

    def __init__(
        self,
        root: Path,
        args: Sequence[str | bytes],
        env: Mapping[str, str] | None = None,
        *,
        unset: Collection[str] = (),
        stderr: int = subprocess.PIPE,
    ) -> None:
        """``env`` adds to the environment and ``unset`` removes from it; ``stderr`` may be
        ``subprocess.DEVNULL`` when stdout is read as it comes (``process.stdout``)."""
        self.args = args
        environ = None
        if env or unset:
            environ = {k: v for k, v in os.environ.items() if k not in unset} | dict(env or {})
        try:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                ["git", *args], cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=environ
            )
        except FileNotFoundError as exc:
            raise FlakeTUIError("git is not installed or not on PATH.", "Install git, then run flaketui again.") from exc

    def output(self) -> tuple[int, bytes, bytes]:
        """Exit status, stdout and stderr, once git has finished."""
        if self.process is None:
            raise ValueError("already read")
        out, err = self.process.communicate()
        code, self.process = self.process.returncode, None
        return code, out, err

    def wait(self) -> int:
        """The exit status, once git has finished, of output read as it came (``process.stdout``)."""
        if self.process is None:
            raise ValueError("already read")
        code = self.process.wait()
        self.process = None
        return code

    def checked(self) -> bytes:
        code, out, err = self.output()
        if code != 0:
            shown = " ".join(a if isinstance(a, str) else os.fsdecode(a) for a in self.args[:3])
            raise FlakeTUIError(
                f"git {shown} failed: {err.decode(errors='replace').strip()}",
                "Check that the repository is readable and not corrupt (`git status`).",
            )
        return out

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.communicate()
            self.process = None


class PendingListing:
    """``git ls-files`` and ``git status`` running side by side; ``result()`` joins them."""

    def __init__(self, root: Path) -> None:
        self._jobs = [
            # -v tags assume-unchanged files (lowercase) and skip-worktree ones (S): git status
            # does not look at those, so their content is not vouched for.
            Running(root, ["ls-files", "-v", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"]),
            # --no-optional-locks: a question must not rewrite the index (see tree_state).
            Running(
                root,
                ["--no-optional-locks", "status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all", "--no-renames"],
            ),
        ]

    def result(self) -> Listing:
        try:
            listed, status = (job.checked() for job in self._jobs)
        finally:
            self.close()
        unsettled: list[str] = []
        gone: set[str] = set()
        for entry in os.fsdecode(status).split("\0"):
            if entry.startswith(("1 ", "u ")):
                # "1 XY sub mH mI mW hH hI path" (8 fields before the path), "u" has 10.
                path = entry.split(" ", 10 if entry[0] == "u" else 8)[-1]
                unsettled.append(path)
                if entry[3] == "D":  # deleted in the work tree, still in the index
                    gone.add(path)
            elif entry.startswith("? "):
                unsettled.append(entry[2:])
        entries = os.fsdecode(listed).split("\0")
        unsettled.extend(e[2:] for e in entries if e and (e[0].islower() or e[0] == "S"))
        files = [e[2:] for e in entries if e]
        if gone:
            files = [path for path in files if path not in gone]
        return Listing(files=files, state=status, unsettled=tuple(dict.fromkeys(unsettled)))

    def close(self) -> None:
        for job in self._jobs:
            job.close()


def start_listing(root: Path) -> PendingListing:
    """Start listing the work tree's files; see ``Listing``."""
    return PendingListing(root)


def start_grep(
    root: Path, patterns: Sequence[bytes], *, words: bool = False, cached: bool = False, pathspec: str = "*.py"
) -> Running:
    """``git grep -l``: the files (tracked, or untracked and not ignored, as ``ls-files``
    lists them) in which any of ``patterns`` (extended regular expressions, matched byte by
    byte) occurs; ``words`` matches whole words only. ``cached`` searches the index's copy
    of the tracked files instead. Read the answer with ``grep_result``."""
    args: list[str | bytes] = ["grep", "-l", "-z", "-E", "--no-color", "--full-name"]
    args.append("--cached" if cached else "--untracked")
    # Python works on while git greps: leave it a core (on two cores, git's two threads
    # slowed the scan more than they sped the grep).
    args.append(f"--threads={max(1, (os.cpu_count() or 2) - 1)}")
    if words:
        # git tries each -e pattern on its own: one alternation of 400 words runs 6x faster.
        args += ["-w", "-e", b"(" + b"|".join(patterns) + b")"]
    else:
        for pattern in patterns:
            args += ["-e", pattern]
    args += ["--", pathspec]
    # The C locale makes every byte a character: a pattern can then match bytes that are not
    # UTF-8, and no locale's multibyte rules decide what a bracket means.
    return Running(root, args, env={"LC_ALL": "C"})


def grep_result(job: Running) -> set[str] | None:
    """The files ``start_grep`` found, or None when git could not answer for every file
    (an unreadable file, an old git): the caller must then read the files itself."""
    code, out, err = job.output()
    if code not in (0, 1) or err.strip():
        return None
    return {os.fsdecode(name) for name in out.split(b"\0") if name}


#: Beyond this many names one regular expression costs git more than Python reading the files.
_MAX_GREP_WORDS = 2000


class GitSearch:
    """Discovery's ``FileSearch`` by ``git grep``, which reads every file on every core while
    Python imports and parses. The first grep (for ``read_patterns``) starts at once;
    ``close()`` stops whatever is still running.

    ``cached`` greps the index instead of the work tree: reading one pack file beats
    opening thousands of files (about 3x on 5,000 of them). The index speaks for the
    files ``git status`` calls unchanged; the others (``vouch``) are always read.
    """

    def __init__(self, root: Path, read_patterns: Sequence[bytes], *, cached: bool = False) -> None:
        self.root = root
        self.cached = cached
        self._unsettled: frozenset[str] | None = None
        self._first: Running | None = start_grep(root, read_patterns, cached=cached)
        self._started: list[Running] = []

    def vouch(self, unsettled: Collection[str]) -> None:
        """The paths ``git status`` reports as changed or untracked (``Listing.unsettled``)."""
        self._unsettled = frozenset(p for p in unsettled if p.endswith(".py"))

    def to_read(self) -> set[str] | None:
        if self._first is None:
            return None
        job, self._first = self._first, None
        return self._answer(job)

    def naming(self, words: Collection[str]) -> Callable[[], set[str] | None]:
        if len(words) > _MAX_GREP_WORDS:
            return lambda: None
        job = start_grep(self.root, sorted(w.encode() for w in words), words=True, cached=self.cached)
        self._started.append(job)
        return lambda: self._answer(job)

    def _answer(self, job: Running) -> set[str] | None:
        found = grep_result(job)
        if found is None or not self.cached:
            return found
        if self._unsettled is None:
            return None  # nobody said which files the index speaks for
        return found | self._unsettled

    def close(self) -> None:
        for job in (self._first, *self._started):
            if job is not None:
                job.close()
        self._first, self._started = None, []


def start_search(root: Path, read_patterns: Sequence[bytes]) -> GitSearch:
    """A ``GitSearch`` of the index when that is cheap (see ``index_is_cheap``), else of the
    work tree; its first grep is running when this returns."""
    return GitSearch(root, read_patterns, cached=index_is_cheap(root))


#: Loose objects (an estimate) beyond which grepping the index costs more than the work tree:
#: each loose object is a file to open and inflate.
_LOOSE_OBJECTS_LIMIT = 512


def index_is_cheap(root: Path) -> bool:
    """Whether the index's blobs are (mostly) packed, so ``git grep --cached`` is the fast
    way to read the repository. Estimated from 16 of the 256 loose-object directories."""
    own = own_git_dir(root)
    if own is None:
        return False  # a worktree or a moved git dir: ask nothing clever, grep the work tree
    objects = own / "objects"
    sampled = 0
    for prefix in "0123456789abcdef":
        try:
            sampled += len(os.listdir(objects / f"0{prefix}"))
        except OSError:
            continue
    return sampled * 16 < _LOOSE_OBJECTS_LIMIT


#: Environment variables that move the git directory (or its objects) away from ``<work tree>/.git``.
_GIT_DIR_VARIABLES = frozenset({"GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_INDEX_FILE"})


def own_git_dir(root: Path) -> Path | None:
    """``<root>/.git`` when it is the repository's one git directory (not a worktree's
    pointer, not moved by the environment): then its paths are known without asking git."""
    own = root / ".git"
    if own.is_dir() and not (own / "commondir").exists() and not os.environ.keys() & _GIT_DIR_VARIABLES:
        return own
    return None


class EarlyScan:
    """What a scan asks git first (the listing; for ``--no-cache`` the grep too), started by
    the launcher before click and the models load, so git answers on the other core
    meanwhile. A service for another root, or a scan that never comes, closes it."""

    def __init__(self, root: Path, *, read_patterns: Sequence[bytes] | None) -> None:
        self.root = root
        self.listing = start_listing(root)
        self.search = start_search(root, read_patterns) if read_patterns is not None else None

    def close(self) -> None:
        self.listing.close()
        if self.search is not None:
            self.search.close()
