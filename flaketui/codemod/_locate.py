"""Finding, in a libcst tree, the marker expressions a scan reported by file and line."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange

from flaketui.codemod._marker_ast import listed, parse_marker
from flaketui.models import Marker, MarkerScope

PYTESTMARK = "pytestmark"

#: Identifiers that make a decorator chain a marker (``pytest.mark.x``, ``flaky``, ``flaky.flaky``).
MARK_WORDS = frozenset({"mark", "flaky"})

_PARAM_CALL = m.Call(func=m.Name("param") | m.Attribute(attr=m.Name("param")))
_PYTESTMARK_TARGET = m.Name(PYTESTMARK)


@dataclass(frozen=True)
class Site:
    """A place where a marker can be written, and the node whose removal removes it."""

    #: A ``Decorator``, a list/tuple ``Element``, a ``marks=`` ``Arg``, or a whole small statement.
    node: cst.CSTNode
    expr: cst.BaseExpression
    start: int
    end: int
    #: ``decorator``, ``pytestmark`` or ``param``.
    form: str


class _SiteCollector(cst.CSTVisitor):
    """Finds the sites, and records every node's parent on the way (one pass over the tree)."""

    def __init__(self, positions: Mapping[cst.CSTNode, CodeRange]) -> None:
        super().__init__()
        self.positions = positions
        self.sites: list[Site] = []
        self.parents: dict[int, cst.CSTNode] = {}
        self._stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parents[id(node)] = self._stack[-1]
        self._stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self._stack.pop()

    def _add(self, node: cst.CSTNode, expr: cst.BaseExpression, form: str, *, span: cst.CSTNode | None = None) -> None:
        where = self.positions[span if span is not None else expr]
        self.sites.append(Site(node, expr, where.start.line, where.end.line, form))

    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._add(node, node.decorator, "decorator", span=node)

    def _add_pytestmark(self, statement: cst.BaseSmallStatement, value: cst.BaseExpression | None) -> None:
        if value is None:
            return
        if isinstance(value, (cst.List, cst.Tuple)):
            for element in value.elements:
                if isinstance(element, cst.Element):
                    self._add(element, element.value, "pytestmark")
        else:
            self._add(statement, value, "pytestmark")

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and m.matches(node.targets[0].target, _PYTESTMARK_TARGET):
            self._add_pytestmark(node, node.value)
        elif _marks_again(node):
            # ``test_x = pytest.mark.flaky(test_x)`` only applies the mark: the statement goes.
            assert isinstance(node.value, cst.Call)
            self._add(node, node.value.func, "called")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if m.matches(node.target, _PYTESTMARK_TARGET):
            self._add_pytestmark(node, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if m.matches(node.target, _PYTESTMARK_TARGET):
            self._add_pytestmark(node, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if not m.matches(node, _PARAM_CALL):
            return
        for arg in node.args:
            if not m.matches(arg, m.Arg(keyword=m.Name("marks"))):
                continue
            if isinstance(arg.value, (cst.List, cst.Tuple)):
                for element in arg.value.elements:
                    if isinstance(element, cst.Element):
                        self._add(element, element.value, "param")
            else:
                self._add(arg, arg.value, "param")


def _marks_again(node: cst.Assign) -> bool:
    """``name = <mark>(name)``: a mark applied by calling it on the definition above."""
    if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
        return False
    value = node.value
    return (
        isinstance(value, cst.Call)
        and len(value.args) == 1
        and value.args[0].keyword is None
        and not value.args[0].star
        and m.matches(value.args[0].value, m.Name(node.targets[0].target.value))
        and is_mark_like(value.func)
    )


def collect_sites(
    module: cst.Module, positions: Mapping[cst.CSTNode, CodeRange]
) -> tuple[list[Site], dict[int, cst.CSTNode]]:
    """The places a marker can be written in the top-level statements that have positions, and
    the parent of every node there (by ``id``), up to the module."""
    collector = _SiteCollector(positions)
    collector._stack.append(module)
    for statement in module.body:
        if statement in positions:
            statement.visit(collector)
    return collector.sites, collector.parents


def chain_names(expr: cst.BaseExpression) -> list[str]:
    """``pytest.mark.flaky(reruns=3)`` -> ``["flaky", "mark", "pytest"]`` (innermost last)."""
    names: list[str] = []
    node: cst.BaseExpression = expr
    while True:
        if isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Attribute):
            names.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Name):
            names.append(node.value)
            return names
        else:
            return names


def root_name(expr: cst.BaseExpression) -> str | None:
    """The name a name/attribute/call chain starts from (``pytest`` in ``pytest.mark.flaky()``)."""
    node: cst.BaseExpression = expr
    while isinstance(node, (cst.Call, cst.Attribute)):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node.value if isinstance(node, cst.Name) else None


def is_mark_like(expr: cst.BaseExpression) -> bool:
    """A plain marker expression: a name/attribute/call chain that mentions ``mark`` or ``flaky``."""
    return root_name(expr) is not None and bool(MARK_WORDS.intersection(chain_names(expr)))


def normalised(code: str) -> str:
    tree = parse_marker(code)
    return "".join(code.strip().removeprefix("@").split()) if tree is None else ast.dump(ast.Expression(tree))


def _subexpressions(code: str) -> set[str]:
    """The elements of the lists and tuples in ``code`` (``[a, b]`` -> ``a``, ``b``)."""
    return {ast.dump(ast.Expression(element)) for element in listed(code)}


_SCOPE_FORMS = {
    MarkerScope.FUNCTION: ("decorator", "called"),
    MarkerScope.CLASS: ("decorator", "pytestmark", "called"),
    MarkerScope.MODULE: ("pytestmark",),
    MarkerScope.PARAM: ("param",),
}


def find_site(module: cst.Module, sites: Sequence[Site], marker: Marker) -> Site | None:
    """The site the marker was reported at: one spanning its line whose expression is the marker's
    source (or goes through its alias); failing that, the only flaky entry of a reported list.
    Nothing else: a near miss would make a second removal take the next marker along."""
    spanning = [s for s in sites if s.start <= marker.line <= s.end]
    wanted = normalised(marker.source) if marker.source else None
    exact = [
        s
        for s in spanning
        if (wanted is not None and normalised(module.code_for_node(s.expr)) == wanted)
        or (marker.via is not None and root_name(s.expr) == marker.via)
    ]
    if not exact and marker.source:
        # A scan may report a whole ``marks=[...]`` list as the marker: take the flaky entry in it.
        parts = _subexpressions(marker.source)
        inside = [s for s in spanning if "flaky" in chain_names(s.expr) and normalised(module.code_for_node(s.expr)) in parts]
        exact = inside if len(inside) == 1 else []
    # Only a site of the marker's own form: once a removal has moved the lines, a module's
    # ``pytestmark`` line may hold a ``pytest.param``'s marks, which a second removal must not take.
    forms = _SCOPE_FORMS.get(marker.scope, ())
    exact = [s for s in exact if not forms or s.form in forms]
    if not exact:
        return None
    return min(exact, key=lambda s: (s.start != marker.line, s.end - s.start))
