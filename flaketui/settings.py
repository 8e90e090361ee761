"""flaketui's own configuration: ``[tool.flaketui]`` in the repository's pyproject.toml.

One loader, one frozen ``Settings``: the verifier reads the interpreter from it and the
commit reads its message template, so a typo is reported the same way wherever it is
read. Also the name of the team's decisions file, which the work-tree fingerprint
(``vcs``, a hot path) must know without importing the decisions module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flaketui.errors import FlakeTUIError

#: The team's shared decisions, committed at the repository root (``decisions.py`` reads it).
DECISIONS_FILE = ".flaketui.toml"


@dataclass(frozen=True)
class Settings:
    """``[tool.flaketui]``; a key left out is None."""

    #: The interpreter that runs the project's tests (relative to the repository root).
    python: str | None = None
    #: ``string.Template`` text for the fix commit's message (``fixplan.DEFAULT_TEMPLATE``).
    commit_template: str | None = None


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
    return Settings(python=_text(table, "python", pyproject), commit_template=_text(table, "commit-template", pyproject))


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
