"""Several order-dependent tests: one bisection finds every culprit in runs they share."""

from __future__ import annotations

import json

import pytest

from flaketui.cli import main
from flaketui.service import Service
from tests._hunt_helpers import MANY_CULPRITS, MANY_VICTIMS_PROJECT

#: The shuffled run puts the victims' module first (they pass); pytest's order fails them all.
SEED = 3


def test_three_victims_of_two_polluters_are_bisected_together(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(MANY_VICTIMS_PROJECT)
    assert main(["-C", str(root), "hunt", "--runs", "1", "--seed", str(SEED), "--json"]) == 1
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert {t["nodeid"]: (t["verdict"], t["polluter"]) for t in payload["tests"]} == {
        victim: ("order-dependent", polluter) for victim, polluter in MANY_CULPRITS.items()
    }
    for test in payload["tests"]:
        assert test["modes"]["serial"] == {"runs": 1, "passed": 0, "failed": 1}
        assert test["modes"]["shuffled"] == {"runs": 1, "passed": 1, "failed": 0}
        assert (test["runs"], test["passed"] + test["failed"]) == (3, 3)
    # The diagnosis names each victim's polluter (another module's test that fills what it
    # reads): they are tried first, so the shared runs take 6 (7 unnamed), where one victim at
    # a time takes 5.
    assert payload["summary"]["bisection_runs"] == 6
    assert "bisecting for the polluter of 3 order-dependent tests at once" in captured.err
    assert {(p.victim, p.polluter) for p in Service(root).hunting.polluters()} == set(MANY_CULPRITS.items())


def test_the_shared_runs_get_the_projects_pytest_args(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    # The polluters leak only with the project's --leak option, from [tool.flaketui] pytest-args
    # (without it a fixture clears what they leave): a bisection run without it would see every
    # victim pass and confirm no polluter.
    leaky = {
        **MANY_VICTIMS_PROJECT,
        "pyproject.toml": '[tool.flaketui]\npytest-args = "--leak"\n',
        "conftest.py": """
            import pytest

            from tests import shared


            def pytest_addoption(parser):
                parser.addoption("--leak", action="store_true")


            @pytest.fixture(autouse=True)
            def contained(request):
                yield
                if not request.config.getoption("--leak"):
                    shared.STATE.clear()
                    shared.CONFIG.clear()
        """,
    }
    root = make_repo(leaky)
    assert main(["-C", str(root), "hunt", "--runs", "1", "--seed", str(SEED), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert {t["nodeid"]: t["polluter"] for t in payload["tests"]} == MANY_CULPRITS
    assert payload["summary"]["bisection_runs"] == 7
