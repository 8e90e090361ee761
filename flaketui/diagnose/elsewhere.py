"""State a test reads that a test of *another* module changes and never puts back.

The same-module case is ``scope._neighbour_rules``; across modules the polluter is anywhere in
the rootdir, so the claim is narrower: the test (its fixtures, helpers, or the project code it
calls) reads a module-level variable of the project (``units.SYSTEM``, a registry dict, a
settings object's attribute) or an environment variable by name, and a test of another module
assigns or fills that very one without restoring it (monkeypatch and ``mock.patch`` never
assign; a ``finally``, a fixture's teardown, ``addfinalizer``/``addCleanup``, a
``tearDown`` that touches it, or a removal of what it added all count as putting it back).

Every test module of the rootdir is not parsed per test: a ``WritesIndex``, built once per
rootdir from the files' bytes, maps each name written on a line (``x.y = ``, ``x[k] = ``,
``x.append(``) to the files that write it; only those files are parsed, only for the names
the test reads.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui.diagnose.facts import Hit
from flaketui.diagnose.project import SKIPPED_DIRS
from flaketui.diagnose.scope import RULES_BY_ID, changing, unrestored_writes
from flaketui.diagnose.vocabulary import ENV_READ, MUTATORS, QUOTED_NAME, SETTERS

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionFacts
    from flaketui.diagnose.module import ModuleFacts
    from flaketui.diagnose.project import Callee, Project
    from flaketui.diagnose.scope import Scope

_HEAD = rb"(?!self\b|cls\b)[A-Za-z_]\w*"
_PART = rb"(?:[ \t]*(?:\.[ \t]*[A-Za-z_]\w*|\[[^\]\n]*\]))"
_CALLS = b"|".join(sorted(n.encode() for n in MUTATORS | SETTERS))
#: A line that changes something reached through a name: ``a.b = v``, ``a[k] += v``, ``a.append(v)``, ``del a[k]``.
_WRITE = re.compile(
    rb"^[ \t]*(?:del[ \t]+(?P<gone>" + _HEAD + _PART + rb"+)"
    rb"|(?P<chain>" + _HEAD + _PART + rb"+)[ \t]*(?:[-+*/%|&^@]|//|<<|>>|\*\*)?=(?!=)"
    rb"|(?P<call>" + _HEAD + _PART + rb"*)\.(?:" + _CALLS + rb")[ \t]*\()", re.MULTILINE)
_WORD = re.compile(rb"[A-Za-z_]\w*")
_BRACKETS = re.compile(rb"\[[^\]\n]*\]")
#: Nested projects (pytest settles in another rootdir there).
_NESTED = ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "pyproject.toml")
_ENV_RULES = frozenset({"fixture.environ-write", "fixture.environ-assign"})
_TEARDOWNS = ("teardown_method", "tearDown", "asyncTearDown", "teardown", "teardown_class", "tearDownClass")
_MODULE_TEARDOWNS = ("teardown_module", "tearDownModule", "teardown_function")
_ENVIRON = "os.environ"
_SETTER = re.compile(r"\.(?:" + "|".join(sorted(SETTERS)) + r")\s*\(")


def test_files(root: Path, rootdir: str) -> Iterator[str]:
    """The test modules (pytest's default ``test_*.py``, ``*_test.py``) of a rootdir, repo-relative."""
    base = root if rootdir in ("", ".") else root / rootdir
    for directory, dirs, files in os.walk(base):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")) and d not in SKIPPED_DIRS
                         and not any((here / d / n).is_file() for n in _NESTED))  # fmt: skip
        for name in sorted(files):
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                yield (here / name).relative_to(root).as_posix()


class WritesIndex:
    """Which test modules of one rootdir write which names (read once, from their bytes)."""

    def __init__(self, root: Path, rootdir: str) -> None:
        self.words: dict[str, set[str]] = {}
        for path in test_files(root, rootdir):
            try:
                source = (root / path).read_bytes()
            except OSError:
                continue
            for match in _WRITE.finditer(source):
                chain = _BRACKETS.sub(b"", match.group("gone") or match.group("chain") or match.group("call"))
                for word in _WORD.findall(chain):
                    self.words.setdefault(word.decode(), set()).add(path)
            if b"putenv" in source or b"unsetenv" in source:
                self.words.setdefault("environ", set()).add(path)

    def files(self, words: set[str]) -> list[str]:
        return sorted({path for word in words for path in self.words.get(word, ())})

    def digest(self, words: set[str]) -> str:
        """Changes when another file starts (or stops) writing one of ``words``: the cache's key."""
        return hashlib.sha256("\0".join(self.files(words)).encode()).hexdigest()[:20]


#: A diagnosis cache entry depends on which files write these names: ``<writers>rootdir:word,word``.
DEP_PREFIX = "<writers>"


def dependency(rootdir: str, words: set[str]) -> str:
    return f"{DEP_PREFIX}{rootdir}:{','.join(sorted(words))}"


def parse_dependency(rel: str) -> tuple[str, set[str]]:
    rootdir, _, words = rel[len(DEP_PREFIX):].rpartition(":")
    return rootdir, set(words.split(","))


@dataclass(frozen=True)
class Read:
    """Module-level state the test reaches: ``units.SYSTEM``, ``os.environ.HOME``. ``binding``:
    read through its module each time (a rebinding shows), not a name imported once."""

    key: str
    binding: bool
    #: Where the test reads it (its call of the code that does).
    line: int
    #: The part of ``key`` bound at import (``from units import SYSTEM``: ``units.SYSTEM``):
    #: rebinding it in its module changes nothing this read sees.
    bound: str = ""


@dataclass(frozen=True)
class Write:
    """What a test of another module leaves changed: the key (as a ``Read`` names it), whether
    in place, and the test's label, file and line (where the remedy restores it)."""

    key: str
    mutated: bool
    label: str
    path: str
    line: int


class Sources:
    """The lines of the files read, and the project's modules by dotted name."""

    def __init__(self, read: Callable[[str], bytes | None], module: Callable[[str], ModuleFacts | None],
                 project: Project) -> None:  # fmt: skip
        self._read, self.module, self.project = read, module, project
        self._lines: dict[str, list[str]] = {}

    def lines(self, path: str, start: int, end: int) -> str:
        if path not in self._lines:
            self._lines[path] = (self._read(path) or b"").decode("utf-8", "replace").splitlines()
        return "\n".join(self._lines[path][max(start - 1, 0):end])

    def text(self, facts: FunctionFacts) -> str:
        return self.lines(facts.path, facts.line, facts.end_line)

    def variable(self, qualified: str, depth: int = 0) -> str | None:
        """``units.SYSTEM`` when the project's module ``units`` assigns ``SYSTEM`` at its top level
        (a name it imports from another module: that module's, ``app.config.settings``)."""
        owner, _, name = qualified.rpartition(".")
        path = self.project.module_path(owner) if owner else None
        if path is None or depth > 4 or not _may_bind(self._read(path) or b"", name):
            return None  # parsing a module to learn that ``name`` is a function costs more than the rest
        facts = self.module(path)
        if facts is None or facts.error is not None:
            return None
        if name in facts.imports:
            source = facts.imports[name]
            return None if source.startswith(".") else self.variable(source, depth + 1)
        return qualified if name in facts.top_names else None

    def is_module(self, qualified: str) -> bool:
        return self.project.module_path(qualified) is not None


def _may_bind(source: bytes, name: str) -> bool:
    """``name = ...`` (at any indentation), or ``name`` on an import's line."""
    word = re.escape(name.encode())
    return re.search(rb"^[ \t]*" + word + rb"[ \t]*(?::[^=\n]*)?=(?!=)|^(?:from|import)\b[^\n]*\b" + word + rb"\b"
                     rb"|^[ \t]+" + word + rb"[ \t]*(?:,|$| as )", source, re.MULTILINE) is not None


def reads_of(facts: FunctionFacts, module: ModuleFacts, dotted: str, sources: Sources) -> Iterator[Read]:
    """The module-level state one function reads (``dotted``: its module's name when it is the
    project's code, whose own globals count; "" for a test module)."""
    text = sources.text(facts)
    for name, (line, _) in facts.reads.items():
        if name in facts.locals or name in facts.params:
            continue
        if dotted and name in module.top_names and name not in module.imports:
            yield Read(f"{dotted}.{name}", True, line)
            continue
        qualified = module.imports.get(name, ".")
        if qualified.startswith("."):
            continue
        chains = sorted(set(re.findall(rf"\b{re.escape(name)}((?:\.[A-Za-z_]\w*)+)", text)))
        if name not in module.module_aliases and not sources.is_module(qualified):
            # ``from units import SYSTEM``: the value bound at import (only a change in place
            # shows), and the attributes read of it (``settings.debug``), live.
            variable = sources.variable(qualified)
            if variable is not None and re.search(rf"\b{re.escape(name)}\b(?![ \t]*\.)", text):
                yield Read(variable, False, line)
            for chain in chains if variable is not None else ():
                yield Read(variable + chain, True, line, bound=variable or "")
            continue
        for chain in chains:
            parts = chain.split(".")[1:]
            # ``config.settings.debug``: the variable is the longest prefix a module assigns.
            for end in range(len(parts), 0, -1):
                variable = sources.variable(".".join([qualified, *parts[:end]]))
                if variable is not None:
                    yield Read(".".join([variable, *parts[end:]]), True, line)
                    break
    for variable in dict.fromkeys(ENV_READ.findall(text)):
        yield Read(f"{_ENVIRON}.{variable}", True, facts.line)


def _touches(read: Read, write: Write) -> bool:
    """The write changes what the read sees: the same variable (rebound, for a read through its
    module; or changed in place), or one the read reaches an attribute of. An object read whole
    (``state`` handed on) is not claimed for a write of one of its attributes: which ones the
    code reads is not known."""
    if write.key == read.key:
        return read.binding or write.mutated
    if not write.mutated and (read.bound + ".").startswith(write.key + "."):
        return False
    return read.binding and read.key.startswith(write.key + ".")


def writes_in(module: ModuleFacts, word: str, sources: Sources, conftests: list[ModuleFacts]) -> Iterator[Write]:
    """What the tests of ``module`` change, naming ``word``, and leave changed."""
    for function in module.functions_mentioning(word, changing(word)):
        if function.fixture is not None or not function.name.startswith("test"):
            continue
        # A configuration API's setter (``CONF.set("main", "opengl", v)``) names its key in
        # arguments this reading cannot compare with what the test reads: not claimed.
        found = [Write(_qualify(module, text), mutated, function.label, module.path, line)
                 for text, line, mutated in unrestored_writes(function)
                 if not _qualify(module, text).startswith(".") and not _SETTER.search(sources.lines(module.path, line, line))]
        found += [Write(key, True, function.label, module.path, line) for key, line in _environment_writes(function, sources)]
        for write in found:
            # ``saved = os.environ.pop("X")`` ... ``os.environ["X"] = saved``: put back by hand.
            by_hand = sum(w.key == write.key for w in found) > 1 and _saves(write, sources.text(function))
            if not by_hand and not _undone(write, function, module, sources, conftests):
                yield write


def _saves(write: Write, text: str) -> bool:
    """The function keeps the value in a name of its own (``old = units.SYSTEM``)."""
    name = re.escape(write.key.rsplit(".", 1)[-1])
    return re.search(rf"^[ \t]*\w+[ \t]*=[^=\n][^\n]*\b{name}\b", text, re.MULTILINE) is not None


def _environment_writes(function: FunctionFacts, sources: Sources) -> Iterator[tuple[str, int]]:
    """``os.environ.UNITS`` for ``os.environ["UNITS"] = ...`` (``os.environ`` for a ``clear()``)."""
    for hit in function.hits:
        if hit.rule.id in _ENV_RULES:
            written = sources.lines(function.path, hit.line, hit.end_line)
            for variable in QUOTED_NAME.findall(written) or ([""] if ".clear(" in written else []):
                yield f"{_ENVIRON}.{variable}".rstrip("."), hit.line


def _qualify(module: ModuleFacts, text: str) -> str:
    root, dot, rest = text.partition(".")
    return module.imports.get(root, ".") + dot + rest


def _undone(write: Write, function: FunctionFacts, module: ModuleFacts, sources: Sources,
            conftests: list[ModuleFacts]) -> bool:  # fmt: skip
    """Something puts it back: a ``mock.patch`` around it, a cleanup it registers, a teardown."""
    for site in function.mitigations:
        target = site.target or ""
        if target and (write.key == target or write.key.startswith(target + ".")) and \
                (site.blanket or site.start <= write.line <= site.end):
            return True
    attribute = write.key.rsplit(".", 1)[-1]
    if re.search(rf"add(?:finalizer|Cleanup)\([^\n]*\b{re.escape(attribute)}\b", sources.text(function)):
        return True
    fixtures = [f for level in (module, *conftests) for name in (*function.params, *_autouse(level))
                if (f := level.fixture(name)) is not None]
    if any(write.key in f.restored or _spelled(write, module) in f.restored for f in fixtures):
        return True
    teardowns = [module.function(n) for n in _MODULE_TEARDOWNS]
    if function.class_name:
        klass = module.classes.get(function.class_name.replace(".", "::"))
        teardowns += [klass.method(n) for n in _TEARDOWNS] if klass is not None else []
    return any(t is not None and re.search(rf"\b{re.escape(attribute)}\b", sources.text(t)) for t in teardowns)


def _autouse(module: ModuleFacts) -> list[str]:
    return [name for name, (spec, _) in module.fixture_specs.items() if spec.autouse]


def _spelled(write: Write, module: ModuleFacts) -> str:
    """The write's key as the module spells it (``units.SYSTEM`` for ``import units``)."""
    for local, qualified in module.imports.items():
        if write.key.startswith(qualified + "."):
            return local + write.key[len(qualified):]
    return write.key


@dataclass
class Polluters:
    """What the diagnosis of one test needs from outside its module."""

    index: Callable[[str], WritesIndex]
    sources: Sources
    conftests: Callable[[str, str], list[ModuleFacts]]


def polluters_elsewhere(scope: Scope, callees: list[Callee], rootdir: str, found: Polluters) -> set[str]:
    """Adds to ``scope.scope_hits`` each read that a test of another module leaves changed;
    returns the names whose writers were looked up (the cache entry depends on them)."""
    test = scope.test
    sources = found.sources
    reads: list[tuple[Read, int]] = []
    for piece in scope.pieces:
        if piece.role != "autouse":
            reads += [(r, r.line if piece is test else test.facts.line) for r in reads_of(piece.facts, piece.module, "", sources)]
    for callee in callees:
        dotted = sources.project.dotted_of(callee.module.path)
        at = callee.call_site[1] if callee.call_site[0] == test.facts.path else test.facts.line
        reads += [(r, at) for r in reads_of(callee.facts, callee.module, dotted, sources)]
    if not reads:
        return set()
    words = {"environ"} if any(r.key.startswith(_ENVIRON + ".") for r, _ in reads) else set()
    words |= {part for read, _ in reads if not read.key.startswith(_ENVIRON + ".") for part in read.key.split(".")[1:]}
    index = found.index(rootdir)
    own = _own_writes(scope, sources)
    claimed: set[str] = set()
    for path in index.files(words):
        module = sources.module(path)
        if path == test.module.path or module is None or module.error is not None:
            continue
        conftests = found.conftests(path, rootdir)
        for word in sorted(words & {w for w, paths in index.words.items() if path in paths}):
            for write in writes_in(module, word, sources, conftests):
                for read, line in reads:
                    if read.key in claimed or read.key in own or not _touches(read, write):
                        continue
                    claimed.add(read.key)
                    hit = _hit(line, (write.path, write.line))
                    scope.scope_hits.append((test, hit, f"{read.key}, changed by {write.label} in {write.path} (line {write.line})"))
    return words


def _hit(line: int, fix: tuple[str, int]) -> Hit:
    return Hit(RULES_BY_ID["order.shared-state-read"], line, line, fix=fix)


def _own_writes(scope: Scope, sources: Sources) -> set[str]:
    """Keys the test's own scope sets before it reads them (then no order can change them)."""
    own: set[str] = set()
    for piece in scope.pieces:
        own |= {_qualify(piece.module, text) for text, _, _ in (*piece.facts.imported_assigned, *piece.facts.imported_mutated)}
        own |= {site.target for site in (*piece.facts.mitigations, *scope.blanket) if site.target}
        own |= {key for key, _ in _environment_writes(piece.facts, sources)}
        text = sources.text(piece.facts)
        for call in re.finditer(r"(?:setattr|setenv|delenv|setitem|patch\.object|patch\.dict)\(([^)\n]*)\)", text):
            own |= {f"{_ENVIRON}.{v}" for v in QUOTED_NAME.findall(call.group(1))}
            own |= {f"{_qualify(piece.module, o)}.{v}" for o in re.findall(r"^\s*([\w.]+)\s*,", call.group(1))
                    for v in QUOTED_NAME.findall(call.group(1))}
    return own
