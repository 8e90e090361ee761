"""The codemod on what the real scan reports: every marker of a repository using every form is
removed cleanly one at a time, and with all of them gone the test files still run under pytest."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from flaketui.codemod import remove_markers
from flaketui.codemod.check import removal_problems
from flaketui.models import Marker
from flaketui.service import Service

FILES: dict[str, str | bytes] = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        testpaths = ["tests"]
    """,
    "tests/test_decorators.py": """
        import sys

        import pytest
        from flaky import flaky

        retry = pytest.mark.flaky(reruns=2)


        # a comment that belongs to the test
        @pytest.mark.flaky(reruns=3, reruns_delay=0)  # goes with the marker
        def test_rerunfailures():
            assert True


        @flaky(max_runs=3, min_passes=1)
        def test_flaky_package():
            assert True


        @retry
        def test_alias():
            assert True


        @pytest.mark.flaky(
            reruns=2,
            condition=sys.platform != "nowhere",
        )
        @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.flaky(reruns=1)), 3])
        def test_params(x):
            assert x


        class TestGroup:
            pytestmark = [pytest.mark.flaky(reruns=1)]

            def test_one(self):
                assert True


        @pytest.mark.flaky
        class TestDecorated:
            def test_two(self):
                assert True
    """,
    "tests/test_module_mark.py": b"import pytest\r\n\r\npytestmark = [pytest.mark.flaky(reruns=2), pytest.mark.filterwarnings('ignore')]\r\n\r\n\r\ndef test_crlf():\r\n    assert True\r\n",
}


def _markers_by_file(root: Path) -> dict[str, list[Marker]]:
    scan = Service(root).scan(use_cache=False)
    found: dict[str, dict[tuple[int, str], Marker]] = defaultdict(dict)
    for test in scan.tests:
        for marker in test.markers:
            found[marker.path][(marker.line, marker.source)] = marker
    return {path: list(markers.values()) for path, markers in found.items()}


def test_each_scanned_marker_comes_off_cleanly(make_repo) -> None:
    root = make_repo(FILES)
    by_file = _markers_by_file(root)
    assert sum(len(m) for m in by_file.values()) >= 8
    for path, markers in by_file.items():
        before = (root / path).read_bytes()
        for marker in markers:
            removal = remove_markers(before, [marker], path=path)
            assert removal.failure is None, (marker, removal.failure)
            assert removal.after is not None
            assert removal_problems(before, removal.after, [marker]) == [], marker


def test_with_every_marker_gone_the_tests_still_pass(make_repo) -> None:
    root = make_repo(FILES)
    for path, markers in _markers_by_file(root).items():
        before = (root / path).read_bytes()
        removal = remove_markers(before, markers, path=path)
        assert removal.after is not None, removal.failure
        assert b"flaky" not in removal.after.replace(b"test_flaky_package", b"")
        (root / path).write_bytes(removal.after)
    crlf = (root / "tests/test_module_mark.py").read_bytes()
    assert crlf.count(b"\r\n") == 7 and b"\n" not in crlf.replace(b"\r\n", b"")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 passed" in run.stdout
    assert Service(root).scan(use_cache=False).tests == ()
