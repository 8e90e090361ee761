"""The waits a project's classes offer: ``wait_idle()``, ``join()``, ``flush()``... that a
fixed sleep after a call of the same class may become, and how to tell the test holds one.

A wait belongs to its class: it is offered only on a receiver the test's module makes an
instance of that class, never on whatever object has a method of the same name, and a
property named like one (``date_done``) is a value, not a wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from flaketui.remedies._base import parsed_project_modules
from flaketui.remedies._cst import code, dotted, top_level_functions
from flaketui.remedies._model import Context

#: ``use `wait_idle()``` in a method's docstring: the method it sends callers to.
USE = re.compile(r"\buse\s+`{1,2}(?:\w+\.)?(\w+)(?:\(\))?`{1,2}", re.IGNORECASE)


@dataclass(frozen=True)
class Waiter:
    name: str
    is_async: bool
    returns_bool: bool
    #: The class that defines it: only an instance of it has this wait.
    owner: str = ""


_WAIT_DEF = re.compile(rb"def (?:wait|join|drain|flush)|def \w+_(?:complete|completed|idle|done|finished)\(")
_WAIT_NAME = re.compile(r"^(wait|join|drain|flush)\w*$|^\w+_(complete|completed|idle|done|finished)$")


def project_waiters(ctx: Context, names: dict[str, str]) -> dict[str, list[Waiter]]:
    """method -> the wait methods (``wait_idle``, ``wait_for_all_listeners_to_complete``...)
    that take no argument, of every project class that defines that method."""
    found: dict[str, list[Waiter]] = {}
    for _path, module in parsed_project_modules(ctx, names, _WAIT_DEF):  # no method named like a wait: not parsed
        by_class: dict[str, list[cst.FunctionDef]] = {}
        for owner, function in top_level_functions(module):
            if owner is not None:
                by_class.setdefault(owner, []).append(function)
        for owner, methods in by_class.items():
            elsewhere = {m.name.value for m in methods if USE.search(m.get_docstring() or "")}
            waits = [
                Waiter(m.name.value, m.asynchronous is not None,
                       m.returns is not None and code(m.returns.annotation) == "bool", owner)
                for m in methods
                if _WAIT_NAME.match(m.name.value) and all(p.default is not None for p in m.params.params[1:])
                and not is_property(m)
            ]
            # wait_* first; a wait whose own docstring sends callers elsewhere last of all.
            waits.sort(key=lambda w: (w.name in elsewhere, not w.name.startswith("wait")))
            for method in methods:
                if waits and not method.name.value.startswith("_") and method.name.value not in {w.name for w in waits}:
                    found.setdefault(method.name.value, []).extend(waits)
    return found


def is_property(method: cst.FunctionDef) -> bool:
    """``@property def date_done``: a value read, not a wait to call."""
    return any((dotted(d.decorator) or "").rsplit(".", 1)[-1] in {"property", "cached_property"} for d in method.decorators)


def instance_of(receiver: str, owner: str, module_code: str) -> bool:
    """The test's module makes ``receiver`` an instance of ``owner``: ``km = KernelManager(...)``,
    ``self.km = await KernelManager(...)``, ``with KernelManager(...) as km``."""
    name, cls = re.escape(receiver), rf"(?:[\w.]+\.)?{re.escape(owner)}\("
    assigned = rf"(?<![\w.]){name}\s*(?::[^=\n]+)?=\s*(?:await\s+)?{cls}"
    entered = rf"{cls}[^\n]*\)\s+as\s+{name}\b"
    return re.search(assigned, module_code) is not None or re.search(entered, module_code) is not None
