"""``flaketui fix --propose`` (a diff per proposal, or JSON) and ``--apply``/``--prove`` (progress,
the diff and message before the commit, the numbers)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from flaketui.cli.output import RunDots, echo_diff

if TYPE_CHECKING:
    from flaketui.apply_fix import ApplyOptions
    from flaketui.models import FixPlan
    from flaketui.proposals import ProposalSet
    from flaketui.service import Service

#: ``fix --propose``: at least one proposal changes code.
EXIT_PROPOSED = 0
#: ``fix --propose``/``--apply``: no remedy changes code (maybe "keep, with reason").
EXIT_NO_REMEDY = 3


def print_proposals(found: ProposalSet, *, as_json: bool) -> int:
    status = EXIT_PROPOSED if any(p.changes_code for p in found.proposals) else EXIT_NO_REMEDY
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
        return status
    if not found.proposals:
        click.echo(f"No fix to propose for {found.test.nodeid}: no remedy matches its code.", err=True)
        for declined in found.declined:
            click.echo(f"  {declined.remedy}: {declined.reason}", err=True)
        click.echo(f"  `flaketui explain {found.test.nodeid}` shows what the diagnosis saw.", err=True)
        return status
    for number, proposal in enumerate(found.proposals, start=1):
        best = " (best)" if number == 1 else ""
        click.secho(f"{number}. {proposal.title} [{proposal.category}, {proposal.remedy}]{best}", bold=True)
        click.echo(click.wrap_text(proposal.why, initial_indent="   ", subsequent_indent="   ", width=100))
        if proposal.keep_reason:
            click.echo(f"   keep, with reason: {proposal.keep_reason}")
            click.echo(f"   flaketui keep {found.test.nodeid} --reason {json.dumps(proposal.keep_reason)}")
        echo_diff(found.diff(proposal))
        click.echo()
    for declined in found.declined:
        click.echo(f"not offered: {declined.remedy}: {declined.reason}", err=True)
    return status


def run_apply(
    service: Service, nodeid: str, options: ApplyOptions, *, yes: bool, hand_fix: bool = False, include: tuple[str, ...] = ()
) -> int:
    """``fix --apply``: progress on stderr, the diff and message before the commit, the numbers."""
    import sys

    from flaketui.errors import FlakeTUIError

    dots = RunDots()

    def phase(text: str) -> None:
        dots.close()
        click.echo(text[:1].upper() + text[1:] + ":", err=True)

    def confirm(plan: FixPlan) -> bool:
        dots.close()
        echo_diff(plan.diff)
        click.echo("\n" + plan.message)
        for caution in plan.cautions:
            click.echo(f"caution: {caution}", err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise FlakeTUIError("Not committing without confirmation.", "Pass --yes to commit from a script.")
        return click.confirm("Commit this?", default=True)

    try:
        if hand_fix:
            outcome = service.prove_fix(nodeid, options, include=include, on_run=dots, on_phase=phase, confirm=confirm)
        else:
            outcome = service.apply_fix(nodeid, options, on_run=dots, on_phase=phase, confirm=confirm)
    finally:
        dots.close()
    if outcome.proposal is not None and outcome.proposal.changes_code:
        click.echo(f"Fix: {outcome.proposal.title} ({outcome.proposal.remedy})", err=True)
    click.echo(outcome.summary, err=outcome.status != 0)
    return int(outcome.status)
