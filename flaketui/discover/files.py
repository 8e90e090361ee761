"""Which files a scan reads: the list outside git (a plain walk that skips what every Python
project ignores), and what makes a Python file worth reading at all.

Light on purpose: the service starts ``git grep`` with these patterns before it imports
the parsers, so git reads the repository while Python loads.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Words a file must contain for a marker, a suspect retry or a rerun to be written in it.
FLAKY_WORDS = (b"flak", b"rerun", b"retr", b"intermittent", b"backoff", b"xfail")
#: The Python files a scan must read, as extended regular expressions over bytes: those that
#: mention flakiness, and those holding bytes outside printable ASCII, the only ones that
#: may be binary or not UTF-8 (reported as skipped). Any other file can only receive a
#: marker through an import, which ``FileSearch.naming`` (``discover.search``) finds.
READ_PATTERNS = (*FLAKY_WORDS, b"[\x80-\xff]", b"[\x01-\x08\x0e-\x1f]")


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

