"""``flaketui scan``: every flaky-marked test as a table, or as JSON with its diagnosis."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from flaketui.cli.context import pass_context
from flaketui.cli.output import plural

if TYPE_CHECKING:
    from flaketui.cli.context import Context
    from flaketui.models import ScanResult


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print tests, findings and skipped files as JSON.")
@click.option("--no-cache", is_flag=True, help="Parse everything again instead of trusting the scan cache.")
@click.option("--collect", is_flag=True, help="Also ask pytest's collection (markers added by hooks, @flaky attributes).")
@pass_context
def scan(ctx: Context, path: str | None, as_json: bool, no_cache: bool, collect: bool) -> int:
    """List every test that carries a flaky marker (in PATH, a directory or a file, if given).

    Node ids are pytest's, relative to each test's rootdir; repository-wide reruns (config,
    CI) and suspects (non-strict xfail, home-made retries) are listed as findings.
    """
    directory = path
    if path is not None and not os.path.isdir(path):
        # A file is scanned with the project around it, as pytest collects a file with its rootdir.
        inside = os.path.realpath(path).startswith(os.path.join(os.path.realpath(ctx.directory), ""))
        directory = None if inside else os.path.dirname(path) or "."
    service = ctx.service(directory)
    if as_json:
        click.echo(service.scan_json(use_cache=not no_cache, collect=collect, under=path))
        return 0
    _print_scan(service.scan(use_cache=not no_cache, collect=collect, under=path))
    return 0


def _print_scan(result: ScanResult) -> None:
    """An aligned plain-text table: node ids in full (what people copy), markers shortened.

    Formatted by hand: rich's table layout costs more than the whole scan on a large repository.
    """
    rows = [
        (
            test.nodeid if test.rootdir == "." else f"{test.rootdir}: {test.nodeid}",
            str(test.marker.kind),
            str(test.marker.scope),
            _shorten(" ".join(test.marker.source.split()), 40) + (f"  [{test.marker.condition}]" if test.marker.condition else ""),
            f"{test.marker.path}:{test.marker.line}",
        )
        for test in result.tests
    ]
    if rows:
        header = ("test", "kind", "scope", "marker", "at")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in [header, *rows]
        ]
        click.echo(click.style(lines[0], bold=True))
        click.echo("\n".join(lines[1:]))
    cached = " (cached)" if result.from_cache else ""
    click.echo(f"{plural(len(result.tests), 'flaky-marked test')} in {plural(result.files_scanned, 'Python file')}{cached}")
    if result.findings:
        click.echo(click.style("\nFindings", bold=True))
        for finding in result.findings:
            click.echo(f"  {finding.path}:{finding.line}  [{finding.kind}] {finding.message}")
    not_here = [test for test in result.tests if test.skipped_here]
    if not_here:
        click.echo(click.style("\nNot collected by pytest here", bold=True))
        for test in not_here:
            click.echo(f"  {test.nodeid}: {test.skipped_here}")
    if result.skipped:
        click.echo(click.style("\nSkipped", bold=True))
        for skipped in result.skipped:
            click.echo(f"  {skipped.path}: {skipped.reason}")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
