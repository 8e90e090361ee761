"""A blocking sleep in a coroutine: ``time.sleep(n)`` inside ``async def`` stops the event loop
for n seconds, so nothing the test waits for on that loop (a server's handler noticing a closed
socket, a task, a callback) runs meanwhile, and the test reads the state it meant to wait out.
``await asyncio.sleep(n)`` waits as long and lets the loop run.

Changed: the test when it is a coroutine, and the coroutines of its module it reaches (the
fixtures it asks for, the functions and methods they call, one level further). The sleep keeps
its duration (a number the guard checks), so the fix waits no longer and asserts no less.
``trio`` and ``anyio`` tests sleep with their own library.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import CoroutineAware, add_imports, called_name, code, top_level_functions
from flaketui.remedies._model import Context, Declined, Proposal

_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _library(names: dict[str, str]) -> str:
    """The async library the module uses: its ``sleep`` is the one to await."""
    used = {qualified.split(".")[0] for qualified in names.values()}
    for library in ("trio", "anyio"):
        if library in used and "asyncio" not in used:
            return library
    return "asyncio"


class _Unblock(CoroutineAware):
    """``time.sleep(n)`` -> ``await <library>.sleep(n)`` where the code runs on the loop: in the
    coroutine itself, not in a function or lambda defined inside it (those run elsewhere)."""

    def __init__(self, names: dict[str, str], library: str) -> None:
        super().__init__()
        self.names = names
        self.library = library
        self.count = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        if self.scopes[-1] and _MEASURED.search(code(node)):
            self.scopes[-1] = False  # its blocking sleep is the work it measures or contrasts: left as it is

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.append(False)

    def leave_Lambda(self, original: cst.Lambda, updated: cst.Lambda) -> cst.Lambda:
        self.scopes.pop()
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not self.in_coroutine or called_name(updated, self.names) != "time.sleep":
            return updated
        self.count += 1
        sleep = cst.Attribute(cst.Name(self.library), cst.Name("sleep"))
        return cst.Await(expression=updated.with_changes(func=sleep))


def _reached(test: cst.FunctionDef, module: cst.Module) -> set[str]:
    """Names of the module's functions and methods the test reaches: its fixtures and what it
    calls, and what those call in turn."""
    every = {f.name.value: f for _, f in top_level_functions(module)}
    wanted = {p.name.value for p in test.params.params} | set(_CALLED.findall(code(test.body)))
    for name in list(wanted):
        if name in every:
            wanted |= set(_CALLED.findall(code(every[name].body)))
    return wanted


class _InReached(cst.CSTTransformer):
    """Applies ``_Unblock`` to the test and to the coroutines it reaches, nothing else."""

    def __init__(self, test: cst.FunctionDef, reached: set[str], unblock: _Unblock) -> None:
        self.test = test
        self.reached = reached
        self.unblock = unblock
        self.where: list[str] = []
        self.depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # top-level ones are handled whole in leave_FunctionDef

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        chosen = original is self.test or (original.asynchronous is not None and original.name.value in self.reached)
        if not chosen:
            return updated
        before = self.unblock.count
        new = updated.visit(self.unblock)
        if self.unblock.count > before:
            self.where.append(original.name.value)
        assert isinstance(new, cst.FunctionDef)
        return new


#: A coroutine whose blocking sleep is work: a profiler or a duration measures it, or it also awaits a
#: sleep, contrasting time spent blocked with time spent waiting (a profiler's task-isolation test).
_MEASURED = re.compile(
    r"profil|elapsed|duration|perf_counter|monotonic|approx\(|await\s+\w+\.sleep\((?!0\)|0\.0\))", re.IGNORECASE
)
#: A test about blocking the loop (asyncio's debug mode, a slow-callback detector) blocks it on purpose.
_PURPOSE = re.compile(r"\bblock|slow_callback|set_debug|PYTHONASYNCIODEBUG", re.IGNORECASE)


@on_test("wait.nonblocking")
def propose_nonblocking_sleep(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    if _PURPOSE.search(code(loaded.function)):
        return [Declined(remedy, "the test is about blocking the event loop: its time.sleep() is the point")]
    library = _library(loaded.names)
    unblock = _Unblock(loaded.names, library)
    chooser = _InReached(loaded.function, _reached(loaded.function, loaded.module), unblock)
    module = loaded.module.visit(chooser)
    if not chooser.where:
        return []
    module = add_imports(module, [(library, None)])
    where = ", ".join(f"{name}()" for name in chooser.where)
    why = (
        f"time.sleep() in the coroutine {where} blocks the event loop: while it sleeps nothing the test waits "
        f"for on that loop can run, so the test reads the state it meant to wait out. await {library}.sleep() "
        "waits as long and lets the loop run."
    )
    title = "Sleep without blocking the event loop"
    return [proposal(Category.ASYNC, remedy, title, why, {loaded.path: (loaded.source, module)})]
