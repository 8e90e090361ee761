"""Ties broken differently: the test's expected order keeps equal items in insertion order
(``sorted`` is stable), while the project's heap or priority queue breaks ties by another field.

``queue.put((-job.priority, job.id, job))`` in the project and ``sorted(jobs, key=lambda job:
job.priority, reverse=True)`` in the test agree only when no two priorities are equal; with a
random id as tie-breaker the order of equal ones is chance. The remedy makes the test's key the
project's: ``key=lambda job: (-job.priority, job.id)``. Every item is still compared in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, project_modules, proposal
from flaketui.remedies._cst import change_function, code, dotted, line_of, parse, visit_function
from flaketui.remedies._model import Context, Declined, Proposal

#: Calls that push an entry onto a heap or a priority queue.
_PUSHES = frozenset({"put", "put_nowait", "heappush", "heappushpop", "heapreplace"})


@dataclass(frozen=True)
class _Order:
    """The project orders entries by ``field`` (descending when negated), ties by ``tie``."""

    field: str
    tie: str
    descending: bool
    where: str


def _entry_order(entry: cst.BaseExpression) -> tuple[str, str, bool] | None:
    """``(-p.priority, p.id, p)`` -> ("priority", "id", True)."""
    if not isinstance(entry, cst.Tuple) or len(entry.elements) < 3:
        return None
    first, second, last = entry.elements[0].value, entry.elements[1].value, entry.elements[-1].value
    if not isinstance(last, cst.Name):
        return None
    descending = isinstance(first, cst.UnaryOperation) and isinstance(first.operator, cst.Minus)
    if isinstance(first, cst.UnaryOperation):
        first = first.expression
    for node in (first, second):
        if not (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == last.value):
            return None
    assert isinstance(first, cst.Attribute) and isinstance(second, cst.Attribute)
    return first.attr.value, second.attr.value, descending


class _Pushes(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[cst.Call, tuple[str, str, bool]]] = []

    def visit_Call(self, node: cst.Call) -> None:
        name = (dotted(node.func) or "").rsplit(".", 1)[-1]
        if name in _PUSHES:
            for arg in node.args:
                order = _entry_order(arg.value)
                if order is not None:
                    self.found.append((node, order))


#: What ``_TieBreak`` rewrites needs a sort with a ``key=`` (cheaper to look for than the orders).
_SORTS_BY_KEY = re.compile(r"\bsort(?:ed)?\b.*\bkey\s*=", re.DOTALL)


def _project_orders(ctx: Context, names: dict[str, str]) -> dict[str, _Order]:
    """The ordered field -> how the project's code breaks its ties."""
    orders: dict[str, _Order] = {}
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        if re.search(rb"\b(?:" + "|".join(_PUSHES).encode() + rb")\(", source) is None:
            continue  # parsing costs; a module that never pushes has no order to learn
        module = parse(source)
        if module is None:
            continue
        visitor = _Pushes()
        module.visit(visitor)
        for call, (field, tie, descending) in visitor.found:
            orders.setdefault(field, _Order(field, tie, descending, f"{path}:{line_of(module, call)}"))
    return orders


class _TieBreak(cst.CSTTransformer):
    """``sorted(xs, key=lambda x: x.f, reverse=True)`` -> ``sorted(xs, key=lambda x: (-x.f, x.tie))``."""

    def __init__(self, orders: dict[str, _Order]) -> None:
        self.orders = orders
        self.done: list[_Order] = []

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if dotted(updated.func) not in ("sorted", "list.sort") and not (
            isinstance(updated.func, cst.Attribute) and updated.func.attr.value == "sort"
        ):
            return updated
        key = next((a for a in updated.args if a.keyword is not None and a.keyword.value == "key"), None)
        reverse = next((a for a in updated.args if a.keyword is not None and a.keyword.value == "reverse"), None)
        if key is None or not isinstance(key.value, cst.Lambda) or len(key.value.params.params) != 1:
            return updated
        param = key.value.params.params[0].name.value
        body = key.value.body
        if not (isinstance(body, cst.Attribute) and isinstance(body.value, cst.Name) and body.value.value == param):
            return updated
        order = self.orders.get(body.attr.value)
        reversed_ = reverse is not None and isinstance(reverse.value, cst.Name) and reverse.value.value == "True"
        if order is None or reverse is not None and not reversed_ or order.descending != reversed_:
            return updated  # another order than the project's: not a tie-break question
        first = f"-{param}.{order.field}" if order.descending else f"{param}.{order.field}"
        new_key = key.value.with_changes(body=cst.parse_expression(f"({first}, {param}.{order.tie})"))
        args = [a.with_changes(value=new_key) if a is key else a for a in updated.args if a is not reverse]
        last = args[-1]
        if last.comma is not cst.MaybeSentinel.DEFAULT and not isinstance(last.comma, cst.MaybeSentinel):
            args[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        self.done.append(order)
        return updated.with_changes(args=args)


@on_test("ties.project")
def propose_tie_break(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    if not _SORTS_BY_KEY.search(code(loaded.function)):
        return []  # nothing here sorts by a key: no need to read the project's orders
    orders = _project_orders(ctx, loaded.names)
    if not orders:
        return []
    rewrite = _TieBreak(orders)
    function = visit_function(loaded.function, rewrite)
    if not rewrite.done:
        return []
    order = rewrite.done[0]
    module = change_function(loaded.module, loaded.function, lambda _f: function)
    why = (
        f"The project breaks ties between equal {order.field} values by {order.tie} ({order.where}), while "
        f"{ctx.target.name} expects equal ones in the order it made them (sorted keeps ties as they come): "
        f"whenever two {order.field} values are equal the orders differ by chance. The expected order now "
        f"breaks ties by {order.tie} as the project does; every item is still compared in place."
    )
    return [proposal(Category.DATA, loaded.remedy, f"Break ties by {order.tie}, as the project does", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
