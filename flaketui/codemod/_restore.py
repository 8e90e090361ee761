"""Putting a removed marker back, for ``flaketui undo``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange

from flaketui.codemod._locate import PYTESTMARK, chain_names, normalised, root_name
from flaketui.codemod._result import Removal, internal_failure, refused
from flaketui.codemod._safety import parse_exactly
from flaketui.codemod._unused import names_used_by
from flaketui.models import Marker, MarkerKind, MarkerScope


def restore_marker(
    source: bytes,
    marker: Marker,
    test_name: str,
    class_name: str | None = None,
    *,
    test_line: int | None = None,
    path: str = "",
) -> Removal:
    """Put a removed marker back: ``Marker.source`` as written, as a decorator of the test (or of
    its class), a ``pytestmark`` element or a ``pytest.param`` ``marks=`` entry, with the import it
    needs. ``test_line`` (the ``def`` line when the marker was scanned) puts a decorator back in its
    old place among the others; without it the marker goes on top."""
    try:
        return _restore_marker(source, marker, test_name, class_name, test_line, path)
    except Exception as error:  # noqa: BLE001 - a failure is a value: the file is never touched
        return refused(path, source, internal_failure(path or marker.path, error))


def _restore_marker(
    source: bytes, marker: Marker, test_name: str, class_name: str | None, test_line: int | None, path: str
) -> Removal:
    where = path or marker.path or "the file"
    parsed = parse_exactly(source)
    if isinstance(parsed, str):
        return refused(path, source, f"{where} was left unchanged: {parsed}.")
    module = parsed.module
    expr, imports, problem = _marker_expression(module, marker)
    if expr is None:
        return refused(path, source, f"Cannot put the marker back: {problem}; put it back by hand.")
    if marker.scope is MarkerScope.MODULE:
        restored = module.visit(_ModulePlacer(expr))
        placed = True
    else:
        name, owner_class = _plain_name(test_name), _innermost(class_name)
        # Only the top-level statements that can hold the test are positioned and rebuilt:
        # both walk the whole tree otherwise, seconds for a large test module.
        holders = [s for s in module.body if _may_hold(s, name, owner_class)]
        placer = _Placer(expr, marker, name, owner_class, test_line, parsed.positions(holders))
        wanted = {id(s) for s in holders}
        body = [s.visit(placer) if id(s) in wanted else s for s in module.body]
        restored = module.with_changes(body=body)
        placed = placer.placed
    if not placed:
        owner = f"{class_name}.{test_name}" if class_name else test_name
        return refused(
            path,
            source,
            f"{where} has no {_scope_place(marker.scope)} for {owner} any more; put the marker "
            f"`{marker.source}` back by hand.",
        )
    if imports:
        # libcst.codemod is heavy (it brings multiprocessing along); only a restore needs it.
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import AddImportsVisitor

        context = CodemodContext()
        for module_name, obj in imports:
            AddImportsVisitor.add_needed_import(context, module_name, obj)
        restored = AddImportsVisitor(context).transform_module(restored)
    after = parsed.with_module(restored).text.encode(module.encoding)
    try:
        compile(after, where, "exec", dont_inherit=True)
    except SyntaxError as error:
        try:
            compile(source, where, "exec", dont_inherit=True)
        except SyntaxError:
            pass  # newer syntax than this Python reads: libcst produced it, libcst vouches for it
        else:
            return refused(path, source, f"Putting the marker back would not compile ({error}); put it back by hand.")
    return Removal(path=path, before=source, after=after, failure=None, removed=(marker,))


def _may_hold(statement: cst.BaseStatement, test_name: str, class_name: str | None) -> bool:
    if class_name is None:
        return isinstance(statement, cst.FunctionDef) and statement.name.value == test_name
    if not isinstance(statement, cst.ClassDef):
        return False
    return statement.name.value == class_name or bool(m.findall(statement, m.ClassDef(name=m.Name(class_name))))


def _plain_name(test_name: str) -> str:
    """``test_x[a-1]`` -> ``test_x``; ``TestC::test_x`` -> ``test_x``."""
    return test_name.split("[", 1)[0].rsplit("::", 1)[-1].rsplit(".", 1)[-1]


def _innermost(class_name: str | None) -> str | None:
    if class_name is None:
        return None
    return class_name.replace("::", ".").rsplit(".", 1)[-1]


def _scope_place(scope: MarkerScope) -> str:
    return {
        MarkerScope.FUNCTION: "test function",
        MarkerScope.CLASS: "test class",
        MarkerScope.MODULE: "module",
        MarkerScope.PARAM: "pytest.param",
    }[scope]


def _bound_at_module_level(module: cst.Module) -> set[str]:
    bound: set[str] = set()
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            bound.add(statement.name.value)
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        bound.add(alias.asname.name.value)
                    else:
                        root: cst.BaseExpression = alias.name
                        while isinstance(root, cst.Attribute):
                            root = root.value
                        if isinstance(root, cst.Name):
                            bound.add(root.value)
            elif isinstance(small, cst.Assign):
                bound.update(t.target.value for t in small.targets if isinstance(t.target, cst.Name))
    return bound


def _marker_expression(
    module: cst.Module, marker: Marker
) -> tuple[cst.BaseExpression | None, list[tuple[str, str | None]], str | None]:
    """The expression to put back, the imports it needs, and why it cannot be put back. A marker
    written through an alias that is gone from this file comes back spelled out
    (``pytest.mark.flaky(reruns=3)``)."""
    text = marker.source.strip().removeprefix("@").strip()
    try:
        expr = cst.parse_expression(text)
    except cst.ParserSyntaxError:
        return None, [], f"the marker source `{marker.source}` is not an expression"
    bound = _bound_at_module_level(module)
    expr, imports = _spelled(expr, marker, bound)
    root = root_name(expr)
    for name in sorted(names_used_by(expr) - bound - {root}):
        if name not in sys.stdlib_module_names:
            return None, [], f"the marker reads `{name}`, which {marker.path or 'the file'} no longer defines"
        imports.append((name, None))
    return expr, imports, None


def _spelled(
    expr: cst.BaseExpression, marker: Marker, bound: set[str]
) -> tuple[cst.BaseExpression, list[tuple[str, str | None]]]:
    root = root_name(expr)
    if root is None or root in bound:
        return expr, []
    if root == "pytest":
        return expr, [("pytest", None)]
    if root == "mark":
        return expr, [("pytest", "mark")]
    if root == "flaky" and marker.via is None:
        return expr, [("flaky", None) if chain_names(expr)[-2:] == ["flaky", "flaky"] else ("flaky", "flaky")]
    arguments = ", ".join([*marker.positional, *(f"{key}={value}" for key, value in marker.args)])
    if marker.kind is MarkerKind.FLAKY:
        spelled = f"flaky({arguments})" if arguments else "flaky"
        return cst.parse_expression(spelled), [("flaky", "flaky")]
    spelled = f"pytest.mark.flaky({arguments})" if arguments else "pytest.mark.flaky"
    return cst.parse_expression(spelled), [("pytest", None)]


@dataclass(eq=False)
class _Placer(cst.CSTTransformer):
    """Puts ``expr`` back on the test ``test_name`` (in ``class_name``), where ``marker`` was."""

    expr: cst.BaseExpression
    marker: Marker
    test_name: str
    class_name: str | None
    #: The ``def`` line when the marker was scanned: where among the decorators it goes back.
    test_line: int | None
    positions: Any
    classes: list[str] = field(default_factory=list)
    functions: int = 0
    placed: bool = False

    def __post_init__(self) -> None:
        super().__init__()  # libcst's metadata

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions += 1

    def _is_test(self, node: cst.FunctionDef) -> bool:
        # Only the function itself: the innermost class matches, and no enclosing function.
        expected_class = self.class_name
        actual_class = self.classes[-1] if self.classes else None
        return node.name.value == self.test_name and actual_class == expected_class and self.functions == 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        is_test = self._is_test(original_node)
        self.functions -= 1
        if self.placed or not is_test:
            return updated_node
        if self.marker.scope is MarkerScope.FUNCTION:
            self.placed = True
            return self._decorate(original_node, updated_node)
        if self.marker.scope is MarkerScope.PARAM:
            return self._mark_param(original_node, updated_node)
        return updated_node

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        name = self.classes.pop()
        if self.placed or self.marker.scope is not MarkerScope.CLASS or name != self.class_name or self.functions:
            return updated_node
        self.placed = True
        if any(_same(d.decorator, self.expr) for d in original_node.decorators):
            return updated_node
        body = updated_node.body
        if isinstance(body, cst.IndentedBlock):
            for index, line in enumerate(body.body):
                extended = _extend_pytestmark(line, self.expr)
                if extended is not None:
                    lines = [*body.body[:index], extended, *body.body[index + 1 :]]
                    return updated_node.with_changes(body=body.with_changes(body=lines))
        return updated_node.with_changes(decorators=[cst.Decorator(self.expr), *updated_node.decorators])

    def _decorate(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        if any(_same(d.decorator, self.expr) for d in original.decorators):
            return updated  # already back: restoring twice changes nothing
        index = 0
        if self.test_line is not None:
            # Decorators below the marker kept their distance to the ``def`` line (at most
            # ``distance - height``); those above it are closer by the marker's height but still
            # farther than that, whatever moved in the file above the test.
            distance = self.test_line - self.marker.line
            height = (self.marker.end_line or self.marker.line + self.marker.source.count("\n")) - self.marker.line + 1
            def_line = self.positions[original.name].start.line
            index = sum(
                1 for d in original.decorators if def_line - self.positions[d].start.line > distance - height
            )
        decorators = list(updated.decorators)
        decorators.insert(index, cst.Decorator(self.expr))
        return updated.with_changes(decorators=decorators)

    def _mark_param(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        calls: list[cst.Call] = []
        for decorator in original.decorators:
            calls.extend(_param_calls(decorator))
        if not calls:
            return updated
        if self.test_line is not None:
            def_line = self.positions[original.name].start.line
            target_line = def_line - (self.test_line - self.marker.line)
        else:
            target_line = self.marker.line
        best = min(calls, key=lambda c: _distance(self.positions[c], target_line))
        self.placed = True
        return updated.with_changes(decorators=[d.visit(_ParamMarker(best, self.expr)) for d in original.decorators])


def _same(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """The same expression whatever its layout (``flaky(max_runs=3)`` spread over lines or not)."""
    code = _EMPTY_MODULE.code_for_node
    return normalised(code(a)) == normalised(code(b))


_EMPTY_MODULE = cst.Module(body=[])


def _distance(span: CodeRange, line: int) -> int:
    if span.start.line <= line <= span.end.line:
        return 0
    return min(abs(span.start.line - line), abs(span.end.line - line))


def _param_calls(node: cst.CSTNode) -> list[cst.Call]:
    found = m.findall(node, m.Call(func=m.Name("param") | m.Attribute(attr=m.Name("param"))))
    return [c for c in found if isinstance(c, cst.Call)]


class _ParamMarker(cst.CSTTransformer):
    def __init__(self, target: cst.Call, expr: cst.BaseExpression) -> None:
        super().__init__()
        self.target = target
        self.expr = expr

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if original_node is not self.target:
            return updated_node
        args = list(updated_node.args)
        for index, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "marks":
                args[index] = arg.with_changes(value=_appended(arg.value, self.expr))
                return updated_node.with_changes(args=args)
        if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
            args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(cst.Arg(self.expr, keyword=cst.Name("marks"), equal=_TIGHT_EQUAL))
        return updated_node.with_changes(args=args)


_TIGHT_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _appended(existing: cst.BaseExpression, expr: cst.BaseExpression) -> cst.BaseExpression:
    """``[a]`` -> ``[a, expr]``; a single ``a`` -> ``[a, expr]``; unchanged when ``expr`` is there."""
    if isinstance(existing, (cst.List, cst.Tuple)) and any(_same(e.value, expr) for e in existing.elements):
        return existing
    if _same(existing, expr):
        return existing
    if isinstance(existing, (cst.List, cst.Tuple)) and existing.elements:
        elements = list(existing.elements)
        last = elements[-1]
        trailing = last.comma
        elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        elements.append(cst.Element(expr, comma=trailing))
        return existing.with_changes(elements=elements)
    if isinstance(existing, (cst.List, cst.Tuple)):
        return existing.with_changes(elements=[cst.Element(expr, comma=cst.Comma() if isinstance(existing, cst.Tuple) else cst.MaybeSentinel.DEFAULT)])
    return cst.List([cst.Element(existing, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), cst.Element(expr)])


def _extend_pytestmark(line: cst.BaseStatement, expr: cst.BaseExpression) -> cst.SimpleStatementLine | None:
    """A ``pytestmark = ...`` line with ``expr`` appended, or None if the line is something else."""
    if not isinstance(line, cst.SimpleStatementLine):
        return None
    for index, small in enumerate(line.body):
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and small.targets[0].target.value == PYTESTMARK
        ):
            body = [*line.body[:index], small.with_changes(value=_appended(small.value, expr)), *line.body[index + 1 :]]
            return line.with_changes(body=body)
    return None


class _ModulePlacer(cst.CSTTransformer):
    """Adds ``expr`` to the module's ``pytestmark``, or writes one after the imports."""

    def __init__(self, expr: cst.BaseExpression) -> None:
        super().__init__()
        self.expr = expr

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = list(updated_node.body)
        for index, line in enumerate(body):
            extended = _extend_pytestmark(line, self.expr)
            if extended is not None:
                body[index] = extended
                return updated_node.with_changes(body=body)
        position = 0
        for index, line in enumerate(body):
            if isinstance(line, cst.SimpleStatementLine) and all(
                isinstance(s, (cst.Import, cst.ImportFrom)) or _is_docstring_expr(s) for s in line.body
            ):
                position = index + 1
            elif position or index > 0:
                break
        statement = cst.SimpleStatementLine(
            [cst.Assign([cst.AssignTarget(cst.Name(PYTESTMARK))], self.expr)],
            leading_lines=[cst.EmptyLine()] if position else [],
        )
        body.insert(position, statement)
        return updated_node.with_changes(body=body)


def _is_docstring_expr(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString))
