"""What the table knows about each flaky test, and the filter/sort rules over it.

Plain Python (no widgets) so the rules are tested without an app and stay fast for
thousands of rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from flaketui.models import (
    DEFAULT_MIN_RUNS,
    Category,
    RunOutcome,
    Verdict,
    VerifyMode,
)

if TYPE_CHECKING:
    from flaketui.models import (
        Diagnosis,
        FlakyTest,
        RepoInfo,
        RunResult,
        TestKey,
        Triage,
        Verification,
    )
    from flaketui.models.history import Candidate, HuntTest


class Stage(StrEnum):
    """Where a test is in its triage when no verdict speaks for it, or something overrides the verdict."""

    UNVERIFIED = "unverified"
    QUEUED = "queued"
    RUNNING = "running"
    #: Verified, but on another tree: the result no longer vouches for this one.
    STALE = "stale"
    KEPT = "kept"
    FIXED = "fixed"


#: A row's state, as the ``state:`` filter names it: its stage, or its verification's verdict.
RowState: TypeAlias = Stage | Verdict
#: Every state, in the order the state sort shows them.
ROW_STATES: tuple[RowState, ...] = (Stage.UNVERIFIED, Stage.QUEUED, Stage.RUNNING, *Verdict, Stage.STALE,
                                    Stage.KEPT, Stage.FIXED)


#: Glyphs of the status column; the colour comes from the tcss via component classes.
STATE_GLYPHS: dict[RowState, str] = {
    Stage.UNVERIFIED: "○",
    Stage.QUEUED: "…",
    Stage.RUNNING: "◌",
    Verdict.STABLE: "●",
    Verdict.FLAKY: "◐",
    Verdict.BROKEN: "✗",
    Verdict.ERROR: "!",
    Verdict.SKIPPED: "s",
    Verdict.CANCELLED: "×",
    Stage.STALE: "◔",
    Stage.KEPT: "⚑",
    Stage.FIXED: "✓",
}

#: Sources in the order they are named (``hunt+hist``, badge ``HC``), their short names and badges.
_SOURCE_ORDER = {"hunt": 0, "history": 1, "marker": 2}
_SOURCE_SHORT = {"history": "hist"}
_SOURCE_BADGES = {"hunt": "H", "history": "C"}


def _in_order(sources: Iterable[str]) -> list[str]:
    return sorted(sources, key=lambda source: _SOURCE_ORDER.get(source, len(_SOURCE_ORDER)))


@dataclass
class Progress:
    """A verification under way: runs finished so far out of those asked for."""

    total: int
    results: list[RunResult] = field(default_factory=list)
    mode: VerifyMode = VerifyMode.FORKED

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.outcome is RunOutcome.PASSED)


@dataclass
class Row:
    test: FlakyTest
    diagnosis: Diagnosis | None = None
    triage: Triage | None = None
    verification: Verification | None = None
    progress: Progress | None = None
    queued: bool = False
    marked: bool = False
    fixed: bool = False
    #: The last verification ran on another tree (HEAD moved or files changed since).
    stale: bool = False
    #: An unmarked test that CI history or a hunt shows flaky (``test`` carries no marker).
    candidate: Candidate | None = None
    #: A marked test's failures in the latest hunt (a candidate's are in ``candidate``).
    hunt: HuntTest | None = None

    @property
    def key(self) -> TestKey:
        return self.test.key

    @property
    def sources(self) -> tuple[str, ...]:
        """Where the row comes from: ``marker``, or ``history`` and/or ``hunt`` for a candidate."""
        return tuple(self.candidate.sources) if self.candidate is not None else ("marker",)

    @property
    def source(self) -> str:
        """The source column: ``marker``, ``history``, ``hunt``, or ``hunt+hist`` for both."""
        sources = self.sources
        if len(sources) == 1:
            return sources[0]
        return "+".join(_SOURCE_SHORT.get(s, s) for s in _in_order(sources))

    @property
    def badge(self) -> str:
        """The source folded into the status column when the table has no room for its own:
        nothing for a marker, ``H`` for a hunt, ``C`` for CI history."""
        return "".join(_SOURCE_BADGES.get(s, "") for s in _in_order(self.sources))

    @property
    def failures(self) -> tuple[int, int]:
        """Measured (failed, runs): the last verification, a candidate's history and hunts, a marked
        test's latest hunt."""
        failed = runs = 0
        if self.verification is not None:
            failed, runs = self.verification.runs - self.verification.passed, self.verification.runs
        if self.candidate is not None:
            failed += round(self.candidate.failure_rate * self.candidate.runs)
            runs += self.candidate.runs
        elif self.hunt is not None:
            failed, runs = failed + self.hunt.total.failed, runs + self.hunt.total.runs
        return failed, runs

    @property
    def state(self) -> RowState:
        if self.fixed:
            return Stage.FIXED
        if self.progress is not None:
            return Stage.RUNNING
        if self.queued:
            return Stage.QUEUED
        if self.triage is not None and self.triage.keep is not None:
            return Stage.KEPT
        if self.verification is not None:
            return Stage.STALE if self.stale else self.verification.verdict
        return Stage.UNVERIFIED

    @property
    def suggested(self) -> Category | None:
        return self.diagnosis.suggestion.category if self.diagnosis is not None else None

    @property
    def confirmed(self) -> Category | None:
        return self.triage.category if self.triage is not None else None

    @property
    def category(self) -> Category | None:
        """The team's decision if there is one, else the suggestion."""
        return self.confirmed or self.suggested

    def marker_text(self) -> str:
        if not self.test.markers:  # a candidate: the source column says what found it
            return "—"
        text = self.test.marker.summary
        extra = len(self.test.markers) - 1
        return f"{text} +{extra}" if extra > 0 else text

    def category_text(self, width: int = 0) -> str:
        """``✓ time`` once confirmed, ``async? 80%`` while only suggested, ``unknown`` as such;
        within ``width`` cells, a suggestion drops its confidence (``external?``) before its name."""
        if self.triage is not None and self.triage.keep is not None:
            return "kept"
        if self.confirmed is not None:
            return f"✓ {self.confirmed}"
        if self.diagnosis is None:
            return "…"
        suggestion = self.diagnosis.suggestion
        if suggestion.category is Category.UNKNOWN:
            return "unknown"
        text = f"{suggestion.category}? {suggestion.confidence:.0%}"
        return f"{suggestion.category}?" if width and len(text) > width else text

    def verification_text(self, bar_width: int = 8) -> str:
        if self.progress is not None:
            done, total = self.progress.done, self.progress.total
            filled = round(bar_width * done / total) if total else 0
            return f"{done}/{total} {'▮' * filled}{'▯' * (bar_width - filled)}"
        if self.queued:
            return "queued"
        if self.verification is not None:
            # A fixed row's runs are what allowed its commit: the commit itself made them "old".
            old = " old" if self.stale and not self.fixed else ""
            if self.verification.verdict is Verdict.SKIPPED:
                return f"skipped{old}"
            if self.verification.verdict is Verdict.CANCELLED:
                return f"cancelled {self.verification.runs}/{self.verification.runs_requested}{old}"
            return f"{self.verification.passed}/{self.verification.runs}{old}"
        return ""


def fit_test(nodeid: str, width: int) -> tuple[str, str]:
    """``(prefix, name)`` of a node id fitted to ``width`` cells, the function's name first.

    The function's name and parameter id are what tell rows apart, so they are kept whole
    while they fit; the file, then the class (a prefix the table dims), give way first, then
    the middle of the name, so its start and its parameter id stay readable.
    """
    path, sep, name = nodeid.partition("::")
    file = path.rpartition("/")[2]
    if not sep:
        file, name = "", nodeid
    if width <= 0:  # not laid out yet
        return (f"{file} " if file else "", name)
    scope, _, function = name.rpartition("::")
    if len(name) > width and scope:
        # The class gives way whole, as the file does: a cut class name reads as another class.
        name = function
    if len(name) > width:
        if width < 2:
            return "", name[:width]
        head = (width - 1) // 2
        return "", name[:head] + "…" + name[len(name) - (width - 1 - head):]
    # The file whole or not at all: a cut file name reads as another file.
    if file and len(file) + 1 + len(name) <= width:
        return f"{file} ", name
    return "", name


def verdict_sentence(verification: Verification) -> str:
    """The honest one-line result: ``10/10 passed: failure rate < 26% at 95%``."""
    if verification.verdict in (Verdict.SKIPPED, Verdict.CANCELLED):
        return f"{verification.summary}: nothing verified"
    bound = round(verification.failure_rate_upper_95 * 100)
    head = f"{verification.passed}/{verification.runs} passed"
    if verification.runs < verification.runs_requested:
        head += f" (of {verification.runs_requested} asked)"
    if verification.verdict is Verdict.STABLE and verification.runs < DEFAULT_MIN_RUNS:
        return f"{head} ({verification.mode}), only: {verification.few_runs_meaning}"
    if verification.verdict is Verdict.STABLE:
        return f"{head}: failure rate < {bound}% at 95% ({verification.mode})"
    if verification.verdict is Verdict.FLAKY:
        return f"{head}: flaky, it still fails ({verification.mode})"
    if verification.verdict is Verdict.BROKEN:
        return f"{head}: broken, it fails every time ({verification.mode})"
    return f"{head}: the runs could not complete ({verification.mode}) {verification.note}".rstrip()


# -- filtering -------------------------------------------------------------------------

Predicate = Callable[[Row], bool]


def parse_filter(query: str) -> Predicate:
    """``cat:time state:flaky src:hunt reconnect``: every term must hold. ``cat:`` matches the
    confirmed category, else the suggestion; ``src:`` what found the test (``marker``,
    ``history``, ``hunt``); a bare word matches the node id or marker."""
    terms: list[Predicate] = []
    for word in query.split():
        name, sep, value = word.partition(":")
        value = value.lower()
        if sep and name in ("cat", "category"):
            terms.append(functools.partial(_category_starts, value))
        elif sep and name == "state":
            terms.append(functools.partial(_state_starts, value))
        elif sep and name == "marker":
            terms.append(functools.partial(_marker_has, value))
        elif sep and name in ("src", "source"):
            terms.append(functools.partial(_source_starts, value))
        else:
            terms.append(functools.partial(_mentions, word.lower()))
    return lambda row: all(term(row) for term in terms)


# -- sorting ---------------------------------------------------------------------------


class SortOrder(StrEnum):
    #: The tests that fail most often (then run most often) first: fix those first.
    FAILURES = "failures"
    FILE = "file"
    CATEGORY = "category"
    STATE = "state"
    CONFIDENCE = "confidence"

    def next(self) -> SortOrder:
        order = list(SortOrder)
        return order[(order.index(self) + 1) % len(order)]


_CATEGORY_RANK = {c: i for i, c in enumerate(Category)}
_STATE_RANK = {s: i for i, s in enumerate(ROW_STATES)}


def _category_starts(prefix: str, row: Row) -> bool:
    return row.category is not None and str(row.category).startswith(prefix)


def _state_starts(prefix: str, row: Row) -> bool:
    return str(row.state).startswith(prefix)


def _marker_has(text: str, row: Row) -> bool:
    return text in row.marker_text().lower()


def _source_starts(prefix: str, row: Row) -> bool:
    return any(source.startswith(prefix) for source in row.sources)


def _mentions(text: str, row: Row) -> bool:
    return text in row.test.nodeid.lower() or text in row.marker_text().lower()


def sort_key(order: SortOrder) -> Callable[[Row], tuple[object, ...]]:
    def by_file(row: Row) -> tuple[str, int, str]:
        return (row.test.path, row.test.line, row.test.nodeid)

    if order is SortOrder.CATEGORY:
        return lambda row: (_CATEGORY_RANK.get(row.category, len(_CATEGORY_RANK)) if row.category else 99, *by_file(row))
    if order is SortOrder.STATE:
        return lambda row: (_STATE_RANK[row.state], *by_file(row))
    if order is SortOrder.FAILURES:
        return lambda row: (_by_failures(row), *by_file(row))
    if order is SortOrder.CONFIDENCE:
        return lambda row: (-(row.diagnosis.suggestion.confidence if row.diagnosis else -1.0), *by_file(row))
    return by_file


def _by_failures(row: Row) -> tuple[float, int]:
    failed, runs = row.failures
    if not runs:  # never measured: its marker says it fails sometimes, so before those that never failed
        return (0.0, 0)
    # Tests that were measured and never failed go last: a verification that passes moves a row down.
    return (-(failed / runs), -runs) if failed else (1.0, -runs)


# -- counts for the header ---------------------------------------------------------------


def counts(rows: Iterable[Row]) -> tuple[dict[RowState, int], dict[Category, int]]:
    by_state: dict[RowState, int] = {}
    by_category: dict[Category, int] = {}
    for row in rows:
        state, category = row.state, row.category  # properties: the header counts each diagnosis batch
        by_state[state] = by_state.get(state, 0) + 1
        if category is not None:
            by_category[category] = by_category.get(category, 0) + 1
    return by_state, by_category


def same_tree(verification: Verification, info: RepoInfo) -> bool:
    """Whether it ran on the tree the repository has now (always, outside git)."""
    if not info.is_git:
        return True
    return verification.head == info.head and verification.tree_fingerprint == info.fingerprint


def verified_here(verification: Verification | None, info: RepoInfo) -> bool:
    """A stable verification of this very tree: what a commit needs."""
    return verification is not None and verification.verdict is Verdict.STABLE and same_tree(verification, info)
