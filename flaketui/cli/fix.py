"""``flaketui fix`` (verify, then remove the marker and commit with the fix) and ``undo``."""

from __future__ import annotations

import sys

import click

from flaketui.cli.context import Context, pass_context
from flaketui.cli.verify import MODES
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, RunResult, Verdict, VerifyMode

#: ``--category`` choices, in the order ``--help`` lists them.
CATEGORIES = tuple(str(category) for category in Category)
_RUN_MARKS = {"passed": ".", "failed": "F", "error": "E", "timeout": "T", "crashed": "C"}


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
) -> int:
    """Verify NODEID, then remove its flaky marker and commit the fix with it.

    NODEID is a test, a class (path::Class) or a module (path) for class- and module-level
    markers. Exit 0 only when committed (with --dry-run: when it would commit).
    """
    service = ctx.service()
    chosen = Category(category) if category else None
    # Plan first: a refusal (shared marker, merge in progress...) costs no runs.
    plan = service.plan_fix(nodeid, include=include, unverified=unverified, category=chosen)
    if plan.refusal:
        click.echo(f"flaketui: {plan.refusal}", err=True)
        return 1
    if not unverified:
        click.echo(f"Verifying {len(plan.tests)} test(s), {runs} runs each, {mode}:", err=True)
        dots = _RunDots()
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
    _echo_diff(plan.diff)
    if dry_run:
        return 0
    click.echo("\n" + plan.message)
    if not yes:
        if not sys.stdin.isatty():
            raise FlakeTUIError("Not committing without confirmation.", "Pass --yes to commit from a script.")
        if not click.confirm("Commit this?", default=True):
            click.echo("Nothing was committed.")
            return 1
    record = service.commit_fix(plan, include=include, unverified=unverified, on_output=_echo_git)
    click.echo(f"Committed {record.sha[:12]}: {record.message.splitlines()[0]}")
    return 0


@click.command()
@click.argument("sha", required=False)
@pass_context
def undo(ctx: Context, sha: str | None) -> int:
    """Put back the marker a flaketui fix removed, as a new commit (default: the last fix)."""
    record = ctx.service().undo(sha, on_output=_echo_git)
    click.echo(f"Committed {record.sha[:12]}: {record.message.splitlines()[0]}")
    return 0


class _RunDots:
    """One line per test, one character per run, as runs finish."""

    def __init__(self) -> None:
        self.current: str | None = None

    def __call__(self, result: RunResult) -> None:
        if result.nodeid != self.current:
            self.close()
            click.echo(f"  {result.nodeid} ", nl=False, err=True)
            self.current = result.nodeid
        click.echo(_RUN_MARKS.get(str(result.outcome), "?"), nl=False, err=True)

    def close(self) -> None:
        if self.current is not None:
            click.echo(err=True)
            self.current = None


def _echo_diff(diff: str) -> None:
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff.splitlines():
        header = line.startswith(("+++", "---"))
        click.secho(line, fg=None if header else colours.get(line[:1]), bold=header)


def _echo_git(line: str) -> None:
    click.echo(f"  git: {line}", err=True)
