"""Decorators that are helpers of the test file: removable only when they do nothing but mark."""

from __future__ import annotations

import libcst as cst

from flaketui.codemod._locate import Site, is_mark_like
from flaketui.codemod._pieces import ModuleText


def helper_refusal(parsed: ModuleText, site: Site, where: str) -> str | None:
    """Refuse a decorator that is a helper of this file doing more than mark: removing the
    decorator would drop the rest of what the helper does (a timeout, say)."""
    if site.form != "decorator":
        return None
    expr = site.expr
    func = expr.func if isinstance(expr, cst.Call) else expr
    if not isinstance(func, cst.Name):
        return None
    name = func.value
    module = parsed.module
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name and not _only_marks(statement):
            line = parsed.positions([statement])[statement.name].start.line
            return (
                f"`@{name}` in {where} is the helper {name}() defined at line {line}, which does more than mark "
                f"the test: removing the decorator would drop the rest of it too. Take the flaky part out of "
                f"{name}() by hand, or keep the marker."
            )
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets)
                    and not is_mark_like(small.value)
                ):
                    line = parsed.positions([statement])[small].start.line
                    return (
                        f"`@{name}` in {where} is bound at line {line} to `{module.code_for_node(small.value)}`, "
                        "which is not a plain marker: removing the decorator could drop more than the marker. "
                        "Remove it by hand, or keep the marker."
                    )
    return None


def _only_marks(helper: cst.FunctionDef) -> bool:
    """``def flaky(fn): return pytest.mark.flaky(reruns=3)(fn)``: a helper that only marks."""
    body = helper.body.body if isinstance(helper.body, cst.IndentedBlock) else helper.body.body
    statements = [s for s in body if not _is_docstring(s)]
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine):
        return False
    only = statements[0].body
    if len(only) != 1 or not isinstance(only[0], cst.Return) or not isinstance(only[0].value, cst.Call):
        return False
    call = only[0].value
    return is_mark_like(call.func) and len(call.args) == 1 and isinstance(call.args[0].value, cst.Name)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )

