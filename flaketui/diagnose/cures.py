"""What is the cure, not the cause: evidence a function's own code cancels.

A fixture that puts module state back after its ``yield`` (or a ``finally`` that does) is the
isolation fix, not a leak; randomness that a fuzz, chaos or property test needs is its
purpose, and a random payload compared with itself after a round trip cannot change the
outcome. Reported as causes, these would send a fix the wrong way, so they are dropped here,
once per function, after the walk.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from flaketui.diagnose.vocabulary import FRAMEWORK_TIMEOUTS

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionFacts, FunctionReader, Hit
    from flaketui.diagnose.resolve import Resolver

#: Draws that are the test's data only when the test does not need them to vary.
RANDOM_RULES = frozenset({"data.unseeded-random", "data.clock-seed", "data.no-seed", "data.uuid"})
#: Changes of process state that a teardown can put back.
RESTORABLE_RULES = frozenset({"fixture.environ-write", "fixture.environ-assign", "fixture.chdir", "fixture.import-state",
                              "fixture.module-attribute", "fixture.process-config"})
#: What a chaos test does to a randomly chosen victim.
CHAOS_CALLS = frozenset({"kill", "terminate", "crash", "restart", "interrupt", "close", "stop", "shutdown", "cancel",
                          "send_signal", "kill_worker", "remove_worker", "disconnect"})
_NEEDS_RANDOMNESS = re.compile(r"fuzz|chaos|stress|monkey|random_(kill|crash|failure|restart)|property|hypothesis",
                               re.IGNORECASE)
_PROPERTY_DECORATORS = re.compile(r"(^|\.)(given|example|settings|seed)$|^hypothesis\.")


_JOIN = re.compile(r"\.join\(\s*\)")
_EXPECTS_TIMEOUT = re.compile(r"\b(raises|assertRaises)\(\s*\(?[\w., ]*Timeout")
_WRITES_FILES = re.compile(r"\.(write_text|write_bytes|mkdir|touch|unlink)\(|\brmtree\(")
_TIMEOUT_BLOCK = re.compile(r"\bwith\b[^\n]*\b(timeout|fail_after|move_on_after|fail_at)\s*\(")


def prescan(facts: FunctionFacts, node: cst.FunctionDef, resolver: Resolver, text: str) -> None:
    """Facts the walk's predicates need before they reach the lines that say them, read from
    the function's text (a matcher search over its tree would cost as much as the walk)."""
    facts.joins_threads = bool(_JOIN.search(text))
    facts.expects_timeout = bool(_EXPECTS_TIMEOUT.search(text))
    facts.writes_files = bool(_WRITES_FILES.search(text))
    facts.decorator_strings = {id(s) for d in node.decorators for s in m.findall(d, m.SimpleString())}
    decorators = [resolver.qualify(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or ""
                  for d in node.decorators]
    facts.framework_timeout = any(FRAMEWORK_TIMEOUTS.match(name) for name in decorators) or bool(
        _TIMEOUT_BLOCK.search(text))


def apply(facts: FunctionFacts, node: cst.FunctionDef, resolver: Resolver, docstring: str = "") -> None:
    decorators = [resolver.qualify(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or ""
                  for d in node.decorators]
    needs_randomness = bool(_NEEDS_RANDOMNESS.search(facts.name) or _NEEDS_RANDOMNESS.search(docstring)) or any(
        _PROPERTY_DECORATORS.search(name) for name in decorators)
    kept = []
    for hit in facts.hits:
        if hit.rule.id in RANDOM_RULES and (needs_randomness or hit.line in facts.benign_random_lines):
            continue
        if hit.rule.id in RESTORABLE_RULES and _restored(hit, facts.restored):
            continue
        if hit.rule.id == "race.signal-timing" and 0 < facts.last_assert_line < hit.line:
            continue  # ``proc.terminate()`` after the last assert: cleanup, the outcome is decided
        kept.append(hit)
    facts.hits = kept


def _restored(hit: Hit, restored: set[str]) -> bool:
    key = restored_key(hit)
    if not key:
        return False
    return any(name == key or name.startswith(key + ".") or (key.startswith(name + ".") and name.count(".") >= 1)
               for name in restored)


def restored_key(hit: Hit) -> str:
    """What a hit changes, as its teardown would name it: ``os.environ``, ``settings.DEBUG``."""
    qualified = (hit.qualified or "").replace("()", "")
    if hit.rule.id.startswith("fixture.environ"):
        return "os.environ"
    if hit.rule.id == "fixture.import-state":
        return ".".join(qualified.split(".")[:2])
    return qualified


def random_use(reader: FunctionReader, node: cst.CSTNode) -> None:
    """A random value compared with itself after a round trip, or picking what a chaos test
    kills, cannot make the outcome differ: its draw is not the cause."""
    if isinstance(node, cst.Comparison) and any(isinstance(t.operator, cst.Equal) for t in node.comparisons):
        operands = [node.left, *(t.comparator for t in node.comparisons)]
        names = [o.value for o in operands if isinstance(o, cst.Name) and o.value in reader.facts.random_names]
    elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        attribute = node.func.attr.value
        if attribute in CHAOS_CALLS and isinstance(node.func.value, cst.Name):
            names = [node.func.value.value] if node.func.value.value in reader.facts.random_names else []
        elif attribute in CHAOS_CALLS and isinstance(node.func.value, cst.Call):
            names, start = [], reader.lines(node.func.value)[0]
            reader.facts.benign_random_lines.add(start)
        elif "equal" in attribute.lower() and "almost" not in attribute.lower():
            names = [a.value.value for a in node.args
                     if isinstance(a.value, cst.Name) and a.value.value in reader.facts.random_names]
        else:
            return
    else:
        return
    reader.facts.benign_random_lines.update(reader.facts.random_names[n] for n in names)
