"""The workflows of one workspace, each built on first use from the ones it needs.

This is where the start-up budget lives: a workflow module (and the engines it imports:
libcst, GitPython, the verification engine) loads when the facade first calls it, so
``flaketui --help`` and a cached scan never pay for them.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flaketui.apply_fix import ApplyWorkflow
    from flaketui.gitjobs import EarlyScan
    from flaketui.proposals import ProposalsWorkflow
    from flaketui.workflows.ci_history import HistoryWorkflow
    from flaketui.workflows.diagnose import DiagnosisWorkflow
    from flaketui.workflows.explain import ExplainWorkflow
    from flaketui.workflows.fix import FixWorkflow
    from flaketui.workflows.record import Record
    from flaketui.workflows.scan import ScanWorkflow
    from flaketui.workflows.undo import UndoWorkflow
    from flaketui.workflows.verify import VerifyWorkflow
    from flaketui.workflows.workspace import Workspace


class Workflows:
    def __init__(self, workspace: Workspace, early: EarlyScan | None = None) -> None:
        self.workspace = workspace
        #: git's answers a launcher started for this root before the imports; one started for
        #: another root is stopped at once, not when (or if) a scan comes.
        self._early = early if early is not None and early.root == workspace.root else None
        if early is not None and self._early is None:
            early.close()

    @cached_property
    def scan(self) -> ScanWorkflow:
        # On first use like the rest: the app paints its first frame before the scan (and the
        # cache's json and hashlib) loads, in the worker that runs it.
        from flaketui.workflows.scan import ScanWorkflow

        return ScanWorkflow(self.workspace, self._early)

    @cached_property
    def diagnose(self) -> DiagnosisWorkflow:
        from flaketui.workflows.diagnose import DiagnosisWorkflow

        return DiagnosisWorkflow(self.workspace, self.scan)

    @cached_property
    def explain(self) -> ExplainWorkflow:
        from flaketui.workflows.explain import ExplainWorkflow

        return ExplainWorkflow(self.scan, self.diagnose, lambda: self.ci_history)

    @cached_property
    def record(self) -> Record:
        from flaketui.workflows.record import Record

        return Record(self.workspace, self.scan, lambda: self.diagnose)

    @cached_property
    def ci_history(self) -> HistoryWorkflow:
        from flaketui.workflows.ci_history import HistoryWorkflow

        return HistoryWorkflow(self.workspace, self.scan, lambda: self.diagnose)

    @cached_property
    def verify(self) -> VerifyWorkflow:
        from flaketui.workflows.verify import VerifyWorkflow

        return VerifyWorkflow(self.workspace, self.diagnose, self.record)

    @cached_property
    def fix(self) -> FixWorkflow:
        from flaketui.workflows.fix import FixWorkflow

        return FixWorkflow(self.workspace, self.scan, self.diagnose, self.record)

    @cached_property
    def undo(self) -> UndoWorkflow:
        from flaketui.workflows.undo import UndoWorkflow

        return UndoWorkflow(self.workspace, self.record)

    @cached_property
    def proposals(self) -> ProposalsWorkflow:
        from flaketui.proposals import ProposalsWorkflow

        return ProposalsWorkflow(
            self.workspace, self.scan, self.diagnose, self.record,
            lambda: self.ci_history.candidate_tests(self.ci_history.candidates()),
        )  # fmt: skip

    @cached_property
    def apply(self) -> ApplyWorkflow:
        from flaketui.apply_fix import ApplyWorkflow

        return ApplyWorkflow(self.workspace, self.scan, self.proposals, self.verify, self.fix)
