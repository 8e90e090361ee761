"""Verify: run tests again and again with rerun plugins off, give honest verdicts, and
record each verification pinned to the tree it ran on (what the commit gate checks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui import vcs
from flaketui.errors import FlakeTUIError
from flaketui.models import FlakyTest, RunResult, Verification, VerifyMode, VerifyOptions
from flaketui.verify.engine import cli_command, verify_targets
from flaketui.verify.targets import Target, target_for
from flaketui.workflows.diagnose import DiagnosisWorkflow, hash_order_reasons
from flaketui.workflows.record import Record
from flaketui.workflows.workspace import Workspace

if TYPE_CHECKING:
    from flaketui.workflows.snapshot import TreeSnapshot


class VerifyWorkflow:
    def __init__(self, workspace: Workspace, diagnosing: DiagnosisWorkflow, record: Record) -> None:
        self.workspace = workspace
        self.diagnosing = diagnosing
        self.record = record

    def verify(
        self,
        tests: Sequence[FlakyTest | str],
        options: VerifyOptions,
        on_run: Callable[[RunResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Verification]:
        """Run each test ``runs`` times with rerun plugins off; record and return the verdicts.

        A ``str`` is a node id relative to the repository root; it runs from the nearest
        directory with a pytest config above its file (pytest's rootdir rule). ``should_stop``
        is polled often; when it turns true the process group is killed at once. Forked tests
        whose diagnosis points at set/hash order run fresh-process instead (``note`` says so).
        Every verification, cancelled ones too, is recorded and pinned to ``vcs.tree_state``.
        """
        root = self.workspace.root
        self._check(options)
        targets = [self._target(t) for t in tests]
        interpreter = self.workspace.interpreter()
        # Taken before the runs: an edit made while they run must not pass as verified.
        state = vcs.tree_state(root) if vcs.is_work_tree(root) else None
        hash_order = self.diagnosing.hash_order_reasons(tests, targets) if options.mode is VerifyMode.FORKED else {}
        verifications = verify_targets(
            root,
            targets,
            interpreter,
            options,
            on_run=on_run,
            should_stop=should_stop,
            command_for=lambda t, o: cli_command(root, t, o, self.workspace.python),
            fresh_reasons=hash_order,
        )
        stamped = [
            replace(v, head=state.head, tree_fingerprint=state.fingerprint, dirty_paths=state.dirty_paths)
            if state is not None
            else v
            for v in verifications
        ]
        for verification in stamped:
            self.record.add_verification(verification)
        return stamped

    def verify_snapshot(
        self,
        snapshot: TreeSnapshot,
        tests: Sequence[FlakyTest],
        options: VerifyOptions,
        on_run: Callable[[RunResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Verification]:
        """The runs of ``tests`` on a snapshot of a past tree (a hand-written fix's "before"),
        with this work tree's interpreter and options. Recorded nowhere: they vouch for no tree
        the user has. Hash-order causes are looked for in the snapshot's code, as it was."""
        self._check(options)
        path = snapshot.path
        hash_order = hash_order_reasons(tests, snapshot.diagnose(tests)) if options.mode is VerifyMode.FORKED else {}
        return verify_targets(
            path,
            [Target(t.rootdir, t.nodeid) for t in tests],
            self.workspace.interpreter(),
            options,
            on_run=on_run,
            should_stop=should_stop,
            command_for=lambda t, o: cli_command(path, t, o, self.workspace.python),
            fresh_reasons=hash_order,
        )

    @staticmethod
    def _check(options: VerifyOptions) -> None:
        if options.runs < 1:
            raise FlakeTUIError(f"--runs must be at least 1, not {options.runs}.", "Pass --runs 10 (the default) or more.")
        if options.timeout is not None and options.timeout <= 0:
            raise FlakeTUIError(
                f"--timeout must be positive, not {options.timeout:g}.", "Pass seconds per run, e.g. --timeout 30."
            )

    def _target(self, test: FlakyTest | str) -> Target:
        if isinstance(test, FlakyTest):
            return Target(test.rootdir, test.nodeid)
        return target_for(self.workspace.root, test, cwd=Path.cwd())

    def repro_command(self, test: FlakyTest) -> str:
        """A shell command that reproduces the test's runs outside flaketui."""
        options = VerifyOptions(pytest_args=self.workspace.pytest_args)
        return cli_command(self.workspace.root, Target(test.rootdir, test.nodeid), options, self.workspace.python)

    def python_description(self) -> str:
        """The target interpreter that verification uses and where it was found."""
        return self.workspace.interpreter().description
