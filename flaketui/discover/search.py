"""What a scan may ask outside Python: which files hold a pattern (``git grep``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol


class FileSearch(Protocol):
    """Answers from outside Python which files hold a pattern (``git grep`` in a repository,
    which reads every file on every core). ``None`` means "cannot tell": read them all.
    ``gitjobs.GitSearch`` is the one there is."""

    def to_read(self) -> Collection[str] | None:
        """The Python files in which one of ``READ_PATTERNS`` occurs."""

    def naming(self, words: Collection[str]) -> Callable[[], Collection[str] | None]:
        """Start looking for the Python files in which one of ``words`` (ASCII identifiers)
        occurs as a whole word; the returned function waits for the answer."""
