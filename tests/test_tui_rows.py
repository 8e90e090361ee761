"""The table's rules without an app: filter terms, sort orders, honest texts."""

from __future__ import annotations

import pytest

from flaketui.models import (
    Category,
    Diagnosis,
    FlakyTest,
    Keep,
    Marker,
    MarkerKind,
    MarkerScope,
    RunOutcome,
    RunResult,
    Suggestion,
    Triage,
    Verdict,
    Verification,
    VerifyMode,
)
from flaketui.models.history import Candidate
from flaketui.tui.rows import (
    Progress,
    Row,
    SortOrder,
    Stage,
    fit_test,
    parse_filter,
    sort_key,
    verdict_sentence,
)
from flaketui.tui.verify_queue import VerifyJob, VerifyQueue


def make_row(name: str, category: Category | None = None, confirmed: Category | None = None, **extra) -> Row:
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, "tests/test_x.py", 3, "", (("reruns", "3"),))
    test = FlakyTest(f"tests/test_x.py::{name}", ".", "tests/test_x.py", 4, name, (marker,))
    diagnosis = Diagnosis(test.nodeid, Suggestion(category, 0.8)) if category else None
    triage = Triage(test.nodeid, category=confirmed) if confirmed else None
    return Row(test=test, diagnosis=diagnosis, triage=triage, **extra)


def candidate_row(name: str, sources: dict[str, dict[str, object]], category: Category | None = None) -> Row:
    """An unmarked test a hunt or CI history found: no marker, its sources on the row."""
    test = FlakyTest(f"tests/test_x.py::{name}", ".", "tests/test_x.py", 4, name, ())
    diagnosis = Diagnosis(test.nodeid, Suggestion(category, 0.8)) if category else None
    return Row(test=test, diagnosis=diagnosis, candidate=Candidate(".", test.nodeid, sources, 0.3, 10))


def test_the_source_column_and_its_badge_say_what_found_the_test() -> None:
    marked = make_row("test_a")
    hunted = candidate_row("test_d", {"hunt": {}})
    both = candidate_row("test_e", {"history": {}, "hunt": {}})
    assert [(r.source, r.badge, r.marker_text()) for r in (marked, hunted, both)] == [
        ("marker", "", "reruns=3"), ("hunt", "H", "—"), ("hunt+hist", "HC", "—")]
    assert candidate_row("test_f", {"history": {}}).badge == "C"


def verification(passed: int, runs: int, verdict: Verdict, requested: int | None = None) -> Verification:
    results = tuple(
        RunResult("n", i, RunOutcome.PASSED if i < passed else RunOutcome.FAILED) for i in range(runs)
    )
    return Verification("n", ".", VerifyMode.FORKED, requested or runs, results, verdict, "pytest n")


@pytest.mark.parametrize(
    "query, expected",
    [
        pytest.param("", ["test_a", "test_b", "test_c", "test_d", "test_e"], id="empty matches all"),
        pytest.param("cat:time", ["test_a"], id="suggested category"),
        pytest.param("cat:async", ["test_b"], id="confirmed beats suggested"),
        pytest.param("state:kept", ["test_c"], id="state"),
        pytest.param("TEST_B", ["test_b"], id="text is case-insensitive"),
        pytest.param("marker:reruns=3 cat:ti", ["test_a"], id="terms combine"),
        pytest.param("cat:nothing", [], id="no match"),
        pytest.param("src:marker", ["test_a", "test_b", "test_c"], id="marked tests"),
        pytest.param("src:hunt", ["test_d", "test_e"], id="found by a hunt"),
        pytest.param("source:hist", ["test_e"], id="found in CI history, a prefix"),
        pytest.param("src:h cat:order", ["test_d"], id="source and category combine"),
    ],
)
def test_filter(query: str, expected: list[str]) -> None:
    rows = [
        make_row("test_a", Category.TIME),
        make_row("test_b", Category.TIME, confirmed=Category.ASYNC),
        make_row("test_c"),
        candidate_row("test_d", {"hunt": {"verdict": "order-dependent"}}, Category.ORDER),
        candidate_row("test_e", {"history": {"passed": 3, "failed": 1}, "hunt": {"verdict": "flaky"}}),
    ]
    rows[2].triage = Triage(rows[2].test.nodeid, keep=Keep("live service"))
    assert [r.test.name for r in rows if parse_filter(query)(r)] == expected


def test_sort_by_category_puts_undiagnosed_last() -> None:
    rows = [make_row("test_a"), make_row("test_b", Category.ORDER), make_row("test_c", Category.RACE)]
    assert [r.test.name for r in sorted(rows, key=sort_key(SortOrder.CATEGORY))] == ["test_c", "test_b", "test_a"]
    # The sort cycles back to the first order, the default: most failing first.
    assert SortOrder.CONFIDENCE.next() is SortOrder.FAILURES and SortOrder.FAILURES.next() is SortOrder.FILE


def test_the_default_sort_puts_the_tests_that_fail_most_often_first() -> None:
    rows = [
        make_row("test_a"),  # never measured: after every test seen failing, before those never seen failing
        make_row("test_b", verification=verification(9, 10, Verdict.FLAKY)),
        make_row("test_c", verification=verification(5, 10, Verdict.FLAKY)),
        make_row("test_d", verification=verification(10, 10, Verdict.STABLE)),
        make_row("test_e", verification=verification(18, 20, Verdict.FLAKY)),  # as often as b, run more
    ]
    ordered = [r.test.name for r in sorted(rows, key=sort_key(SortOrder.FAILURES))]
    assert ordered == ["test_c", "test_e", "test_b", "test_a", "test_d"]
    assert list(SortOrder)[0] is SortOrder.FAILURES


@pytest.mark.parametrize(
    "row, text",
    [
        pytest.param(make_row("t"), "…", id="not diagnosed yet"),
        pytest.param(make_row("t", Category.UNKNOWN), "unknown", id="unknown shown as such"),
        pytest.param(make_row("t", Category.TIME), "time? 80%", id="suggested"),
        pytest.param(make_row("t", Category.TIME, confirmed=Category.RACE), "✓ race", id="confirmed"),
    ],
)
def test_category_text(row: Row, text: str) -> None:
    assert row.category_text() == text


def test_a_narrow_category_column_drops_the_confidence_before_the_name() -> None:
    row = make_row("t", Category.EXTERNAL)
    assert (row.category_text(13), row.category_text(11)) == ("external? 80%", "external?")


def test_running_row_shows_done_of_total_with_a_bar() -> None:
    row = make_row("t", progress=Progress(10))
    row.progress.results.extend(RunResult("n", i, RunOutcome.PASSED) for i in range(5))
    assert row.state is Stage.RUNNING
    assert row.verification_text() == "5/10 ▮▮▮▮▯▯▯▯"


VERDICT_SENTENCE_IS_HONEST_CASES = [
    pytest.param(verification(10, 10, Verdict.STABLE), "10/10 passed: failure rate < 26% at 95% (forked)", id="stable"),
    pytest.param(verification(7, 10, Verdict.FLAKY), "7/10 passed: flaky, it still fails (forked)", id="flaky"),
    pytest.param(verification(0, 5, Verdict.BROKEN), "0/5 passed: broken, it fails every time (forked)", id="broken"),
    pytest.param(verification(3, 3, Verdict.STABLE, 10),
                 "3/3 passed (of 10 asked) (forked), only: 3/3 passes still allow a failure rate of 63% at 95%, "
                 "and a test that fails one run in five passes 3 in a row 51% of the time",
                 id="fewer runs than the minimum say what they leave open"),
]


@pytest.mark.parametrize(
    "result, sentence",
    VERDICT_SENTENCE_IS_HONEST_CASES,
)
def test_verdict_sentence_is_honest(result: Verification, sentence: str) -> None:
    assert verdict_sentence(result) == sentence


def test_the_queue_runs_one_job_at_a_time_in_order() -> None:
    queue = VerifyQueue()
    first, second = (VerifyJob((make_row(n).test,), 10, VerifyMode.FORKED) for n in ("test_a", "test_b"))
    queue.add(first)
    queue.add(second)
    assert queue.start_next() is first
    assert queue.start_next() is None  # one consumer: the second waits
    assert queue.is_waiting(second.tests[0].key)
    queue.cancel_current()
    assert first.stop.is_set()
    queue.finish(first)
    assert queue.start_next() is second
    queue.stop_all()
    assert second.stop.is_set() and not list(queue.waiting())


@pytest.mark.parametrize(
    ("nodeid", "width", "shown"),
    [
        pytest.param("tests/test_a.py::test_x", 40, ("test_a.py ", "test_x"), id="fits, file as a prefix"),
        pytest.param("tests/unit/test_a.py::test_x", 12, ("", "test_x"), id="the file gives way first"),
        pytest.param("tests/test_aio.py::test_fetch_all_returns", 21, ("", "test_fetch…ll_returns"),
                     id="then-the-middle-of-the-name"),
        pytest.param("t/test_p.py::test_v[case-a]", 9, ("", "test…e-a]"), id="param-id-end-stays"),
        pytest.param("t/test_p.py::TestC::test_v[a]", 30, ("test_p.py ", "TestC::test_v[a]"), id="class-and-param"),
        pytest.param("tests/test_a.py::test_x", 0, ("test_a.py ", "test_x"), id="not-laid-out-yet"),
        pytest.param("t/test_w.py::TestWebhookDelivery::test_delivers_to_staging_receiver", 48,
                     ("test_w.py ", "test_delivers_to_staging_receiver"), id="the class gives way before the function"),
        pytest.param("t/test_w.py::TestWebhookDelivery::test_delivers_to_staging_receiver", 20,
                     ("", "test_deli…g_receiver"), id="then the function's middle"),
    ],
)
def test_fit_test_puts_the_name_first(nodeid: str, width: int, shown: tuple[str, str]) -> None:
    assert fit_test(nodeid, width) == shown
    assert width == 0 or len("".join(shown)) <= width


def test_a_committed_row_does_not_call_the_runs_that_allowed_it_old() -> None:
    stale = make_row("t", verification=verification(10, 10, Verdict.STABLE), stale=True)
    fixed = make_row("t", verification=verification(10, 10, Verdict.STABLE), stale=True, fixed=True)
    assert (stale.verification_text(), fixed.verification_text()) == ("10/10 old", "10/10")
    assert (stale.state, fixed.state) == (Stage.STALE, Stage.FIXED)
