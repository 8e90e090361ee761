"""A module's bindings as written: each top-level (and class-level) name with what is
assigned, defined or imported there, branch by branch; module names and module files."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from flaketui.discover.parse import ParsedSource

#: Top-level packages outside the repository whose names a repository file cannot shadow for us.
EXTERNAL_ROOTS = frozenset({"pytest", "_pytest", "flaky", "unittest"})

@dataclass(frozen=True)
class Import:
    dotted: str


@dataclass(frozen=True)
class ImportFrom:
    module: str
    name: str


Binding = ast.expr | Import | ImportFrom | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(eq=False)
class Scope:
    """A namespace: ``bindings[name]`` is a list because ``x += [...]`` adds to ``x``."""

    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    parent: Scope | None = None
    #: Names bound under ``if``/``try``: each branch that binds one, with its condition as
    #: written (``if ON_CI``, ``except ImportError``). Only one branch runs; ``bindings``
    #: keeps the last one written, as Python would with every branch taken.
    conditional: dict[str, list[tuple[str, list[Binding]]]] = field(default_factory=dict)


@dataclass(eq=False)
class ModuleInfo:
    path: str
    dotted: str
    is_package: bool
    source: ParsedSource
    scope: Scope = field(default_factory=Scope)
    class_scopes: dict[ast.ClassDef, Scope] = field(default_factory=dict)

    @property
    def tree(self) -> ast.Module:
        return self.source.tree

    def class_scope(self, node: ast.ClassDef) -> Scope:
        scope = self.class_scopes.get(node)
        if scope is None:
            scope = Scope(parent=self.scope)
            bind_statements(node.body, scope, self.package)
            self.class_scopes[node] = scope
        return scope

    @property
    def package(self) -> str:
        return self.dotted if self.is_package else self.dotted.rpartition(".")[0]


def module_name(path: str) -> tuple[str, bool]:
    """``tests/unit/test_x.py`` -> (``tests.unit.test_x``, False); ``pkg/__init__.py`` -> (``pkg``, True)."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def build_module(path: str, source: ParsedSource) -> ModuleInfo:
    dotted, is_package = module_name(path)
    info = ModuleInfo(path, dotted, is_package, source)
    bind_statements(source.tree.body, info.scope, info.package)
    return info


def _absolute(package: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


def bind_statements(statements: list[ast.stmt], scope: Scope, package: str) -> None:
    bindings = scope.bindings
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    bindings[alias.asname] = [Import(alias.name)]
                else:
                    top = alias.name.split(".")[0]
                    bindings[top] = [Import(top)]
        elif isinstance(statement, ast.ImportFrom):
            module = _absolute(package, statement.module, statement.level)
            for alias in statement.names:
                if alias.name == "*":
                    scope.star_imports.append(module)
                else:
                    bindings[alias.asname or alias.name] = [ImportFrom(module, alias.name)]
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                _bind_target(target, statement.value, bindings)
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            _bind_target(statement.target, statement.value, bindings)
        elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            if isinstance(statement.op, ast.Add):
                bindings.setdefault(statement.target.id, []).append(statement.value)
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            _bind_list_method(statement.value, bindings)
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings[statement.name] = [statement]
        elif isinstance(statement, (ast.If, ast.Try, ast.TryStar)):
            # Definitions under `if`/`try` at top level are still module attributes, but only
            # those of the branch that runs: remember each branch's, with its condition.
            for condition, block in _branches(statement):
                bind_statements(block, scope, package)
                if condition is not None:
                    _record_branch(block, condition, scope, package)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            bind_statements(statement.body, scope, package)


def _branches(statement: ast.If | ast.Try | ast.TryStar) -> list[tuple[str | None, list[ast.stmt]]]:
    """The blocks of an ``if``/``try`` with the condition under which each runs (None: always)."""
    if isinstance(statement, ast.If):
        test = ast.unparse(statement.test)
        return [(f"if {test}", statement.body), (f"if not ({test})", statement.orelse)]
    handlers = [(f"except {ast.unparse(h.type)}" if h.type is not None else "except", h.body) for h in statement.handlers]
    tried = f"if the try at line {statement.lineno} succeeds" if handlers else None
    return [(tried, statement.body), *handlers, (tried, statement.orelse), (None, statement.finalbody)]


def _record_branch(block: list[ast.stmt], condition: str, scope: Scope, package: str) -> None:
    branch = Scope()
    bind_statements(block, branch, package)
    for name, bindings in branch.bindings.items():
        scope.conditional.setdefault(name, []).append((condition, bindings))
    for name, inner in branch.conditional.items():  # a branch within the branch: both conditions hold
        scope.conditional.setdefault(name, []).extend((f"{condition}, {nested}", found) for nested, found in inner)


def _bind_target(target: ast.expr, value: ast.expr, bindings: dict[str, list[Binding]]) -> None:
    if isinstance(target, ast.Name):
        earlier = bindings.get(target.id)
        if earlier and isinstance(earlier[-1], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and reapplies(value, target.id):
            # ``test_x = pytest.mark.flaky(test_x)`` marks the earlier definition: keep it.
            bindings[target.id] = [earlier[-1], value]
        else:
            bindings[target.id] = [value]
    elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
        if len(target.elts) == len(value.elts):
            for sub_target, sub_value in zip(target.elts, value.elts):
                _bind_target(sub_target, sub_value, bindings)


def reapplies(value: ast.expr, name: str) -> bool:
    """``name = <something>(name)``: a decorator applied by calling it."""
    return (
        isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords
        and isinstance(value.args[0], ast.Name) and value.args[0].id == name
    )


def _bind_list_method(call: ast.Call, bindings: dict[str, list[Binding]]) -> None:
    """``pytestmark.append(mark)`` and ``.extend([...])`` grow the list like ``+=``."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and len(call.args) == 1):
        return
    if func.value.id not in bindings or func.attr not in ("append", "extend"):
        return
    added = call.args[0]
    if func.attr == "append":
        added = ast.copy_location(ast.List(elts=[added], ctx=ast.Load()), added)
        ast.fix_missing_locations(added)
    bindings[func.value.id].append(added)


def closeness(candidate: str, importer: str) -> tuple[int, int]:
    """How near a module file is to the module importing it: the most shared directories
    first, then the shortest path."""
    count = 0
    for left, right in zip(candidate.split("/"), importer.split("/")):
        if left != right:
            break
        count += 1
    return count, -len(candidate)


class PathIndex:
    """Module files not parsed (yet), by every dotted suffix of their module names, so an
    import can be followed to the file it means by the rule ``Evaluator.find_module`` uses."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._paths = paths
        self._by_suffix: dict[str, list[str]] | None = None  # built on the first import it must follow

    def find(self, dotted: str, importer: str) -> str | None:
        """The file ``dotted`` (or the module holding it, for ``module.Class``) means."""
        parts = dotted.split(".")
        if parts[0] in EXTERNAL_ROOTS:
            return None
        if self._by_suffix is None:
            self._by_suffix = {}
            for path in self._paths:
                module = module_name(path)[0]
                names = module.split(".") if module else []
                for start in range(len(names)):
                    self._by_suffix.setdefault(".".join(names[start:]), []).append(path)
        for end in range(len(parts), 0, -1):
            candidates = self._by_suffix.get(".".join(parts[:end]))
            if candidates:
                return max(candidates, key=lambda path: closeness(path, importer))
        return None
