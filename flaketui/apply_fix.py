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

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from flaketui import proof as stats
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, FlakyTest

if TYPE_CHECKING:
    from flaketui.models import CommitRecord, RunResult, Verification
    from flaketui.proposals import ProposalSet
    from flaketui.remedies import Proposal
    from flaketui.service import FixPlan, Service


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


#: Shows the plan (diff and message) and says whether to commit it.
Confirm = Callable[["FixPlan"], bool]


def apply_fix(
    service: Service,
    target: str | FlakyTest,
    options: ApplyOptions = ApplyOptions(),
    *,
    on_run: Callable[[RunResult], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    confirm: Confirm | None = None,
) -> ApplyOutcome:
    found = service.propose_fixes(target)
    test = found.test
    fixes = [p for p in found.proposals if p.changes_code]
    if not fixes and found.proposals:
        keep = found.proposals[0]
        return ApplyOutcome(ApplyStatus.NO_REMEDY, f"{keep.title}. {keep.why}", proposal=keep)
    if options.choice >= max(len(fixes), 1):
        raise FlakeTUIError(
            f"There are {len(fixes)} proposals for {test.nodeid}, not {options.choice + 1}.",
            f"`flaketui fix {test.nodeid} --propose` lists them.",
        )
    chosen = fixes[options.choice] if fixes else None
    mode = stats.mode_for(chosen.category if chosen else _category(found), chosen.remedy if chosen else "")
    phase = on_phase or (lambda _text: None)
    phase(f"before: {options.runs_before} runs of the unfixed test, {mode}")
    before = _verify(service, test, options.runs_before, mode, on_run, should_stop, fail_fast=False)
    failed = before.runs - before.passed
    needed = stats.runs_needed(failed, before.runs, options.min_runs)
    if needed is None:
        measured = stats.Proof(before.mode, 0, before.runs)
        return _commit(service, test, measured, None, confirm, restore={})
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
            stats.Proof(before.mode, failed, before.runs, needed=needed),
            chosen,
        )
    originals = _write(service, chosen)
    try:
        phase(f"after: up to {needed} runs with the fix, stopping at the first failure")
        after = _verify(service, test, needed, mode, on_run, should_stop, fail_fast=True)
        measured = stats.Proof(before.mode, failed, before.runs, after.runs - after.passed, after.runs, needed)
        if not measured.holds:
            _restore(service, originals)
            return ApplyOutcome(
                ApplyStatus.NOT_PROVEN,
                f"The fix did not hold ({measured.text}); every file is back as it was."
                + (" Try another proposal with --proposal 2." if len(fixes) > 1 else ""),
                measured,
                chosen,
            )
        return _commit(service, test, measured, chosen, confirm, restore=originals)
    except BaseException:
        _restore(service, originals)
        raise


def _category(found: ProposalSet) -> Category:
    return found.diagnosis.suggestion.category if found.diagnosis is not None else Category.UNKNOWN


def _verify(
    service: Service,
    test: FlakyTest,
    runs: int,
    mode: object,
    on_run: Callable[[RunResult], None] | None,
    should_stop: Callable[[], bool] | None,
    *,
    fail_fast: bool,
) -> Verification:
    found = service.verify([test], runs=runs, mode=mode, fail_fast=fail_fast, on_run=on_run, should_stop=should_stop)  # type: ignore[arg-type]
    verification = found[0]
    stopped_early = fail_fast and verification.passed < verification.runs
    if verification.runs < runs and not stopped_early:
        raise FlakeTUIError(
            f"The runs of {test.nodeid} stopped after {verification.runs} of {runs}; a partial run proves nothing.",
            "Nothing was committed; run it again.",
        )
    return verification


def _write(service: Service, chosen: Proposal) -> dict[str, bytes]:
    from flaketui.remedies import apply_edits

    new = apply_edits(chosen.edits, service._repo_bytes)
    if isinstance(new, str):
        raise FlakeTUIError(new, "Nothing was changed.")
    originals = {e.path: e.before for e in chosen.edits}
    for path, content in new.items():
        (service.root / path).write_bytes(content)
    return originals


def _restore(service: Service, originals: dict[str, bytes]) -> None:
    for path, content in originals.items():
        (service.root / path).write_bytes(content)


def _commit(
    service: Service,
    test: FlakyTest,
    measured: stats.Proof,
    chosen: Proposal | None,
    confirm: Confirm | None,
    restore: dict[str, bytes],
) -> ApplyOutcome:
    others = [p for p in (chosen.files if chosen else ()) if p != test.path]
    note = measured.text if chosen else f"{measured.text}; the marker alone is removed"
    fix = f"Fix: {chosen.title} ({chosen.remedy}). {chosen.why}" if chosen else ""
    plan = service.plan_fix(test, include=others, proof=f"{fix}\n{note}".strip())
    if plan.refusal:
        _restore(service, restore)
        return ApplyOutcome(ApplyStatus.NOT_PROVEN, f"Not committed: {plan.refusal}", measured, chosen)
    if confirm is not None and not confirm(plan):
        _restore(service, restore)
        return ApplyOutcome(ApplyStatus.NOT_CONFIRMED, "Nothing was committed; every file is back as it was.", measured, chosen)
    try:
        record = service.commit_fix(plan, include=others)
    except FlakeTUIError:
        _restore(service, restore)
        raise
    what = "the fix and the marker removal" if chosen else "the marker removal alone (no cause was seen failing)"
    return ApplyOutcome(ApplyStatus.COMMITTED, f"Committed {record.sha[:12]}: {what}; {measured.text}.", measured, chosen, record)
