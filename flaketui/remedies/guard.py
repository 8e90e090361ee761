"""The rule every proposal passes: a fix never weakens a test.

Compared between the file before and after: no assertion goes (``assert``, ``pytest.raises``,
``self.assert*``), no comparison changes its operator, no skip or xfail appears, no ``try``
appears, and no number changes (a bigger timeout or threshold is not a fix) other than the
duration of a fixed sleep the fix replaces by waiting for the event itself, and the range a
port was drawn from when the fix asks the operating system for a free port instead.
"""

from __future__ import annotations

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


def _tally(source: bytes) -> _Tally | None:
    module = parse(source)
    if module is None:
        return None
    tally = _Tally()
    module.visit(tally)
    return tally


def weakening(path: str, before: bytes, after: bytes) -> str | None:
    """Why the edit of ``path`` would weaken a test, or None when it does not."""
    old, new = _tally(before), _tally(after)
    if old is None or new is None:
        return f"{path} would not parse after the change"
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
