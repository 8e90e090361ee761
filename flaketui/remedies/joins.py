"""A thread started, or a task created, and the test asserts on its work without waiting for it:
join the thread (``thread.join(timeout=...)``) or await the task before the first assertion.

Only where nothing between the start and the assertion calls anything (a server thread answers
the calls made meanwhile, and joining it would wait for nothing), the thread is no daemon, and
its target does not serve forever; the join or await always has a deadline.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import WAIT_SECONDS, Loaded, on_test, proposal
from flaketui.remedies._cst import (
    add_imports,
    assert_call_condition,
    called_name,
    change_function,
    code,
    statement,
)
from flaketui.remedies._model import Context, Declined, Proposal

_THREADS = frozenset({"threading.Thread", "multiprocessing.Process", "threading.Timer"})
_TASKS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
_SERVES = re.compile(r"serve|forever|listen|loop|daemon=True")


def _started(small: cst.BaseSmallStatement) -> str | None:
    """``name`` for ``name.start()``."""
    if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
        return None
    func = small.value.func
    if isinstance(func, cst.Attribute) and func.attr.value == "start" and isinstance(func.value, cst.Name):
        return func.value.value
    return None


def _created(small: cst.BaseSmallStatement, names: dict[str, str], kinds: frozenset[str]) -> str | None:
    """``name`` for ``name = threading.Thread(...)`` (or a task start, by ``kinds``)."""
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
        return None
    called = called_name(small.value, names) or ""
    if called in kinds or (kinds is _TASKS and called.endswith(".create_task")):
        if kinds is _THREADS and _SERVES.search(code(small.value)):
            return None
        return small.targets[0].target.value
    return None


def _is_assertion(line: cst.BaseStatement) -> bool:
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1):
        return False
    small = line.body[0]
    return isinstance(small, cst.Assert) or assert_call_condition(small) is not None


class _WaitBeforeAssert(cst.CSTTransformer):
    def __init__(self, names: dict[str, str], is_async: bool, whole: str) -> None:
        self.names = names
        self.is_async = is_async
        #: The whole test's code: a thread joined or a task awaited anywhere is left alone.
        self.whole = whole
        self.done: list[str] = []

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.done:
            return updated
        body = list(updated.body)
        threads: set[str] = set()
        tasks: set[str] = set()
        pending: list[tuple[str, str]] = []  # (name, "thread" | "task"), in start order
        for index, line in enumerate(body):
            small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
            if small is None:
                pending.clear()
                continue
            if (name := _created(small, self.names, _THREADS)) is not None:
                threads.add(name)
                continue
            if self.is_async and (name := _created(small, self.names, _TASKS)) is not None:
                tasks.add(name)
                pending.append((name, "task"))
                continue
            if (name := _started(small)) is not None and name in threads:
                pending.append((name, "thread"))
                continue
            if pending and isinstance(line, cst.SimpleStatementLine) and _is_assertion(line):
                waits = self._waits(pending)
                if not waits:
                    return updated
                body[index:index] = waits
                return updated.with_changes(body=body)
            if "(" in code(small):
                pending.clear()  # a call in between: the test talks to what it started
        return updated

    def _waits(self, pending: list[tuple[str, str]]) -> list[cst.BaseStatement]:
        waits = []
        for name, kind in pending:
            if re.search(rf"\b{re.escape(name)}\.join\(|await\s+{re.escape(name)}\b|\b{re.escape(name)}\.result\(", self.whole):
                continue
            if kind == "thread":
                waits.append(statement(f"{name}.join(timeout={WAIT_SECONDS})\n"))
            else:
                waits.append(statement(f"await asyncio.wait_for({name}, timeout={WAIT_SECONDS})\n"))
            self.done.append(f"{name}.{'join()' if kind == 'thread' else 'await'}")
        return waits


@on_test("wait.join")
def propose_wait_before_assert(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    rewrite = _WaitBeforeAssert(loaded.names, loaded.function.asynchronous is not None, code(loaded.function))
    new_function = loaded.function.visit(rewrite)
    if not rewrite.done or not isinstance(new_function, cst.FunctionDef):
        return []
    module = change_function(loaded.module, loaded.function, lambda _f: new_function)
    if any(d.endswith("await") for d in rewrite.done):
        module = add_imports(module, [("asyncio", None)])
    waited = ", ".join(d.split(".")[0] for d in rewrite.done)
    why = (
        f"The test starts {waited} and asserts on its work at once: the assertion runs before the work "
        f"when the scheduler is slow. Waiting for {waited} first (at most {WAIT_SECONDS} s) makes the "
        "assertion see the finished work."
    )
    category = Category.ASYNC if any(d.endswith("await") for d in rewrite.done) else Category.RACE
    return [proposal(category, loaded.remedy, f"Wait for {waited} before asserting", why, {loaded.path: (loaded.source, module)})]
