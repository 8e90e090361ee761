"""``flaketui import``: CI history from JUnit reports; ``flaketui hunt``: the flaky tests nobody
marked, found by running the suite serially, shuffled and under xdist."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from flaketui.cli.context import pass_context
from flaketui.cli.output import plural
from flaketui.models import repo_nodeid

if TYPE_CHECKING:
    from flaketui.cli.context import Context
    from flaketui.models.history import HuntProgress, HuntReport, ImportSummary, TestHistory


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


@click.command("hunt")
@click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="[PATHS]...")
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1), help="Whole-suite runs per mode.")
@click.option("--budget", "budget", default=15.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              metavar="MINUTES", help="Stop after this long and report what was measured.")  # fmt: skip
@click.option("--resume", is_flag=True, help="Continue the last hunt the budget or a cancel cut short.")
@click.option("--pytest-args", metavar="ARGS", help='The project\'s pytest options, e.g. "--runslow" (else [tool.flaketui] pytest-args).')
@click.option("--seed", type=int, help="Seed every shuffle and hash seed, to repeat a hunt exactly.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="A test running longer counts as hung and fails (default 60; less once it hung).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout (progress goes to stderr).")
@pass_context
def hunt(ctx: Context, paths: tuple[str, ...], runs: int, budget: float, resume: bool, pytest_args: str | None,
         seed: int | None, timeout: float | None, as_json: bool) -> int:  # fmt: skip
    """Find flaky tests nobody marked: run the suite (or PATHS) --runs times in each mode.

    Modes: serial (pytest's order), shuffled (a recorded seed per run) and xdist (2 workers, when
    the target's environment has pytest-xdist); each run is a fresh interpreter with a fresh hash
    seed and rerun plugins off. Every test whose outcome differed is reported with k/N per mode
    and a verdict (flaky, order-dependent, parallel-unsafe; broken when it always failed), and
    the polluter of each order-dependent test is found by bisection. Ctrl-C stops at once and
    keeps what ran. Exit 0 when the suite is stable, 1 when it is not or the hunt was cut short.
    """
    from flaketui.cli.verify import _Stop
    from flaketui.hunting import report_json

    service = ctx.service()
    view = _HuntProgressView()
    with _Stop() as stop:
        report = service.hunting.hunt(
            paths, runs=runs, budget_minutes=budget, resume=resume, pytest_args=pytest_args, seed=seed,
            timeout=timeout, on_progress=view.update, should_stop=stop,
        )  # fmt: skip
    view.close()
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2))
    else:
        _print_hunt(report)
    # A hunt cut short has not measured the suite: it says nothing about its stability.
    return 0 if report.stable and report.complete else 1


class _HuntProgressView:
    """Progress on stderr: one line per pass (rewritten in place on a terminal), and each test
    as soon as it fails for the first time."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.reported: set[str] = set()
        self.last_line = ""

    def update(self, progress: HuntProgress) -> None:
        if progress.outcome is not None and progress.outcome.outcome == "failed":
            if progress.outcome.nodeid not in self.reported:
                self.reported.add(progress.outcome.nodeid)
                self._line(f"failed: {progress.outcome.nodeid} ({progress.mode} run {progress.run})", keep=True)
        if progress.phase == "bisect":
            line = f"bisecting for the polluter of {progress.mode}: run {progress.run} ({progress.suite_size} tests)"
        else:
            size = f"/{progress.suite_size}" if progress.suite_size else ""
            eta = f", about {_duration(progress.eta)} left" if progress.eta is not None else ""
            line = f"hunt: run {progress.run}/{progress.runs} ({progress.mode}) {progress.tests_done}{size} tests{eta}"
        if progress.outcome is None or self.tty:
            self._line(line, keep=not self.tty)

    def _line(self, text: str, *, keep: bool) -> None:
        if self.tty:
            click.echo("\r\033[K" + text, err=True, nl=keep)
        elif keep and text != self.last_line:
            click.echo(text, err=True)
        self.last_line = text

    def close(self) -> None:
        if self.tty:
            click.echo("\r\033[K", err=True, nl=False)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _print_hunt(report: HuntReport) -> None:
    done = ", ".join(f"{mode} {count}" for mode, count in report.runs_done)
    click.echo(f"Hunted {report.suite_size} tests: runs {done} ({_duration(report.seconds)}).")
    for note in report.notes:
        click.echo(f"  note: {note}")
    if not report.tests:
        click.echo("Every test passed every run.")
    width = max((len(repo_nodeid(report.rootdir, t.nodeid)) for t in report.tests), default=0)
    for test in report.tests:
        modes = "  ".join(f"{m} {c.failed}/{c.runs}" for m, c in test.modes if c.runs)
        click.echo(f"  {repo_nodeid(report.rootdir, test.nodeid):<{width}}  {test.verdict:<15}  failed {modes}")
        if test.polluter:
            click.echo(f"    polluted by {repo_nodeid(report.rootdir, test.polluter)} (confirmed by bisection)")
    parallel = {None: "xdist did not run", True: "yes", False: "no"}[report.serial_equals_parallel]
    click.echo(
        f"Stable: {'yes' if report.stable else 'no'} (serial = parallel: {parallel}; "
        f"all runs identical: {'yes' if report.identical_runs else 'no'})"
        + ("" if report.complete else "; cut short, flaketui hunt --resume continues it")
    )
