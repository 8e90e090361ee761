"""The repository every workflow works on: its root, its files, where flaketui keeps state.

One ``Workspace`` per service. It opens nothing for longer than a call (the app calls the
workflows from worker threads), so it is safe to share between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui import gitjobs, vcs
from flaketui.errors import FlakeTUIError
from flaketui.settings import HISTORY_FILE

if TYPE_CHECKING:
    from flaketui.store import Store
    from flaketui.verify.interpreter import Interpreter


class Workspace:
    """A git work tree (or a plain directory) rooted at ``root``."""

    def __init__(
        self, root: str | Path, python: str | None = None, pytest_args: str | Sequence[str] | None = None
    ) -> None:
        self.root = gitjobs.find_root(Path(root))
        #: ``--python``: the interpreter that runs the target's tests, if given.
        self.python = python
        #: ``--pytest-args``, if given; :attr:`pytest_args` falls back on the setting.
        self._given_pytest_args = pytest_args

    @property
    def is_git(self) -> bool:
        return (self.root / ".git").exists()

    def state_dir(self) -> Path:
        """Where private state lives: ``<git common dir>/flaketui`` (shared by worktrees, never
        in the work tree), or ``.flaketui/`` outside git. Created on first use."""
        common = vcs.common_git_dir(self.root)
        target = common / "flaketui" if common is not None else self.root / ".flaketui"
        target.mkdir(parents=True, exist_ok=True)
        return target

    @cached_property
    def store(self) -> Store:
        """The private history (SQLite); every call on it opens and closes its own connection."""
        # Imported here: a scan or `flaketui check` never loads sqlite3.
        from flaketui.store import Store

        return Store(self.state_dir() / HISTORY_FILE)

    def has_history(self) -> bool:
        """Whether anything was ever verified, imported or hunted here: until then the history
        is empty, and reading it would only create it."""
        return (self.state_dir() / HISTORY_FILE).exists()

    def read_text(self, path: str) -> str:
        """A repo-relative file as text, for the source view (replacement chars for bad bytes)."""
        return (self.root / path).read_bytes().decode("utf-8", errors="replace")

    def read_bytes(self, path: str) -> bytes | None:
        """A repo-relative file's bytes, or None when there is no such file (the codemod's reader)."""
        target = self.root / path
        return target.read_bytes() if target.is_file() else None

    def list_files(self) -> list[str]:
        """Tracked plus untracked-not-ignored files in git, a plain walk outside it (repo-relative)."""
        if self.is_git:
            return vcs.list_files(self.root)
        from flaketui.discover.files import walk_files

        return walk_files(self.root)

    def interpreter(self) -> Interpreter:
        """The target's interpreter that runs its tests (``--python``, the config, its venv...)."""
        from flaketui.verify.interpreter import find_interpreter

        return find_interpreter(self.root, self.python)

    @property
    def pytest_args(self) -> tuple[str, ...]:
        """The project's own pytest options, which every pytest flaketui starts must get
        (verify, collect, hunts, fix proofs): ``--pytest-args``, else ``[tool.flaketui] pytest-args``."""
        from flaketui.verify.interpreter import pytest_args

        return pytest_args(self.root, self._given_pytest_args)

    @property
    def min_runs(self) -> int:
        """``[tool.flaketui] min-runs`` (10): a stable verification of fewer runs is a caution."""
        from flaketui.verify.interpreter import min_runs

        return min_runs(self.root)

    def repo_path(self, path: str) -> str:
        """A path given on the command line or by the app, as a repo-relative POSIX path."""
        candidate = Path(path)
        absolute = candidate if candidate.is_absolute() else Path.cwd() / candidate
        try:
            return absolute.resolve().relative_to(self.root).as_posix()
        except ValueError:
            # Not under the current directory's view of the repo: read it as repo-relative.
            if not candidate.is_absolute() and (self.root / candidate).exists():
                return (self.root / candidate).resolve().relative_to(self.root).as_posix()
            raise FlakeTUIError(f"{path} is not inside {self.root}.", "Give a path inside the repository.") from None
