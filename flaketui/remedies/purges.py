"""A test that purges a shared queue before its work and leaves what it enqueued for the next
test: purge it again when the test is done.

Only where the test itself already purges (so the project or its broker library offers the
call, and the test knows the queue is shared) and the diagnosis says tests share state; the
purge is copied as the test wrote it (a ``while`` loop until nothing is left, or one call) to
the end of the test's body, once.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import change_function, code
from flaketui.remedies._model import Context, Declined, Proposal

_PURGE = re.compile(r"\b[\w.]+\.purge\(\)")


def _purge_statement(function: cst.FunctionDef) -> cst.BaseStatement | None:
    """The test's own purge: the smallest statement of its body (at any depth, not in a function it
    defines) that purges, a ``while`` that purges until nothing is left counting as one."""
    found: list[cst.BaseStatement] = []

    class Visit(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_While(self, node: cst.While) -> bool:
            if _PURGE.search(code(node.test) + code(node.body)) and len(code(node).splitlines()) <= 6:
                found.append(node)
                return False
            return True

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
            if _PURGE.search(code(node)):
                found.append(node)
            return False

    function.visit(Visit())
    return found[0] if found else None


@on_test("purge.after")
def propose_purge_after(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    if ctx.category not in (Category.ORDER, Category.FIXTURE):
        return []
    body = loaded.function.body
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return []
    purge = _purge_statement(loaded.function)
    if purge is None:
        return []
    last = body.body[-1]
    if _PURGE.search(code(last)):
        return []  # it purges when done already
    ending = purge.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    function = loaded.function.with_changes(body=body.with_changes(body=[*body.body, ending]))
    module = change_function(loaded.module, loaded.function, lambda _f: function)
    call = _PURGE.search(code(purge))
    assert call is not None
    why = (
        f"The test purges the queue ({call.group(0)}) before its work but leaves what it enqueued when it "
        "is done, and the next test that uses the queue reads it. Purging again at the end, as it does at "
        "the start, leaves the queue as the test found it."
    )
    return [proposal(ctx.category, loaded.remedy, "Purge the shared queue when the test is done", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
