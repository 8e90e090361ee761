"""Helpers of the tests that only sleep (``def settle(): time.sleep(0.05)``): a call to one is a
fixed sleep as surely as ``time.sleep`` written in the test, and ``wait.event`` replaces it
the same way (the helper itself stays: other tests may call it)."""

from __future__ import annotations

import libcst as cst

from flaketui.remedies._base import Loaded
from flaketui.remedies._cst import code, parse, top_level_functions
from flaketui.remedies._model import Context


def _only_sleeps(function: cst.FunctionDef) -> bool:
    """A body of a docstring and one ``time.sleep(<number>)``, and no parameter it needs."""
    if any(p.default is None for p in function.params.params) or function.asynchronous is not None:
        return False
    body = [s for s in getattr(function.body, "body", ()) if not _docstring(s)]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    small = body[0].body[0]
    if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
        return False
    call = small.value
    return code(call.func) in ("time.sleep", "sleep") and len(call.args) == 1 and isinstance(
        call.args[0].value, cst.Float | cst.Integer
    ) and float(code(call.args[0].value).replace("_", "")) > 0


def _docstring(line: cst.BaseStatement) -> bool:
    return (
        isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Expr)
        and isinstance(line.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )  # fmt: skip


def sleep_helpers(ctx: Context, loaded: Loaded) -> frozenset[str]:
    """Local names, in the test's module, of functions that only sleep: its own, and those it
    imports from a module of the repository (``from tests.helpers import settle``)."""
    found = {f.name.value for owner, f in top_level_functions(loaded.module) if owner is None and _only_sleeps(f)}
    files = set(ctx.project_files)
    for local, qualified in loaded.names.items():
        module_name, _, name = qualified.lstrip(".").rpartition(".")
        if not module_name or not name:
            continue
        stem = module_name.replace(".", "/")
        base = loaded.path.rpartition("/")[0]
        candidates = [f"{root.rstrip('/')}/{stem}.py".lstrip("./") if root not in ("", ".") else f"{stem}.py"
                      for root in (*ctx.import_roots, base)]  # fmt: skip
        for path in candidates:
            if path not in files:
                continue
            module = parse(ctx.read(path) or b"")
            if module is not None and any(
                owner is None and f.name.value == name and _only_sleeps(f) for owner, f in top_level_functions(module)
            ):
                found.add(local)
            break
    return frozenset(found)
