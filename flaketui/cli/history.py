"""``flaketui import``: CI history from JUnit reports, listed the way a flaky hunt lists tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from flaketui.cli.context import Context, pass_context
from flaketui.cli.output import plural
from flaketui.models import repo_nodeid

if TYPE_CHECKING:
    from flaketui.models.history import ImportSummary, TestHistory


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="PATH...")
@click.option("--json", "as_json", is_flag=True, help="Print the import and every test's history as JSON.")
@pass_context
def import_reports(ctx: Context, paths: tuple[str, ...], as_json: bool) -> int:
    """Import JUnit XML reports (files or folders of them), one per CI run, as history.

    Lists the tests that both passed and failed in the history (flaky candidates) with their
    counts. A report imported before counts once; a file that is not a complete report is
    named and skipped. Exit 0, or 1 when a file was skipped.
    """
    service = ctx.service()
    summary = service.import_junit(paths)
    histories = service.test_histories()
    candidates = [h for h in histories if h.is_candidate]
    broken = [h for h in histories if h.failed and not h.passed]
    if as_json:
        click.echo(json.dumps(_import_json(summary, histories), indent=2))
        return 1 if summary.problems else 0
    for problem in summary.problems:
        click.echo(f"skipped {problem.path}: {problem.reason}", err=True)
    click.echo(
        f"Imported {plural(len(summary.imported), 'report')} ({plural(summary.testcases, 'test result')})"
        + (f"; {plural(len(summary.duplicates), 'report')} imported before, not counted again" if summary.duplicates else "")
        + "."
    )
    if summary.unmatched:
        click.echo(f"{plural(len(summary.unmatched), 'test id')} matched no file here; their node ids are a guess.")
    if not candidates:
        click.echo("No test both passed and failed in the history.")
    else:
        click.echo(f"{plural(len(candidates), 'test')} both passed and failed:")
        width = max(len(repo_nodeid(h.rootdir, h.nodeid)) for h in candidates)
        for h in sorted(candidates, key=lambda h: (-h.failed / h.attempts, -h.attempts, h.nodeid)):
            click.echo(
                f"  {repo_nodeid(h.rootdir, h.nodeid):<{width}}  passed {h.passed:>3}  failed {h.failed:>3}"
                f"  flip rate {h.flip_rate:4.0%}  seen {h.first_seen[:10]}..{h.last_seen[:10]}"
            )
    if broken:
        click.echo(f"{plural(len(broken), 'test')} failed every time (broken, not flaky).")
    return 1 if summary.problems else 0


def _import_json(summary: ImportSummary, histories: list[TestHistory]) -> dict[str, Any]:
    return {
        "imported": list(summary.imported),
        "duplicates": list(summary.duplicates),
        "skipped": [{"path": p.path, "reason": p.reason} for p in summary.problems],
        "unmatched": list(summary.unmatched),
        "tests": [
            {
                "nodeid": h.nodeid,
                "rootdir": h.rootdir,
                "passed": h.passed,
                "failed": h.failed,
                "reports": h.reports,
                "flips": h.flips,
                "flip_rate": round(h.flip_rate, 4),
                "first_seen": h.first_seen,
                "last_seen": h.last_seen,
                "last_failure": h.last_failure,
                "flaky": h.is_candidate,
            }
            for h in histories
        ],
    }
