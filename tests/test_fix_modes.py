"""Where ``fix --apply`` measures "before" when the diagnosis' mode sees nothing, and which
proposal it tries first when the failure showed in another mode (real repositories, the
proposals' real modes; the measuring itself is given as a table, one verification per mode)."""

from __future__ import annotations

import pytest
from flaketui import fix_modes
from flaketui.models import Category, FlakyTest, RunOutcome, RunResult, Verdict, Verification, VerifyMode
from flaketui.remedies import Proposal
from flaketui.workflows.workspace import Workspace

from tests.conftest import MakeRepo

ONE = "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_a():\n    assert True\n"
TWO = ONE + "\n\ndef test_b():\n    assert True\n"
CASES = ONE.replace("@pytest.mark.flaky(reruns=2)\n", "@pytest.mark.flaky(reruns=2)\n@pytest.mark.parametrize('x', [1, 2])\n").replace(
    "def test_a():", "def test_a(x):")


def _test(nodeid: str) -> FlakyTest:
    return FlakyTest(nodeid=nodeid, rootdir=".", path="tests/test_x.py", line=5, name="test_a", markers=())


@pytest.mark.parametrize(("source", "nodeid", "expected"), [
    pytest.param(ONE, "tests/test_x.py::test_a", [VerifyMode.FRESH_PROCESS], id="alone"),
    pytest.param(TWO, "tests/test_x.py::test_a",
                 [VerifyMode.RANDOM_ORDER, VerifyMode.FRESH_PROCESS, VerifyMode.PARALLEL], id="a-neighbour"),
    pytest.param(CASES, "tests/test_x.py::test_a[1]", [VerifyMode.FRESH_PROCESS, VerifyMode.PARALLEL], id="its-own-cases"),
])
def test_further_modes_include_xdist_where_tests_may_run_at_once(make_repo: MakeRepo, source, nodeid, expected):
    root = make_repo({"tests/test_x.py": source})
    assert fix_modes.further_modes(Workspace(root), _test(nodeid), VerifyMode.FORKED) == expected


def _verification(mode: VerifyMode, failed: int) -> Verification:
    results = tuple(RunResult("tests/test_x.py::test_a", i, RunOutcome.FAILED if i < failed else RunOutcome.PASSED)
                    for i in range(4))  # fmt: skip
    return Verification(nodeid="tests/test_x.py::test_a", rootdir=".", mode=mode, runs_requested=4, results=results,
                        verdict=Verdict.FLAKY if failed else Verdict.STABLE, command="pytest")  # fmt: skip


def test_before_is_the_first_mode_that_fails(make_repo: MakeRepo):
    root = make_repo({"tests/test_x.py": TWO})
    fails_in = {VerifyMode.PARALLEL: 2}
    asked: list[VerifyMode] = []

    def measure(mode: VerifyMode) -> Verification:
        asked.append(mode)
        return _verification(mode, fails_in.get(mode, 0))

    further = fix_modes.further_modes(Workspace(root), _test("tests/test_x.py::test_a"), VerifyMode.FORKED)
    mode, found = fix_modes.measure_before(measure, VerifyMode.FORKED, further, lambda _text: None)
    assert mode is VerifyMode.PARALLEL and found.passed == 2
    assert asked == [VerifyMode.FORKED, VerifyMode.RANDOM_ORDER, VerifyMode.FRESH_PROCESS, VerifyMode.PARALLEL]


def _proposal(category: Category, remedy: str) -> Proposal:
    return Proposal(category, remedy, remedy, "")


def test_the_remedy_of_the_mode_that_failed_is_tried_first():
    poll = _proposal(Category.ASYNC, "wait.event")
    folder = _proposal(Category.FIXTURE, "isolate.mkdtemp")
    seed = _proposal(Category.DATA, "seed.local")
    assert fix_modes.first_for_mode([poll, seed, folder], 0, VerifyMode.PARALLEL) == [folder, poll, seed]
    assert fix_modes.first_for_mode([poll, seed, folder], 0, VerifyMode.FORKED) == [poll, seed, folder]
    # --proposal N: the ones before the user's choice stay where they are.
    assert fix_modes.first_for_mode([poll, seed, folder], 1, VerifyMode.PARALLEL) == [poll, folder, seed]
