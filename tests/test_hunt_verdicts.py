"""Hunt verdicts a test's counts alone would get wrong, on real projects: a test that fails in
every serial and shuffled run and passes under xdist depends on what ran before it."""

from __future__ import annotations

import json

import pytest

from flaketui.cli import main
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


def test_failing_every_run_but_under_xdist_is_order_dependent_with_its_polluter(
    make_repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(POLLUTED_UNLESS_SPLIT)
    assert main(["-C", str(root), "hunt", "--runs", "2", "--seed", str(SPLIT_SEED), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
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
