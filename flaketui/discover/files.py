"""The file list outside git: a plain walk that skips what every Python project ignores."""

from __future__ import annotations

import os
from pathlib import Path

#: Directories no one wants scanned: VCS data, caches, environments (pytest's own norecursedirs
#: decides about build/ and dist/, as a project may configure it).
_SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", "__pycache__", "node_modules", ".eggs", ".flaketui", ".idea", ".vscode",
    }
)


def walk_files(root: Path) -> list[str]:
    """Repo-relative POSIX paths of every file under ``root``, minus ignored directories and
    virtual environments (a directory holding ``pyvenv.cfg``)."""
    found: list[str] = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(
            d
            for d in subdirectories
            if d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
        )
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        found.extend(prefix + name for name in sorted(names))
    return found
