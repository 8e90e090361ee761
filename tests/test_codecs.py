"""Each model has one JSON form (``to_json``/``from_json`` in ``flaketui.models``), read back unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flaketui.models import (
    Category,
    Diagnosis,
    Evidence,
    Finding,
    FlakyTest,
    Marker,
    MarkerKind,
    MarkerScope,
    RemovedMarker,
    RunOutcome,
    RunResult,
    ScanResult,
    Skipped,
    Suggestion,
    Verdict,
    Verification,
    VerifyMode,
)
from flaketui.workflows.removal import removed_from_json, removed_to_json

MARKER = Marker(
    MarkerKind.RERUNFAILURES, MarkerScope.CLASS, "svc/t/base.py", 3, "pytest.mark.flaky(reruns=2)",
    args=(("reruns", "2"), ("condition", "sys.platform == 'win32'")), positional=("x",), end_line=4, via="flaky",
)
TEST = FlakyTest("t/test_a.py::TestC::test_x[a::b]", "svc", "svc/t/test_a.py", 8, "test_x", (MARKER,), "TestC", 12)
SCAN = ScanResult(
    "/repo", (TEST,), (Finding("config-reruns", "tox.ini", 3, "--reruns 2 reruns every failing test", "addopts"),),
    (Skipped("svc/t/broken.py", "syntax error at line 2"),),
)
EVIDENCE = Evidence(Category.TIME, "time.wall-clock", "svc/t/test_a.py", 9, 10, "reads the clock", "freeze it", 0.7, "helper now")
DIAGNOSIS = Diagnosis(TEST.nodeid, Suggestion(Category.TIME, 0.76), (EVIDENCE,), (Suggestion(Category.TIME, 0.76),))


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(MARKER, id="marker"),
        pytest.param(TEST, id="test"),
        pytest.param(SCAN.findings[0], id="finding"),
        pytest.param(SCAN.skipped[0], id="skipped"),
        pytest.param(EVIDENCE, id="evidence"),
        pytest.param(DIAGNOSIS.suggestion, id="suggestion"),
        pytest.param(DIAGNOSIS, id="diagnosis"),
        pytest.param(RemovedMarker.of(TEST, MARKER), id="removed-marker"),
    ],
)
def test_a_model_reads_back_what_it_wrote_through_json_text(model: Any) -> None:
    assert type(model).from_json(json.loads(json.dumps(model.to_json()))) == model


def test_a_scan_reads_back_with_where_and_how_it_ran_given_apart() -> None:
    data = json.loads(json.dumps(SCAN.to_json()))
    assert set(data) == {"tests", "findings", "skipped"}
    assert ScanResult.from_json(data, "/repo") == SCAN


def test_a_marker_from_a_record_written_before_the_codec_still_reads() -> None:
    old = {**MARKER.to_json(), "args": [list(pair) for pair in MARKER.args]}
    assert Marker.from_json(old) == MARKER


def test_the_record_of_a_fix_keeps_each_marker_in_its_one_json_form() -> None:
    removed = RemovedMarker.of(TEST, MARKER)
    stored = removed_to_json([removed])
    assert json.loads(stored)[0]["marker"] == MARKER.to_json()
    assert removed_from_json(stored) == [removed]
    old = json.loads(stored)
    old[0]["marker"]["args"] = [list(pair) for pair in MARKER.args]
    assert removed_from_json(json.dumps(old)) == [removed]


def test_a_verification_in_json_counts_its_runs_and_lists_what_did_not_pass() -> None:
    results = (
        RunResult(TEST.nodeid, 0, RunOutcome.PASSED, 0.1, "", 11),
        RunResult(TEST.nodeid, 1, RunOutcome.FAILED, 0.2, "assert 1 == 2", 12),
        RunResult(TEST.nodeid, 2, RunOutcome.TIMEOUT, 5.0, "timed out after 5s", 13),
    )
    verification = Verification(TEST.nodeid, "svc", VerifyMode.FORKED, 3, results, Verdict.FLAKY, "flaketui verify ...")
    data = json.loads(json.dumps(verification.to_json()))
    assert (data["runs"], data["passed"], data["failed"], data["timeouts"], data["errors"]) == (3, 1, 1, 1, 0)
    assert data["seeds"] == [11, 12, 13]
    assert [(f["index"], f["outcome"], f["message"]) for f in data["failures"]] == [
        (1, "failed", "assert 1 == 2"),
        (2, "timeout", "timed out after 5s"),
    ]
    assert (data["verdict"], data["mode"], data["rootdir"]) == ("flaky", "forked", "svc")
