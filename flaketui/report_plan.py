"""What to fix first: the fix plan ordered by measured failure rates, and the audit's sections on
tests nobody marked (CI history, hunts) and on the suite's stability. Pure, like report.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaketui.models import Category
from flaketui.models.history import Candidate, HuntReport

if TYPE_CHECKING:
    from flaketui.report import AuditTest


@dataclass(frozen=True)
class Advice:
    category: Category
    label: str
    count: int
    fix: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class AuditCandidate:
    nodeid: str
    sources: str
    failed: int
    runs: int
    verdict: str
    polluter: str | None
    evidence: str


@dataclass(frozen=True)
class Stability:
    """What the newest hunt says about the whole suite."""

    stable: bool
    serial_equals_parallel: bool | None
    identical_runs: bool
    runs: str
    complete: bool
    suite_size: int


def audit_candidates(candidates: Iterable[Candidate]) -> tuple[AuditCandidate, ...]:
    from flaketui.candidates import evidence

    found = []
    for c in candidates:
        hunt = c.sources.get("hunt", {})
        found.append(
            AuditCandidate(
                nodeid=c.nodeid if c.rootdir in ("", ".") else f"{c.rootdir}/{c.nodeid}",
                sources=", ".join(s for s in ("history", "hunt") if s in c.sources),
                failed=round(c.failure_rate * c.runs),
                runs=c.runs,
                verdict=str(hunt.get("verdict", "flaky")),
                polluter=hunt.get("polluter"),
                evidence="; ".join(evidence(c)),
            )
        )
    return tuple(found)


def stability(hunt: HuntReport | None) -> Stability | None:
    if hunt is None:
        return None
    return Stability(
        stable=hunt.stable,
        serial_equals_parallel=hunt.serial_equals_parallel,
        identical_runs=hunt.identical_runs,
        runs=", ".join(f"{mode} {count}" for mode, count in hunt.runs_done),
        complete=hunt.complete,
        suite_size=hunt.suite_size,
    )


def markdown_lines(candidates: tuple[AuditCandidate, ...], suite: Stability | None) -> list[str]:
    out = ["## Unmarked Flaky Tests", ""]
    if candidates:
        out += ["| Test | Source | Failed | Verdict | Evidence |", "|---|---|---|---|---|"]
        for c in candidates:
            verdict = c.verdict + (f", polluted by `{c.polluter}`" if c.polluter else "")
            out.append(f"| `{c.nodeid}` | {c.sources} | {c.failed}/{c.runs} | {verdict} | {_flat(c.evidence)} |")
    else:
        out.append("None found (`flaketui import` reads CI reports, `flaketui hunt` runs the suite).")
    out += ["", "## Suite Stability", ""]
    if suite is None:
        out.append("Not measured yet: `flaketui hunt` runs the suite serially, shuffled and under xdist.")
    else:
        parallel = {None: "not measured (no xdist)", True: "yes", False: "no"}[suite.serial_equals_parallel]
        out += [
            f"- Stable: {'yes' if suite.stable else 'no'}" + ("" if suite.complete else " (the hunt was cut short)"),
            f"- Serial results equal parallel ones: {parallel}",
            f"- All runs identical: {'yes' if suite.identical_runs else 'no'}",
            f"- Runs: {suite.runs} of {suite.suite_size} tests",
        ]
    out.append("")
    return out


def _flat(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def frequency_key(rates: Mapping[str, tuple[int, int]], nodeid: str) -> tuple[float, int]:
    """Sort key putting the tests that fail most often, then run most often, first; a test
    without measurements after every measured one. ``rates``: node id -> (failed, runs)."""
    failed, runs = rates.get(nodeid, (0, 0))
    return (-(failed / runs) if runs else 1.0, -runs)


def advice(
    tests: Iterable[AuditTest],
    candidates: Iterable[AuditCandidate],
    rates: Mapping[str, tuple[int, int]],
    fixes: Mapping[Category, str],
) -> tuple[Advice, ...]:
    """One item per root cause. The tests that fail most often (then run most often), as
    measured by verifications, CI history and hunts, come first, and so do their causes;
    unmeasured ones follow, the biggest cause first. A candidate is ``order`` when bisection
    confirmed its polluter, else unknown until it is diagnosed."""
    groups: dict[Category, list[str]] = {}
    for test in tests:
        groups.setdefault(test.category, []).append(test.nodeid)
    for candidate in candidates:
        groups.setdefault(Category.ORDER if candidate.polluter else Category.UNKNOWN, []).append(candidate.nodeid)
    order = list(Category)
    for members in groups.values():
        members.sort(key=lambda nodeid: frequency_key(rates, nodeid))
    ranked = sorted(
        groups.items(), key=lambda item: (frequency_key(rates, item[1][0]), -len(item[1]), order.index(item[0]))
    )
    return tuple(
        Advice(category, category.label, len(members), fixes[category], tuple(members)) for category, members in ranked
    )
