"""The audit a team commits (markdown or JSON, the same data) and the CI gate.

Pure: the service gathers the scan, the decisions, the diagnoses, the verifications and
the commits, and these functions only arrange them. Standard library and models only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from flaketui.models import (
    Category,
    CommitRecord,
    Diagnosis,
    Evidence,
    Finding,
    FlakyTest,
    Keep,
    MarkerScope,
    TestKey,
    Triage,
    Verification,
)
from flaketui.models.history import Candidate, HuntReport
from flaketui.report_plan import (
    Advice,
    AuditCandidate,
    Stability,
    advice,
    audit_candidates,
    markdown_lines,
    stability,
)

#: What fixes each root cause, for the audit's advice per category (its "Fix Plan" section, a name users know).
FIXES: dict[Category, str] = {
    Category.RACE: (
        "Give each test its own state: no module-level mutable objects, `tmp_path` and unique names "
        "(uuid) for files, ports and databases; join threads and guard shared resources with locks "
        "before asserting."
    ),
    Category.ASYNC: (
        "Wait for the event, not the clock: replace sleeps with `asyncio.wait_for(...)`, `asyncio.Event` "
        "or polling with a deadline; await every task you start and close loops and clients in teardown."
    ),
    Category.TIME: (
        "Freeze time with freezegun (`@freeze_time`) or time-machine (`time_machine.travel`), or inject "
        "a clock; pin the time zone; never compare against a `now()` taken at another moment."
    ),
    Category.EXTERNAL: (
        "Mock the network with responses (requests) or respx (httpx) and block real sockets with "
        "pytest-socket (`--disable-socket`) so a new live call fails at once; keep live tests behind a "
        "marker that CI runs apart."
    ),
    Category.DATA: (
        "Seed or inject randomness (`random.Random(seed)`, `numpy.random.default_rng(seed)`, a Faker "
        "seed); sort sets and dict views before comparing; do not depend on hash order (PYTHONHASHSEED)."
    ),
    Category.FIXTURE: (
        "Use function scope and teardown (`yield` fixtures) for anything with state, `tmp_path` "
        "instead of fixed paths, and `monkeypatch` for environment variables and globals so they are "
        "restored."
    ),
    Category.ORDER: (
        "Make every test set up what it needs: find the polluter with pytest-randomly or "
        "detect-test-pollution, reset globals and caches with `monkeypatch` or an autouse fixture, and "
        "run in random order in CI."
    ),
    Category.UNKNOWN: (
        "Diagnose first: verify in fresh-process and random-order modes to see whether state or order "
        "matters, and read the failure messages of the failing runs."
    ),
}




class CategorySource:
    CONFIRMED = "confirmed"
    SUGGESTED = "suggested"
    NOT_DIAGNOSED = "not diagnosed"


@dataclass(frozen=True)
class AuditTest:
    """One marked test in the audit: ``nodeid`` from the repository's root, its marker and where
    it is written, the category and who said so, the main evidence, the team's note and keep."""

    nodeid: str
    rootdir: str
    path: str
    line: int
    marker: str
    category: Category
    #: confirmed (the team's), suggested (the diagnosis) or not diagnosed.
    source: str
    confidence: float | None = None
    #: The main evidence: its message and where (``tests/a.py:12``); empty without one.
    issue: str = ""
    issue_at: str = ""
    fix: str = ""
    note: str = ""
    keep: Keep | None = None
    #: Where the marker is written (``tests/a.py:3``): a module or class marker covers many tests.
    marker_at: str = ""


@dataclass(frozen=True)
class AuditVerification:
    nodeid: str
    passed: int
    runs: int
    mode: str
    verdict: str
    date: str
    failure_rate_upper_95: float
    runs_requested: int = 0
    #: Where the runs prove nothing: the marker applies on another platform than the one they ran on.
    caution: str = ""

    @property
    def verified_nothing(self) -> bool:
        """A skip or a cancel: the runs that happened bound nothing."""
        return self.verdict in ("skipped", "cancelled")


@dataclass(frozen=True)
class AuditCommit:
    sha: str
    nodeid: str
    subject: str
    kind: str
    undoes: str | None = None


@dataclass(frozen=True)
class Audit:
    generated: str
    repository: str
    branch: str | None
    head: str | None
    tests: tuple[AuditTest, ...]
    verifications: tuple[AuditVerification, ...] = ()
    markers_removed: tuple[AuditCommit, ...] = ()
    findings: tuple[Finding, ...] = ()
    advice: tuple[Advice, ...] = field(default=())
    is_git: bool = True
    #: Unmarked tests that CI history or a hunt shows flaky, and the newest hunt's verdict on the suite.
    candidates: tuple[AuditCandidate, ...] = ()
    stability: Stability | None = None

    @property
    def total(self) -> int:
        return len(self.tests)

    def by_category(self) -> dict[Category, list[AuditTest]]:
        """Categories present, in key order (unknown last), each with its tests."""
        groups: dict[Category, list[AuditTest]] = {c: [] for c in Category}
        for test in self.tests:
            groups[test.category].append(test)
        return {c: tests for c, tests in groups.items() if tests}

    @property
    def unconfirmed(self) -> tuple[AuditTest, ...]:
        return tuple(t for t in self.tests if t.source != CategorySource.CONFIRMED)


def build_audit(
    *,
    generated: str,
    repository: str,
    branch: str | None,
    head: str | None,
    tests: Sequence[FlakyTest],
    decisions: Mapping[TestKey, Triage],
    diagnoses: Mapping[TestKey, Diagnosis | None],
    verifications: Mapping[TestKey, Verification],
    commits: Sequence[CommitRecord],
    findings: Sequence[Finding] = (),
    is_git: bool = True,
    candidates: Sequence[Candidate] = (),
    hunt: HuntReport | None = None,
    failure_rates: Mapping[str, tuple[int, int]] | None = None,
) -> Audit:
    """Arrange what the service gathered. A test's category is the team's confirmed one,
    else the diagnosis' suggestion, else unknown ("not diagnosed")."""
    entries = tuple(
        _audit_test(t, decisions.get(t.key), diagnoses.get(t.key))
        for t in sorted(tests, key=lambda t: (t.rootdir, t.path, t.line, t.nodeid))
    )
    listed = {t.key for t in tests}
    by_key = {t.key: t for t in tests}
    checked = tuple(
        AuditVerification(
            nodeid=v.key.repo_nodeid,
            passed=v.passed,
            runs=v.runs,
            mode=str(v.mode),
            verdict=str(v.verdict),
            date=v.started_at,
            failure_rate_upper_95=round(v.failure_rate_upper_95, 4),
            runs_requested=v.runs_requested,
            caution=_platform_caution(by_key.get(key)),
        )
        for key, v in sorted(verifications.items())
        # A fixed test has no marker any more, yet its verification is the proof.
        if key in listed or any(c.nodeid in (v.nodeid, v.key.repo_nodeid) for c in commits)
    )
    removed = tuple(
        AuditCommit(c.sha, c.nodeid, c.message.splitlines()[0] if c.message else "", c.kind, c.undoes)
        for c in commits
    )
    return Audit(
        generated=generated,
        repository=repository,
        branch=branch,
        head=head,
        tests=entries,
        verifications=checked,
        markers_removed=removed,
        findings=tuple(findings),
        advice=advice(entries, audit_candidates(candidates), failure_rates or {}, FIXES),
        candidates=audit_candidates(candidates),
        stability=stability(hunt),
        is_git=is_git,
    )


def _audit_test(test: FlakyTest, triage: Triage | None, diagnosis: Diagnosis | None) -> AuditTest:
    if triage is not None and triage.category is not None:
        category, source, confidence = triage.category, CategorySource.CONFIRMED, None
    elif diagnosis is not None:
        category = diagnosis.suggestion.category
        source, confidence = CategorySource.SUGGESTED, round(diagnosis.suggestion.confidence, 2)
    else:
        category, source, confidence = Category.UNKNOWN, CategorySource.NOT_DIAGNOSED, None
    evidence = _main_evidence(diagnosis, category)
    return AuditTest(
        nodeid=test.key.repo_nodeid,
        rootdir=test.rootdir,
        path=test.path,
        line=test.line,
        marker=marker_text(test),
        category=category,
        source=source,
        confidence=confidence,
        issue=evidence.message if evidence else "",
        issue_at=_where(evidence) if evidence else "",
        fix=evidence.fix if evidence else "",
        note=triage.note if triage else "",
        keep=triage.keep if triage else None,
        marker_at=f"{test.marker.path}:{test.marker.line}",
    )


def _markers_note(tests: Sequence[AuditTest]) -> str:
    markers = len(_by_marker(tests))
    return "" if markers == len(tests) else f" under {markers} marker{'' if markers == 1 else 's'}"


def _platform_caution(test: FlakyTest | None) -> str:
    from flaketui.cautions import platform_caution

    return (platform_caution(test) or "") if test is not None else ""


def _by_marker(tests: Iterable[AuditTest]) -> dict[str, list[AuditTest]]:
    """Tests grouped by the marker that covers them, in order of first appearance."""
    groups: dict[str, list[AuditTest]] = {}
    for test in tests:
        groups.setdefault(test.marker_at or test.nodeid, []).append(test)
    return groups


def _counted(tests: Sequence[AuditTest]) -> str:
    """``3`` or ``26 tests, 3 markers`` when a marker covers several tests."""
    markers = len(_by_marker(tests))
    return str(len(tests)) if markers == len(tests) else f"{len(tests)} tests, {markers} markers"


def _where(evidence: Evidence) -> str:
    """``tests/a.py:12``, plus how the test reaches it when not from its own body."""
    at = f"{evidence.path}:{evidence.line}"
    return at if evidence.where in ("", "test body") else f"{at}, {evidence.where}"


def _main_evidence(diagnosis: Diagnosis | None, category: Category) -> Evidence | None:
    """The heaviest evidence for the test's category, else the heaviest of all."""
    if diagnosis is None or not diagnosis.evidence:
        return None
    matching = [e for e in diagnosis.evidence if e.category is category] or list(diagnosis.evidence)
    return max(matching, key=lambda e: e.weight)


def marker_text(test: FlakyTest) -> str:
    """The marker as written, on one line: ``@pytest.mark.flaky(reruns=3)``."""
    marker = test.marker
    source = " ".join(marker.source.split())
    if not source:
        return marker.summary
    if marker.scope in (MarkerScope.FUNCTION, MarkerScope.CLASS) and not source.startswith("@"):
        source = "@" + source
    elif marker.scope is MarkerScope.MODULE and not source.startswith("pytestmark"):
        source = "pytestmark: " + source
    return source if len(source) <= 80 else source[:77] + "..."


# -- markdown -----------------------------------------------------------------------------
def render_markdown(audit: Audit) -> str:
    head = f"`{audit.head[:12]}`" if audit.head else "no commit yet"
    branch = f" on `{audit.branch}`" if audit.branch else ""
    where = f"{branch} at {head}" if audit.is_git else " (not a git repository)"
    out = [
        "# Flaky Test Audit",
        "",
        f"- Generated: {audit.generated}",
        f"- Repository: {audit.repository}{where}",
        f"- Total flaky tests: {audit.total}" + _markers_note(audit.tests),
    ]
    if audit.findings:
        out.append(f"- Repository-wide findings: {len(audit.findings)}")
    out += ["", "## By Root Cause", ""]
    groups = audit.by_category()
    if not groups:
        out += ["No flaky markers found.", ""]
    for category, tests in groups.items():
        out += [f"### {category.label.capitalize()} ({_counted(tests)})", "", "| Test | Path | Issue |", "|---|---|---|"]
        for marker_at, members in _by_marker(tests).items():
            issues = list(dict.fromkeys(f"{t.issue} ({t.issue_at})" if t.issue else _no_issue(t) for t in members))
            issue = "; ".join(issues[:2]) + (f"; and {len(issues) - 2} more" if len(issues) > 2 else "")
            if len(members) == 1:
                t = members[0]
                out.append(f"| {_cell(t.nodeid, code=True)} | {_cell(f'{t.path}:{t.line}')} | {_cell(issue)} |")
                continue
            # One marker on a module or class: its tests under it, not the marker once a test.
            names = ", ".join(t.nodeid.rpartition("::")[2] for t in members)
            tests_cell = f"{len(members)} tests under `{members[0].marker}`: {names}"
            out.append(f"| {_cell(tests_cell)} | {_cell(marker_at)} | {_cell(issue)} |")
        out.append("")

    out += ["## Tests Without a Confirmed Category", ""]
    if audit.unconfirmed:
        out += ["| Test | Suggestion |", "|---|---|"]
        rows: dict[tuple[str, str], list[AuditTest]] = {}
        for t in audit.unconfirmed:
            if t.source == CategorySource.SUGGESTED:
                suggestion = f"{t.category} ({t.confidence:.0%})" if t.confidence is not None else str(t.category)
            else:
                suggestion = "not diagnosed"
            rows.setdefault((t.marker_at or t.nodeid, suggestion), []).append(t)
        for (_, suggestion), members in rows.items():
            names = ", ".join(t.nodeid.rpartition("::")[2] for t in members)
            test_cell = _cell(members[0].nodeid, code=True) if len(members) == 1 else _cell(
                f"{len(members)} tests under `{members[0].marker}`: {names}"
            )
            out.append(f"| {test_cell} | {_cell(suggestion)} |")
    else:
        out.append("Every test has a confirmed category.")
    out.append("")

    kept = [t for t in audit.tests if t.keep is not None]
    if kept:
        out += ["## Kept on Purpose", "", "| Test | Reason | Expires |", "|---|---|---|"]
        for t in kept:
            assert t.keep is not None
            out.append(f"| {_cell(t.nodeid, code=True)} | {_cell(t.keep.reason)} | {t.keep.expires or 'never'} |")
        out.append("")

    out += ["## Verification Results", ""]
    if audit.verifications:
        # The bound says what the runs prove: 10/10 passes still allow a failure rate of 26%.
        out += ["| Test | Passed | Mode | Verdict | Failure rate (95%) | Date |", "|---|---|---|---|---|---|"]
        for v in audit.verifications:
            bound = "none: nothing verified" if v.verified_nothing else f"< {round(v.failure_rate_upper_95 * 100)}%"
            passed = f"{v.passed}/{v.runs}" + (f" of {v.runs_requested}" if v.runs < v.runs_requested else "")
            verdict = f"{v.verdict}; caution: {v.caution.split(': ', 1)[1]}" if v.caution else str(v.verdict)
            out.append(
                f"| {_cell(v.nodeid, code=True)} | {passed} | {v.mode} | {_cell(verdict)} | {bound} "
                f"| {_cell(v.date)} |"
            )
    else:
        out.append("No verifications recorded yet (`v` in the app runs one).")
    out.append("")

    out += ["## Markers Removed", ""]
    if audit.markers_removed:
        out += ["| Commit | Test | Message |", "|---|---|---|"]
        for c in audit.markers_removed:
            subject = c.subject if c.kind != "undo" else f"undo of {c.undoes[:12] if c.undoes else '?'}: {c.subject}"
            out.append(f"| `{c.sha[:12]}` | {_cell(c.nodeid, code=True)} | {_cell(subject)} |")
    else:
        out.append("None yet.")
    out.append("")

    if audit.findings:
        out += ["## Repository-wide Findings", "", "| Where | Finding |", "|---|---|"]
        for f in audit.findings:
            out.append(f"| {_cell(f'{f.path}:{f.line}')} | {_cell(f'{f.kind}: {f.message}')} |")
        out.append("")

    out += markdown_lines(audit.candidates, audit.stability)
    out += ["## Fix Plan", ""]
    if not audit.advice:
        out += ["Nothing to fix.", ""]
    for number, item in enumerate(audit.advice, start=1):
        plural = "test" if item.count == 1 else "tests"
        out += [f"### {number}. {item.label.capitalize()} ({item.count} {plural})", "", item.fix, ""]
        out += [f"- {_cell(nodeid, code=True)}" for nodeid in item.tests]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _no_issue(test: AuditTest) -> str:
    return "not diagnosed" if test.source == CategorySource.NOT_DIAGNOSED else "no evidence found"


def _cell(text: str, *, code: bool = False) -> str:
    """Text that cannot break a markdown table row."""
    flat = " ".join(text.split()).replace("|", "\\|")
    if code:
        fence = "``" if "`" in flat else "`"
        pad = " " if fence == "``" else ""
        return f"{fence}{pad}{flat}{pad}{fence}"
    return flat


# -- json ---------------------------------------------------------------------------------
def to_data(audit: Audit) -> dict[str, object]:
    """The audit as plain data: the same facts as the markdown, for machines."""
    return {
        "generated": audit.generated,
        "repository": {"name": audit.repository, "branch": audit.branch, "head": audit.head, "is_git": audit.is_git},
        "total": audit.total,
        "by_category": {str(c): [t.nodeid for t in tests] for c, tests in audit.by_category().items()},
        "tests": [
            {**asdict(t), "category": str(t.category), "keep": asdict(t.keep) if t.keep else None}
            for t in audit.tests
        ],
        "unconfirmed": [t.nodeid for t in audit.unconfirmed],
        "verifications": [asdict(v) for v in audit.verifications],
        "markers_removed": [asdict(c) for c in audit.markers_removed],
        "findings": [f.to_json() for f in audit.findings],
        "fix_plan": [{**asdict(item), "category": str(item.category)} for item in audit.advice],
        "candidates": [asdict(c) for c in audit.candidates],
        "stability": asdict(audit.stability) if audit.stability else None,
    }


def render_json(audit: Audit) -> str:
    return json.dumps(to_data(audit), indent=2, ensure_ascii=False) + "\n"
