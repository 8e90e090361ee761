"""The command line: ``flaketui`` opens the app; subcommands script the same service.

One module per command group: ``scan``, ``explain``, ``verify`` (its live view too), ``fix``
(fix and undo), ``record`` (keep, history, audit, check), ``history`` (import, hunt) and
``demo``; ``root`` holds the group, the table of commands (each module loads when its command
runs) and ``main``. Like the app, the CLI calls the service facade and the models only.
"""

from __future__ import annotations

from flaketui.cli.root import cli, main

__all__ = ["cli", "main"]
