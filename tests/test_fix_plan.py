"""The pure parts of a fix: which tests a node id covers, when a shared marker is refused
(``workflows.removal``), the diff and the message (``workflows.commit_text``)."""

from __future__ import annotations

import pytest

from flaketui.workflows import commit_text, removal
from flaketui.workflows.commit_text import RootCause
from flaketui.models import (
    Category,
    DecidedBy,
    Diagnosis,
    Evidence,
    FlakyTest,
    Marker,
    MarkerKind,
    MarkerScope,
    Suggestion,
    Triage,
)
from tests._fix_helpers import verification_of_tree
from tests.conftest import MakeRepo

PATH = "tests/test_x.py"
CLASS_MARKER = Marker(MarkerKind.RERUNFAILURES, MarkerScope.CLASS, PATH, 3, "@pytest.mark.flaky(reruns=2)")
MODULE_MARKER = Marker(MarkerKind.FLAKY, MarkerScope.MODULE, PATH, 1, "pytestmark = [pytest.mark.flaky]")


def _test(name: str, *markers: Marker, cls: str | None = None, rootdir: str = ".", path: str = PATH) -> FlakyTest:
    own = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, path, 10, "@flaky")
    nodeid = f"{path}::{cls}::{name}" if cls else f"{path}::{name}"
    return FlakyTest(nodeid, rootdir, path, 11, name.split("[")[0], markers or (own,), class_name=cls)


CLASS_TESTS = [_test("test_a", CLASS_MARKER, cls="TestC"), _test("test_b", CLASS_MARKER, cls="TestC")]
LONE = _test("test_lone")
PARAMS = [_test("test_p[1]"), _test("test_p[2]")]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(f"{PATH}::TestC::test_a", [CLASS_TESTS[0]], id="one-test"),
        pytest.param(f"{PATH}::TestC", CLASS_TESTS, id="class"),
        pytest.param(PATH, [*CLASS_TESTS, LONE, *PARAMS], id="module"),
        pytest.param(f"{PATH}::test_p", PARAMS, id="all-params"),
        pytest.param(f"{PATH}::test_p[2]", [PARAMS[1]], id="one-param"),
        pytest.param(f"{PATH}::test_lo", [], id="prefix-is-not-a-match"),
        pytest.param("tests/test_other.py", [], id="other-file"),
    ],
)
def test_select(target: str, expected: list[FlakyTest]) -> None:
    assert removal.select(target, [*CLASS_TESTS, LONE, *PARAMS]) == expected


def test_select_accepts_repo_relative_ids_under_a_nested_rootdir() -> None:
    nested = _test("test_n", rootdir="pkg", path="pkg/tests/test_n.py")
    nested = FlakyTest("tests/test_n.py::test_n", "pkg", "pkg/tests/test_n.py", 3, "test_n", nested.markers)
    assert removal.select("pkg/tests/test_n.py::test_n", [nested]) == [nested]
    assert removal.select("tests/test_n.py::test_n", [nested]) == [nested]


def test_one_test_under_a_class_marker_is_refused_with_the_class_id() -> None:
    refusal = removal.shared_marker_refusal([CLASS_TESTS[0]], [*CLASS_TESTS, LONE])
    assert refusal is not None
    assert f"also covers 1 other test(s): {PATH}::TestC::test_b" in refusal
    assert f"Give `{PATH}::TestC` to remove it for all 2 tests" in refusal


def test_one_test_under_a_module_marker_is_refused_with_the_module_path() -> None:
    tests = [_test("test_a", MODULE_MARKER), _test("test_b", MODULE_MARKER)]
    refusal = removal.shared_marker_refusal(tests[:1], tests)
    assert refusal is not None and f"Give `{PATH}` to remove it" in refusal


@pytest.mark.parametrize(
    "selected",
    [
        pytest.param(CLASS_TESTS, id="whole-class"),
        pytest.param([LONE], id="own-decorator"),
        pytest.param(PARAMS, id="every-param-case"),
    ],
)
def test_markers_covered_entirely_are_allowed(selected: list[FlakyTest]) -> None:
    assert removal.shared_marker_refusal(selected, [*CLASS_TESTS, LONE, *PARAMS]) is None


def test_one_case_of_a_parametrized_test_under_its_decorator_is_refused() -> None:
    refusal = removal.shared_marker_refusal(PARAMS[:1], PARAMS)
    assert refusal is not None and f"Give `{PATH}::test_p`" in refusal


def test_alias_decorator_used_by_many_is_removed_per_test() -> None:
    alias = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, "tests/helpers.py", 2, "@flaky", via="flaky")
    a, b = _test("test_a", alias), _test("test_b", alias)
    assert removal.shared_marker_refusal([a], [a, b]) is None
    assert removal.markers_by_file([a]) == {PATH: [alias]}


def test_class_marker_from_another_file_is_refused() -> None:
    base = Marker(MarkerKind.RERUNFAILURES, MarkerScope.CLASS, "tests/base.py", 4, "@pytest.mark.flaky")
    refusal = removal.foreign_marker_refusal([_test("test_a", base, cls="TestSub")])
    assert refusal is not None and "tests/base.py:4" in refusal


def test_unified_diff_marks_a_missing_final_newline() -> None:
    diff = commit_text.unified_diff("a.py", b"x = 1\n", b"x = 2")
    assert diff.splitlines() == [
        "--- a/a.py",
        "+++ b/a.py",
        "@@ -1 +1 @@",
        "-x = 1",
        "+x = 2",
        "\\ No newline at end of file",
    ]


def test_message_names_cause_evidence_verification_and_what_was_left_out(make_repo: MakeRepo) -> None:
    root = make_repo({PATH: "x = 1\n"})
    verification = verification_of_tree(root, LONE)
    evidence = Evidence(Category.TIME, "sleep", PATH, 12, 12, "fixed sleep of 0.1s", "wait on an event", 0.9)
    text = commit_text.message(
        [LONE],
        LONE.nodeid,
        RootCause(Category.TIME, "decided by user", (evidence,)),
        {LONE.key: verification},
        ["src/x.py"],
        unverified=False,
    )
    assert text == (
        f"test: remove flaky marker from {PATH}::test_lone\n"
        "\n"
        "Root cause: time (time and dates; decided by user)\n"
        f"  {PATH}:12: fixed sleep of 0.1s\n"
        "Verification: 10/10 passed, forked, failure rate < 26% at 95% (Python 3.11.7, pytest 8.4.2).\n"
        "Verified with uncommitted changes in: src/x.py\n"
        "\n"
        "Flaky-Category: time\n"
        "Flaky-Verified: 10/10 forked\n"
        f"Flaky-Target: {PATH}::test_lone\n"
    )
    assert commit_text.trailers(text) == {
        "Flaky-Category": "time",
        "Flaky-Verified": "10/10 forked",
        "Flaky-Target": f"{PATH}::test_lone",
    }


def test_run_evidence_without_a_line_names_the_runs_it_comes_from(make_repo: MakeRepo) -> None:
    root = make_repo({PATH: "x = 1\n"})
    pattern = Evidence(Category.ORDER, "run.order-only", "", 0, 0, "fails only among its neighbours in random order",
                       "find the polluter", 0.85, "from 3 failed runs of 20", source="runs")
    text = commit_text.message([LONE], LONE.nodeid, RootCause(Category.ORDER, "decided by user", (pattern,)),
                               {LONE.key: verification_of_tree(root, LONE)}, [], unverified=False)
    assert "  from 3 failed runs of 20: fails only among its neighbours in random order\n" in text
    assert ":0:" not in text


def test_unverified_message_says_so() -> None:
    text = commit_text.message(
        [LONE], LONE.nodeid, RootCause(Category.UNKNOWN, "no decision or diagnosis"), {}, ["x"], unverified=True
    )
    assert "Not verified" in text and "Flaky-Verified: no" in text and "uncommitted" not in text


def test_undo_message_names_the_commit_and_is_not_a_fix() -> None:
    text = commit_text.undo_message("a" * 40, "test: remove flaky marker from t", "t")
    assert "aaaaaaaaaaaa" in text.splitlines()[2]
    assert commit_text.CATEGORY_TRAILER not in commit_text.trailers(text)
    assert commit_text.trailers(text)[commit_text.UNDOES_TRAILER] == "a" * 40


def test_empty_placeholders_leave_no_blank_lines(make_repo: MakeRepo) -> None:
    root = make_repo({PATH: "x = 1\n"})
    text = commit_text.message(
        [LONE],
        LONE.nodeid,
        RootCause(Category.UNKNOWN, "no decision or diagnosis"),
        {LONE.key: verification_of_tree(root, LONE)},
        [],
        unverified=False,
    )
    assert text.split("\n\n")[1] == (
        "Root cause: unknown (no decision or diagnosis)\n"
        "Verification: 10/10 passed, forked, failure rate < 26% at 95% (Python 3.11.7, pytest 8.4.2)."
    )


def _diagnosis(category: Category, confidence: float, *evidence: Evidence) -> Diagnosis:
    return Diagnosis(LONE.nodeid, Suggestion(category, confidence), evidence)


SLEEP = Evidence(Category.ASYNC, "sleep", PATH, 7, 7, "fixed asyncio.sleep", "await an event", 0.5)
CLOCK = Evidence(Category.TIME, "now", PATH, 9, 9, "datetime.now()", "inject a clock", 0.9)


@pytest.mark.parametrize(
    ("chosen", "decisions", "diagnoses", "expected"),
    [
        pytest.param(
            Category.RACE, [Triage(LONE.nodeid, category=Category.TIME)], [], (Category.RACE, "chosen when committing"),
            id="chosen-wins",
        ),
        pytest.param(
            None,
            [Triage(LONE.nodeid, category=Category.ORDER, decided_by=DecidedBy.USER)],
            [_diagnosis(Category.TIME, 0.9)],
            (Category.ORDER, "decided by user"),
            id="decision-beats-suggestion",
        ),
        pytest.param(
            None,
            [Triage(LONE.nodeid, note="only on CI")],
            [_diagnosis(Category.ASYNC, 0.3), _diagnosis(Category.TIME, 0.8)],
            (Category.TIME, "suggested, 80% confidence"),
            id="best-suggestion-of-several-tests",
        ),
        pytest.param(
            None,
            [],
            [_diagnosis(Category.UNKNOWN, 0.0)],
            (Category.UNKNOWN, "the code shows no likely cause"),
            id="diagnosed-unknown",
        ),
        pytest.param(None, [], [], (Category.UNKNOWN, "no decision or diagnosis"), id="nothing-known"),
    ],
)
def test_choose_root_cause(
    chosen: Category | None, decisions: list[Triage], diagnoses: list[Diagnosis], expected: tuple[Category, str]
) -> None:
    cause = commit_text.choose_root_cause(chosen, decisions, diagnoses)
    assert (cause.category, cause.source) == expected


def test_evidence_for_the_named_cause_comes_first() -> None:
    decisions, diagnoses = [Triage(LONE.nodeid, note="n")], [_diagnosis(Category.TIME, 0.9, CLOCK, SLEEP)]
    cause = commit_text.choose_root_cause(Category.ASYNC, decisions, diagnoses)
    assert cause.evidence == (SLEEP, CLOCK)
    assert cause.note == "n"
