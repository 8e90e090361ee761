"""What discovery finds: the categories, markers, flaky tests, findings and scan results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flaketui.models.key import TestKey


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
    def key(self) -> TestKey:
        return TestKey(self.rootdir, self.nodeid)


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
