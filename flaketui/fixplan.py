"""The pure parts of a fix: which tests a target covers, which markers may go, the diff and
the commit message. Standard library and models only; ``service`` feeds it git and files.
"""

from __future__ import annotations

import difflib
import json
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flaketui.models import (
    Category,
    Diagnosis,
    Evidence,
    FlakyTest,
    Marker,
    MarkerScope,
    TestKey,
    Triage,
    Verdict,
    Verification,
    selects,
)

CATEGORY_TRAILER = "Flaky-Category"
VERIFIED_TRAILER = "Flaky-Verified"
UNDOES_TRAILER = "Flaky-Undoes"
TARGET_TRAILER = "Flaky-Target"

#: Used when ``[tool.flaketui] commit-template`` is not set. ``$placeholders`` are filled
#: by ``string.Template``; the trailers are always appended after it (undo finds fixes by them).
DEFAULT_TEMPLATE = """test: remove flaky marker from $nodeid

Root cause: $root_cause
$evidence
$verification
$outside"""

_PARAMS = re.compile(r"\[.*\]$")


def select(target: str, tests: Iterable[FlakyTest]) -> list[FlakyTest]:
    """The tests a node id names as pytest reads it (``selects``), from the rootdir or the repository root."""
    target = target.strip()
    return [t for t in tests if selects(target, t.nodeid) or selects(target, t.key.repo_nodeid)]


def marker_key(test: FlakyTest, marker: Marker) -> tuple[str, ...]:
    """What makes two tests share one marker.

    A function decorator belongs to one function (and all of its parametrized cases) even
    when it is an alias used by many: removing it from one test leaves the others alone.
    A class or module marker is one expression that covers every test under it.
    """
    if marker.scope is MarkerScope.FUNCTION:
        return ("function", test.path, test.class_name or "", test.name)
    if marker.scope is MarkerScope.PARAM:
        return ("param", test.path, test.nodeid)
    return (str(marker.scope), marker.path, str(marker.line))


def _strip_params(nodeid: str) -> str:
    return _PARAMS.sub("", nodeid)


def covering_nodeid(tests: Sequence[FlakyTest]) -> str:
    """The narrowest node id (module, class or test) that covers all ``tests``."""
    parts = [_strip_params(t.nodeid).split("::") for t in tests]
    common: list[str] = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "::".join(common) or tests[0].nodeid.split("::")[0]


def shared_marker_refusal(selected: Sequence[FlakyTest], every_test: Sequence[FlakyTest]) -> str | None:
    """Why the markers of ``selected`` may not go, if one also covers tests outside it."""
    chosen = {t.key for t in selected}
    for test in selected:
        for marker in test.markers:
            key = marker_key(test, marker)
            covered = [t for t in every_test if any(marker_key(t, m) == key for m in t.markers)]
            others = [t for t in covered if t.key not in chosen]
            if not others:
                continue
            names = ", ".join(t.nodeid for t in others[:5])
            if len(others) > 5:
                names += f" and {len(others) - 5} more"
            where = f"{marker.path}:{marker.line}"
            return (
                f"The marker `{marker.source.strip()}` at {where} ({marker.scope} level) also covers "
                f"{len(others)} other test(s): {names}. Give `{covering_nodeid(covered)}` to remove it "
                f"for all {len(covered)} tests; each is verified first."
            )
    return None


def foreign_marker_refusal(selected: Sequence[FlakyTest]) -> str | None:
    """A class or module marker written in another file (a base class) cannot be removed here."""
    for test in selected:
        for marker in test.markers:
            if marker.scope in (MarkerScope.CLASS, MarkerScope.MODULE) and marker.path != test.path:
                return (
                    f"{test.nodeid} inherits its marker `{marker.source.strip()}` from {marker.path}:{marker.line}; "
                    "flaketui removes markers only from the test's own file. Remove it there by hand, "
                    "or give the node id of the tests in that file."
                )
    return None


def markers_by_file(selected: Sequence[FlakyTest]) -> dict[str, list[Marker]]:
    """The markers to remove, grouped by the file the removal edits (the tests' own files)."""
    files: dict[str, dict[tuple[str, ...], Marker]] = {}
    for test in selected:
        for marker in test.markers:
            # A function decorator is edited where the test is, even if it names an alias
            # defined elsewhere (that definition stays: other tests may use it).
            path = test.path if marker.scope in (MarkerScope.FUNCTION, MarkerScope.PARAM) else marker.path
            files.setdefault(path, {}).setdefault(marker_key(test, marker), marker)
    return {path: list(found.values()) for path, found in files.items()}


def unified_diff(path: str, before: bytes | None, after: bytes | None) -> str:
    """A ``git diff``-like unified diff of one file, line endings shown as they are."""
    old = (before or b"").decode("utf-8", errors="surrogateescape").splitlines(keepends=True)
    new = (after or b"").decode("utf-8", errors="surrogateescape").splitlines(keepends=True)
    lines = difflib.unified_diff(
        old,
        new,
        fromfile=f"a/{path}" if before is not None else "/dev/null",
        tofile=f"b/{path}" if after is not None else "/dev/null",
    )
    text = ""
    for line in lines:
        text += line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class RootCause:
    category: Category
    #: ``decided by the team``, ``suggested, 80% confidence``...
    source: str
    evidence: tuple[Evidence, ...] = ()
    note: str = ""


def choose_root_cause(
    chosen: Category | None,
    decisions: Sequence[Triage],
    diagnoses: Sequence[Diagnosis],
    *,
    diagnosed: bool = True,
    before_fix: bool = False,
) -> RootCause:
    """What the message names as the cause: the category given when committing, else the
    team's decision, else the best-supported suggestion; evidence for it comes first."""
    notes = "; ".join(dict.fromkeys(d.note for d in decisions if d.note))
    if chosen is not None:
        category, source = chosen, "chosen when committing"
    elif any(d.category for d in decisions):
        categories = Counter(d.category for d in decisions if d.category)
        category = categories.most_common(1)[0][0]
        by = dict.fromkeys(str(d.decided_by or "user") for d in decisions if d.category is category)
        source = f"decided by {' and '.join(by)}"
    else:
        suggestions = [d.suggestion for d in diagnoses if d.suggestion.category is not Category.UNKNOWN]
        if suggestions:
            best = max(suggestions, key=lambda s: s.confidence)
            category, source = best.category, f"suggested, {best.confidence:.0%} confidence"
            if before_fix:
                source += ", from the code as it was before this commit"
        else:
            category = Category.UNKNOWN
            source = "the code shows no likely cause" if diagnosed and diagnoses else "no decision or diagnosis"
    evidence = sorted(
        (e for d in diagnoses for e in d.evidence), key=lambda e: (e.category is not category, -e.weight)
    )
    return RootCause(category, source, tuple(evidence), notes)


def outside_changes(verifications: Iterable[Verification], committed: Iterable[str]) -> list[str]:
    """Uncommitted paths present while the tests ran that the commit leaves out."""
    left_out = {p for v in verifications for p in v.dirty_paths} - set(committed)
    return sorted(left_out)


def verification_gate(test: FlakyTest, verification: Verification | None) -> str | None:
    """Why ``verification`` does not allow removing the marker of ``test``, if it does not."""
    if verification is None:
        return f"{test.nodeid} has not been verified."
    if verification.verdict is not Verdict.STABLE:
        return f"{test.nodeid} is not stable: {verification.verdict}, {verification.summary}."
    if verification.runs < verification.runs_requested:
        return (
            f"The verification of {test.nodeid} stopped after {verification.runs} of "
            f"{verification.runs_requested} runs."
        )
    return None


def message(
    tests: Sequence[FlakyTest],
    target: str,
    cause: RootCause,
    verifications: Mapping[TestKey, Verification],
    outside: Sequence[str],
    *,
    unverified: bool,
    template: str | None = None,
) -> str:
    """The commit message: subject, body (cause, evidence, verification), then trailers."""
    evidence = cause.evidence[:3]
    evidence_text = "\n".join(f"  {e.path}:{e.line}: {e.message}" for e in evidence)
    if unverified:
        verification_text = "Not verified: committed with --unverified; the marker was removed on trust."
        verified_trailer = "no"
    else:
        found = [verifications[t.key] for t in tests if t.key in verifications]
        verification_text = _verification_text(tests, found)
        passed, runs = sum(v.passed for v in found), sum(v.runs for v in found)
        modes = ",".join(dict.fromkeys(str(v.mode) for v in found))
        verified_trailer = f"{passed}/{runs} {modes}"
    outside_text = f"Verified with uncommitted changes in: {', '.join(outside)}" if outside and not unverified else ""
    if cause.category is Category.UNKNOWN:
        root_cause = f"unknown ({cause.source})"
    else:
        root_cause = f"{cause.category} ({cause.category.label}; {cause.source})"
    if cause.note:
        root_cause += f"\n  note: {cause.note}"
    values = {
        "nodeid": target,
        "tests": "\n".join(f"  {t.nodeid}" for t in tests),
        "category": str(cause.category),
        "root_cause": root_cause,
        "evidence": evidence_text,
        "verification": verification_text,
        "python": _pythons(verifications.values()),
        "outside": outside_text,
    }
    lines = []
    for line in (template or DEFAULT_TEMPLATE).splitlines():
        # A line that is only an empty placeholder goes, so it leaves no stray blank line.
        alone = re.fullmatch(r"\s*\$\{?(\w+)\}?\s*", line)
        if alone and values.get(alone.group(1)) == "":
            continue
        lines.append(string.Template(line).safe_substitute(values).rstrip())
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    trailers = [
        f"{CATEGORY_TRAILER}: {cause.category}",
        f"{VERIFIED_TRAILER}: {verified_trailer}",
        f"{TARGET_TRAILER}: {target}",
    ]
    return body + "\n\n" + "\n".join(trailers) + "\n"


def _verification_text(tests: Sequence[FlakyTest], found: Sequence[Verification]) -> str:
    if not found:
        return "Verification: none recorded."
    python = _pythons(found)
    suffix = f" ({python})" if python else ""
    if len(found) == 1:
        return f"Verification: {found[0].summary}{suffix}."
    lines = [f"Verification of {len(found)} tests{suffix}:"]
    lines += [f"  {v.nodeid}: {v.summary}" for v in found]
    return "\n".join(lines)


def _pythons(verifications: Iterable[Verification]) -> str:
    """``Python 3.11.7, pytest 8.4.2``: the versions, without the interpreter's path."""
    found = []
    for v in verifications:
        versions = re.findall(r"(?:Python|pytest) \d[\w.+-]*", v.python)
        found.append(", ".join(versions) if versions else f"python {v.python}" if v.python else "")
    return "; ".join(p for p in dict.fromkeys(found) if p)


def trailers(text: str) -> dict[str, str]:
    """``Key: value`` lines of a commit message's last paragraph."""
    last = text.strip().split("\n\n")[-1]
    found = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Flaky-"):
            found[key] = value.strip()
    return found


def undo_message(fix_sha: str, fix_subject: str, target: str) -> str:
    return (
        f"test: restore flaky marker on {target}\n\n"
        f"This undoes the marker removal of commit {fix_sha[:12]} ({fix_subject}).\n"
        "The rest of that commit (the fix) stays.\n\n"
        f"{UNDOES_TRAILER}: {fix_sha}\n"
        f"{TARGET_TRAILER}: {target}\n"
    )


def restore_pairs(selected: Sequence[FlakyTest]) -> list[tuple[FlakyTest, Marker]]:
    """One (test, marker) per removed marker: what undo needs to put each back once."""
    pairs: dict[tuple[str, ...], tuple[FlakyTest, Marker]] = {}
    for test in selected:
        for marker in test.markers:
            pairs.setdefault(marker_key(test, marker), (test, marker))
    return list(pairs.values())


def pairs_to_json(pairs: Sequence[tuple[FlakyTest, Marker]]) -> str:
    """The removed markers of a fix commit, for undo to find again (stored in the record)."""
    return json.dumps(
        [
            {
                "path": test.path,
                "test_name": test.name,
                "class_name": test.class_name,
                "nodeid": test.nodeid,
                "test_line": test.line,
                "marker": marker.to_json(),
            }
            for test, marker in pairs
        ]
    )


@dataclass(frozen=True)
class RemovedMarker:
    path: str
    test_name: str
    class_name: str | None
    nodeid: str
    marker: Marker
    #: The ``def`` line when the marker was removed: puts a decorator back in its old place.
    test_line: int | None = None


def pairs_from_json(text: str) -> list[RemovedMarker]:
    return [
        RemovedMarker(
            item["path"],
            item["test_name"],
            item["class_name"],
            item["nodeid"],
            Marker.from_json(item["marker"]),
            item.get("test_line"),
        )
        for item in json.loads(text)
    ]
