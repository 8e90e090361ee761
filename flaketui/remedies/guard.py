"""The rule every proposal passes: a fix never weakens a test.

Compared between the file before and after: no assertion goes (``assert``, ``pytest.raises``,
``self.assert*``), no comparison changes its operator, no skip or xfail appears, no ``try``
appears, and no number changes (a bigger timeout or threshold is not a fix) other than the
duration of a fixed sleep the fix replaces by waiting for the event itself, and the range a
port was drawn from when the fix asks the operating system for a free port instead. And an edit
must compile wherever the file did (``await`` in a plain function parses but does not compile).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

import libcst as cst

from flaketui.remedies._cst import dotted, parse

_SKIPS = frozenset({"skip", "skipif", "xfail", "importorskip", "skipTest", "expectedFailure", "SkipTest"})
_SLEEPS = frozenset({"sleep", "wait"})
_DRAWS = ("randint", "randrange")


@dataclass
class _Tally(cst.CSTVisitor):
    assertions: int = 0
    operators: Counter[str] = field(default_factory=Counter)
    skips: int = 0
    tries: int = 0
    numbers: Counter[str] = field(default_factory=Counter)
    sleep_numbers: Counter[str] = field(default_factory=Counter)
    #: ``port = random.randint(10000, 50000)``: a range to draw from, no threshold.
    port_numbers: Counter[str] = field(default_factory=Counter)

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target if len(node.targets) == 1 else None
        name = dotted(node.value.func) if isinstance(node.value, cst.Call) else None
        if isinstance(target, cst.Name) and "port" in target.value.lower() and name and name.endswith(_DRAWS):
            assert isinstance(node.value, cst.Call)
            for arg in node.value.args:
                if isinstance(arg.value, cst.Integer):
                    self.port_numbers[arg.value.value] += 1

    def visit_Assert(self, node: cst.Assert) -> None:
        self.assertions += 1
        if isinstance(node.test, cst.Comparison):
            for target in node.test.comparisons:
                self.operators[type(target.operator).__name__] += 1

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last == "raises" or last == "warns" or (last.startswith("assert") and "." in name):
            self.assertions += 1
        if last in _SLEEPS:
            for arg in node.args:
                if isinstance(arg.value, cst.Integer | cst.Float):
                    self.sleep_numbers[arg.value.value] += 1

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in _SKIPS:
            self.skips += 1

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in _SKIPS:
            self.skips += 1

    def visit_Try(self, node: cst.Try) -> None:
        self.tries += 1

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self.tries += 1

    def visit_Integer(self, node: cst.Integer) -> None:
        self.numbers[node.value] += 1

    def visit_Float(self, node: cst.Float) -> None:
        self.numbers[node.value] += 1


def _units(module: cst.Module) -> list[cst.CSTNode]:
    """The module's statements, a top-level class's members standing for the class (with the
    parts of its header): one test of a class of hundreds changes, not the class."""
    units: list[cst.CSTNode] = []
    for statement in module.body:
        if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            units += [*statement.decorators, statement.name, *statement.bases, *statement.keywords, *statement.body.body]
        else:
            units.append(statement)
    return units


def _tally(units: list[cst.CSTNode]) -> _Tally:
    tally = _Tally()
    for unit in units:
        unit.visit(tally)
    return tally


def weakening(path: str, before: bytes, after: bytes, after_module: cst.Module | None = None) -> str | None:
    """Why the edit of ``path`` would weaken a test, or None when it does not (``after_module``:
    the tree ``after`` was printed from, when the caller has it).

    Only what changed is counted: a remedy's tree keeps every statement it did not touch as the
    very node it parsed (``_cst.change_function``), so a module of thousands of lines is not
    walked twice per proposal; trees that share nothing are counted whole."""
    old_module, new_module = parse(before), after_module if after_module is not None else parse(after)
    if old_module is None or new_module is None:
        return f"{path} would not parse after the change"
    old_units, new_units = _units(old_module), _units(new_module)
    kept = {id(u) for u in old_units} & {id(u) for u in new_units}
    old = _tally([u for u in old_units if id(u) not in kept])
    new = _tally([u for u in new_units if id(u) not in kept])
    if new.assertions < old.assertions:
        return f"it would remove an assertion from {path}"
    if new.operators - old.operators or old.operators - new.operators:
        return f"it would change what an assertion in {path} compares"
    if new.skips > old.skips:
        return f"it would add a skip or xfail to {path}"
    if new.tries > old.tries:
        return f"it would wrap code of {path} in try/except"
    removed = old.numbers - new.numbers
    if removed - old.sleep_numbers - old.port_numbers:
        changed = ", ".join(sorted(removed - old.sleep_numbers - old.port_numbers))
        return f"it would change a number in {path} ({changed}): a bigger timeout or threshold is not a fix"
    return None


@functools.lru_cache(maxsize=64)
def _compiles(source: bytes) -> bool:
    try:
        compile(source, "<proposal>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def breaks(path: str, before: bytes, after: bytes) -> str | None:
    """Why the edit of a Python file would not compile, when the file compiled before (a newer
    Python's syntax than this interpreter's is not held against the edit)."""
    if not path.endswith(".py") or _compiles(after) or not _compiles(before):
        return None
    return f"{path} would not compile after the change"
