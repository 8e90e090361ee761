"""Tasks started and never awaited: ``asyncio.create_task(job())`` whose task nobody keeps, then an
assertion (or a ``return`` of what the tasks fill in, or a fixed sleep standing in for them). The
assertion runs whenever the scheduler happens to have run the tasks; at the coroutine's end
``asyncio.run`` cancels what is left. The fix keeps each task and gathers them, with a deadline,
before the first statement that reads their work (replacing the fixed sleep when there is one):
``await asyncio.wait_for(asyncio.gather(*tasks), timeout=...)``.

Forms: one or more bare ``asyncio.create_task(...)`` / ``asyncio.ensure_future(...)`` /
``loop.create_task(...)`` statements, and a ``for`` loop whose body is one of them.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import WAIT_SECONDS, Loaded, on_test, proposal
from flaketui.remedies._cst import (
    CoroutineAware,
    add_imports,
    called_name,
    change_function,
    code,
    statement,
    visit_function,
)
from flaketui.remedies._model import Context, Declined, Proposal

_STARTS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
_SLEEPS = frozenset({"asyncio.sleep", "anyio.sleep", "trio.sleep"})
_SERVES = re.compile(r"serve|forever|listen|run_loop|watch|monitor|heartbeat|consume|keepalive", re.IGNORECASE)


def _bare_start(line: cst.BaseStatement, names: dict[str, str]) -> cst.Call | None:
    """The call of a statement that starts a task and throws the task away."""
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Expr)):
        return None
    value = line.body[0].value
    if not isinstance(value, cst.Call):
        return None
    called = called_name(value, names) or ""
    method = value.func.attr.value if isinstance(value.func, cst.Attribute) else ""
    if _SERVES.search("".join(code(a.value) for a in value.args)):
        return None  # a task that serves for the whole test: gathering it would wait for nothing that ends
    return value if called in _STARTS or method == "create_task" else None


def _loop_start(line: cst.BaseStatement, names: dict[str, str]) -> cst.Call | None:
    if isinstance(line, cst.For) and isinstance(line.body, cst.IndentedBlock) and len(line.body.body) == 1:
        return _bare_start(line.body.body[0], names)
    return None


def _reads(line: cst.BaseStatement, names: dict[str, str]) -> str | None:
    """``assert``, ``return`` or ``sleep`` for a statement before which the tasks must be done."""
    small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
    if isinstance(small, cst.Assert):
        return "assert"
    if isinstance(small, cst.Return) and small.value is not None:
        return "return"
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Await) and isinstance(small.value.expression, cst.Call):
        call = small.value.expression
        if called_name(call, names) in _SLEEPS and not (call.args and code(call.args[0].value) in ("0", "0.0")):
            return "sleep"
    return None


class _Gather(CoroutineAware):
    def __init__(self, names: dict[str, str]) -> None:
        super().__init__()
        self.names = names
        self.done: str | None = None
        self.replaced_sleep = False

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.done or not self.in_coroutine:
            return updated
        body = list(updated.body)
        started: list[int] = []
        for index, line in enumerate(body):
            if _bare_start(line, self.names) is not None or _loop_start(line, self.names) is not None:
                started.append(index)
                continue
            kind = _reads(line, self.names) if started else None
            if kind is None:
                if "await" in code(line):
                    started.clear()  # the test awaits something: that may be how it waits for them
                continue
            return updated.with_changes(body=self._rewrite(body, started, index, kind))
        return updated

    def _rewrite(self, body: list[cst.BaseStatement], started: list[int], at: int, kind: str) -> list[cst.BaseStatement]:
        body = list(body)
        kept: list[str] = []
        collects = False
        for number, index in enumerate(started, 1):
            line = body[index]
            if isinstance(line, cst.For):
                collects = True
                call = code(_loop_start(line, self.names) or line)
                body[index] = line.with_changes(body=line.body.with_changes(body=[statement(f"started.append({call})\n")]))
            else:
                assert isinstance(line, cst.SimpleStatementLine)
                name = f"task_{number}" if len(started) > 1 else "task"
                kept.append(name)
                new = statement(f"{name} = {code(_bare_start(line, self.names) or line)}\n")
                assert isinstance(new, cst.SimpleStatementLine)
                body[index] = new.with_changes(leading_lines=line.leading_lines)
        waited = ", ".join([*kept, *(["*started"] if collects else [])])
        wait = statement(f"await asyncio.wait_for(asyncio.gather({waited}), timeout={WAIT_SECONDS})\n")
        old = body[at]
        assert isinstance(wait, cst.SimpleStatementLine) and isinstance(old, cst.SimpleStatementLine)  # what _reads saw
        wait = wait.with_changes(leading_lines=old.leading_lines)
        if kind == "sleep":
            body[at] = wait
            self.replaced_sleep = True
        else:
            body.insert(at, wait)
        if collects:
            body.insert(started[0], statement("started = []\n"))
        self.done = ", ".join(kept + (["the tasks the loop starts"] if collects else []))
        return body


@on_test("wait.gather")
def propose_gather(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    if "started" in code(loaded.function) and "started = []" in code(loaded.function):
        return []  # our own output, or a name the test already uses
    rewrite = _Gather(loaded.names)
    new = visit_function(loaded.function, rewrite)
    if rewrite.done is None:
        return []
    module = add_imports(change_function(loaded.module, loaded.function, lambda _f: new), [("asyncio", None)])
    instead = " instead of the fixed sleep" if rewrite.replaced_sleep else " before the first statement that reads their work"
    why = (
        f"The test starts tasks ({rewrite.done}) and never awaits them: what they do happens whenever the "
        "scheduler gets to it, and asyncio cancels what is left when the coroutine ends. Keeping the tasks "
        f"and gathering them{instead} (at most {WAIT_SECONDS} s) makes the test read finished work."
    )
    return [proposal(Category.ASYNC, loaded.remedy, "Await the tasks the test starts", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
