"""Where a compared value comes from, as far as the code shows: float arithmetic, or not.

``float.approx`` may only turn ``==`` into ``pytest.approx`` where rounding is the cause: a value
float arithmetic computed (a sum of floats, a division, ``float()``, arithmetic on a float
literal). A count, a length, an int, a string, a value read back as it was set, a time read
from a clock (a timing cause, not rounding) or a value the test already rounds to a few digits
(its own tolerance, tighter than approx's) keeps its exact comparison. The flow is followed
through the test's own assignments, its module's constants, and the returns of the project's
functions the test calls (by name, one level): what cannot be seen counts as not float.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence

import libcst as cst

from flaketui.remedies._cst import dotted


class Kind(enum.IntEnum):
    """What a value is, the strongest first: a join of alternatives takes the smallest."""

    CLOCK = 0  # a time read from a clock
    ROUNDED = 1  # round(x, n), x.round(n): the test chose its own tolerance
    TEXT = 2
    OPAQUE = 3  # nothing visible says what it is
    SUMMED = 4  # arithmetic or a sum over values the code does not show
    FLOAT = 5  # float arithmetic
    LITERAL = 6  # a float literal, read as it was written
    EXACT = 7  # ints, lengths, counts, booleans


_CLOCK_TAILS = frozenset({"time", "monotonic", "perf_counter", "process_time", "thread_time", "now", "utcnow",
                          "time_ns", "monotonic_ns", "perf_counter_ns", "timestamp", "elapsed"})  # fmt: skip
_ROUNDING = frozenset({"round", "around", "floor", "ceil", "trunc", "quantize"})
_EXACT_CALLS = frozenset({"len", "int", "count", "index", "bool", "ord", "hash", "id", "isinstance", "hasattr"})
_TEXT_CALLS = frozenset({"str", "repr", "format", "join", "strip", "lower", "upper", "decode", "hex"})
_SUMS = frozenset({"sum", "fsum", "mean", "fmean", "median", "average", "nansum", "nanmean", "prod", "cumsum"})

#: What a function returns, with its own assignments and its module's constants.
Returned = tuple[cst.BaseExpression, Mapping[str, cst.BaseExpression], Mapping[str, cst.BaseExpression]]
#: The returns of the project's functions or methods of that name (empty: none found).
Returns = Callable[[str], Sequence[Returned]]


def assignments(node: cst.CSTNode) -> dict[str, cst.BaseExpression]:
    """Each plain name assigned in ``node`` -> the value it was last assigned."""
    found: dict[str, cst.BaseExpression] = {}

    class _Assigns(cst.CSTVisitor):
        def visit_Assign(self, assign: cst.Assign) -> None:
            for target in assign.targets:
                if isinstance(target.target, cst.Name):
                    found[target.target.value] = assign.value

        def visit_AnnAssign(self, assign: cst.AnnAssign) -> None:
            if isinstance(assign.target, cst.Name) and assign.value is not None:
                found[assign.target.value] = assign.value

    node.visit(_Assigns())
    return found


def constants(module: cst.Module) -> dict[str, cst.BaseExpression]:
    """Names assigned at a module's top level -> their value."""
    lines = [s for line in module.body if isinstance(line, cst.SimpleStatementLine) for s in line.body]
    return {name: value for s in lines if isinstance(s, cst.Assign | cst.AnnAssign) for name, value in assignments(s).items()}


def returns_of(function: cst.FunctionDef) -> list[cst.BaseExpression]:
    found: list[cst.BaseExpression] = []

    class _Returns(cst.CSTVisitor):
        def visit_FunctionDef(self, inner: cst.FunctionDef) -> bool:
            return inner is function  # a nested function's returns are not this one's

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Return(self, node: cst.Return) -> None:
            if node.value is not None:
                found.append(node.value)

    function.visit(_Returns())
    return found


def join(kinds: Iterable[Kind]) -> Kind:
    """Alternatives (an if's branches, a function's returns, a container's items)."""
    return min(kinds, default=Kind.OPAQUE)


def _arithmetic(left: Kind, right: Kind) -> Kind:
    # Arithmetic on a rounded value rounds again: it is float arithmetic, not the test's tolerance.
    left, right = (Kind.FLOAT if k is Kind.ROUNDED else k for k in (left, right))
    worst = min(left, right)
    if worst <= Kind.OPAQUE:
        return worst
    if Kind.FLOAT in (left, right) or Kind.LITERAL in (left, right):
        return Kind.FLOAT
    return Kind.EXACT if left == right == Kind.EXACT else Kind.SUMMED


class Flow:
    """Classifies expressions of one function: its assignments, its module's constants."""

    def __init__(self, local: Mapping[str, cst.BaseExpression], module: Mapping[str, cst.BaseExpression],
                 returns: Returns, depth: int = 0) -> None:  # fmt: skip
        self.local = local
        self.module = module
        self.returns = returns
        self.depth = depth
        self._following: set[str] = set()

    def kind(self, node: cst.BaseExpression) -> Kind:
        if isinstance(node, cst.Await):
            return self.kind(node.expression)
        if isinstance(node, cst.Float):
            return Kind.LITERAL
        if isinstance(node, cst.Integer):
            return Kind.EXACT
        if isinstance(node, cst.SimpleString | cst.FormattedString | cst.ConcatenatedString):
            return Kind.TEXT
        if isinstance(node, cst.UnaryOperation):
            return Kind.EXACT if isinstance(node.operator, cst.Not) else self.kind(node.expression)
        if isinstance(node, cst.Comparison | cst.BooleanOperation):
            return Kind.EXACT
        if isinstance(node, cst.Name):
            return self._name(node.value)
        if isinstance(node, cst.BinaryOperation):
            left, right = self.kind(node.left), self.kind(node.right)
            if isinstance(node.operator, cst.Divide):
                return min(left, right) if min(left, right) <= Kind.TEXT else Kind.FLOAT
            return _arithmetic(left, right)
        if isinstance(node, cst.IfExp):
            return join([self.kind(node.body), self.kind(node.orelse)])
        if isinstance(node, cst.GeneratorExp | cst.ListComp | cst.SetComp):
            return self.kind(node.elt)
        if isinstance(node, cst.List | cst.Tuple | cst.Set):
            return join(self.kind(e.value) for e in node.elements if isinstance(e, cst.Element))
        if isinstance(node, cst.Subscript):
            return self._item(node.value)
        if isinstance(node, cst.Call):
            return self._call(node)
        return Kind.OPAQUE

    def _name(self, name: str) -> Kind:
        if name in ("True", "False"):
            return Kind.EXACT
        value = self.local.get(name, self.module.get(name))
        if value is None or name in self._following:
            return Kind.OPAQUE
        self._following.add(name)
        try:
            return self.kind(value)
        finally:
            self._following.discard(name)

    def _item(self, container: cst.BaseExpression) -> Kind:
        """``PRICES[item]``: an item of a container literal the code shows."""
        while isinstance(container, cst.Name) and container.value not in self._following:
            value = self.local.get(container.value, self.module.get(container.value))
            if value is None:
                return Kind.OPAQUE
            container = value
        if isinstance(container, cst.Dict):
            return join(self.kind(e.value) for e in container.elements if isinstance(e, cst.DictElement))
        if isinstance(container, cst.List | cst.Tuple):
            return self.kind(container)
        return Kind.OPAQUE

    def _call(self, call: cst.Call) -> Kind:
        name = dotted(call.func) or ""
        tail = name.rsplit(".", 1)[-1] if name else (call.func.attr.value if isinstance(call.func, cst.Attribute) else "")
        if tail in _CLOCK_TAILS or "time" in tail.lower():
            return Kind.CLOCK
        if tail in _ROUNDING:
            return Kind.ROUNDED
        if tail in _EXACT_CALLS:
            return Kind.EXACT
        if tail in _TEXT_CALLS:
            return Kind.TEXT
        if tail == "float":
            return Kind.FLOAT
        if tail in _SUMS:
            values = [self.kind(a.value) for a in call.args if a.keyword is None][:1]
            if isinstance(call.func, cst.Attribute) and not values:  # ``array.sum()``
                values = [self.kind(call.func.value)]
            summed = join(values)
            if summed is not Kind.ROUNDED and summed <= Kind.OPAQUE:
                return summed if summed < Kind.OPAQUE else Kind.SUMMED
            return _arithmetic(summed, summed)
        if self.depth >= 1 or not tail:
            return Kind.OPAQUE
        found = self.returns(tail)
        if not found:
            return Kind.OPAQUE
        return join(Flow(local, module, self.returns, self.depth + 1).kind(value) for value, local, module in found)

    def rounding(self, node: cst.BaseExpression, seen: set[str] | None = None) -> cst.Call | None:
        """The rounding call the compared value comes out of, through the calls that carry it
        (``await c.compute(c.persist(y))`` with ``y = x.sum().round(2)``); arithmetic after a
        rounding rounds again, and stops the search."""
        seen = set() if seen is None else seen
        while True:
            if isinstance(node, cst.Await):
                node = node.expression
            elif isinstance(node, cst.Name) and node.value in self.local and node.value not in seen:
                seen.add(node.value)
                node = self.local[node.value]
            elif isinstance(node, cst.Call):
                name = dotted(node.func) or (node.func.attr.value if isinstance(node.func, cst.Attribute) else "")
                if name.rsplit(".", 1)[-1] in ("round", "around"):
                    return node
                carried = [a.value for a in node.args if a.keyword is None]
                if isinstance(node.func, cst.Attribute):
                    carried.append(node.func.value)
                found = [r for r in (self.rounding(c, seen) for c in carried[:3]) if r is not None]
                return found[0] if found else None
            else:
                return None


def digits(call: cst.Call) -> int | None:
    """The number of digits ``round(x, n)`` or ``x.round(n)`` keeps, when written as a literal."""
    args = [a.value for a in call.args]
    function_form = dotted(call.func) == "round" or len(args) > 1  # round(x, n), np.round(x, n)
    value = (args[1] if len(args) > 1 else None) if function_form else (args[0] if args else None)
    if value is None:
        return 0
    return int(value.value) if isinstance(value, cst.Integer) else None
