"""Classes as pytest sees them: the MRO over the repository's modules, unittest classes,
abstract classes and ``__test__``."""

from __future__ import annotations

import ast
import re

from flaketui.discover.symbols import (
    ClassRef,
    Evaluator,
    External,
    Unbound,
    Value,
    dotted_name,
)

_UNITTEST_BASES = re.compile(r"(^|\.)(TestCase|IsolatedAsyncioTestCase|TransactionTestCase|SimpleTestCase|LiveServerTestCase|AsyncTestCase)$")


class Hierarchy:
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def is_abstract(self, cls: ClassRef, mro: list[ClassRef]) -> bool:
        """An ABC with an abstract method no class of the MRO overrides (``inspect.isabstract``)."""
        if not any(_uses_abc(c) for c in mro):
            return False
        resolved: dict[str, bool] = {}
        for current in reversed(mro):
            for statement in current.node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    resolved[statement.name] = any(dotted_name(d).endswith("abstractmethod") for d in statement.decorator_list)
        return any(resolved.values())

    def mro(self, cls: ClassRef) -> list[ClassRef]:
        """C3 linearisation over the classes we can see; external bases end the walk."""
        seen: set[int] = set()

        def linearise(current: ClassRef, depth: int) -> list[ClassRef]:
            if depth > 50 or id(current.node) in seen:
                return [current]
            seen.add(id(current.node))
            bases = [b for b in self.bases(current) if isinstance(b, ClassRef)]
            sequences = [linearise(b, depth + 1) for b in bases] + [bases]
            seen.discard(id(current.node))
            merged = _c3_merge([list(s) for s in sequences])
            return [current, *merged]

        return linearise(cls, 0)

    def bases(self, cls: ClassRef) -> list[Value | None]:
        scope = cls.module.scope
        return [self.evaluator.evaluate(cls.module, scope, base) for base in cls.node.bases]

    def is_unittest(self, cls: ClassRef, depth: int = 0) -> bool:
        if depth > 50:
            return False
        for base in self.bases(cls):
            if isinstance(base, External) and _UNITTEST_BASES.search(base.dotted):
                return True
            if isinstance(base, Unbound) and _UNITTEST_BASES.search(base.name):
                return True
            if isinstance(base, ClassRef) and self.is_unittest(base, depth + 1):
                return True
        return False


def test_attribute(mro: list[ClassRef]) -> bool | None:
    """The class's ``__test__`` as ``getattr`` finds it along the MRO, when a literal says it."""
    for current in mro:
        for statement in current.node.body:
            if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__test__" for t in statement.targets):
                return bool(statement.value.value) if isinstance(statement.value, ast.Constant) else None
    return None


def _uses_abc(cls: ClassRef) -> bool:
    names = [dotted_name(b) for b in cls.node.bases] + [dotted_name(k.value) for k in cls.node.keywords if k.arg == "metaclass"]
    return any(name.split(".")[-1] in ("ABC", "ABCMeta") for name in names)


def defines_init(node: ast.ClassDef) -> bool:
    return any(
        isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name in ("__init__", "__new__")
        for statement in node.body
    )


def _c3_merge(sequences: list[list[ClassRef]]) -> list[ClassRef]:
    result: list[ClassRef] = []
    sequences = [s for s in sequences if s]
    while sequences:
        for sequence in sequences:
            head = sequence[0]
            if not any(head.node is c.node for other in sequences for c in other[1:]):
                break
        else:  # inconsistent hierarchy: Python would refuse it; keep a depth-first order
            head = sequences[0][0]
        result.append(head)
        sequences = [[c for c in s if c is not head and c.node is not head.node] for s in sequences]
        sequences = [s for s in sequences if s]
    return result
