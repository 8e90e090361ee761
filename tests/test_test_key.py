"""The test key and the two node-id facts every layer shares (``flaketui.models.key``)."""

from __future__ import annotations

import pytest
from flaketui.decisions import parse, render
from flaketui.models import FlakyTest, Marker, MarkerKind, MarkerScope, TestKey, Triage, repo_nodeid, selects


@pytest.mark.parametrize(
    ("rootdir", "nodeid", "expected"),
    [
        pytest.param(".", "tests/test_a.py::test_x", "tests/test_a.py::test_x", id="root"),
        pytest.param("", "tests/test_a.py::test_x", "tests/test_a.py::test_x", id="empty-is-the-root"),
        pytest.param("svc/api", "t/test_a.py::T::test_x[a/b]", "svc/api/t/test_a.py::T::test_x[a/b]", id="nested"),
    ],
)
def test_the_repo_relative_node_id(rootdir: str, nodeid: str, expected: str) -> None:
    assert repo_nodeid(rootdir, nodeid) == expected
    assert TestKey(rootdir, nodeid).repo_nodeid == expected


@pytest.mark.parametrize(
    ("argument", "nodeid", "selected"),
    [
        pytest.param("t/test_a.py::test_x", "t/test_a.py::test_x", True, id="itself"),
        pytest.param("t/test_a.py::test_x", "t/test_a.py::test_x[1-a]", True, id="its-parameters"),
        pytest.param("t/test_a.py::TestC", "t/test_a.py::TestC::test_x", True, id="its-class"),
        pytest.param("t/test_a.py", "t/test_a.py::TestC::test_x", True, id="its-module"),
        pytest.param("t", "t/test_a.py::test_x", True, id="its-directory"),
        pytest.param("t/", "t/test_a.py::test_x", True, id="a-directory-with-a-slash"),
        pytest.param("t/test_a.py::test_x", "t/test_a.py::test_xy", False, id="not-a-longer-name"),
        pytest.param("t/test_a", "t/test_a.py::test_x", False, id="not-a-file-prefix"),
        pytest.param("t/test_a.py::test_x[1]", "t/test_a.py::test_x[2]", False, id="not-another-case"),
    ],
)
def test_what_a_node_id_selects(argument: str, nodeid: str, selected: bool) -> None:
    assert selects(argument, nodeid) is selected


def test_a_key_is_the_tuple_json_and_sqlite_give_back() -> None:
    key = TestKey("svc", "t/test_a.py::test_x")
    assert key == ("svc", "t/test_a.py::test_x")
    assert {("svc", "t/test_a.py::test_x"): 1}[key] == 1


def test_a_decision_in_a_nested_rootdir_is_found_by_the_scanned_test() -> None:
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, "svc/t/test_a.py", 3, "pytest.mark.flaky")
    test = FlakyTest("t/test_a.py::test_x", "svc", "svc/t/test_a.py", 4, "test_x", (marker,))
    written = render({test.key: Triage(nodeid=test.nodeid, rootdir=test.rootdir, note="shared sandbox")})
    assert '[tests."svc/t/test_a.py::test_x"]' in written
    assert parse(written.encode())[test.key].note == "shared sandbox"
