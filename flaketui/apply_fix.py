"""``fix --apply``: write the best remedy, prove it before and after, commit it with the
marker removal only when the proof holds; otherwise put every byte back (workflow).

1. A test whose only remedy is "keep, with reason" (the network) runs nothing and changes nothing.
2. Before: the unfixed tree, ``runs_before`` runs in the mode the cause needs.
   No failure: the marker-only commit, saying no cause was seen failing.
3. Failures at rate p: after the fix, ``proof.runs_needed`` runs, stopping at the first
   failure; refused when that exceeds ``max_runs``.
4. The commit holds the fix and the removal; its message carries before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING

from flaketui import fix_modes
from flaketui import proof as stats
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, FlakyTest, RunOutcome, Verdict, VerifyMode, VerifyOptions

if TYPE_CHECKING:
    from flaketui.models import CommitRecord, FixPlan, RunResult, Verification
    from flaketui.proposals import ProposalSet, ProposalsWorkflow
    from flaketui.remedies import Proposal
    from flaketui.workflows.fix import FixWorkflow
    from flaketui.workflows.scan import ScanWorkflow
    from flaketui.workflows.snapshot import TreeSnapshot
    from flaketui.workflows.verify import VerifyWorkflow
    from flaketui.workflows.workspace import Workspace


class ApplyStatus(IntEnum):
    """What ``fix --apply`` did; the value is its exit code."""

    COMMITTED = 0
    NOT_PROVEN = 1
    NO_REMEDY = 3
    TOO_RARE = 4
    NOT_CONFIRMED = 5


@dataclass(frozen=True)
class ApplyOutcome:
    status: ApplyStatus
    summary: str
    proof: stats.Proof | None = None
    proposal: Proposal | None = None
    record: CommitRecord | None = None


@dataclass(frozen=True)
class ApplyOptions:
    choice: int = 0
    runs_before: int = stats.DEFAULT_RUNS_BEFORE
    min_runs: int = stats.DEFAULT_MIN_RUNS
    max_runs: int = stats.DEFAULT_MAX_RUNS
    #: How many proposals to try in turn, from ``choice``, until one holds (same "before").
    alternatives: int = 3
    #: Random order: the first run's shuffle seed (run i takes seed + i), to repeat a proof exactly.
    seed: int | None = None


#: Shows the plan (diff and message) and says whether to commit it.
Confirm = Callable[["FixPlan"], bool]


class ApplyWorkflow:
    """Proves fixes by running the test before and after, and commits those that hold."""

    def __init__(
        self,
        workspace: Workspace,
        scanning: ScanWorkflow,
        proposing: ProposalsWorkflow,
        verifying: VerifyWorkflow,
        fixing: FixWorkflow,
    ) -> None:
        self.workspace = workspace
        self.scanning = scanning
        self.proposing = proposing
        self.verifying = verifying
        self.fixing = fixing

    def apply_fix(
        self,
        target: str | FlakyTest,
        options: ApplyOptions = ApplyOptions(),
        *,
        on_run: Callable[[RunResult], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        confirm: Confirm | None = None,
    ) -> ApplyOutcome:
        return _apply_fix(self, target, options, on_run, on_phase, should_stop, confirm)

    def prove_hand_fix(
        self,
        target: str | FlakyTest,
        options: ApplyOptions = ApplyOptions(),
        *,
        include: tuple[str, ...] = (),
        on_run: Callable[[RunResult], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        confirm: Confirm | None = None,
    ) -> ApplyOutcome:
        """``fix --prove``: the user wrote the fix. "Before" runs on HEAD exported to a temporary
        directory (the user's edits are never stashed or touched), "after" on the work tree."""
        return _prove_hand_fix(self, target, options, include, on_run, on_phase, should_stop, confirm)

    def verify(
        self,
        tests: Sequence[FlakyTest],
        runs: int,
        mode: VerifyMode,
        on_run: Callable[[RunResult], None] | None,
        should_stop: Callable[[], bool] | None,
        *,
        fail_fast: bool,
        snapshot: TreeSnapshot | None = None,
        proving: bool = True,
        companions: tuple[str, ...] = (),
        seed: int | None = None,
    ) -> list[Verification]:
        """``runs`` runs of each test in the work tree (recorded) or in ``snapshot`` (not).
        ``proving``: a skipped or partial run proves nothing and stops the proof. In random order
        the tests of the ``companions`` modules are shuffled in with each test's module's."""
        options = VerifyOptions(runs=runs, mode=mode, fail_fast=fail_fast, pytest_args=self.workspace.pytest_args,
                                companions=companions, seed=seed)  # fmt: skip
        if snapshot is None:
            found = self.verifying.verify(tests, options, on_run, should_stop)
        else:
            found = self.verifying.verify_snapshot(snapshot, tests, options, on_run, should_stop)
        return [_proving(v, t, runs, fail_fast=fail_fast) for v, t in zip(found, tests, strict=True)] if proving else found

    def write(self, chosen: Proposal) -> dict[str, bytes]:
        """Write a proposal's edits; returns the files' bytes before, for ``restore``."""
        from flaketui.remedies import apply_edits

        new = apply_edits(chosen.edits, self.workspace.read_bytes)
        if isinstance(new, str):
            raise FlakeTUIError(new, "Nothing was changed.")
        originals = {e.path: e.before for e in chosen.edits}
        for path, content in new.items():
            (self.workspace.root / path).write_bytes(content)
        return originals

    def restore(self, originals: dict[str, bytes]) -> None:
        for path, content in originals.items():
            (self.workspace.root / path).write_bytes(content)


def _apply_fix(
    flow: ApplyWorkflow,
    target: str | FlakyTest,
    options: ApplyOptions,
    on_run: Callable[[RunResult], None] | None,
    on_phase: Callable[[str], None] | None,
    should_stop: Callable[[], bool] | None,
    confirm: Confirm | None,
) -> ApplyOutcome:
    found = flow.proposing.propose(target)
    test = found.test
    fixes = [p for p in found.proposals if p.changes_code]
    if found.proposals and not found.proposals[0].changes_code:
        # The best fit is "keep, with reason" (the network): no code change is tried, nothing runs.
        keep = found.proposals[0]
        return ApplyOutcome(ApplyStatus.NO_REMEDY, f"{keep.title}. {keep.why}", proposal=keep)
    unmark, covered = _removal_of(flow, test)
    if options.choice >= max(len(fixes), 1):
        raise FlakeTUIError(
            f"There are {len(fixes)} proposals for {test.nodeid}, not {options.choice + 1}.",
            f"`flaketui fix {test.nodeid} --propose` lists them.",
        )
    chosen = fixes[options.choice] if fixes else None
    mode = stats.mode_for(chosen.category if chosen else _category(found), chosen.remedy if chosen else "")
    phase = on_phase or (lambda _text: None)
    phase(f"before: {options.runs_before} runs of the unfixed test, {mode}")

    # A polluter in another module: its tests join the random order, before and after, and bisection.
    evidence = found.diagnosis.evidence if found.diagnosis is not None else ()
    companions = fix_modes.companions(test, evidence, flow.proposing.confirmed_polluters(test))
    if companions:
        phase(f"what it fails after is in {', '.join(companions)}: random order takes in their tests too")

    def measure(in_mode: VerifyMode) -> Verification:
        return flow.verify([test], options.runs_before, in_mode, on_run, should_stop, fail_fast=False,
                           companions=companions, seed=options.seed)[0]  # fmt: skip

    further = fix_modes.further_modes(flow.workspace, test, mode, companions)
    mode, before = fix_modes.measure_before(measure, mode, further, phase)
    measured_before = stats.tally_of(before)
    failed = measured_before.failed
    if failed and chosen is not None:
        fixes = fix_modes.first_for_mode(fixes, options.choice, mode)
        chosen = fixes[options.choice]
    if failed and mode is VerifyMode.RANDOM_ORDER and not any(p.remedy.startswith("restore.") for p in fixes):
        phase("it fails among its neighbours: bisection for the test it fails after")
        bisection = fix_modes.find_polluter(flow.workspace, test, should_stop=should_stop, companions=companions)
        if bisection.polluter is not None:
            phase(f"it fails after {bisection.polluter} ({bisection.runs} bisection runs)")
            found = flow.proposing.propose(test)
            fixes = [p for p in found.proposals if p.changes_code]
            chosen = fixes[0] if fixes else None
            options = replace(options, choice=0)
    needed = stats.runs_needed(failed, before.runs, options.min_runs)
    if needed is None and not test.markers:
        return ApplyOutcome(
            ApplyStatus.NOT_PROVEN,
            f"{test.nodeid} passed all {before.runs} runs ({before.mode}) and carries no marker: there is no failure "
            "to prove a fix against and no marker to remove. Nothing was changed; measure more runs (--runs-before).",
            stats.Proof(before.mode, measured_before),
        )
    if needed is None:
        measured = stats.Proof(before.mode, measured_before)
        failing = _failing_neighbours(flow, covered, options.runs_before, mode, on_run, should_stop)
        if failing:
            return ApplyOutcome(ApplyStatus.NOT_PROVEN, f"Not committed: {measured.text}{failing}.", measured)
        return _commit(flow, test, unmark, measured, None, confirm, restore={})
    if chosen is None:
        why = "; ".join(d.reason for d in found.declined) or "no remedy matches its code"
        return ApplyOutcome(
            ApplyStatus.NO_REMEDY,
            f"{test.nodeid} failed {failed} of {before.runs} runs, but flaketui has no fix to write ({why}). "
            f"`flaketui explain {test.nodeid}` shows what the diagnosis saw.",
        )
    if needed > options.max_runs:
        return ApplyOutcome(
            ApplyStatus.TOO_RARE,
            f"{test.nodeid} failed {failed} of {before.runs} runs: proving a fix of so rare a failure at 95% "
            f"takes {needed} clean runs, more than --max-runs {options.max_runs}. Nothing was changed; "
            "measure more runs before (--runs-before) or raise --max-runs.",
            stats.Proof(before.mode, measured_before, needed=needed),
            chosen,
        )
    tried: list[str] = []
    measured = stats.Proof(before.mode, measured_before, needed=needed)
    for candidate in fixes[options.choice : options.choice + max(1, options.alternatives)]:
        if tried:
            phase(f"next proposal: {candidate.title} ({candidate.remedy})")
        reach = fix_modes.reached_tests(test, candidate)
        if reach:
            phase(f"the fix changes {', '.join(reach)}: one pass of their tests before it, to see it breaks none")
        passing = fix_modes.passing_tests(flow.workspace, test, reach, should_stop)
        originals = flow.write(candidate)
        try:
            phase(f"after: up to {needed} runs with the fix, stopping at the first failure")
            after = flow.verify([test], needed, mode, on_run, should_stop, fail_fast=True, companions=companions,
                                seed=options.seed)[0]  # fmt: skip
            measured = stats.Proof(before.mode, measured_before, stats.tally_of(after), needed)
            failing = _failing_neighbours(flow, covered, needed, mode, on_run, should_stop) if measured.holds else ""
            if measured.holds and not failing and passing:
                broken = fix_modes.broken_by_fix(flow.workspace, test, reach, passing, should_stop)
                failing = f"; it breaks {', '.join(broken)}, which passed before it" if broken else ""
            if measured.holds and not failing:
                return _commit(flow, test, unmark, measured, candidate, confirm, restore=originals)
            flow.restore(originals)
            tried.append(f"{candidate.remedy}: {measured.text}{failing}")
        except BaseException:
            flow.restore(originals)
            raise
    more = len(fixes) > options.choice + len(tried)
    return ApplyOutcome(
        ApplyStatus.NOT_PROVEN,
        f"No fix held ({'; '.join(tried)}); every file is back as it was."
        + (f" Try --proposal {options.choice + len(tried) + 1}." if more else ""),
        measured,
        chosen,
    )


def _prove_hand_fix(
    flow: ApplyWorkflow,
    target: str | FlakyTest,
    options: ApplyOptions,
    include: tuple[str, ...],
    on_run: Callable[[RunResult], None] | None,
    on_phase: Callable[[str], None] | None,
    should_stop: Callable[[], bool] | None,
    confirm: Confirm | None,
) -> ApplyOutcome:
    from flaketui import vcs
    from flaketui.workflows.snapshot import TreeSnapshot

    test = target if isinstance(target, FlakyTest) else flow.proposing.find_test(target)
    if not any(p.endswith(".py") for p in vcs.status(flow.workspace.root)):
        raise FlakeTUIError(
            f"No Python file has uncommitted changes: there is no fix of {test.nodeid} to prove.",
            f"Edit the code first, or let flaketui write one: `flaketui fix {test.nodeid} --apply`.",
        )
    found = flow.proposing.propose(test)
    mode = stats.mode_for(_category(found))
    evidence = found.diagnosis.evidence if found.diagnosis is not None else ()
    companions = fix_modes.companions(test, evidence, flow.proposing.confirmed_polluters(test))
    phase = on_phase or (lambda _text: None)
    phase(f"before: {options.runs_before} runs at HEAD (your edits left alone), {mode}")
    with TreeSnapshot(flow.workspace.root, "HEAD", every_file=True) as head:
        before = flow.verify([test], options.runs_before, mode, on_run, should_stop, fail_fast=False, snapshot=head,
                             companions=companions, seed=options.seed)[0]  # fmt: skip
    measured_before = stats.tally_of(before)
    failed = measured_before.failed
    needed = stats.runs_needed(failed, before.runs, options.min_runs)
    if needed is not None and needed > options.max_runs:
        return ApplyOutcome(
            ApplyStatus.TOO_RARE,
            f"At HEAD {test.nodeid} failed {failed} of {before.runs} runs: proving a fix of so rare a failure "
            f"takes {needed} clean runs, more than --max-runs {options.max_runs}. Nothing was committed.",
            stats.Proof(before.mode, measured_before, needed=needed),
        )
    runs = needed if needed is not None else options.min_runs
    phase(f"after: up to {runs} runs of your fix, stopping at the first failure")
    after = flow.verify([test], runs, mode, on_run, should_stop, fail_fast=True, companions=companions, seed=options.seed)[0]
    measured = stats.Proof(before.mode, measured_before, stats.tally_of(after), needed)
    if needed is not None and not measured.holds:
        return ApplyOutcome(ApplyStatus.NOT_PROVEN, f"Your fix did not hold ({measured.text}); nothing was committed.", measured)
    if needed is None and after.passed < after.runs:
        return ApplyOutcome(ApplyStatus.NOT_PROVEN, f"The test fails with your edits ({after.summary}); nothing was committed.", measured)
    note = measured.text if needed is not None else f"{measured.text}; after: {after.passed}/{after.runs} passed"
    if not test.markers and test.path in vcs.status(flow.workspace.root):
        include = (test.path, *include)  # no marker to remove: the test's own file goes only as your fix
    plan = flow.fixing.plan_fix(test, include, unverified=False, category=None, proof=f"Fix: written by hand.\n{note}")
    if plan.refusal:
        return ApplyOutcome(ApplyStatus.NOT_PROVEN, f"Not committed: {plan.refusal}", measured)
    if confirm is not None and not confirm(plan):
        return ApplyOutcome(ApplyStatus.NOT_CONFIRMED, "Nothing was committed.", measured)
    # The proof's own before/after statistics are in the message, and ``confirm`` showed the
    # cautions (few runs, another platform's marker) to the user who confirmed.
    record = flow.fixing.commit_fix(plan, include, unverified=False, on_output=None, accept_cautions=True)
    return ApplyOutcome(ApplyStatus.COMMITTED, f"Committed {record.sha[:12]}: your fix and the marker removal; {note}.", measured, record=record)


def _removal_of(flow: ApplyWorkflow, test: FlakyTest) -> tuple[FlakyTest | str, list[FlakyTest]]:
    """What the commit removes the marker from: the test, or, when its marker is a class's or a
    module's that also covers other tests, the class or module (those tests then run after the
    fix too, as any removal of their marker needs). Refused before any run when no node id
    covers exactly the tests the marker covers."""
    from flaketui.workflows import removal

    every = flow.scanning.scan().tests
    keys = {removal.marker_key(test, m) for m in test.markers}
    covered = [t for t in every if t.rootdir == test.rootdir and any(removal.marker_key(t, m) in keys for m in t.markers)]
    if len(covered) <= 1:
        return test, []
    node = removal.covering_nodeid(covered)
    if {t.key for t in removal.select(node, [t for t in every if t.rootdir == test.rootdir])} != {t.key for t in covered}:
        raise FlakeTUIError(
            f"The marker of {test.nodeid} also covers {len(covered) - 1} other test(s), and {node} holds other "
            "flaky-marked tests as well: no removal takes just that marker away.",
            "Give each of those tests its own marker first, or fix them one by one with `flaketui fix`.",
        )
    return node, [t for t in covered if t.key != test.key]


def _failing_neighbours(
    flow: ApplyWorkflow,
    others: Sequence[FlakyTest],
    runs: int,
    mode: VerifyMode,
    on_run: Callable[[RunResult], None] | None,
    should_stop: Callable[[], bool] | None,
) -> str:
    """Why the shared marker may not go yet: another test under it failed in ``runs`` runs ("" if none)."""
    if not others:
        return ""
    found = flow.verify(others, runs, mode, on_run, should_stop, fail_fast=True, proving=False)
    failing = [v for v in found if v.passed < v.runs or v.runs < runs]
    if not failing:
        return ""
    names = ", ".join(f"{v.nodeid} ({v.runs - v.passed} of {v.runs} failed)" for v in failing)
    first = failing[0].nodeid
    return f"; the marker also covers {names}, so it stays (fix that first: `flaketui fix {first} --apply`)"


def _category(found: ProposalSet) -> Category:
    return found.diagnosis.suggestion.category if found.diagnosis is not None else Category.UNKNOWN


def _proving(verification: Verification, test: FlakyTest, runs: int, *, fail_fast: bool) -> Verification:
    if verification.verdict is Verdict.SKIPPED or verification.count(RunOutcome.SKIPPED):
        raise FlakeTUIError(
            f"{test.nodeid} skips here ({verification.skip_reason or 'no reason given'}): a skipped run proves nothing.",
            "Nothing was committed; run it where it does not skip (--pytest-args, --python).",
        )
    stopped_early = fail_fast and verification.passed < verification.runs
    if verification.runs < runs and not stopped_early:
        raise FlakeTUIError(
            f"The runs of {test.nodeid} stopped after {verification.runs} of {runs}; a partial run proves nothing.",
            "Nothing was committed; run it again.",
        )
    return verification


def _commit(
    flow: ApplyWorkflow,
    test: FlakyTest,
    unmark: FlakyTest | str,
    measured: stats.Proof,
    chosen: Proposal | None,
    confirm: Confirm | None,
    restore: dict[str, bytes],
) -> ApplyOutcome:
    # Without a marker (a test CI history or a hunt found) the test's own file holds no removal:
    # the commit is the fix's files alone.
    others = [p for p in (chosen.files if chosen else ()) if p != test.path or not test.markers]
    note = measured.text if chosen else f"{measured.text}; the marker alone is removed"
    fix = f"Fix: {chosen.title} ({chosen.remedy}). {chosen.why}" if chosen else ""
    plan = flow.fixing.plan_fix(unmark, others, unverified=False, category=None, proof=f"{fix}\n{note}".strip())
    if plan.refusal:
        flow.restore(restore)
        return ApplyOutcome(ApplyStatus.NOT_PROVEN, f"Not committed: {plan.refusal}", measured, chosen)
    if confirm is not None and not confirm(plan):
        flow.restore(restore)
        return ApplyOutcome(ApplyStatus.NOT_CONFIRMED, "Nothing was committed; every file is back as it was.", measured, chosen)
    try:
        record = flow.fixing.commit_fix(plan, others, unverified=False, on_output=None, accept_cautions=True)  # confirm showed the cautions
    except FlakeTUIError:
        flow.restore(restore)
        raise
    what = "the fix and the marker removal" if chosen else "the marker removal alone (no cause was seen failing)"
    if not test.markers:
        what = "the fix alone (the test carries no marker)"
    return ApplyOutcome(ApplyStatus.COMMITTED, f"Committed {record.sha[:12]}: {what}; {measured.text}.", measured, chosen, record)
