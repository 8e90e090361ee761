"""A duration measured with the wall clock: ``start = time.time()`` ... ``time.time() - start``.
The wall clock is set while the test runs (NTP steps it back or forth) and on some systems it
ticks only every 15 ms, so an interval comes out negative, zero, or a jump long. The test keeps
every assertion and measures with ``time.perf_counter()``, which never goes back and has the
finest resolution.

Only where every wall-clock reading of the test is used for intervals between its own readings
(``end - start``, ``time.time() - start``, ``end > start``): a reading compared with a timestamp
the code under test took, or handed to it, is a point in time, and is left alone.
"""

from __future__ import annotations

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import add_imports, change_function, dotted, visit_function
from flaketui.remedies._model import Context, Declined, Proposal


def _is_wall(node: cst.CSTNode, names: dict[str, str]) -> bool:
    if not isinstance(node, cst.Call) or node.args:
        return False
    name = dotted(node.func) or ""
    head, _, rest = name.partition(".")
    return f"{names.get(head, head)}.{rest}".rstrip(".") == "time.time"


class _Uses(cst.CSTVisitor):
    """Whether every wall-clock reading serves an interval between the test's own readings."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.stamps: set[str] = set()
        self.stack: list[cst.CSTNode] = []
        self.intervals = 0
        self.escapes = 0

    def _own(self, node: cst.CSTNode) -> bool:
        return _is_wall(node, self.names) or isinstance(node, cst.Name) and node.value in self.stamps

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Assign) and _is_wall(node.value, self.names):
            targets = [t.target for t in node.targets]
            if len(targets) == 1 and isinstance(targets[0], cst.Name):
                self.stamps.add(targets[0].value)
                self.stack.append(node)
                return False  # the reading itself; its uses are checked where they are
        if self.stack and self._own(node) and not (isinstance(self.stack[-1], cst.AssignTarget)):
            self._judge(node, self.stack[-1])
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()

    def _judge(self, node: cst.CSTNode, parent: cst.CSTNode) -> None:
        if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Subtract):
            if self._own(parent.left) and self._own(parent.right):
                self.intervals += 1
                return
        if isinstance(parent, cst.ComparisonTarget) and len(self.stack) > 1:
            comparison = self.stack[-2]
            if isinstance(comparison, cst.Comparison) and self._own(comparison.left) and all(
                self._own(c.comparator) for c in comparison.comparisons
            ):
                self.intervals += 1
                return
        if isinstance(parent, cst.Comparison) and all(self._own(c.comparator) for c in parent.comparisons):
            self.intervals += 1
            return
        self.escapes += 1  # handed on, stored, or compared with a time the code took


class _PerfCounter(cst.CSTTransformer):
    def __init__(self, names: dict[str, str], call: str) -> None:
        self.names = names
        self.call = call
        self.count = 0

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if _is_wall(original, self.names):
            self.count += 1
            return cst.parse_expression(self.call)
        return updated


@on_test("clock.perf_counter")
def propose_perf_counter(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    uses = _Uses(loaded.names)
    loaded.function.visit(uses)
    if not uses.intervals or uses.escapes:
        return []
    imports: list[tuple[str, str | None]]
    if loaded.names.get("time", "time") == "time":
        call, imports = "time.perf_counter()", [("time", None)]
    elif loaded.names.get("perf_counter", "time.perf_counter") == "time.perf_counter":
        call, imports = "perf_counter()", [("time", "perf_counter")]
    else:
        return [Declined("clock.perf_counter", "time and perf_counter both name something else in the test module")]
    rewrite = _PerfCounter(loaded.names, call)
    new = visit_function(loaded.function, rewrite)
    module = add_imports(change_function(loaded.module, loaded.function, lambda _f: new), imports)
    why = (
        f"{ctx.target.name} measures an interval with the wall clock, which is set while tests run (NTP steps it) "
        "and on some systems ticks only every 15 ms: the interval comes out negative, zero or a jump long. "
        "time.perf_counter() never goes back and has the finest resolution; every assertion stays as it is."
    )
    return [proposal(Category.TIME, "clock.perf_counter", "Measure the interval with perf_counter()", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
