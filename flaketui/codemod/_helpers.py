"""Decorators that are helpers: removable only when they do nothing but mark.

A helper of the test file is read there. One imported from another file of the repository
(celery's ``from .conftest import flaky`` with ``def flaky(fn): return _timeout(_flaky(fn))``)
is read through ``read``, a function from a repo-relative path to that file's bytes (or None).
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from flaketui.codemod._locate import Site, is_mark_like
from flaketui.codemod._pieces import ModuleText

Reader = Callable[[str], bytes | None]


def helper_refusal(
    parsed: ModuleText, site: Site, where: str, *, path: str = "", read: Reader | None = None
) -> str | None:
    """Why removing this decorator would drop more than a marker, or None."""
    local = _local_refusal(parsed, site, where)
    if local is not None or read is None or site.form != "decorator":
        return local
    return _imported_refusal(parsed.module, site, where, path, read)


def _imported_refusal(module: cst.Module, site: Site, where: str, path: str, read: Reader) -> str | None:
    expr = site.expr.func if isinstance(site.expr, cst.Call) else site.expr
    if isinstance(expr, cst.Name):
        origin = _imported_name(module, expr.value)
    elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        imported = _imported_module(module, expr.value.value)
        origin = (imported[0], imported[1], expr.attr.value) if imported else None
    else:
        origin = None
    if origin is None:
        return None
    dotted, level, name = origin
    for candidate in _module_paths(path, dotted, level):
        data = read(candidate)
        if data is None:
            continue
        try:
            other = cst.parse_module(data)
        except Exception:  # noqa: BLE001 - an unreadable helper file is judged by nothing
            return None
        problem = _definition_problem(other, name)
        if problem is None:
            return None
        return (
            f"`@{module.code_for_node(site.expr)}` in {where} is {problem} in {candidate}: removing the "
            "decorator would drop the rest of it too. Take the flaky part out of it by hand, or keep the marker."
        )
    return None


def _imported_name(module: cst.Module, bound: str) -> tuple[str, int, str] | None:
    """``from .conftest import flaky`` -> ``("conftest", 1, "flaky")`` for ``flaky``."""
    for line in module.body:
        for small in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if not isinstance(small, cst.ImportFrom) or isinstance(small.names, cst.ImportStar):
                continue
            for alias in small.names:
                target = alias.asname.name if alias.asname else alias.name
                if isinstance(target, cst.Name) and target.value == bound and isinstance(alias.name, cst.Name):
                    dotted = _dotted(small.module) if small.module is not None else ""
                    return dotted, len(small.relative), alias.name.value
    return None


def _imported_module(module: cst.Module, bound: str) -> tuple[str, int] | None:
    """``import helpers`` or ``from . import helpers`` -> the module bound to ``helpers``."""
    for line in module.body:
        for small in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Import):
                for alias in small.names:
                    target = alias.asname.name if alias.asname else alias.name
                    if isinstance(target, cst.Name) and target.value == bound:
                        return _dotted(alias.name), 0
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    target = alias.asname.name if alias.asname else alias.name
                    if isinstance(target, cst.Name) and target.value == bound and isinstance(alias.name, cst.Name):
                        base = _dotted(small.module) if small.module is not None else ""
                        return (f"{base}.{alias.name.value}" if base else alias.name.value), len(small.relative)
    return None


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return node.value if isinstance(node, cst.Name) else ""


def _module_paths(path: str, dotted: str, level: int) -> list[str]:
    """Where the module may live, repo-relative: beside the test for a relative import; for an
    absolute one under the repository root, ``src/``, or a directory above the test (a rootdir)."""
    parts = [p for p in dotted.split(".") if p]
    directory = path.split("/")[:-1]
    if level:
        if level - 1 > len(directory):
            return []
        bases = [directory[: len(directory) - (level - 1)]]
    else:
        bases = [[], ["src"], *(directory[:i] for i in range(len(directory), 0, -1))]
    found: list[str] = []
    for base in bases:
        stem = "/".join([*base, *parts])
        if stem:
            found += [f"{stem}.py", f"{stem}/__init__.py"]
    return list(dict.fromkeys(found))


def _definition_problem(module: cst.Module, name: str) -> str | None:
    """How ``name`` is defined at the top of ``module`` when that is more than a marker."""
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.name.value == name:
            if isinstance(statement, cst.FunctionDef) and _only_marks(statement):
                return None
            return f"the helper {name}(), which does more than mark the test"
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if (
                isinstance(small, cst.Assign)
                and any(isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets)
                and not is_mark_like(small.value)
            ):
                return f"`{name}`, bound to `{module.code_for_node(small.value)}`, which is not a plain marker"
    return None


def _local_refusal(parsed: ModuleText, site: Site, where: str) -> str | None:
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
    if isinstance(helper.body, cst.IndentedBlock):
        statements = [s for s in helper.body.body if not _is_docstring(s)]
        if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine):
            return False
        only = statements[0].body
    elif isinstance(helper.body, cst.SimpleStatementSuite):  # ``def flaky(fn): return ...``
        only = helper.body.body
    else:
        return False
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

