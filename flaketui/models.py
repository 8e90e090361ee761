"""Frozen dataclasses and enums shared by every layer. Standard library only.

Paths in these models are POSIX strings relative to the repository root, so they
serialise to JSON and SQLite unchanged and mean the same on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """Root-cause categories (Luo et al. FSE 2014, Gruber et al. ICST 2021), in key order 1-7."""

    RACE = "race"
    ASYNC = "async"
    TIME = "time"
    EXTERNAL = "external"
    DATA = "data"
    FIXTURE = "fixture"
    ORDER = "order"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]

    @property
    def key(self) -> str | None:
        """The digit that assigns this category in the app; ``unknown`` has none."""
        order = list(Category)
        return None if self is Category.UNKNOWN else str(order.index(self) + 1)


_CATEGORY_LABELS = {
    Category.RACE: "race condition / shared state",
    Category.ASYNC: "async coordination",
    Category.TIME: "time and dates",
    Category.EXTERNAL: "external dependency",
    Category.DATA: "non-deterministic data",
    Category.FIXTURE: "fixture / isolation",
    Category.ORDER: "test order dependency",
    Category.UNKNOWN: "unknown",
}


class MarkerKind(StrEnum):
    """Which plugin reads the marker."""

    RERUNFAILURES = "rerunfailures"
    FLAKY = "flaky"
    RETRY = "retry"
    UNKNOWN = "unknown"


class MarkerScope(StrEnum):
    FUNCTION = "function"
    CLASS = "class"
    MODULE = "module"
    PARAM = "param"


@dataclass(frozen=True)
class Marker:
    """One flaky marker as written in the source.

    ``path``/``line`` locate the marker expression itself (a class decorator for a class
    marker, the ``pytestmark`` assignment for a module one), which may be in another file
    than the test when a base class or an alias lives elsewhere.
    """

    kind: MarkerKind
    scope: MarkerScope
    path: str
    line: int
    source: str
    args: tuple[tuple[str, str], ...] = ()
    positional: tuple[str, ...] = ()
    end_line: int | None = None
    #: The alias or helper name the marker was reached through (``flaky`` in ``@flaky``
    #: when ``flaky = pytest.mark.flaky(reruns=3)``), if any.
    via: str | None = None

    @property
    def args_dict(self) -> dict[str, str]:
        return dict(self.args)

    @property
    def summary(self) -> str:
        """Short form for a table cell: ``reruns=3`` or the kind."""
        if self.args:
            return ", ".join(f"{k}={v}" for k, v in self.args)
        return f"@{self.kind}" if self.kind is not MarkerKind.UNKNOWN else "flaky"


@dataclass(frozen=True)
class FlakyTest:
    """A test that carries at least one flaky marker.

    ``nodeid`` is exactly what pytest prints when run from ``rootdir`` (relative to the
    repository root, ``"."`` when they coincide); ``path`` is relative to the repository root.
    """

    nodeid: str
    rootdir: str
    path: str
    line: int
    name: str
    markers: tuple[Marker, ...]
    class_name: str | None = None
    end_line: int | None = None

    @property
    def marker(self) -> Marker:
        """The marker closest to the test (function before class before module)."""
        return self.markers[0]

    @property
    def key(self) -> tuple[str, str]:
        return (self.rootdir, self.nodeid)


@dataclass(frozen=True)
class Finding:
    """Something in the repository that hides flakiness beyond single tests.

    ``kind`` is a short slug: ``config-reruns``, ``ci-reruns``, ``collection-hook``,
    ``xfail-flaky``, ``retry-decorator``...
    """

    kind: str
    path: str
    line: int
    message: str
    source: str = ""


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class ScanResult:
    root: str
    tests: tuple[FlakyTest, ...] = ()
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    files_scanned: int = 0
    from_cache: bool = False
    #: The stat fingerprint of the tree the scan read (empty when not cached): equal
    #: fingerprints mean every file a scan or a diagnosis reads is unchanged.
    fingerprint: str = ""


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


class RunOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"


class Verdict(StrEnum):
    STABLE = "stable"
    FLAKY = "flaky"
    BROKEN = "broken"
    ERROR = "error"


class VerifyMode(StrEnum):
    FORKED = "forked"
    SAME_PROCESS = "same-process"
    FRESH_PROCESS = "fresh-process"
    RANDOM_ORDER = "random-order"
    PARALLEL = "parallel"


@dataclass(frozen=True)
class RunResult:
    nodeid: str
    index: int
    outcome: RunOutcome
    duration: float = 0.0
    message: str = ""
    seed: int | None = None


def failure_rate_upper_95(failures: int, runs: int) -> float:
    """One-sided 95% upper bound on the failure rate (Clopper-Pearson).

    After 0 failures in 10 runs this is 1 - 0.05**(1/10) = 0.259: ten passes still allow a
    failure rate of about 26%. Solved by bisection on the binomial tail so it needs no SciPy.
    """
    if runs <= 0:
        return 1.0
    if failures >= runs:
        return 1.0

    def tail(p: float) -> float:  # P(X <= failures | n=runs, p)
        return sum(math.comb(runs, k) * p**k * (1 - p) ** (runs - k) for k in range(failures + 1))

    lo, hi = failures / runs, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if tail(mid) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class Verification:
    """N runs of one test and what they say. ``head``/``tree_fingerprint`` pin the tree it ran on."""

    nodeid: str
    rootdir: str
    mode: VerifyMode
    runs_requested: int
    results: tuple[RunResult, ...]
    verdict: Verdict
    command: str
    head: str | None = None
    tree_fingerprint: str | None = None
    python: str = ""
    started_at: str = ""
    #: Why the mode differs from the one asked for, a collection error, ...
    note: str = ""
    #: Paths with uncommitted changes when it ran (the commit message names those left out).
    dirty_paths: tuple[str, ...] = ()

    def count(self, outcome: RunOutcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def runs(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return self.count(RunOutcome.PASSED)

    @property
    def failure_rate_upper_95(self) -> float:
        return failure_rate_upper_95(self.runs - self.passed, self.runs)

    @property
    def summary(self) -> str:
        """``10/10 passed, forked, failure rate < 26% at 95%``."""
        bound = round(self.failure_rate_upper_95 * 100)
        return f"{self.passed}/{self.runs} passed, {self.mode}, failure rate < {bound}% at 95%"


class DecidedBy(StrEnum):
    USER = "user"
    SUGGESTION = "suggestion"


@dataclass(frozen=True)
class Keep:
    """A marker kept on purpose (``calls a live service``), until ``expires`` (ISO date) if set."""

    reason: str
    expires: str | None = None


@dataclass(frozen=True)
class Triage:
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
