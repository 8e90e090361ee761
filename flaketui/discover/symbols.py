"""Just enough static evaluation of Python to follow a marker from where it is used to what it is.

Each module's top-level (and class-level) bindings are recorded as written; a name is
evaluated on demand, following imports into the repository's other modules, aliases,
lists, ``+=``, ``pytest.param`` and one-line helper functions. Anything else evaluates to
``None``: we never guess that an unknown value is a marker.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from flaketui.discover.bindings import (
    EXTERNAL_ROOTS,
    Binding,
    Import,
    ImportFrom,
    ModuleInfo,
    Scope,
    closeness,
    reapplies,
)

# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModuleRef:
    dotted: str


@dataclass(frozen=True, eq=False)
class External:
    """Something from outside the repository we do not model (``tenacity.retry``)."""

    dotted: str
    called: bool = False


@dataclass(frozen=True, eq=False)
class Unbound:
    """A name bound nowhere we can see (a builtin, a star import from outside the repository)."""

    name: str
    called: bool = False


class _MarkGenerator:
    """``pytest.mark``."""


MARK_GENERATOR = _MarkGenerator()


class _ParamFactory:
    """``pytest.param``."""


PARAM_FACTORY = _ParamFactory()


@dataclass(frozen=True, eq=False)
class Mark:
    """``pytest.mark.NAME(...)``; the argument nodes belong to ``module``'s source."""

    name: str
    module: ModuleInfo | None = None
    positional: tuple[ast.expr, ...] = ()
    keywords: tuple[tuple[str, ast.expr], ...] = ()
    with_args: bool = False
    #: Where the mark expression was written (in ``module``), when known.
    origin: ast.expr | None = None
    #: The branch that binds the mark when only a branch does (``if ON_CI``), see ``Scope.conditional``.
    condition: str | None = None

    def keyword(self, name: str) -> ast.expr | None:
        for key, value in self.keywords:
            if key == name:
                return value
        return None


@dataclass(frozen=True, eq=False)
class FlakyDecorator:
    """The ``flaky`` package's ``@flaky`` / ``@flaky(max_runs=...)``."""

    module: ModuleInfo | None = None
    positional: tuple[ast.expr, ...] = ()
    keywords: tuple[tuple[str, ast.expr], ...] = ()
    origin: ast.expr | None = None
    condition: str | None = None


@dataclass(frozen=True, eq=False)
class Param:
    """``pytest.param(*values, marks=..., id=...)``."""

    module: ModuleInfo
    values: tuple[ast.expr, ...]
    marks: tuple[Value | None, ...]
    id: ast.expr | None
    node: ast.expr


@dataclass(frozen=True, eq=False)
class ClassRef:
    module: ModuleInfo
    node: ast.ClassDef
    #: Marks applied by calling them on the class (``TestX = pytest.mark.flaky(TestX)``),
    #: innermost first, with the call each was applied by.
    applied: tuple[tuple[Mark | FlakyDecorator, ast.Call], ...] = ()


@dataclass(frozen=True, eq=False)
class FunctionRef:
    module: ModuleInfo
    node: ast.FunctionDef | ast.AsyncFunctionDef
    #: Marks applied by calling them (``test_x = pytest.mark.flaky(reruns=2)(test_x)``).
    applied: tuple[tuple[Mark | FlakyDecorator, ast.Call], ...] = ()


@dataclass(frozen=True, eq=False)
class Sequence:
    items: tuple[Value | None, ...]
    nodes: tuple[ast.expr, ...] = ()


@dataclass(frozen=True, eq=False)
class Constant:
    value: object


Value = (
    ModuleRef | External | Unbound | _MarkGenerator | _ParamFactory | Mark | FlakyDecorator | Param
    | ClassRef | FunctionRef | Sequence | Constant
)

#: Dotted names outside the repository whose meaning we know.
_KNOWN: dict[str, Value] = {
    "pytest.mark": MARK_GENERATOR,
    "_pytest.mark.MARK_GEN": MARK_GENERATOR,
    "_pytest.mark.structures.MARK_GEN": MARK_GENERATOR,
    "pytest.param": PARAM_FACTORY,
    "_pytest.mark.param": PARAM_FACTORY,
    "flaky.flaky": FlakyDecorator(),
    "flaky.flaky_decorator.flaky": FlakyDecorator(),
}

# -- evaluation ------------------------------------------------------------------------


class Evaluator:
    """Evaluates expressions across the repository's parsed modules."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleInfo] = {}
        self._by_suffix: dict[str, list[ModuleInfo]] = {}
        self._active: set[tuple[int, str]] = set()
        self._memo: dict[tuple[int, str], Value | None] = {}

    def add(self, module: ModuleInfo) -> None:
        self.modules[module.path] = module
        parts = module.dotted.split(".") if module.dotted else []
        for start in range(len(parts)):
            self._by_suffix.setdefault(".".join(parts[start:]), []).append(module)
        self._memo.clear()

    def find_module(self, dotted: str, importer: ModuleInfo | None) -> ModuleInfo | None:
        """The repository module an import means; several rootdirs and ``sys.path`` entries make
        ``tests.helpers`` and ``helpers`` both plausible, so the closest file to the importer wins."""
        if dotted.split(".")[0] in EXTERNAL_ROOTS and dotted not in self._by_suffix:
            return None
        candidates = self._by_suffix.get(dotted)
        if not candidates:
            return None
        if len(candidates) == 1 or importer is None:
            return candidates[0]
        return max(candidates, key=lambda m: closeness(m.path, importer.path))

    # name lookup
    def lookup(self, module: ModuleInfo, scope: Scope, name: str) -> Value | None:
        current: Scope | None = scope
        while current is not None:
            if name in current.bindings:
                if current is module.scope:
                    return self._module_name(module, name)
                return self._evaluate_bindings(module, current, name)
            if current is module.scope:
                found = self._from_star_imports(module, name)
                if found is not None:
                    return found
            current = current.parent
        return Unbound(name)

    def _module_name(self, module: ModuleInfo, name: str) -> Value | None:
        key = (id(module), name)
        if key in self._memo:
            return self._memo[key]
        value = self._evaluate_bindings(module, module.scope, name)
        self._memo[key] = value
        return value

    def module_attribute(self, module: ModuleInfo, name: str) -> Value | None:
        if name in module.scope.bindings:
            return self._module_name(module, name)
        found = self._from_star_imports(module, name)
        if found is not None:
            return found
        submodule = self.find_module(f"{module.dotted}.{name}" if module.dotted else name, module)
        return ModuleRef(submodule.dotted) if submodule is not None else None

    def _from_star_imports(self, module: ModuleInfo, name: str) -> Value | None:
        for dotted in module.scope.star_imports:
            target = self.find_module(dotted, module)
            if target is not None and target is not module and not name.startswith("_"):
                guard = (id(target), "*" + name)
                if guard in self._active:
                    continue
                self._active.add(guard)
                try:
                    if name in target.scope.bindings or target.scope.star_imports:
                        found = self.module_attribute(target, name)
                        if found is not None and not isinstance(found, Unbound):
                            return found
                finally:
                    self._active.discard(guard)
            elif target is None and dotted in ("pytest",) and name in ("mark", "param"):
                return _KNOWN[f"pytest.{name}"]
        return None

    def _evaluate_bindings(self, module: ModuleInfo, scope: Scope, name: str) -> Value | None:
        guard = (id(scope), name)
        if guard in self._active:
            return None
        self._active.add(guard)
        try:
            bindings = scope.bindings[name]
            value = self._evaluate_list(module, scope, name, bindings)
            branches = scope.conditional.get(name)
            if branches:
                value = self._conditional_marks(module, scope, name, value, bindings[-1], branches)
        finally:
            self._active.discard(guard)
        return value

    def _conditional_marks(
        self, module: ModuleInfo, scope: Scope, name: str, value: Value | None, last: Binding,
        branches: list[tuple[str, list[Binding]]],
    ) -> Value | None:
        """A name bound in branches: marks when any branch binds some, with that branch's
        condition (``pytestmark`` in a ``try`` with an ``except ImportError`` fallback, an
        alias that is ``pytest.mark.flaky`` only ``if ON_CI``)."""
        for condition, bindings in branches:
            if any(b is last for b in bindings) and _has_marks(value):
                return _with_condition(value, condition)
        if _has_marks(value):
            return value
        for condition, bindings in branches:
            alternative = self._evaluate_list(module, scope, name, bindings)
            if _has_marks(alternative):
                return _with_condition(alternative, condition)
        return value

    def _evaluate_list(self, module: ModuleInfo, scope: Scope, name: str, bindings: list[Binding]) -> Value | None:
        values: list[Value | None] = []
        for binding in bindings:
            marked = self._marked_again(module, scope, name, binding, values[-1]) if values else None
            if marked is not None:
                values[-1] = marked  # ``test_x = pytest.mark.flaky(test_x)``: the same test, marked
            else:
                values.append(self._evaluate_binding(module, scope, binding))
        if len(values) == 1:
            return values[0]
        # `x = [...]` then `x += [...]`: one sequence.
        items: list[Value | None] = []
        nodes: list[ast.expr] = []
        for value, binding in zip(values, bindings):
            if isinstance(value, Sequence):
                items.extend(value.items)
                nodes.extend(value.nodes)
            else:
                items.append(value)
                if isinstance(binding, ast.expr):
                    nodes.append(binding)
        return Sequence(tuple(items), tuple(nodes))

    def _marked_again(self, module: ModuleInfo, scope: Scope, name: str, binding: Binding, before: Value | None) -> Value | None:
        """``name = <mark>(name)``: the earlier function or class with the mark applied."""
        if not (isinstance(binding, ast.Call) and reapplies(binding, name) and isinstance(before, (FunctionRef, ClassRef))):
            return None
        func = self.evaluate(module, scope, binding.func)
        if not isinstance(func, (Mark, FlakyDecorator)):
            return None
        return replace(before, applied=(*before.applied, (func, binding)))

    def _evaluate_binding(self, module: ModuleInfo, scope: Scope, binding: Binding) -> Value | None:
        if isinstance(binding, ast.ClassDef):
            return ClassRef(module, binding)
        if isinstance(binding, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return FunctionRef(module, binding)
        if isinstance(binding, Import):
            return self._module_value(binding.dotted, module)
        if isinstance(binding, ImportFrom):
            base = self._module_value(binding.module, module)
            value = self.attribute(base, binding.name, module)
            if value is None and isinstance(base, ModuleRef):
                return self._module_value(f"{binding.module}.{binding.name}", module)
            return value
        return self.evaluate(module, scope, binding)

    def _module_value(self, dotted: str, importer: ModuleInfo) -> Value:
        known = _KNOWN.get(dotted)
        if known is not None:
            return known
        return ModuleRef(dotted)

    def attribute(self, base: Value | None, name: str, importer: ModuleInfo) -> Value | None:
        if base is MARK_GENERATOR:
            return Mark(name)
        if isinstance(base, ModuleRef):
            dotted = f"{base.dotted}.{name}"
            if dotted in _KNOWN:
                return _KNOWN[dotted]
            target = self.find_module(base.dotted, importer)
            if target is not None:
                return self.module_attribute(target, name)
            if self.find_module(dotted, importer) is not None:  # `from . import helpers`, package unparsed
                return ModuleRef(dotted)
            return External(dotted)
        if isinstance(base, External) and not base.called:
            dotted = f"{base.dotted}.{name}"
            return _KNOWN.get(dotted, External(dotted))
        if isinstance(base, Mark) and name == "with_args":
            return Mark(base.name, base.module, base.positional, base.keywords, with_args=True, condition=base.condition)
        if isinstance(base, ClassRef):
            class_scope = base.module.class_scope(base.node)
            if name in class_scope.bindings:
                value = self._evaluate_bindings(base.module, class_scope, name)
                # `Color.RED` of an Enum is a member, not the constant written in the body.
                return None if isinstance(value, Constant) else value
        return None

    def evaluate(self, module: ModuleInfo, scope: Scope, node: ast.expr) -> Value | None:
        if isinstance(node, ast.Name):
            return self.lookup(module, scope, node.id)
        if isinstance(node, ast.Attribute):
            value = self.attribute(self.evaluate(module, scope, node.value), node.attr, module)
            if isinstance(value, (Mark, FlakyDecorator)) and value.origin is None:
                return replace(value, module=module, origin=node)
            return value
        if isinstance(node, ast.Call):
            return self._call(module, scope, node)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = tuple(self.evaluate(module, scope, element) for element in node.elts)
            return Sequence(items, tuple(node.elts))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.evaluate(module, scope, node.left)
            right = self.evaluate(module, scope, node.right)
            if isinstance(left, Sequence) and isinstance(right, Sequence):
                return Sequence(left.items + right.items, left.nodes + right.nodes)
            return None
        if isinstance(node, ast.Constant):
            return Constant(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            if isinstance(node.operand.value, (int, float, complex)) and not isinstance(node.operand.value, bool):
                return Constant(-node.operand.value)
        return None

    def _call(self, module: ModuleInfo, scope: Scope, node: ast.Call) -> Value | None:
        func = self.evaluate(module, scope, node.func)
        keywords = tuple((kw.arg, kw.value) for kw in node.keywords if kw.arg is not None)
        if isinstance(func, (Mark, FlakyDecorator)) and len(node.args) == 1 and not node.keywords:
            # pytest's MarkDecorator (and the flaky package) called on one function or class
            # applies itself and returns it: ``test_x = pytest.mark.flaky(reruns=2)(test_x)``.
            target = self.evaluate(module, scope, node.args[0])
            if isinstance(target, (FunctionRef, ClassRef)):
                return replace(target, applied=(*target.applied, (func, node)))
        if isinstance(func, Mark):
            if not func.with_args and len(node.args) == 1 and not keywords and _is_decoratee(node.args[0]):
                return None
            return Mark(
                func.name, module, func.positional + tuple(node.args), func.keywords + keywords, origin=node, condition=func.condition
            )
        if isinstance(func, FlakyDecorator):
            return FlakyDecorator(
                module, func.positional + tuple(node.args), func.keywords + keywords, origin=node, condition=func.condition
            )
        if func is PARAM_FACTORY:
            marks_node = next((value for key, value in keywords if key == "marks"), None)
            marks: tuple[Value | None, ...] = ()
            if marks_node is not None:
                evaluated = self.evaluate(module, scope, marks_node)
                marks = evaluated.items if isinstance(evaluated, Sequence) else (evaluated,)
            id_node = next((value for key, value in keywords if key == "id"), None)
            if isinstance(id_node, ast.Constant) and id_node.value is None:
                id_node = None  # `id=None` asks for the automatic id
            return Param(module, tuple(node.args), marks, id_node, node)
        if isinstance(func, Unbound) and func.name == "getattr" and len(node.args) >= 2:
            attribute = node.args[1]
            if isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
                return self.attribute(self.evaluate(module, scope, node.args[0]), attribute.value, module)
            return None
        if isinstance(func, FunctionRef):
            returned = _single_return(func.node)
            if returned is not None:
                guard = (id(func.node), "<return>")
                if guard in self._active:
                    return None
                self._active.add(guard)
                try:
                    return self.evaluate(func.module, func.module.scope, returned)
                finally:
                    self._active.discard(guard)
            return None
        if isinstance(func, External):
            return External(func.dotted, called=True)
        if isinstance(func, Unbound):
            return Unbound(func.name, called=True)
        return None


def _is_decoratee(node: ast.expr) -> bool:
    """``pytest.mark.foo(func)`` applies the mark instead of adding an argument (pytest's rule
    for a single class or function argument); we only see names, so a lambda or a Name counts."""
    return isinstance(node, ast.Lambda)


def _single_return(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return body[0].value
    return None


def _has_marks(value: Value | None) -> bool:
    return next(flatten_marks(value), None) is not None


def _with_condition(value: Value | None, condition: str) -> Value | None:
    if isinstance(value, (Mark, FlakyDecorator)):
        return replace(value, condition=condition)
    if isinstance(value, Sequence):
        return Sequence(tuple(_with_condition(item, condition) for item in value.items), value.nodes)
    return value


def flatten_marks(value: Value | None) -> Iterator[Mark | FlakyDecorator]:
    if isinstance(value, (Mark, FlakyDecorator)):
        yield value
    elif isinstance(value, Sequence):
        for item in value.items:
            yield from flatten_marks(item)


def dotted_name(node: ast.expr) -> str:
    """``a.b.c`` for a chain of attributes on a name; ``""`` when the chain starts elsewhere."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))
