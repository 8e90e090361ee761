"""A fixed sleep that waits for something: wait for that thing instead.

- ``task = asyncio.create_task(...)`` then ``await asyncio.sleep(n)``:
  ``await asyncio.wait_for(task, timeout=...)`` (``asyncio.gather`` for several tasks, which
  also awaits tasks that were started and never awaited);
- ``thread.start()`` then ``time.sleep(n)``: ``thread.join(timeout=...)``;
- ``sleep(n)`` then ``assert condition``: poll the condition against a deadline, then assert;
- a project method whose docstring sends callers to another (``join`` says "use
  ``wait_idle`` to wait for it"): call the one it names.
"""

from __future__ import annotations

import functools
import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import (
    WAIT_SECONDS,
    Loaded,
    on_test,
    project_modules,
    proposal,
)
from flaketui.remedies._cst import (
    CoroutineAware,
    add_imports,
    assert_call_condition,
    called_name,
    change_function,
    code,
    expression_of,
    function_at,
    module_names,
    parse,
    raised_condition,
    statement,
    top_level_functions,
    visit_function,
)
from flaketui.remedies._model import Context, Declined, Proposal
from flaketui.remedies.pauses import sleep_helpers
from flaketui.remedies.polls import deadline_poll, monotonic_clock, reads_state
from flaketui.remedies.waiters import USE, Waiter, instance_of, project_waiters

_ASYNC_SLEEPS = frozenset({"asyncio.sleep", "trio.sleep", "anyio.sleep", "tornado.gen.sleep"})
#: ``yield gen.sleep(n)`` in a tornado coroutine (``@gen_test``, ``@gen.coroutine``).
_YIELD_SLEEPS = frozenset({"tornado.gen.sleep"})
#: What goes before a wait in each kind of function.
_PREFIX = {"async": "await ", "yield": "yield ", "sync": ""}
_TASK_STARTS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})


def _sleep_call(line: cst.BaseStatement) -> cst.Call | None:
    value = expression_of(line)
    call = value.expression if isinstance(value, cst.Await) else value.value if isinstance(value, cst.Yield) else value
    return call if isinstance(call, cst.Call) else None


def _sleep_kind(line: cst.BaseStatement, names: dict[str, str]) -> str | None:
    """``async`` for ``await asyncio.sleep(n)``, ``yield`` for tornado's ``yield gen.sleep(n)``,
    ``sync`` for ``time.sleep(n)`` (n not 0)."""
    value = expression_of(line)
    call = _sleep_call(line)
    if call is None or not call.args:
        return None
    called = called_name(call, names)
    first = call.args[0].value
    if isinstance(first, cst.Integer | cst.Float) and float(first.value.replace("_", "")) == 0:
        return None  # sleep(0) yields to the loop on purpose
    if isinstance(value, cst.Await) and called in _ASYNC_SLEEPS:
        return "async"
    if isinstance(value, cst.Yield) and called in _YIELD_SLEEPS:
        return "yield"
    if called == "time.sleep" and not isinstance(value, cst.Await | cst.Yield):
        return "sync"
    return None


def _task_name(line: cst.BaseStatement, names: dict[str, str]) -> str | None:
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    small = line.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        called = called_name(small.value, names) or ""
        if called in _TASK_STARTS or called.endswith(".create_task"):
            return small.targets[0].target.value
    return None


def _started_threads(line: cst.BaseStatement) -> tuple[str, str] | None:
    """(``name``, ``one``) for ``name.start()``; (``names``, ``each``) for a loop starting each."""
    value = expression_of(line)
    if (
        isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "start"
        and isinstance(value.func.value, cst.Name) and not value.args
    ):
        return value.func.value.value, "one"
    if isinstance(line, cst.For) and isinstance(line.target, cst.Name) and isinstance(line.iter, cst.Name):
        inner = line.body.body if isinstance(line.body, cst.IndentedBlock) else []
        if len(inner) == 1 and _started_threads(inner[0]) == (line.target.value, "one"):
            return line.iter.value, "each"
    return None


def _mentions(lines: list[cst.BaseStatement], name: str, pattern: str) -> bool:
    text = "".join(code(line) for line in lines)
    return re.search(pattern.format(re.escape(name)), text) is not None


def _calls(line: cst.BaseStatement) -> list[tuple[str, str]]:
    """(receiver, method) of every ``receiver.method(...)`` call in a statement."""
    text = code(line)
    return re.findall(r"\b([A-Za-z_][\w.]*)\.(\w+)\(", text)


class _Rewrite(CoroutineAware):
    """Replaces the first fixed sleep it can turn into a real wait, and says how."""

    def __init__(
        self, names: dict[str, str], waiters: dict[str, list[Waiter]] | None = None,
        handed: tuple[str, list[cst.BaseExpression]] | None = None, helpers: frozenset[str] = frozenset(),
        module_code: str = "",
    ) -> None:
        super().__init__()
        self.names = names
        #: Functions that only sleep (``settle()``): a call to one is a fixed sleep.
        self.helpers = helpers
        #: The module the sleep is in: where a receiver is made an instance of a waiter's class.
        self.module_code = module_code
        #: In a fixture: (the test's name for its value, what the test asserts on it), so a sleep
        #: before ``yield value`` polls those assertions on ``value``.
        self.handed = handed
        #: A method the project's classes define -> the wait methods of the same class.
        self.waiters = waiters or {}
        self.done: str | None = None
        self.consumed = 0
        #: The sleep as the test wrote it, shortened to one poll's pause.
        self.pause = "time.sleep(0.01)"
        self.imports: list[tuple[str, str | None]] = []
        #: Loops around the block: a sleep in a loop is a poll already (``while busy: sleep``).
        self.loops = 0

    def visit_While(self, node: cst.While) -> None:
        self.loops += 1

    def leave_While(self, original: cst.While, updated: cst.While) -> cst.While:
        self.loops -= 1
        return updated

    def visit_For(self, node: cst.For) -> None:
        self.loops += 1

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        self.loops -= 1
        return updated

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.done:
            return updated
        body = list(updated.body)
        for index, line in enumerate(body):
            kind = _sleep_kind(line, self.names)
            sleep = _sleep_call(line)
            helper = kind is None and sleep is not None and not sleep.args and code(sleep.func) in self.helpers
            if kind is None and not helper:
                continue
            self.consumed = 0
            assert sleep is not None
            kind = kind or "sync"
            self.pause = f"{_PREFIX[kind]}{'time.sleep' if helper else code(sleep.func)}(0.01)"
            if helper:
                self.imports.append(("time", None) if self.names.get("time", "time") == "time" else ("time", "sleep"))
                self.pause = self.pause if self.names.get("time", "time") == "time" else "sleep(0.01)"
            if kind == "sync" and self.in_coroutine:
                kind, self.pause = "async", "await asyncio.sleep(0.01)"
                self.imports.append(("asyncio", None))
            replacement = self._waits(kind, body[:index], body[index + 1 :])
            if replacement is not None:
                assert isinstance(line, cst.SimpleStatementLine)  # a sleep is one expression statement
                first = replacement[0].with_changes(leading_lines=line.leading_lines)
                body[index : index + 1 + self.consumed] = [first, *replacement[1:]]
                return updated.with_changes(body=body)
        return updated

    def _project_wait(self, kind: str, before: list[cst.BaseStatement]) -> list[cst.BaseStatement] | None:
        for line in reversed(before):
            for receiver, method in reversed(_calls(line)):
                for waiter in self.waiters.get(method, []):
                    if waiter.is_async and kind == "sync" or not instance_of(receiver, waiter.owner, self.module_code):
                        continue
                    call = f"{_PREFIX[kind] if waiter.is_async else ''}{receiver}.{waiter.name}()"
                    self.done = f"waits with {receiver}.{waiter.name}() for what {method}() started"
                    return [statement(f"{'assert ' if waiter.returns_bool else ''}{call}\n")]
        return None

    def _queue_get(self, kind: str, line: cst.BaseStatement) -> cst.BaseStatement | None:
        """``item = q.get_nowait()`` after the sleep -> ``item = await asyncio.wait_for(q.get(), ...)``."""
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign)):
            return None
        match = re.fullmatch(r"(.+?) = ([\w.]+)\.get_nowait\(\)", code(line.body[0]).strip())
        if match is None:
            return None
        target, queue = match.groups()
        if kind == "async":
            self.imports.append(("asyncio", None))
            return statement(f"{target} = await asyncio.wait_for({queue}.get(), timeout={WAIT_SECONDS})\n")
        return statement(f"{target} = {queue}.get(timeout={WAIT_SECONDS})\n")

    def _waits(
        self, kind: str, before: list[cst.BaseStatement], after: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement] | None:
        if kind == "async":
            tasks = [n for line in before if (n := _task_name(line, self.names))]
            pending = [t for t in tasks if not _mentions(after, t, r"await\s+{0}\b|{0}\.(result|cancel)\(")]
            if pending:
                self.imports.append(("asyncio", None))
                waited = pending[0] if len(pending) == 1 else f"asyncio.gather({', '.join(pending)})"
                self.done = f"waits for {', '.join(pending)} to finish instead of sleeping a fixed time"
                return [statement(f"await asyncio.wait_for({waited}, timeout={WAIT_SECONDS})\n")]
        if kind == "sync" or self.in_coroutine:
            started = [s for line in before if (s := _started_threads(line))]
            unjoined = [(n, how) for n, how in started if not _mentions(after, n, r"{0}\.join\(|for \w+ in {0}:")]
            if unjoined:
                joins = []
                for name, how in unjoined:
                    if how == "one":
                        joins.append(statement(f"{name}.join(timeout={WAIT_SECONDS})\n"))
                    else:
                        joins.append(statement(f"for thread in {name}:\n    thread.join(timeout={WAIT_SECONDS})\n"))
                self.done = f"joins {', '.join(n for n, _ in unjoined)} instead of sleeping a fixed time"
                return joins
        if self.loops:
            return None  # the loop polls already: its sleep is the poll's pause, its check the condition
        offered = self._project_wait(kind, before)
        if offered is not None:
            return offered
        if after and (taken := self._queue_get(kind, after[0])) is not None:
            self.consumed = 1  # the queue read replaces the sleep and itself
            self.done = "waits for the queue's next item instead of sleeping a fixed time"
            return [taken]
        if _checks_nothing_happened(before, after):
            return None  # the sleep gives a change the time to show; polling would end the wait at once
        return self._poll(kind, after) or self._poll_handed(kind, after)

    def _poll_handed(self, kind: str, after: list[cst.BaseStatement]) -> list[cst.BaseStatement] | None:
        """``sleep(n)`` then ``yield server`` in a fixture whose test asserts ``server.ready``:
        poll ``srv.ready`` before handing the value over."""
        if self.handed is None or not after or not isinstance(after[0], cst.SimpleStatementLine):
            return None
        small = after[0].body[0]
        value = small.value.value if isinstance(small, cst.Expr) and isinstance(small.value, cst.Yield) else (
            small.value if isinstance(small, cst.Return) else None)
        if not isinstance(value, cst.Name):
            return None
        param, conditions = self.handed
        renamed = [c.visit(_Rename(param, value.value)) for c in conditions]
        asserts = [statement(f"assert {code(c)}\n") for c in renamed if isinstance(c, cst.BaseExpression)]
        polled = self._poll(kind, asserts)
        if polled is not None:
            self.done = f"polls what the test asserts on {value.value} against a deadline before handing it over"
        return polled

    def _poll(self, kind: str, after: list[cst.BaseStatement]) -> list[cst.BaseStatement] | None:
        """Poll what the following asserts check; plain assignments between the sleep and the
        asserts (``messages = server.received()``) are read again on each try."""
        reads: list[cst.BaseStatement] = []
        conditions: list[cst.BaseExpression] = []
        for line in after:
            small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
            condition = small.test if isinstance(small, cst.Assert) else assert_call_condition(small)
            raised = raised_condition(line) if condition is None else None  # ``if not done: raise ...``
            condition = raised if raised is not None and reads_state(raised, set(self.names)) else condition
            if condition is not None:
                conditions.append(condition)
            elif isinstance(small, cst.Assign) and not conditions and all(
                isinstance(t.target, cst.Name) for t in small.targets
            ) and "await" not in code(small):
                reads.append(line)
            else:
                break
        clock = monotonic_clock(self.names)
        if not conditions or clock is None or any(_WAITED.search(code(c)) for c in conditions):
            return None  # ``result.get() == 2`` waits itself: the checks before it are of the state before the work
        self.imports.append(clock[1])
        joined = " and ".join(f"({code(c)})" if len(conditions) > 1 else code(c) for c in conditions)
        pause = self.pause
        self.done = "polls the asserted condition against a deadline instead of sleeping a fixed time"
        if not reads:
            polled = deadline_poll(joined, pause, self.names)
            return polled[0] if polled else None
        now = clock[0]
        deadline = statement(f"deadline = {now} + {WAIT_SECONDS}\n")
        self.consumed = len(reads)
        again = "".join("    " + code(r).strip() + "\n" for r in reads)
        loop = statement(
            f"while True:\n{again}    if ({joined}) or {now} > deadline:\n        break\n    {pause}\n"
        )
        return [deadline, loop]


_ABSENCE = re.compile(r"not_called|assert_not_|call_count\s*==\s*0|\bnot\s+[\w.]+\.called\b")
#: A call that waits for the work to finish: ``job.get()``, ``future.result(timeout=5)``, ``t.join()``.
_WAITED = re.compile(r"\.(?:get|result|join|wait\w*)\(\s*(?:timeout\s*=[^()]*)?\)")
#: An assertion that something is absent: ``x is None``, ``not x``, ``x == 0``, ``x == []``.
_ABSENT_STATE = re.compile(r"^\s*assert\s+(?:not\b|.*\bis\s+(?:None|False)\s*$|.*==\s*(?:0|\[\]|\{\}|\(\)|''|\"\"|set\(\))\s*$)")


def _waited_for(lines: list[cst.BaseStatement]) -> set[str]:
    """The names at the root of each wait in ``lines``: ``job`` for ``job.get()``, ``server`` for
    ``server.request(...).result(timeout=5)``."""
    roots: set[str] = set()
    for line in lines:
        for found in _WAITED.finditer(code(line)):
            chain = code(line)[: found.start()]
            depth, index = 0, len(chain)
            while index > 0:  # walk back over the receiver: names, dots and balanced brackets
                char = chain[index - 1]
                if char in ")]":
                    depth += 1
                elif char in "([":
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and not (char.isalnum() or char in "_."):
                    break
                index -= 1
            root = re.match(r"\s*([A-Za-z_]\w*)", chain[index:])
            if root is not None:
                roots.add(root.group(1))
    return roots


def _checks_nothing_happened(before: list[cst.BaseStatement], after: list[cst.BaseStatement]) -> bool:
    """``a = read(); sleep(n); b = read(); assert a == b``, ``assert_not_called()`` after the
    sleep, or ``job.get()`` before it and ``assert store.saved is None`` after: the test waits to
    see that nothing changes, which a poll would stop checking."""
    def assigned(lines: list[cst.BaseStatement]) -> dict[str, str]:
        found = {}
        for line in lines:
            small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                found[small.targets[0].target.value] = code(small.value).strip()
        return found

    earlier, later = assigned(before), assigned(after)
    asserts = [code(line).strip() for line in after if code(line).lstrip().startswith("assert ")]
    read = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)", " ".join(asserts)))
    if asserts and all(_ABSENT_STATE.match(a) for a in asserts) and _waited_for(before) & read:
        return True  # what the asserts read was waited for before the sleep: it gives a stray change the time to show
    for line in after:
        text = code(line)
        if _ABSENCE.search(text):
            return True
        for first, second in re.findall(r"\bassert\s+(.+?)\s*(?:==|is)\s*(.+?)\s*$", text, re.MULTILINE):
            for old, new in ((first, second), (second, first)):
                if old in earlier and earlier[old] == later.get(new, new):
                    return True  # the same read, before the sleep and after it
    return False


class _Rename(cst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.new) if updated.value == self.old else updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(attr=original.attr)  # ``x.ready``'s attribute is no variable


def _handed(test: cst.FunctionDef, fixture: cst.FunctionDef, known: set[str]) -> tuple[str, list[cst.BaseExpression]] | None:
    """(the fixture's name as the test's parameter, the test's leading asserts that read only it
    and module-level names): what the fixture can wait for before handing its value over."""
    param = fixture.name.value
    if param not in {p.name.value for p in test.params.params}:
        return None
    conditions = []
    body = test.body.body if isinstance(test.body, cst.IndentedBlock) else []
    for line in body:
        small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
        if not isinstance(small, cst.Assert):
            break
        used = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)", re.sub(r"([\"']).*?\1", "", code(small.test))))
        if param in used and used <= known | {param}:
            conditions.append(small.test)
    return (param, conditions) if conditions else None


_BUILTINS = frozenset({"len", "not", "and", "or", "is", "in", "None", "True", "False", "set", "list", "dict", "sorted", "any", "all"})


@on_test("wait.event")
def propose_waits(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    """In the test; failing that, in the helper or fixture where the diagnosis saw the sleep."""
    remedy = loaded.remedy
    waiters = project_waiters(ctx, loaded.names)
    places = [(loaded.path, loaded.source, loaded.module, loaded.function, loaded.names, "The test")]
    for evidence in ctx.evidence:
        if evidence.category not in (Category.ASYNC, Category.TIME, Category.RACE) or evidence.where == "test body":
            continue
        source = loaded.source if evidence.path == loaded.path else ctx.read(evidence.path)
        module = parse(source or b"")
        function = function_at(module, evidence.line) if module is not None else None
        if source is not None and module is not None and function is not None:
            places.append((evidence.path, source, module, function, module_names(module), evidence.where))
    for path, source, module, function, names, where in places:
        known = set(names) | set(_BUILTINS)
        handed = _handed(loaded.function, function, known) if where.startswith("fixture") else None
        helpers = sleep_helpers(ctx, loaded) if function is loaded.function else frozenset()
        rewrite = _Rewrite(names, waiters, handed, helpers, source.decode("utf-8", errors="replace"))
        changed = change_function(module, function, functools.partial(visit_function, transformer=rewrite))
        if rewrite.done is None:
            continue
        changed = add_imports(changed, rewrite.imports)
        why = (
            f"{where[:1].upper()}{where[1:]} {rewrite.done}: a fixed sleep is too short on a loaded runner. "
            f"The wait fails after {WAIT_SECONDS} s instead of hanging."
        )
        return [proposal(Category.ASYNC, remedy, "Wait for the event, not a fixed time", why, {path: (source, changed)})]
    return []


# -- waits the project's own docstrings recommend -----------------------------------------------


def _recommended(ctx: Context, names: dict[str, str]) -> dict[str, tuple[str, bool, str]]:
    """method -> (the method its docstring recommends, returns bool, path), over the project."""
    found: dict[str, tuple[str, bool, str]] = {}
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        if USE.search(source.decode("utf-8", errors="replace")) is None:
            continue  # parsing costs; no docstring sends callers elsewhere
        module = parse(source)
        if module is None:
            continue
        methods: dict[tuple[str | None, str], cst.FunctionDef] = {
            (owner, f.name.value): f for owner, f in top_level_functions(module)
        }
        for (owner, name), function in methods.items():
            doc = function.get_docstring() or ""
            match = USE.search(doc)
            if owner is None or match is None or (owner, match.group(1)) not in methods:
                continue
            other = methods[(owner, match.group(1))]
            returns_bool = other.returns is not None and code(other.returns.annotation) == "bool"
            found[name] = (match.group(1), returns_bool, path)
    return found


class _CallSwap(cst.CSTTransformer):
    def __init__(self, swaps: dict[str, tuple[str, bool, str]], started: str) -> None:
        self.swaps = swaps
        #: The test's code: a receiver it ``.start()``s is a thread, whose join is the real one.
        self.started = started
        self.done: list[tuple[str, str, str]] = []

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        value = expression_of(updated)
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
            return updated
        swap = self.swaps.get(value.func.attr.value)
        receiver = code(value.func.value)
        if swap is None or f"{receiver}.start()" in self.started:
            return updated
        other, returns_bool, path = swap
        call = value.with_changes(func=value.func.with_changes(attr=cst.Name(other)), args=[])
        self.done.append((value.func.attr.value, other, path))
        small: cst.BaseSmallStatement = cst.Assert(test=call) if returns_bool else cst.Expr(call)
        return updated.with_changes(body=[small])


@on_test("wait.documented")
def propose_documented_wait(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    swaps = _recommended(ctx, loaded.names)
    if not swaps:
        return []
    swap = _CallSwap(swaps, code(loaded.function))
    module = change_function(loaded.module, loaded.function, lambda f: visit_function(f, swap))
    if not swap.done:
        return []
    old, new, path = swap.done[0]
    title = f"Call {new}() where the test calls {old}()"
    why = (
        f"{path} documents that {old}() may return before the work is done and tells callers to use "
        f"{new}(): the test reads the result too early when the workers are slow."
    )
    return [proposal(Category.RACE, loaded.remedy, title, why, {loaded.path: (loaded.source, module)})]
