"""The independent checker that the property tests and the benchmark trust must itself catch
each kind of corruption."""

from __future__ import annotations

import pytest

from flaketui.codemod.check import removal_problems
from tests._codemod_helpers import marker_at, src

BEFORE = src("""
    import os

    import pytest
    from flaky import flaky


    # why this test is slow
    @pytest.mark.slow
    @flaky(max_runs=3)  # on the marker line: may go
    def test_a():
        assert os.sep
""")
MARKER = marker_at(BEFORE, "flaky(max_runs=3)")
GOOD = BEFORE.replace(b"from flaky import flaky\n", b"").replace(b"@flaky(max_runs=3)  # on the marker line: may go\n", b"")


def test_a_clean_removal_has_no_problems() -> None:
    assert removal_problems(BEFORE, GOOD, [MARKER]) == []


CORRUPTIONS = [
    pytest.param(GOOD.replace(b"# why this test is slow\n", b""), "comment lost", id="comment-above-dropped"),
    pytest.param(GOOD.replace(b"assert os.sep", b"assert os.sep, 1"), "tree differs", id="body-changed"),
    pytest.param(GOOD.replace(b"import os\n", b""), "os was dropped", id="used-import-dropped"),
    pytest.param(GOOD.replace(b"import os\n", b"import os\nimport sys\n"), "added or reordered", id="import-added"),
    pytest.param(GOOD.replace(b"def test_a():", b"def test_a(:"), "does not compile", id="syntax-broken"),
    pytest.param(BEFORE, "tree differs", id="nothing-removed"),
    pytest.param(GOOD.replace(b"\n", b"\r\n", 1), "changed though no marker", id="line-ending-changed"),
]


@pytest.mark.parametrize(("after", "problem"), CORRUPTIONS)
def test_each_corruption_is_reported(after: bytes, problem: str) -> None:
    problems = removal_problems(BEFORE, after, [MARKER])
    assert problems
    assert any(problem in p for p in problems), problems


def test_crlf_files_must_stay_crlf() -> None:
    before = BEFORE.replace(b"\n", b"\r\n")
    good = GOOD.replace(b"\n", b"\r\n")
    assert removal_problems(before, good, [MARKER]) == []
    assert "CRLF line endings were not kept" in removal_problems(before, GOOD, [MARKER])


def test_an_unrelated_unused_import_must_not_go() -> None:
    before = BEFORE.replace(b"import os\n", b"import os\nimport json\n")
    after = GOOD
    assert any("json was dropped" in p for p in removal_problems(before, after, [MARKER]))
