"""What diagnosis says about a test: the suspicious lines and the suggested category."""

from __future__ import annotations

from dataclasses import dataclass

from flaketui.models.scan import Category, FlakyTest


@dataclass(frozen=True)
class Evidence:
    """One suspicious line and why. ``where`` says how the test reaches it
    (``test body``, ``fixture db_session in tests/conftest.py:40``, ``helper make_client``)."""

    category: Category
    rule: str
    path: str
    line: int
    end_line: int
    message: str
    fix: str
    weight: float
    where: str = "test body"
    #: Where the fix belongs when it is not this line (the test's call of a helper that warns,
    #: the polluting test's assignment); empty for this line.
    fix_path: str = ""
    fix_line: int = 0
    #: ``code`` (read from the source), ``runs`` (what failed verification runs showed) or
    #: ``history`` (what a commit that changed the test after it was written says).
    source: str = "code"

    @property
    def fix_at(self) -> tuple[str, int]:
        return (self.fix_path, self.fix_line) if self.fix_path else (self.path, self.line)


@dataclass(frozen=True)
class LineChange:
    """A commit that changed a test's lines (``git log -L``): what its author said it did."""

    sha: str
    subject: str
    body: str = ""


@dataclass(frozen=True)
class Suggestion:
    category: Category
    confidence: float


@dataclass(frozen=True)
class Diagnosis:
    nodeid: str
    suggestion: Suggestion
    evidence: tuple[Evidence, ...] = ()
    #: Categories ranked by support, best first, for the category picker.
    ranking: tuple[Suggestion, ...] = ()

    @property
    def fix_at(self) -> tuple[str, int] | None:
        """The one place the fix belongs: where the strongest evidence of the suggested cause
        says to change (a repository-relative path and a line), if a cause is suggested."""
        for item in self.evidence:
            if (item.category is self.suggestion.category and not item.rule.startswith("note.")
                    and item.source != "history" and item.fix_at[0]):
                return item.fix_at
        return None

@dataclass(frozen=True)
class Excerpt:
    """Lines of one file worth reading about a test: ``spans`` (first, last) to show, and the
    ``flagged`` lines that carry evidence."""

    path: str
    text: str
    spans: tuple[tuple[int, int], ...]
    flagged: frozenset[int]


@dataclass(frozen=True)
class Explanation:
    """``flaketui explain``: the test (``nodeid`` repo-relative), its diagnosis, the source."""

    test: FlakyTest
    nodeid: str
    diagnosis: Diagnosis
    excerpts: tuple[Excerpt, ...]
