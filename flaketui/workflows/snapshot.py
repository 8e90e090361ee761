"""A snapshot of a past tree: the Python files and pytest configs of one commit (or all of
its files), exported into a temporary directory, to scan, diagnose or run the code as it was.

The fix workflow names the root cause of the code as committed (the user's uncommitted
fix would hide it); undo finds the markers a fix removed in the fix's parent; ``fix --prove``
measures the failure rate at HEAD (``VerifyWorkflow.verify_snapshot``) without touching the
user's edits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from flaketui import vcs
from flaketui.diagnose import Diagnoser
from flaketui.discover.engine import scan_repository
from flaketui.models import Diagnosis, FlakyTest
from flaketui.rootdirs import is_config_file


class TreeSnapshot:
    """``with TreeSnapshot(root, "HEAD") as past: past.tests()``; removed on exit.

    ``every_file``: export the data files too, for a snapshot whose tests will run."""

    def __init__(self, root: Path, rev: str, *, every_file: bool = False) -> None:
        self.root = root
        self.rev = rev
        self._keep = _any_file if every_file else _worth_exporting
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Self:
        self._scratch = tempfile.TemporaryDirectory(prefix="flaketui-snapshot-")
        try:
            vcs.export_tree(self.root, self.rev, self.path, self._keep)
        except BaseException:
            self._scratch.cleanup()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    @property
    def path(self) -> Path:
        if self._scratch is None:
            raise RuntimeError("A TreeSnapshot is used inside its `with` block.")
        return Path(self._scratch.name)

    def tests(self) -> tuple[FlakyTest, ...]:
        """Every flaky-marked test of the snapshot (never cached: it is scanned once)."""
        return scan_repository(self.path, vcs.list_files(self.path)).tests

    def diagnose(self, tests: Sequence[FlakyTest]) -> list[Diagnosis]:
        return Diagnoser(self.path).diagnose_many(tests)


def _worth_exporting(name: str) -> bool:
    return name.endswith(".py") or is_config_file(name)


def _any_file(name: str) -> bool:
    return True
