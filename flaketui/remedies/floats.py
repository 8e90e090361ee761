"""Floats compared exactly after arithmetic: compare with ``pytest.approx``.

``0.1 + 0.2 == 0.3`` is false; a sum whose order changes (a set, threads, a dict built in
another order) rounds differently from run to run. ``assert total == 0.3`` becomes
``assert total == pytest.approx(0.3)``: the same comparison, at float precision, and so does
unittest's ``self.assertEqual(total, 0.3)`` (``assertEqual`` compares with ``==``). Only where
``remedies/floatflow`` sees float arithmetic behind one side: a value read back as it was set,
a count, a string or a clock's time keeps its exact comparison, and so does a value the test
rounds itself (``round(x, 2)`` allows 0.01; approx's default, relative 1e-6, would allow ±8 at
8,000,000: a loosened assertion). The diagnosis' float-literal rule is no evidence of arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, project_modules, proposal
from flaketui.remedies._cst import add_imports, change_function, code, parse, top_level_functions, visit_function
from flaketui.remedies._model import Context, Declined, Proposal
from flaketui.remedies.floatflow import Flow, Kind, Returned, assignments, constants, digits, returns_of


class _Approx(cst.CSTTransformer):
    def __init__(self, shallow: Flow, deep: Flow) -> None:
        self.done = 0
        #: Why a float compared exactly keeps its comparison (a clock, the test's own rounding).
        self.reasons: list[str] = []
        self.shallow, self.deep = shallow, deep

    def _rounded_by_float_arithmetic(self, left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
        """Whether approx compares these the same at float precision: one side float arithmetic
        computed, neither a count, a string, a clock's time nor a value the test rounds itself."""
        kinds = {self.shallow.kind(left), self.shallow.kind(right)}
        if kinds & {Kind.TEXT, Kind.EXACT}:
            return False  # ints, lengths and strings are exact
        for side, other in ((left, right), (right, left)):
            call = self.shallow.rounding(side)
            if call is not None:
                self.reasons.append(_rounded(call, _literal(self.shallow, other)))
                return False
        if Kind.OPAQUE in kinds and not kinds & {Kind.CLOCK, Kind.ROUNDED, Kind.TEXT, Kind.EXACT}:
            kinds = {self.deep.kind(left), self.deep.kind(right)}  # the project's functions, only when needed
        if Kind.CLOCK in kinds:
            self.reasons.append("a time read from a clock is compared: a timing cause, not float rounding")
            return False
        if kinds & {Kind.ROUNDED, Kind.TEXT, Kind.EXACT}:
            return False  # ints, lengths and strings are exact; a rounded value has its own tolerance
        if Kind.FLOAT in kinds:
            return True
        # A sum the code does not show equals a float like 0.3 only when it added floats.
        expected = _literal(self.shallow, left), _literal(self.shallow, right)
        return Kind.SUMMED in kinds and any(v is not None and not v.is_integer() for v in expected)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """``self.assertEqual(total, 0.3)`` -> ``self.assertEqual(total, pytest.approx(0.3))``."""
        func = updated.func
        if not (isinstance(func, cst.Attribute) and code(func.value) == "self" and func.attr.value in ("assertEqual", "assertNotEqual")):
            return updated
        if len(updated.args) < 2 or any(a.keyword is not None or a.star for a in updated.args[:2]) or "approx" in code(updated):
            return updated
        first, second = updated.args[0].value, updated.args[1].value
        if not self._rounded_by_float_arithmetic(first, second):
            return updated
        index = 0 if _constant(first) and not _constant(second) else 1
        args = list(updated.args)
        args[index] = args[index].with_changes(value=cst.Call(cst.parse_expression("pytest.approx"), [cst.Arg(args[index].value)]))
        self.done += 1
        return updated.with_changes(args=args)

    def leave_Assert(self, original: cst.Assert, updated: cst.Assert) -> cst.Assert:
        test = updated.test
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return updated
        target = test.comparisons[0]
        if not isinstance(target.operator, cst.Equal | cst.NotEqual):
            return updated  # only an exact comparison: a tolerance the test wrote stays its own
        left, right = test.left, target.comparator
        if "approx" in code(test) or any(isinstance(side, cst.SimpleString | cst.List | cst.Dict | cst.Tuple) for side in (left, right)):
            return updated
        if not self._rounded_by_float_arithmetic(left, right):
            return updated  # ``get_interval() == 0.001`` reads back a value: no arithmetic rounded it
        self.done += 1
        if _constant(left) and not _constant(right):
            wrapped = cst.Call(cst.parse_expression("pytest.approx"), [cst.Arg(left)])
            return updated.with_changes(test=test.with_changes(left=wrapped))
        wrapped = cst.Call(cst.parse_expression("pytest.approx"), [cst.Arg(right)])
        return updated.with_changes(test=test.with_changes(comparisons=[target.with_changes(comparator=wrapped)]))


def _constant(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return _constant(node.expression)
    return isinstance(node, cst.Float | cst.Integer) or (
        isinstance(node, cst.BinaryOperation) and _constant(node.left) and _constant(node.right)
    )


def _literal(flow: Flow, node: cst.BaseExpression) -> float | None:
    """The number a side is written as (``0.3``, ``-0.3``, a name assigned ``0.3``)."""
    if isinstance(node, cst.Name) and node.value in flow.local:
        node = flow.local[node.value]
    sign = 1.0
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node, sign = node.expression, -1.0
    if isinstance(node, cst.Float | cst.Integer):
        try:
            return sign * float(node.value.replace("_", ""))
        except ValueError:
            return None
    return None


def _rounded(call: cst.Call, expected: float | None) -> str:
    kept = digits(call)
    if kept is None:
        return "the value is rounded before the comparison: the test chose its own tolerance; approx would change it"
    reason = f"the value is rounded to {kept} decimals before the comparison: the test's own tolerance is {10.0 ** -kept:g}"
    if expected is not None:
        reason += f", and pytest.approx's default at {expected:g} would allow ±{abs(expected) * 1e-6:.3g}"
    return reason + "; approx would loosen it or change nothing"


def _project_returns(ctx: Context, loaded: Loaded) -> Callable[[str], Sequence[Returned]]:
    """The returns of the project's functions and methods of a name, in the modules the test imports."""
    cache: dict[str, list[Returned]] = {}

    def returns(name: str) -> Sequence[Returned]:
        if name not in cache:
            found: list[Returned] = []
            needle = f"def {name}(".encode()
            for path in project_modules(ctx, loaded.names):
                source = ctx.read(path) or b""
                module = parse(source) if needle in source else None  # parsing costs: a byte check first
                if module is None:
                    continue
                names = constants(module)
                found += [(value, assignments(function), names) for _, function in top_level_functions(module)
                          if function.name.value == name for value in returns_of(function)]  # fmt: skip
            cache[name] = found
        return cache[name]

    return returns


@on_test("float.approx")
def propose_approx(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    if "timing" in ctx.target.name or any(e.category is Category.TIME for e in ctx.evidence[:1]):
        return []  # a measured duration compared exactly is a timing problem, not rounding
    local, module_constants = assignments(loaded.function), constants(loaded.module)
    shallow = Flow(local, module_constants, lambda _name: (), depth=1)
    approx = _Approx(shallow, Flow(local, module_constants, _project_returns(ctx, loaded)))
    module = change_function(loaded.module, loaded.function, lambda f: visit_function(f, approx))
    if not approx.done:
        return [Declined(remedy, approx.reasons[0])] if approx.reasons else []
    module = add_imports(module, [("pytest", None)])
    why = (
        "The test compares floats computed by arithmetic with ==: rounding depends on the order the "
        "values are added in, which can change from run to run. pytest.approx compares them at float "
        "precision (relative 1e-6); the values compared are the same."
    )
    return [proposal(Category.DATA, remedy, "Compare the floats with pytest.approx", why, {loaded.path: (loaded.source, module)})]
