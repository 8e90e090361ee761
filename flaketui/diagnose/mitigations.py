"""What cancels evidence, as a function's code says it: a seed, a frozen clock, a mocked
network or subprocess, a ``mock.patch`` of the very call a rule matched. Decorators cover the
whole function, a ``with`` its block, a plain call the rest of the function."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import libcst as cst

from flaketui.diagnose.rules import Mitigation
from flaketui.diagnose.vocabulary import (
    CALL_MITIGATIONS,
    PATCH_CALLS,
    SEED_CALLS,
    target_mitigations,
)

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionReader


def call_mitigations(reader: FunctionReader, node: cst.Call, qualified: str, *, blanket: bool = False,
                      span: tuple[int, int] | None = None) -> None:
    if SEED_CALLS.match(qualified) and node.args and not any(reader.is_clock_expression(a.value) for a in node.args):
        reader.mitigate(Mitigation.SEED, node, blanket=blanket, span=span)
    for pattern, kind in CALL_MITIGATIONS:
        if pattern.match(qualified):
            reader.mitigate(kind, node, blanket=blanket, span=span)
    if PATCH_CALLS.match(qualified):
        target = _patch_target(reader, node, qualified)
        if target:
            kinds: Collection[Mitigation | None] = target_mitigations(target) or {None}
            for patched in kinds:
                reader.mitigate(patched, node, blanket=blanket, span=span, target=target)


def _patch_target(reader: FunctionReader, node: cst.Call, qualified: str) -> str | None:
    args = [a for a in node.args if a.keyword is None]
    if not args:
        return None
    first = args[0].value
    if isinstance(first, cst.SimpleString) and isinstance(first.evaluated_value, str):
        return first.evaluated_value
    owner = reader.qualify(first)
    if owner is not None and len(args) > 1 and isinstance(args[1].value, cst.SimpleString):
        name = args[1].value.evaluated_value
        return f"{owner}.{name}" if isinstance(name, str) else owner
    return owner


def decorator(reader: FunctionReader, decorator: cst.Decorator) -> None:
    """Decorators cover the whole function: ``@freeze_time``, ``@responses.activate``, ``@patch(...)``."""
    expression = decorator.decorator
    call = expression if isinstance(expression, cst.Call) else None
    qualified = reader.qualify(call.func if call is not None else expression) or ""
    if call is not None:
        call_mitigations(reader, call, qualified, blanket=True)
    for pattern, kind in CALL_MITIGATIONS:
        if call is None and pattern.match(qualified):
            reader.mitigate(kind, decorator, blanket=True)


def with_block(reader: FunctionReader, node: cst.With) -> None:
    span = reader.lines(node)
    for item in node.items:
        if isinstance(item.item, cst.Call):
            reader.with_items.add(id(item.item))
            qualified = reader.qualify(item.item.func)
            if qualified is not None:
                call_mitigations(reader, item.item, qualified, span=span)
        if item.asname is not None:
            reader._bind(item.asname.name, item.item)
