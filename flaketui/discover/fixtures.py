"""The ids pytest adds to a test's node id for its fixtures' ``params=``, where the source
makes them knowable.

pytest parametrizes every fixture with ``params`` in the test's fixture closure before the
``parametrize`` marks: autouse fixtures, ``usefixtures``, then the test's arguments, each
fixture's own arguments appended breadth first, the whole sorted by scope (session first,
stable). A fixture resolves to its nearest definition: the test's class, its module, then
the conftests from the nearest directory up; one defined nowhere we can see (pytest's own,
a plugin's such as ``mocker``) is taken to have no params. A fixture overriding itself, a
``mock.patch`` decorator or a non-literal ``params``/``ids``/``name`` makes the ids
unknowable: the caller then reports the test under its function's id, which pytest
still accepts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from flaketui.discover.bindings import ModuleInfo, Scope
from flaketui.discover.params import Unknowable
from flaketui.discover.symbols import (
    Evaluator,
    FunctionRef,
    Mark,
    dotted_name,
)

_SCOPES = {"session": 4, "package": 3, "module": 2, "class": 1, "function": 0}


@dataclass(frozen=True)
class FixtureDef:
    name: str
    module: ModuleInfo
    node: ast.FunctionDef | ast.AsyncFunctionDef
    argnames: tuple[str, ...]
    #: Higher runs first (session 4 ... function 0); None when not written as a literal.
    scope: int | None
    #: None when not written as a literal.
    autouse: bool | None
    params: ast.expr | None
    ids: ast.expr | None


def fixture_def(module: ModuleInfo, node: ast.stmt, *, in_class: bool) -> FixtureDef | None:
    """The fixture ``node`` defines, or None when it is no fixture; raises ``Unknowable`` when
    its decorator's arguments are not literal."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if dotted_name(target).rpartition(".")[2] not in ("fixture", "yield_fixture"):
            continue
        keywords = {k.arg: k.value for k in decorator.keywords} if isinstance(decorator, ast.Call) else {}
        if isinstance(decorator, ast.Call) and (decorator.args or None in keywords):
            raise Unknowable("fixture arguments not literal")
        name = _literal(keywords.get("name"), str, node.name)
        if not isinstance(name, str):
            raise Unknowable("fixture name not literal")
        scope = _literal(keywords.get("scope"), str, "function")
        autouse = _literal(keywords.get("autouse"), bool, False)
        params = keywords.get("params")
        if isinstance(params, ast.Constant) and params.value is None:
            params = None
        return FixtureDef(
            name, module, node, _argnames(node, in_class=in_class), _SCOPES.get(scope) if isinstance(scope, str) else None,
            autouse if isinstance(autouse, bool) else None, params, keywords.get("ids"),
        )
    return None


def has_params(scope: Scope) -> bool:
    """Whether a class body defines a fixture with ``params=`` (read from the decorators alone)."""
    for bindings in scope.bindings.values():
        for node in bindings:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                isinstance(d, ast.Call) and any(k.arg == "params" for k in d.keywords) for d in node.decorator_list
            ):
                return True
    return False


def module_fixtures(module: ModuleInfo, evaluator: Evaluator) -> list[FixtureDef]:
    """The fixtures a module defines or imports at its top level, in source order."""
    found: list[FixtureDef] = []
    for name in module.scope.bindings:
        value = evaluator.lookup(module, module.scope, name)
        if isinstance(value, FunctionRef):
            definition = fixture_def(value.module, value.node, in_class=False)
            if definition is not None:
                found.append(definition)
    return found


def class_fixtures(scope: Scope, module: ModuleInfo) -> list[FixtureDef]:
    found: list[FixtureDef] = []
    for bindings in scope.bindings.values():
        for binding in bindings:
            definition = fixture_def(module, binding, in_class=True) if isinstance(binding, ast.stmt) else None
            if definition is not None:
                found.append(definition)
    return found


def fixture_parametrizations(
    visible: list[list[FixtureDef]],
    function: FunctionRef,
    *,
    in_class: bool,
    usefixtures: list[str],
    direct: set[str],
) -> list[Mark]:
    """The ``parametrize`` pytest applies for the params of the fixtures in the test's closure,
    in its order (they come before the test's own marks): ``[]`` when none has params.
    ``visible`` lists the definitions nearest last (conftests from the root down, the
    module, the class); ``direct`` are the names the test's ``parametrize`` marks set,
    which override a fixture's params. Raises ``Unknowable``."""
    if any(dotted_name(d.func if isinstance(d, ast.Call) else d).rpartition(".")[2] == "patch" for d in function.node.decorator_list):
        raise Unknowable("mock.patch decorators remove arguments")
    by_name: dict[str, FixtureDef] = {}
    autouse: list[str] = []
    for level in visible:
        for definition in level:
            by_name[definition.name] = definition
            if definition.autouse is None:
                raise Unknowable(f"whether fixture {definition.name} is autouse")
            if definition.autouse and definition.name not in autouse:
                autouse.append(definition.name)
    closure = list(dict.fromkeys([*autouse, *usefixtures, *_argnames(function.node, in_class=in_class)]))
    for name in closure:  # grows as it goes: breadth first, as pytest's getfixtureclosure
        fixture = by_name.get(name)
        if fixture is None:
            # pytest's own fixtures, a parametrize argument, or a plugin's fixture (mocker,
            # qtbot): taken to have no params, as plugins' fixtures almost never do.
            continue
        if name in fixture.argnames:
            raise Unknowable(f"fixture {name} overrides itself")
        closure.extend(arg for arg in fixture.argnames if arg not in closure)
    used = [by_name[n] for n in closure if n in by_name]
    if any(d.scope is None for d in used) and sum(d.params is not None for d in used) > 1:
        raise Unknowable("a fixture scope decides the order of the ids")
    ordered = sorted(used, key=lambda d: -(d.scope or 0))
    return [parametrization(d) for d in ordered if d.params is not None and d.name not in direct]


def parametrization(definition: FixtureDef) -> Mark:
    """The ``parametrize`` mark pytest applies for a fixture's params (ids by the same rules)."""
    assert definition.params is not None
    keywords = (("ids", definition.ids),) if definition.ids is not None else ()
    return Mark("parametrize", definition.module, (ast.Constant(definition.name), definition.params), keywords, True)


def _argnames(node: ast.FunctionDef | ast.AsyncFunctionDef, *, in_class: bool) -> tuple[str, ...]:
    """pytest's getfuncargnames: positional and keyword-only arguments without a default,
    minus ``self``/``cls`` of a method."""
    arguments = node.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if arguments.defaults:
        positional = positional[: -len(arguments.defaults)]
    if in_class and positional and not any(dotted_name(d) == "staticmethod" for d in node.decorator_list):
        positional = positional[1:]
    keyword_only = [a for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults) if default is None]
    return tuple(a.arg for a in (*positional, *keyword_only))


def _literal(node: ast.expr | None, kind: type, default: object) -> object:
    """The literal value of a keyword argument, its default when absent, None when not literal."""
    if node is None:
        return default
    if isinstance(node, ast.Constant) and isinstance(node.value, kind):
        return node.value
    return None
