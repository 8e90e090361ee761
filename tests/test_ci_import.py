"""``flaketui import``: JUnit reports of CI runs (hand-written per dialect) become per-test history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.errors import FlakeTUIError
from flaketui.junit import Attempt, NodeIdMapper, parse_report
from flaketui.service import Service

REPORTS = Path(__file__).with_name("junit_reports")

#: The repository the reports were written for: a nested project (backend) and a dotted folder.
PROJECT = {
    "tests/test_api.py": "class TestLogin:\n    def test_ok(self): pass\n\ndef test_flips(): pass\n",
    "tests/unit/test_models.py": "class TestUser:\n    class TestNested:\n        def test_name(self): pass\n",
    "tests/v1.2/test_dotted.py": "def test_in_dotted_dir(): pass\n",
    "backend/pytest.ini": "[pytest]\n",
    "backend/tests/test_db.py": "def test_backend(): pass\n",
}


def outcomes(name: str) -> list[tuple[str, str]]:
    mapper = NodeIdMapper(list(PROJECT), [".", "backend"])
    report = parse_report((REPORTS / name).read_bytes())
    return [(str(mapper.map(a).nodeid), a.outcome) for a in report.attempts]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("xunit1.xml", [
            ("tests/test_api.py::TestLogin::test_ok", "passed"),
            ("tests/test_api.py::test_flips", "failed"),
            ("tests/test_api.py::test_param[a-1]", "passed"),
            ("tests/unit/test_models.py::TestUser::TestNested::test_name", "passed"),
            ("tests/unit/test_models.py::test_skipped", "skipped"),
            ("tests/test_api.py::test_teardown", "failed"),
        ], id="xunit1-with-file"),
        pytest.param("xunit2.xml", [
            ("tests/test_api.py::TestLogin::test_ok", "passed"),
            ("tests/test_api.py::test_flips", "passed"),
            ("tests/test_api.py::test_param[a-1]", "passed"),
            ("tests/unit/test_models.py::TestUser::TestNested::test_name", "passed"),
            ("tests/v1.2/test_dotted.py::test_in_dotted_dir", "passed"),
            ("tests/test_db.py::test_backend", "passed"),
            ("tests/unit/test_models.py::test_xfail", "skipped"),
        ], id="xunit2-no-file-repo-decides-module-dotted-dir-nested-rootdir"),
        pytest.param("xunit1_testsuite_root.xml", [
            ("tests/test_api.py::test_flips", "failed"),
            ("tests/test_api.py::TestLogin::test_ok", "passed"),
        ], id="old-pytest-testsuite-root"),
        pytest.param("rerun_rows.xml", [
            ("tests/test_api.py::test_flips", "failed"),
            ("tests/test_api.py::test_flips", "passed"),
            ("tests/test_api.py::TestLogin::test_ok", "passed"),
            ("tests/test_api.py::test_param[a-1]", "passed"),
        ], id="rerun-one-row-per-attempt"),
        pytest.param("rerun_interim.xml", [
            ("tests/test_api.py::test_flips", "failed"),
            ("tests/test_api.py::test_flips", "passed"),
            ("tests/test_api.py::TestLogin::test_ok", "failed"),
            ("tests/test_api.py::TestLogin::test_ok", "failed"),
            ("tests/test_api.py::TestLogin::test_ok", "failed"),
        ], id="rerun-interim-results-before-the-final"),
        pytest.param("rerun_rows_no_failure.xml", [
            ("tests/test_api.py::test_flips", "failed"),
            ("tests/test_api.py::test_flips", "passed"),
            ("tests/test_api.py::TestLogin::test_ok", "passed"),
            ("tests/test_api.py::test_param[a-1]", "failed"),
            ("tests/test_api.py::test_param[a-1]", "failed"),
            ("tests/test_api.py::test_param[a-1]", "failed"),
        ], id="rerun-rows-without-failure-elements"),
        pytest.param("teardown_error_rows.xml", [
            ("tests/test_api.py::test_flips", "failed"),
            ("tests/test_api.py::TestLogin::test_ok", "failed"),
        ], id="a-failure-and-its-teardown-error-are-one-attempt"),
        pytest.param("prefixed.xml", [("tests/test_api.py::TestLogin::test_ok", "passed")], id="junit-prefix"),
    ],
)  # fmt: skip
def test_each_dialect_maps_to_pytest_node_ids(name: str, expected: list[tuple[str, str]]) -> None:
    assert outcomes(name) == expected


def test_the_backend_row_belongs_to_the_nested_rootdir() -> None:
    mapper = NodeIdMapper(list(PROJECT), [".", "backend"])
    found = mapper.map(Attempt("tests.test_db", "test_backend", None, "passed"))
    assert (found.rootdir, found.nodeid, found.matched) == ("backend", "tests/test_db.py::test_backend", True)


def test_an_id_no_file_matches_is_a_marked_guess() -> None:
    found = NodeIdMapper([], ["."]).map(Attempt("tests.test_gone.TestA", "test_b", None, "passed"))
    assert (found.nodeid, found.matched) == ("tests/test_gone.py::TestA::test_b", False)


@pytest.mark.parametrize("name", ["truncated.xml", "not_junit.xml"])
def test_broken_reports_raise_a_user_error(name: str) -> None:
    with pytest.raises(FlakeTUIError):
        parse_report((REPORTS / name).read_bytes())


def history_of(root: Path) -> dict[str, tuple[int, int, int]]:
    return {h.nodeid: (h.passed, h.failed, h.flips) for h in Service(root).test_histories()}


def test_import_counts_attempts_and_flips_once_per_report(make_repo, tmp_path: Path) -> None:
    root = make_repo(PROJECT)
    folder = tmp_path / "ci"
    folder.mkdir()
    for name in ("xunit1.xml", "xunit2.xml", "rerun_rows.xml"):
        shutil.copy(REPORTS / name, folder / name)
    service = Service(root)
    first = service.import_junit([folder])
    assert len(first.imported) == 3 and not first.problems
    # The same reports again, one under another name: nothing counted twice.
    shutil.copy(REPORTS / "xunit2.xml", tmp_path / "copy.xml")
    again = service.import_junit([folder, tmp_path / "copy.xml"])
    assert again.imported == () and len(again.duplicates) == 4
    history = history_of(root)
    # xunit1 (Nov 2): failed; xunit2 (Nov 3): passed; rerun rows (Nov 4): failed then passed.
    assert history["tests/test_api.py::test_flips"] == (2, 2, 3)
    assert history["tests/test_api.py::TestLogin::test_ok"] == (3, 0, 0)
    # Skips count as neither; a teardown error is a failure.
    assert "tests/unit/test_models.py::test_skipped" not in history
    assert history["tests/test_api.py::test_teardown"] == (0, 1, 0)


def test_cli_lists_tests_that_both_passed_and_failed_and_skips_bad_files(make_repo, tmp_path: Path, capsys) -> None:
    root = make_repo(PROJECT)
    args = ["-C", str(root), "import", str(REPORTS / "xunit1.xml"), str(REPORTS / "truncated.xml"),
            str(REPORTS / "rerun_interim.xml"), str(REPORTS / "not_junit.xml")]  # fmt: skip
    assert main(args) == 1  # a file was skipped
    captured = capsys.readouterr()
    assert "truncated.xml: not well-formed XML" in captured.err
    assert "not_junit.xml: not a JUnit report" in captured.err
    assert "Imported 2 reports" in captured.out
    listed = [line.split()[0] for line in captured.out.splitlines() if line.startswith("  ")]
    # The most frequent failure first: test_ok failed 3 of 4 attempts, test_flips 2 of 3.
    assert listed == ["tests/test_api.py::TestLogin::test_ok", "tests/test_api.py::test_flips"]
    assert "passed   1  failed   3" in captured.out and "passed   1  failed   2" in captured.out
    # test_teardown failed the only time it ran: broken, not a candidate.
    assert "1 test failed every time (broken, not flaky)" in captured.out


def test_cli_json_has_counts_rates_and_dates(make_repo, capsys) -> None:
    root = make_repo(PROJECT)
    assert main(["-C", str(root), "import", "--json", str(REPORTS / "xunit2.xml"), str(REPORTS / "rerun_rows.xml")]) == 0
    payload = json.loads(capsys.readouterr().out)
    flaky = next(t for t in payload["tests"] if t["nodeid"] == "tests/test_api.py::test_flips")
    assert flaky == {
        "nodeid": "tests/test_api.py::test_flips", "rootdir": ".", "passed": 2, "failed": 1, "reports": 2,
        "flips": 2, "flip_rate": 1.0, "first_seen": "2026-11-03T09:00:00.000001",
        "last_seen": "2026-11-04T09:00:00.000001", "last_failure": "AssertionError: assert 1 == 4", "flaky": True,
    }  # fmt: skip
    assert payload["skipped"] == []


def test_a_missing_path_is_reported_and_the_rest_imported(make_repo, tmp_path: Path) -> None:
    root = make_repo(PROJECT)
    summary = Service(root).import_junit([tmp_path / "nope", REPORTS / "xunit2.xml"])
    assert [p.reason for p in summary.problems] == ["no such file or folder"]
    assert len(summary.imported) == 1


def test_scan_json_lists_unmarked_candidates_from_history_only(make_repo, capsys) -> None:
    marked = {**PROJECT, "tests/test_marked.py": "import pytest\n\n@pytest.mark.flaky\ndef test_marked(): pass\n"}
    root = make_repo(marked)
    Service(root).import_junit([REPORTS / "xunit1.xml", REPORTS / "rerun_interim.xml"])
    assert main(["-C", str(root), "scan", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [t["nodeid"] for t in payload["tests"]] == ["tests/test_marked.py::test_marked"]
    by_id = {c["nodeid"]: c for c in payload["candidates"]}
    # test_teardown failed every time: broken, not a candidate.
    assert list(by_id) == ["tests/test_api.py::TestLogin::test_ok", "tests/test_api.py::test_flips"]
    history = by_id["tests/test_api.py::test_flips"]["sources"]["history"]
    assert (history["passed"], history["failed"]) == (1, 2)
    assert by_id["tests/test_api.py::test_flips"]["evidence"][0].startswith("CI history: failed 2 of 3 attempts in 2 reports")


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        pytest.param("tests/test_api.py::test_flips", ("test_flips", None, 4, 4), id="function"),
        pytest.param("tests/test_api.py::TestLogin::test_ok", ("test_ok", "TestLogin", 2, 2), id="method"),
        pytest.param("tests/test_api.py::test_param[a-1]", ("test_param", None, 7, 8), id="parametrized"),
        pytest.param("tests/test_api.py::test_gone", ("test_gone", None, 1, None), id="no-longer-there"),
    ],
)
def test_a_candidate_becomes_a_test_without_marker(nodeid: str, expected: tuple) -> None:
    from flaketui.candidates import candidate_test
    from flaketui.models.history import Candidate

    source = (PROJECT["tests/test_api.py"] + "\n\ndef test_param(a):\n    pass\n").encode()
    test = candidate_test(Candidate(".", nodeid), source)
    assert (test.name, test.class_name, test.line, test.end_line) == expected
    assert (test.path, test.markers, test.key) == ("tests/test_api.py", (), (".", nodeid))


def test_a_module_that_did_not_collect_maps_to_its_file() -> None:
    # pytest writes a collection error as classname="" name="tests.test_api" (file= in xunit1).
    mapper = NodeIdMapper(list(PROJECT), [".", "backend"])
    for file in (None, "tests/test_api.py"):
        found = mapper.map(Attempt("", "tests.test_api", file, "failed"))
        assert (found.rootdir, found.nodeid, found.matched) == (".", "tests/test_api.py", True)
