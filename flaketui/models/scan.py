"""What discovery finds: the categories, markers, flaky tests, findings and scan results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Self

from flaketui.models.key import NamesATest

#: A model in JSON: ``to_json`` gives one, ``from_json`` reads one back. Each model has one
#: form, used by ``--json``, the caches and the record alike.
JSONObject = dict[str, Any]


def fields_json(model: Any) -> JSONObject:
    """The JSON form of a dataclass that is its fields as they are: each under its own name,
    in order; an enum as its value, a model as its own JSON form."""
    found = {}
    for item in fields(model):
        value = getattr(model, item.name)
        if isinstance(value, StrEnum):
            value = str(value)
        elif hasattr(value, "to_json"):
            value = value.to_json()
        found[item.name] = value
    return found


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
    #: Where only one branch of the code applies the marker, that branch's condition as
    #: written (``if ON_CI``, ``except ImportError``): the test is flaky-marked only then.
    condition: str | None = None

    @property
    def args_dict(self) -> dict[str, str]:
        return dict(self.args)

    def to_json(self) -> JSONObject:
        return {
            "kind": str(self.kind),
            "scope": str(self.scope),
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "source": self.source,
            "args": dict(self.args),
            "positional": list(self.positional),
            "via": self.via,
            "condition": self.condition,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        args = data.get("args", {})
        # Records written before this codec kept args as a list of [key, value] pairs.
        pairs = args.items() if isinstance(args, Mapping) else args
        return cls(
            kind=MarkerKind(data["kind"]),
            scope=MarkerScope(data["scope"]),
            path=data["path"],
            line=data["line"],
            source=data["source"],
            args=tuple((str(k), str(v)) for k, v in pairs),
            positional=tuple(data.get("positional", ())),
            end_line=data.get("end_line"),
            via=data.get("via"),
            condition=data.get("condition"),
        )

    @property
    def summary(self) -> str:
        """Short form for a table cell: ``reruns=3`` or the kind."""
        if self.args:
            return ", ".join(f"{k}={v}" for k, v in self.args)
        return f"@{self.kind}" if self.kind is not MarkerKind.UNKNOWN else "flaky"


@dataclass(frozen=True)
class FlakyTest(NamesATest):
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
    #: Modules its test module needs at import (``pytest.importorskip("pynvml")`` at module level).
    requires: tuple[str, ...] = ()
    #: Why pytest would not collect it with the project's interpreter ("needs pynvml"): it is
    #: listed all the same, as users want every marker that exists. Set by the service.
    skipped_here: str | None = None

    @property
    def marker(self) -> Marker:
        """The marker closest to the test (function before class before module)."""
        return self.markers[0]

    def to_json(self) -> JSONObject:
        """``marker`` (the closest one) is there for readers of ``scan --json``; ``markers`` is all."""
        return {
            "nodeid": self.nodeid,
            "rootdir": self.rootdir,
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "name": self.name,
            "class": self.class_name,
            "marker": self.marker.to_json(),
            "markers": [m.to_json() for m in self.markers],
            "requires": list(self.requires),
            "skipped_here": self.skipped_here,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            nodeid=data["nodeid"],
            rootdir=data["rootdir"],
            path=data["path"],
            line=data["line"],
            name=data["name"],
            markers=tuple(Marker.from_json(m) for m in data["markers"]),
            class_name=data["class"],
            end_line=data.get("end_line"),
            requires=tuple(data.get("requires", ())),
            skipped_here=data.get("skipped_here"),
        )


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

    def to_json(self) -> JSONObject:
        return fields_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(data["kind"], data["path"], data["line"], data["message"], data.get("source", ""))


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str

    def to_json(self) -> JSONObject:
        return fields_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(data["path"], data["reason"])


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

    def to_json(self) -> JSONObject:
        """What a scan found (``scan --json``); where and how it ran is not part of it."""
        return {
            "tests": [t.to_json() for t in self.tests],
            "findings": [f.to_json() for f in self.findings],
            "skipped": [s.to_json() for s in self.skipped],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], root: str, *, files_scanned: int = 0, from_cache: bool = False) -> Self:
        return cls(
            root,
            tuple(FlakyTest.from_json(t) for t in data["tests"]),
            tuple(Finding.from_json(f) for f in data["findings"]),
            tuple(Skipped.from_json(s) for s in data["skipped"]),
            files_scanned=files_scanned,
            from_cache=from_cache,
        )
