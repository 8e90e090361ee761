"""What every command gets: the directory (``-C``), ``--python``, ``--pytest-args``, and the service on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flaketui.gitjobs import EarlyScan
    from flaketui.service import Service


class Context:
    def __init__(
        self, directory: str, python: str | None, early: EarlyScan | None = None, pytest_args: str | None = None
    ) -> None:
        self.directory = directory
        self.python = python
        #: ``--pytest-args``: the project's own pytest options, for every pytest flaketui starts.
        self.pytest_args = pytest_args
        self._early = early

    def service(self, directory: str | None = None) -> Service:
        # Imported here: `flaketui --help` never loads the service and its workflows.
        from flaketui.service import Service

        early, self._early = self._early, None  # the launcher's early git answers serve one scan
        where = directory if directory is not None else self.directory
        return Service(where, python=self.python, early=early, pytest_args=self.pytest_args)


pass_context = click.make_pass_decorator(Context)


def open_app(service: Service) -> None:
    from flaketui.tui.app import FlakeTUIApp

    FlakeTUIApp(service).run()
