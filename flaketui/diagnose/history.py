"""Evidence from the test's own history: what the commits that changed it after it was written say.

A flaky test whose fix already landed often keeps its marker (nobody removed it), and its code
then shows no cause at all: the fix took it away. The commit that changed the test's lines says
what was wrong ("fixed clock instead of the wall clock", "instead of assuming port 8799 is
free"); flaketui's own commits say it in a ``Flaky-Category:`` trailer. The commit that created
the test is no evidence (it describes the feature, not a flake). Standard library and models only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from flaketui.diagnose.notes import URL, VOCABULARY, negated
from flaketui.models import Category, Evidence, FlakyTest, LineChange

#: Words a fix's commit message uses that a comment rarely means the same way: a test that now
#: sets the environment "with monkeypatch" leaked it before; one that got its "own tmp_path" shared one.
#: Case-insensitive, compiled on first use like ``notes.VOCABULARY``.
_FIX_WORDS: tuple[tuple[Category, str], ...] = (
    (Category.FIXTURE, (r"\bmonkeypatch\b|\bisolat(e|ed|ion)\b|\brestor(e|es|ed|ing)\b|\bown tmp_?path\b"
                        r"|\bset(s|ting)? the environment\b")),
)
_TRAILER = re.compile(r"^Flaky-Category:\s*(\w+)\s*$", re.MULTILINE)
#: A subject that speaks of the tests, or of fixing something: "Webhook tests: make the receiver
#: answer 503 instead of assuming port 8799 is free". Refactors ("Apply Black", "Migrate to GitHub
#: Actions") touch many tests and name no cause of any of them.
_ABOUT_TESTS = re.compile(r"\btest(s|ing)?\b|\bfix(es|ed)?\b|flak|intermittent|sporadic|instead of|\bavoid\b"
                          r"|work ?around|deflake|stabili[sz]e|\brobust", re.IGNORECASE)
#: A subject that makes a test faster ("reduce timeout in test canvas") tunes it; it does not say it flaked.
_SPEED_ONLY = re.compile(r"^\W*(reduce|shorten|lower|decrease|speed up|faster|trim)\b", re.IGNORECASE)
#: A subject about the marker itself (its spelling, the plugin that reads it, adding or
#: removing it) says nothing of the cause, whatever else its words match ("pytest fixture").
_MARKER_ONLY = re.compile(r"\b(decorator|marker|mark(ed)? (as )?flaky|as flaky|rerunfailures|pytest-rerun|flaky\.flaky|mark\.flaky)\b"
                          r"|@flaky", re.IGNORECASE)
#: A message read as evidence weighs like a comment next to the marker; flaketui's own trailer
#: records a category someone confirmed.
WEIGHT = 0.6
TRAILER_WEIGHT = 0.8
#: Only the newest few changes speak for the test as it is now.
NEWEST = 5
#: A fix of one flaky test changes a few files; a commit over more is a sweep (style, a rename).
MAX_FILES = 5


def span(test: FlakyTest) -> tuple[int, int]:
    """The test's lines whose changes count: its decorators (the marker when it is one) to its end."""
    decorators = [m.line for m in test.markers if m.path == test.path and test.line - 8 <= m.line <= test.line]
    return min([test.line, *decorators]), max(test.line, test.end_line or test.line)


def history_evidence(test: FlakyTest, later: Sequence[LineChange]) -> list[Evidence]:
    """Evidence from the commits (newest first) that changed the test's lines after the one
    that wrote them."""
    start, _ = span(test)
    found: list[Evidence] = []
    for change in later[:NEWEST]:
        trailer = _TRAILER.search(change.body)
        if trailer is not None and trailer.group(1) in {c.value for c in Category if c is not Category.UNKNOWN}:
            found.append(_evidence(test.path, start, change, Category(trailer.group(1)), TRAILER_WEIGHT))
            continue
        # The subject only: bodies (pull-request descriptions) mention everything.
        if _MARKER_ONLY.search(change.subject) or _SPEED_ONLY.search(change.subject):
            continue  # "Replace @flaky.flaky decorator with pytest marker": the marker, not a cause
        if _ABOUT_TESTS.search(change.subject) and change.files <= MAX_FILES:
            # "git subrepo clone https://github.com/...": an address names no cause.
            found += [_evidence(test.path, start, change, category, WEIGHT)
                      for category in _named(URL.sub(" ", change.subject))]
    if len({e.category for e in found if e.weight < TRAILER_WEIGHT}) > 1:
        # Commits that name different causes say nothing certain about this test.
        found = [e for e in found if e.weight >= TRAILER_WEIGHT]
    return found


def _named(text: str) -> list[Category]:
    named: list[Category] = []
    for category, pattern in (*VOCABULARY, *_FIX_WORDS):
        match = re.search(pattern, text, re.IGNORECASE)
        if match is not None and not negated(text, match.start()) and category not in named:
            named.append(category)
    return named


def _evidence(path: str, line: int, change: LineChange, category: Category, weight: float) -> Evidence:
    subject = change.subject if len(change.subject) <= 120 else change.subject[:117] + "..."
    return Evidence(category, "history.later-change", path, line, line,
                    f'commit {change.sha[:7]} changed the test after it was written: "{subject}"',
                    "that change may be the fix already: verify the test, and if it is stable, remove the marker",
                    weight, f"commit {change.sha[:7]}", source="history")
