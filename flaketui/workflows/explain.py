"""Explain: find the test a node id names (flaky-marked or not), and the source excerpts
that show why it is flaky; ``scan --json``, every test with its diagnosis, cached per tree."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flaketui.diagnose.engine import engine_fingerprint
from flaketui.discover import cache as scan_cache
from flaketui.errors import FlakeTUIError
from flaketui.models import (
    Diagnosis,
    Excerpt,
    Explanation,
    FlakyTest,
    ScanResult,
    repo_nodeid,
)
from flaketui.settings import HISTORY_FILE
from flaketui.workflows.diagnose import DiagnosisWorkflow
from flaketui.workflows.scan import ScanWorkflow

if TYPE_CHECKING:
    from flaketui.workflows.ci_history import HistoryWorkflow

_PARAMS = re.compile(r"\[.*\]$")


class ExplainWorkflow:
    def __init__(
        self, scanning: ScanWorkflow, diagnosing: DiagnosisWorkflow, history: Callable[[], HistoryWorkflow]
    ) -> None:
        self.workspace = scanning.workspace
        self.scanning = scanning
        self.diagnosing = diagnosing
        #: Built on demand: only a repository with a history has candidates to add.
        self.history = history

    def tests_named(self, nodeid: str) -> list[FlakyTest]:
        """The flaky-marked tests whose node id (pytest's, or repo-relative) is ``nodeid``."""
        return [t for t in self.scanning.scan().tests if nodeid in (t.nodeid, t.key.repo_nodeid)]

    def find_test(self, nodeid: str) -> FlakyTest:
        """The flaky-marked test ``nodeid`` names, else any test function it names (unmarked).

        A path relative to the current directory (or absolute) works as pytest takes it.
        """
        wanted = nodeid.strip()
        path, _, rest = wanted.partition("::")
        if path and os.path.exists(path):
            # Typed from a subdirectory, or as an absolute path: make it repository-relative.
            path = os.path.relpath(os.path.realpath(path), self.workspace.root).replace(os.sep, "/")
            wanted = f"{path}::{rest}" if rest else path
        bare = _PARAMS.sub("", wanted)
        tests = self.scanning.scan().tests
        for candidate in (wanted, bare):
            for test in tests:
                full = test.key.repo_nodeid
                if candidate in (test.nodeid, full) or _PARAMS.sub("", full) == candidate:
                    return test
                if f"{test.path}::{test.nodeid.partition('::')[2]}" == candidate:
                    return test
        parts = bare.split("::")
        if len(parts) >= 2 and parts[0].endswith(".py") and (self.workspace.root / parts[0]).is_file():
            line = def_line(self.workspace.read_text(parts[0]), parts[-1])
            if line is not None:
                class_name = "::".join(parts[1:-1]) or None
                return FlakyTest(
                    nodeid=bare, rootdir=".", path=parts[0], line=line, name=parts[-1], markers=(), class_name=class_name
                )
        raise FlakeTUIError(
            f"No test matches {nodeid}.",
            "Pass a node id as pytest prints it (tests/test_x.py::test_y); `flaketui scan` lists the flaky ones.",
        )

    def explain(self, nodeid: str) -> Explanation:
        """The test, its diagnosis, and the source around the test and each piece of evidence."""
        test = self.find_test(nodeid)
        diagnosis = self.diagnosing.with_runs(test)
        return Explanation(test, test.key.repo_nodeid, diagnosis, tuple(self._excerpts(test, diagnosis)))

    def _excerpts(self, test: FlakyTest, diagnosis: Diagnosis) -> list[Excerpt]:
        by_path: dict[str, list[tuple[int, int]]] = {test.path: []}
        for item in diagnosis.evidence:
            if item.path:  # run evidence may name no place (a pattern across modes)
                by_path.setdefault(item.path, []).append((item.line, item.end_line))
        excerpts = []
        for path in sorted(by_path, key=lambda p: (p != test.path, p)):
            try:
                text = self.workspace.read_text(path)
            except OSError:
                continue
            last = text.count("\n") + 1
            flagged = frozenset(n for start, end in by_path[path] for n in range(start, end + 1))
            spans = [(max(1, start - 2), min(last, end + 2)) for start, end in by_path[path]]
            if path == test.path:
                spans.append((test.line, test.end_line or block_end(text, test.line)))
            excerpts.append(Excerpt(path, text, tuple(_merged(spans)), flagged))
        return excerpts

    def scan_json(self, *, use_cache: bool, collect: bool, under: str | None) -> str:
        """``scan --json``: the scan with each test's suggestion and evidence. An unchanged tree
        (same fingerprint) reprints the last answer without loading the parsers or libcst."""
        result = self.scanning.scan(use_cache=use_cache, collect=collect, under=under)
        # Not with --collect: what pytest collects also depends on the installed environment.
        # Without a fingerprint there is no state directory to keep the answer in.
        # Nor when a test's module needs a module: whether this environment has it may change.
        cacheable = under is None and not collect and bool(result.fingerprint) and not any(t.requires for t in result.tests)
        state = self.workspace.state_dir() if cacheable else None
        # New diagnosis rules give new answers on the same tree; so do new runs and new commits.
        output_name = f"scan-json-{engine_fingerprint()}"
        records = self._records_key(state) if state is not None else ""
        text = scan_cache.load_output(state, output_name, result, records) if state is not None and use_cache else None
        if text is None:
            text = json.dumps(self._scan_payload(result), indent=2)
            if state is not None:
                scan_cache.store_output(state, output_name, result, text, records)
        prefix = os.path.relpath(os.path.realpath(under), self.workspace.root).replace(os.sep, "/") if under else "."
        return self._with_candidates(text, result, prefix)

    @staticmethod
    def _records_key(state: Path) -> str:
        """What a diagnosis reads besides the tree: the recorded runs (the store, as last
        written). The commits need no key of their own: a scan's fingerprint in git hashes
        ``git status --branch``, HEAD included (``gitjobs.Listing.state``)."""
        parts = []
        for name in (HISTORY_FILE, HISTORY_FILE + "-wal"):
            try:
                found = (state / name).stat()
                parts.append(f"{found.st_mtime_ns}:{found.st_size}")
            except OSError:
                parts.append("-")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]

    def _with_candidates(self, text: str, result: ScanResult, prefix: str) -> str:
        """Candidates come from the record (CI imports, hunts), not the tree: never from the cache."""
        if not self.workspace.has_history() and text.endswith("\n}"):
            # None to add: end the text as ``json.dumps(payload, indent=2)`` would, rather than
            # parse and write a large answer a second time.
            return text[: -len("\n}")] + ',\n  "candidates": []\n}'
        payload = json.loads(text)
        payload["candidates"] = []
        if self.workspace.has_history():
            from flaketui.candidates import candidate_json

            found = self.history().candidates(marked=result.tests)
            if prefix not in ("", "."):
                found = [c for c in found if repo_nodeid(c.rootdir, c.nodeid).startswith(prefix + "/")]
            payload["candidates"] = [candidate_json(c) for c in found]
        return json.dumps(payload, indent=2)

    @staticmethod
    def explanation_json(explanation: Explanation) -> dict[str, Any]:
        """``explain --json``: the test's repo-relative node id and its diagnosis."""
        return {"test": explanation.nodeid, **explanation.diagnosis.to_json()}

    def _scan_payload(self, result: ScanResult) -> dict[str, Any]:
        payload = result.to_json()
        diagnoses = self.diagnosing.diagnose_many(result.tests)
        payload["tests"] = [_test_json(test, diagnosis) for test, diagnosis in zip(result.tests, diagnoses, strict=True)]
        return payload


def _test_json(test: FlakyTest, diagnosis: Diagnosis) -> dict[str, Any]:
    """One test object of ``scan --json``; add fields here."""
    return {
        **test.to_json(),
        "suggestion": diagnosis.suggestion.to_json(),
        "evidence": [e.to_json() for e in diagnosis.evidence],
    }


def def_line(text: str, name: str) -> int | None:
    """The line of ``def name`` (or ``async def``) in ``text``, if there is one."""
    found = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def block_end(text: str, first: int) -> int:
    """The last line of the indented block that starts at ``first`` (its decorators included)."""
    lines = text.splitlines()
    if not 0 < first <= len(lines):
        return first
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    end, seen_def = first, False
    for number in range(first, len(lines) + 1):
        line = lines[number - 1]
        stripped = line.strip()
        if number > first and stripped and len(line) - len(line.lstrip()) <= indent and seen_def:
            break
        seen_def = seen_def or stripped.startswith(("def ", "async def ", "class "))
        if stripped:
            end = number
    return end


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
