"""What several commands print alike: counts, diffs, one progress line per test, git's output."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # a scan prints no runs: it never builds the run models
    from flaketui.models import RunResult

_RUN_MARKS = {"passed": ".", "failed": "F", "error": "E", "timeout": "T", "crashed": "C"}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class RunDots:
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


def echo_diff(diff: str) -> None:
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff.splitlines():
        header = line.startswith(("+++", "---"))
        click.secho(line, fg=None if header else colours.get(line[:1]), bold=header)


def echo_git(line: str) -> None:
    click.echo(f"  git: {line}", err=True)
