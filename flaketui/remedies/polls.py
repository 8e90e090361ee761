"""An assertion on state that a task, thread or server changes, checked once right after the
call that sets the change going (``await w.start()`` then ``assert len(s.workers) == 2``,
``x.release()`` then ``assert not c.futures``): poll the asserted condition against a deadline
first, with the project's own helper when its test utilities have one (``await
async_poll_for(lambda: ..., timeout=...)``), else an inline deadline loop; the assertion stays
as it was after the poll, so a change that never comes still fails with the same message.

Only for a coroutine test, or a test that starts threads or whose project polls in its tests;
only when the condition reads an object's attributes (not a value the test computed) through
nothing that could have side effects (builtins alone are called), and only when the test has
one such assertion or the diagnosis names the one that fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import WAIT_SECONDS, Loaded, module_of_file, on_test, proposal
from flaketui.remedies._cst import (
    add_imports,
    assert_call_condition,
    change_function,
    code,
    dotted,
    line_of,
    parse,
    statement,
    top_level_functions,
)
from flaketui.remedies._model import Context, Declined, Proposal

#: Calls a polled condition may make: they read, they change nothing.
_PURE = frozenset({
    "len", "bool", "set", "frozenset", "list", "tuple", "dict", "sorted", "all", "any", "isinstance",
    "sum", "min", "max", "str", "int", "type",
})  # fmt: skip
#: A call that already waits (or is our own poll): what follows it is not asserted "at once".
_WAITS = re.compile(r"wait|join|poll|sleep|gather|result|until|drain|flush|settle|sync", re.IGNORECASE)
#: A check that something did not happen: polling it would end the wait at once.
_ABSENT = re.compile(r"\bcalled\b|call_count|assert_not|_calls\b")
#: The test starts threads or processes itself: a sync test's state can change under it.
_STARTS = re.compile(r"Thread\(|Process\(|Timer\(|\.start\(\)|Executor\(|\.submit\(")
#: Methods whose name says they read: ``get_value``, ``is_running``, ``qsize``...
_GETTER = re.compile(r"^(get_\w+|is_\w+|has_\w+|count\w*|size|qsize|num_\w+)$")
_HELPER_DEF = re.compile(rb"def \w*(?:poll|wait_for|wait_until|until|eventually)\w*\(")
_HELPER_NAME = re.compile(r"poll|wait_for|wait_until|until|eventually")


def deadline_poll(
    condition: str, pause: str, names: dict[str, str], deadline: str = "deadline"
) -> tuple[list[cst.BaseStatement], tuple[str, str | None]] | None:
    """``deadline = now + WAIT_SECONDS`` and ``while not (condition) and now < deadline: pause``,
    with the import its clock needs; None when no monotonic clock can be named here."""
    clock = monotonic_clock(names)
    if clock is None:
        return None
    now = clock[0]
    parsed = cst.parse_expression(condition)
    if isinstance(parsed, cst.UnaryOperation) and isinstance(parsed.operator, cst.Not):
        inner = parsed.expression
        atom = isinstance(inner, cst.Name | cst.Attribute | cst.Subscript | cst.Call)
        pending = code(inner.with_changes(lpar=[] if atom else [cst.LeftParen()], rpar=[] if atom else [cst.RightParen()]))
    elif isinstance(parsed, cst.Name | cst.Attribute | cst.Subscript | cst.Call):
        pending = f"not {condition}"
    else:
        pending = f"not ({condition})"
    loop = statement(f"while {pending} and {now} < {deadline}:\n    {pause}\n")
    return [statement(f"{deadline} = {now} + {WAIT_SECONDS}\n"), loop], clock[1]


def monotonic_clock(names: dict[str, str]) -> tuple[str, tuple[str, str | None]] | None:
    """How the poll reads a monotonic clock, and the import it needs: ``time.monotonic()``
    unless ``time`` names something else here (``from time import time``), then ``monotonic()``."""
    if names.get("time", "time") == "time":
        return "time.monotonic()", ("time", None)
    if names.get("monotonic", "time.monotonic") == "time.monotonic":
        return "monotonic()", ("time", "monotonic")
    return None


@dataclass(frozen=True)
class Helper:
    """A function of the project's test utilities that polls a predicate until a timeout."""

    name: str
    module: str
    is_async: bool


@dataclass(frozen=True)
class _Candidate:
    line: cst.SimpleStatementLine
    condition: cst.BaseExpression
    after: str
    #: The work was awaited (``await a.heartbeat()``): its effect is often complete on return.
    awaited: bool = False


def _blocks(node: cst.CSTNode, owner: cst.CSTNode) -> Iterator[tuple[Sequence[cst.BaseStatement], cst.CSTNode]]:
    """Every statement block of a function's body (not of functions or classes it defines),
    with the statement that owns it."""
    for child in node.children:
        if isinstance(child, cst.FunctionDef | cst.ClassDef | cst.Lambda):
            continue
        if isinstance(child, cst.IndentedBlock):
            yield child.body, owner
            for inner in child.body:
                if not isinstance(inner, cst.FunctionDef | cst.ClassDef):
                    yield from _blocks(inner, inner)
        else:
            yield from _blocks(child, owner)


def _asserted(line: cst.BaseStatement) -> cst.BaseExpression | None:
    small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
    return small.test if isinstance(small, cst.Assert) else assert_call_condition(small)


def _root(node: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(node, cst.Attribute | cst.Subscript | cst.Call):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node


class _Reads(cst.CSTVisitor):
    def __init__(self, imported: set[str]) -> None:
        self.imported = imported
        self.state = False
        self.impure = False
        #: ``await sem.get_value()``: a getter awaited in a coroutine reads state, inline polls only.
        self.awaited: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        pure = isinstance(node.func, cst.Name) and node.func.value in _PURE
        if not pure and id(node) not in self.awaited:
            self.impure = True

    def visit_Await(self, node: cst.Await) -> None:
        call = node.expression
        if (
            isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and _GETTER.match(call.func.attr.value)
            and all(isinstance(a.value, cst.SimpleString | cst.Integer | cst.Name) and not a.star for a in call.args)
        ):
            self.awaited.add(id(call))
        else:
            self.impure = True

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.impure = True

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.impure = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        root = _root(node)
        if isinstance(root, cst.Name) and root.value not in self.imported:
            chain = dotted(node) or ""
            self.state |= root.value != "self" or chain.count(".") >= 2


def reads_state(condition: cst.BaseExpression, imported: set[str]) -> bool:
    """The condition reads an object's attributes (``s.workers``, ``self.server.clients``), not
    a module's, and calls nothing that could change or await anything."""
    if _ABSENT.search(code(condition)):
        return False
    reads = _Reads(imported)
    condition.visit(reads)
    return reads.state and not reads.impure


def _sets_going(line: cst.BaseStatement) -> str | None:
    """What the statement does, when it may set work going that outlives it: a call (awaited or
    not) that is no wait, ``x = await start()``, ``del x``."""
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1):
        return None
    small = line.body[0]
    if isinstance(small, cst.Del):
        return code(small).strip()
    value = small.value if isinstance(small, cst.Expr) else small.value if isinstance(small, cst.Assign) else None
    if isinstance(small, cst.Assign) and not isinstance(value, cst.Await):
        return None
    call = value.expression if isinstance(value, cst.Await) else value
    if not isinstance(call, cst.Call) or assert_call_condition(small) is not None:
        return None
    name = dotted(call.func) or ""
    last = name.rsplit(".", 1)[-1]
    if not name or _WAITS.search(last) or last.startswith("assert") or last in {"print", "info", "debug"}:
        return None
    if any(isinstance(a.value, cst.Lambda) for a in call.args):
        return None
    return f"{name}()"


def _assigned(line: cst.BaseStatement) -> set[str]:
    small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
    if not isinstance(small, cst.Assign):
        return set()
    return {n.value for t in small.targets for n in _names(t.target)}


def _names(node: cst.BaseExpression) -> list[cst.Name]:
    if isinstance(node, cst.Name):
        return [node]
    if isinstance(node, cst.Tuple | cst.List):
        return [n for e in node.elements for n in _names(e.value)]
    return []


def _entered(owner: cst.CSTNode) -> str | None:
    """``async with Worker(s.address) as w:``: entering starts what the block asserts on."""
    if isinstance(owner, cst.With) and owner.asynchronous is not None:
        for item in owner.items:
            if isinstance(item.item, cst.Call):
                return f"entering {dotted(item.item.func) or 'the context'}()"
    return None


def _candidates(function: cst.FunctionDef, imported: set[str]) -> list[_Candidate]:
    """The first assertion on state after each statement that sets work going; the assertions
    on values and the plain assignments between them keep it pending, a wait settles it."""
    found = []
    for block, owner in _blocks(function, function):
        after, returned, awaited = _entered(owner), set[str](), False
        for line in block:
            condition = _asserted(line)
            if condition is not None and isinstance(line, cst.SimpleStatementLine):
                # ``server = await serve()`` then ``assert server.port == port``: a value the call returned
                if after is not None and reads_state(condition, imported | returned):
                    found.append(_Candidate(line, condition, after, awaited))
                    after = None
                continue
            if (started := _sets_going(line)) is not None:
                after, returned, awaited = started, _assigned(line), "await " in code(line)
            elif (started := _worked_in(line)) is not None:
                after, returned, awaited = started, set(), False
            elif _quiet(line):
                returned |= _assigned(line)
            else:
                after = None
    return found


def _polls_elsewhere(function: cst.FunctionDef) -> bool:
    """The test's own body (not a function it defines) has a ``while ...: sleep`` loop."""
    for block, owner in _blocks(function, function):
        if isinstance(owner, cst.While) and any("sleep(" in code(line) for line in block):
            return True
    return False


def _quiet(line: cst.BaseStatement) -> bool:
    """``logs = caplog.getvalue()``: an assignment that awaits nothing sets no work going."""
    return (
        isinstance(line, cst.SimpleStatementLine)
        and all(isinstance(s, cst.Assign | cst.AnnAssign) for s in line.body)
        and "await " not in code(line)
    )


def _worked_in(line: cst.BaseStatement) -> str | None:
    """``with captured_logger(...): payload = await c.gather(...)``: work done in the block,
    whose effects elsewhere may still be on their way."""
    if isinstance(line, cst.With) and re.search(r"\bawait\b", code(line.body)):
        return "the work in the `with` block above"
    return None


def _module_files(ctx: Context, dotted_name: str) -> Iterator[tuple[str, str]]:
    """(file, module) for a dotted name, from the import roots and from the test's own directory
    (pytest puts it on ``sys.path`` for ``from helpers import wait_until``)."""
    files = set(ctx.project_files)
    here = ctx.target.path.rpartition("/")[0]
    for root in dict.fromkeys([*ctx.import_roots, here or "."]):
        base = "" if root in ("", ".") else root.rstrip("/") + "/"
        stem = base + dotted_name.replace(".", "/")
        for path in (f"{stem}.py", f"{stem}/__init__.py"):
            if path in files:
                yield path, dotted_name


def poll_helpers(ctx: Context, names: dict[str, str]) -> list[Helper]:
    """The functions, in the modules the test imports from (its test utilities too), that poll
    a predicate they are given until a timeout: ``async_poll_for(predicate, timeout)``."""
    modules = dict.fromkeys(m for q in names.values() for m in (q, q.rsplit(".", 1)[0]) if not q.startswith("."))
    places = [place for dotted_name in modules for place in _module_files(ctx, dotted_name)]
    found: list[Helper] = []
    for path, where in dict.fromkeys([*places, *_sibling_utilities(ctx)]):
        source = ctx.read(path) or b""
        module = parse(source) if _HELPER_DEF.search(source) else None
        if module is None:
            continue
        for owner, function in top_level_functions(module):
            if owner is None and _polls_predicate(function):
                found.append(Helper(function.name.value, where, function.asynchronous is not None))
    found.sort(key=lambda h: "poll" not in h.name)
    return found


_UTILITIES = frozenset({"helpers.py", "utils.py", "util.py", "testing.py", "support.py", "utils_test.py"})


def _sibling_utilities(ctx: Context) -> Iterator[tuple[str, str]]:
    """The test utilities beside the test (``tests/helpers.py``), as the test would import them."""
    here = ctx.target.path.rpartition("/")[0]
    prefix = f"{here}/" if here else ""
    package = f"{prefix}__init__.py" in ctx.project_files
    for path in ctx.project_files:
        name = path[len(prefix):]
        if path.startswith(prefix) and name in _UTILITIES:
            where = module_of_file(ctx, path) if package else name[:-3]
            if where is not None:
                yield path, where


def _polls_predicate(function: cst.FunctionDef) -> bool:
    params = [*function.params.params, *function.params.kwonly_params]
    if function.name.value.startswith("_") or not _HELPER_NAME.search(function.name.value) or len(params) < 2:
        return False
    first = params[0].name.value
    body = code(function.body)
    takes_timeout = any(p.name.value == "timeout" for p in params)
    return takes_timeout and re.search(rf"while\b[^\n]*\b{re.escape(first)}\(\)", body) is not None


def _choose(candidates: list[_Candidate], ctx: Context, loaded: Loaded) -> _Candidate | None:
    if len(candidates) == 1:
        return candidates[0]
    named = {e.line for e in ctx.evidence if e.path == loaded.path}
    if not named:
        return None
    chosen = [c for c in candidates if line_of(loaded.module, c.line) in named]
    return chosen[0] if len(chosen) == 1 else None


@on_test("wait.poll")
def propose_poll_state(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    if ctx.category not in (Category.ASYNC, Category.RACE, Category.UNKNOWN):
        return []
    is_async = loaded.function.asynchronous is not None
    helpers = poll_helpers(ctx, loaded.names)
    if not is_async and not any(not h.is_async for h in helpers) and not _STARTS.search(code(loaded.function)):
        return []  # nothing in a plain test changes state behind its back
    candidates = _candidates(loaded.function, set(loaded.names))
    if not candidates:
        return []
    chosen = _choose(candidates, ctx, loaded)
    if chosen is None:
        return [Declined(remedy, f"{len(candidates)} assertions read state right after setting work going, "
                                 "and the diagnosis names none of them: verify the test to see which one fails")]
    if chosen.awaited and _polls_elsewhere(loaded.function):
        return [Declined(remedy, f"the test polls where it expects state to lag and asserts at once after "
                                 f"awaiting {chosen.after}: that looks deliberate")]
    condition = code(chosen.condition).strip()
    if f"lambda: {condition}" in code(loaded.function):
        return []  # polled already
    awaits = re.search(r"\bawait\b", condition) is not None  # no lambda can await: poll inline
    helper = None if awaits else next((h for h in helpers if h.is_async == is_async), None)
    local = None if helper is None else _local_name(helper, loaded.names)
    imports: list[tuple[str, str | None]] = []
    if helper is not None and local is not None:
        if local not in loaded.names:
            imports.append((helper.module, helper.name))
        call = f"{'await ' if is_async else ''}{local}(lambda: {condition}, timeout={WAIT_SECONDS})\n"
        polls = [statement(call)]
        how = f"polls it with the project's {helper.name} (at most {WAIT_SECONDS} s)"
    else:
        taken = re.search(r"\bdeadline\b", code(loaded.function)) is not None  # the test's own: keep it
        found = _inline_poll(condition, is_async, loaded.names, "poll_deadline" if taken else "deadline")
        if found is None:
            return []
        polls, imports = found
        how = f"polls it against a deadline of {WAIT_SECONDS} s"
    polls[0] = polls[0].with_changes(leading_lines=chosen.line.leading_lines)
    kept = chosen.line.with_changes(leading_lines=())
    function = loaded.function.visit(_InsertBefore(chosen.line, [*polls, kept]))
    assert isinstance(function, cst.FunctionDef)
    module = add_imports(change_function(loaded.module, loaded.function, lambda _f: function), imports)
    why = (
        f"The test asserts `{condition}` right after {chosen.after}, once, while the work it set going may "
        f"still be changing that state; on a loaded runner the assertion wins the race. The fix {how}, "
        "then asserts exactly as before, so a state that never comes still fails with the same message."
    )
    if ctx.category is Category.UNKNOWN:
        # No rule established a cause: say this is a candidate, which --apply's before/after runs settle.
        why = ("The diagnosis established no cause; this is a candidate, not a finding. " + why
               + " --apply measures the failure rate before and after to show whether it was the cause.")
    category = Category.ASYNC if is_async else Category.RACE
    title = "Poll the asserted state with a deadline before asserting"
    return [proposal(category, remedy, title, why, {loaded.path: (loaded.source, module)})]


def _local_name(helper: Helper, names: dict[str, str]) -> str | None:
    """How the test calls the helper: the name it imports it as, else its own name when that
    is free (None when the name means something else here)."""
    bound = next((n for n, q in names.items() if q == f"{helper.module}.{helper.name}"), None)
    return bound if bound is not None else None if helper.name in names else helper.name


def _inline_poll(
    condition: str, is_async: bool, names: dict[str, str], deadline: str
) -> tuple[list[cst.BaseStatement], list[tuple[str, str | None]]] | None:
    needs: tuple[str, str | None]
    if is_async:
        pause, needs = "await asyncio.sleep(0.01)", ("asyncio", None)
    elif names.get("time", "time") == "time":
        pause, needs = "time.sleep(0.01)", ("time", None)
    elif names.get("sleep") == "time.sleep":
        pause, needs = "sleep(0.01)", ("time", "sleep")
    else:
        return None
    found = deadline_poll(condition, pause, names, deadline)
    return None if found is None else (found[0], [found[1], needs])


class _InsertBefore(cst.CSTTransformer):
    def __init__(self, target: cst.SimpleStatementLine, replacement: list[cst.BaseStatement]) -> None:
        self.target = target
        self.replacement = replacement

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        return cst.FlattenSentinel(self.replacement) if original is self.target else updated
