"""Builders for the record's tests: flaky tests, diagnoses and verifications as real models."""

from __future__ import annotations

from flaketui.models import (
    Category,
    Diagnosis,
    Evidence,
    FlakyTest,
    Marker,
    MarkerKind,
    MarkerScope,
    RunOutcome,
    RunResult,
    Suggestion,
    Verdict,
    Verification,
    VerifyMode,
)


def flaky(nodeid: str, line: int = 5, *, rootdir: str = ".", source: str = "@pytest.mark.flaky(reruns=3)") -> FlakyTest:
    path = nodeid.split("::")[0]
    repo_path = path if rootdir == "." else f"{rootdir}/{path}"
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, repo_path, line - 1, source, (("reruns", "3"),))
    return FlakyTest(nodeid, rootdir, repo_path, line, nodeid.rsplit("::", 1)[-1], (marker,))


def diagnosis(test: FlakyTest, category: Category, message: str, line: int, *, confidence: float = 0.8) -> Diagnosis:
    evidence = Evidence(category, f"{category}-rule", test.path, line, line, message, f"fix {category}", 1.0)
    weak = Evidence(Category.DATA, "weak", test.path, line + 1, line + 1, "weak hint", "", 0.1)
    return Diagnosis(test.nodeid, Suggestion(category, confidence), (weak, evidence))


def verification(
    nodeid: str, passed: int, runs: int, *, mode: VerifyMode = VerifyMode.FORKED, started_at: str = "2026-11-24T10:00:00+00:00"
) -> Verification:
    outcomes = [RunOutcome.PASSED] * passed + [RunOutcome.FAILED] * (runs - passed)
    results = tuple(RunResult(nodeid, i, o) for i, o in enumerate(outcomes))
    verdict = Verdict.STABLE if passed == runs else Verdict.FLAKY if passed else Verdict.BROKEN
    return Verification(nodeid, ".", mode, runs, results, verdict, f"pytest {nodeid}", started_at=started_at)
