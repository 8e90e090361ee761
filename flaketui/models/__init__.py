"""Frozen dataclasses and enums shared by every layer. Standard library only.

Paths in these models are POSIX strings relative to the repository root, so they
serialise to JSON and SQLite unchanged and mean the same on every machine.
"""

from __future__ import annotations

from flaketui.models.diagnosis import Diagnosis, Evidence, Excerpt, Explanation, Suggestion
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
from flaketui.models.triage import CommitRecord, DecidedBy, Keep, NodeRecord, Triage

__all__ = [
    "DEFAULT_MIN_RUNS", "Category", "ChangedFile", "CommitRecord", "DecidedBy", "Diagnosis", "Evidence", "Excerpt",
    "Explanation", "Finding", "FixPlan", "FlakyTest", "GateItem", "GateResult", "Keep", "Marker", "MarkerKind",
    "MarkerScope", "NodeRecord", "RemovedMarker", "RepoInfo", "RunOutcome", "RunResult", "ScanResult", "Skipped",
    "Suggestion", "TestKey", "Triage", "Verdict", "Verification", "VerifyMode", "VerifyOptions",
    "failure_rate_upper_95", "repo_nodeid", "selects",
]  # fmt: skip
