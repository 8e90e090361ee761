"""A test that passes only after another test filled a registry for it (a brittle test).

``test_register_adds_handler`` registers ``"send_email"`` with ``@registry.register`` and never
takes it back; ``test_dispatch`` dispatches ``"send_email"`` and registers nothing: it passes
only when the first ran before it. Restoring the registry in the first would make the second
fail every time, so such a test fills the registry itself: the setter's registering statements
are copied to its start, after swapping the registry for a copy that ``monkeypatch`` puts back.
Its assertions are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from flaketui.remedies._cst import add_parameter, code, dotted, statement

#: qualified project module -> function -> [(module-level container it fills, its type)]
Registries = dict[str, dict[str, list[tuple[str, str]]]]


@dataclass(frozen=True)
class Registration:
    """One statement of a test that fills a project registry, the keys it registers, and the
    ``monkeypatch`` swap that gives the test a copy of that registry."""

    statement: cst.BaseStatement
    keys: frozenset[str]
    swaps: tuple[str, ...]


def registrations(function: cst.FunctionDef, names: dict[str, str], registries: Registries) -> list[Registration]:
    """The statements of ``function``'s body that call a registry-filling function of the project
    (``@registry.register("x")`` on a nested ``def``, or ``registry.register("x", handler)``)."""
    body = function.body
    if not isinstance(body, cst.IndentedBlock):
        return []
    found = []
    for line in body.body:
        calls: list[cst.Call] = []
        if isinstance(line, cst.FunctionDef):
            calls = [d.decorator for d in line.decorators if isinstance(d.decorator, cst.Call)]
        elif isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
            small = line.body[0]
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                calls = [small.value]
        keys: set[str] = set()
        swaps: list[str] = []
        for call in calls:
            filled = _fills(call, names, registries)
            if filled is None:
                continue
            local_module, containers = filled
            keys |= {a.value.evaluated_value for a in call.args if isinstance(a.value, cst.SimpleString)
                     and isinstance(a.value.evaluated_value, str)}  # fmt: skip
            swaps += [f'monkeypatch.setattr({local_module}, "{c}", {kind}({local_module}.{c}))' for c, kind in containers]
        if keys:
            found.append(Registration(line, frozenset(keys), tuple(swaps)))
    return found


def _fills(call: cst.Call, names: dict[str, str], registries: Registries) -> tuple[str, list[tuple[str, str]]] | None:
    name = dotted(call.func)
    if name is None or "." not in name:
        return None
    local_module, function = name.rsplit(".", 1)
    containers = registries.get(names.get(local_module, local_module), {}).get(function)
    return (local_module, containers) if containers else None


def brittle_on(
    victim: cst.FunctionDef, setter: cst.FunctionDef, names: dict[str, str], registries: Registries
) -> list[Registration]:
    """The setter's registrations whose keys the victim names but never registers itself."""
    if not registries:
        return []  # the project fills no registry: no test can register for another
    setter_registers = registrations(setter, names, registries)
    if not setter_registers:
        return []  # asked of every test in a module of hundreds: the victim's side only when needed
    own = {k for r in registrations(victim, names, registries) for k in r.keys}
    named = {
        s.evaluated_value for s in m.findall(victim, m.SimpleString())
        if isinstance(s, cst.SimpleString) and isinstance(s.evaluated_value, str)
    }  # fmt: skip
    return [r for r in setter_registers if (r.keys & named) - own]


def own_setup(victim: cst.FunctionDef, needed: Sequence[Registration]) -> cst.FunctionDef:
    """The victim registering what it needs itself, on a copy of the registry."""
    body = victim.body
    assert isinstance(body, cst.IndentedBlock)
    already = code(victim)
    swaps = [s for s in dict.fromkeys(s for r in needed for s in r.swaps) if s not in already]
    first = 1 if victim.get_docstring() is not None else 0
    lines = list(body.body)
    lines[first:first] = [*(statement(s + "\n") for s in swaps), *(r.statement for r in needed)]
    return add_parameter(victim.with_changes(body=body.with_changes(body=lines)), "monkeypatch")
