"""What a remedy is given and what it hands back.

A remedy reads source bytes and returns new bytes, or a ``Declined`` that says why it made no
proposal (a library the project does not depend on, a pattern it cannot change safely). It
never reads the disk itself: ``Context.read`` does, so the same code serves the work tree,
a commit, and the golden tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flaketui.models import Category, Evidence

#: A repo-relative path -> that file's bytes, or None when there is no such file.
Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Target:
    """The test to fix: its file (repo-relative), function, class, and ``def`` line."""

    path: str
    name: str
    class_name: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Context:
    target: Target
    read: Reader
    #: The diagnosis' evidence, strongest first: where the cause was seen.
    evidence: tuple[Evidence, ...] = ()
    #: The suggested (or team-confirmed) category: remedies of that kind rank first.
    category: Category = Category.UNKNOWN
    #: Distribution names the project declares (lower case, ``-`` for ``_``): freezegun...
    dependencies: frozenset[str] = frozenset()
    #: Directories the project's imports resolve from (``src``, pytest's ``pythonpath``, ``.``).
    import_roots: tuple[str, ...] = (".", "src")
    #: The repository's Python files (repo-relative): where the project's own code is found.
    project_files: tuple[str, ...] = ()
    #: Tests a bisection (or a hunt) confirmed: the target fails after them, passes alone.
    polluters: tuple[Target, ...] = ()
    #: Files in the work tree that git does not track: a file a test run left behind is one.
    untracked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FileEdit:
    """One file a proposal changes, whole: ``after`` is written only while the file still holds
    ``before`` (``apply_edits``), so a fix proposed on other content is never applied."""

    path: str
    before: bytes
    after: bytes


@dataclass(frozen=True)
class Proposal:
    """One way to remove the cause. ``edits`` is empty for "keep, with reason"."""

    category: Category
    #: ``order.sorted``, ``seed.random``...: which remedy wrote it.
    remedy: str
    title: str
    why: str
    edits: tuple[FileEdit, ...] = ()
    #: For a proposal that changes no code: the reason to record when keeping the marker.
    keep_reason: str | None = None
    #: How well it fits the diagnosis; higher first.
    score: float = 0.0
    #: Lines the fix changes, per path (for ranking against the diagnosis' lines).
    lines: tuple[tuple[str, int], ...] = field(default=(), repr=False)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(e.path for e in self.edits)

    @property
    def changes_code(self) -> bool:
        return bool(self.edits)


@dataclass(frozen=True)
class Declined:
    """A remedy that saw its pattern but offers nothing, and why (shown by ``--propose``)."""

    remedy: str
    reason: str
