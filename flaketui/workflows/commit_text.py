"""The text of a flaketui commit: the diff a plan shows, the message (root cause, evidence,
verification, trailers) and the undo message. Pure: models only; ``[tool.flaketui]
commit-template`` reshapes the message.
"""

from __future__ import annotations

import difflib
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flaketui.models import Category, Diagnosis, Evidence, FlakyTest, TestKey, Triage, Verification

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

#: A test no marker covers (found by CI history or a hunt): the commit is the fix alone.
UNMARKED_TEMPLATE = DEFAULT_TEMPLATE.replace("remove flaky marker from $nodeid", "fix flaky $nodeid (no marker to remove)")


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


def confirmed_order(cause: RootCause, polluters: Mapping[str, tuple[str, int]]) -> RootCause:
    """The cause once bisection confirmed a polluter (victim node id -> the polluter's, runs): a
    test that fails after that test and passes alone depends on order, whatever the code showed.
    A category the team decided or chose when committing stays; a suggestion gives way."""
    if not polluters or not (cause.source.startswith("suggested") or cause.category is Category.UNKNOWN):
        return cause
    found = [
        Evidence(
            Category.ORDER, "order.bisection", "", 0, 0,
            f"fails when {polluter} ran before it and passes alone ({runs} bisection runs)",
            f"restore in {polluter} what it changes", 1.0, where=victim, source="runs",
        )
        for victim, (polluter, runs) in polluters.items()
    ]  # fmt: skip
    named = ", ".join(dict.fromkeys(p for p, _ in polluters.values()))
    return RootCause(Category.ORDER, f"confirmed by bisection: it fails after {named}", (*found, *cause.evidence), cause.note)


def outside_changes(verifications: Iterable[Verification], committed: Iterable[str]) -> list[str]:
    """Uncommitted paths present while the tests ran that the commit leaves out."""
    left_out = {p for v in verifications for p in v.dirty_paths} - set(committed)
    return sorted(left_out)


def message(
    tests: Sequence[FlakyTest],
    target: str,
    cause: RootCause,
    verifications: Mapping[TestKey, Verification],
    outside: Sequence[str],
    *,
    unverified: bool,
    template: str | None = None,
    proof: str = "",
) -> str:
    """The commit message: subject, body (cause, evidence, verification), then trailers."""
    evidence = cause.evidence[:3]
    # Run evidence across modes names no line: it says which runs it comes from instead.
    evidence_text = "\n".join(f"  {f'{e.path}:{e.line}' if e.path else e.where}: {e.message}" for e in evidence)
    if unverified:
        verification_text = "Not verified: committed with --unverified; the marker was removed on trust."
        verified_trailer = "no"
    else:
        found = [verifications[t.key] for t in tests if t.key in verifications]
        verification_text = _verification_text(tests, found)
        if proof:
            verification_text = f"{proof}\n{verification_text}"
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


