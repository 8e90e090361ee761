"""The command line: ``flaketui`` opens the app; subcommands script the same service.

Every command imports what it needs inside its body, so ``flaketui --help`` and a cached
``flaketui scan`` never pay for libcst or textual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from flaketui import __version__
from flaketui.errors import FlakeTUIError


class _Context:
    def __init__(self, directory: str, python: str | None) -> None:
        self.directory = directory
        self.python = python

    def service(self):  # -> Service; imported lazily to keep start-up light
        from flaketui.service import Service

        return Service(self.directory, python=self.python)


pass_context = click.make_pass_decorator(_Context)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    default=".",
    metavar="PATH",
    type=click.Path(file_okay=False),
    help="Run as if flaketui was started in PATH (as git -C does).",
)
@click.option("--python", metavar="EXE", help="Interpreter that runs the target's tests (default: the project's).")
@click.version_option(__version__, prog_name="flaketui")
@click.pass_context
def cli(ctx: click.Context, directory: str, python: str | None) -> None:
    """Find, explain, verify and remove flaky pytest markers.

    Without a command, opens the app on the repository around the current directory.
    """
    ctx.obj = _Context(directory, python)
    if ctx.invoked_subcommand is None:
        _open_app(ctx.obj.service())


def _open_app(service) -> None:
    from flaketui.tui.app import FlakeTUIApp

    FlakeTUIApp(service).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check failed, 2 usage or environment error)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="flaketui", standalone_mode=False)
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
