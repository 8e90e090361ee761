"""The wall clock read twice, or near a boundary: read it once and pass it in, or freeze it.

- The code under test takes a clock (``Schedule(clock=...)``) and the test reads the real one
  besides: the test reads the clock once, ``now = datetime.now(...)``, and passes
  ``clock=lambda: now``, so both sides see the same instant.
- Else, when the project already depends on freezegun or time-machine, the test is frozen at
  a fixed instant with it. Without either, nothing is installed: the remedy says so.
Elapsed-time assertions are never frozen: that would make them pass by not measuring.
"""

from __future__ import annotations

import keyword
import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, constructor_parameters, on_test, passes, proposal, with_keyword
from flaketui.remedies._cst import add_imports, change_function, code, dotted
from flaketui.remedies._model import Context, Declined, Proposal

_NOW = frozenset({
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today", "time.time",
})
_CLOCK_PARAMS = ("clock", "now", "time_func", "timer", "time_source", "utcnow", "get_now")
_INSTANT = "2025-01-14 12:00:00"
#: ``time.time() - start``: a duration measured, which one frozen or shared reading would defeat.
_ELAPSED = re.compile(r"(monotonic|perf_counter|time|now)\(\)\s*-\s*\w")


def _qualified(node: cst.BaseExpression, names: dict[str, str]) -> str:
    name = dotted(node) or ""
    head, _, rest = name.partition(".")
    return f"{names.get(head, head)}.{rest}".rstrip(".")


def _read_now(called: str, names: dict[str, str]) -> bool:
    """``datetime.now`` in ``datetime.now()``; ``not`` in ``not(x)`` is no call (and no name to parse)."""
    parts = called.split(".")
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        return False
    return _qualified(cst.parse_expression(called), names) in _NOW


class _ReadOnce(cst.CSTTransformer):
    def __init__(self, names: dict[str, str], clocked: dict[str, str]) -> None:
        self.names = names
        self.clocked = clocked  # class (local name) -> its clock parameter
        self.first: str | None = None
        self.passed: list[str] = []

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if _qualified(updated.func, self.names) in _NOW:
            self.first = self.first or code(updated)
            return cst.Name("now")
        local = dotted(updated.func) or ""
        parameter = self.clocked.get(local)
        if parameter and not passes(updated, parameter):
            self.passed.append(local)
            return with_keyword(updated, parameter, "lambda: now")
        return updated


def _clocked_classes(ctx: Context, names: dict[str, str]) -> dict[str, str]:
    """Local class name -> the name of its ``__init__``'s clock parameter (one with a default)."""
    found: dict[str, str] = {}
    for local, params in constructor_parameters(ctx, names).items():
        clocks = [p.name.value for p in params if p.name.value in _CLOCK_PARAMS]
        if clocks:
            found[local] = clocks[0]
    return found


@on_test("clock.read-once")
def propose_clock(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    text = code(loaded.function)
    if re.search(r"\bnow\b", text) and "now =" in text:
        return []  # already read once (or a name we would shadow)
    if _ELAPSED.search(text):
        return [Declined(remedy, "the test measures elapsed time: one clock reading would stop it measuring")]
    rewrite = _ReadOnce(loaded.names, _clocked_classes(ctx, loaded.names))
    function = loaded.function.visit(rewrite)
    assert isinstance(function, cst.FunctionDef)
    if rewrite.first is not None and rewrite.passed:
        body = function.body
        assert isinstance(body, cst.IndentedBlock)
        first = 1 if function.get_docstring() is not None else 0
        lines = list(body.body)
        lines[first:first] = [cst.parse_statement(f"now = {rewrite.first}\n")]
        function = function.with_changes(body=body.with_changes(body=lines))
        module = change_function(loaded.module, loaded.function, lambda _f: function)
        why = (
            f"{ctx.target.name} reads the wall clock while {', '.join(dict.fromkeys(rewrite.passed))} reads it "
            "again on its own: the two instants differ by however long the runner took. The test now reads "
            "the clock once and passes it in, so both sides see the same instant."
        )
        return [proposal(Category.TIME, remedy, "Read the clock once and pass it in", why, {loaded.path: (loaded.source, module)})]
    return _freeze(ctx, loaded, text)


def _freeze(ctx: Context, loaded: Loaded, text: str) -> list[Proposal | Declined]:
    remedy = "clock.freeze"
    reads = [q for q in re.findall(r"\b([\w.]+)\(", text) if _read_now(q, loaded.names)]
    if not reads:
        return []
    if _ELAPSED.search(text):
        return [Declined(remedy, "the test measures elapsed time: freezing the clock would stop it measuring")]
    decorators = " ".join(code(d.decorator) for d in loaded.function.decorators)
    if "freeze_time" in decorators or "travel" in decorators:
        return []
    imports: list[tuple[str, str | None]]
    if "freezegun" in ctx.dependencies:
        decorator, imports = f'freeze_time("{_INSTANT}")', [("freezegun", "freeze_time")]
        library = "freezegun"
    elif "time-machine" in ctx.dependencies:
        decorator, imports = f'time_machine.travel("{_INSTANT}+00:00", tick=False)', [("time_machine", None)]
        library = "time-machine"
    else:
        return [Declined(remedy, "freezing the clock needs freezegun or time-machine, and the project depends on "
                         "neither (flaketui never installs into your environment); pass the time in instead")]
    new = loaded.function.with_changes(decorators=[*loaded.function.decorators, cst.Decorator(cst.parse_expression(decorator))])
    module = add_imports(change_function(loaded.module, loaded.function, lambda _f: new), imports)
    why = (
        f"{ctx.target.name} reads today's date or time ({', '.join(dict.fromkeys(reads))}), so it changes "
        f"meaning near midnight, month ends and DST. {library}, which the project already uses, "
        f"freezes the clock at {_INSTANT} UTC for the test."
    )
    return [proposal(Category.TIME, remedy, f"Freeze the clock with {library}", why, {loaded.path: (loaded.source, module)})]
