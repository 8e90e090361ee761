"""CI history and hunts: JUnit reports imported as per-test history (``flaketui import``),
and the unmarked tests that history or a hunt shows flaky (candidates)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flaketui.candidates import find_candidates
from flaketui.ci_import import import_reports
from flaketui.discover.config import find_configs
from flaketui.models import FlakyTest
from flaketui.models.history import Candidate, HuntReport, ImportSummary, TestHistory
from flaketui.store_hunts import junit_histories
from flaketui.workflows.scan import ScanWorkflow
from flaketui.workflows.workspace import Workspace


class HistoryWorkflow:
    def __init__(self, workspace: Workspace, scanning: ScanWorkflow) -> None:
        self.workspace = workspace
        self.scanning = scanning

    def import_junit(self, paths: Sequence[str | Path]) -> ImportSummary:
        """Record JUnit XML reports (files, or folders of them) as CI history, each once."""
        return import_reports(self.workspace.store, paths, self.workspace.list_files(), self._pytest_rootdirs())

    def test_histories(self) -> list[TestHistory]:
        """Every test of the imported CI reports with its counts, flips and last failure."""
        return junit_histories(self.workspace.store)

    def candidates(self, marked: Sequence[FlakyTest] | None = None) -> list[Candidate]:
        """Unmarked tests that CI history or the latest hunt shows flaky, most failing first.
        ``marked``: the scan's tests, if the caller has them (else the repository is scanned)."""
        tests = self.scanning.scan().tests if marked is None else marked
        return find_candidates(self.test_histories(), self.latest_hunt(), {t.key for t in tests})

    def latest_hunt(self) -> HuntReport | None:
        """The newest hunt's report (a partial one too), or None before the first hunt."""
        return None

    def _pytest_rootdirs(self) -> list[str]:
        """Every directory pytest would take as a rootdir (``"."`` first)."""
        configs = find_configs(self.workspace.list_files(), self.workspace.read_bytes)
        return sorted(configs, key=lambda r: (r != ".", r))
