"""Which imports and marker aliases a removal left unused, so they can go too."""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from flaketui.codemod._locate import is_mark_like
from flaketui.pyast import parse_module


def names_used_by(node: cst.CSTNode) -> set[str]:
    """The variable names an expression reads (not attribute names, not keyword names)."""
    counter = _NameCounter()
    node.visit(counter)
    return set(counter.counts)


def alias_definition_target(statement: cst.CSTNode) -> str | None:
    """``flaky = pytest.mark.flaky(reruns=3)`` -> ``"flaky"``: a name bound to a bare marker."""
    if (
        isinstance(statement, cst.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0].target, cst.Name)
        and is_mark_like(statement.value)
    ):
        return statement.targets[0].target.value
    return None


class _NameCounter(cst.CSTVisitor):
    """Counts reads of each name. Imports and alias definitions bind names rather than read them;
    anything else named alike (a parameter, a local) is counted, so a doubtful import stays."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def visit_Name(self, node: cst.Name) -> None:
        self.counts[node.value] += 1

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> bool:
        if alias_definition_target(node) is not None:
            node.value.visit(self)
            return False
        return True


def _bound_name(alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None:
        target = alias.asname.name
        return target.value if isinstance(target, cst.Name) else None
    name: cst.BaseExpression = alias.name
    while isinstance(name, cst.Attribute):  # ``import a.b`` binds ``a``
        name = name.value
    return name.value if isinstance(name, cst.Name) else None


def _exported(module: cst.Module) -> set[str]:
    """The names in a top-level ``__all__``: a re-export is a use the file cannot see."""
    names: set[str] = set()
    for line in module.body:
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if m.matches(statement, m.Assign(targets=[m.AssignTarget(m.Name("__all__"))])):
                assert isinstance(statement, cst.Assign)
                for element in getattr(statement.value, "elements", ()):
                    value = element.value
                    if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
                        names.add(value.evaluated_value)
    return names


@dataclass
class Unused:
    """What a round of clean-up removes, with the parents of those nodes, and what it frees."""

    nodes: list[cst.CSTNode] = field(default_factory=list)
    parents: dict[int, cst.CSTNode] = field(default_factory=dict)
    freed: set[str] = field(default_factory=set)


def _read_counts(module: cst.Module, text: str) -> Counter[str]:
    """How often each name is read. The standard ``ast`` does it in a fraction of the time a
    libcst walk of a large module takes; libcst steps in for syntax this Python cannot parse."""
    try:
        tree = parse_module(text)
    except SyntaxError:
        counter = _NameCounter()
        module.visit(counter)
        return counter.counts
    definitions = {
        id(statement.targets[0])
        for statement in tree.body
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
    }
    return Counter(node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in definitions)


def unused_definitions(module: cst.Module, text: str, candidates: set[str]) -> Unused:
    """Module-level imports and marker aliases among ``candidates`` that nothing reads any more,
    and the names those aliases read (candidates for the next round)."""
    counts = _read_counts(module, text)
    keep = _exported(module)
    unused = Unused()
    doomed = unused.nodes
    freed = unused.freed
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        unused.parents[id(line)] = module
        for statement in line.body:
            unused.parents[id(statement)] = line
            if isinstance(statement, cst.Import) or (
                isinstance(statement, cst.ImportFrom)
                and not isinstance(statement.names, cst.ImportStar)
                and not (statement.module is not None and m.matches(statement.module, m.Name("__future__")))
            ):
                assert not isinstance(statement.names, cst.ImportStar)  # excluded just above
                for alias in statement.names:
                    unused.parents[id(alias)] = statement
                    bound = _bound_name(alias)
                    if bound in candidates and bound not in keep and counts[bound] == 0:
                        doomed.append(alias)
            target = alias_definition_target(statement)
            if isinstance(statement, cst.Assign) and target in candidates and target not in keep and counts[target] == 0:
                doomed.append(statement)
                freed |= names_used_by(statement.value)
    return unused
