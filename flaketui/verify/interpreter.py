"""Which interpreter runs the target's tests, and why that one; and the pytest options it needs.

In order: ``--python``, ``[tool.flaketui] python`` in the repository's pyproject.toml,
``$VIRTUAL_ENV``, a ``.venv/`` at the repository root, else the interpreter flaketui runs on.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flaketui.errors import FlakeTUIError
from flaketui.settings import load_settings, split_pytest_args


@dataclass(frozen=True)
class Interpreter:
    path: str
    #: Where it was found: ``--python``, ``[tool.flaketui] python``, ``$VIRTUAL_ENV``, ``.venv/``...
    source: str

    @property
    def description(self) -> str:
        return f"{self.path} (from {self.source})"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _resolve(value: str, base: Path, source: str) -> Interpreter:
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and (os.sep in value or "/" in value):
        candidate = base / candidate
    elif not candidate.is_absolute():
        found = shutil.which(value)
        if found is None:
            raise FlakeTUIError(f"No interpreter named {value!r} on PATH ({source}).", "Give a path to a python executable.")
        candidate = Path(found)
    if not candidate.is_file() or not os.access(candidate, os.X_OK):
        raise FlakeTUIError(
            f"The interpreter {candidate} ({source}) does not exist or is not executable.",
            "Point --python or [tool.flaketui] python at the project's python, e.g. .venv/bin/python.",
        )
    # Not resolved further: a venv's python is a symlink whose target would lose the venv.
    return Interpreter(str(candidate.absolute()), source)


def _configured(root: Path) -> str | None:
    return load_settings(root).python


def pytest_args(root: Path, given: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """The project's own pytest options for every pytest flaketui starts (verify, collect,
    hunts, fix proofs): ``--pytest-args`` if given, else ``[tool.flaketui] pytest-args``.
    ``PYTEST_ADDOPTS`` is pytest's own and reaches every run anyway.
    """
    return load_settings(root).pytest_args if given is None else split_pytest_args(given, "--pytest-args")


def find_interpreter(root: Path, explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Interpreter:
    environ = os.environ if environ is None else environ
    if explicit:
        return _resolve(explicit, Path.cwd(), "--python")
    configured = _configured(root)
    if configured:
        return _resolve(configured, root, "[tool.flaketui] python in pyproject.toml")
    virtual_env = environ.get("VIRTUAL_ENV")
    if virtual_env and _venv_python(Path(virtual_env)).is_file():
        return Interpreter(str(_venv_python(Path(virtual_env))), "$VIRTUAL_ENV")
    local = _venv_python(root / ".venv")
    if local.is_file():
        return Interpreter(str(local), ".venv/")
    return Interpreter(sys.executable, "flaketui's own interpreter")


def min_runs(root: Path) -> int:
    """``[tool.flaketui] min-runs``: fewer runs than this need the user's word before a commit."""
    from flaketui.models import DEFAULT_MIN_RUNS

    configured = load_settings(root).min_runs
    return DEFAULT_MIN_RUNS if configured is None else configured


#: Prints, one per line, the names given as arguments that the interpreter cannot import (a
#: module found but failing at import counts as missing: pytest.importorskip skips it too).
_MISSING_MODULES = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException:
        print(name)
"""


def missing_modules(interpreter: Interpreter, names: Sequence[str], cwd: Path) -> set[str] | None:
    """Which of ``names`` the target interpreter cannot import, as ``pytest.importorskip``
    would find; None when the interpreter could not be asked."""
    import subprocess

    if not names:
        return set()
    try:
        done = subprocess.run(
            [interpreter.path, "-c", _MISSING_MODULES, *names],
            cwd=cwd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return set(done.stdout.split()) & set(names)
