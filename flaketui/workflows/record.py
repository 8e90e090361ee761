"""The record: the team's decisions (``.flaketui.toml``, committed), the private history
(every verification and flaketui commit, in SQLite under the git dir), and what is built
from them: the audit a team commits and the CI gate."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from flaketui import decisions, vcs
from flaketui.models import (
    Category,
    CommitRecord,
    DecidedBy,
    FlakyTest,
    GateResult,
    Keep,
    NodeRecord,
    RemovedMarker,
    TestKey,
    Triage,
    Verification,
)
from flaketui.workflows.scan import ScanWorkflow
from flaketui.workflows.workspace import Workspace

if TYPE_CHECKING:
    # The app reads the decisions before its table fills: what only the audit, the gate and
    # a fix's undo need (the diagnosis engine, CI history) loads when they are first asked.
    from flaketui.workflows.diagnose import DiagnosisWorkflow

#: Store cache namespace: the markers each fix commit removed, by sha, for undo.
_FIX_MARKERS = "fix-markers"
#: ... and each edited file as the removal saw it (base64), so undo can reverse it exactly.
_FIX_BEFORE = "fix-before"


class Record:
    def __init__(
        self, workspace: Workspace, scanning: ScanWorkflow, diagnosing: Callable[[], DiagnosisWorkflow]
    ) -> None:
        self.workspace = workspace
        self.scanning = scanning
        #: Built on demand: only the audit diagnoses.
        self.diagnosing = diagnosing

    # -- decisions (.flaketui.toml) ----------------------------------------------------
    def decisions(self) -> dict[TestKey, Triage]:
        """The team's decisions from ``.flaketui.toml``, keyed by (rootdir, nodeid)."""
        return decisions.load(self.workspace.root)

    def set_category(self, test: FlakyTest, category: Category, decided_by: DecidedBy | str = "user") -> Triage:
        """Confirm the test's root cause in ``.flaketui.toml`` (its other fields kept)."""
        return self._decide(test, category=category, decided_by=DecidedBy(decided_by))

    def set_note(self, test: FlakyTest, note: str) -> Triage:
        """The team's note about the test in ``.flaketui.toml`` (empty removes it)."""
        return self._decide(test, note=note)

    def keep_marker(self, test: FlakyTest, keep: Keep | None) -> Triage:
        """Keep the marker on purpose (or stop keeping it with ``None``)."""
        return self._decide(test, keep=keep)

    def _decide(self, test: FlakyTest, **changes: object) -> Triage:
        lock = self.workspace.state_dir() / "decisions.lock"
        return decisions.decide(self.workspace.root, test.rootdir, test.nodeid, lock_path=lock, **changes)

    # -- history (SQLite) ----------------------------------------------------------------
    def add_verification(self, verification: Verification) -> None:
        """Store a finished verification in the private history; the verify workflow does
        this for every verification it completes, cancelled ones included."""
        self.workspace.store.add_verification(verification)

    def last_verifications(self) -> dict[TestKey, Verification]:
        """The newest recorded verification per test."""
        # Until something is recorded there is nothing to read, and opening it would create it.
        return self.workspace.store.latest_verifications() if self.workspace.has_history() else {}

    def verifications_of(self, tests: Sequence[FlakyTest]) -> dict[TestKey, Verification]:
        """The newest recorded verification of each of ``tests`` that has one."""
        latest = self.last_verifications()
        return {t.key: latest[t.key] for t in tests if t.key in latest}

    def history(self, nodeid: str) -> list[Verification]:
        """A test's verifications, oldest first (found by file and function name if it moved)."""
        return self.workspace.store.history(nodeid)

    def add_commit(self, record: CommitRecord) -> None:
        """Remember a commit flaketui made (the audit lists the markers removed)."""
        self.workspace.store.add_commit(record)

    def commits(self) -> list[CommitRecord]:
        """flaketui's commits in this repository, oldest first."""
        return self.workspace.store.commits() if self.workspace.has_history() else []

    def add_fix(self, record: CommitRecord, removed: Sequence[RemovedMarker], before: Mapping[str, bytes]) -> None:
        """Remember a fix commit with what undo needs: the markers it removed, and each edited
        file as the removal saw it (undo merges back towards those bytes)."""
        from flaketui.workflows import removal

        self.add_commit(record)
        store = self.workspace.store
        store.cache_put(_FIX_MARKERS, record.sha, removal.removed_to_json(removed))
        store.cache_put(_FIX_BEFORE, record.sha, json.dumps({p: base64.b64encode(b).decode() for p, b in before.items()}))

    def fix_details(self, sha: str) -> tuple[list[RemovedMarker] | None, dict[str, bytes]]:
        """What ``add_fix`` remembered of a fix commit: None markers when this clone did not make it."""
        from flaketui.workflows import removal

        store = self.workspace.store
        stored = store.cache_get(_FIX_MARKERS, sha)
        befores: dict[str, str] = json.loads(store.cache_get(_FIX_BEFORE, sha) or "{}")
        removed = removal.removed_from_json(stored) if stored else None
        return removed, {path: base64.b64decode(data) for path, data in befores.items()}

    def test_history(self, nodeid: str) -> NodeRecord:
        """Everything recorded about ``nodeid`` (pytest's, or repo-relative): decisions,
        verifications (also under an older name), and flaketui's commits."""
        decided = tuple(t for t in self.decisions().values() if nodeid in (t.nodeid, t.key.repo_nodeid))
        commits = tuple(c for c in self.commits() if c.nodeid == nodeid)
        return NodeRecord(nodeid, decided, tuple(self.history(nodeid)), commits)

    # -- built from the record -------------------------------------------------------------
    def audit(self, *, as_json: bool = False, generated: str | None = None) -> str:
        """``flaky_test_audit.md`` (or its JSON). Diagnoses every test that has no confirmed
        category; a test whose file does not parse is "not diagnosed"."""
        from flaketui import report
        from flaketui.workflows.ci_history import HistoryWorkflow

        root = self.workspace.root
        scan = self.scanning.scan()
        decided = self.decisions()
        unconfirmed = [t for t in scan.tests if (d := decided.get(t.key)) is None or d.category is None]
        verifications = self.last_verifications()
        # Unmarked flaky tests and the suite's stability; measured failure rates order the advice.
        history = HistoryWorkflow(self.workspace, self.scanning)
        hunt = history.latest_hunt()
        audit = report.build_audit(
            # A day, not a time: a committed report regenerated the same day does not change.
            generated=generated or dt.date.today().isoformat(),
            repository=root.name,
            is_git=vcs.common_git_dir(root) is not None,
            branch=vcs.branch(root),
            head=vcs.head(root),
            tests=scan.tests,
            decisions=decided,
            diagnoses=self.diagnosing().diagnose_each(unconfirmed),
            verifications=verifications,
            commits=self.commits(),
            findings=scan.findings,
            candidates=history.candidates(scan.tests),
            hunt=hunt,
            failure_rates=history.failure_rates(verifications, hunt),
        )
        return report.render_json(audit) if as_json else report.render_markdown(audit)

    def check(self, *, budget: int = 0, today: dt.date | None = None) -> GateResult:
        """The CI gate: fail on every flaky marker and repository-wide rerun not kept on
        purpose, beyond ``budget``, and on every keep past its expiry date."""
        from flaketui import gate

        scan = self.scanning.scan()
        items = gate.gate_items(scan.tests, scan.findings, self.decisions(), today or dt.date.today())
        return GateResult(
            ok=gate.gate_passes(items, budget),
            failing=tuple(gate.failing_lines(items)),
            kept=tuple(i.text for i in items if i.status == "kept"),
            expired=tuple(i.text for i in items if i.status == "expired"),
            budget=budget,
            items=tuple(items),
        )
