"""Blocks whose meaning a call inside them depends on: cleanup (``finally``, ``except``, a block
that ends by raising), where a kill puts a process away rather than races it; blocks that put
process configuration back when they end (``warnings.catch_warnings``); the names a comparison
reads. Small pure helpers of the function reader (``facts``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

if TYPE_CHECKING:
    from flaketui.diagnose.rules import RuleContext

#: Rules whose calls, in a ``finally`` or ``except`` body, put things away rather than race.
CLEANUP_CALLS = frozenset({"race.signal-timing"})
#: Context managers that put process-wide configuration back when their block ends.
RESTORING_CONTEXTS = frozenset({"warnings.catch_warnings", "numpy.errstate", "numpy.printoptions",
                                "pandas.option_context", "decimal.localcontext", "contextlib.chdir"})


def restoring(ctx: RuleContext, node: cst.With) -> bool:
    """``with warnings.catch_warnings():``: what changes inside ends with the block."""
    return any(isinstance(i.item, cst.Call) and ctx.qualify(i.item.func) in RESTORING_CONTEXTS for i in node.items)


def ends_in_raise(node: cst.CSTNode) -> bool:
    """A block that ends by raising (``if not ready: proc.terminate(); raise IOError(...)``): an
    error path, whose kills clean up."""
    if not isinstance(node, cst.IndentedBlock) or not node.body:
        return False
    last = node.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and any(isinstance(s, cst.Raise) for s in last.body)


def operand_names(comparison: cst.Comparison) -> list[cst.BaseExpression]:
    """The plain names among a comparison's operands, including inside ``start + 30``."""
    found: list[cst.BaseExpression] = []
    pending: list[cst.BaseExpression] = [comparison.left, *(t.comparator for t in comparison.comparisons)]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.BinaryOperation):
            pending += [current.left, current.right]
        elif isinstance(current, cst.Name):
            found.append(current)
    return found


def finalized_names(function: cst.FunctionDef, call: cst.Call) -> list[cst.Name | cst.Attribute]:
    """``request.addfinalizer(teardown)``: the names the nested ``teardown`` touches are put back."""
    finalizer = call.args[0].value if call.args else None
    if not isinstance(finalizer, cst.Name):
        return []
    return [name for inner in m.findall(function, m.FunctionDef(name=m.Name(finalizer.value)))
            for name in m.findall(inner, m.Name() | m.Attribute()) if isinstance(name, cst.Name | cst.Attribute)]


def payload_values(call: cst.Call) -> list[cst.BaseExpression]:
    """The values of dict literals handed straight to a call (a message, a record sent on)."""
    return [e.value for a in call.args if isinstance(a.value, cst.Dict)
            for e in m.findall(a.value, m.DictElement()) if isinstance(e, cst.DictElement)]
