"""What hides flakiness without a flaky marker: a non-strict xfail for a flaky reason, a
home-made retry decorator. Reported as findings, never as markers."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from flaketui.discover.bindings import Scope
from flaketui.discover.marks import MarkReader, MarkUse
from flaketui.discover.symbols import (
    Constant,
    External,
    FlakyDecorator,
    FunctionRef,
    Mark,
    Unbound,
    Value,
)
from flaketui.discover.symbols import dotted_name as _dotted
from flaketui.models import Finding

if TYPE_CHECKING:
    from flaketui.discover.collect import ModuleCollection

RETRY_NAME = re.compile(r"retr(y|ies|ying)|rerun|repeat_on_fail|flak|backoff|on_exception", re.IGNORECASE)
#: Words of a reason that say "fails now and then" (a plain bug or a timeout does not qualify).
FLAKY_REASON = re.compile(
    r"flak|intermittent|sporadic|random(ly)? fail|sometimes|occasional|unstable|non-?determinis|\brac(e|y)\b|"
    r"race condition|timing|unreliable",
    re.IGNORECASE,
)


class Suspects:
    def __init__(self, marks: MarkReader, xfail_strict: bool) -> None:
        self.marks = marks
        self.evaluator = marks.evaluator
        #: ``xfail_strict`` of the pytest configuration: an xfail without ``strict=`` takes it.
        self.xfail_strict = xfail_strict

    def xfails(self, result: ModuleCollection, marks: list[MarkUse], nodeid: str) -> None:
        for use in marks:
            value = use.value
            if not (isinstance(value, Mark) and value.name == "xfail" and value.module is not None):
                continue
            strict = value.keyword("strict")
            strict_value = self.evaluator.evaluate(value.module, value.module.scope, strict) if strict is not None else None
            is_strict = strict_value.value if isinstance(strict_value, Constant) else (self.xfail_strict if strict is None else True)
            reason_node = value.keyword("reason")
            if reason_node is None:
                reason_node = next((p for p in value.positional if isinstance(p, ast.Constant) and isinstance(p.value, str)), None)
            reason = value.module.source.segment(reason_node) if reason_node is not None else ""
            if not is_strict and FLAKY_REASON.search(reason):
                result.findings.append(
                    Finding(
                        "xfail-flaky",
                        use.module.path,
                        use.node.lineno,
                        f"{nodeid}: non-strict xfail for a flaky reason hides both failures and passes",
                        use.module.source.segment(use.node),
                    )
                )

    def decorators(self, result: ModuleCollection, function: FunctionRef, scope: Scope, nodeid: str) -> None:
        for decorator in function.node.decorator_list:
            value = self.evaluator.evaluate(function.module, scope, decorator)
            if isinstance(value, (Mark, FlakyDecorator)) or (isinstance(value, Unbound) and value.name == "flaky"):
                continue
            if isinstance(value, FunctionRef) and self.marks.applied_marks(value):
                continue  # a helper that applies marks: reported as the markers themselves
            name = _decorator_name(value, decorator)
            if name and RETRY_NAME.search(name):
                result.findings.append(
                    Finding(
                        "retry-decorator",
                        function.module.path,
                        decorator.lineno,
                        f"{nodeid}: @{name} looks like a home-made retry, which hides flakiness as a rerun plugin does",
                        function.module.source.segment(decorator),
                    )
                )


def _decorator_name(value: Value | None, node: ast.expr) -> str:
    if isinstance(value, FunctionRef):
        return value.node.name
    if isinstance(value, External):
        return value.dotted
    if isinstance(value, Unbound):
        return value.name
    target = node.func if isinstance(node, ast.Call) else node
    return _dotted(target)
