"""Frozen dataclasses and enums shared by every layer. Standard library only.

Paths in these models are POSIX strings relative to the repository root, so they
serialise to JSON and SQLite unchanged and mean the same on every machine.

Discovery's models load with the package; the others (``diagnosis``, ``runs``, ``triage``)
on first use: a frozen dataclass costs half a millisecond to create, and a scan builds
none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from flaketui.models.key import TestKey, repo_nodeid, selects
from flaketui.models.scan import (
    Category,
    Finding,
    FlakyTest,
    Marker,
    MarkerKind,
    MarkerScope,
    ScanResult,
    Skipped,
)

if TYPE_CHECKING:
    from flaketui.models.diagnosis import Diagnosis, Evidence, Suggestion
    from flaketui.models.runs import (
        DEFAULT_MIN_RUNS,
        RunOutcome,
        RunResult,
        Verdict,
        Verification,
        VerifyMode,
        failure_rate_upper_95,
    )
    from flaketui.models.triage import CommitRecord, DecidedBy, Keep, Triage

_LAZY = {
    **dict.fromkeys(("Diagnosis", "Evidence", "Suggestion"), "diagnosis"),
    **dict.fromkeys(
        ("DEFAULT_MIN_RUNS", "RunOutcome", "RunResult", "Verdict", "Verification", "VerifyMode", "failure_rate_upper_95"),
        "runs",
    ),
    **dict.fromkeys(("CommitRecord", "DecidedBy", "Keep", "Triage"), "triage"),
}

__all__ = [
    "DEFAULT_MIN_RUNS",
    "Category",
    "CommitRecord",
    "DecidedBy",
    "Diagnosis",
    "Evidence",
    "Finding",
    "FlakyTest",
    "Keep",
    "Marker",
    "MarkerKind",
    "MarkerScope",
    "RunOutcome",
    "RunResult",
    "ScanResult",
    "Skipped",
    "Suggestion",
    "TestKey",
    "Triage",
    "Verdict",
    "Verification",
    "VerifyMode",
    "failure_rate_upper_95",
    "repo_nodeid",
    "selects",
]  # fmt: skip


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
