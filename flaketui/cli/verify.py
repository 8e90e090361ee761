"""``flaketui verify``: a live progress bar per test, then the verdicts (or JSON Lines)."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import click

from flaketui.cli.context import pass_context
from flaketui.cli.output import plural
from flaketui.models import DEFAULT_MIN_RUNS, RunOutcome, Verdict, VerifyMode

if TYPE_CHECKING:
    from flaketui.cli.context import Context
    from flaketui.models import RunResult, Verification

#: ``--mode`` choices, in the order ``--help`` lists them.
MODES = tuple(str(mode) for mode in VerifyMode)
_MARKS = {
    RunOutcome.PASSED: "[green].[/]",
    RunOutcome.FAILED: "[red]F[/]",
    RunOutcome.ERROR: "[red]E[/]",
    RunOutcome.TIMEOUT: "[yellow]T[/]",
    RunOutcome.CRASHED: "[magenta]C[/]",
    RunOutcome.SKIPPED: "[dim]s[/]",
}
#: ``flaketui verify`` exit codes beyond 0 (all stable) and 1 (some not stable).
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130
_DISTINCT_FAILURES_SHOWN = 3
_VERDICT_STYLE = {
    Verdict.STABLE: "green",
    Verdict.FLAKY: "yellow",
    Verdict.BROKEN: "red",
    Verdict.ERROR: "red",
    Verdict.SKIPPED: "dim",
    Verdict.CANCELLED: "yellow",
}


class _Stop:
    """Ctrl-C sets the flag the service polls, so it kills the runs and records what ran."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def _on_interrupt(self, signum: int, frame: object) -> None:
        if self.requested:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@click.command()
@click.argument("nodeids", nargs=-1, required=True, metavar="NODEID...")
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1), help="Runs per test.")
@click.option("--mode", default="forked", show_default=True, type=click.Choice(MODES), help="How runs are isolated.")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Seconds per run; slower runs count as timeout."
)
@click.option("--fail-fast", is_flag=True, help="Stop a test's runs at its first failure.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per test (JSON Lines).")
@pass_context
def verify(
    ctx: Context, nodeids: tuple[str, ...], runs: int, mode: str, timeout: float | None, fail_fast: bool, as_json: bool
) -> int:
    """Run each NODEID --runs times with rerun plugins off and give a verdict.

    Node ids are relative to the repository root. Exit 0 when every test is stable (all
    runs passed), 3 when the others are stable but a test skips (it ran once: nothing
    verified), 1 otherwise. Ctrl-C stops at once, records what ran as cancelled, exits 130.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    service = ctx.service()
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False, soft_wrap=True)
    if not as_json:
        err.print(f"Interpreter: {escape(service.python_description())}")
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("{task.fields[marks]}"),
        console=err,
        transient=as_json,
        disable=not err.is_terminal,
    )
    # Shown from the start, one bar per test as given (repo-relative); runs report the node id
    # relative to the test's rootdir, which the given one ends with.
    tasks = {nodeid: progress.add_task(escape(nodeid), total=runs, marks="") for nodeid in dict.fromkeys(nodeids)}
    marks = dict.fromkeys(tasks, "")

    def on_run(result: RunResult) -> None:
        given = next((n for n in tasks if n == result.nodeid or n.endswith("/" + result.nodeid)), None)
        if given is None:
            return
        marks[given] += _MARKS.get(result.outcome, "?")
        progress.update(tasks[given], advance=1, marks=marks[given])

    with _Stop() as stop, progress:
        verifications = service.verify(
            list(nodeids),
            runs=runs,
            mode=VerifyMode(mode),
            timeout=timeout,
            fail_fast=fail_fast,
            on_run=on_run,
            should_stop=stop,
        )
    if as_json:
        for v in verifications:
            out.print(json.dumps(v.to_json()), markup=False, highlight=False)
    else:
        for v in verifications:
            _print_verification(out, v)
    return exit_code(verifications, interrupted=stop.requested)


def exit_code(verifications: Sequence[Verification], *, interrupted: bool = False) -> int:
    """130 interrupted; 1 when a test is not stable; 3 when the others are stable but some
    skip (nothing verified, nothing failed); 0 when every test is stable."""
    if interrupted:
        return EXIT_INTERRUPTED
    if all(v.verdict is Verdict.STABLE and v.runs == v.runs_requested for v in verifications):
        return 0
    if all(v.verdict in (Verdict.STABLE, Verdict.SKIPPED) for v in verifications):
        return EXIT_SKIPPED
    return 1


def _print_verification(out: Any, v: Verification) -> None:
    from rich.markup import escape

    style = _VERDICT_STYLE[v.verdict]
    where = "" if v.rootdir == "." else f"{v.rootdir}: "
    marks = "".join(_MARKS.get(r.outcome, "?") for r in v.results)
    out.print(f"[bold]{escape(where + v.nodeid)}[/]  [{style}]{v.verdict}[/]  {escape(v.summary)}  {marks}")
    failures = [r for r in v.results if r.outcome is not RunOutcome.PASSED]
    shown: dict[str, int] = {}  # first line of the message -> how many runs said it
    for r in failures:
        first_line = r.message.strip().splitlines()[0] if r.message.strip() else ""
        if first_line in shown:
            shown[first_line] += 1
            continue
        if len(shown) < _DISTINCT_FAILURES_SHOWN:
            shown[first_line] = 1
            out.print(f"    run {r.index + 1}: {r.outcome}: {escape(first_line)}")
    hidden = len(failures) - sum(shown.values())
    repeated = sum(shown.values()) - len(shown)
    summary = [f"{plural(repeated, 'more run')} with the same message"] if repeated else []
    summary += [f"{plural(hidden, 'more run')} with other messages"] if hidden else []
    if summary:
        out.print(f"    ({', '.join(summary)})")
    if v.verdict is Verdict.STABLE and v.runs < DEFAULT_MIN_RUNS:
        out.print(f"    only {v.runs} runs: {escape(v.few_runs_meaning)}")
    if v.note:
        out.print(f"    note: {escape(v.note)}")
    out.print(f"    reproduce: {escape(v.command)}")
