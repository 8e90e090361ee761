"""`fix --apply` on an order-dependent test: "before" among its neighbours, the polluter found by
bisection and fixed there; real pytest runs and real commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui import vcs
from flaketui.cli import main
from flaketui.fix_modes import find_polluter
from flaketui.service import Service

from tests.conftest import MakeRepo

TEST_FILE = "tests/test_debug.py"
VICTIM = f"{TEST_FILE}::test_debug_off_by_default"
FILES = {
    "src/appconf.py": "DEBUG = False\n",
    # The victim comes first: pytest's own order never shows the failure, random order does.
    TEST_FILE: (
        "import pytest\n\nimport appconf\n\n\n"
        "@pytest.mark.flaky(reruns=2)\n"
        "def test_debug_off_by_default():\n    assert appconf.DEBUG is False\n\n\n"
        "def test_unrelated():\n    assert appconf.__name__ == 'appconf'\n\n\n"
        "def test_debug_can_be_switched_on():\n    appconf.DEBUG = True\n    assert appconf.DEBUG\n"
    ),
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
}


@pytest.fixture
def project(make_repo: MakeRepo) -> Path:
    return make_repo(FILES)


def test_bisection_names_the_polluter_and_the_proposal_restores_state_there(project: Path) -> None:
    service = Service(project)
    test = service.tests_named(VICTIM)[0]
    bisection = find_polluter(service.workspace, test)
    assert bisection.polluter == f"{TEST_FILE}::test_debug_can_be_switched_on"
    assert [(p.victim, p.polluter) for p in service.hunting.polluters()] == [(VICTIM, bisection.polluter)]
    best = Service(project).propose_fixes(VICTIM).proposals[0]
    assert best.remedy == "restore.monkeypatch"
    assert b'monkeypatch.setattr(appconf, "DEBUG", True)' in best.edits[0].after


def test_commit_message_names_the_polluter_bisection_confirmed(project: Path) -> None:
    service = Service(project)
    test = service.tests_named(VICTIM)[0]
    polluter = f"{TEST_FILE}::test_debug_can_be_switched_on"
    plan = service.plan_fix(VICTIM, unverified=True)
    assert "confirmed by bisection" not in plan.message  # nothing bisected yet: the code's suggestion
    bisection = find_polluter(service.workspace, test)
    assert bisection.polluter == polluter
    message = Service(project).plan_fix(VICTIM, unverified=True).message
    assert f"Root cause: order (test order dependency; confirmed by bisection: it fails after {polluter})" in message
    assert f"fails when {polluter} ran before it and passes alone ({bisection.runs} bisection runs)" in message
    assert "Flaky-Category: order" in message


def test_order_dependent_test_gets_the_restoring_fix_not_a_marker_only_commit(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Random order puts the polluter before the victim in half the runs: 48 runs all missing it
    # has a chance of 2**-48.
    assert main(["-C", str(project), "fix", VICTIM, "--apply", "--yes", "--runs-before", "48"]) == 0
    message = vcs.commit_message(project, "HEAD")
    assert "(random-order)" in message and "fixed at 95%" in message and "restore.monkeypatch" in message
    committed = vcs.show_file(project, "HEAD", TEST_FILE) or b""
    assert b"def test_debug_can_be_switched_on(monkeypatch):" in committed
    assert b"flaky" not in committed and b"assert appconf.DEBUG is False" in committed
    assert vcs.status(project) == {}


def test_restoring_fix_that_breaks_a_test_relying_on_the_pollution_is_not_committed(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests._fix_helpers import repo_state

    files = dict(FILES)
    # test_uses_debug relies on the switch left on: restoring it in the polluter breaks it.
    files[TEST_FILE] = FILES[TEST_FILE] + "\n\ndef test_uses_debug():\n    assert appconf.DEBUG\n"
    project = make_repo(files)
    before = repo_state(project)
    assert main(["-C", str(project), "fix", VICTIM, "--apply", "--yes", "--runs-before", "48"]) == 1
    assert f"it breaks {TEST_FILE}::test_uses_debug, which passed before it" in capsys.readouterr().err
    assert repo_state(project) == before


def test_a_neighbour_failing_one_pass_after_the_fix_is_not_called_broken(make_repo: MakeRepo) -> None:
    from flaketui.fix_modes import BREAK_PASSES, broken_by_fix

    # test_flips fails its first run only (a counter beside it), as a flaky neighbour may by chance;
    # test_relies fails every run, as a test relying on the pollution does once the fix restores it.
    files = dict(FILES)
    files["tests/test_neighbours.py"] = (
        "from pathlib import Path\n\nimport pytest\n\n"
        "COUNT = Path(__file__).with_name('runs.txt')\n\n\n"
        "@pytest.mark.flaky(reruns=2)\n"
        "def test_flips():\n"
        "    runs = int(COUNT.read_text()) + 1 if COUNT.exists() else 1\n"
        "    COUNT.write_text(str(runs))\n"
        "    assert runs > 1\n\n\n"
        "def test_relies():\n    assert False\n\n\n"
        "def test_steady():\n    assert True\n"
    )
    project = make_repo(files)
    service = Service(project)
    test = service.tests_named(VICTIM)[0]
    names = {f"tests/test_neighbours.py::{name}" for name in ("test_flips", "test_relies", "test_steady")}
    broken = broken_by_fix(service.workspace, test, ["tests/test_neighbours.py"], names)
    assert broken == ["tests/test_neighbours.py::test_relies"]
    # test_relies failed every pass, so every pass ran: test_flips passed all but its first.
    assert (project / "tests" / "runs.txt").read_text() == str(BREAK_PASSES)
