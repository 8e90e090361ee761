"""A test that purges a shared queue before its work and leaves what it enqueued for the next
test: purge it again when the test is done.

Only where the test itself already purges (so the project or its broker library offers the
call, and the test knows the queue is shared) and the diagnosis says tests share state: its
category is order or fixture, or, where the broker ranks first (an integration test talks to a
real one), it still saw state shared between tests (a comment that says the test leaves the
environment dirty). A broker that is up but holds another test's messages is state left
behind, not the network: the proposal ranks after "keep" there and says so. The
purge is copied as the test wrote it (a ``while`` loop until nothing is left, or one call) to
the end of the test's body, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import change_function, code
from flaketui.remedies._model import Context, Declined, Proposal

_PURGE = re.compile(r"\b[\w.]+\.purge\(\)")


def _purge_loop(node: cst.While) -> bool:
    """A short ``while`` that purges until nothing is left (its comments above it not counted)."""
    return bool(_PURGE.search(code(node.test) + code(node.body))) and len(code(node.body).splitlines()) <= 5


def _purge_statement(function: cst.FunctionDef) -> cst.BaseStatement | None:
    """The test's own purge: the smallest statement of its body (at any depth, not in a function it
    defines) that purges, a ``while`` that purges until nothing is left counting as one."""
    found: list[cst.BaseStatement] = []

    class Visit(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_While(self, node: cst.While) -> bool:
            if _purge_loop(node):
                found.append(node)
                return False
            return True

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
            if _PURGE.search(code(node)):
                found.append(node)
            return False

    function.visit(Visit())
    return found[0] if found else None


def _ends_with_purge(line: cst.BaseStatement) -> bool:
    """Whether the last thing the statement does is a purge: a purge, or a block (``with``,
    ``for``, ``if``) whose last statement ends with one. A loop that purges at the start of
    each pass and then works leaves the last pass's work behind."""
    if isinstance(line, cst.SimpleStatementLine) or (isinstance(line, cst.While) and _purge_loop(line)):
        return bool(_PURGE.search(code(line)))
    body = getattr(line, "body", None)
    inner = getattr(body, "body", None)
    if isinstance(line, cst.BaseCompoundStatement) and isinstance(inner, Sequence) and inner:
        return _ends_with_purge(inner[-1])
    return False


@on_test("purge.after")
def propose_purge_after(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    shared = ctx.category in (Category.ORDER, Category.FIXTURE)
    if not shared and not any(e.category is Category.ORDER for e in ctx.evidence):
        return []
    body = loaded.function.body
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return []
    purge = _purge_statement(loaded.function)
    if purge is None:
        return []
    if _ends_with_purge(body.body[-1]):
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
    if not shared:
        why += (f" The diagnosis ranks {ctx.category} first, but it also saw state shared between tests; "
                "this removes that part of the cause.")
    category = ctx.category if shared else Category.ORDER
    return [proposal(category, loaded.remedy, "Purge the shared queue when the test is done", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
