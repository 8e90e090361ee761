"""Candidates: tests that carry no flaky marker but that CI history or a hunt shows flaky.

One per test key, with what each source measured (its own ``passed`` and ``failed``) and the
evidence in words. A test that failed every time it ran is broken, not a candidate.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable
from typing import Any

from flaketui.models import FlakyTest
from flaketui.models.history import Candidate, HuntReport, HuntVerdict, TestHistory
from flaketui.models.key import TestKey
from flaketui.pyast import parse_module

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
            "setter": test.setter,
            "hunt": hunt.hunt_id if hunt is not None else None,
        }
    found = []
    for (rootdir, nodeid), by_source in sources.items():
        passed = sum(int(s["passed"]) for s in by_source.values())
        failed = sum(int(s["failed"]) for s in by_source.values())
        runs = passed + failed
        found.append(Candidate(rootdir, nodeid, by_source, failed / runs if runs else 0.0, runs))
    return sorted(found, key=lambda c: (-c.failure_rate, -c.runs, c.rootdir, c.nodeid))


#: What CI history says of a candidate: these attributes of its ``TestHistory``, rates rounded.
_HISTORY_SOURCE = ("passed", "failed", "reports", "flip_rate", "first_seen", "last_seen", "last_failure")


def _history_source(history: TestHistory) -> dict[str, Any]:
    found = {name: getattr(history, name) for name in _HISTORY_SOURCE}
    found["flip_rate"] = round(found["flip_rate"], 4)
    return found


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
            if hunt.get("shared"):
                line += f"; both use {', '.join(hunt['shared'])}"
        if hunt.get("setter"):
            line += f"; fails alone, passes after {hunt['setter']} (confirmed by bisection)"
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


def candidate_test(candidate: Candidate, source: bytes | None) -> FlakyTest:
    """The candidate as a test the app, diagnosis and verification take: no marker, its file
    and the line of its ``def`` (found with ``ast``; line 1 when the file no longer has it)."""
    module, _, rest = candidate.nodeid.partition("::")
    path = module if candidate.rootdir in ("", ".") else f"{candidate.rootdir}/{module}"
    names = [part for part in rest.split("[", 1)[0].split("::") if part]
    line, end_line = _def_lines(source, names) if source is not None and names else (1, None)
    return FlakyTest(
        nodeid=candidate.nodeid,
        rootdir=candidate.rootdir or ".",
        path=path,
        line=line,
        name=names[-1] if names else candidate.nodeid,
        markers=(),
        class_name=names[-2] if len(names) > 1 else None,
        end_line=end_line,
    )


def _def_lines(source: bytes, names: list[str]) -> tuple[int, int | None]:
    found = _find_def(source, names)
    return (found.lineno, found.end_lineno) if found is not None else (1, None)


def _find_def(source: bytes, names: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    try:
        scope: list[ast.stmt] = parse_module(source).body
    except (SyntaxError, ValueError):
        return None
    found: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None = None
    for name in names:
        found = next(
            (n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == name),
            None,
        )
        if found is None:
            return None
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return found


def test_at(source: bytes | None, line: int) -> list[str]:
    """The names (class, then function) of the test whose ``def`` holds ``line``, or []."""
    try:
        scope: list[ast.stmt] = parse_module(source).body if source is not None else []
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    while True:
        node = next((n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                     and n.lineno <= line <= (n.end_lineno or n.lineno)), None)  # fmt: skip
        if node is None:
            return []
        names.append(node.name)
        if not isinstance(node, ast.ClassDef):
            return names if node.name.startswith("test") else []
        scope = node.body


def shared_names(victim: tuple[bytes | None, str], polluter: tuple[bytes | None, str]) -> list[str]:
    """The module-level names and attributes (``shared.STATE``, ``os.environ``) both tests'
    bodies use: where to look for the state the polluter leaves behind. Each test is its file's
    source and its node id; [] when either cannot be read."""
    import ast
    import builtins

    def used(source: bytes | None, nodeid: str) -> set[str]:
        names = [p for p in nodeid.partition("::")[2].split("[", 1)[0].split("::") if p]
        found = _find_def(source, names) if source is not None and names else None
        if found is None:
            return set()
        local = {a.arg for a in ast.walk(found) if isinstance(a, ast.arg)}
        local |= {n.id for n in ast.walk(found) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        seen = set()
        for node in ast.walk(found):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id not in local and node.value.id != "self":
                    seen.add(f"{node.value.id}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id not in local and not hasattr(builtins, node.id):
                seen.add(node.id)
        return seen

    both = used(*victim) & used(*polluter)
    # A module named alone adds nothing when one of its attributes is listed.
    return sorted(n for n in both if not any(other.startswith(n + ".") for other in both))
