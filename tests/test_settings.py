"""``[tool.flaketui]``: one loader, one frozen Settings, and a clear message for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui.errors import FlakeTUIError
from flaketui.settings import Settings, load_settings


def test_without_a_pyproject_every_setting_is_unset(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == Settings()


def test_the_table_is_read_into_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.flaketui]\npython = ".venv/bin/python"\ncommit-template = "fix: $nodeid"\n'
    )
    assert load_settings(tmp_path) == Settings(python=".venv/bin/python", commit_template="fix: $nodeid")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("[tool.flaketui\n", "is not valid TOML", id="bad-toml"),
        pytest.param("[tool]\nflaketui = 3\n", "is not a table", id="not-a-table"),
        pytest.param("[tool.flaketui]\npython = 3\n", "python in", id="python-not-a-string"),
        pytest.param("[tool.flaketui]\ncommit-template = ['a']\n", "commit-template in", id="template-not-a-string"),
    ],
)
def test_a_bad_table_is_a_user_error_with_a_hint(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(FlakeTUIError) as caught:
        load_settings(tmp_path)
    assert says in str(caught.value)
    assert caught.value.hint


def test_pytest_args_and_min_runs_are_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.flaketui]\npytest-args = "--runslow -o \'a=b c\'"\nmin-runs = 20\n')
    assert load_settings(tmp_path) == Settings(pytest_args=("--runslow", "-o", "a=b c"), min_runs=20)
    (tmp_path / "pyproject.toml").write_text("[tool.flaketui]\nmin-runs = 0\n")
    with pytest.raises(FlakeTUIError, match="min-runs must be a whole number"):
        load_settings(tmp_path)
