"""A coroutine test that calls a coroutine function and never awaits it: ``handler.flush()``
where ``flush`` is ``async def`` (or documented to return an awaitable), ``asyncio.sleep(1)``
without ``await``. The call only makes a coroutine object and drops it: the work never runs, or
runs whenever the loop gets to it, and the test reads the state before it. ``await`` the call.

Only a call known to make an awaitable: the event loop libraries' sleeps, an ``async def`` of
the test's module, a project function the test imports that is ``async def``, or a method of a
project class that is ``async def``, annotated to return an awaitable, or documented to return
one, called on a receiver the test holds an instance of that class in (the test makes one, or a
fixture it requests returns or yields one) or on the class itself. A call whose value
is kept (``task = job()``) or handed on is the test's business, not this remedy's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import (
    Loaded,
    module_of_file,
    on_test,
    parsed_project_modules,
    proposal,
    requested_fixtures,
)
from flaketui.remedies._cst import called_name, change_function, code, top_level_functions, visit_function
from flaketui.remedies._model import Context, Declined, Proposal
from flaketui.remedies.waiters import instance_of

_SLEEPS = frozenset({"asyncio.sleep", "anyio.sleep", "trio.sleep"})
#: A return annotation that says the call makes an awaitable.
_AWAITABLE_TYPE = re.compile(r"\b(Awaitable|Coroutine)\b")
#: A docstring that says so: "Returns an awaitable", "returns a coroutine".
_AWAITABLE_DOC = re.compile(r"\breturns?\s+an?\s+(awaitable|coroutine)\b", re.IGNORECASE)
_MAY_AWAIT = re.compile(rb"async def|Awaitable|Coroutine|awaitable|coroutine")


def _makes_awaitable(function: cst.FunctionDef) -> bool:
    if function.asynchronous is not None:
        return not any(isinstance(n, cst.Yield) for n in _walk(function.body))  # an async generator is iterated
    annotation = code(function.returns.annotation) if function.returns is not None else ""
    return bool(_AWAITABLE_TYPE.search(annotation) or _AWAITABLE_DOC.search(function.get_docstring() or ""))


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    for child in node.children:
        if not isinstance(child, cst.FunctionDef | cst.Lambda | cst.ClassDef):
            found.append(child)
            found.extend(_walk(child))
    return found


def _project_awaitables(ctx: Context, names: dict[str, str]) -> tuple[dict[str, set[str]], set[str]]:
    """(class name -> its methods that make an awaitable, qualified names of such functions)."""
    methods: dict[str, set[str]] = {}
    functions: set[str] = set()
    for path, module in parsed_project_modules(ctx, names, _MAY_AWAIT):
        dotted_module = module_of_file(ctx, path) or ""
        for owner, function in top_level_functions(module):
            if not _makes_awaitable(function):
                continue
            if owner is None:
                functions.add(f"{dotted_module}.{function.name.value}")
            else:
                methods.setdefault(owner, set()).add(function.name.value)
    return methods, functions


_MADE = re.compile(r"^\s*(?:return|yield)\s+(?:await\s+)?(?:[\w.]+\.)?(\w+)\(", re.MULTILINE)


def _fixture_classes(ctx: Context, loaded: Loaded) -> dict[str, set[str]]:
    """Fixture name -> the classes it returns or yields an instance of (``yield Handler()``)."""
    return {function.name.value: set(_MADE.findall(code(function.body))) for _p, _s, _m, function in requested_fixtures(ctx, loaded)}


class _AwaitDropped(cst.CSTTransformer):
    """``call()`` as a statement of the coroutine itself (not of a function defined in it) ->
    ``await call()`` when ``awaitable(call)`` says what it makes."""

    def __init__(self, awaitable: Callable[[cst.Call], str | None]) -> None:
        self.awaitable = awaitable
        self.root: cst.FunctionDef | None = None
        self.done: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if self.root is None:
            self.root = node
            return True
        return False  # a function defined in the test runs elsewhere, or not at all

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr) -> cst.Expr:
        if not isinstance(updated.value, cst.Call):
            return updated
        what = self.awaitable(updated.value)
        if what is None:
            return updated
        self.done.append(what)
        return updated.with_changes(value=cst.Await(expression=updated.value))


@on_test("await.dropped")
def propose_await(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    if loaded.function.asynchronous is None or b"(" not in loaded.source:
        return []
    test_code = code(loaded.function)  # not the module's: another test may name another object alike
    methods, functions = _project_awaitables(ctx, loaded.names)
    local = {f.name.value for owner, f in top_level_functions(loaded.module) if owner is None and _makes_awaitable(f)}
    fixtures = _fixture_classes(ctx, loaded) if methods else {}

    def awaitable(call: cst.Call) -> str | None:
        called = called_name(call, loaded.names) or ""
        if called in _SLEEPS or called in functions or (isinstance(call.func, cst.Name) and call.func.value in local):
            return f"{code(call.func)}()"
        if not isinstance(call.func, cst.Attribute):
            return None
        receiver, method = code(call.func.value), call.func.attr.value
        owners = {owner for owner, made in methods.items() if method in made}
        if not owners:
            return None
        held = fixtures.get(receiver, set()) | {(loaded.names.get(receiver, receiver)).rsplit(".", 1)[-1]}
        if owners & held or any(instance_of(receiver, owner, test_code) for owner in owners):
            return f"{receiver}.{method}()"
        return None

    dropped = _AwaitDropped(awaitable)
    module = change_function(loaded.module, loaded.function, lambda f: visit_function(f, dropped))
    if not dropped.done:
        return []
    calls = ", ".join(dict.fromkeys(dropped.done))
    why = (
        f"The test calls {calls} without await: the call only makes a coroutine (an awaitable), which is dropped, "
        "so the work it stands for runs late or never and the test reads the state before it. Awaiting it runs "
        "the work to its end before the next line."
    )
    return [proposal(Category.ASYNC, loaded.remedy, "Await the coroutine the test drops", why, {loaded.path: (loaded.source, module)})]

