"""Discovery: every flaky-marked test of a repository, with pytest's node ids.

This package file stays import-light (a cached scan loads only ``discover.cache``); the
engine and its parsers load when a scan actually runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from flaketui.models import ScanResult


def scan_repository(
    root: Path, files: Sequence[str], *, on_progress: Callable[[int, int], None] | None = None
) -> ScanResult:
    """Scan ``files`` (repo-relative POSIX paths under ``root``) and return the models."""
    from flaketui.discover.engine import scan_repository as run

    return run(root, files, on_progress=on_progress)


__all__ = ["scan_repository"]
