"""An unlocked read-modify-write in the project's code, reached from threads: take a lock.

``self.count += 1`` or ``self.totals[k] = self.totals.get(k, 0) + 1`` in a method that
several threads call loses updates when two threads interleave between the read and the
write; so does a read into a local that a later statement writes back (``balance = self.balance``
... ``self.balance = balance + amount``), and the lock then spans both (an ``RLock`` when the
span calls the object's own methods, which may take it too). The class gets a ``threading.Lock`` made in ``__init__`` and the statement runs under it.
The change is in the project's file: the user sees it in the diff and chooses.

Only for a method a thread the test starts runs (``Thread(target=c.bump)``, ``pool.submit(c.bump)``,
or a function of the test's that calls ``c.bump()`` as a thread's target), of a class the test's
module names, in the project's code (not its test helpers), and never a coroutine: its steps
interleave only at an ``await``, which no thread lock orders.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import (
    Loaded,
    on_test,
    project_modules,
    proposal,
)
from flaketui.remedies._cst import add_imports, code, dotted, parse, statement, top_level_functions
from flaketui.remedies._model import Context, Declined, Proposal

_LOCK = "_lock"


def _read_modify_write(line: cst.BaseStatement) -> bool:
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return False
    small = line.body[0]
    if isinstance(small, cst.AugAssign):
        return code(small.target).startswith("self.")
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = code(small.targets[0].target)
        if not target.startswith("self."):
            return False
        base = re.sub(r"\[.*\]$", "", target)
        return re.search(rf"{re.escape(base)}\b", code(small.value)) is not None
    return False


class _Guard(cst.CSTTransformer):
    """Wraps each unlocked read-modify-write of ``self`` in ``with self._lock:``."""

    def __init__(self) -> None:
        self.locked_depth = 0
        self.wrapped: list[str] = []
        #: A wrapped span calls a method of the object: the lock must let that call take it again.
        self.calls_self = False

    def visit_With(self, node: cst.With) -> None:
        if any("lock" in code(item.item).lower() for item in node.items):
            self.locked_depth += 1

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        if any("lock" in code(item.item).lower() for item in original.items):
            self.locked_depth -= 1
        return updated

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.locked_depth:
            return updated
        body: list[cst.BaseStatement] = []
        lines = list(updated.body)
        index = 0
        while index < len(lines):
            line = lines[index]
            end = index if _read_modify_write(line) else _write_back(lines, index)
            if end is None:
                body.append(line)
                index += 1
                continue
            span = lines[index : end + 1]
            self.wrapped.append(" ... ".join(code(s).strip() for s in (span[0], span[-1])[: len(span)]))
            self.calls_self = self.calls_self or any(re.search(r"\bself\.\w+\(", code(s)) for s in span)
            wrapped = statement(f"with self.{_LOCK}:\n    pass\n")
            assert isinstance(wrapped, cst.With)
            start = span[0]
            assert isinstance(start, cst.SimpleStatementLine)  # both kinds of start are one-line statements
            inner = [start.with_changes(leading_lines=[]), *span[1:]]
            body.append(wrapped.with_changes(body=wrapped.body.with_changes(body=inner), leading_lines=start.leading_lines))
            index = end + 1
        return updated.with_changes(body=body)


def _write_back(lines: list[cst.BaseStatement], index: int) -> int | None:
    """``value = self.x`` (or ``self.x.get(k, 0)``) at ``index`` and, further down the same
    block, ``self.x = value + 1``: the index of that write, the end of a split read-modify-write."""
    line = lines[index]
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign)):
        return None
    read = line.body[0]
    if len(read.targets) != 1 or not isinstance(read.targets[0].target, cst.Name):
        return None
    local = read.targets[0].target.value
    state = re.match(r"(self\.\w+)", code(read.value).strip())
    if state is None:
        return None
    for end in range(index + 1, len(lines)):
        later = lines[end]
        if not isinstance(later, cst.SimpleStatementLine):
            return None  # a block between the read and the write: not a span this wraps
        small = later.body[0] if len(later.body) == 1 else None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = code(small.targets[0].target)
            if re.match(rf"{re.escape(state.group(1))}\b", target) and re.search(rf"\b{local}\b", code(small.value)):
                return end
    return None


class _LockClass(cst.CSTTransformer):
    def __init__(self, methods: set[str], test_module: str) -> None:
        self.methods = methods
        #: The test's module: a class it never names is not the one its threads share.
        self.test_module = test_module
        self.changed: list[str] = []

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        body = updated.body
        if not isinstance(body, cst.IndentedBlock) or not re.search(rf"\b{updated.name.value}\b", self.test_module):
            return updated
        init = next((s for s in body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
        if init is None or f"self.{_LOCK}" in code(original) and "Lock(" not in code(init):
            return updated
        statements: list[cst.BaseStatement] = []
        wrapped: list[str] = []
        reentrant = False
        for item in body.body:
            if (
                isinstance(item, cst.FunctionDef) and item.name.value in self.methods and item.name.value != "__init__"
                and item.asynchronous is None
            ):
                guard = _Guard()
                item = item.visit(guard)  # type: ignore[assignment]  # the guard transformer never removes or flattens the node
                wrapped += guard.wrapped
                reentrant = reentrant or guard.calls_self
            statements.append(item)
        if not wrapped:
            return updated
        if f"self.{_LOCK} =" not in code(init):
            init_body = init.body
            assert isinstance(init_body, cst.IndentedBlock)
            new_init = init.with_changes(body=init_body.with_changes(
                body=[*init_body.body, statement(f"self.{_LOCK} = threading.{'RLock' if reentrant else 'Lock'}()\n")]
            ))
            statements = [new_init if s is init else s for s in statements]
        self.changed.append(f"{updated.name.value}: {', '.join(wrapped)}")
        return updated.with_changes(body=body.with_changes(body=statements))


#: Calls that run a callable on another thread: the callable is ``target=`` or the first argument.
_THREAD_CALLS = re.compile(r"(?:^|\.)(?:Thread|Timer|start_new_thread)$|\.(?:submit|map)$")


def _thread_methods(function: cst.FunctionDef, module: cst.Module) -> set[str]:
    """Methods that threads the test starts run: ``target=c.bump``, ``pool.submit(c.bump)``, and
    ``c.bump()`` in a lambda or a function (the test's own, or its module's) given as the target."""
    local = {f.name.value: f for owner, f in top_level_functions(module) if owner is None}
    local |= {f.name.value: f for f in _nested_functions(function)}
    found: set[str] = set()

    class _Starts(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            name = dotted(node.func) or ""
            if not _THREAD_CALLS.search(name) or not node.args:
                return
            keyed = [a.value for a in node.args if a.keyword is not None and a.keyword.value == "target"]
            positional = [a.value for a in node.args if a.keyword is None]
            timer = name.endswith("Timer") and len(positional) > 1
            run = keyed[0] if keyed else positional[1] if timer else positional[0] if positional else None
            if isinstance(run, cst.Attribute):
                found.add(run.attr.value)
            elif isinstance(run, cst.Lambda):
                found.update(re.findall(r"\.(\w+)\(", code(run.body)))
            elif isinstance(run, cst.Name) and run.value in local:
                found.update(re.findall(r"\.(\w+)\(", code(local[run.value].body)))

    function.visit(_Starts())
    return found


def _nested_functions(function: cst.FunctionDef) -> list[cst.FunctionDef]:
    found: list[cst.FunctionDef] = []

    class _Defs(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if node is not function:
                found.append(node)

    function.visit(_Defs())
    return found


@on_test("race.lock")
def propose_lock(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    called = _thread_methods(loaded.function, loaded.module)
    if not called:
        return []  # no thread the test starts runs a method: no lock of the project's would order anything
    module_code = code(loaded.module)
    changes: dict[str, tuple[bytes, cst.Module]] = {}
    what: list[str] = []
    for path in project_modules(ctx, loaded.names):
        source = ctx.read(path) or b""
        if not any(f"def {name}(".encode() in source for name in called):
            continue  # parsing costs; none of the methods is defined here
        module = parse(source)
        if module is None:
            continue
        lock = _LockClass(called, module_code)
        new = module.visit(lock)
        if lock.changed:
            changes[path] = (source, add_imports(new, [("threading", None)]))
            what += [f"{path} ({c})" for c in lock.changed]
    if not changes:
        return []
    why = (
        f"Threads started by {ctx.target.name} run a read-modify-write without a lock in "
        f"{'; '.join(what)}: two threads read the same value and one update is lost. The statement "
        "now runs under a lock the class owns. This changes the project's code: review it."
    )
    return [proposal(Category.RACE, remedy, "Take a lock around the read-modify-write", why, changes)]
