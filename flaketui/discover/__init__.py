"""Discovery: every flaky-marked test of a repository, with pytest's node ids.

This package file stays import-light (a cached scan loads only ``discover.cache``); the
engine and its parsers load when a scan actually runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

#: typing.TYPE_CHECKING without loading typing: the launcher imports this package before git starts.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from flaketui.discover.files import FileSearch
    from flaketui.models import ScanResult


def scan_repository(
    root: Path,
    files: Sequence[str],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    search: FileSearch | None = None,
) -> ScanResult:
    """Scan ``files`` (repo-relative POSIX paths under ``root``) and return the models.

    ``search`` says which files hold what without Python reading them (``git grep``); it
    must search exactly ``files``. Without it every Python file is read.
    """
    from flaketui.discover.engine import scan_repository as run

    return run(root, files, on_progress=on_progress, search=search)


__all__ = ["scan_repository"]
