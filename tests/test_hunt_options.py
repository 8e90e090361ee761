"""The project's own pytest options (``--pytest-args``, ``[tool.flaketui] pytest-args``) reach
every pytest a hunt starts: its passes and its bisection runs. Here the polluter leaks only
when the project's ``--leak`` option is given, so a bisection run without it would pass."""

from __future__ import annotations

import json

import pytest

from flaketui.cli import main
from flaketui.service import Service
from tests._verify_helpers import LIGHT

LEAK_PROJECT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
    "conftest.py": "def pytest_addoption(parser):\n    parser.addoption('--leak', action='store_true')\n",
    "tests/__init__.py": "",
    "tests/shared.py": "STATE = []\n",
    "tests/test_a.py": """
        from tests import shared


        def test_polluter(request):
            if request.config.getoption("--leak"):
                shared.STATE.append("leak")


        def test_other():
            pass
    """,
    "tests/test_b.py": """
        from tests import shared


        def test_victim():
            assert not shared.STATE, "state leaked"
    """,
}
VICTIM = "tests/test_b.py::test_victim"
POLLUTER = "tests/test_a.py::test_polluter"
#: The shuffled run and the xdist run both put the victim before the polluter.
SEED = 3


def test_pytest_args_reach_the_hunts_passes_and_its_bisection(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(LEAK_PROJECT)
    assert main(["-C", str(root), "hunt", "--runs", "1", "--seed", str(SEED), "--pytest-args", "--leak", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    (victim,) = payload["tests"]
    assert (victim["nodeid"], victim["verdict"], victim["polluter"]) == (VICTIM, "order-dependent", POLLUTER)
    # Alone (passes), after the polluter the diagnosis names (fails), then alone and after the
    # polluter again (twice: one run a mode could be chance): each with --leak, or the polluter
    # would leak nothing.
    assert payload["summary"]["bisection_runs"] == 6


def test_pyproject_pytest_args_reach_a_bisection_without_a_hunt(make_repo) -> None:
    configured = make_repo({**LEAK_PROJECT, "pyproject.toml": '[tool.flaketui]\npytest-args = "--leak"\n'})
    bisection, runs = Service(configured).hunting.find_polluter(VICTIM)
    # Pytest's order once, alone, after the named polluter, then once more alone and after it.
    assert (bisection.polluter, runs) == (POLLUTER, 5)
    # Without the option nothing leaks: the victim passes in pytest's order, nothing to bisect.
    plain = make_repo(LEAK_PROJECT)
    bisection, runs = Service(plain).hunting.find_polluter(VICTIM)
    assert bisection.polluter is None and "did not fail in pytest's order" in bisection.reason and runs == 1
