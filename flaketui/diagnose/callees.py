"""Evidence from the project's own code that a test reaches through its calls: the rules that
mean the same there (``project.CALLEE_RULES``), docstrings that warn ("may still be running
when this returns; use ``wait_idle``"), and shared state updated without a lock while threads
run. Such evidence names the line to change: the test's call for a warning or a network call
(use what the docstring names, or mock the client there), the update itself for a race.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flaketui.diagnose.project import (
    CALLEE_RULES,
    DAMPING,
    DEPTH_FACTORS,
    NETWORK_RULES,
    Callee,
)
from flaketui.diagnose.scope import RULES_BY_ID, Piece
from flaketui.models import Category, Evidence

if TYPE_CHECKING:
    from flaketui.diagnose.scope import Scope

#: Docstrings that warn a caller about what is still going on when the function returns.
_RACE_WARNING = re.compile(
    r"(may|might|can|could) still be (running|in progress|processing|working)|still (be )?running when"
    r"|(may|might|can) return before|returns before"
    r"|in[- ]flight|\bracy\b|race condition|not (yet )?(finished|completed?|done|flushed|processed) when",
    re.IGNORECASE)
#: "Not thread-safe" warns only a caller that uses threads.
_THREAD_SAFETY = re.compile(r"not thread[- ]?safe|isn'?t thread[- ]?safe", re.IGNORECASE)
_ASYNC_WARNING = re.compile(r"does ?n[o']t wait|without waiting|fire[- ]and[- ]forget|returns immediately"
                            r"|in the background", re.IGNORECASE)
_ALTERNATIVE = re.compile(r"\buse\s+[`'\"]{0,2}([A-Za-z_][\w.]*)(\(\))?[`'\"]{0,2}", re.IGNORECASE)
_STARTS_THREADS = ("race.thread", "race.thread-joined", "race.pool", "race.timer-thread")


def callee_evidence(scope: Scope, callees: list[Callee]) -> list[Evidence]:
    from flaketui.diagnose.engine import _mitigated

    threads = any(h.rule.id.startswith(_STARTS_THREADS) for p in scope.pieces for h in p.facts.hits) or any(
        h.rule.id.startswith(_STARTS_THREADS) for c in callees for h in c.facts.hits)
    found: list[Evidence] = []
    for callee in callees:
        factor = DEPTH_FACTORS[callee.depth]
        where = f"called: {callee.facts.label} in {callee.facts.path}:{callee.facts.line}, from {callee.caller[0]}:{callee.caller[1]}"
        piece = Piece(callee.facts, callee.module, "callee", where, factor)
        for hit in callee.facts.hits:
            if hit.rule.id not in CALLEE_RULES or (callee.local and hit.rule.id in NETWORK_RULES):
                continue
            if _mitigated(hit, piece, scope) or (hit.rule.id == "external.socket" and _binds_locally(callee)):
                continue
            # Mock a client where the test calls it; other causes are fixed where they are.
            fix = callee.call_site if hit.rule.category is Category.EXTERNAL else ("", 0)
            detail = f"{hit.qualified}() in {callee.facts.label}" if hit.qualified else callee.facts.label
            found.append(Evidence(hit.rule.category, hit.rule.id, callee.facts.path, hit.line, hit.end_line,
                                  f"{detail}: {hit.rule.message}", hit.rule.fix,
                                  round(hit.rule.weight * factor * DAMPING.get(hit.rule.id, 1.0), 3), where, *fix))
        found += _warnings(callee, factor, where, threads)
        if threads:
            for attribute, line in callee.facts.unlocked_updates[:1]:
                rule = RULES_BY_ID["race.unlocked-update"]
                found.append(Evidence(rule.category, rule.id, callee.facts.path, line, line,
                                      f"self.{attribute} in {callee.facts.label}: {rule.message}", rule.fix,
                                      round(rule.weight * factor, 3), where))
    return found


def _warnings(callee: Callee, factor: float, where: str, threads: bool) -> list[Evidence]:
    if callee.facts.docstring is None:
        return []
    line, text = callee.facts.docstring
    race = _RACE_WARNING.search(text) or (_THREAD_SAFETY.search(text) if threads else None)
    waiting = _ASYNC_WARNING.search(text)
    if race is None and waiting is None:
        return []
    rule = RULES_BY_ID["async.warning-docstring" if race is None or callee.facts.is_async else "race.warning-docstring"]
    match = race or waiting
    assert match is not None
    sentence = _sentence(text, match.start())
    alternative = _ALTERNATIVE.search(text)
    fix = (f"call {alternative.group(1)}() instead, as the docstring of {callee.facts.label} says"
           if alternative else rule.fix)
    message = f"{callee.facts.label}(), called at {callee.call_site[0]}:{callee.call_site[1]}, warns: \"{sentence}\""
    return [Evidence(rule.category, rule.id, callee.facts.path, line, line, message, fix,
                     round(rule.weight * factor, 3), where, *callee.call_site)]


def _sentence(text: str, at: int) -> str:
    flat = " ".join(text.split())
    start = max(flat.rfind(". ", 0, at + 1) + 2 if flat.rfind(". ", 0, at + 1) >= 0 else 0, 0)
    end = flat.find(".", at)
    return flat[start:end + 1 if end >= 0 else len(flat)][:200]


def _binds_locally(callee: Callee) -> bool:
    """``open_port()``: a socket bound to ask the system for a free port (or to serve here),
    never connected anywhere, reaches no other machine."""
    names = [qualified.rsplit(".", 1)[-1] for qualified, _, _ in callee.facts.calls]
    return "bind" in names and not any(n in {"connect", "connect_ex", "create_connection", "sendto"} for n in names)
