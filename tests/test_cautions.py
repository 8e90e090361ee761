"""What a stable verification does not prove: a marker for another platform, and few runs."""

from __future__ import annotations

import pytest

from flaketui.cautions import cautions, few_runs_caution, platform_caution, platforms_named
from flaketui.models import FlakyTest, Marker, MarkerKind, MarkerScope, RunOutcome, RunResult, Verdict, Verification, VerifyMode


def marked(condition: str | None) -> FlakyTest:
    args = (("reruns", "3"),) + ((("condition", condition),) if condition else ())
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, "tests/test_a.py", 3, "pytest.mark.flaky", args=args)
    return FlakyTest(nodeid="tests/test_a.py::test_a", rootdir=".", path="tests/test_a.py", line=4, name="test_a", markers=(marker,))


def verified(runs: int, verdict: Verdict = Verdict.STABLE) -> Verification:
    results = tuple(RunResult("tests/test_a.py::test_a", i, RunOutcome.PASSED) for i in range(runs))
    return Verification("tests/test_a.py::test_a", ".", VerifyMode.FORKED, runs, results, verdict, "")


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        pytest.param("WINDOWS", {"win32"}, id="a-constant"),
        pytest.param("IS_MACOS", {"darwin"}, id="a-prefixed-constant"),
        pytest.param("sys.platform == 'win32'", {"win32"}, id="sys-platform"),
        pytest.param('sys.platform.startswith("darwin")', {"darwin"}, id="startswith"),
        pytest.param("platform.system() == 'Linux'", {"linux"}, id="platform-system"),
        pytest.param("os.name == 'nt'", {"win32"}, id="os-name"),
        pytest.param("sys.version_info >= (3, 12)", set(), id="not-a-platform"),
        pytest.param("WINDOW_SIZE > 3", set(), id="window-is-not-windows"),
    ],
)
def test_the_platforms_a_condition_names(condition: str, named: set[str]) -> None:
    assert platforms_named(condition) == named


def test_a_marker_for_another_platform_is_a_caution_and_one_for_this_platform_is_not() -> None:
    caution = platform_caution(marked("WINDOWS"), here="linux")
    assert caution is not None
    assert "condition=WINDOWS" in caution and "on Linux prove nothing about Windows" in caution
    assert platform_caution(marked("sys.platform == 'linux'"), here="linux") is None
    assert platform_caution(marked(None), here="linux") is None
    assert platform_caution(marked("sys.version_info >= (3, 12)"), here="darwin") is None


def test_fewer_runs_than_the_minimum_say_what_they_mean() -> None:
    caution = few_runs_caution(verified(3), min_runs=10)
    assert caution is not None
    assert "3 runs, fewer than the 10" in caution
    assert "3/3 passes still allow a failure rate of 63% at 95%" in caution
    assert "fails one run in five passes 3 in a row 51% of the time" in caution
    assert few_runs_caution(verified(10), min_runs=10) is None
    assert few_runs_caution(verified(3), min_runs=3) is None


def test_cautions_gather_both_for_every_test() -> None:
    test = marked("MACOS")
    found = cautions([test], {test.key: verified(2)}, min_runs=10)
    assert len(found) == 2
