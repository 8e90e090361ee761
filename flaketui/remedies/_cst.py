"""Small libcst helpers the remedies share: find the test, add a parameter or an import,
print a node, and rebuild a statement block."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from flaketui.diagnose.resolve import dotted, import_aliases
from flaketui.diagnose.trees import parse  # one tree per content, shared with the diagnosis

__all__ = ["dotted", "import_aliases", "parse"]

FunctionChange = Callable[[cst.FunctionDef], cst.FunctionDef]
_EMPTY = cst.Module(body=[])


class CoroutineAware(cst.CSTTransformer):
    """A transformer that knows whether it is inside a coroutine: there ``time.sleep`` blocks
    the event loop, and what replaces it awaits."""

    def __init__(self) -> None:
        super().__init__()
        #: Whether each enclosing function is a coroutine, outermost first.
        self.scopes: list[bool] = []

    @property
    def in_coroutine(self) -> bool:
        return bool(self.scopes and self.scopes[-1])

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(node.asynchronous is not None)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self.scopes.pop()
        return updated



def code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def module_names(module: cst.Module) -> dict[str, str]:
    """Local name -> qualified name for every top-level import of the module."""
    bound: dict[str, str] = {}
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import | cst.ImportFrom):
                    bound.update(import_aliases(small))
    return bound


def top_level_functions(module: cst.Module) -> Iterator[tuple[str | None, cst.FunctionDef]]:
    """Every function at module level and in top-level classes, with its class name."""
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef):
            yield None, statement
        elif isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            for inner in statement.body.body:
                if isinstance(inner, cst.FunctionDef):
                    yield statement.name.value, inner


def find_function(module: cst.Module, name: str, class_name: str | None = None) -> cst.FunctionDef | None:
    for owner, function in top_level_functions(module):
        if function.name.value == name and owner == class_name:
            return function
    return None


def visit_function(function: cst.FunctionDef, transformer: cst.CSTTransformer) -> cst.FunctionDef:
    """``function.visit(transformer)``, typed: a transformer that keeps the function."""
    new = function.visit(transformer)
    assert isinstance(new, cst.FunctionDef)
    return new


class _SwapFunction(cst.CSTTransformer):
    def __init__(self, original: cst.FunctionDef, change: FunctionChange) -> None:
        self.original = original
        self.change = change

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        return self.change(updated) if original is self.original else updated


def replaced_by(new: cst.FunctionDef) -> FunctionChange:
    """A change that puts ``new`` in the function's place (bound now, not when it runs)."""
    return lambda _old: new


def change_function(module: cst.Module, function: cst.FunctionDef, change: FunctionChange) -> cst.Module:
    """The module with ``function`` (a node of it) replaced by ``change(function)``.

    A function at module level or in a top-level class is swapped in place: the other
    statements stay the very same nodes, so nothing walks a test module of thousands of lines
    (and the guard's tallies of them are reused). A nested function takes the full walk."""
    body = list(module.body)
    for index, statement in enumerate(body):
        if statement is function:
            body[index] = change(function)
            return module.with_changes(body=body)
        members = statement.body.body if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock) else ()
        for inner, member in enumerate(members):
            if member is function:
                new_members = [*members[:inner], change(function), *members[inner + 1 :]]
                assert isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock)
                body[index] = statement.with_changes(body=statement.body.with_changes(body=new_members))
                return module.with_changes(body=body)
    return module.visit(_SwapFunction(function, change))


def parameter_names(function: cst.FunctionDef) -> list[str]:
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return [p.name.value for p in every]


def add_parameter(function: cst.FunctionDef, name: str) -> cst.FunctionDef:
    """``def test(a)`` -> ``def test(a, name)``: a fixture pytest will pass. Kept if present."""
    if name in parameter_names(function):
        return function
    params = function.params
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.kwonly_params:
        new = params.with_changes(kwonly_params=[*params.kwonly_params, cst.Param(cst.Name(name))])
    else:
        existing = list(params.params)
        if existing and existing[-1].comma is not cst.MaybeSentinel.DEFAULT and existing[-1].default is None:
            existing[-1] = existing[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        new = params.with_changes(params=[*existing, cst.Param(cst.Name(name))])
    return function.with_changes(params=new)


def add_imports(module: cst.Module, imports: Sequence[tuple[str, str | None]], relative: int = 0) -> cst.Module:
    """Add ``import module`` (name None) or ``from module import name`` where missing
    (``from .module import name`` with ``relative=1``)."""
    if not imports:
        return module
    context = CodemodContext()
    for dotted_module, name in imports:
        AddImportsVisitor.add_needed_import(context, dotted_module, name, relative=relative)
    # libcst's visitor reads and changes only the leading block of imports (after a docstring)
    # and the statement after it, but it copies and walks the whole module: on a test module
    # of thousands of lines that cost seconds. It gets the head alone; the rest is kept as is.
    body = module.body
    end = next((i for i in range(1, len(body)) if not _is_import_line(body[i])), len(body) - 1) + 1
    head = AddImportsVisitor(context).transform_module(module.with_changes(body=body[:end]))
    return module.with_changes(body=[*head.body, *body[end:]])


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Import | cst.ImportFrom)
    )  # fmt: skip


def statement(text: str) -> cst.BaseStatement:
    return cst.parse_statement(text)


def expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def block_of(node: cst.CSTNode) -> Sequence[cst.BaseStatement] | None:
    body = getattr(node, "body", None)
    if isinstance(body, cst.IndentedBlock):
        return body.body
    return None


def with_block(node: cst.CSTNode, statements: Sequence[cst.BaseStatement]) -> cst.CSTNode:
    body = node.body  # type: ignore[attr-defined]  # only called with a def, class or compound statement
    return node.with_changes(body=body.with_changes(body=list(statements)))


def expression_of(line: cst.BaseStatement) -> cst.BaseExpression | None:
    """The expression of a one-expression statement line (``foo()``, ``await x``)."""
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Expr):
        return line.body[0].value
    return None


def called_name(node: cst.BaseExpression | None, names: dict[str, str]) -> str | None:
    """``asyncio.sleep`` for ``await asyncio.sleep(1)`` or ``sleep(1)`` after ``from asyncio import sleep``."""
    if isinstance(node, cst.Await):
        node = node.expression
    if not isinstance(node, cst.Call):
        return None
    name = dotted(node.func)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    qualified = names.get(head, head)
    return f"{qualified}.{rest}" if rest else qualified


def line_of(module: cst.Module, node: cst.CSTNode) -> int:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider)[node].start.line


def function_at(module: cst.Module, line: int) -> cst.FunctionDef | None:
    """The innermost function (or method) whose text spans ``line``."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    found: cst.FunctionDef | None = None
    size = None
    for node, where in positions.items():
        if isinstance(node, cst.FunctionDef) and where.start.line <= line <= where.end.line:
            span = where.end.line - where.start.line
            if size is None or span < size:
                found, size = node, span
    return found


def changed_lines(before: bytes, after: bytes) -> list[int]:
    """Lines of ``before`` that the edit replaced or deleted (the line after, for insertions)."""
    import difflib

    from flaketui.codemod.check import common_ends

    old, new = before.splitlines(), after.splitlines()
    start, end = common_ends(old, new)
    found: list[int] = []
    matcher = difflib.SequenceMatcher(a=old[start : len(old) - end], b=new[start : len(new) - end], autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            continue
        found.extend(range(start + i1 + 1, start + i2 + 1) if i2 > i1 else [start + i1 + 1])
    return found


#: unittest's assertion methods -> the condition each checks, over its first arguments.
_ASSERT_METHODS = {
    "assertTrue": ("{0}", 1), "assertFalse": ("not ({0})", 1), "assertIsNone": ("({0}) is None", 1),
    "assertIsNotNone": ("({0}) is not None", 1), "assertEqual": ("({0}) == ({1})", 2),
    "assertNotEqual": ("({0}) != ({1})", 2), "assertIn": ("({0}) in ({1})", 2), "assertNotIn": ("({0}) not in ({1})", 2),
    "assertGreater": ("({0}) > ({1})", 2), "assertGreaterEqual": ("({0}) >= ({1})", 2),
    "assertLess": ("({0}) < ({1})", 2), "assertLessEqual": ("({0}) <= ({1})", 2),
    "assertIs": ("({0}) is ({1})", 2), "assertIsNot": ("({0}) is not ({1})", 2),
}


#: A mock's assertions that something happened -> the attribute that turns true when it has
#: (``assert_not_called`` and the like check that nothing did: there is nothing to wait for).
_MOCK_ASSERTS = re.compile(r"^assert_(?:(called|any_call|has_calls)|(awaited|any_await|has_awaits))(?:_\w+)?$")


def assert_call_condition(small: cst.BaseSmallStatement | None) -> cst.BaseExpression | None:
    """``self.assertEqual(a, b)`` -> ``(a) == (b)``: what a unittest assertion checks, or None.
    ``handler.assert_called_once_with(x)`` -> ``handler.called``: what a mock's assertion needs
    to have happened before it can hold (the assertion itself still checks the rest)."""
    if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
        return None
    call = small.value
    if not isinstance(call.func, cst.Attribute):
        return None
    mocked = _MOCK_ASSERTS.match(call.func.attr.value)
    if mocked is not None and not (isinstance(call.func.value, cst.Name) and call.func.value.value == "self"):
        return cst.Attribute(call.func.value, cst.Name("called" if mocked.group(1) else "await_count"))
    if not (isinstance(call.func.value, cst.Name) and call.func.value.value == "self"):
        return None
    shape = _ASSERT_METHODS.get(call.func.attr.value)
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if shape is None or len(positional) < shape[1]:
        return None
    return cst.parse_expression(shape[0].format(*(code(p) for p in positional[: shape[1]])))


def raised_condition(line: cst.BaseStatement) -> cst.BaseExpression | None:
    """``if not done: raise RuntimeError(...)`` -> ``done``: the condition a check written as an
    if and a raise (or ``pytest.fail``) demands, or None. Only an if whose one statement fails
    the test and that has no else (anything more does work, and is no check), and only a
    negated test: what must come, not what must stay away."""
    if not isinstance(line, cst.If) or line.orelse is not None or not isinstance(line.body, cst.IndentedBlock):
        return None
    inner = line.body.body
    one = inner[0] if len(inner) == 1 and isinstance(inner[0], cst.SimpleStatementLine) else None
    small = one.body[0] if one is not None and len(one.body) == 1 else None
    fails = isinstance(small, cst.Raise) and small.exc is not None or (
        isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and code(small.value.func) == "pytest.fail"
    )
    if not fails:
        return None
    test = line.test
    if not (isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)):
        return None  # ``if leaked: raise``: a check that something is absent, which a poll would end at once
    return test.expression


def with_helper_before(module: cst.Module, function: cst.FunctionDef, helper: str) -> cst.Module:
    """The module with a small helper function (``helper``: its text) written just before the
    top-level statement that holds ``function`` (the function itself, or its class)."""
    parsed = statement(helper)
    assert isinstance(parsed, cst.FunctionDef)
    body = list(module.body)
    index = next(i for i, s in enumerate(body) if s is function or (
        isinstance(s, cst.ClassDef) and function in getattr(s.body, "body", ())
    ))  # fmt: skip
    body[index:index] = [parsed.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])]
    return module.with_changes(body=body)
