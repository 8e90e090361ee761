"""flaketui's own configuration: ``[tool.flaketui]`` in the repository's pyproject.toml.

One loader, one frozen ``Settings``: the verifier reads the interpreter, the pytest options
and the runs a commit needs from it, the commit its message template, so a typo is reported
the same way wherever it is read. Also the name of the team's decisions file, which the
work-tree fingerprint (``vcs``, a hot path) must know without importing the decisions module,
and of the private history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flaketui.errors import FlakeTUIError

#: The team's shared decisions, committed at the repository root (``decisions.py`` reads it).
DECISIONS_FILE = ".flaketui.toml"
#: The private history (``store.py``), in the state directory: a scan that finds none need
#: not load sqlite3 to know there is no history to show.
HISTORY_FILE = "history.sqlite3"


@dataclass(frozen=True)
class Settings:
    """``[tool.flaketui]``; a key left out is None."""

    #: The interpreter that runs the project's tests (relative to the repository root).
    python: str | None = None
    #: ``string.Template`` text for the fix commit's message (``fixplan.DEFAULT_TEMPLATE``).
    commit_template: str | None = None
    #: The project's own options for every pytest flaketui starts (``--pytest-args`` overrides).
    pytest_args: tuple[str, ...] = ()
    #: Runs a stable verification needs before a commit without asking (``models.DEFAULT_MIN_RUNS``).
    min_runs: int | None = None


def load_settings(root: Path) -> Settings:
    """The repository's ``[tool.flaketui]`` table; ``Settings()`` without pyproject.toml or the table."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Settings()
    import tomllib  # only for repositories that have the file

    try:
        document = tomllib.loads(pyproject.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FlakeTUIError(f"{pyproject} is not valid TOML: {exc}", "Fix its syntax, then try again.") from exc
    table = document.get("tool", {}).get("flaketui", {})
    if not isinstance(table, dict):
        raise FlakeTUIError(f"[tool.flaketui] in {pyproject} is not a table.", "Write it as a [tool.flaketui] section.")
    raw_args = table.get("pytest-args")
    return Settings(
        python=_text(table, "python", pyproject),
        commit_template=_text(table, "commit-template", pyproject),
        pytest_args=() if raw_args is None else split_pytest_args(raw_args, "[tool.flaketui] pytest-args in pyproject.toml"),
        min_runs=_runs(table.get("min-runs")),
    )


def split_pytest_args(given: object, source: str) -> tuple[str, ...]:
    """pytest options as a string a shell would split (``"--runslow -o xfail_strict=true"``)
    or a list taken as it is; ``source`` names where they were written, for the error."""
    if isinstance(given, str):
        import shlex

        try:
            return tuple(shlex.split(given))
        except ValueError as exc:
            raise FlakeTUIError(f"{source} does not parse: {exc}.", 'Quote it as a shell would: "--runslow -o key=value".') from exc
    if isinstance(given, Sequence) and all(isinstance(a, str) for a in given):
        return tuple(given)
    raise FlakeTUIError(f"{source} must be a string or a list of strings.", 'Write pytest-args = "--runslow".')


def _runs(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FlakeTUIError(
            f"[tool.flaketui] min-runs must be a whole number of runs, at least 1, not {value!r}.", "Write min-runs = 10."
        )
    return value


def _text(table: dict[str, object], key: str, pyproject: Path) -> str | None:
    value = table.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FlakeTUIError(
            f"[tool.flaketui] {key} in {pyproject} must be a string, not {type(value).__name__}.",
            f'Write it in quotes: {key} = "...".',
        )
    return value
