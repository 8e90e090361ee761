"""Whether an expression is a measured duration, and which blocks a timer measures.

``elapsed = time.monotonic() - start`` is plain; so are ``timer.seconds`` after ``with Timer()
as timer``, ``frame.time`` after the function slept (a profiler's measurement), ``stats.timings
["work"][0]`` and ``max(gaps)`` over differences of clock readings. Sleeps in a timed block stand
in for the work being measured: the assertion on the duration is the cause, not the sleep.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from flaketui.diagnose.vocabulary import (
    CLOCK_CALLS,
    CLOCK_SUMMARIES,
    CLOCK_WORDS,
    DEADLINE_WORDS,
    MEASURED_ATTRS,
    POLLING_SLEEPS,
    TIMER_WORDS,
)

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionReader


def loop_has_deadline(reader: FunctionReader, loop: cst.While) -> bool:
    """The loop checks a clock or a deadline/timeout (``assert time() < start + 5``), or a
    framework bounds the test's time (``@pytest.mark.timeout``, ``with fail_after(5)``)."""
    if reader.facts.framework_timeout:
        return True
    for call in m.findall(loop.test, m.Call(func=m.Attribute(attr=m.Name("poll") | m.Name("is_alive")))):
        return True  # ``while ... and proc.poll() is None``: the child's exit ends the wait
    for name in m.findall(loop, m.Name()):
        assert isinstance(name, cst.Name)
        if name.value in reader.clock_names or DEADLINE_WORDS.search(name.value):
            return True
    for call in m.findall(loop, m.Call()):
        assert isinstance(call, cst.Call)
        if CLOCK_CALLS.match(reader.qualify(call.func) or ""):
            return True
    return False



def is_clock_expression(reader: FunctionReader, node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Name):
        return node.value in reader.clock_names or bool(CLOCK_WORDS.search(node.value))
    if isinstance(node, cst.Attribute):
        if CLOCK_WORDS.search(node.attr.value):
            return True
        # ``timer.seconds`` of ``with Timer() as timer``; ``frame.time`` after a sleep.
        measured = isinstance(node.value, cst.Name) and node.value.value in reader.clock_names
        return (measured or reader.facts.measures_time) and bool(MEASURED_ATTRS.match(node.attr.value))
    if isinstance(node, cst.Subscript):
        return is_clock_expression(reader, node.value)  # ``stats.timings["work"][0]``
    if isinstance(node, cst.ListComp | cst.GeneratorExp):
        # ``[b - a for a, b in zip(stamps, stamps[1:])]``: differences of clock readings.
        return is_clock_expression(reader, node.elt) or any(
            isinstance(n, cst.Name) and n.value in reader.clock_names
            for f in comprehension_fors(node) for n in m.findall(f.iter, m.Name()))
    if isinstance(node, cst.Call):
        qualified = reader.qualify(node.func) or ""
        if CLOCK_CALLS.match(qualified) or (isinstance(node.func, cst.Name) and node.func.value in reader.clock_names):
            return True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "total_seconds":
            return is_clock_expression(reader, node.func.value)
        return any(is_clock_expression(reader, a.value) for a in node.args[:1]) and qualified in CLOCK_SUMMARIES
    if isinstance(node, cst.BinaryOperation):
        return is_clock_expression(reader, node.left) or is_clock_expression(reader, node.right)
    return False


def timers(reader: FunctionReader, node: cst.With) -> None:
    """``with Timer() as timer:`` measures the block: ``timer.seconds`` is a duration."""
    for item in node.items:
        if isinstance(item.item, cst.Call) and TIMER_WORDS.search(reader.qualify(item.item.func) or ""):
            reader.facts.measures_time = True
            reader.timed_blocks.add(id(node))
            if item.asname is not None and isinstance(item.asname.name, cst.Name):
                reader.clock_names.add(item.asname.name.value)


def comprehension_fors(node: cst.GeneratorExp | cst.ListComp | cst.SetComp) -> list[cst.CompFor]:
    fors = []
    current: cst.CompFor | None = node.for_in
    while current is not None:
        fors.append(current)
        current = current.inner_for_in
    return fors


def leave_def(reader: FunctionReader, node: cst.FunctionDef) -> None:
    """An inner function that returns a duration (``return loop.time() - started``) measures what
    it awaited: its sleeps stand in for work, and a call of it is a duration."""
    if node is reader.defs[0] or not any(
            isinstance(r, cst.Return) and r.value is not None and is_clock_expression(reader, r.value)
            for r in m.findall(node.body, m.Return())):
        return
    reader.clock_names.add(node.name.value)
    start, end = reader.lines(node)
    reader.facts.hits = [h for h in reader.facts.hits
                         if not (h.rule.id in POLLING_SLEEPS and start <= h.line <= end)]


def calls_within(expression: cst.BaseExpression) -> list[cst.Call]:
    """The calls an arithmetic, boolean or comparison expression is made of (``time() < start + 30``)."""
    if isinstance(expression, cst.Call):
        return [expression]
    if isinstance(expression, cst.BinaryOperation | cst.BooleanOperation):
        return calls_within(expression.left) + calls_within(expression.right)
    if isinstance(expression, cst.Comparison):
        return [c for e in (expression.left, *(t.comparator for t in expression.comparisons)) for c in calls_within(e)]
    if isinstance(expression, cst.UnaryOperation):
        return calls_within(expression.expression)
    return []


def sampled_count(test: cst.BaseExpression, origin: Callable[[cst.BaseExpression], str | None]) -> bool:
    """``assert profile["count"]`` / ``assert sampler.samples > 0``: a sampling profiler must have
    caught the code in the act, and how many samples fall in a stretch of wall time is load.
    ``origin`` names what a local was bound to (``hot = cluster.profile_of(...)``)."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.comparisons[0].operator, cst.GreaterThan) \
            and cst.Module([]).code_for_node(test.comparisons[0].comparator) == "0":
        test = test.left
    if not isinstance(test, cst.Subscript | cst.Attribute):
        return False
    text = (cst.Module([]).code_for_node(test) + " " + (origin(test.value) or "")).lower()
    return bool(_SAMPLED.search(text)) and bool(_COUNTED.search(text))


_SAMPLED = re.compile(r"profil|sampl")
_COUNTED = re.compile(r"count|samples|hits|ticks")
