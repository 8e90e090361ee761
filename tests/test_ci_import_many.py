"""``flaketui import`` of twenty CI reports in every dialect at once, against a history written
down first: the tests that both passed and failed, exactly, with their counts.

The reports are generated here from a table of attempts (one row per test and report), in
pytest's own shapes: xunit1 with ``file``, xunit2 without, rerun plugins' extra rows and
interim elements, errors and failures, skips and xfails, a ``<testsuite>`` root, one report
without a timestamp, one cut short, and one imported twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from flaketui.cli import main

PROJECT = {
    "tests/__init__.py": "",
    "tests/test_api.py": "class TestLogin:\n    class TestInner:\n        def test_deep(self): pass\n\n"
    "    def test_ok(self): pass\n\ndef test_stable(): pass\n\ndef test_p(x): pass\n",
    "tests/pkg/sub/test_deep.py": "def test_sub(): pass\n\ndef test_broken(): pass\n",
    "tests/v1.2/test_dotted.py": "def test_dotted(): pass\n",
    "tests/test_skips.py": "def test_sometimes_skipped(): pass\n\ndef test_xfail(): pass\n",
}

#: (module, classes, name) of each test; the node id follows from them.
TESTS = {
    "stable": ("tests/test_api.py", (), "test_stable"),
    "login": ("tests/test_api.py", ("TestLogin",), "test_ok"),
    "deep": ("tests/test_api.py", ("TestLogin", "TestInner"), "test_deep"),
    "param_dots": ("tests/test_api.py", (), "test_p[1.5-a/b]"),
    "param_colons": ("tests/test_api.py", (), "test_p[x::y]"),
    "sub": ("tests/pkg/sub/test_deep.py", (), "test_sub"),
    "broken": ("tests/pkg/sub/test_deep.py", (), "test_broken"),
    "dotted": ("tests/v1.2/test_dotted.py", (), "test_dotted"),
    "skips": ("tests/test_skips.py", (), "test_sometimes_skipped"),
    "xfail": ("tests/test_skips.py", (), "test_xfail"),
}

#: Per report, the attempts of the tests that did not simply pass once. "F" failure, "E" error,
#: "P" pass, "S" skip, "X" xfail; several letters are several rows (rerun attempts);
#: "rF" an interim failure element before the final result of one row.
SPECIAL: dict[int, dict[str, str]] = {
    1: {"login": "F"},
    2: {"sub": "FP"},  # a rerun plugin's rows: failed, then passed
    3: {"param_dots": "E"},  # a setup error
    4: {"skips": "S", "deep": "F"},
    5: {"sub": "FFP"},
    7: {"login": "E", "param_colons": "F"},
    9: {"deep": "F", "skips": "S"},
    11: {"dotted": "rF"},  # an interim <rerunFailure>, then passed
    12: {"login": "F"},
    14: {"param_colons": "F", "skips": "S"},
    16: {"dotted": "rF"},
    18: {"sub": "F"},
}
REPORTS = 20


def attempts(report: int, test: str) -> str:
    if test == "broken":
        return "E" if report % 3 == 0 else "F"
    if test == "xfail":
        return "X"
    return SPECIAL.get(report, {}).get(test, "P")


def nodeid(test: str) -> str:
    module, classes, name = TESTS[test]
    return "::".join([module, *classes, name])


def expected_counts() -> dict[str, tuple[int, int]]:
    """(passed, failed) per test over the twenty reports, from the table alone."""
    counts: dict[str, tuple[int, int]] = {}
    for test in TESTS:
        passed = failed = 0
        for report in range(REPORTS):
            for letter in attempts(report, test).replace("rF", "fP"):
                passed += letter == "P"
                failed += letter in "FEf"
        counts[nodeid(test)] = (passed, failed)
    return counts


def case_xml(report: int, test: str, with_file: bool) -> str:
    module, classes, name = TESTS[test]
    classname = ".".join([module[: -len(".py")].replace("/", "."), *classes])
    file = f" file={quoteattr(module)} line=\"3\"" if with_file else ""
    rows = []
    letters = attempts(report, test)
    if letters == "rF":
        letters = "I"  # one row: an interim failure, then the final pass
    for letter in letters:
        body = {
            "P": "",
            "F": '<failure message="assert 0">E   assert 0</failure>',
            "E": '<error message="failed on setup with &quot;RuntimeError&quot;">RuntimeError</error>',
            "S": '<skipped type="pytest.skip" message="not on this runner">skip</skipped>',
            "X": '<skipped type="pytest.xfail" message="known bug" />',
            "I": '<rerunFailure message="assert 0" type="AssertionError">E   assert 0</rerunFailure>',
        }[letter]
        rows.append(f'<testcase classname={quoteattr(classname)} name={quoteattr(name)}{file} time="0.01">{body}</testcase>')
    return "".join(rows)


def report_xml(report: int) -> str:
    with_file = report < 10  # xunit1 writes file=""; xunit2 (pytest's default since 6) does not
    cases = "".join(case_xml(report, test, with_file) for test in TESTS)
    stamp = "" if report == 19 else f' timestamp="2026-11-{report + 1:02d}T10:00:00.000000"'
    suite = f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="1" time="1.0"{stamp} hostname="ci">{cases}</testsuite>'
    # pytest >= 5.1 wraps the suite in <testsuites>; report 19 is an older pytest's bare suite.
    return '<?xml version="1.0" encoding="utf-8"?>' + (suite if report == 19 else f"<testsuites>{suite}</testsuites>")


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "ci-artifacts"
    for report in range(REPORTS):
        target = folder / f"run-{report:02d}" / "junit.xml"
        target.parent.mkdir(parents=True)
        target.write_text(report_xml(report), encoding="utf-8")
    # A job killed while writing its report: named and skipped, the others imported.
    (folder / "run-20-cut").mkdir()
    (folder / "run-20-cut" / "junit.xml").write_text(report_xml(0)[:700], encoding="utf-8")
    return folder


def test_twenty_reports_list_exactly_the_tests_that_both_passed_and_failed(
    make_repo, reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(PROJECT)
    assert main(["-C", str(root), "import", "--json", str(reports)]) == 1  # one file was skipped
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["imported"]) == REPORTS and payload["unmatched"] == []
    assert [Path(s["path"]).parent.name for s in payload["skipped"]] == ["run-20-cut"]
    counts = expected_counts()
    flaky = {nodeid: c for nodeid, c in counts.items() if c[0] and c[1]}
    assert set(flaky) == {nodeid(t) for t in ("login", "deep", "param_dots", "param_colons", "sub", "dotted")}
    found = {t["nodeid"]: (t["passed"], t["failed"]) for t in payload["tests"] if t["flaky"]}
    assert found == flaky
    # Every test is there with its counts; skips and xfails count as neither.
    assert {t["nodeid"]: (t["passed"], t["failed"]) for t in payload["tests"]} == {
        n: c for n, c in counts.items() if c != (0, 0)
    }
    assert counts[nodeid("broken")] == (0, 20) and counts[nodeid("skips")] == (17, 0)

    # The text lists the same tests with the same counts, and calls the broken one broken.
    assert main(["-C", str(root), "import", str(reports / "run-03")]) == 0
    out = capsys.readouterr().out
    assert "1 report imported before, not counted again" in out
    listed = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert {(row[0], int(row[2]), int(row[4])) for row in listed} == {(n, p, f) for n, (p, f) in flaky.items()}
    assert "1 test failed every time (broken, not flaky)." in out


def test_scan_candidates_carry_each_source_with_its_own_counts(make_repo, reports: Path, capsys) -> None:
    root = make_repo(PROJECT)
    main(["-C", str(root), "import", str(reports)])
    capsys.readouterr()
    assert main(["-C", str(root), "scan", "--json"]) == 0
    candidates = {c["nodeid"]: c for c in json.loads(capsys.readouterr().out)["candidates"]}
    counts = expected_counts()
    assert set(candidates) == {n for n, (p, f) in counts.items() if p and f}
    for nodeid_, candidate in candidates.items():
        history = candidate["sources"]["history"]
        assert (history["passed"], history["failed"]) == counts[nodeid_] and set(candidate["sources"]) == {"history"}
