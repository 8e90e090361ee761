"""``flaketui check``, the CI gate: every marker and repository-wide rerun, failing, kept
(on purpose, in ``.flaketui.toml``), expired or stale. Pure: models in, ``GateItem``s out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from flaketui.models import Finding, FlakyTest, GateItem, Keep, TestKey, Triage, repo_nodeid, selects
from flaketui.report import marker_text
from flaketui.settings import DECISIONS_FILE

#: Findings that rerun every test of the repository, so the gate fails on them like on a marker.
RERUN_FINDING_KINDS = frozenset({"config-reruns", "ci-reruns", "collection-hook"})


def gate_items(
    tests: Sequence[FlakyTest],
    findings: Sequence[Finding],
    decisions: Mapping[TestKey, Triage],
    today: dt.date,
) -> list[GateItem]:
    """Every marker and repository-wide rerun, each failing, kept or expired.

    A keep on a class or module node id covers the tests under it. A keep expires at the
    end of its date: ``2026-12-31`` still holds on that day.
    """
    items = []
    used: set[TestKey] = set()
    for test in sorted(tests, key=lambda t: (t.marker.path, t.marker.line, t.rootdir, t.nodeid)):
        marker = test.marker
        key, keep = _keep_for(test, decisions)
        if key is not None:
            used.add(key)
        items.append(
            _judged("failing", marker.path, marker.line, test.key.repo_nodeid, marker_text(test), keep, today)
        )
    for finding in sorted(findings, key=lambda f: (f.path, f.line)):
        if finding.kind not in RERUN_FINDING_KINDS:
            continue
        # A team keeps a repository-wide rerun by keeping the file it is in: [tests."tox.ini"].
        file_key = TestKey(".", finding.path)
        decision = decisions.get(file_key)
        keep = decision.keep if decision is not None else None
        if keep is not None:
            used.add(file_key)
        items.append(_judged("finding", finding.path, finding.line, finding.message, finding.kind, keep, today))
    for key, triage in sorted(decisions.items()):
        if triage.keep is not None and key not in used:
            nodeid = repo_nodeid(*key)  # a key may come back from JSON as a bare tuple
            items.append(GateItem("stale", DECISIONS_FILE, 0, nodeid, "", triage.keep.reason, triage.keep.expires))
    return items


def failing_lines(items: Sequence[GateItem]) -> list[str]:
    """What the gate fails on, one line a marker: a module or class marker covering many
    tests is one line that names them, not one line a test."""
    lines: list[str] = []
    shared: dict[tuple[str, int], list[GateItem]] = {}
    for item in items:
        if item.status == "failing":
            shared.setdefault((item.path, item.line), []).append(item)
    for item in items:
        if item.status == "finding":
            lines.append(item.text)
            continue
        group = shared.get((item.path, item.line))
        if item.status != "failing" or not group:
            continue
        if len(group) == 1:
            lines.append(item.text)
        else:
            names = ", ".join(i.nodeid for i in group)
            lines.append(f"{item.path}:{item.line}: {len(group)} tests ({item.marker}): {names}")
        del shared[(item.path, item.line)]
    return lines


def _judged(unkept: str, path: str, line: int, nodeid: str, marker: str, keep: Keep | None, today: dt.date) -> GateItem:
    if keep is None:
        return GateItem(unkept, path, line, nodeid, marker)
    expired = keep.expires is not None and dt.date.fromisoformat(keep.expires) < today
    return GateItem("expired" if expired else "kept", path, line, nodeid, marker, keep.reason, keep.expires)


def _keep_for(test: FlakyTest, decisions: Mapping[TestKey, Triage]) -> tuple[TestKey | None, Keep | None]:
    """The keep that covers the test (its own, else its class's or module's) and its key."""
    exact = decisions.get(test.key)
    if exact is not None and exact.keep is not None:
        return test.key, exact.keep
    for (rootdir, nodeid), triage in decisions.items():  # keys may be bare (rootdir, nodeid) tuples
        if triage.keep is not None and rootdir == test.rootdir and selects(nodeid, test.nodeid):
            return TestKey(rootdir, nodeid), triage.keep
    return None, None


def gate_passes(items: Sequence[GateItem], budget: int) -> bool:
    """Pass when the markers not kept fit the budget and no keep has expired: an expired
    keep is a promise broken, which no budget excuses."""
    failing = sum(1 for i in items if i.status in ("failing", "finding"))
    return failing <= budget and not any(i.status == "expired" for i in items)
