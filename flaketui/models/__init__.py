"""Frozen dataclasses and enums shared by every layer. Standard library only.

Paths in these models are POSIX strings relative to the repository root, so they
serialise to JSON and SQLite unchanged and mean the same on every machine.

``from flaketui.models import X`` finds ``X`` in its submodule (``HOMES``) when first asked:
a scan needs ``scan`` and ``key`` only, and building every other dataclass cost a cold
``flaketui scan`` about 15 ms of its 350 (``benchmarks/scan.py --baseline``). For type
checkers the names are imported below as usual; ``tests/test_models_exports.py`` keeps the
two lists equal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flaketui.models.diagnosis import Diagnosis, Evidence, Excerpt, Explanation, LineChange, Suggestion
    from flaketui.models.fix import ChangedFile, FixPlan, RemovedMarker
    from flaketui.models.gate import GateItem, GateResult
    from flaketui.models.key import TestKey, repo_nodeid, selects
    from flaketui.models.repo import RepoInfo
    from flaketui.models.runs import (
        DEFAULT_MIN_RUNS,
        RunOutcome,
        RunResult,
        Verdict,
        Verification,
        VerifyMode,
        VerifyOptions,
        failure_rate_upper_95,
    )
    from flaketui.models.scan import Category, Finding, FlakyTest, Marker, MarkerKind, MarkerScope, ScanResult, Skipped
    from flaketui.models.triage import CommitRecord, DecidedBy, Keep, NodeRecord, Triage

#: Each submodule and the names it exports through the package.
HOMES = {
    "diagnosis": ("Diagnosis", "Evidence", "Excerpt", "Explanation", "LineChange", "Suggestion"),
    "fix": ("ChangedFile", "FixPlan", "RemovedMarker"),
    "gate": ("GateItem", "GateResult"),
    "key": ("TestKey", "repo_nodeid", "selects"),
    "repo": ("RepoInfo",),
    "runs": (
        "DEFAULT_MIN_RUNS", "RunOutcome", "RunResult", "Verdict", "Verification", "VerifyMode", "VerifyOptions",
        "failure_rate_upper_95",
    ),
    "scan": ("Category", "Finding", "FlakyTest", "Marker", "MarkerKind", "MarkerScope", "ScanResult", "Skipped"),
    "triage": ("CommitRecord", "DecidedBy", "Keep", "NodeRecord", "Triage"),
}  # fmt: skip
_HOME_OF = {name: module for module, names in HOMES.items() for name in names}

__all__ = [
    "DEFAULT_MIN_RUNS", "Category", "ChangedFile", "CommitRecord", "DecidedBy", "Diagnosis", "Evidence", "Excerpt",
    "Explanation", "Finding", "FixPlan", "FlakyTest", "GateItem", "GateResult", "Keep", "LineChange", "Marker",
    "MarkerKind", "MarkerScope", "NodeRecord", "RemovedMarker", "RepoInfo", "RunOutcome", "RunResult", "ScanResult",
    "Skipped", "Suggestion", "TestKey", "Triage", "Verdict", "Verification", "VerifyMode", "VerifyOptions",
    "failure_rate_upper_95", "repo_nodeid", "selects",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once
    return value
