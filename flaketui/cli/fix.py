"""``flaketui fix`` (verify, then remove the marker and commit with the fix) and ``undo``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from flaketui.cli.context import pass_context
from flaketui.cli.output import RunDots, echo_diff, echo_git
from flaketui.cli.proposals import print_proposals, run_apply
from flaketui.cli.verify import MODES
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, Verdict, VerifyMode

if TYPE_CHECKING:
    from flaketui.cli.context import Context
    from flaketui.models import FixPlan
    from flaketui.service import Service

#: ``--category`` choices, in the order ``--help`` lists them.
CATEGORIES = tuple(str(category) for category in Category)


@click.command()
@click.argument("nodeid")
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1), help="Runs per test.")
@click.option("--mode", default="forked", show_default=True, type=click.Choice(MODES), help="How runs are isolated.")
@click.option(
    "--category", type=click.Choice(CATEGORIES), help="Root cause named in the message (default: the team's)."
)
@click.option(
    "--include", multiple=True, metavar="PATH", help="Another changed file to commit with the fix (repeatable)."
)
@click.option("--yes", "-y", is_flag=True, help="Commit without asking.")
@click.option("--dry-run", is_flag=True, help="Print the diff only; change nothing.")
@click.option("--unverified", is_flag=True, help="Skip verification (the message says so).")
@click.option("--propose", is_flag=True, help="Print the fixes flaketui can write for NODEID; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --propose: print the proposals as JSON.")
@click.option("--apply", "apply_", is_flag=True, help="Write the best proposal, prove it before and after, commit.")
@click.option("--prove", is_flag=True, help="Your own fix: measure HEAD before, the work tree after; commit if it holds.")
@click.option("--proposal", "choice", type=click.IntRange(1), help="With --apply: this proposal only (default: the best, then the next two).")
@click.option("--runs-before", default=20, show_default=True, type=click.IntRange(1), help="With --apply: runs of the unfixed test.")
@click.option("--min-runs", default=10, show_default=True, type=click.IntRange(1), help="With --apply: fewest clean runs after.")
@click.option("--max-runs", default=200, show_default=True, type=click.IntRange(1), help="With --apply: most runs a proof may take.")
@click.option(
    "--anyway", is_flag=True, help="Commit despite the cautions: fewer runs than min-runs, a marker for another platform."
)
@pass_context
def fix(
    ctx: Context,
    nodeid: str,
    runs: int,
    mode: str,
    category: str | None,
    include: tuple[str, ...],
    yes: bool,
    dry_run: bool,
    unverified: bool,
    propose: bool,
    as_json: bool,
    apply_: bool,
    prove: bool,
    choice: int | None,
    runs_before: int,
    min_runs: int,
    max_runs: int,
    anyway: bool,
) -> int:
    """Verify NODEID, then remove its flaky marker and commit the fix with it.

    NODEID is a test, a class (path::Class) or a module (path) for class- and module-level
    markers. Exit 0 only when committed (with --dry-run: when it would commit).

    --propose prints the root-cause fixes flaketui can write, best first, from the code and
    the recorded diagnosis; it runs no test and changes nothing. Exit 0 when it has one, 3 when
    it has none (or only "keep, with reason").

    --apply writes the best proposal (--proposal N another), measures the failure rate before
    on the unfixed tree and proves the fix after, and commits fix and marker removal together
    only when the proof holds. Exit 0 committed (a test that never failed before: the marker
    alone), 1 the fix did not hold (every file restored), 3 no fix to write (a test that needs
    the network: nothing runs or changes), 4 too rare a failure to prove within --max-runs,
    5 not confirmed. --prove does the same for a fix you wrote: "before" runs on HEAD in a
    temporary copy, your edits untouched; the same exit codes.
    """
    service = ctx.service()
    if propose:
        return print_proposals(service.propose_fixes(nodeid), as_json=as_json)
    if apply_ or prove:
        from flaketui.apply_fix import ApplyOptions

        options = ApplyOptions((choice or 1) - 1, runs_before, min_runs, max_runs, alternatives=1 if choice else 3)
        return run_apply(service, nodeid, options, yes=yes, hand_fix=prove, include=include)
    chosen = Category(category) if category else None
    if not (yes or dry_run or sys.stdin.isatty()):
        raise FlakeTUIError(
            "Not committing without confirmation, and there is no terminal to ask on; nothing was run.",
            "Pass --yes to commit from a script (--dry-run shows the diff).",
        )
    # Plan first: a refusal (shared marker, merge in progress...) costs no runs.
    plan = service.plan_fix(nodeid, include=include, unverified=unverified, category=chosen)
    if plan.refusal:
        click.echo(f"flaketui: {plan.refusal}", err=True)
        return 1
    reused = None if unverified else service.reusable_verifications(plan.tests)
    _check_before_the_runs(service, plan, runs=None if reused else runs, anyway=anyway or dry_run)
    if reused:
        for v in reused:
            click.echo(f"Reusing the verification of this very tree ({v.started_at}): {v.nodeid}: {v.summary}", err=True)
        plan = service.refresh_plan(plan)
    elif not unverified:
        click.echo(f"Verifying {len(plan.tests)} test(s), {runs} runs each, {mode}:", err=True)
        dots = RunDots()
        try:
            verifications = service.verify(plan.tests, runs=runs, mode=VerifyMode(mode), on_run=dots)
        finally:
            dots.close()  # so "Aborted." after ctrl+c starts on a line of its own
        unstable = [v for v in verifications if v.verdict is not Verdict.STABLE or v.runs < v.runs_requested]
        for v in verifications:
            note = f" ({v.note})" if v.note else ""
            click.echo(f"  {v.nodeid}: {v.verdict}, {v.summary}{note}", err=True)
        if unstable or not verifications:
            click.echo("Not stable: the marker stays and nothing was changed.", err=True)
            first = unstable[0].nodeid if unstable else nodeid
            click.echo(f"  `flaketui explain {first}` shows the likely cause.", err=True)
            return 1
        plan = service.refresh_plan(plan)  # the message now names the verification
        if plan.refusal:
            click.echo(f"flaketui: {plan.refusal}", err=True)
            return 1
    echo_diff(plan.diff)
    for caution in plan.cautions:
        click.echo(f"caution: {caution}", err=True)
    if dry_run:
        return 0
    click.echo("\n" + plan.message)
    if plan.cautions and not anyway:
        if not sys.stdin.isatty():
            raise FlakeTUIError("Not committing: " + " ".join(plan.cautions), _ANYWAY_HINT)
        if not click.confirm("Commit despite the caution above?", default=False):
            click.echo("Nothing was committed.")
            return 1
    elif not yes and not click.confirm("Commit this?", default=True):
        click.echo("Nothing was committed.")
        return 1
    record = service.commit_fix(plan, include=include, unverified=unverified, on_output=echo_git, accept_cautions=True)
    click.echo(f"Committed {record.sha[:12]}: {record.message.splitlines()[0]}")
    return 0


_ANYWAY_HINT = "Verify with more runs (or on that platform), or pass --anyway to accept it."


def _check_before_the_runs(service: Service, plan: FixPlan, *, runs: int | None, anyway: bool) -> None:
    """Refuse now what would be refused after a minute of runs: a caution (few runs, another
    platform's marker) nobody is there to accept."""
    if sys.stdin.isatty() or anyway:
        return
    cautions = service.platform_cautions(plan.tests)
    if runs is not None and runs < service.min_runs:
        cautions.append(f"--runs {runs} is fewer than the {service.min_runs} [tool.flaketui] min-runs asks.")
    if cautions:
        raise FlakeTUIError("Not committing: " + " ".join(cautions) + " Nothing was run.", _ANYWAY_HINT)


@click.command()
@click.argument("sha", required=False)
@pass_context
def undo(ctx: Context, sha: str | None) -> int:
    """Put back the marker a flaketui fix removed, as a new commit (default: the last fix)."""
    record = ctx.service().undo(sha, on_output=echo_git)
    click.echo(f"Committed {record.sha[:12]}: {record.message.splitlines()[0]}")
    return 0
