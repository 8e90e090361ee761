"""What people wrote about a flaky test: comments around its marker and in its body, its
docstring, the marker's ``reason=``, and a ``condition=`` that limits the marker to a platform.

Those words are often the best evidence there is ("the worker may not have registered yet",
"fails on slow CI runners"). A comment that names a cause weighs in for that category; one
that only says the test is flaky is shown, with no weight. Standard library only: comments
are read with ``tokenize``, so this costs no libcst.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from collections.abc import Iterable

from flaketui.models import Category, Evidence, FlakyTest

#: Words that name a cause: regular expressions, matched case-insensitively, by category. A
#: comment may name several; the scorer weighs them with the code. Joined into one pattern a
#: category and compiled on first use, by ``re``'s own cache: a scan whose diagnoses all come
#: from the diagnosis cache reads no note and compiles none.
_CAUSE_WORDS: dict[Category, tuple[str, ...]] = {
    Category.RACE: (
        r"\brac(e|es|y|ing)\b(?! ?track)", "race condition", r"thread[- ]?safe", "concurren", "deadlock", "interleav",
        r"\bthreads?\b", r"\block(ing)? (order|contention)", r"in[- ]flight", "still running", "returns? before",
    ),
    Category.ASYNC: (
        r"time ?out(s|error)?\b", "timed out", r"\bhang(s|ing)?\b", r"\bwait(s|ing)? (for|until)", "not (yet )?ready",
        "event loop", r"\beventually\b", "heartbeat", "not (yet )?(started|registered|finished)", r"\bpoll(s|ing)?\b",
    ),
    # "Slow CI" and "under load" explain why a timing or a timeout trips, not which: no category.
    Category.TIME: (
        r"\btiming\b", "wall[- ]?clock", r"\bclock\b", "time ?zones?", r"\bdst\b", "midnight", "daylight saving",
        "time[- ]sensitive", r"\belapsed\b", r"\bdurations?\b", "clock resolution", "timer resolution",
    ),
    Category.EXTERNAL: (
        r"\bnetwork\b", "internet", r"\bconnection (refused|reset|error|closed|drops?)\b", "download",
        "rate[- ]limit", r"\bapi\b", r"\bremote\b", r"\bdns\b", "upstream", "github", r"\baws\b", r"\bs3\b",
        r"\bproxy\b", r"\bssl\b", "certificate", r"\bport\b", "service (is )?(down|unavailable)", r"\boffline\b",
        "third[- ]party",
    ),
    Category.ORDER: (
        "previous tests?", "other tests?", "earlier tests?", "another test", "runs? (alone|first|in isolation)",
        "test order(ing)?", "order[- ]dependen", "pollut", "leaks? (state|into)", "global state", "state (left|leaks?)",
        "pytest-randomly", "random order",
    ),
    Category.DATA: (
        r"\bseed(ed|s)?\b", "hash ?seed", "pythonhashseed", "hash (order|randomi[sz]ation)", "set order", "dict order",
        "floating[- ]point", "rounding", "random (data|values|inputs?)",
    ),
    Category.FIXTURE: (
        r"\bfixtures?\b", "teardown", "clean ?up", "leftover", "working directory", "environment variables?",
        "env vars?", "tmp ?dir", "temp(orary)? (file|dir)",
    ),
}
VOCABULARY: tuple[tuple[Category, str], ...] = tuple((c, "|".join(words)) for c, words in _CAUSE_WORDS.items())
_FLAKE_WORDS = re.compile(r"flak|sporadic|intermittent|sometimes|occasionally|now and then|from time to time"
                          r"|randomly fail|hopefully|not always|once in a while|\bxfail\b|rerun", re.IGNORECASE)
_NETWORK_ERRORS = re.compile(r"Connection\w*Error|ConnectError|HTTPError|URLError|SSLError|socket\.|gaierror"
                             r"|RemoteDisconnected|ProtocolError|ReadTimeout|ConnectTimeout|NetworkError")
#: A docstring that hedges speaks of what can go wrong, not only of what is tested.
_HEDGES = re.compile(r"\b(may|might|could|can't|cannot|not always|not yet|still|before|until|slow|under load|racy"
                     r"|depends on|relies on|assumes?|beware|careful|caution|warning|note:?)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(not|no|never|isn't|without)\s+(\w+\s+){0,2}$", re.IGNORECASE)
URL = re.compile(r"\b\w+://\S+")
_CODE_LIKE = re.compile(r"^\s*(\w+(\.\w+)*\s*(=|\(|\[)|assert\b|import\b|from\b|return\b|def\b|await\b)")
_PLATFORM = re.compile(r"mac|darwin|osx|win|linux|platform|os\.name|freebsd|aarch|arm|pypy|sys\.version|python_version"
                       r"|\bci\b|github_actions|azure|travis", re.IGNORECASE)

#: How much a note weighs, by where it was written: a reason given to the marker itself, a
#: comment next to the marker, the docstring, a comment inside the body (often narrates a step).
WEIGHTS = {"reason": 0.7, "marker": 0.6, "docstring": 0.5, "body": 0.35, "name": 0.25}


def comments(source: bytes) -> list[tuple[int, str]]:
    """Every comment of a module, by line; nothing when it does not tokenize."""
    found = []
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.COMMENT:
                found.append((token.start[0], token.string.lstrip("#").strip()))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return found
    return found


def notes_of(test: FlakyTest, written: list[tuple[int, str]], start: int, def_line: int, end: int,
             docstring: tuple[int, str] | None) -> list[Evidence]:
    """The notes about ``test``, whose function spans ``start..end`` (``start`` is its first
    decorator, ``def_line`` its ``def``); ``written`` are its module's ``comments()``."""
    found: list[Evidence] = []
    near = [(max(1, marker.line - 4), marker.end_line or marker.line) for marker in test.markers if marker.path == test.path]
    near.append((max(1, start - 4), def_line))
    for line, text in written:
        if _CODE_LIKE.match(text):
            continue  # code commented out, not prose
        if any(low <= line <= high for low, high in near):
            found += _classify(test.path, line, text, "marker", "a comment next to the marker")
        elif def_line < line <= end:
            found += _classify(test.path, line, text, "body", "a comment in the test")
    if docstring is not None:
        found += _classify(test.path, docstring[0], docstring[1], "docstring", "the test's docstring")
    # A name says what is tested, which hints at what can go wrong ("under_concurrency").
    found += [e for e in _classify(test.path, def_line, test.name.replace("_", " "), "name", "the test's name")
              if e.weight > 0]
    for marker in test.markers:
        arguments = marker.args_dict
        reason = _literal(arguments.get("reason", ""))
        if reason:
            found += _classify(marker.path, marker.line, reason, "reason", "the marker's reason")
        only = arguments.get("only_rerun", "") + " " + arguments.get("rerun_filter", "")
        if _NETWORK_ERRORS.search(only):
            # ``only_rerun=["ConnectionError"]``: the failures it forgives are the network's.
            found.append(Evidence(Category.EXTERNAL, "note.rerun-filter", marker.path, marker.line, marker.line,
                                  f"the marker reruns only on {_quote(only.strip())}: the failures it expects are "
                                  "connection errors", "read it: the network or a service is what fails",
                                  WEIGHTS["reason"], "the marker"))
        condition = arguments.get("condition") or (marker.positional[0] if marker.positional and
                                                   _PLATFORM.search(marker.positional[0]) else "")
        if condition:
            found.append(_platform_note(marker.path, marker.line, condition))
    return found


def _classify(path: str, line: int, text: str, kind: str, where: str) -> Iterable[Evidence]:
    quoted = _quote(text)
    text = URL.sub(" ", text)  # "since https://github.com/..." cites an issue; it names no cause
    named = False
    weight = WEIGHTS[kind]
    if kind == "docstring" and not (_FLAKE_WORDS.search(text) or _HEDGES.search(text)):
        # "Tests getting clock information from the worker" says what is tested, like a name.
        weight = WEIGHTS["name"]
    for category, pattern in VOCABULARY:
        match = re.search(pattern, text, re.IGNORECASE)
        if match is None or negated(text, match.start()):
            continue
        named = True
        yield Evidence(category, f"note.{kind}", path, line, line, f"{where} says {quoted}",
                       "read it: it often names the cause and the fix", weight, where)
    if not named and _FLAKE_WORDS.search(text):
        yield Evidence(Category.UNKNOWN, f"note.{kind}", path, line, line, f"{where} says {quoted}",
                       "read it: it may explain the flake", 0.0, where)


def negated(text: str, position: int) -> bool:
    """The words just before ``position`` deny what follows ("not a race", "without threads")."""
    return _NEGATED.search(text[:position]) is not None


def _platform_note(path: str, line: int, condition: str) -> Evidence:
    here = sys.platform
    message = (f"the marker applies only when {condition}: runs on this machine ({here}) may never meet that "
               "condition, so a stable verification here says little about it")
    return Evidence(Category.UNKNOWN, "note.platform-condition", path, line, line, message,
                    "verify on the platform the condition names (CI) before removing the marker", 0.0, "the marker")


def _literal(source: str) -> str:
    text = source.strip()
    if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]:
        return text[1:-1]
    if len(text) >= 3 and text[0] in "rbuRBU" and text[1] in "'\"":
        return text[2:-1]
    return ""


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[:117]}..."' if len(flat) > 120 else f'"{flat}"'
