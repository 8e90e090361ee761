"""``flaketui explain``: a test's source with the suspicious lines, the evidence, the suggestion."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from flaketui.cli.context import pass_context

if TYPE_CHECKING:
    from flaketui.cli.context import Context
    from flaketui.models import Explanation


@click.command()
@click.argument("nodeid")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@pass_context
def explain(ctx: Context, nodeid: str, as_json: bool) -> int:
    """Why NODEID is flaky: its source with the suspicious lines, each with the category,
    the reason and the usual fix, then the suggested root cause.

    NODEID is what pytest prints (tests/test_x.py::TestC::test_y[param]); a path relative
    to the current directory works too.
    """
    service = ctx.service()
    explanation = service.explain(nodeid)
    if as_json:
        click.echo(json.dumps(service.explanation_json(explanation), indent=2))
        return 0
    _print_explanation(explanation)
    return 0


def _print_explanation(explanation: Explanation) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.syntax import Syntax

    console = Console(highlight=False)
    console.print(f"[bold]{escape(explanation.nodeid)}[/bold]")
    for excerpt in explanation.excerpts:
        console.print(f"\n[dim]{escape(excerpt.path)}[/dim]")
        for number, (start, end) in enumerate(excerpt.spans):
            if number:
                console.print("[dim]     ⋮[/dim]")
            console.print(
                Syntax(
                    excerpt.text,
                    "python",
                    line_numbers=True,
                    line_range=(start, end),
                    highlight_lines=set(excerpt.flagged),
                    theme="ansi_dark",
                )
            )
    diagnosis = explanation.diagnosis
    code = [e for e in diagnosis.evidence if e.source not in {"runs", "history"}]
    runs = [e for e in diagnosis.evidence if e.source == "runs"]
    history = [e for e in diagnosis.evidence if e.source == "history"]
    sections = (("Evidence from the code", code), (_runs_title(runs), runs), ("Evidence from the test's history", history))
    for title, items in sections:
        if items:
            console.print(f"\n[bold]{escape(title)}[/bold]")
        for item in items:
            place = f"[bold]{escape(item.path)}:{item.line}[/bold]  " if item.path else ""
            console.print(f"  {place}[cyan]{item.category}[/cyan]  {escape(item.rule)}  [dim]({escape(item.where)})[/dim]",
                          soft_wrap=True)
            console.print(f"      {escape(item.message)}", soft_wrap=True)
            console.print(f"      [green]fix:[/green] {escape(item.fix)}", soft_wrap=True)
    suggestion = diagnosis.suggestion
    if suggestion.category == "unknown":
        console.print(
            "\n[bold]Suggestion:[/bold] unknown: the code shows no likely cause; verify it to learn more.", soft_wrap=True
        )
    else:
        console.print(
            f"\n[bold]Suggestion:[/bold] {suggestion.category} ({suggestion.category.label}), "
            f"confidence {suggestion.confidence:.0%}",
            soft_wrap=True,
        )
        if diagnosis.fix_at is not None:
            console.print(f"[bold]Fix at:[/bold] {escape(diagnosis.fix_at[0])}:{diagnosis.fix_at[1]}", soft_wrap=True)
    ranked = [f"{s.category} {s.confidence:.0%}" for s in diagnosis.ranking if s.confidence > 0]
    if len(ranked) > 1:
        console.print(f"[dim]ranking: {', '.join(ranked)}[/dim]", soft_wrap=True)


def _runs_title(runs: list[Any]) -> str:  # -> "Evidence from 6 failed runs of 10"
    where = runs[0].where if runs else ""
    return f"Evidence {where}" if where.startswith("from ") else "Evidence from runs"
