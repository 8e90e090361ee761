"""What the team decides and commits: categories, kept markers, commits of fixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from flaketui.models.key import NamesATest
from flaketui.models.runs import Verification
from flaketui.models.scan import Category


class DecidedBy(StrEnum):
    USER = "user"
    SUGGESTION = "suggestion"


@dataclass(frozen=True)
class Keep:
    """A marker kept on purpose (``calls a live service``), until ``expires`` (ISO date) if set."""

    reason: str
    expires: str | None = None


@dataclass(frozen=True)
class Triage(NamesATest):
    """A team's decision about one test, as stored in ``.flaketui.toml``."""

    nodeid: str
    rootdir: str = "."
    category: Category | None = None
    decided_by: DecidedBy | None = None
    note: str = ""
    keep: Keep | None = None


@dataclass(frozen=True)
class CommitRecord:
    sha: str
    nodeid: str
    message: str
    kind: str = "fix"  # "fix" or "undo"
    undoes: str | None = None
    files: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class NodeRecord:
    """Everything recorded about one node id: the team's decisions, verifications, commits."""

    nodeid: str
    decisions: tuple[Triage, ...]
    verifications: tuple[Verification, ...]
    commits: tuple[CommitRecord, ...]
