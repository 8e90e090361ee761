"""Marks as they reach a test: decorators, ``pytestmark``, marks applied by calling them and
decorator helpers, located where each is written, and the ``Marker`` models made of them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from flaketui.discover.bindings import Import, ImportFrom, ModuleInfo, Scope
from flaketui.discover.symbols import (
    ClassRef,
    Evaluator,
    FlakyDecorator,
    FunctionRef,
    Mark,
    Sequence,
    Unbound,
    _single_return,
    flatten_marks,
)
from flaketui.discover.symbols import dotted_name as _dotted
from flaketui.models import Marker, MarkerKind, MarkerScope

_RERUNFAILURES_ARGS = frozenset({"reruns", "reruns_delay", "only_rerun", "condition", "rerun_except"})
_FLAKY_ARGS = frozenset({"max_runs", "min_passes", "rerun_filter"})
_RETRY_ARGS = frozenset({"retries", "delay", "cumulative_timing"})


@dataclass(frozen=True)
class MarkUse:
    """A mark as it reaches a test, located where it is written."""

    value: Mark | FlakyDecorator
    scope: MarkerScope
    module: ModuleInfo
    node: ast.expr
    via: str | None = None


class MarkReader:
    def __init__(self, evaluator: Evaluator, declared: set[str]) -> None:
        self.evaluator = evaluator
        #: The rerun plugins the project declares (``rerunfailures``, ``flaky``, ``retry``).
        self.declared = declared

    def class_own_marks(self, cls: ClassRef) -> Iterator[MarkUse]:
        scope = cls.module.class_scope(cls.node)
        yield from self.pytestmark(cls.module, scope, MarkerScope.CLASS)
        for decorator in reversed(cls.node.decorator_list):
            yield from self.decorator_marks(cls.module, cls.module.scope, decorator, MarkerScope.CLASS)

    def pytestmark(self, module: ModuleInfo, scope: Scope, marker_scope: MarkerScope) -> Iterator[MarkUse]:
        bindings = scope.bindings.get("pytestmark")
        if not bindings:
            return
        if "pytestmark" in scope.conditional or not all(isinstance(b, ast.expr) for b in bindings):
            # Imported, or bound in branches: what the name evaluates to, located where each mark is written.
            value = self.evaluator.lookup(module, scope, "pytestmark")
            for mark in flatten_marks(value):
                if mark.origin is not None and mark.module is not None:
                    yield MarkUse(mark, marker_scope, mark.module, mark.origin, "pytestmark")
            return
        for binding in bindings:
            assert isinstance(binding, ast.expr)
            pieces = binding.elts if isinstance(binding, (ast.List, ast.Tuple)) else [binding]
            for piece in pieces:
                value = self.evaluator.evaluate(module, scope, piece)
                for mark in flatten_marks(value):
                    yield MarkUse(mark, marker_scope, module, piece, alias(self.evaluator, module, scope, piece))

    def decorator_marks(self, module: ModuleInfo, scope: Scope, node: ast.expr, marker_scope: MarkerScope) -> Iterator[MarkUse]:
        value = self.evaluator.evaluate(module, scope, node)
        if isinstance(value, Unbound) and value.name == "flaky":
            # `@flaky` from a star import we cannot follow: the flaky package's decorator.
            value = FlakyDecorator(module, *_call_arguments(node))
        if isinstance(value, (Mark, FlakyDecorator)):
            yield MarkUse(value, marker_scope, module, node, alias(self.evaluator, module, scope, node))
        elif isinstance(value, FunctionRef):
            via = _dotted(node) or None
            for applied in self.applied_marks(value):
                yield MarkUse(applied, marker_scope, module, node, via)

    def applied_uses(self, target: FunctionRef | ClassRef, marker_scope: MarkerScope) -> list[MarkUse]:
        """Marks applied by calling them on the test (``test_x = pytest.mark.flaky(test_x)``),
        outermost first as decorators are; located at the mark expression of each call."""
        return [
            MarkUse(value, marker_scope, value.module or target.module, call.func)
            for value, call in reversed(target.applied)
        ]

    def applied_marks(self, helper: FunctionRef) -> list[Mark | FlakyDecorator]:
        """The marks a decorator helper applies to its argument: ``def flaky(fn): return
        _timeout(_flaky(fn))`` with ``_flaky = pytest.mark.flaky(reruns=5)``. Empty for anything else."""
        parameters = helper.node.args.posonlyargs + helper.node.args.args
        returned = _single_return(helper.node)
        if not parameters or returned is None:
            return []
        marks: list[Mark | FlakyDecorator] = []
        expression = returned
        while isinstance(expression, ast.Call) and len(expression.args) == 1 and not expression.keywords:
            applied = self.evaluator.evaluate(helper.module, helper.module.scope, expression.func)
            if not isinstance(applied, (Mark, FlakyDecorator)):
                return []
            marks.append(applied)
            expression = expression.args[0]
        if isinstance(expression, ast.Name) and expression.id == parameters[0].arg:
            return marks
        return []

    def marker(self, use: MarkUse) -> Marker:
        value = use.value
        module = value.module or use.module
        keywords = tuple((key, module.source.segment(node)) for key, node in value.keywords)
        positional = tuple(module.source.segment(node) for node in value.positional)
        return Marker(
            kind=self.kind(value),
            scope=use.scope,
            path=use.module.path,
            line=use.node.lineno,
            source=use.module.source.segment(use.node),
            args=keywords,
            positional=positional,
            end_line=use.node.end_lineno,
            via=use.via,
            condition=value.condition,
        )

    def kind(self, value: Mark | FlakyDecorator) -> MarkerKind:
        if isinstance(value, FlakyDecorator):
            return MarkerKind.FLAKY
        names = {key for key, _ in value.keywords}
        if names & _RERUNFAILURES_ARGS:
            return MarkerKind.RERUNFAILURES
        if names & _FLAKY_ARGS:
            return MarkerKind.FLAKY
        if names & _RETRY_ARGS:
            return MarkerKind.RETRY
        if len(self.declared) == 1:
            return MarkerKind(next(iter(self.declared)))
        return MarkerKind.UNKNOWN


def is_flaky(value: Mark | FlakyDecorator) -> bool:
    return isinstance(value, FlakyDecorator) or value.name == "flaky"


def _call_arguments(node: ast.expr) -> tuple[tuple[ast.expr, ...], tuple[tuple[str, ast.expr], ...]]:
    if isinstance(node, ast.Call):
        return tuple(node.args), tuple((k.arg, k.value) for k in node.keywords if k.arg)
    return (), ()


def alias(evaluator: Evaluator, module: ModuleInfo, scope: Scope, node: ast.expr) -> str | None:
    """The alias a mark was reached through: ``flaky`` in ``@flaky`` when ``flaky = pytest.mark.flaky(...)``
    or when it is imported from one of the repository's modules; None for the spelled-out mark or the
    ``flaky`` package's own decorator."""
    target = node.func if isinstance(node, ast.Call) else node
    root = target
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name):
        return None
    current: Scope | None = scope
    while current is not None and root.id not in current.bindings:
        current = current.parent
    if current is None:
        return None
    binding = current.bindings[root.id][0]
    if isinstance(binding, Import):
        return None if evaluator.find_module(binding.dotted, module) is None else _dotted(target)
    if isinstance(binding, ImportFrom):
        if evaluator.find_module(binding.module, module) is None:
            return None
        return _dotted(target)
    if isinstance(binding, ast.expr):
        value = evaluator.lookup(module, scope, root.id)
        if isinstance(value, (Mark, FlakyDecorator, Sequence)):
            return _dotted(target)
    return None
