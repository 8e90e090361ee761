"""A fix plan (what a marker-removal commit would hold) and what undo needs to reverse it.

"Fix plan" means this one thing: :class:`FixPlan`, built by ``workflows.fix`` and shown by the
faces before they commit it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flaketui.models.scan import Category, FlakyTest, JSONObject, Marker, fields_json


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
    #: What ``fix --apply`` measured and wrote (``Fix: ...``, before and after): goes in the message.
    proof: str = ""
    #: ``--category``: overrides the team's decision and the diagnosis in the message.
    category: Category | None = None
    #: sha256 of each edited file as the removal saw it: a later edit voids the plan.
    sources: tuple[tuple[str, str], ...] = ()
    #: One marker removed per entry: what undo needs to put them back.
    restore: tuple[RemovedMarker, ...] = field(default=(), repr=False)
    #: What the verification does not prove (a marker for another platform, few runs): a
    #: commit needs the user's explicit word for each (``accept_cautions``).
    cautions: tuple[str, ...] = ()

    @classmethod
    def refused(cls, target: str, refusal: str, tests: tuple[FlakyTest, ...] = ()) -> FixPlan:
        return cls(target=target, tests=tests, diff="", message="", refusal=refusal)


@dataclass(frozen=True)
class RemovedMarker:
    """A marker a fix removed, with where its test was: undo puts it back from this."""

    path: str
    test_name: str
    class_name: str | None
    nodeid: str
    marker: Marker
    #: The ``def`` line when the marker was removed: puts a decorator back in its old place.
    test_line: int | None = None

    @classmethod
    def of(cls, test: FlakyTest, marker: Marker) -> RemovedMarker:
        return cls(test.path, test.name, test.class_name, test.nodeid, marker, test.line)

    def to_json(self) -> JSONObject:
        return fields_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemovedMarker:
        return cls(
            data["path"], data["test_name"], data["class_name"], data["nodeid"],
            Marker.from_json(data["marker"]), data.get("test_line"),
        )  # fmt: skip
