"""What diagnosis says about a test: the suspicious lines and the suggested category."""

from __future__ import annotations

from dataclasses import dataclass

from flaketui.models.scan import Category


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
