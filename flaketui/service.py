"""The one API both faces call, the CLI and the Textual app: a facade over the workflows.

Each method delegates to the workflow that owns it (``flaketui/workflows/``); no logic here.
Every call opens what it needs for its own duration, so the app calls it from worker
threads; long calls take callbacks and a ``should_stop`` predicate. Never imports textual.
``workflows.wiring`` builds each workflow on first use: the start-up budget lives there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flaketui.workflows import editor, repo
from flaketui.workflows.wiring import Workflows
from flaketui.workflows.workspace import Workspace

if TYPE_CHECKING:
    from datetime import date

    from flaketui.apply_fix import ApplyOptions, ApplyOutcome
    from flaketui.gitjobs import EarlyScan
    from flaketui.models.diagnosis import Diagnosis, Explanation
    from flaketui.models.fix import FixPlan
    from flaketui.models.gate import GateResult
    from flaketui.models.history import Candidate, HuntReport, ImportSummary, TestHistory
    from flaketui.models.key import TestKey
    from flaketui.models.repo import RepoInfo
    from flaketui.models.runs import RunResult, Verification, VerifyMode
    from flaketui.models.scan import Category, FlakyTest, ScanResult
    from flaketui.models.triage import CommitRecord, DecidedBy, Keep, NodeRecord, Triage
    from flaketui.proposals import ProposalSet
    from flaketui.workflows.ci_history import HistoryWorkflow
    from flaketui.workflows.record import Record
    from flaketui.workflows.scan import ProgressCallback

StopPredicate = Callable[[], bool]


class Service:
    """flaketui's operations on one repository (or plain directory) rooted at ``root``."""

    def __init__(
        self, root: str | Path = ".", *, python: str | None = None, early: EarlyScan | None = None,
        pytest_args: str | Sequence[str] | None = None,
    ) -> None:  # fmt: skip
        self.workspace = Workspace(root, python, pytest_args)
        self._w = Workflows(self.workspace, early)

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def python(self) -> str | None:
        """``--python``: the interpreter that runs the target's tests, if given."""
        return self.workspace.python

    @property
    def min_runs(self) -> int:
        """``[tool.flaketui] min-runs`` (10): a stable verification of fewer runs is a caution."""
        return self.workspace.min_runs

    @property
    def pytest_args(self) -> tuple[str, ...]:
        """The project's own pytest options: ``--pytest-args``, else ``[tool.flaketui] pytest-args``."""
        return self.workspace.pytest_args

    @property
    def record(self) -> Record:
        """Decisions, history, audit and gate (``workflows.record``)."""
        return self._w.record

    @property
    def hunting(self) -> HistoryWorkflow:
        """Hunts, bisection for polluters, candidates as tests (``workflows.ci_history``)."""
        return self._w.ci_history

    def repo_info(self) -> RepoInfo:
        """Name, branch, HEAD, and whether (and why not) commits are possible."""
        return repo.repo_info(self.workspace)

    def state_dir(self) -> Path:
        return self.workspace.state_dir()

    def read_text(self, path: str) -> str:
        return self.workspace.read_text(path)

    def list_files(self) -> list[str]:
        return self.workspace.list_files()

    def open_in_editor(self, path: str, line: int) -> None:
        """Run ``$VISUAL``/``$EDITOR`` at the line, in the foreground (the app suspends first)."""
        editor.open_in_editor(self.root, path, line)

    # -- scan and diagnosis ----------------------------------------------------------------
    def scan(
        self, *, use_cache: bool = True, collect: bool = False, on_progress: ProgressCallback | None = None,
        under: str | None = None,
    ) -> ScanResult:  # fmt: skip
        """Every flaky-marked test, the findings and the skipped files (``under`` a directory)."""
        return self._w.scan.scan(use_cache=use_cache, collect=collect, on_progress=on_progress, under=under)

    def scan_json(self, *, use_cache: bool = True, collect: bool = False, under: str | None = None) -> str:
        """``scan --json``: the scan with each test's suggestion and evidence, and the candidates."""
        return self._w.explain.scan_json(use_cache=use_cache, collect=collect, under=under)

    def tests_named(self, nodeid: str) -> list[FlakyTest]:
        """The flaky-marked tests whose node id (pytest's, or repo-relative) is ``nodeid``."""
        return self._w.explain.tests_named(nodeid)

    def explain(self, nodeid: str) -> Explanation:
        """The test ``nodeid`` names (flaky-marked or not), its diagnosis, the source to show."""
        return self._w.explain.explain(nodeid)

    def explanation_json(self, explanation: Explanation) -> dict[str, Any]:
        """``explain --json``."""
        return self._w.explain.explanation_json(explanation)

    def diagnose(self, test: FlakyTest) -> Diagnosis:
        """Evidence and a suggested category for one test (cached by content hash)."""
        return self._w.diagnose.diagnose_many([test])[0]

    def diagnose_many(
        self, tests: Sequence[FlakyTest], *, on_result: Callable[[Diagnosis], None] | None = None,
        should_stop: StopPredicate | None = None,
    ) -> list[Diagnosis]:  # fmt: skip
        """Diagnose in order, reporting each as it is ready; a stop keeps what was done."""
        return self._w.diagnose.diagnose_many(tests, on_result=on_result, should_stop=should_stop)

    def verify(
        self, tests: Sequence[FlakyTest | str], *, runs: int = 10, mode: VerifyMode | str = "forked",
        timeout: float | None = None, fail_fast: bool = False, on_run: Callable[[RunResult], None] | None = None,
        should_stop: StopPredicate | None = None,
    ) -> list[Verification]:  # fmt: skip
        """Run each test (or repo-relative node id) ``runs`` times, rerun plugins off; record the verdicts."""
        from flaketui.models.runs import VerifyMode, VerifyOptions  # a scan builds no run models

        options = VerifyOptions(
            runs=runs, mode=VerifyMode(mode), timeout=timeout, fail_fast=fail_fast, pytest_args=self.pytest_args
        )
        return self._w.verify.verify(tests, options, on_run, should_stop)

    def python_description(self) -> str:
        """The target interpreter that verification uses and where it was found."""
        return self._w.verify.python_description()

    def repro_command(self, test: FlakyTest) -> str:
        """A shell command that reproduces the test's runs outside flaketui."""
        return self._w.verify.repro_command(test)

    # -- fix and commit, undo --------------------------------------------------------------
    def plan_fix(
        self, target: FlakyTest | str, *, include: Sequence[str] = (), unverified: bool = False,
        category: Category | None = None, proof: str = "",
    ) -> FixPlan:  # fmt: skip
        """The marker removal for a test, class or module, its diff and message (``proof``: from --apply)."""
        return self._w.fix.plan_fix(target, include, unverified, category, proof)

    def propose_fixes(self, target: FlakyTest | str) -> ProposalSet:
        """Remedies for one test's root cause, best first; runs no test and changes nothing (a test
        hidden by a flaky xfail or a retry decorator is named by node id too)."""
        return self._w.proposals.propose(target, hidden=True)

    def apply_fix(
        self, target: FlakyTest | str, options: ApplyOptions | None = None, *,
        on_run: Callable[[RunResult], None] | None = None, on_phase: Callable[[str], None] | None = None,
        should_stop: StopPredicate | None = None, confirm: Callable[[FixPlan], bool] | None = None,
    ) -> ApplyOutcome:  # fmt: skip
        """Write the best remedy, prove it before and after, commit only if it holds (else restore)."""
        from flaketui.apply_fix import ApplyOptions

        return self._w.apply.apply_fix(
            target, options or ApplyOptions(), on_run=on_run, on_phase=on_phase, should_stop=should_stop, confirm=confirm
        )

    def prove_fix(
        self, target: FlakyTest | str, options: ApplyOptions | None = None, *, include: Sequence[str] = (),
        on_run: Callable[[RunResult], None] | None = None, on_phase: Callable[[str], None] | None = None,
        should_stop: StopPredicate | None = None, confirm: Callable[[FixPlan], bool] | None = None,
    ) -> ApplyOutcome:  # fmt: skip
        """The user's own fix: the failure rate at HEAD against the work tree, as ``apply_fix``."""
        from flaketui.apply_fix import ApplyOptions

        return self._w.apply.prove_hand_fix(
            target, options or ApplyOptions(), include=tuple(include), on_run=on_run, on_phase=on_phase,
            should_stop=should_stop, confirm=confirm,
        )  # fmt: skip

    def refresh_plan(
        self, plan: FixPlan, *, include: Sequence[str] | None = None, unverified: bool | None = None
    ) -> FixPlan:
        """The same removal with a fresh message, diff and file list (the codemod does not run again)."""
        return self._w.fix.refresh_plan(plan, include=include, unverified=unverified)

    def commit_needs_terminal(self) -> bool:
        """Whether a commit may prompt on the terminal (signing is on): the app suspends first."""
        return repo.commit_needs_terminal(self.workspace)

    def commit_fix(
        self, plan: FixPlan, *, include: Sequence[str] = (), unverified: bool = False,
        on_output: Callable[[str], None] | None = None, accept_cautions: bool = False,
    ) -> CommitRecord:  # fmt: skip
        """Commit the removal with the test file's fix and the chosen files, after a stable
        verification; ``accept_cautions``: the user's explicit word on the plan's cautions."""
        return self._w.fix.commit_fix(plan, include, unverified, on_output, accept_cautions)

    def reusable_verifications(self, tests: Sequence[FlakyTest]) -> list[Verification] | None:
        """Stable verifications of this very tree for every test, if there are: no need to run again."""
        return self._w.fix.reusable_verifications(tests)

    def platform_cautions(self, tests: Sequence[FlakyTest]) -> list[str]:
        """Tests whose marker applies on another platform: runs here prove nothing there."""
        from flaketui.cautions import platform_caution

        return [c for c in (platform_caution(t) for t in tests) if c]

    def undo(self, sha: str | None = None, *, on_output: Callable[[str], None] | None = None) -> CommitRecord:
        """Put the marker back as a new commit (the last flaketui commit if no sha)."""
        return self._w.undo.undo(sha, on_output=on_output)

    # -- the record ------------------------------------------------------------------------
    def decisions(self) -> dict[TestKey, Triage]:
        """The team's decisions from ``.flaketui.toml``, keyed by (rootdir, nodeid)."""
        return self._w.record.decisions()

    def set_category(self, test: FlakyTest, category: Category, decided_by: DecidedBy | str = "user") -> Triage:
        """Confirm the test's root cause in ``.flaketui.toml`` (its other fields kept)."""
        return self._w.record.set_category(test, category, decided_by)

    def set_note(self, test: FlakyTest, note: str) -> Triage:
        """The team's note about the test in ``.flaketui.toml`` (empty removes it)."""
        return self._w.record.set_note(test, note)

    def keep_marker(self, test: FlakyTest, keep: Keep | None) -> Triage:
        """Keep the marker on purpose (or stop keeping it with ``None``)."""
        return self._w.record.keep_marker(test, keep)

    def last_verifications(self) -> dict[TestKey, Verification]:
        """The newest recorded verification per test."""
        return self._w.record.last_verifications()

    def history(self, nodeid: str) -> list[Verification]:
        """A test's verifications, oldest first (found by file and function name if it moved)."""
        return self._w.record.history(nodeid)

    def commits(self) -> list[CommitRecord]:
        """flaketui's commits in this repository, oldest first."""
        return self._w.record.commits()

    def test_history(self, nodeid: str) -> NodeRecord:
        """Everything recorded about one node id: decisions, verifications, commits."""
        return self._w.record.test_history(nodeid)

    def audit(self, *, as_json: bool = False, generated: str | None = None) -> str:
        """``flaky_test_audit.md`` (or its JSON)."""
        return self._w.record.audit(as_json=as_json, generated=generated)

    def import_junit(self, paths: Sequence[str | Path]) -> ImportSummary:
        """Record JUnit XML reports (files, or folders of them) as CI history, each once."""
        return self._w.ci_history.import_junit(paths)

    def test_histories(self) -> list[TestHistory]:
        """Every test of the imported CI reports with its counts, flips and last failure."""
        return self._w.ci_history.test_histories()

    def candidates(self, marked: Sequence[FlakyTest] | None = None) -> list[Candidate]:
        """Unmarked tests that CI history or the latest hunt shows flaky, most failing first."""
        # None before anything is imported or hunted; the app asks before its table fills, and
        # CI history's workflow (with SQLite) then need not load.
        return self._w.ci_history.candidates(marked) if self.workspace.has_history() else []

    def latest_hunt(self) -> HuntReport | None:
        """The newest hunt's report (a partial one too), or None before the first hunt."""
        return self._w.ci_history.latest_hunt()

    def check(self, *, budget: int = 0, today: date | None = None) -> GateResult:
        """The CI gate: markers not kept on purpose beyond ``budget``, and expired keeps, fail."""
        return self._w.record.check(budget=budget, today=today)
