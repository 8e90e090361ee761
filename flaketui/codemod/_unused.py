"""Which imports and marker aliases a removal left unused, so they can go too."""

from __future__ import annotations

from collections import Counter

import libcst as cst
import libcst.matchers as m

from flaketui.codemod._locate import is_mark_like


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
    names: set[str] = set()
    for assign in m.findall(module, m.Assign(targets=[m.AssignTarget(m.Name("__all__"))])):
        assert isinstance(assign, cst.Assign)
        for string in m.findall(assign.value, m.SimpleString()):
            assert isinstance(string, cst.SimpleString)
            value = string.evaluated_value
            if isinstance(value, str):
                names.add(value)
    return names


def unused_definitions(module: cst.Module, candidates: set[str]) -> tuple[list[cst.CSTNode], set[str]]:
    """Module-level imports and marker aliases among ``candidates`` that nothing reads any more,
    and the names those aliases read (candidates for the next round)."""
    counter = _NameCounter()
    module.visit(counter)
    keep = _exported(module)
    doomed: list[cst.CSTNode] = []
    freed: set[str] = set()
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for statement in line.body:
            if isinstance(statement, cst.Import) or (
                isinstance(statement, cst.ImportFrom)
                and not isinstance(statement.names, cst.ImportStar)
                and not m.matches(statement.module, m.Name("__future__"))
            ):
                for alias in statement.names:  # type: ignore[union-attr]
                    bound = _bound_name(alias)
                    if bound in candidates and bound not in keep and counter.counts[bound] == 0:
                        doomed.append(alias)
            target = alias_definition_target(statement)
            if target in candidates and target not in keep and counter.counts[target] == 0:
                doomed.append(statement)
                freed |= names_used_by(statement.value)  # type: ignore[attr-defined]
    return doomed, freed
