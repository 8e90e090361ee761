"""Candidates: tests that carry no flaky marker but that CI history or a hunt shows flaky.

One per test key, with what each source measured (its own ``passed`` and ``failed``) and the
evidence in words. A test that failed every time it ran is broken, not a candidate.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from flaketui.models.history import Candidate, HuntReport, HuntVerdict, TestHistory
from flaketui.models.key import TestKey

SOURCES = ("history", "hunt")


def find_candidates(
    histories: Iterable[TestHistory], hunt: HuntReport | None, marked: Collection[TestKey]
) -> list[Candidate]:
    """Unmarked tests that both passed and failed somewhere, the most often failing first."""
    sources: dict[TestKey, dict[str, dict[str, Any]]] = {}
    for history in histories:
        if history.is_candidate and history.key not in marked:
            sources.setdefault(history.key, {})["history"] = _history_source(history)
    for test in hunt.tests if hunt is not None else ():
        if test.verdict in (HuntVerdict.STABLE, HuntVerdict.BROKEN) or test.key in marked:
            continue
        sources.setdefault(test.key, {})["hunt"] = {
            "passed": test.total.passed,
            "failed": test.total.failed,
            "verdict": str(test.verdict),
            "modes": {str(mode): {"runs": t.runs, "passed": t.passed, "failed": t.failed} for mode, t in test.modes},
            "polluter": test.polluter,
            "hunt": hunt.hunt_id if hunt is not None else None,
        }
    found = []
    for (rootdir, nodeid), by_source in sources.items():
        passed = sum(int(s["passed"]) for s in by_source.values())
        failed = sum(int(s["failed"]) for s in by_source.values())
        runs = passed + failed
        found.append(Candidate(rootdir, nodeid, by_source, failed / runs if runs else 0.0, runs))
    return sorted(found, key=lambda c: (-c.failure_rate, -c.runs, c.rootdir, c.nodeid))


def _history_source(history: TestHistory) -> dict[str, Any]:
    return {
        "passed": history.passed,
        "failed": history.failed,
        "reports": history.reports,
        "flip_rate": round(history.flip_rate, 4),
        "first_seen": history.first_seen,
        "last_seen": history.last_seen,
        "last_failure": history.last_failure,
    }


def evidence(candidate: Candidate) -> list[str]:
    """What each source says, in words (``scan --json``'s evidence, the app's detail pane)."""
    said = []
    history = candidate.sources.get("history")
    if history:
        line = (f"CI history: failed {history['failed']} of {int(history['passed']) + int(history['failed'])} "
                f"attempts in {history['reports']} reports, {history['first_seen'][:10]} to {history['last_seen'][:10]}")  # fmt: skip
        if history.get("last_failure"):
            line += f"; last failure: {str(history['last_failure']).splitlines()[0]}"
        said.append(line)
    hunt = candidate.sources.get("hunt")
    if hunt:
        modes = ", ".join(f"{m} {v['failed']}/{v['runs']}" for m, v in hunt["modes"].items() if v["runs"])
        line = f"hunt: {hunt['verdict']}, failed {modes}"
        if hunt.get("polluter"):
            line += f"; fails after {hunt['polluter']} (confirmed by bisection)"
        said.append(line)
    return said


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    return {
        "nodeid": candidate.nodeid,
        "rootdir": candidate.rootdir,
        "sources": candidate.sources,
        "failure_rate": round(candidate.failure_rate, 4),
        "evidence": evidence(candidate),
    }
