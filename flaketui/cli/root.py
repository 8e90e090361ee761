"""The ``flaketui`` group, its global options and ``main``, the entry point."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from flaketui import __version__
from flaketui.cli import context
from flaketui.errors import FlakeTUIError

if TYPE_CHECKING:
    from flaketui.gitjobs import EarlyScan


#: Each command, and the module of ``flaketui.cli`` and the name it is defined under. A run
#: imports only the command it runs (and what that one needs): ``flaketui scan`` never loads
#: fix proposals, hunting or the verifier's live view. ``--help`` lists them all.
COMMANDS = {
    "audit": "record:audit",
    "check": "record:check",
    "demo": "demo:demo",
    "explain": "explain:explain",
    "fix": "fix:fix",
    "history": "record:history",
    "hunt": "history:hunt",
    "import": "history:import_reports",
    "keep": "record:keep",
    "scan": "scan:scan",
    "undo": "fix:undo",
    "verify": "verify:verify",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, name = where.partition(":")
        command = getattr(importlib.import_module(f"flaketui.cli.{module}"), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    default=".",
    metavar="PATH",
    type=click.Path(file_okay=False),
    help="Run as if flaketui was started in PATH (as git -C does).",
)
@click.option("--python", metavar="EXE", help="Interpreter that runs the target's tests (default: the project's).")
@click.option(
    "--pytest-args",
    metavar="ARGS",
    help="The project's own pytest options for every pytest flaketui starts, e.g. \"--runslow -p xdist\" "
    "(default: [tool.flaketui] pytest-args; PYTEST_ADDOPTS applies too).",
)
@click.version_option(__version__, prog_name="flaketui")
@click.pass_context
def cli(ctx: click.Context, directory: str, python: str | None, pytest_args: str | None) -> None:
    """Find, explain, verify and remove flaky pytest markers.

    Without a command, opens the app on the repository around the current directory.
    """
    # main(early=...) hands the launcher's early scan over as the root object.
    ctx.obj = context.Context(directory, python, early=ctx.obj, pytest_args=pytest_args)
    if ctx.invoked_subcommand is None:
        context.open_app(ctx.obj.service())


def main(argv: Sequence[str] | None = None, *, early: EarlyScan | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check failed, 2 usage or environment error).

    ``early``: git's answers the launcher (``flaketui.launch``) started for this command's scan.
    """
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="flaketui", standalone_mode=False, obj=early
        )
    except FlakeTUIError as exc:
        click.echo(f"flaketui: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code == 1 else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
