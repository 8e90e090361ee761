"""What a test's fixed sleeps are, once the whole function has been read; not always a wait.

- A window of wall time: ``sleep(0.35)``, assert the conversation is still open; ``sleep(0.4)``,
  assert it has timed out. The same name asserted one way after one sleep and the other way
  after a later one holds the code's timer to a stretch of wall time bounded on both sides;
  under load a sleep overshoots and the "not yet" side fails (``time.sleep-window``).
- Ordering: a function run by ``Thread(target=...)`` sleeps so a signal or the other thread goes
  first (``race.sleep-ordering``).
- Work: ``delayed(time.sleep)`` handed to a scheduler under ``with Profiler()``: the sleep is the
  work measured or spread over workers (``time.sleep-as-work``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from flaketui.diagnose.catalog import RULES
from flaketui.diagnose.vocabulary import POLLING_SLEEPS, TIMER_WORDS

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionReader, Hit

_NEGATIVE_LITERALS = ("0", "False", "None", "[]", "{}", "()")
_RULES = {r.id: r for r in RULES if r.id in {"time.sleep-window", "race.sleep-ordering", "time.sleep-as-work"}}


def read_sleeps(reader: FunctionReader, node: cst.FunctionDef, hit: type[Hit]) -> None:
    """What the sleeps of a test function are, once it has been read."""
    sleep_window(reader, node, hit)
    thread_body_sleeps(reader, node, hit)
    sleep_as_work(reader, node, hit)


def sleep_window(reader: FunctionReader, node: cst.FunctionDef, hit: type[Hit]) -> None:
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
    reader.facts.hits.append(hit(_RULES["time.sleep-window"], sleeps[0], sleeps[-1], None))


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


def thread_body_sleeps(reader: FunctionReader, node: cst.FunctionDef, hit: type[Hit]) -> None:
    """``def send(): time.sleep(0.2); sock.send(b"x")`` run by ``Thread(target=send)``: the sleep
    lets something else (the other thread, a signal) go first. That is ordering by sleep lengths,
    a race, not a wait for something to finish."""
    start, end = reader.lines(node)
    if not any(h.rule.id in POLLING_SLEEPS and start < h.line <= end for h in reader.facts.hits):
        return
    bodies = {a.value.value for c in m.findall(node.body, m.Call()) if isinstance(c, cst.Call)
              for a in c.args if a.keyword is not None and a.keyword.value in {"target", "function"}
              and isinstance(a.value, cst.Name)}
    spans = [reader.lines(d) for d in m.findall(node.body, m.FunctionDef())
             if isinstance(d, cst.FunctionDef) and d.name.value in bodies]
    inside = [h for h in reader.facts.hits if h.rule.id in POLLING_SLEEPS and any(a <= h.line <= b for a, b in spans)]
    for found in inside:
        reader.facts.hits.remove(found)
        reader.facts.hits.append(hit(_RULES["race.sleep-ordering"], found.line, found.end_line, found.qualified))


def sleep_as_work(reader: FunctionReader, node: cst.FunctionDef, hit: type[Hit]) -> None:
    """``f = delayed(time.sleep)`` run under ``with Profiler() as prof:``: the sleep is handed over
    as the work (not called to wait), and what the timer or profiler records about it (how long,
    which worker took it) depends on how fast workers start under load."""
    timed = any(isinstance(item.item, cst.Call) and TIMER_WORDS.search(reader.qualify(item.item.func) or "")
                for with_node in m.findall(node.body, m.With()) if isinstance(with_node, cst.With)
                for item in with_node.items)
    if not timed:
        return
    called = {id(c.func) for c in m.findall(node.body, m.Call()) if isinstance(c, cst.Call)}
    for found in m.findall(node.body, m.Name() | m.Attribute()):
        # Named, not called: ``delayed(time.sleep)``, ``[time.sleep] * 3``.
        if id(found) not in called and isinstance(found, cst.Name | cst.Attribute) \
                and (reader.qualify(found) or "").endswith("time.sleep"):
            start, end = reader.lines(found)
            reader.facts.hits.append(hit(_RULES["time.sleep-as-work"], start, end, "time.sleep"))
            return
