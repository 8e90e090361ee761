"""One marker on a module covers many tests: ``check`` and the audit count markers and tests
apart, and list the tests under their marker instead of the marker once a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.cli import main
from tests.conftest import MakeRepo

MODULE_MARKER = """\
import pytest

pytestmark = pytest.mark.flaky(reruns=2)


def test_a():
    pass


def test_b():
    pass


def test_c():
    pass
"""
FUNCTION_MARKER = """\
import pytest


@pytest.mark.flaky(reruns=3)
def test_net():
    pass
"""


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    return make_repo({"tests/test_api.py": MODULE_MARKER, "tests/test_net.py": FUNCTION_MARKER})


def test_check_counts_markers_and_tests_and_lists_a_module_marker_once(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(repo), "check"]) == 1
    assert capsys.readouterr().out == (
        "tests/test_api.py:3: 3 tests (pytestmark: pytest.mark.flaky(reruns=2)): tests/test_api.py::test_a, "
        "tests/test_api.py::test_b, tests/test_api.py::test_c\n"
        "tests/test_net.py:4: tests/test_net.py::test_net (@pytest.mark.flaky(reruns=3))\n"
        "\n"
        "flaketui check: 2 flaky markers on 4 tests not kept: FAILED\n"
    )


def test_the_audit_groups_tests_under_their_marker(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(repo), "audit"]) == 0
    out = capsys.readouterr().out
    assert "- Total flaky tests: 4 under 2 markers\n" in out
    assert "| 3 tests under `pytestmark: pytest.mark.flaky(reruns=2)`: test_a, test_b, test_c | tests/test_api.py:3 |" in out
    assert "| 3 tests under `pytestmark: pytest.mark.flaky(reruns=2)`: test_a, test_b, test_c | unknown (0%) |" in out
    assert out.count("`tests/test_api.py::test_a`") == 1  # in the fix plan's list only
    assert "| `tests/test_net.py::test_net` | tests/test_net.py:5 |" in out
