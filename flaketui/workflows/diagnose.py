"""Diagnosis of the workspace's tests, cached in the state directory by content."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from flaketui import __version__
from flaketui.diagnose import Diagnoser, hash_seed_rules
from flaketui.diagnose.cache import CACHE_FILE, DiagnosisCache
from flaketui.errors import FlakeTUIError
from flaketui.models import Diagnosis, FlakyTest, TestKey
from flaketui.workflows.line_history import LineHistory
from flaketui.workflows.scan import ScanWorkflow
from flaketui.workflows.workspace import Workspace

if TYPE_CHECKING:  # a scan's diagnosis of a never-verified tree builds no run models
    from flaketui.models import Verification
    from flaketui.verify.targets import Target

#: How many of a test's latest verifications its diagnosis reads for run evidence.
RECENT_VERIFICATIONS = 10


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

        Each file is parsed once per call; the code's diagnosis is cached in the state directory
        by the content of every file a test's scope reaches. What the test's recorded runs showed
        (once a verification exists) and the commits that changed it after it was written weigh
        in too. A stop keeps what was done so far.
        """
        diagnoser = self._diagnoser()
        changes = LineHistory(self.workspace, self.scanning.listing)
        verified = self._verified()
        results: list[Diagnosis] = []
        try:
            for test in tests:
                if should_stop is not None and should_stop():
                    break
                runs = self.recent_verifications(test) if test.key in verified else None
                found = diagnoser.diagnose(test, runs or None, changes.later, run_notes=False)
                results.append(found)
                if on_result is not None:
                    on_result(found)
        finally:
            diagnoser.cache.save()
            changes.save()
        return results

    def with_runs(self, test: FlakyTest) -> Diagnosis:
        """The diagnosis with what the test's latest runs showed, or a note that no run
        evidence exists yet (``explain``)."""
        diagnoser = self._diagnoser()
        changes = LineHistory(self.workspace, self.scanning.listing)
        try:
            return diagnoser.diagnose(test, self.recent_verifications(test), changes.later)
        finally:
            diagnoser.cache.save()
            changes.save()

    def _verified(self) -> set[TestKey]:
        """The tests with a recorded verification (one query), so the others cost no lookup."""
        try:
            if not self.workspace.has_history():
                return set()
            return set(self.workspace.store.latest_verifications())
        except (FlakeTUIError, OSError):
            return set()

    def recent_verifications(self, test: FlakyTest) -> list[Verification]:
        """The test's last verifications, latest first; none when nothing was ever verified here."""
        try:
            if not self.workspace.has_history():
                return []  # never verified: no need to load SQLite
            found = self.workspace.store.history(test.nodeid)
        except (FlakeTUIError, OSError):
            return []  # an unreadable record: the code's evidence still stands
        return [v for v in found if v.rootdir == test.rootdir][-RECENT_VERIFICATIONS:][::-1]

    def _diagnoser(self) -> Diagnoser:
        return Diagnoser(self.workspace.root, cache=self._cache, version=__version__)

    @cached_property
    def _cache(self) -> DiagnosisCache:
        """One cache for the workflow's life: reading it again for every batch cost as much as
        the batch on a large repository."""
        try:
            state = self.workspace.state_dir()
        except OSError:
            return DiagnosisCache(None)  # no place for state (a file in its way, read-only): diagnose uncached
        # The whole-file JSON cache of earlier versions: superseded, never read again.
        with contextlib.suppress(OSError):
            (state / "diagnosis-cache.json").unlink(missing_ok=True)
        return DiagnosisCache(state / CACHE_FILE)

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
