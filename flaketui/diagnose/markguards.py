"""The branches of a fixture that run only for tests carrying a mark.

spyder's ``ipyconsole`` fixture reads ``auto_backend = request.node.get_closest_marker(
"auto_backend")`` and, under ``if auto_backend or tk_backend:``, waits a fixed time. Read as a
whole, that wait was the "why" of 71 tests, of which 4 carry either mark. A fixture's line in
such a branch is evidence only for a test that carries one of its marks (on itself, its class or
its module's ``pytestmark``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange

#: ``(first line, last line, marks)``: the branch runs only for a test with one of the marks.
Guard = tuple[int, int, frozenset[str]]

_PYTESTMARK = re.compile(r"^pytestmark\s*=\s*(\[[^\]]*\]|[^\n]*)", re.MULTILINE)
_MARK_NAME = re.compile(r"\bmark\.(\w+)")


def read(node: cst.FunctionDef, text: str, positions: Mapping[cst.CSTNode, CodeRange], offset: int
         ) -> tuple[frozenset[str], list[Guard]]:  # fmt: skip
    """The marks ``node`` carries in its decorators, and its mark-guarded branches (looked for
    only in a function whose ``text`` asks for a marker: walking every function cost a cold
    diagnosis of 1,000 tests a fifth more)."""
    guards = _guards(node, positions, offset) if "get_closest_marker" in text else []
    return decorator_marks(node.decorators), guards


def decorator_marks(decorators: Sequence[cst.Decorator]) -> frozenset[str]:
    """``{"slow"}`` for ``@pytest.mark.slow`` or ``@pytest.mark.slow(...)``."""
    found = set()
    for decorator in decorators:
        expression = decorator.decorator
        expression = expression.func if isinstance(expression, cst.Call) else expression
        if isinstance(expression, cst.Attribute) and _is_mark(expression.value):
            found.add(expression.attr.value)
    return frozenset(found)


def module_marks(source: str) -> frozenset[str]:
    """The marks a module's ``pytestmark`` puts on every test in it."""
    return frozenset(name for assigned in _PYTESTMARK.findall(source) for name in _MARK_NAME.findall(assigned))


def applies(guards: Iterable[Guard], line: int, marks: frozenset[str]) -> bool:
    """Whether a fixture's ``line`` runs for a test carrying ``marks``."""
    return all(marks & needed for start, end, needed in guards if start <= line <= end)


def _is_mark(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Attribute) and node.attr.value == "mark") or (
        isinstance(node, cst.Name) and node.value == "mark")


def _marker_read(node: cst.BaseExpression | None) -> str | None:
    """``"m"`` for ``<anything>.get_closest_marker("m")``."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "get_closest_marker" and node.args):
        return None
    value = node.args[0].value
    return value.evaluated_value if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str) else None


def _guards(node: cst.FunctionDef, positions: Mapping[cst.CSTNode, CodeRange], offset: int) -> list[Guard]:
    flags: dict[str, str] = {}
    for assign in m.findall(node, m.Assign()):
        assert isinstance(assign, cst.Assign)
        mark = _marker_read(assign.value)
        if mark is not None and len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name):
            flags[assign.targets[0].target.value] = mark
    guards: list[Guard] = []
    for branch in m.findall(node, m.If()):
        assert isinstance(branch, cst.If)
        needed = _needed(branch.test, flags)
        if needed:
            where = positions[branch.body]
            guards.append((where.start.line + offset, where.end.line + offset, needed))
    return guards


def _needed(test: cst.BaseExpression, flags: Mapping[str, str]) -> frozenset[str]:
    """The marks one of which the test of an ``if`` needs (``a or b``, ``a``, a direct read);
    empty when it needs no mark, or something else as well."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        left, right = _needed(test.left, flags), _needed(test.right, flags)
        return left | right if left and right else frozenset()
    if isinstance(test, cst.Name) and test.value in flags:
        return frozenset({flags[test.value]})
    mark = _marker_read(test)
    return frozenset({mark}) if mark else frozenset()

