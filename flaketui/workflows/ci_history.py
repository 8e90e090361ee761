"""CI history and hunts: JUnit reports imported as per-test history (``flaketui import``),
whole-suite hunts with bisection for polluters (``flaketui hunt``), and the unmarked tests
that history or a hunt shows flaky (candidates), with the failure rates that order the
audit's advice and the app's table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui.candidates import candidate_test, find_candidates, shared_names, test_at
from flaketui.ci_import import import_reports
from flaketui.discover.config import find_configs
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, FlakyTest, Verification, repo_nodeid
from flaketui.models.history import (
    Candidate,
    HuntProgress,
    HuntReport,
    ImportSummary,
    Polluter,
    TestHistory,
)
from flaketui.models.key import TestKey
from flaketui.rootdirs import rootdir_of
from flaketui.store_hunts import junit_histories
from flaketui.workflows.scan import ScanWorkflow
from flaketui.workflows.workspace import Workspace

if TYPE_CHECKING:
    from flaketui.hunting import HuntSettings
    from flaketui.pollution import Bisection
    from flaketui.workflows.diagnose import DiagnosisWorkflow

StopPredicate = Callable[[], bool]
ProgressCallback = Callable[[HuntProgress], None]


class HistoryWorkflow:
    def __init__(self, workspace: Workspace, scanning: ScanWorkflow,
                 diagnosis: Callable[[], DiagnosisWorkflow] | None = None) -> None:  # fmt: skip
        self.workspace = workspace
        self.scanning = scanning
        #: Names the polluter a victim's code points at, the first suspect for bisection.
        self.diagnosis = diagnosis

    # -- CI history ----------------------------------------------------------------------------
    def import_junit(self, paths: Sequence[str | Path]) -> ImportSummary:
        """Record JUnit XML reports (files, or folders of them) as CI history, each once."""
        return import_reports(self.workspace.store, paths, self.workspace.list_files(), self._pytest_rootdirs())

    def test_histories(self) -> list[TestHistory]:
        """Every test of the imported CI reports with its counts, flips and last failure."""
        return junit_histories(self.workspace.store)

    # -- hunts ---------------------------------------------------------------------------------
    def hunt(
        self,
        paths: Sequence[str] = (),
        *,
        runs: int = 10,
        budget_minutes: float = 15.0,
        resume: bool = False,
        pytest_args: str | Sequence[str] | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: StopPredicate | None = None,
    ) -> HuntReport:
        """Run the suite (or ``paths``, repo-relative) ``runs`` times in each mode, then bisect
        for the polluter of each order-dependent test; recorded run by run (``resume`` goes on
        with the last hunt cut short). ``pytest_args``: else the workspace's (``--pytest-args``,
        ``[tool.flaketui] pytest-args``); ``seed`` makes every shuffle and hash seed repeatable;
        ``timeout``: seconds a test may run before it counts as hung (60 by default)."""
        from flaketui.hunting import run_hunt

        if runs < 1:
            raise FlakeTUIError(f"--runs must be at least 1, not {runs}.", "Pass --runs 10 (the default) or more.")
        settings = self._settings(paths, runs, budget_minutes, pytest_args, seed)
        if timeout is not None:
            if timeout <= 0:
                raise FlakeTUIError(f"--timeout must be positive, not {timeout:g}.", "Pass seconds, e.g. --timeout 60.")
            settings = replace(settings, timeout=timeout)
        return run_hunt(self.workspace.store, settings, resume=resume, on_progress=on_progress, should_stop=should_stop,
                        hints=partial(self.named_polluters, settings.rootdir))  # fmt: skip

    def named_polluters(self, rootdir: str, victims: Sequence[str]) -> dict[str, list[str]]:
        """The tests the diagnosis of each victim (node ids in ``rootdir``) names as changing
        what it reads: the polluter's line, as a test's node id."""
        if self.diagnosis is None:
            return {}
        tests = [candidate_test(Candidate(rootdir, v), self._source(rootdir, v)[0]) for v in victims]
        named: dict[str, list[str]] = {}
        for test, diagnosis in zip(tests, self.diagnosis().diagnose_many(tests), strict=True):
            for item in diagnosis.evidence:
                if item.category is not Category.ORDER or not item.fix_path or item.source != "code":
                    continue
                names = test_at(self.workspace.read_bytes(item.fix_path), item.fix_line)
                prefix = "" if rootdir in ("", ".") else rootdir + "/"
                if names and item.fix_path.startswith(prefix):
                    named.setdefault(test.nodeid, []).append("::".join([item.fix_path[len(prefix):], *names]))
        return named

    def find_polluter(
        self,
        victim: str,
        *,
        budget_minutes: float = 15.0,
        pytest_args: str | Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: StopPredicate | None = None,
    ) -> tuple[Bisection, int]:
        """Bisect for the test that makes ``victim`` (repo-relative node id) fail in pytest's
        order, without a hunt; a polluter found is recorded. Returns it and the runs taken."""
        from flaketui.hunt_bisect import find_polluter_of
        from flaketui.verify.targets import target_for

        target = target_for(self.workspace.root, victim, cwd=Path.cwd())
        # The rootdir of the victim's file; then the whole suite there, where a polluter may be.
        settings = self._settings((target.repo_nodeid.split("::", 1)[0],), 1, budget_minutes, pytest_args, None)
        return find_polluter_of(self.workspace.store, replace(settings, suite=replace(settings.suite, paths=())), target.nodeid,
                                on_progress=on_progress, should_stop=should_stop,
                                hints=partial(self.named_polluters, settings.rootdir))  # fmt: skip

    def latest_hunt(self) -> HuntReport | None:
        """The newest hunt's report (a partial one too), or None before the first hunt."""
        from flaketui.hunting import latest_report

        return latest_report(self.workspace.store)

    def polluters(self) -> list[Polluter]:
        """Every polluter a bisection confirmed (the victim fails after it, passes alone)."""
        from flaketui.store_hunts import polluters

        return polluters(self.workspace.store)

    # -- read back -----------------------------------------------------------------------------
    def candidates(self, marked: Sequence[FlakyTest] | None = None) -> list[Candidate]:
        """Unmarked tests that CI history or the latest hunt shows flaky, most failing first;
        an order-dependent one with the names it and its polluter both use.
        ``marked``: the scan's tests, if the caller has them (else the repository is scanned)."""
        tests = self.scanning.scan().tests if marked is None else marked
        found = find_candidates(self.test_histories(), self.latest_hunt(), {t.key for t in tests})
        for candidate in found:
            hunt = candidate.sources.get("hunt")
            if hunt and hunt.get("polluter"):
                hunt["shared"] = shared_names(self._source(candidate.rootdir, candidate.nodeid),
                                              self._source(candidate.rootdir, str(hunt["polluter"])))  # fmt: skip
        return found

    def candidate_tests(self, candidates: Sequence[Candidate]) -> list[FlakyTest]:
        """The candidates as tests without a marker, at their ``def`` lines (for the app)."""
        return [candidate_test(c, self._source(c.rootdir, c.nodeid)[0]) for c in candidates]

    def failure_rates(
        self, verifications: Mapping[TestKey, Verification], hunt: HuntReport | None
    ) -> dict[str, tuple[int, int]]:
        """(failed, runs) per repo-relative node id, over the last verification, CI history and the hunt."""
        rates: dict[str, tuple[int, int]] = {}

        def add(rootdir: str, nodeid: str, failed: int, runs: int) -> None:
            key = repo_nodeid(rootdir, nodeid)
            before = rates.get(key, (0, 0))
            rates[key] = (before[0] + failed, before[1] + runs)

        for v in verifications.values():
            add(v.rootdir, v.nodeid, v.runs - v.passed, v.runs)
        for h in self.test_histories():
            add(h.rootdir, h.nodeid, h.failed, h.attempts)
        for t in hunt.tests if hunt is not None else ():
            add(t.rootdir, t.nodeid, t.total.failed, t.total.runs)
        return rates

    # -- helpers -------------------------------------------------------------------------------
    def _source(self, rootdir: str, nodeid: str) -> tuple[bytes | None, str]:
        return self.workspace.read_bytes(repo_nodeid(rootdir, nodeid.split("::", 1)[0])), nodeid

    def _pytest_rootdirs(self) -> list[str]:
        """Every directory pytest would take as a rootdir (``"."`` first)."""
        configs = find_configs(self.workspace.list_files(), self.workspace.read_bytes)
        return sorted(configs, key=lambda r: (r != ".", r))

    def _settings(self, paths: Sequence[str], runs: int, budget_minutes: float,
                  pytest_args: str | Sequence[str] | None, seed: int | None) -> HuntSettings:  # fmt: skip
        from flaketui.hunting import HuntSettings
        from flaketui.verify.hunt import Suite

        if budget_minutes <= 0:
            raise FlakeTUIError(f"--budget must be positive, not {budget_minutes:g}.", "Pass minutes, e.g. --budget 15.")
        relative = [self.workspace.repo_path(p) for p in paths]
        rootdirs = {rootdir_of(p, self._pytest_rootdirs()) for p in relative} or {"."}
        if len(rootdirs) > 1:
            raise FlakeTUIError(
                f"The paths belong to {len(rootdirs)} pytest projects ({', '.join(sorted(rootdirs))}).",
                "Hunt one project at a time: pass paths of one rootdir.",
            )
        rootdir = rootdirs.pop()
        suite = Suite(
            cwd=self.workspace.root / rootdir,
            python=self.workspace.interpreter().path,
            paths=tuple(p if rootdir == "." else p[len(rootdir) + 1 :] for p in relative),
            pytest_args=self._pytest_args(pytest_args),
        )
        return HuntSettings(
            rootdir=rootdir,
            suite=suite,
            runs_per_mode=runs,
            budget_seconds=budget_minutes * 60,
            seed=seed,
        )

    def _pytest_args(self, given: str | Sequence[str] | None) -> tuple[str, ...]:
        if given is None:
            return self.workspace.pytest_args
        from flaketui.verify.interpreter import pytest_args

        return pytest_args(self.workspace.root, given)
