"""Hunt verdicts a test's counts alone would get wrong, on real projects: a test that fails in
every serial and shuffled run and passes under xdist depends on what ran before it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flaketui.cli import main
from flaketui.models.history import HuntMode, HuntVerdict
from tests._verify_helpers import LIGHT

POLLUTED_UNLESS_SPLIT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
    "tests/__init__.py": "",
    "tests/shared.py": "REGISTRY = {}\n",
    "tests/test_a.py": """
        from tests import shared


        def test_polluter():
            shared.REGISTRY["plugin"] = object()


        def test_victim():
            assert "plugin" not in shared.REGISTRY
    """,
    "tests/test_b.py": "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n",
}
VICTIM = "tests/test_a.py::test_victim"
POLLUTER = "tests/test_a.py::test_polluter"
#: Both shuffled runs keep the polluter before the victim (they fail like pytest's order); both
#: xdist runs hand the victim out before the polluter, so no worker runs it after the polluter.
SPLIT_SEED = 11



def _hunt(root: Path, capsys: pytest.CaptureFixture[str], *, runs: int, seed: int) -> dict[str, Any]:
    """``flaketui hunt --json``'s document; exit 1: the suite it hunted is not stable."""
    assert main(["-C", str(root), "hunt", "--runs", str(runs), "--seed", str(seed), "--json"]) == 1
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document

def test_failing_every_run_but_under_xdist_is_order_dependent_with_its_polluter(
    make_repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(POLLUTED_UNLESS_SPLIT)
    payload = _hunt(root, capsys, runs=2, seed=SPLIT_SEED)
    [victim] = payload["tests"]
    assert victim["nodeid"] == VICTIM
    assert victim["modes"] == {
        "serial": {"runs": 2, "passed": 0, "failed": 2},
        "shuffled": {"runs": 2, "passed": 0, "failed": 2},
        "xdist": {"runs": 2, "passed": 2, "failed": 0},
    }
    # Not "flaky": nothing random about it, and not broken: the polluter decides.
    assert (victim["verdict"], victim["polluter"]) == ("order-dependent", POLLUTER)
    assert any(note.startswith(f"{VICTIM} failed in every serial and shuffled run and passed under xdist: it fails "
                               f"after {POLLUTER}") for note in payload["summary"]["notes"])  # fmt: skip


LATE_VICTIM_PROJECT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
    "tests/__init__.py": "",
    "tests/shared.py": "CACHE = {}\n",
    "tests/test_a.py": """
        from tests import shared


        def test_late_victim():
            assert shared.CACHE.get("user") is None, "a cached user leaked"
    """,
    "tests/test_b.py": "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n",
    "tests/test_c.py": """
        from tests import shared


        def test_polluter():
            shared.CACHE["user"] = "alice"


        def test_other():
            pass
    """,
}
LATE_VICTIM = "tests/test_a.py::test_late_victim"
LATE_POLLUTER = "tests/test_c.py::test_polluter"
#: pytest's order and the first two shuffled runs put the victim before the polluter; only the
#: third shuffled run (after the halfway point of 4 runs a mode) puts it after.
LATE_SEED = 8


def test_a_victim_first_failing_late_is_bisected_at_once_and_a_cut_hunt_keeps_its_polluter(make_repo) -> None:
    from flaketui.service import Service

    root = make_repo(LATE_VICTIM_PROJECT)
    seen: list[tuple[str, int]] = []

    def on_progress(progress) -> None:  # type: ignore[no-untyped-def]
        if progress.outcome is None:
            seen.append((progress.phase, progress.run))

    def stop() -> bool:
        # The budget runs out as the last pass starts: it is cut, the bisection before it is not.
        return ("run", 12) in seen

    report = Service(root).hunting.hunt(runs=4, seed=LATE_SEED, on_progress=on_progress, should_stop=stop)
    assert not report.complete and dict(report.runs_done) == {"serial": 4, "shuffled": 4, "xdist": 3}
    [victim] = [t for t in report.tests if t.nodeid == LATE_VICTIM]
    assert victim.mode(HuntMode.SERIAL).failed == 0 and victim.mode(HuntMode.SHUFFLED).failed == 1
    assert (victim.verdict, victim.polluter) == (HuntVerdict.ORDER_DEPENDENT, LATE_POLLUTER)
    # Bisected as soon as it failed (after the third shuffled run), not after the last pass.
    first_bisection = next(i for i, (phase, _) in enumerate(seen) if phase == "bisect")
    assert seen[first_bisection - 1] == ("run", 8) and ("run", 9) in seen[first_bisection:]


STEPS = "".join(f"\n\ndef test_step_{i}():\n    pass\n" for i in range(8))
NAMED_POLLUTERS_PROJECT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
    "tests/__init__.py": "",
    "tests/shared.py": "REGISTRY = {}\nTHEME = []\n",
    "tests/test_a.py": f"""from tests.shared import REGISTRY, THEME


def test_sets_plugin():
    REGISTRY["plugin"] = object()


def test_sets_theme():
    THEME.append("dark")
{STEPS}

def test_plugin_absent():
    assert "plugin" not in REGISTRY


def test_theme_default():
    assert THEME == []
""",
    "tests/test_b.py": "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n",
}
#: The shuffled run puts both victims before their polluters (they pass); pytest's order fails them.
NAMED_SEED = 11


def test_the_polluters_the_diagnosis_names_are_tried_before_any_bisection(
    make_repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(NAMED_POLLUTERS_PROJECT)
    payload = _hunt(root, capsys, runs=1, seed=NAMED_SEED)
    assert {t["nodeid"]: (t["verdict"], t["polluter"]) for t in payload["tests"]} == {
        "tests/test_a.py::test_plugin_absent": ("order-dependent", "tests/test_a.py::test_sets_plugin"),
        "tests/test_a.py::test_theme_default": ("order-dependent", "tests/test_a.py::test_sets_theme"),
    }
    # The victims alone, twice after each named polluter, then alone again: 6 runs, where coding
    # the 10 tests before them in the failing order takes 1 + 2 * 4 + 2 = 11.
    assert payload["summary"]["bisection_runs"] == 6


def test_a_bisection_without_a_hunt_tries_the_named_polluter_first(make_repo) -> None:
    from flaketui.service import Service

    root = make_repo(NAMED_POLLUTERS_PROJECT)
    bisection, runs = Service(root).hunting.find_polluter("tests/test_a.py::test_plugin_absent")
    assert bisection.polluter == "tests/test_a.py::test_sets_plugin"
    # pytest's order, the victim alone, after the named polluter, then alone and after it once
    # more: 5 runs, where halving the 10 tests before it takes 8.
    assert runs == 5


def test_failing_alone_too_and_passing_only_under_xdist_is_not_called_order_dependent(
    make_repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({
        "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
        "tests/test_workers.py": "import os\n\n\ndef test_needs_a_worker():\n"
                                 "    assert 'PYTEST_XDIST_WORKER' in os.environ\n\n\ndef test_other():\n    pass\n",
    })  # fmt: skip
    payload = _hunt(root, capsys, runs=1, seed=3)
    [test] = payload["tests"]
    assert (test["verdict"], test["polluter"]) == ("flaky", None)
    assert [m["failed"] for m in test["modes"].values()] == [1, 1, 0]
    assert any("it failed alone too, so xdist's workers, not the order, make it pass" in note
               for note in payload["summary"]["notes"])  # fmt: skip
