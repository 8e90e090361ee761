"""Evidence from verification runs: the exception, where failures end, the pattern of modes."""

from __future__ import annotations

from pathlib import Path

from flaketui.diagnose import Diagnoser
from flaketui.diagnose.runs import failures, run_evidence
from flaketui.models import Category, RunOutcome, RunResult, Verdict, Verification, VerifyMode
from tests._diagnose_helpers import make_test, source


def verification(mode: VerifyMode, outcomes: list[tuple[RunOutcome, str]], started: str = "2026-01-01T10:00:00") -> Verification:
    results = tuple(RunResult("tests/test_x.py::test_it", i, outcome, 0.1, message)
                    for i, (outcome, message) in enumerate(outcomes))
    verdict = Verdict.FLAKY if any(o is not RunOutcome.PASSED for o, _ in outcomes) else Verdict.STABLE
    return Verification("tests/test_x.py::test_it", ".", mode, len(results), results, verdict, "pytest", started_at=started)


PASS = (RunOutcome.PASSED, "")


def test_network_errors_in_failed_runs_say_external_and_where_they_end() -> None:
    refused = (RunOutcome.FAILED, "ConnectionRefusedError: [Errno 111] Connection refused\n"
                                  "  at src/app/client.py:42 <- tests/test_x.py:7")
    [evidence] = run_evidence([verification(VerifyMode.FORKED, [refused, PASS, refused, PASS])])
    assert evidence.category is Category.EXTERNAL and evidence.source == "runs"
    assert (evidence.path, evidence.line) == ("src/app/client.py", 42)
    assert evidence.where == "from 2 failed runs of 4"
    assert "2 of 2 raised ConnectionRefusedError" in evidence.message


def test_the_same_elements_in_another_order_say_data() -> None:
    swapped = (RunOutcome.FAILED, "AssertionError: assert 'send_email [billing, urgent]' == 'send_email [urgent, billing]'")
    [evidence] = run_evidence([verification(VerifyMode.FRESH_PROCESS, [swapped, PASS])])
    assert evidence.category is Category.DATA


def test_failing_only_in_random_order_says_order() -> None:
    failed = (RunOutcome.FAILED, "AssertionError: assert ['csv'] == []\n  at tests/test_x.py:12")
    runs = [verification(VerifyMode.RANDOM_ORDER, [failed, PASS, failed], "2026-01-02T10:00:00"),
            verification(VerifyMode.FORKED, [PASS] * 10)]
    evidence = run_evidence(runs)
    assert {e.rule for e in evidence} == {"run.failure", "run.order-only"}
    order = next(e for e in evidence if e.rule == "run.order-only")
    assert order.category is Category.ORDER and "10 runs in forked passed" in order.message


def test_failing_only_under_xdist_against_its_own_serial_baseline_says_fixture() -> None:
    """A parallel verification compares itself with serial runs and says so in its note: that
    baseline counts as the ordinary runs that passed."""
    from dataclasses import replace

    clash = (RunOutcome.FAILED, "AssertionError: assert ['withdrawal,5'] == ['deposit,10']\n  at tests/test_x.py:17")
    parallel = replace(verification(VerifyMode.PARALLEL, [clash, PASS, clash] + [PASS] * 7),
                       note="parallel (2 xdist workers) 8/10 passed, unlike serial (forked) 10/10")
    evidence = run_evidence([parallel])
    xdist = next(e for e in evidence if e.rule == "run.parallel-only")
    assert xdist.category is Category.FIXTURE and "10 runs in forked passed" in xdist.message
    failing_serial = replace(parallel, note="parallel (2 xdist workers) 8/10 passed, the same as serial (forked) 8/10")
    assert "run.parallel-only" not in {e.rule for e in run_evidence([failing_serial])}


def test_a_test_that_never_failed_says_no_run_evidence_exists() -> None:
    [never] = run_evidence([])
    assert "no run evidence" in never.message and never.weight == 0
    [stable] = run_evidence([verification(VerifyMode.FORKED, [PASS] * 10)])
    assert "none of 10 runs" in stable.message and stable.weight == 0


def test_frames_are_made_repository_relative_for_a_nested_rootdir() -> None:
    failed = (RunOutcome.FAILED, "AssertionError: assert 1 == 2\n  at tests/test_x.py:3")
    [failure] = failures([verification(VerifyMode.FORKED, [failed])], rootdir="services/api")
    assert failure.frames == (("services/api/tests/test_x.py", 3),)


def test_run_evidence_joins_the_code_evidence_and_can_decide(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(source("""
        from app import client

        def test_it():
            assert client.fetch() == 1
        """))
    diagnoser = Diagnoser(tmp_path)
    test = make_test("tests/test_x.py", "test_it")
    assert diagnoser.diagnose(test).suggestion.category is Category.UNKNOWN
    refused = (RunOutcome.FAILED, "ConnectionRefusedError: [Errno 111] Connection refused\n  at tests/test_x.py:4")
    diagnosis = diagnoser.diagnose(test, [verification(VerifyMode.FORKED, [refused] * 3 + [PASS])])
    assert diagnosis.suggestion.category is Category.EXTERNAL
    assert diagnosis.fix_at == ("tests/test_x.py", 4)
    assert [e.source for e in diagnosis.evidence] == ["runs"]


CLIENT = '''
import pathlib

COUNTER = pathlib.Path(__file__).with_name("calls.txt")


def fetch():
    calls = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(calls))
    if calls == 2:
        raise ConnectionRefusedError(111, "Connection refused")
    return 1
'''


def test_a_real_verification_records_where_failures_end_and_explains_them(tmp_path: Path) -> None:
    from flaketui.service import Service
    from tests._verify_helpers import project

    root = project(tmp_path / "p", {
        "client.py": CLIENT,
        "test_fetch.py": "from client import fetch\n\n\ndef test_fetch():\n    assert fetch() == 1\n",
    })
    [v] = Service(root).verify(["test_fetch.py::test_fetch"], runs=3)
    failed = [r for r in v.results if r.outcome is not RunOutcome.PASSED]
    assert len(failed) == 1
    assert failed[0].message.endswith("\n  at client.py:11 <- test_fetch.py:5")
    test = make_test("test_fetch.py", "test_fetch")
    diagnosis = Diagnoser(root).diagnose(test, [v])
    assert diagnosis.suggestion.category is Category.EXTERNAL
    assert diagnosis.fix_at == ("client.py", 11)
    assert diagnosis.evidence[0].where == "from 1 failed run of 3"


def test_explain_json_after_verify_carries_the_runs_and_the_line(tmp_path: Path, capsys) -> None:
    import json

    from flaketui.cli import main
    from tests._verify_helpers import project

    root = project(tmp_path / "p", {
        "client.py": CLIENT,
        "test_fetch.py": "import pytest\nfrom client import fetch\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_fetch():\n"
                         "    assert fetch() == 1\n",
    })
    nodeid = "test_fetch.py::test_fetch"
    assert main(["-C", str(root), "explain", nodeid, "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert [e["message"] for e in before["evidence"] if e["source"] == "runs"] == [
        "no verification has run this test yet: no run evidence exists"]
    main(["-C", str(root), "verify", nodeid, "--runs", "3"])
    capsys.readouterr()
    assert main(["-C", str(root), "explain", nodeid, "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["suggestion"]["category"] == "external"
    assert after["suggestion"]["fix_at"] == {"path": "client.py", "line": 11}
    [runs] = [e for e in after["evidence"] if e["source"] == "runs"]
    assert runs["where"] == "from 1 failed run of 3" and "ConnectionRefusedError" in runs["message"]
    assert (runs["path"], runs["line"]) == ("client.py", 11)


def test_rows_and_scan_json_read_the_runs_once_a_verification_exists(tmp_path: Path, capsys) -> None:
    import json

    from flaketui.cli import main
    from flaketui.service import Service
    from tests._verify_helpers import project

    root = project(tmp_path / "p", {
        "client.py": CLIENT,
        "test_fetch.py": "import pytest\nfrom client import fetch\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_fetch():\n"
                         "    assert fetch() == 1\n",
    })
    service = Service(root)
    [test] = service.scan().tests
    # Never verified: the row shows the code's answer, with no note about runs cluttering it.
    assert service.diagnose(test).suggestion.category is Category.UNKNOWN
    assert main(["-C", str(root), "scan", "--json"]) == 0
    [before] = json.loads(capsys.readouterr().out)["tests"]
    assert before["suggestion"]["category"] == "unknown"
    service.verify([test], runs=3)
    row = service.diagnose(test)
    assert row.suggestion.category is Category.EXTERNAL and row.fix_at == ("client.py", 11)
    # The same tree, new runs: scan --json must not reprint its answer from before them.
    assert main(["-C", str(root), "scan", "--json"]) == 0
    [after] = json.loads(capsys.readouterr().out)["tests"]
    assert after["suggestion"]["category"] == "external"
