"""The record: ``keep`` a marker on purpose, a test's ``history``, the team's ``audit``, and
``check``, the CI gate."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flaketui.cli.context import pass_context
from flaketui.cli.output import plural
from flaketui.errors import FlakeTUIError
from flaketui.models import Keep

if TYPE_CHECKING:
    from flaketui.cli.context import Context


@click.command()
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("--json", "as_json", is_flag=True, help="The same data as JSON.")
@pass_context
def audit(ctx: Context, output: str | None, as_json: bool) -> int:
    """The audit report: flaky tests by root cause, verifications, markers removed, fix plan.

    Commit it as flaky_test_audit.md: flaketui audit -o flaky_test_audit.md
    """
    text = ctx.service().audit(as_json=as_json)
    if output is None:
        click.echo(text, nl=False)
        return 0
    target = Path(output)
    data = text.encode("utf-8")
    if target.exists() and target.read_bytes() == data:
        click.echo(f"{output} is up to date.", err=True)
        return 0
    target.write_bytes(data)
    click.echo(f"Wrote {output}.", err=True)
    return 0


@click.command()
@click.option(
    "--max", "budget", default=0, show_default=True, type=click.IntRange(min=0), metavar="N",
    help="Pass with up to N markers not kept on purpose (a budget to ratchet down).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--github", is_flag=True, help="Also print GitHub Actions annotations for what fails.")
@pass_context
def check(ctx: Context, budget: int, as_json: bool, github: bool) -> int:
    """The CI gate: exit 1 while flaky markers remain, apart from those kept on purpose.

    Lists each as path:line: nodeid (marker). A keep past its expiry date fails the gate.
    """
    result = ctx.service().check(budget=budget)
    if github:
        level = "notice" if result.ok else "error"
        for item in result.items:
            if item.status in ("failing", "finding", "expired"):
                click.echo(f"::{level} file={_gh(item.path, prop=True)},line={item.line}::{_gh(item.text)}")
    if as_json:
        payload = {"ok": result.ok, "budget": budget, "items": [asdict(i) | {"text": i.text} for i in result.items]}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0 if result.ok else 1
    for line in result.failing:
        click.echo(line)
    if result.expired:
        click.echo("\nKeeps past their expiry date (remove the marker, or extend the keep with a reason):")
        for line in result.expired:
            click.echo(line)
    if result.kept:
        click.echo("\nKept on purpose (.flaketui.toml):")
        for line in result.kept:
            click.echo(line)
    stale = [i.text for i in result.items if i.status == "stale"]
    if stale:
        click.echo("\nKeeps with nothing left to keep (remove them from .flaketui.toml):")
        for line in stale:
            click.echo(line)
    tests = sum(1 for i in result.items if i.status == "failing")
    markers = len({(i.path, i.line) for i in result.items if i.status == "failing"})
    reruns = sum(1 for i in result.items if i.status == "finding")
    unkept = plural(markers, "flaky marker") + (f" on {plural(tests, 'test')}" if tests != markers else "")
    unkept += f" and {plural(reruns, 'repository-wide rerun')}" if reruns else ""
    summary = f"flaketui check: {unkept} not kept" + (f" (budget {budget})" if budget else "")
    if result.expired:
        summary += f", {plural(len(result.expired), 'expired keep')}"
    if result.kept:
        summary += f", {len(result.kept)} kept on purpose"
    if result.items:
        click.echo()
    click.echo(f"{summary}: {'ok' if result.ok else 'FAILED'}")
    return 0 if result.ok else 1


def _gh(text: str, *, prop: bool = False) -> str:
    """Escaped for a GitHub workflow command; a property value also escapes ``:`` and ``,``."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


@click.command()
@click.argument("nodeid")
@click.option("--reason", metavar="TEXT", help="Why the marker stays (required unless --remove).")
@click.option("--until", "expires", metavar="YYYY-MM-DD", help="After this date `flaketui check` fails again.")
@click.option("--remove", is_flag=True, help="Stop keeping the marker.")
@pass_context
def keep(ctx: Context, nodeid: str, reason: str | None, expires: str | None, remove: bool) -> int:
    """Keep NODEID's flaky marker on purpose, in .flaketui.toml (commit it)."""
    if remove == (reason is not None):
        raise click.UsageError("Give --reason TEXT to keep the marker, or --remove to stop keeping it.")
    service = ctx.service()
    matches = service.tests_named(nodeid)
    if not matches:
        raise FlakeTUIError(f"No flaky-marked test has the node id {nodeid}.", "`flaketui scan` lists them.")
    for test in matches:
        triage = service.keep_marker(test, None if remove else Keep(reason or "", expires))
    if remove:
        click.echo(f"{nodeid}: no longer kept; `flaketui check` counts its marker again.")
    else:
        until = f" until {triage.keep.expires}" if triage.keep and triage.keep.expires else ""
        click.echo(f"{nodeid}: marker kept{until}: {reason}. Commit .flaketui.toml to share it.")
    return 0


@click.command()
@click.argument("nodeid")
@pass_context
def history(ctx: Context, nodeid: str) -> int:
    """A test's decisions (.flaketui.toml), verifications and flaketui commits."""
    found = ctx.service().test_history(nodeid)
    decided, verifications, commits = found.decisions, found.verifications, found.commits
    if not (decided or verifications or commits):
        click.echo(f"Nothing recorded for {nodeid}.")
        return 0
    click.echo(nodeid)
    for triage in decided:
        if triage.category is not None:
            click.echo(f"  category: {triage.category} (decided by {triage.decided_by or 'user'})")
        if triage.note:
            click.echo(f"  note: {triage.note}")
        if triage.keep is not None:
            until = f" until {triage.keep.expires}" if triage.keep.expires else ""
            click.echo(f"  kept on purpose{until}: {triage.keep.reason}")
    if verifications:
        click.echo("  verifications:")
        for v in verifications:
            head = (v.head or "no HEAD")[:10]
            renamed = f"  (as {v.nodeid})" if v.nodeid != nodeid else ""
            click.echo(f"    {v.started_at}  {v.passed}/{v.runs}  {v.mode}  {v.verdict}  {head}{renamed}")
    for c in commits:
        click.echo(f"  commit {c.sha[:12]} ({c.kind}): {c.message.splitlines()[0] if c.message else ''}")
    return 0
