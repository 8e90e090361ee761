"""Diagnosis of the workspace's tests, cached in the state directory by content."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui import __version__
from flaketui.diagnose import Diagnoser, hash_seed_rules
from flaketui.errors import FlakeTUIError
from flaketui.models import Diagnosis, FlakyTest, TestKey, Verification
from flaketui.workflows.scan import ScanWorkflow
from flaketui.workflows.workspace import Workspace

if TYPE_CHECKING:
    from flaketui.verify.targets import Target


class DiagnosisWorkflow:
    def __init__(self, workspace: Workspace, scanning: ScanWorkflow) -> None:
        self.workspace = workspace
        self.scanning = scanning

    def diagnose_many(
        self,
        tests: Sequence[FlakyTest],
        *,
        on_result: Callable[[Diagnosis], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Diagnosis]:
        """Diagnose in order, reporting each as it is ready (the app fills rows as they come).

        Each file is parsed once per call; results are cached in the state directory by the
        content of every file a test's scope reaches. A stop keeps what was done so far.
        """
        return self._diagnoser().diagnose_many(tests, on_result=on_result, should_stop=should_stop)

    def with_runs(self, test: FlakyTest, verifications: Sequence[Verification]) -> Diagnosis:
        """The diagnosis with what the runs of ``verifications`` (latest first) showed, or a
        note that no run evidence exists yet. Kept out of ``diagnose_many``: rows, scans and
        commit messages are cached by the tree, and runs are not part of the tree."""
        diagnoser = self._diagnoser()
        try:
            return diagnoser.diagnose(test, verifications)
        finally:
            diagnoser.cache.save()

    def _diagnoser(self) -> Diagnoser:
        try:
            cache_path: Path | None = self.workspace.state_dir() / "diagnosis-cache.json"
        except OSError:
            cache_path = None  # no place for state (a file in its way, read-only): diagnose uncached
        return Diagnoser(self.workspace.root, cache_path=cache_path, version=__version__)

    def diagnose_each(self, tests: Sequence[FlakyTest]) -> dict[TestKey, Diagnosis]:
        """The diagnosis of every test whose files still parse; the others are left out."""
        # One call for all: diagnose_many parses each file once per call.
        try:
            return {test.key: found for test, found in zip(tests, self.diagnose_many(tests), strict=True)}
        except FlakeTUIError:
            pass
        found: dict[TestKey, Diagnosis] = {}
        for test in tests:
            try:
                found[test.key] = self.diagnose_many([test])[0]
            except FlakeTUIError:
                continue  # a test whose file no longer parses is reported "not diagnosed"
        return found

    def hash_order_reasons(self, tests: Sequence[FlakyTest | str], targets: Sequence[Target]) -> dict[TestKey, str]:
        """Tests whose diagnosis points at set or hash order (``Rule.varies_with_hash_seed``):
        forked children all share one string hash seed, so those run fresh-process, each run
        with its own PYTHONHASHSEED."""
        keyed = {t.key: t for t in tests if isinstance(t, FlakyTest)}
        wanted = [t.key for t in targets]
        try:
            if any(key not in keyed for key in wanted):
                scanned = self.scanning.scan().tests
                keyed.update({t.key: t for t in scanned if t.key in wanted and t.key not in keyed})
            found = [keyed[key] for key in wanted if key in keyed]
            diagnoses = self.diagnose_many(found) if found else []
        except Exception:  # noqa: BLE001 - a diagnosis problem must never stop a verification
            return {}
        return hash_order_reasons(found, diagnoses)


def hash_order_reasons(tests: Sequence[FlakyTest], diagnoses: Sequence[Diagnosis]) -> dict[TestKey, str]:
    """The rules (``Rule.varies_with_hash_seed``) each test's diagnosis found, by test."""
    reasons = {}
    seeded = hash_seed_rules()
    for test, diagnosis in zip(tests, diagnoses, strict=True):
        rules = sorted({e.rule for e in diagnosis.evidence if e.rule in seeded})
        if rules:
            reasons[test.key] = ", ".join(rules)
    return reasons
