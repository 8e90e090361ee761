"""A set's order compared exactly: iterate it in sorted order.

A set of strings iterates in an order that changes with ``PYTHONHASHSEED``. Where the test (or
the project method it calls) turns a set into a sequence (``list(s)``, ``", ".join(s)``, a loop,
a comprehension), the remedy sorts it; a list literal the sorted result is compared with is
sorted too, and so are strings in the test that spell the set's elements joined in another order.
"""

from __future__ import annotations

import itertools
import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import (
    Loaded,
    module_of_file,
    on_test,
    project_modules,
    proposal,
)
from flaketui.remedies._cst import (
    change_function,
    code,
    dotted,
    parse,
    top_level_functions,
)
from flaketui.remedies._model import Context, Declined, Proposal

_SET_CALLS = frozenset({"set", "frozenset"})
#: Consumers whose result does not depend on the order they are given the items in.
_ORDERLESS = frozenset({
    "any", "all", "sum", "len", "min", "max", "set", "frozenset", "sorted", "Counter", "collections.Counter",
})  # fmt: skip
#: What a loop's body does when the order of its items shows in the result: it builds a sequence,
#: writes, sends, yields, or stops at the first item that matches (``count += 1`` is no such thing).
_ORDERED_SINK = re.compile(
    r"\.(?:append|appendleft|extend|insert|write|writelines|put|put_nowait|send|sendall)\(|\byield\b|\bbreak\b"
    r"|\breturn\b|\+=(?!\s*[\d.]+\s*$)",
    re.MULTILINE,
)


def _is_set(node: cst.BaseExpression, sets: set[str]) -> bool:
    if isinstance(node, cst.Set | cst.SetComp):
        return True
    if isinstance(node, cst.Call) and dotted(node.func) in _SET_CALLS:
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr | cst.BitAnd | cst.Subtract):
        return _is_set(node.left, sets) or _is_set(node.right, sets)
    if isinstance(node, cst.Call) and f"{dotted(node.func)}()" in sets:
        return True  # a call of a function that returns a set
    return (dotted(node) or "") in sets


def _returns_set(function: cst.FunctionDef) -> bool:
    """Annotated ``-> set[...]``, or every ``return`` gives a set."""
    if function.returns is not None:
        return re.match(r"(typing\.)?(set|Set|frozenset|FrozenSet|AbstractSet)\b", code(function.returns.annotation)) is not None
    returns: list[cst.Return] = []

    class _Returns(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function  # returns of nested functions are theirs

        def visit_Return(self, node: cst.Return) -> None:
            returns.append(node)

    function.visit(_Returns())
    return bool(returns) and all(r.value is not None and _is_set(r.value, set()) for r in returns)


def set_functions(ctx: Context, module: cst.Module, names: dict[str, str], within: str | None = None) -> set[str]:
    """``tags_of()`` / ``tags.tags_of()``: the calls, as the test spells them, of functions of the
    test's module or the project's that return a set (with ``within``, the code that calls them:
    only the functions it names are read, not every function of a module of thousands of lines)."""

    def named(name: str) -> bool:
        return within is None or name in within

    found = {
        f"{f.name.value}()" for owner, f in top_level_functions(module)
        if owner is None and named(f.name.value) and _returns_set(f)
    }  # fmt: skip
    by_qualified = {qualified: local for local, qualified in names.items()}
    for path in project_modules(ctx, names):
        dotted_module = module_of_file(ctx, path)
        if dotted_module is None:
            continue
        imported = {q[len(dotted_module) + 1 :] for q in by_qualified if q.startswith(dotted_module + ".")}
        if dotted_module not in by_qualified and not any(named(n) for n in imported):
            continue  # the test reaches none of its functions by name: not worth a parse
        project = parse(ctx.read(path) or b"")
        if project is None:
            continue
        for owner, function in top_level_functions(project):
            name = function.name.value
            if owner is not None or not named(name) or not _returns_set(function):
                continue
            if f"{dotted_module}.{name}" in by_qualified:
                found.add(f"{by_qualified[f'{dotted_module}.{name}']}()")
            if dotted_module in by_qualified:
                found.add(f"{by_qualified[dotted_module]}.{name}()")
    return found


def _sorted(node: cst.BaseExpression) -> cst.Call:
    return cst.Call(cst.Name("sorted"), [cst.Arg(node)])


class _Sort(cst.CSTTransformer):
    """Wraps each set that is turned into a sequence in ``sorted(...)``."""

    def __init__(self, sets: set[str]) -> None:
        self.sets = sets
        self.done = 0
        self.joins: set[str] = set()
        #: Comprehensions whose order nobody sees: ``any(... for k in keys)``, a set or dict built.
        self.orderless: set[int] = set()

    def _unordered(self, comprehension: cst.BaseExpression) -> None:
        for_in = getattr(comprehension, "for_in", None)
        while isinstance(for_in, cst.CompFor):
            self.orderless.add(id(for_in))
            for_in = for_in.inner_for_in

    def visit_Call(self, node: cst.Call) -> None:
        if (dotted(node.func) or "") in _ORDERLESS:
            for arg in node.args:
                self._unordered(arg.value)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._unordered(node)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._unordered(node)  # dicts compare equal whatever order their keys went in

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and _is_set(node.value, self.sets):
            self.sets.add(node.targets[0].target.value)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        name = dotted(updated.func) or ""
        if len(updated.args) != 1 or not _is_set(updated.args[0].value, self.sets):
            return updated
        if name in ("list", "tuple"):
            self.done += 1
            inner = _sorted(updated.args[0].value)
            return inner if name == "list" else updated.with_changes(args=[cst.Arg(inner)])
        if isinstance(updated.func, cst.Attribute) and updated.func.attr.value == "join":
            self.done += 1
            separator = updated.func.value
            if isinstance(separator, cst.SimpleString) and isinstance(separator.evaluated_value, str):
                self.joins.add(separator.evaluated_value)
            return updated.with_changes(args=[cst.Arg(_sorted(updated.args[0].value))])
        return updated

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        if _is_set(updated.iter, self.sets) and _ORDERED_SINK.search(code(original.body)):
            self.done += 1
            return updated.with_changes(iter=_sorted(updated.iter))
        return updated

    def leave_CompFor(self, original: cst.CompFor, updated: cst.CompFor) -> cst.CompFor:
        if _is_set(updated.iter, self.sets) and id(original) not in self.orderless:
            self.done += 1
            return updated.with_changes(iter=_sorted(updated.iter))
        return updated

    def leave_Comparison(self, original: cst.Comparison, updated: cst.Comparison) -> cst.Comparison:
        """``sorted(s) == ["b", "a"]`` -> ``sorted(s) == ["a", "b"]`` (constants only)."""
        left = updated.left
        if not (isinstance(left, cst.Call) and dotted(left.func) == "sorted") or len(updated.comparisons) != 1:
            return updated
        right = updated.comparisons[0].comparator
        if not isinstance(right, cst.List):
            return updated
        values = [e.value.evaluated_value if isinstance(e.value, cst.SimpleString) else None for e in right.elements]
        if any(not isinstance(v, str) for v in values) or values == sorted(values):  # type: ignore[type-var]  # literal strings only, checked in the same condition
            return updated
        order = sorted(range(len(values)), key=lambda i: values[i])  # type: ignore[arg-type,return-value]  # every value is a str here (checked just above)
        elements = [right.elements[i].with_changes(comma=right.elements[j].comma) for j, i in enumerate(order)]
        return updated.with_changes(comparisons=[updated.comparisons[0].with_changes(comparator=right.with_changes(elements=elements))])


def _set_attributes(class_def: cst.ClassDef) -> set[str]:
    """``self.tags`` for a field annotated ``set[...]`` or assigned a set in a method."""
    found: set[str] = set()
    text = code(class_def)
    for match in re.finditer(r"^\s+(\w+)\s*:\s*(?:typing\.)?(?:set|Set|frozenset|FrozenSet|AbstractSet)\b", text, re.MULTILINE):
        found.add(f"self.{match.group(1)}")
    for match in re.finditer(r"self\.(\w+)\s*(?::[^=]*)?=\s*(?:set\(|frozenset\(|\{[^}:]*\}$)", text, re.MULTILINE):
        found.add(f"self.{match.group(1)}")
    return found


def _project_sorts(ctx: Context, test_code: str, names: dict[str, str]) -> tuple[dict[str, tuple[bytes, cst.Module]], set[str]]:
    """Sort the set attributes that the methods the test calls turn into sequences, and the sets
    that the project's functions it calls by name build and turn into sequences."""
    called = set(re.findall(r"\.(\w+)\(", test_code))
    functions = {names[n].rsplit(".", 1)[-1] for n in re.findall(r"(?<![.\w])(\w+)\(", test_code) if n in names}
    changes: dict[str, tuple[bytes, cst.Module]] = {}
    joins: set[str] = set()
    if not called and not functions:
        return changes, joins
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        if b"set" not in source:
            continue  # parsing costs; no set to sort
        module = parse(source)
        if module is None:
            continue
        new_module = module
        for owner, function in top_level_functions(module):
            if owner is None and function.name.value in functions:
                sort = _Sort(set())
                new_function = function.visit(sort)
                if sort.done:
                    new_module = change_function(new_module, function, lambda _f, m=new_function: m)  # type: ignore[misc]  # a default argument binds the function the lambda returns
                    joins |= sort.joins
        for statement in module.body:
            if not isinstance(statement, cst.ClassDef):
                continue
            attributes = _set_attributes(statement)
            if not attributes:
                continue
            for owner, method in top_level_functions(new_module):
                if owner != statement.name.value or method.name.value not in called:
                    continue
                sort = _Sort(set(attributes))
                new_method = method.visit(sort)
                if sort.done:
                    new_module = change_function(new_module, method, lambda _f, m=new_method: m)  # type: ignore[misc]  # a default argument binds the method the lambda returns
                    joins |= sort.joins
        if new_module is not module:
            changes[path] = (source, new_module)
    return changes, joins


class _Respell(cst.CSTTransformer):
    """Strings that spell a set's elements joined in another order, re-spelled sorted."""

    def __init__(self, elements: list[list[str]], joins: set[str]) -> None:
        self.spellings: dict[str, str] = {}
        for group in elements:
            for separator in joins:
                wanted = separator.join(sorted(group))
                for order in itertools.permutations(group):
                    if len(group) <= 6 and separator.join(order) != wanted:
                        self.spellings[separator.join(order)] = wanted

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.SimpleString:
        value = updated.value
        for old, new in self.spellings.items():
            if old in value:
                value = value.replace(old, new)
        return updated.with_changes(value=value)


@on_test("order.sorted")
def propose_sorted(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    sort = _Sort(set_functions(ctx, loaded.module, loaded.names, code(loaded.function)))
    function = loaded.function.visit(sort)
    assert isinstance(function, cst.FunctionDef)
    changes: dict[str, tuple[bytes, cst.Module]] = {}
    where = "the test"
    literals = [
        [e.value.evaluated_value for e in s.elements if isinstance(e.value, cst.SimpleString)]
        for s in _set_literals(loaded.function)
    ]
    if not sort.done and (literals or ctx.category in (Category.DATA, Category.UNKNOWN)):
        changes, joins = _project_sorts(ctx, _compared(loaded.function), loaded.names)
        if changes:
            where = " and ".join(sorted(changes))
            function = function.visit(_Respell([[str(v) for v in group] for group in literals], joins))
    if not sort.done and not changes:
        return []
    module = change_function(loaded.module, loaded.function, lambda _f: function)  # type: ignore[arg-type,return-value]  # visit() of this transformer returns the function itself
    changes[loaded.path] = (loaded.source, module)
    why = (
        f"A set's iteration order changes with PYTHONHASHSEED from one process to the next, and "
        f"{where} turns a set into a sequence that is compared exactly. Sorting it makes the order "
        "the same in every process; the assertion still compares every element."
    )
    return [proposal(Category.DATA, remedy, "Iterate the set in sorted order", why, changes)]


def _set_literals(function: cst.FunctionDef) -> list[cst.Set]:
    found: list[cst.Set] = []

    class _Find(cst.CSTVisitor):
        def visit_Set(self, node: cst.Set) -> None:
            if all(isinstance(e.value, cst.SimpleString) for e in node.elements):
                found.append(node)

    function.visit(_Find())
    return found


_EQUALS = frozenset({"assertEqual", "assertEquals", "assertListEqual", "assertTupleEqual", "assertSequenceEqual",
                     "assertMultiLineEqual"})


def _compared(function: cst.FunctionDef) -> str:
    """The code of the test's exact comparisons (``assert render(x) == "..."``, ``assertEqual``) and
    of the assignments that feed them: the only calls whose set order the test can see (a project
    method it calls for its effect, ``c.close()``, is no result compared)."""
    compared: list[str] = []
    assigned: dict[str, str] = {}

    class _Find(cst.CSTVisitor):
        def visit_Assert(self, node: cst.Assert) -> None:
            if isinstance(node.test, cst.Comparison) and any(
                isinstance(c.operator, cst.Equal | cst.NotEqual) for c in node.test.comparisons
            ):
                compared.append(code(node.test))

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in _EQUALS:
                compared.append(code(node))

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    assigned[target.target.value] = code(node.value)

    function.visit(_Find())
    text = "\n".join(compared)
    feeding = [value for name, value in assigned.items() if re.search(rf"(?<![.\w]){re.escape(name)}\b", text)]
    return "\n".join([*compared, *feeding])
