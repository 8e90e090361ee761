"""Fix and commit: plan a marker removal (a :class:`FixPlan`: the tests it covers, the diff,
the message), refresh it after a verification, and commit it through the commit gate with
the user's fix. The codemod runs once per plan; a later edit to its files voids it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from flaketui import codemod, vcs
from flaketui.cautions import cautions
from flaketui.errors import FlakeTUIError
from flaketui.models import (
    Category,
    ChangedFile,
    CommitRecord,
    Diagnosis,
    FixPlan,
    FlakyTest,
    TestKey,
    Verification,
)
from flaketui.settings import load_settings
from flaketui.workflows import commit_gate, commit_text, removal
from flaketui.workflows.diagnose import DiagnosisWorkflow
from flaketui.workflows.record import Record
from flaketui.workflows.scan import ScanWorkflow
from flaketui.workflows.snapshot import TreeSnapshot
from flaketui.workflows.workspace import Workspace


class FixWorkflow:
    def __init__(
        self, workspace: Workspace, scanning: ScanWorkflow, diagnosing: DiagnosisWorkflow, record: Record
    ) -> None:
        self.workspace = workspace
        self.scanning = scanning
        self.diagnosing = diagnosing
        self.record = record
        #: The diagnoses of the committed code, by (tree fingerprint, tests): a plan is rebuilt
        #: after verifying and again when committing, and the past is diagnosed once per tree.
        self._committed_diagnoses: dict[tuple[str | None, tuple[TestKey, ...]], list[Diagnosis] | None] = {}

    def plan_fix(
        self, target: FlakyTest | str, include: Sequence[str], unverified: bool, category: Category | None, proof: str
    ) -> FixPlan:
        """The marker removal for ``target`` (a test, or a class/module node id), its diff and message.

        ``proof`` (from ``fix --apply``) names the fix and its before/after runs in the message."""
        root = self.workspace.root
        label = target if isinstance(target, str) else target.nodeid
        problem = vcs.commit_refusal(root)
        if problem is not None:
            return FixPlan.refused(label, str(problem))
        every = self.scanning.scan().tests
        if isinstance(target, FlakyTest) and not target.markers and all(t.key != target.key for t in every):
            return self._plan_unmarked(target, include, unverified, category, proof)
        if isinstance(target, FlakyTest):
            selected = tuple(t for t in every if t.key == target.key)
        else:
            selected = tuple(removal.select(target, every))
        if not selected:
            return FixPlan.refused(label, f"No flaky-marked test matches {label}; `flaketui scan` lists them.")
        refusal = removal.foreign_marker_refusal(selected) or removal.shared_marker_refusal(selected, every)
        if refusal:
            return FixPlan.refused(label, refusal, selected)
        new_contents: dict[str, bytes] = {}
        for path, markers in removal.markers_by_file(selected).items():
            before = (root / path).read_bytes()
            # ``read`` lets the codemod refuse a helper imported from another file that does more than mark.
            removed = codemod.remove_markers(before, markers, path=path, read=self.workspace.read_bytes)
            if removed.after is None or removed.after == before:
                reason = (removed.failure or "the codemod found no marker to remove").rstrip(".")
                return FixPlan.refused(label, f"{path}: {reason}. The file was left as it is.", selected)
            new_contents[path] = removed.after
        plan = self._build(label, selected, new_contents, include, unverified, category, proof)
        return plan if plan.refusal else replace(plan, restore=tuple(removal.removed_markers(selected)))

    def _plan_unmarked(
        self, test: FlakyTest, include: Sequence[str], unverified: bool, category: Category | None, proof: str
    ) -> FixPlan:
        """A test no marker covers (CI history or a hunt found it flaky): the commit holds just
        the fix, the files in ``include``; there is no marker to remove."""
        if not include:
            return FixPlan.refused(
                test.nodeid,
                f"{test.nodeid} carries no flaky marker: there is nothing to remove, so a commit holds only your "
                "fix, and no file was chosen for it.",
                (test,),
            )
        return self._build(test.nodeid, (test,), {}, include, unverified, category, proof)

    def refresh_plan(self, plan: FixPlan, *, include: Sequence[str] | None = None, unverified: bool | None = None) -> FixPlan:
        """The same removal with a fresh message, diff and file list: after a verification, or
        when the user picks other files to include. The codemod does not run again."""
        if plan.refusal:
            return plan
        stale = commit_gate.stale_source(self.workspace.root, plan)
        if stale:
            return FixPlan.refused(plan.target, f"{stale} changed after the fix was planned; plan it again.", plan.tests)
        fresh = self._build(
            plan.target,
            plan.tests,
            dict(plan.new_contents),
            plan.include if include is None else include,
            plan.unverified if unverified is None else unverified,
            plan.category,
            plan.proof,
        )
        return fresh if fresh.refusal else replace(fresh, restore=plan.restore)

    def reusable_verifications(self, tests: Sequence[FlakyTest]) -> list[Verification] | None:
        """The latest verification of each test if every one is stable, complete and ran on
        this very tree (HEAD and fingerprint unchanged): verifying again would prove nothing new."""
        root = self.workspace.root
        if not vcs.is_work_tree(root):
            return None
        state = vcs.tree_state(root)
        latest = self.record.verifications_of(tests)
        found = [latest.get(t.key) for t in tests]
        if any(
            v is None
            or commit_gate.verification_gate(t, v)
            or (v.head, v.tree_fingerprint) != (state.head, state.fingerprint)
            for t, v in zip(tests, found, strict=True)
        ):
            return None
        return [v for v in found if v is not None]

    def commit_fix(
        self,
        plan: FixPlan,
        include: Sequence[str],
        unverified: bool,
        on_output: Callable[[str], None] | None,
        accept_cautions: bool = False,
    ) -> CommitRecord:
        """Apply the removal and commit it with the test file's fix and the chosen files.

        Refused unless the latest verification of every covered test is stable and was run
        on this very tree, and, unless ``accept_cautions``, while the plan has cautions; on
        failure the work tree and index are restored.
        """
        root = self.workspace.root
        if plan.refusal:
            raise FlakeTUIError(plan.refusal, "Nothing was changed; follow the advice above and try again.")
        vcs.preflight(root)
        stale = commit_gate.stale_source(root, plan)
        if stale:
            raise FlakeTUIError(f"{stale} changed after the fix was planned.", "Plan it again (press c, or rerun flaketui fix).")
        unverified = unverified or plan.unverified
        if not unverified:
            commit_gate.check_verified(root, plan.tests, self.record.verifications_of(plan.tests))
        # Rebuilt now so the message names the newest verification and the chosen files.
        plan = self.refresh_plan(plan, include=include or plan.include, unverified=unverified)
        if plan.refusal:
            raise FlakeTUIError(plan.refusal, "Nothing was changed; choose files with uncommitted changes.")
        if plan.cautions and not accept_cautions:
            raise FlakeTUIError(
                "Not committed: " + " ".join(plan.cautions),
                "Verify with more runs (or on that platform), or accept it explicitly: ! in the app, --anyway here.",
            )
        paths = [*(p for p, _ in plan.new_contents), *plan.include]
        # The files as the removal saw them (the user's fix, the marker still there): undo
        # reverses exactly the removal by merging back towards them.
        seen = {p: (root / p).read_bytes() for p, _ in plan.new_contents}
        sha = vcs.commit_paths(root, paths, plan.message, on_output, contents=dict(plan.new_contents))
        record = CommitRecord(sha=sha, nodeid=plan.target, message=plan.message, kind="fix", files=tuple(paths))
        try:
            self.record.add_fix(record, plan.restore, seen)
        except FlakeTUIError as exc:
            raise FlakeTUIError(
                f"Committed {sha[:12]}, but flaketui could not record it: {exc.message}",
                f"The commit is in git as made; `flaketui undo {sha[:12]}` still finds it by its trailers.",
            ) from exc
        return record

    def _build(
        self,
        label: str,
        tests: tuple[FlakyTest, ...],
        new_contents: dict[str, bytes],
        include: Sequence[str],
        unverified: bool,
        category: Category | None,
        proof: str,
    ) -> FixPlan:
        root = self.workspace.root
        status = vcs.status(root)
        # The app names changed files as `status` does (repo-relative); a person on the command
        # line names them relative to where they stand, as git does.
        named = (i if i in status else self.workspace.repo_path(i) for i in include)
        chosen = tuple(dict.fromkeys(p for p in named if p not in new_contents))
        for path in chosen:
            if path not in status:
                return FixPlan.refused(label, f"{path} has no uncommitted changes to include.", tests)
        committed = [*new_contents, *chosen]
        verifications = {} if unverified else self.record.verifications_of(tests)
        message = commit_text.message(
            tests,
            label,
            self._root_cause(tests, category),
            verifications,
            commit_text.outside_changes(verifications.values(), committed),
            unverified=unverified,
            template=self._commit_template() or (None if new_contents else commit_text.UNMARKED_TEMPLATE),
            proof=proof,
        )
        diff = "".join(
            commit_text.unified_diff(p, vcs.show_file(root, "HEAD", p), content) for p, content in new_contents.items()
        )
        for path in chosen:
            current = root / path
            diff += commit_text.unified_diff(
                path, vcs.show_file(root, "HEAD", path), current.read_bytes() if current.is_file() else None
            )
        files = [ChangedFile(p, required=True, status=status.get(p, " M")) for p in new_contents]
        files += [ChangedFile(p, required=False, status=s) for p, s in status.items() if p not in new_contents]
        return FixPlan(
            target=label,
            tests=tests,
            diff=diff,
            message=message,
            files=tuple(files),
            new_contents=tuple(new_contents.items()),
            include=chosen,
            unverified=unverified,
            proof=proof,
            category=category,
            sources=tuple((p, commit_gate.sha256_of(root / p)) for p in new_contents),
            cautions=cautions(tests, verifications, self.workspace.min_runs),
        )

    def _root_cause(self, tests: Sequence[FlakyTest], category: Category | None) -> commit_text.RootCause:
        decisions = self.record.decisions()
        decided = [d for t in tests if (d := decisions.get(t.key)) is not None]
        key = (vcs.tree_state(self.workspace.root).fingerprint, tuple(t.key for t in tests))
        if key not in self._committed_diagnoses:
            self._committed_diagnoses[key] = self._diagnoses_as_committed(tests)
        before_fix = self._committed_diagnoses[key]
        if before_fix is not None:
            cause = commit_text.choose_root_cause(category, decided, before_fix, before_fix=True)
        else:
            cause = commit_text.choose_root_cause(category, decided, list(self.diagnosing.diagnose_each(tests).values()))
        return commit_text.confirmed_order(cause, self._confirmed_polluters(tests))

    def _confirmed_polluters(self, tests: Sequence[FlakyTest]) -> dict[str, tuple[str, int]]:
        """Victim -> (polluter, bisection runs) for these tests, as a hunt or ``fix --apply`` recorded them."""
        if not self.workspace.has_history():
            return {}
        from flaketui.store_hunts import polluters

        keys = {(t.rootdir, t.nodeid) for t in tests}
        return {p.victim: (p.polluter, p.runs) for p in polluters(self.workspace.store) if (p.rootdir, p.victim) in keys}

    def _diagnoses_as_committed(self, tests: Sequence[FlakyTest]) -> list[Diagnosis] | None:
        """The diagnosis of the code as committed, when Python files have uncommitted changes.

        Usually those changes are the user's fix: diagnosing the fixed code would find no
        cause, while the commit message should name the one the fix removes. None when the
        tree is clean or the committed code cannot be diagnosed.
        """
        if not any(p.endswith(".py") for p in vcs.status(self.workspace.root)):
            return None
        with TreeSnapshot(self.workspace.root, "HEAD") as past:
            try:
                found = {t.key: t for t in past.tests()}
                return past.diagnose([found[t.key] for t in tests if t.key in found]) or None
            except FlakeTUIError:
                return None

    def _commit_template(self) -> str | None:
        return load_settings(self.workspace.root).commit_template
