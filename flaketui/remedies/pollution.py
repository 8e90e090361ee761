"""State one test changes and never restores, read by another: restore it in the polluter.

The polluting test (named by the diagnosis, else found by what it changes) gets pytest's
``monkeypatch``, which undoes every change when the test ends:

- ``os.environ[k] = v`` / ``del os.environ[k]`` / ``os.environ.pop(k)``: ``setenv`` / ``delenv``;
- ``module.attr = v``, or an attribute of a module- or session-scoped fixture: ``setattr``;
- ``CONTAINER[k] = v`` on a module-level dict: ``setitem``;
- a call into the project's code that fills a module-level registry (``@registry.register``):
  the registry is swapped for a copy for the duration of the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import (
    Loaded,
    on_test,
    project_modules,
    proposal,
)
from flaketui.remedies._cst import (
    add_parameter,
    change_function,
    code,
    dotted,
    parse,
    statement,
    top_level_functions,
)
from flaketui.remedies._model import Context, Declined, Proposal

_CHANGED_BY = re.compile(r"changed by (\w+)")
_BROAD_SCOPES = ("module", "session", "package", "class")
_MUTATORS = frozenset({"append", "add", "update", "setdefault", "extend", "insert", "__setitem__"})


def _fixture_scopes(module: cst.Module) -> dict[str, str]:
    scopes: dict[str, str] = {}
    for _, function in top_level_functions(module):
        for decorator in function.decorators:
            node = decorator.decorator
            name = dotted(node.func if isinstance(node, cst.Call) else node) or ""
            if not name.endswith("fixture"):
                continue
            scope = "function"
            if isinstance(node, cst.Call):
                for arg in node.args:
                    if arg.keyword is not None and arg.keyword.value == "scope" and isinstance(arg.value, cst.SimpleString):
                        scope = arg.value.evaluated_value if isinstance(arg.value.evaluated_value, str) else scope
            scopes[function.name.value] = scope
    return scopes


def _module_globals(module: cst.Module) -> dict[str, str]:
    """Module-level names bound to a container literal -> its type (``dict``, ``list``, ``set``)."""
    found: dict[str, str] = {}
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for small in line.body:
            target, value = None, None
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign):
                target, value = small.target, small.value
            if isinstance(target, cst.Name) and value is not None:
                kind = {cst.Dict: "dict", cst.DictComp: "dict", cst.List: "list", cst.Set: "set"}.get(type(value))
                if kind is None and isinstance(value, cst.Call):
                    kind = {"dict": "dict", "list": "list", "set": "set"}.get(dotted(value.func) or "")
                found[target.value] = kind or "object"
    return found


def _registries(ctx: Context, names: dict[str, str]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """qualified project module -> function -> [(module-level container it fills, its type)]."""
    found: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for path in project_modules(ctx, names):
        module = parse(ctx.read(path) or b"")
        if module is None:
            continue
        containers = {k: v for k, v in _module_globals(module).items() if v != "object"}
        if not containers:
            continue
        qualified = _qualified(ctx, path)
        for owner, function in top_level_functions(module):
            if owner is not None:
                continue
            filled = sorted(n for n in containers if re.search(
                rf"\b{re.escape(n)}\s*\[[^\]]*\]\s*=[^=]|\b{re.escape(n)}\.({'|'.join(_MUTATORS)})\(", code(function)
            ))
            if filled:
                found.setdefault(qualified, {})[function.name.value] = [(n, containers[n]) for n in filled]
    return found


def _qualified(ctx: Context, path: str) -> str:
    from flaketui.remedies._base import module_of_file

    return module_of_file(ctx, path) or path


@dataclass
class _Restore(cst.CSTTransformer):
    """Turns the unrestored changes of one test into ``monkeypatch`` calls."""

    names: dict[str, str]
    restorable: set[str]
    registries: dict[str, dict[str, list[tuple[str, str]]]]
    done: list[str] = field(default_factory=list)
    swaps: list[str] = field(default_factory=list)

    def _is_environ(self, node: cst.BaseExpression) -> bool:
        name = dotted(node) or ""
        head, _, rest = name.partition(".")
        return f"{self.names.get(head, head)}.{rest}".rstrip(".") == "os.environ"

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        if len(updated.body) != 1:
            return updated
        small = updated.body[0]
        new = self._restoring(small)
        if new is None:
            return updated
        self.done.append(code(small).strip())
        return updated.with_changes(body=[cst.Expr(cst.parse_expression(new))])

    def _restoring(self, small: cst.BaseSmallStatement) -> str | None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target, value = small.targets[0].target, code(small.value)
            if isinstance(target, cst.Subscript) and len(target.slice) == 1:
                key = code(target.slice[0].slice.value) if isinstance(target.slice[0].slice, cst.Index) else None
                if key is None:
                    return None
                if self._is_environ(target.value):
                    return f"monkeypatch.setenv({key}, {value})"
                root = dotted(target.value)
                if root is not None and root.split(".")[0] in self.restorable:
                    return f"monkeypatch.setitem({root}, {key}, {value})"
            if isinstance(target, cst.Attribute):
                root = dotted(target.value)
                if root is not None and root.split(".")[0] in self.restorable:
                    return f'monkeypatch.setattr({root}, "{target.attr.value}", {value})'
        if isinstance(small, cst.Del) and isinstance(small.target, cst.Subscript) and self._is_environ(small.target.value):
            index = small.target.slice[0].slice
            if isinstance(index, cst.Index):
                return f"monkeypatch.delenv({code(index.value)}, raising=False)"
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "pop" and self._is_environ(func.value) and call.args:
                return f"monkeypatch.delenv({code(call.args[0].value)}, raising=False)"
        return None

    def visit_Call(self, node: cst.Call) -> None:
        self._note_registry(node.func)

    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._note_registry(node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator)

    def _note_registry(self, func: cst.BaseExpression) -> None:
        name = dotted(func)
        if name is None or "." not in name:
            return
        local_module, function = name.rsplit(".", 1)
        qualified = self.names.get(local_module, local_module)
        for container, kind in self.registries.get(qualified, {}).get(function, []):
            copy = f"{kind}({local_module}.{container})"
            swap = f'monkeypatch.setattr({local_module}, "{container}", {copy})'
            if swap not in self.swaps:
                self.swaps.append(swap)


def _polluters(ctx: Context, module: cst.Module) -> list[tuple[str | None, cst.FunctionDef]]:
    named = {m for e in ctx.evidence for m in _CHANGED_BY.findall(e.message)}
    tests = [
        (owner, f) for owner, f in top_level_functions(module)
        if f.name.value.startswith("test") and (owner, f.name.value) != (ctx.target.class_name, ctx.target.name)
    ]
    if named:
        return [(o, f) for o, f in tests if f.name.value in named]
    return tests if ctx.category is Category.ORDER else []


@on_test("restore.monkeypatch")
def propose_restoring(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = "restore.monkeypatch"
    scopes = _fixture_scopes(loaded.module)
    for conftest in _conftests(ctx.target.path):
        scopes = {**_fixture_scopes(parse(ctx.read(conftest) or b"") or cst.Module(body=[])), **scopes}
    registries = _registries(ctx, loaded.names)
    module, changed, swapped = loaded.module, [], []
    for owner, polluter in _polluters(ctx, loaded.module):
        if owner is not None:
            continue  # a method: a TestCase has no monkeypatch argument
        broad = {p for p in _params(polluter) if scopes.get(p, "function") in _BROAD_SCOPES}
        restorable = {*loaded.names, *_module_globals(loaded.module), *broad} - {"os"}
        rewrite = _Restore(loaded.names, restorable, registries)
        new_function = polluter.visit(rewrite)
        assert isinstance(new_function, cst.FunctionDef)
        already = code(polluter)
        swaps = [s for s in rewrite.swaps if s not in already]
        if not rewrite.done and not swaps:
            continue
        if swaps:
            body = new_function.body
            assert isinstance(body, cst.IndentedBlock)
            docstring = 1 if polluter.get_docstring() is not None else 0
            lines = list(body.body)
            lines[docstring:docstring] = [statement(s + "\n") for s in swaps]
            new_function = new_function.with_changes(body=body.with_changes(body=lines))
        final = add_parameter(new_function, "monkeypatch")
        module = _replace(module, _find(module, polluter), final)
        changed.append(polluter.name.value)
        swapped.extend(swaps)
    if not changed:
        return []
    who = ", ".join(changed)
    why = (
        f"{who} changes state that {ctx.target.name} reads and never puts it back, so "
        f"{ctx.target.name} fails whenever it runs after {who}. monkeypatch restores it when "
        f"{who} ends{' (the registry is swapped for a copy)' if swapped else ''}."
    )
    title = f"Restore what {who} changes, with monkeypatch"
    return [proposal(Category.ORDER, remedy, title, why, {loaded.path: (loaded.source, module)})]


def _replace(module: cst.Module, old: cst.FunctionDef, new: cst.FunctionDef) -> cst.Module:
    return change_function(module, old, lambda _f: new)


def _find(module: cst.Module, original: cst.FunctionDef) -> cst.FunctionDef:
    for _, function in top_level_functions(module):
        if function.name.value == original.name.value:
            return function
    return original


def _params(function: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in function.params.params]


def _conftests(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return [("/".join(parts[:i]) + "/conftest.py").lstrip("/") for i in range(len(parts), -1, -1)]

