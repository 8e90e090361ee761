"""pytest's parametrize ids, computed statically where the source makes them knowable.

Mirrors ``_pytest.python.IdMaker``: ``pytest.param(id=...)`` first, then ``ids=[...]``, else
one token per value (str/bytes escaped to ASCII, numbers/bools/None via ``str``, anything
with a ``__name__`` by its name, other objects ``argname`` + index), joined by ``-``, then
made unique with a counter. Anything we cannot know (a variable, an ``ids`` callable, a
``pytest_make_parametrize_id`` hook) makes the whole parametrization unknowable.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from flaketui.discover.bindings import ImportFrom, ModuleInfo
from flaketui.discover.symbols import (
    ClassRef,
    Constant,
    Evaluator,
    FunctionRef,
    Mark,
    Param,
    Sequence,
    Unbound,
    Value,
)


class Unknowable(Exception):
    """The ids depend on runtime values."""


@dataclass(frozen=True)
class ParameterSet:
    id: str
    #: The ``marks=`` of ``pytest.param``, with the node each was written at (in ``module``).
    marks: tuple[tuple[Value | None, ast.expr], ...] = ()
    module: ModuleInfo | None = None


_NON_PRINTABLE = {i: f"\\x{i:02x}" for i in range(128) if i not in range(32, 127)}
_NON_PRINTABLE.update({ord("\t"): "\\t", ord("\r"): "\\r", ord("\n"): "\\n"})


def ascii_escaped(value: str | bytes) -> str:
    if isinstance(value, bytes):
        text = value.decode("ascii", "backslashreplace")
    else:
        text = value.encode("unicode_escape").decode("ascii")
    return text.translate(_NON_PRINTABLE)


def parameter_sets(evaluator: Evaluator, mark: Mark, *, escape: bool = True, id_hook: bool = False) -> list[ParameterSet]:
    """The parameter sets of one ``parametrize`` mark, with their unique ids."""
    module = mark.module
    if module is None:
        raise Unknowable("no arguments")
    argnames_node = mark.positional[0] if mark.positional else mark.keyword("argnames")
    argvalues_node = mark.positional[1] if len(mark.positional) > 1 else mark.keyword("argvalues")
    if argnames_node is None or argvalues_node is None:
        raise Unknowable("parametrize without literal arguments")
    argnames = literal_argnames(evaluator, module, argnames_node)
    ids_node = mark.positional[2] if len(mark.positional) > 2 else mark.keyword("ids")
    explicit_ids: list[ast.expr] | None = None
    ids_module = module
    if ids_node is not None and not (isinstance(ids_node, ast.Constant) and ids_node.value is None):
        ids_module, explicit_ids = _literal_sequence(evaluator, module, ids_node)
    # The values may be a list defined elsewhere (`from cases import CASES`): evaluate them there.
    module, values = _literal_sequence(evaluator, module, argvalues_node)
    if not values:
        raise Unknowable("empty parameter list")
    tokens: list[str] = []
    sets: list[tuple[tuple[Value | None, ast.expr], ...]] = []
    for index, value_node in enumerate(values):
        value = evaluator.evaluate(module, module.scope, value_node)
        marks: tuple[tuple[Value | None, ast.expr], ...] = ()
        if isinstance(value, Param):
            marks = tuple(_param_marks(value))
            element_nodes = list(value.values)
            given_id = value.id
        else:
            element_nodes = [value_node] if len(argnames) == 1 else _tuple_elements(evaluator, module, value_node)
            given_id = None
        sets.append(marks)
        if given_id is not None:
            tokens.append(_explicit_id(evaluator, module, given_id, escape, allow_none=False))
            continue
        if explicit_ids is not None and index < len(explicit_ids):
            explicit = explicit_ids[index]
            if not (isinstance(explicit, ast.Constant) and explicit.value is None):
                tokens.append(_explicit_id(evaluator, ids_module, explicit, escape, allow_none=False))
                continue
        if len(element_nodes) != len(argnames):
            raise Unknowable("values do not match argnames")
        if id_hook:
            raise Unknowable("a pytest_make_parametrize_id hook decides the ids")
        tokens.append("-".join(_auto_id(evaluator, module, node, name, index, escape) for node, name in zip(element_nodes, argnames)))
    return [ParameterSet(token, marks, module) for token, marks in zip(make_unique(tokens), sets)]


def _param_marks(param: Param) -> list[tuple[Value | None, ast.expr]]:
    marks_node = next((value for value in _marks_nodes(param)), None)
    if marks_node is None:
        return []
    if isinstance(marks_node, (ast.List, ast.Tuple)) and len(marks_node.elts) == len(param.marks):
        return list(zip(param.marks, marks_node.elts))
    return [(mark, marks_node) for mark in param.marks]


def _marks_nodes(param: Param) -> Iterator[ast.expr]:
    call = param.node
    if isinstance(call, ast.Call):
        for keyword in call.keywords:
            if keyword.arg == "marks":
                yield keyword.value


def make_unique(tokens: list[str]) -> list[str]:
    """pytest's suffixing of duplicate ids: ``a0, a1``; ``1_0, 1_1`` after a digit."""
    resolved = list(tokens)
    if len(resolved) == len(set(resolved)):
        return resolved
    counts = Counter(resolved)
    suffixes: dict[str, int] = defaultdict(int)
    for index, token in enumerate(resolved):
        if counts[token] > 1:
            separator = "_" if token and token[-1].isdigit() else ""
            new = f"{token}{separator}{suffixes[token]}"
            while new in set(resolved):
                suffixes[token] += 1
                new = f"{token}{separator}{suffixes[token]}"
            resolved[index] = new
            suffixes[token] += 1
    return resolved


def literal_argnames(evaluator: Evaluator, module: ModuleInfo, node: ast.expr) -> list[str]:
    """``parametrize``'s argnames as written: ``"a, b"`` or a list of strings."""
    value = evaluator.evaluate(module, module.scope, node)
    if isinstance(value, Constant) and isinstance(value.value, str):
        return [name.strip() for name in value.value.split(",") if name.strip()]
    if isinstance(value, Sequence):
        names = [v.value for v in value.items if isinstance(v, Constant) and isinstance(v.value, str)]
        if len(names) == len(value.items):
            return names
    raise Unknowable("argnames not literal")


def _literal_sequence(evaluator: Evaluator, module: ModuleInfo, node: ast.expr, depth: int = 0) -> tuple[ModuleInfo, list[ast.expr]]:
    """A literal list or tuple, followed through one-assignment names and imports from the repository."""
    if depth > 10:
        raise Unknowable("too many indirections")
    if isinstance(node, (ast.List, ast.Tuple)):
        if any(isinstance(element, ast.Starred) for element in node.elts):
            raise Unknowable("starred values")
        return module, list(node.elts)
    if isinstance(node, ast.Name):
        bindings = module.scope.bindings.get(node.id)
        if bindings and len(bindings) == 1:
            binding = bindings[0]
            if isinstance(binding, ast.expr):
                return _literal_sequence(evaluator, module, binding, depth + 1)
            if isinstance(binding, ImportFrom):
                source = evaluator.find_module(binding.module, module)
                if source is not None:
                    name = ast.Name(id=binding.name, ctx=ast.Load())
                    return _literal_sequence(evaluator, source, name, depth + 1)
    raise Unknowable("values not literal")


def _tuple_elements(evaluator: Evaluator, module: ModuleInfo, node: ast.expr) -> list[ast.expr]:
    if isinstance(node, (ast.Tuple, ast.List)):
        return list(node.elts)
    raise Unknowable("value set not literal")


def _explicit_id(evaluator: Evaluator, module: ModuleInfo, node: ast.expr, escape: bool, *, allow_none: bool) -> str:
    token = _value_id(evaluator, module, node, escape)
    if token is None:
        raise Unknowable("id not literal")
    return token


def _auto_id(evaluator: Evaluator, module: ModuleInfo, node: ast.expr, argname: str, index: int, escape: bool) -> str:
    token = _value_id(evaluator, module, node, escape)
    if token is not None:
        return token
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.IfExp, ast.Starred)):
        # A name may hold a str or an enum; a call may return a class: pytest would use those.
        value = evaluator.evaluate(module, module.scope, node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if isinstance(node, ast.Call) and _builds_plain_object(node):
            return f"{argname}{index}"
        if value is None or not isinstance(value, (Constant, ClassRef, FunctionRef)):
            raise Unknowable("value not literal")
        named = _value_id_from(value, escape)
        if named is None:
            return f"{argname}{index}"
        return named
    # dicts, lists, sets, arithmetic, f-strings: objects without a usable id.
    if isinstance(node, ast.JoinedStr):
        raise Unknowable("f-string")
    return f"{argname}{index}"


def _builds_plain_object(node: ast.Call) -> bool:
    """Calls of builtin containers give objects pytest names ``argname`` + index."""
    return isinstance(node.func, ast.Name) and node.func.id in {"dict", "list", "set", "tuple", "object", "frozenset"}


def _value_id(evaluator: Evaluator, module: ModuleInfo, node: ast.expr, escape: bool) -> str | None:
    if isinstance(node, ast.Lambda):
        return "<lambda>"
    if isinstance(node, (ast.Constant, ast.UnaryOp, ast.Name, ast.Attribute)):
        value = evaluator.evaluate(module, module.scope, node)
        if isinstance(value, Unbound) and not value.called:
            return _builtin_name(value.name)
        return _value_id_from(value, escape) if value is not None else None
    return None


def _builtin_name(name: str) -> str | None:
    """``int``, ``ValueError``, ``len``: builtins have a ``__name__`` pytest uses as the id."""
    found = getattr(builtins, name, None)
    named = getattr(found, "__name__", None)
    return named if isinstance(named, str) and not isinstance(found, (str, bytes, int, float)) else None


def _value_id_from(value: Value, escape: bool) -> str | None:
    if isinstance(value, Constant):
        raw = value.value
        if isinstance(raw, (str, bytes)):
            if escape:
                return ascii_escaped(raw)
            return raw if isinstance(raw, str) else ascii_escaped(raw)
        if raw is None or isinstance(raw, (int, float, bool, complex)):
            return str(raw)
        return None
    if isinstance(value, (ClassRef, FunctionRef)):
        return value.node.name
    return None
