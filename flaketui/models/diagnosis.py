"""What diagnosis says about a test: the suspicious lines and the suggested category."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from flaketui.models.scan import Category, FlakyTest, JSONObject


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

    def to_json(self) -> JSONObject:
        return {
            "category": str(self.category),
            "rule": self.rule,
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "message": self.message,
            "fix": self.fix,
            "weight": self.weight,
            "where": self.where,
            "fix_at": {"path": self.fix_at[0], "line": self.fix_at[1]},
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            category=Category(data["category"]),
            rule=data["rule"],
            path=data["path"],
            line=int(data["line"]),
            end_line=int(data["end_line"]),
            message=data["message"],
            fix=data["fix"],
            weight=float(data["weight"]),
            where=data["where"],
            source=data.get("source", "code"),
            **_fix_fields(data.get("fix_at"), data["path"], int(data["line"])),
        )


@dataclass(frozen=True)
class LineChange:
    """A commit that changed a test's lines (``git log -L``): what its author said it did."""

    sha: str
    subject: str
    body: str = ""
    #: How many files the commit changed: a sweep over the suite names no one test's cause.
    files: int = 1


@dataclass(frozen=True)
class Suggestion:
    category: Category
    confidence: float

    def to_json(self) -> JSONObject:
        return {"category": str(self.category), "confidence": self.confidence}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(Category(data["category"]), float(data["confidence"]))


@dataclass(frozen=True)
class Diagnosis:
    nodeid: str
    suggestion: Suggestion
    evidence: tuple[Evidence, ...] = ()
    #: Categories ranked by support, best first, for the category picker.
    ranking: tuple[Suggestion, ...] = ()

    def to_json(self) -> JSONObject:
        return {
            "nodeid": self.nodeid,
            "suggestion": {**self.suggestion.to_json(), "fix_at": _place(self.fix_at)},
            "ranking": [s.to_json() for s in self.ranking],
            "evidence": [e.to_json() for e in self.evidence],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            nodeid=data["nodeid"],
            suggestion=Suggestion.from_json(data["suggestion"]),
            ranking=tuple(Suggestion.from_json(s) for s in data["ranking"]),
            evidence=tuple(Evidence.from_json(e) for e in data["evidence"]),
        )

    @property
    def fix_at(self) -> tuple[str, int] | None:
        """The one place the fix belongs: where the strongest evidence of the suggested cause
        says to change (a repository-relative path and a line), if a cause is suggested. A marker
        that only declares the need (``@pytest.mark.network``) yields to the request it declares."""
        places = [item for item in self.evidence
                  if item.category is self.suggestion.category and not item.rule.startswith("note.")
                  and item.source != "history" and item.fix_at[0]]
        code = [item for item in places if item.rule not in _DECLARATIONS]
        return (code or places)[0].fix_at if places else None


#: Evidence that a marker declares the cause, not where it lives.
_DECLARATIONS = frozenset({"external.declared-network"})

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


def _place(place: tuple[str, int] | None) -> dict[str, Any] | None:
    return None if place is None else {"path": place[0], "line": place[1]}


def _fix_fields(place: Mapping[str, Any] | None, path: str, line: int) -> dict[str, Any]:
    """``fix_path``/``fix_line`` when the fix belongs elsewhere than the evidence's own line."""
    if not place or (place["path"], place["line"]) == (path, line):
        return {}
    return {"fix_path": place["path"], "fix_line": int(place["line"])}
