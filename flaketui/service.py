"""The one API both faces call: the CLI and the Textual app.

Synchronous and thread-safe by construction: every method opens what it needs (a GitPython
``Repo``, a SQLite connection) for the duration of the call, so the app may call it from
worker threads. Long calls take ``on_progress``-style callbacks and a ``should_stop``
predicate instead of knowing about workers. This module never imports textual.

Each engine owns one section below; keep heavy imports (libcst, git) inside the methods
so that ``flaketui --help`` and a cached scan stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flaketui.errors import FlakeTUIError
from flaketui.models import (
    Category,
    CommitRecord,
    DecidedBy,
    Diagnosis,
    FlakyTest,
    Keep,
    RunResult,
    ScanResult,
    Triage,
    Verification,
    VerifyMode,
)

ProgressCallback = Callable[[int, int], None]
StopPredicate = Callable[[], bool]


@dataclass(frozen=True)
class RepoInfo:
    """What the header shows. ``git_problem`` says why commits are unavailable, if they are."""

    root: str
    name: str
    is_git: bool
    branch: str | None = None
    head: str | None = None
    git_problem: str | None = None


@dataclass(frozen=True)
class ChangedFile:
    path: str
    #: In the commit by default (the test file with the user's fix and the removal).
    required: bool
    status: str = "M"


@dataclass(frozen=True)
class FixPlan:
    """What ``commit_fix`` would do: the tests the marker covers, the diff, the message.

    ``refusal`` is set (and nothing may be committed) when the marker cannot be removed
    or the repository is not in a state to commit; it says why and what to do.
    """

    target: str
    tests: tuple[FlakyTest, ...]
    diff: str
    message: str
    files: tuple[ChangedFile, ...] = ()
    refusal: str | None = None
    #: The new content per repo-relative path, applied by ``commit_fix``.
    new_contents: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    #: The other changed files the plan (and its message) includes.
    include: tuple[str, ...] = ()
    unverified: bool = False
    #: ``--category``: overrides the team's decision and the diagnosis in the message.
    category: Category | None = None
    #: sha256 of each edited file as the removal saw it: a later edit voids the plan.
    sources: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GateResult:
    """``flaketui check``: the markers that fail the gate, and those kept on purpose."""

    ok: bool
    failing: tuple[str, ...]
    kept: tuple[str, ...]
    expired: tuple[str, ...] = ()
    budget: int = 0


class Service:
    """flaketui's operations on one repository (or plain directory) rooted at ``root``."""

    def __init__(self, root: str | Path = ".", *, python: str | None = None) -> None:
        self.root = _find_root(Path(root))
        #: ``--python``: the interpreter that runs the target's tests, if given.
        self.python = python

    # -- repository ------------------------------------------------------------------
    def repo_info(self) -> RepoInfo:
        """Name, branch, HEAD, and whether (and why not) commits are possible."""
        raise NotImplementedError

    def state_dir(self) -> Path:
        """Where private state lives: ``<git common dir>/flaketui`` (shared by worktrees, never
        in the work tree), or ``.flaketui/`` outside git. Created on first use."""
        from flaketui import vcs

        common = vcs.common_git_dir(self.root)
        target = common / "flaketui" if common is not None else self.root / ".flaketui"
        target.mkdir(parents=True, exist_ok=True)
        return target

    def read_text(self, path: str) -> str:
        """A repo-relative file as text, for the source view (replacement chars for bad bytes)."""
        return (self.root / path).read_bytes().decode("utf-8", errors="replace")

    # -- discovery (discover.py) -----------------------------------------------------
    def scan(
        self, *, use_cache: bool = True, collect: bool = False, on_progress: ProgressCallback | None = None
    ) -> ScanResult:
        """Every flaky-marked test, the repository findings and the skipped files."""
        raise NotImplementedError

    # -- diagnosis (diagnose/) -------------------------------------------------------
    def diagnose(self, test: FlakyTest) -> Diagnosis:
        """Evidence and a suggested category for one test (cached by content hash)."""
        raise NotImplementedError

    def diagnose_many(
        self,
        tests: Sequence[FlakyTest],
        *,
        on_result: Callable[[Diagnosis], None] | None = None,
        should_stop: StopPredicate | None = None,
    ) -> list[Diagnosis]:
        """Diagnose in order, reporting each as it is ready (the app fills rows as they come)."""
        raise NotImplementedError

    # -- verification (verify/) ------------------------------------------------------
    def verify(
        self,
        tests: Sequence[FlakyTest | str],
        *,
        runs: int = 10,
        mode: VerifyMode = VerifyMode.FORKED,
        timeout: float | None = None,
        fail_fast: bool = False,
        on_run: Callable[[RunResult], None] | None = None,
        should_stop: StopPredicate | None = None,
    ) -> list[Verification]:
        """Run each test ``runs`` times with rerun plugins off; record and return the verdicts.

        A ``str`` is a node id relative to the repository's (single) rootdir. ``should_stop``
        is polled often; when it turns true the process group is killed at once.
        """
        raise NotImplementedError

    def _record_verification(self, verification: Verification) -> None:
        """Store a finished verification in the private history (store.py). ``verify`` calls
        this for every verification it completes, cancelled ones included."""
        self._store().add_verification(verification)

    def python_description(self) -> str:
        """The target interpreter that verification uses and where it was found."""
        raise NotImplementedError

    def repro_command(self, test: FlakyTest) -> str:
        """A shell command that reproduces the test's runs outside flaketui."""
        raise NotImplementedError

    # -- fix and commit (codemod.py, vcs.py) -----------------------------------------
    def plan_fix(self, target: FlakyTest | str, *, include: Sequence[str] = (), unverified: bool = False) -> FixPlan:
        """The marker removal for ``target`` (a test, or a class/module node id), its diff and message."""
        raise NotImplementedError

    def commit_fix(
        self,
        plan: FixPlan,
        *,
        include: Sequence[str] = (),
        unverified: bool = False,
        on_output: Callable[[str], None] | None = None,
    ) -> CommitRecord:
        """Apply the removal and commit it with the test file's fix and the chosen files.

        Refused unless the latest verification of every covered test is stable and was run
        on this very tree; on failure the work tree and index are restored.
        """
        raise NotImplementedError

    def undo(self, sha: str | None = None, *, on_output: Callable[[str], None] | None = None) -> CommitRecord:
        """Put the marker back as a new commit (the last flaketui commit if no sha)."""
        raise NotImplementedError

    # -- the record (store.py, .flaketui.toml, report.py) ------------------------------
    def decisions(self) -> dict[tuple[str, str], Triage]:
        """The team's decisions from ``.flaketui.toml``, keyed by (rootdir, nodeid)."""
        from flaketui import decisions

        return decisions.load(self.root)

    def set_category(self, test: FlakyTest, category: Category, decided_by: DecidedBy = DecidedBy.USER) -> Triage:
        """Confirm the test's root cause in ``.flaketui.toml`` (its other fields kept)."""
        return self._decide(test, category=category, decided_by=decided_by)

    def set_note(self, test: FlakyTest, note: str) -> Triage:
        """The team's note about the test in ``.flaketui.toml`` (empty removes it)."""
        return self._decide(test, note=note)

    def keep_marker(self, test: FlakyTest, keep: Keep | None) -> Triage:
        """Keep the marker on purpose (or stop keeping it with ``None``)."""
        return self._decide(test, keep=keep)

    def _decide(self, test: FlakyTest, **changes: object) -> Triage:
        from flaketui import decisions

        lock = self.state_dir() / "decisions.lock"
        return decisions.decide(self.root, test.rootdir, test.nodeid, lock_path=lock, **changes)

    def last_verifications(self) -> dict[tuple[str, str], Verification]:
        """The newest recorded verification per test."""
        return self._store().latest_verifications()

    def history(self, nodeid: str) -> list[Verification]:
        """A test's verifications, oldest first (found by file and function name if it moved)."""
        return self._store().history(nodeid)

    def _record_commit(self, record: CommitRecord) -> None:
        """Remember a commit flaketui made (the audit lists the markers removed)."""
        self._store().add_commit(record)

    def commits(self) -> list[CommitRecord]:
        """flaketui's commits in this repository, oldest first."""
        return self._store().commits()

    def _store(self):  # -> store.Store; imported lazily so the CLI starts without sqlite3
        from flaketui.store import FILENAME, Store

        return Store(self.state_dir() / FILENAME)

    def audit(self, *, as_json: bool = False) -> str:
        """``flaky_test_audit.md`` (or its JSON)."""
        raise NotImplementedError

    def check(self, *, budget: int = 0) -> GateResult:
        raise NotImplementedError

    # -- the editor ------------------------------------------------------------------
    def open_in_editor(self, path: str, line: int) -> None:
        """Run ``$VISUAL``/``$EDITOR`` at the line, in the foreground (the app suspends first)."""
        raise NotImplementedError


def _find_root(start: Path) -> Path:
    """The enclosing git work tree's top, found without starting git; else ``start`` itself."""
    start = start.resolve()
    if not start.is_dir():
        raise FlakeTUIError(f"{start} is not a directory.", "Pass an existing directory with -C PATH.")
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start
