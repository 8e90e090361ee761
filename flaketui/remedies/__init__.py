"""Remedies: codemods that remove the root cause of a flaky test.

Each remedy is a pure function ``Context -> [Proposal | Declined]`` over source bytes, in the
manner of LibCST's codemod commands: it never writes a file, and a pattern it cannot change
safely comes back as a ``Declined`` with the reason. Every proposal has passed ``guard``: it
never removes or loosens an assertion, raises a number, skips, or catches the failure.
Applying a proposal's result again changes nothing (each remedy recognises its own output).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flaketui.models import Category
from flaketui.remedies._model import (
    Context,
    Declined,
    FileEdit,
    Proposal,
    Reader,
    Target,
)
from flaketui.remedies.awaits import propose_await
from flaketui.remedies.blocking import propose_nonblocking_sleep
from flaketui.remedies.clocks import propose_clock
from flaketui.remedies.durations import propose_perf_counter
from flaketui.remedies.external import propose_keep
from flaketui.remedies.fakeclocks import propose_project_fake_clock
from flaketui.remedies.floats import propose_approx
from flaketui.remedies.joins import propose_wait_before_assert
from flaketui.remedies.listening import propose_poll_port
from flaketui.remedies.locks import propose_lock
from flaketui.remedies.names import propose_name_per_instance, propose_unique_name
from flaketui.remedies.ordering import propose_sorted
from flaketui.remedies.paths import propose_mkdtemp, propose_tmp_path
from flaketui.remedies.polls import propose_poll_state
from flaketui.remedies.pollution import propose_restoring
from flaketui.remedies.ports import propose_free_port
from flaketui.remedies.purges import propose_purge_after
from flaketui.remedies.rewaits import propose_wait_again
from flaketui.remedies.seeds import propose_seed
from flaketui.remedies.spreads import propose_no_spread
from flaketui.remedies.tasks import propose_gather
from flaketui.remedies.ties import propose_tie_break
from flaketui.remedies.waits import propose_documented_wait, propose_waits

__all__ = ["Context", "Declined", "FileEdit", "Proposal", "Reader", "Target", "propose"]

Remedy = Callable[[Context], list[Proposal | Declined]]

#: Every remedy, with the category it cures and its precedence among equals (first wins).
REMEDIES: tuple[tuple[Category, Remedy], ...] = (
    (Category.RACE, propose_documented_wait),
    (Category.ASYNC, propose_gather),
    (Category.ASYNC, propose_await),
    (Category.ASYNC, propose_waits),
    (Category.ASYNC, propose_poll_port),
    (Category.ASYNC, propose_wait_again),
    (Category.RACE, propose_wait_before_assert),
    (Category.ASYNC, propose_nonblocking_sleep),
    (Category.ASYNC, propose_poll_state),
    (Category.ORDER, propose_restoring),
    (Category.ORDER, propose_purge_after),
    (Category.DATA, propose_sorted),
    (Category.DATA, propose_seed),
    (Category.DATA, propose_no_spread),
    (Category.DATA, propose_tie_break),
    (Category.DATA, propose_approx),
    (Category.TIME, propose_project_fake_clock),
    (Category.TIME, propose_clock),
    (Category.TIME, propose_perf_counter),
    (Category.FIXTURE, propose_tmp_path),
    (Category.FIXTURE, propose_mkdtemp),
    (Category.FIXTURE, propose_free_port),
    (Category.FIXTURE, propose_name_per_instance),
    (Category.FIXTURE, propose_unique_name),
    (Category.RACE, propose_lock),
    (Category.EXTERNAL, propose_keep),
)


def propose(ctx: Context) -> tuple[list[Proposal], list[Declined]]:
    """Every proposal for the test, best first, and the remedies that declined (with why).

    Best: the remedy of the diagnosed category, then the one whose change touches the lines
    the evidence names, then the table's order."""
    proposals: list[Proposal] = []
    declined: list[Declined] = []
    seen: set[tuple[tuple[str, bytes], ...]] = set()
    for precedence, (_, remedy) in enumerate(REMEDIES):
        for result in remedy(ctx):
            if isinstance(result, Declined):
                declined.append(result)
                continue
            key = tuple((e.path, e.after) for e in result.edits) or ((result.remedy, b""),)
            if key in seen:
                continue
            seen.add(key)
            proposals.append(_scored(result, ctx, precedence))
    proposals.sort(key=lambda p: -p.score)
    return proposals, declined


def _scored(found: Proposal, ctx: Context, precedence: int) -> Proposal:
    from dataclasses import replace

    score = 10.0 - precedence / 10
    if found.category is ctx.category:
        score += 100
    evidence_lines = {(e.path, line) for e in ctx.evidence for line in range(e.line, max(e.line, e.end_line) + 1)}
    if evidence_lines & set(found.lines):
        score += 50
    if not found.changes_code:
        score -= 5
    return replace(found, score=score)


def apply_edits(edits: Sequence[FileEdit], read: Reader) -> dict[str, bytes] | str:
    """The new content of each edited file, or why not: a file changed since it was proposed."""
    new: dict[str, bytes] = {}
    for edit in edits:
        if read(edit.path) != edit.before:
            return f"{edit.path} changed since the fix was proposed; propose again."
        new[edit.path] = edit.after
    return new
