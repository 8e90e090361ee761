"""Calls from a test into the project's own code, followed a few calls deep.

A test often reads fine and the cause sits one call away: ``queue.join()`` that returns before
the workers finish (its docstring says so), a counter bumped without a lock by worker threads,
an API client that opens a connection with no URL in sight. Calls are resolved through the
imports to files of the repository (never an installed package: only paths under the
repository root, outside virtual environments, are read), then through classes, ``self``
attributes and methods that return ``self``. Only rules that still mean something inside
library code run there (see ``CALLEE_RULES``).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flaketui.diagnose.engine import Diagnoser
    from flaketui.diagnose.facts import FunctionFacts
    from flaketui.diagnose.module import ModuleFacts

MAX_DEPTH = 3
MAX_CALLEES = 40
#: How much a callee's evidence counts, by how many calls away from the test it is.
DEPTH_FACTORS = {1: 0.8, 2: 0.65, 3: 0.5}
#: Rules that mean the same inside library code as in a test. Others (a sleep in a retry
#: loop, randomness for jitter) are what libraries do on purpose.
CALLEE_RULES = frozenset({
    "external.http", "external.socket", "external.cloud", "external.broker", "external.database", "external.llm-api",
    "external.download", "external.remote-shell-mail", "external.container", "external.subprocess",
    "external.api-client", "race.queue-size", "race.liveness-check", "race.join-timeout", "data.set-order",
    "data.set-loop", "time.wall-clock",
})
#: Code under test that reads the clock does so for every test that uses it: on its own that
#: says little about one test. (Threads it starts are no evidence by themselves, only what
#: they share without a lock: see callees.py.)
DAMPING = {"time.wall-clock": 0.6}
NETWORK_RULES = frozenset(r for r in CALLEE_RULES if r.startswith("external.") and r != "external.subprocess")
SKIPPED_DIRS = frozenset({".venv", "venv", "env", ".env", "site-packages", "dist-packages", "node_modules", ".tox",
                           ".nox", "build", "dist", ".git", "__pypackages__"})
_PART = re.compile(r"[^.()\[\]]+(?:\(\)|\[\])*")


@dataclass(frozen=True)
class Callee:
    facts: FunctionFacts
    module: ModuleFacts
    depth: int
    #: Where, in the test's own scope, the chain of calls starts (the line a fix there changes).
    call_site: tuple[str, int]
    #: The call that reached this function.
    caller: tuple[str, int]
    #: An argument of the first call is a URL served on this machine (``receiver.url``).
    local: bool


class Project:
    """The repository's own modules, by dotted name, found under a few source roots."""

    def __init__(self, diagnoser: Diagnoser, rootdir: str) -> None:
        # A proxy, not a reference: the diagnoser holds its projects, and a cycle would keep
        # every module it parsed alive until a full collection (the app builds one per file).
        self.diagnoser: Diagnoser = weakref.proxy(diagnoser)
        base = "" if rootdir in {"", "."} else rootdir
        roots = ["", "src", "lib", base, f"{base}/src" if base else ""]
        self.roots = list(dict.fromkeys(r.strip("/") for r in roots))
        self._paths: dict[str, str | None] = {}
        self._resolved: dict[tuple[str, str, str | None], tuple[ModuleFacts, str | None, str] | None] = {}

    def module_path(self, dotted: str) -> str | None:
        if dotted not in self._paths:
            self._paths[dotted] = self._find(dotted)
        return self._paths[dotted]

    def _find(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        if not all(p.isidentifier() for p in parts) or SKIPPED_DIRS & set(parts):
            return None
        for root in self.roots:
            prefix = f"{root}/" if root else ""
            for candidate in (f"{prefix}{'/'.join(parts)}.py", f"{prefix}{'/'.join(parts)}/__init__.py"):
                if self.diagnoser.exists(candidate):
                    return candidate
        return None

    def dotted_of(self, path: str) -> str:
        for root in sorted(self.roots, key=len, reverse=True):
            if not root or path.startswith(root + "/"):
                rel = PurePosixPath(path[len(root) + 1:] if root else path).with_suffix("")
                parts = list(rel.parts)
                return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        return ""

    # -- resolution -------------------------------------------------------------------
    def resolve(self, qualified: str, module: ModuleFacts, class_name: str | None) -> tuple[ModuleFacts, str | None, str] | None:
        """The project function a call of ``qualified`` (read in ``module``) runs, if any:
        (module, class or None, function name). A class called is its ``__init__``."""
        key = (qualified, module.path, class_name)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(qualified, module, class_name)
        return self._resolved[key]

    def _resolve(self, qualified: str, module: ModuleFacts, class_name: str | None) -> tuple[ModuleFacts, str | None, str] | None:
        found = self._walk(qualified, module, class_name, 0)
        if found is None:
            return None
        kind, where, klass, name = found
        if kind == "function":
            return where, klass, name
        if kind == "class" and klass is not None and "__init__" in where.classes[klass].method_nodes:
            return where, klass, "__init__"
        return None

    def _walk(self, qualified: str, module: ModuleFacts, class_name: str | None, depth: int) -> tuple[Any, ...] | None:
        if depth > 6:
            return None
        parts = _PART.findall(qualified)
        if not parts:
            return None
        current: tuple[Any, ...] | None
        level = len(qualified) - len(qualified.lstrip("."))
        if level:
            package = self.dotted_of(module.path).split(".")
            if not module.path.endswith("__init__.py"):
                package = package[:-1]
            package = package[:len(package) - (level - 1)] if level > 1 else package
            current, parts = self._absolute(package + [p.rstrip("()[]") for p in parts[:1]], parts[1:], module)
        else:
            head = parts[0].rstrip("()[]")
            if head == "self" and class_name:
                current, parts = ("instance", module, class_name, None), parts[1:]
            elif head in module.function_nodes or _klass(module, head) is not None:
                current = self._member(("module", module, None, None), parts[0], depth)
                parts = parts[1:]
            else:
                current, parts = self._absolute([], parts, module)
        for index, part in enumerate(parts):
            if current is None:
                return None
            current = self._member(current, part, depth)
        return current

    def _absolute(self, prefix: list[str], parts: list[str], module: ModuleFacts) -> tuple[tuple[Any, ...] | None, list[str]]:
        plain = list(prefix)
        for part in parts:
            if part != part.rstrip("()[]"):
                break
            plain.append(part)
        for length in range(len(plain), max(len(prefix), 1) - 1, -1):
            path = self.module_path(".".join(plain[:length]))
            facts = self.diagnoser.module(path) if path else None
            if facts is not None and facts.error is None:
                used = length - len(prefix)
                return ("module", facts, None, None), parts[used:]
        return None, []

    def _member(self, current: tuple[Any, ...], part: str, depth: int) -> tuple[Any, ...] | None:
        name, calls = part.rstrip("()[]"), part.endswith("()")
        kind, module, klass, _ = current
        found: tuple[Any, ...] | None = None
        if kind == "module":
            if name in module.function_nodes:
                found = ("function", module, None, name)
            elif _klass(module, name) is not None:
                found = ("class", module, _klass(module, name), None)
            elif name in module.imports:
                found = self._walk(module.imports[name], module, None, depth + 1)
            else:
                path = self.module_path(f"{self.dotted_of(module.path)}.{name}")
                facts = self.diagnoser.module(path) if path else None
                found = ("module", facts, None, None) if facts is not None and facts.error is None else None
        elif kind in {"class", "instance"}:
            owner = _method_owner(module, klass, name)
            if owner is not None:
                found = ("function", module, owner, name)
            elif kind == "instance":
                held = module.self_attributes(klass).get(name)
                found = self._walk(held, module, None, depth + 1) if held else None
        if found is None or not calls:
            return found
        kind, module, klass, name = found
        if kind == "class":
            return ("instance", module, klass, None)
        if kind == "function" and klass is not None:
            method = module.classes[klass].method(name)
            if method is not None and method.returns_self:
                return ("instance", module, klass, None)
        return None

    def function(self, module: ModuleFacts, klass: str | None, name: str) -> FunctionFacts | None:
        return module.function(name) if klass is None else module.classes[klass].method(name)


def _klass(module: ModuleFacts, name: str) -> str | None:
    return name if name in module.classes else None


def _method_owner(module: ModuleFacts, klass: str | None, name: str) -> str | None:
    """The class (itself or a base in the same module) that defines method ``name``."""
    pending, seen = [klass], set()
    while pending:
        current = pending.pop(0)
        if current is None or current in seen or current not in module.classes:
            continue
        seen.add(current)
        facts = module.classes[current]
        if name in facts.method_nodes:
            return current
        pending += [b.split(".")[-1] for b in facts.bases]
    return None


def follow(project: Project, starts: list[tuple[FunctionFacts, ModuleFacts, dict[str, str]]]) -> list[Callee]:
    """The project functions the given functions call, breadth first, to ``MAX_DEPTH`` calls.
    ``starts`` are the test's own pieces with what their parameters hold (a fixture's value)."""
    seen: set[int] = {id(facts) for facts, _, _ in starts}
    found: list[Callee] = []
    pending: list[tuple[FunctionFacts, ModuleFacts, dict[str, str], Callee | None]] = [
        (facts, module, params, None) for facts, module, params in starts]
    while pending and len(found) < MAX_CALLEES:
        facts, module, params, via = pending.pop(0)
        depth = via.depth if via is not None else 0
        if depth >= MAX_DEPTH:
            continue
        for qualified, line, local in facts.calls:
            head, dot, rest = qualified.partition(".")
            if head in params and head not in {"self", "cls"}:
                qualified = params[head] + dot + rest
            target = project.resolve(qualified, module, facts.class_name if via is not None else None)
            if target is None:
                continue
            callee = project.function(*target)
            if callee is None or id(callee) in seen or callee.fixture is not None:
                continue
            seen.add(id(callee))
            call_site = via.call_site if via is not None else (facts.path, line)
            item = Callee(callee, target[0], depth + 1, call_site, (facts.path, line),
                          via.local if via is not None else local)
            found.append(item)
            pending.append((callee, target[0], {}, item))
    return found
