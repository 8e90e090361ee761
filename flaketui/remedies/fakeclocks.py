"""A test that runs on the real clock where the project has its own fake clock for tests.

A test that sleeps (or reads ``time.monotonic``...) and then asserts on the times it measured
passes or fails with the load of the machine. Some projects keep a fake clock for exactly
this: a context manager in their test helpers (``with fake_time(): ...``) that replaces
``time.sleep`` and the clocks with one that advances only when asked. The fix runs the test's
body inside that context manager, as the project's other tests do: every assertion stays, and
the times it sees are the ones it asked for.

Only where all of this holds: the diagnosis saw the test's own assertions depend on measured
time (an elapsed-time assertion, a timing tolerance, a sleep as the work); the fake is a
generator context manager in a test-support file, callable with no arguments, and another test
already uses it; it patches every clock the test (or a function of its module it calls) reads
or sleeps on, and the test reads no other clock of its own (``native_clock()``: a fake
``time.sleep`` would leave it standing still); the test uses none of the project's fake clocks
yet; and it is not a coroutine (a fake ``time.sleep`` does not reach ``asyncio.sleep``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import add_imports, called_name, change_function, code, dotted, parse, top_level_functions
from flaketui.remedies._model import Context, Declined, Proposal

#: What a fake clock replaces and a test may read or sleep on.
_CLOCKS = frozenset({
    "time.sleep", "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns",
    "time.perf_counter", "time.perf_counter_ns",
})  # fmt: skip
#: ``patch("time.sleep", ...)``, ``patch.object(time, "sleep", ...)``, ``monkeypatch.setattr(time, "sleep", ...)``.
_PATCHED = (
    re.compile(r"""["'](time\.\w+)["']"""),
    re.compile(r"""(?:patch\.object|setattr)\(\s*time\s*,\s*["'](\w+)["']"""),
)


#: What the diagnosis says when a test's assertions depend on measured time.
_TIMED = frozenset({"time.elapsed-assert", "time.timing-tolerance", "time.sleep-window", "time.sleep-as-work"})
#: A function of the test's own that reads some clock (``native_clock()``, ``get_time()``).
_OTHER_CLOCK = re.compile(r"clock|time", re.IGNORECASE)


@dataclass(frozen=True)
class _Fake:
    path: str
    name: str
    #: The clocks it replaces (``time.sleep``...).
    patches: frozenset[str]


def _patches(function: cst.FunctionDef) -> frozenset[str]:
    text = code(function.body)
    found = {m for m in _PATCHED[0].findall(text)} | {f"time.{m}" for m in _PATCHED[1].findall(text)}
    return frozenset(found & _CLOCKS)


def _is_fake_clock(function: cst.FunctionDef) -> bool:
    """A generator context manager named for time or a clock that takes no required argument."""
    if function.asynchronous is not None or not re.search(r"time|clock", function.name.value, re.IGNORECASE):
        return False
    if not any((dotted(d.decorator) or "").endswith("contextmanager") for d in function.decorators):
        return False
    params = function.params
    return all(p.default is not None for p in (*params.posonly_params, *params.params, *params.kwonly_params))


def _support_file(path: str) -> bool:
    return bool(re.search(r"(^|/)(tests?|testing)(/|_|\.py$)|(^|/)test_|conftest\.py$|_test\.py$", path))


def _fakes(ctx: Context) -> list[_Fake]:
    found: list[_Fake] = []
    for path in ctx.project_files:
        if not _support_file(path):
            continue
        source = ctx.read(path) or b""
        if b"contextmanager" not in source or b"time" not in source:
            continue
        module = parse(source)
        if module is None:
            continue
        for owner, function in top_level_functions(module):
            if owner is None and _is_fake_clock(function):
                found.append(_Fake(path, function.name.value, _patches(function)))
    return found


def _clocks_used(loaded: Loaded) -> tuple[set[str], set[str]]:
    """The clocks the test reads or sleeps on, itself or through a function of its module it
    calls, and the functions it calls by bare name that read some other clock."""
    helpers = {f.name.value: f for owner, f in top_level_functions(loaded.module) if owner is None}
    used: set[str] = set()
    others: set[str] = set()
    seen: set[str] = set()

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            name = called_name(node, loaded.names) or ""
            if name in _CLOCKS:
                used.add(name)
            elif name in helpers and name not in seen:
                seen.add(name)
                helpers[name].body.visit(self)  # one call deep is the module's own helpers
            elif isinstance(node.func, cst.Name) and _OTHER_CLOCK.search(node.func.value):
                others.add(node.func.value)

    loaded.function.body.visit(Calls())
    return used, others


def _import_of(ctx: Context, fake: _Fake, test_path: str) -> tuple[str, int] | None:
    """How a test imports the fake: (module, dots), copied from a test that already does."""
    pattern = re.compile(rf"^from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+[^\n]*\b{re.escape(fake.name)}\b", re.MULTILINE)
    folder = test_path.rpartition("/")[0]
    for path in ctx.project_files:
        source = ctx.read(path) or b""
        if fake.name.encode() not in source:
            continue
        for dots, module in pattern.findall(source.decode("utf-8", "replace")):
            if not dots:
                return module, 0
            if path.rpartition("/")[0] == folder and module:
                return module, len(dots)  # relative: right only for a test in the same folder
    return None


def _used_by_a_test(ctx: Context, fake: _Fake) -> bool:
    wanted = re.compile(rf"\bwith\b[^\n]*\b{re.escape(fake.name)}\(".encode())
    return any(_support_file(p) and wanted.search(ctx.read(p) or b"") for p in ctx.project_files)


def _wrapped(function: cst.FunctionDef, name: str) -> cst.FunctionDef:
    body = function.body
    assert isinstance(body, cst.IndentedBlock)
    keep = 1 if function.get_docstring() is not None else 0
    head, rest = list(body.body[:keep]), list(body.body[keep:])
    first = rest[0]
    assert isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    leading = first.leading_lines
    rest[0] = first.with_changes(leading_lines=[])
    block = cst.With(
        items=[cst.WithItem(cst.Call(cst.Name(name)))], body=cst.IndentedBlock(body=rest), leading_lines=leading,
    )  # fmt: skip
    return function.with_changes(body=body.with_changes(body=[*head, block]))


@on_test("clock.project-fake")
def propose_project_fake_clock(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    timed = any(e.rule in _TIMED and e.path == loaded.path for e in ctx.evidence)
    if not timed or loaded.function.asynchronous is not None:
        return []
    body = loaded.function.body
    if not isinstance(body, cst.IndentedBlock) or len(body.body) <= (1 if loaded.function.get_docstring() else 0):
        return []
    used, others = _clocks_used(loaded)
    if not used:
        return []
    every = _fakes(ctx)
    if others - {f.name for f in every}:
        return [Declined(remedy, f"the test reads a clock of its own ({', '.join(sorted(others))}) that a fake "
                         "time module would not move")]  # fmt: skip
    text = code(loaded.function)
    if any(re.search(rf"\b{re.escape(f.name)}\(", text) for f in every):
        return []  # it runs on one of the project's fakes already
    fakes = [f for f in every if f.patches and used <= f.patches]
    if not fakes:
        return []
    declined: list[Proposal | Declined] = []
    for fake in fakes:
        if not _used_by_a_test(ctx, fake):
            declined.append(Declined(remedy, f"{fake.name}() in {fake.path} is used by no test yet"))
            continue
        if fake.name in loaded.names and not loaded.names[fake.name].endswith(f".{fake.name}"):
            declined.append(Declined(remedy, f"{fake.name} names something else in {loaded.path}"))
            continue
        imports: list[tuple[str, str | None, int]] = []
        if fake.path != loaded.path and fake.name not in loaded.names:
            found = _import_of(ctx, fake, loaded.path)
            if found is None:
                declined.append(Declined(remedy, f"no test imports {fake.name} from {fake.path}: its import path is not known"))
                continue
            imports.append((found[0], fake.name, found[1]))
        module = change_function(loaded.module, loaded.function, functools.partial(_wrapped, name=fake.name))
        for name, obj, dots in imports:
            module = add_imports(module, [(name, obj)], relative=dots)
        clocks = ", ".join(sorted(used))
        why = (
            f"{ctx.target.name} runs on the real clock ({clocks}), so the times it measures depend on how busy "
            f"the machine is. The project has its own fake clock for tests, {fake.name}() in {fake.path}, which "
            f"replaces {', '.join(sorted(fake.patches))}; the test now runs inside it, as the project's other tests "
            "do, so every assertion stays and the times it sees are the ones it asked for."
        )
        title = f"Run the test on the project's fake clock ({fake.name})"
        return [proposal(Category.TIME, remedy, title, why, {loaded.path: (loaded.source, module)})]
    return declined

