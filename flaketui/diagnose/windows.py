"""Sleeps that step through a window of wall time: ``sleep(0.35)``, assert the conversation is
still open; ``sleep(0.4)``, assert it has timed out. The sleeps are no waits for something to
finish (``async.fixed-sleep``): they measure time against a timer of the code under test, and
the same name asserted one way after one sleep and the other way after a later one holds the
code to a stretch of wall time bounded on both sides. Under load a sleep overshoots and the
"not yet" side fails. Standard library and libcst only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from flaketui.diagnose.rules import Rule
from flaketui.diagnose.vocabulary import POLLING_SLEEPS

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionReader, Hit

_NEGATIVE_LITERALS = ("0", "False", "None", "[]", "{}", "()")


def sleep_window(reader: FunctionReader, node: cst.FunctionDef, rule: Rule, hit: type[Hit]) -> None:
    """Replace the fixed sleeps of ``node`` by one ``time.sleep-window`` hit when they bound a window."""
    start, end = reader.lines(node)
    sleeps = sorted(h.line for h in reader.facts.hits if h.rule.id in POLLING_SLEEPS and start <= h.line <= end)
    if len(sleeps) < 2:
        return
    seen: dict[str, set[tuple[int, bool]]] = {}
    for found in m.findall(node.body, m.Assert()):
        assert isinstance(found, cst.Assert)
        line = reader.lines(found)[0]
        after = sum(1 for s in sleeps if s < line)
        if after == 0:
            continue
        negative, subject = _polarity(found.test)
        root = _root(subject)
        if root:
            seen.setdefault(root, set()).add((after, negative))
    if not any(len({a for a, _ in marks}) > 1 and len({n for _, n in marks}) > 1 for marks in seen.values()):
        return
    reader.facts.hits = [h for h in reader.facts.hits if not (h.rule.id in POLLING_SLEEPS and start <= h.line <= end)]
    reader.facts.hits.append(hit(rule, sleeps[0], sleeps[-1], None))


def _polarity(test: cst.BaseExpression) -> tuple[bool, cst.BaseExpression]:
    """``not x.done()`` / ``count == 0`` / ``x is None`` deny; anything else affirms."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return True, test.expression
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        value = cst.Module([]).code_for_node(target.comparator)
        if isinstance(target.operator, cst.Equal | cst.Is) and value in _NEGATIVE_LITERALS:
            return True, test.left
        if isinstance(target.operator, cst.NotIn):
            return True, test.comparisons[0].comparator
    return False, test


def _root(expression: cst.BaseExpression) -> str:
    """The first name an expression reads through (``task_1`` of ``task_1.exception()``)."""
    for name in m.findall(expression, m.Name()):
        assert isinstance(name, cst.Name)
        if name.value not in {"isinstance", "len", "self", "all", "any", "sum", "bool"}:
            return name.value
    return ""
