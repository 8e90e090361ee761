"""``flaketui demo``: write taskq, a small repository full of flaky tests, and open the app on it."""

from __future__ import annotations

from pathlib import Path

import click

from flaketui.cli import context
from flaketui.cli.context import Context, pass_context


@click.command()
@click.argument("target", metavar="[DIR]", required=False, type=click.Path(file_okay=False))
@click.option("--no-open", is_flag=True, help="Only write the repository; do not open the app.")
@pass_context
def demo(ctx: Context, target: str | None, no_open: bool) -> int:
    """Write taskq, a small repository full of flaky tests, to DIR and open the app on it.

    DIR must be new or empty; without it, a fresh directory under the system temp dir is used.
    """
    import tempfile  # with shutil and the compression modules: only this command needs them

    from flaketui.demo import write_demo

    if target is None:
        # A directory named after the project, so the app's header reads taskq@main.
        location = Path(tempfile.mkdtemp(prefix="flaketui-demo-")) / "taskq"
    else:
        location = Path(ctx.directory) / target
    root = write_demo(location)
    click.echo(f"Wrote the demo repository to {root}")
    if no_open:
        click.echo(f"Open it with: flaketui -C {root}")
        return 0
    try:
        import flaketui.tui.app  # noqa: F401
    except ImportError as exc:  # a broken textual install: still show what the app would list
        from flaketui.cli.root import main

        click.echo(f"The app cannot start ({exc}); here is the scan instead.", err=True)
        return main(["-C", str(root), "scan"])
    context.open_app(Context(str(root), ctx.python, pytest_args=ctx.pytest_args).service())
    click.echo(f"The demo stays in {root}; open it again with: flaketui -C {root}")
    return 0
