"""Floats compared exactly after arithmetic: compare with ``pytest.approx``.

``0.1 + 0.2 == 0.3`` is false; a sum whose order changes (a set, threads, a dict built in
another order) rounds differently from run to run. ``assert total == 0.3`` becomes
``assert total == pytest.approx(0.3)``: the same comparison, at float precision, and so does
unittest's ``self.assertEqual(total, 0.3)`` (``assertEqual`` compares with ``==``). A value the
test reads back unchanged is left alone, unless the diagnosis saw floats compared on that line
(it follows the value into the project's code, where the sum is).
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import add_imports, change_function, code, dotted, visit_function
from flaketui.remedies._model import Context, Declined, Proposal

_FLOAT_CALLS = frozenset({"sum", "math.fsum", "statistics.mean", "statistics.fmean", "mean", "float", "np.mean", "numpy.mean"})


class _Floaty(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Float(self, node: cst.Float) -> None:
        self.found = True

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self.found = True

    def visit_Call(self, node: cst.Call) -> bool:
        if dotted(node.func) in _FLOAT_CALLS:
            self.found = True
        # A float passed to another call (``urlopen(url, timeout=0.5)``) is an argument, not
        # part of the value compared: only what the call's result is reached through counts.
        node.func.visit(self)
        return False


def _floaty(node: cst.BaseExpression) -> bool:
    visitor = _Floaty()
    node.visit(visitor)
    return visitor.found


def _constant(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return _constant(node.expression)
    return isinstance(node, cst.Float | cst.Integer) or (
        isinstance(node, cst.BinaryOperation) and _constant(node.left) and _constant(node.right)
    )


class _Approx(cst.CSTTransformer):
    def __init__(self, assigned: dict[str, cst.BaseExpression] | None = None, diagnosed: Mapping[cst.CSTNode, int] | None = None) -> None:
        self.done = 0
        #: What each name of the test was last assigned: ``total = sum(...)`` makes ``total`` computed.
        self.assigned = assigned or {}
        #: Nodes on lines where the diagnosis saw floats compared exactly (the arithmetic may be
        #: out of sight, in the project's code) -> their line.
        self.diagnosed = diagnosed or {}

    def _computed(self, side: cst.BaseExpression) -> bool:
        """Whether the value compared was computed by float arithmetic (not read back as it was set)."""
        if isinstance(side, cst.Name) and side.value in self.assigned:
            return _floaty(self.assigned[side.value])
        return not isinstance(side, cst.Float | cst.Integer | cst.UnaryOperation) and _floaty(side)

    def _seen(self, node: cst.CSTNode) -> bool:
        return node in self.diagnosed

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """``self.assertEqual(total, 0.3)`` -> ``self.assertEqual(total, pytest.approx(0.3))``."""
        func = updated.func
        if not (isinstance(func, cst.Attribute) and code(func.value) == "self" and func.attr.value in ("assertEqual", "assertNotEqual")):
            return updated
        if len(updated.args) < 2 or any(a.keyword is not None or a.star for a in updated.args[:2]) or "approx" in code(updated):
            return updated
        first, second = updated.args[0].value, updated.args[1].value
        floats = any(isinstance(side, cst.Float) for side in (first, second))
        if not (self._computed(first) or self._computed(second) or (floats and self._seen(original))):
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
            return updated
        left, right = test.left, target.comparator
        seen = any(isinstance(side, cst.Float) for side in (left, right)) and self._seen(original)
        if "approx" in code(test) or not (self._computed(left) or self._computed(right) or seen):
            return updated  # ``get_interval() == 0.001`` reads back a value: no arithmetic rounded it
        if any(isinstance(side, cst.SimpleString | cst.List | cst.Dict | cst.Tuple) for side in (left, right)):
            return updated
        self.done += 1
        if _constant(left) and not _constant(right):
            wrapped = cst.Call(cst.parse_expression("pytest.approx"), [cst.Arg(left)])
            return updated.with_changes(test=test.with_changes(left=wrapped))
        wrapped = cst.Call(cst.parse_expression("pytest.approx"), [cst.Arg(right)])
        return updated.with_changes(test=test.with_changes(comparisons=[target.with_changes(comparator=wrapped)]))


def _assignments(function: cst.FunctionDef) -> dict[str, cst.BaseExpression]:
    found: dict[str, cst.BaseExpression] = {}

    class _Assigns(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    found[target.target.value] = node.value

    function.visit(_Assigns())
    return found


@on_test("float.approx")
def propose_approx(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    if "timing" in ctx.target.name or any(e.category is Category.TIME for e in ctx.evidence[:1]):
        return []  # a measured duration compared exactly is a timing problem, not rounding
    lines = {
        line for e in ctx.evidence if e.rule.startswith("data.float") and e.path == loaded.path
        for line in range(e.line, max(e.line, e.end_line) + 1)
    }  # fmt: skip
    diagnosed: dict[cst.CSTNode, int] = {}
    if lines:
        positions = MetadataWrapper(loaded.module, unsafe_skip_copy=True).resolve(PositionProvider)
        diagnosed = {node: where.start.line for node, where in positions.items()
                     if isinstance(node, cst.Assert | cst.Call) and where.start.line in lines}  # fmt: skip
    approx = _Approx(_assignments(loaded.function), diagnosed)
    module = change_function(loaded.module, loaded.function, lambda f: visit_function(f, approx))
    if not approx.done:
        return []
    module = add_imports(module, [("pytest", None)])
    why = (
        "The test compares floats computed by arithmetic with ==: rounding depends on the order the "
        "values are added in, which can change from run to run. pytest.approx compares them at float "
        "precision (relative 1e-6); the values compared are the same."
    )
    return [proposal(Category.DATA, remedy, "Compare the floats with pytest.approx", why, {loaded.path: (loaded.source, module)})]
