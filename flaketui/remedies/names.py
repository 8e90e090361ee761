"""A name that should tell things apart but does not: give each its own.

- Several instances of a project class made in one loop with the same arguments, where the
  class derives its ``name`` from its arguments when none is given
  (``self.name = name or f"progress-{tokenize(keys)}"``): every instance gets the same name and
  they replace each other wherever the name is a key (a plugin table, a registry). Each gets
  ``name=f"progress-{i}"`` from the loop's index.
- A fixed resource name (a queue, an exchange, a table, a plugin) written as the same string
  literal in several tests of the module: the tests share the broker's or the registry's
  object under that name, and what one leaves behind the next one reads. The test gets its own
  ``f"orders-{uuid.uuid4().hex[:8]}"``, bound once at its top and used wherever it wrote the name.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TypeVar

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, project_modules, proposal, with_keyword
from flaketui.remedies._cst import add_imports, change_function, code, dotted, parse, statement, top_level_functions
from flaketui.remedies._model import Context, Declined, Proposal

#: A name derived from these differs on every call: no two instances share it.
_ALREADY_UNIQUE = re.compile(r"uuid|token_hex|random|count|next\(|id\(self\)|time\(|monotonic")


def _derived_name(init: cst.FunctionDef) -> bool:
    """``self.name = name or <from the arguments>`` or ``if name is None: name = ...``."""
    params = [*init.params.params, *init.params.kwonly_params]
    param = next((p for p in params if p.name.value == "name"), None)
    if param is None or not (isinstance(param.default, cst.Name) and param.default.value == "None"):
        return False
    body = code(init.body)
    match = re.search(r"self\.name\s*=\s*name\s+or\s+(.+)|if\s+name\s+is\s+None:\s*\n\s*name\s*=\s*(.+)", body)
    return match is not None and _ALREADY_UNIQUE.search(match.group(1) or match.group(2)) is None


def named_classes(ctx: Context, names: dict[str, str]) -> dict[str, str]:
    """Local name of each project class the test imports that derives its name when given none
    -> the file that says so."""
    wanted = {qualified.rsplit(".", 1)[-1]: local for local, qualified in names.items()}
    found: dict[str, str] = {}
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        if b"self.name = name or" not in source and b"if name is None" not in source:
            continue  # parsing costs
        module = parse(source)
        if module is None:
            continue
        for owner, function in top_level_functions(module):
            if owner in wanted and function.name.value == "__init__" and _derived_name(function):
                found[wanted[owner]] = path
    return found


_FRESH = ("i", "n", "index", "number")
_Comprehension = TypeVar("_Comprehension", cst.ListComp, cst.GeneratorExp)


class _NamePerInstance(cst.CSTTransformer):
    """``[Cls(args) for _ in range(n)]`` -> ``[Cls(args, name=f"cls-{i}") for i in range(n)]``."""

    def __init__(self, classes: dict[str, str], taken: set[str]) -> None:
        self.classes = classes
        self.index = next((n for n in _FRESH if n not in taken), "")
        self.done: list[str] = []

    def _rewrite(self, target: cst.BaseAssignTargetExpression, element: cst.CSTNode) -> tuple[str, cst.CSTNode] | None:
        if not self.index or not isinstance(target, cst.Name):
            return None
        swap = _AddName(self, target.value)
        new = element.visit(swap)
        if not swap.done or not isinstance(new, cst.CSTNode):
            return None
        self.done.extend(swap.done)
        return swap.index, new

    def leave_ListComp(self, original: cst.ListComp, updated: cst.ListComp) -> cst.ListComp:
        return self._comprehension(updated)

    def leave_GeneratorExp(self, original: cst.GeneratorExp, updated: cst.GeneratorExp) -> cst.GeneratorExp:
        return self._comprehension(updated)

    def _comprehension(self, updated: _Comprehension) -> _Comprehension:
        if updated.for_in.inner_for_in is not None or self.done:
            return updated
        found = self._rewrite(updated.for_in.target, updated.elt)
        if found is None:
            return updated
        loop, element = found
        assert isinstance(element, cst.BaseExpression)
        return updated.with_changes(elt=element, for_in=updated.for_in.with_changes(target=cst.Name(loop)))

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        if self.done:
            return updated
        found = self._rewrite(updated.target, updated.body)
        if found is None:
            return updated
        loop, body = found
        assert isinstance(body, cst.BaseSuite)
        return updated.with_changes(target=cst.Name(loop), body=body)


class _AddName(cst.CSTTransformer):
    """The calls in one loop's element: each instance of the classes is named by the loop's index."""

    def __init__(self, owner: _NamePerInstance, loop: str) -> None:
        self.classes = owner.classes
        self.loop = loop
        #: ``for _ in`` gets a fresh name for its index; a loop variable already is one.
        self.index = owner.index if loop == "_" else loop
        self.done: list[str] = []

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        called = dotted(updated.func) or ""
        if called not in self.classes or any(a.keyword is not None and a.keyword.value == "name" for a in updated.args):
            return updated
        if any(a.star for a in updated.args):
            return updated  # ``**options`` may name it already
        if self.loop != "_" and re.search(rf"\b{re.escape(self.loop)}\b", code(updated)):
            return updated  # the arguments differ per instance, and so does the name they give
        self.done.append(called)
        return with_keyword(updated, "name", f'f"{called.rsplit(".", 1)[-1].lower()}-{{{self.index}}}"')


@on_test("name.per-instance")
def propose_name_per_instance(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    if ctx.category is Category.EXTERNAL:
        return []
    text = code(loaded.function)
    if " for " not in text:
        return []  # no loop makes instances
    classes = named_classes(ctx, loaded.names)
    if not classes:
        return []
    taken = set(re.findall(r"[A-Za-z_]\w*", text))
    rewrite = _NamePerInstance(classes, taken)
    function = loaded.function.visit(rewrite)
    if not rewrite.done or not isinstance(function, cst.FunctionDef):
        return []
    made = rewrite.done[0]
    module = change_function(loaded.module, loaded.function, lambda _f: function)
    why = (
        f"{made} takes its name from its arguments when none is given ({classes[made]}), so the instances "
        "the loop makes share one name and replace each other wherever the name is the key (a plugin "
        "table, a registry); which one survives depends on timing. A name per instance keeps them apart."
    )
    title = f"Give each {made} its own name"
    # The instances clash within one run of the test, as their work finishes early or late: a race.
    return [proposal(Category.RACE, loaded.remedy, title, why, {loaded.path: (loaded.source, module)})]


# -- a fixed resource name several tests write ------------------------------------------------
#: Keywords, and callees' last words, that name a resource a broker or a registry keeps by name.
_NAME_KEYWORDS = frozenset({
    "name", "queue", "queue_name", "exchange", "exchange_name", "topic", "table", "table_name", "channel",
    "bucket", "collection", "plugin", "plugin_name", "routing_key", "database", "db_name", "key_prefix",
})  # fmt: skip
_NAMED_CALLEES = re.compile(r"(Queue|Exchange|Topic|Table|Bucket|Channel|Plugin|Collection|Stream)$")
_SHARED_CATEGORIES = (Category.FIXTURE, Category.ORDER)


def _resource_names(function: cst.FunctionDef) -> dict[str, list[cst.SimpleString]]:
    """Each string literal the function passes as a resource's name -> those literals."""
    found: dict[str, list[cst.SimpleString]] = {}

    class Visit(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            callee = (dotted(node.func) or "").rsplit(".", 1)[-1]
            for number, arg in enumerate(node.args):
                named = arg.keyword is not None and arg.keyword.value in _NAME_KEYWORDS
                first = arg.keyword is None and number == 0 and _NAMED_CALLEES.search(callee) is not None
                value = arg.value
                if (named or first) and isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
                    if re.fullmatch(r"[\w.:-]{3,}", value.evaluated_value):
                        found.setdefault(value.evaluated_value, []).append(value)

    function.visit(Visit())
    return found


class _Swap(cst.CSTTransformer):
    def __init__(self, literal: str, variable: str) -> None:
        self.literal = literal
        self.variable = variable
        self.swapped = 0

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.BaseExpression:
        if original.evaluated_value != self.literal:
            return updated
        self.swapped += 1
        return cst.Name(self.variable)


@on_test("name.unique")
def propose_unique_name(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    """Only where the diagnosis (or a bisection) says tests share state: a literal alone is no proof."""
    if ctx.category not in _SHARED_CATEGORIES:
        return []
    used = _resource_names(loaded.function)
    if not used:
        return []
    others = [f for _, f in top_level_functions(loaded.module)
              if f is not loaded.function and f.name.value.startswith("test")]  # fmt: skip
    text = code(loaded.function)
    rest = code(loaded.module).replace(text, "", 1)
    for literal in used:
        sharing = [f for f in others if literal in _resource_names(f)]
        quoted = re.compile(rf"[\"']{re.escape(literal)}[\"']")
        if not sharing:
            continue
        if len(quoted.findall(rest)) != sum(len(quoted.findall(code(f))) for f in others):
            return [Declined(loaded.remedy, f"{literal!r} is also used outside the tests (a fixture, a constant)")]
        swap = _Swap(literal, re.sub(r"\W+", "_", literal.rsplit(".", 1)[-1].lower()).strip("_") + "_name")
        if not swap.variable[0].isalpha() or re.search(rf"\b{swap.variable}\b", text):
            continue
        function = loaded.function.visit(swap)
        if swap.swapped != len(quoted.findall(text)):
            return [Declined(loaded.remedy, f"the test writes {literal!r} where it cannot be swapped (an f-string)")]
        assert isinstance(function, cst.FunctionDef)
        unique = _unique(loaded, function, literal, swap.variable, [f.name.value for f in sharing])
        # Proven where the sharing shows: random order for what a test leaves behind, xdist otherwise.
        return [replace(unique, category=ctx.category) if isinstance(unique, Proposal) else unique]
    return []


def _unique(loaded: Loaded, swapped: cst.FunctionDef, literal: str, variable: str, sharing: list[str]) -> Proposal | Declined:
    assert isinstance(swapped.body, cst.IndentedBlock)
    body = list(swapped.body.body)
    start = 1 if loaded.function.get_docstring() is not None else 0
    bind = statement(f'{variable} = f"{literal}-{{uuid.uuid4().hex[:8]}}"\n')
    body.insert(start, bind)
    function = swapped.with_changes(body=swapped.body.with_changes(body=body))
    module = add_imports(change_function(loaded.module, loaded.function, lambda _f: function), [("uuid", None)])
    others = ", ".join(sharing[:3]) + (" and others" if len(sharing) > 3 else "")
    why = (
        f"The test and {others} use the same resource name {literal!r}: they share what the broker or "
        "registry keeps under it, and what one leaves behind the other reads (in parallel runs they use it "
        "at once). A name of the test's own keeps it apart."
    )
    return proposal(Category.FIXTURE, loaded.remedy, f"Give the test its own {literal!r}", why,
                    {loaded.path: (loaded.source, module)})  # fmt: skip
