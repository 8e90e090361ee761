"""Which Python files a scan parses: a byte prefilter, then following what reaches them.

A file that never mentions flakiness can still receive a marker, but only through an import
(an alias, a helper, a base class) or a conftest fixture it names: such files are parsed
round after round, as a parsed module turns out to export a flaky marker, or to inherit
from a module not parsed yet. With a ``FileSearch`` (git grep), only the files it names
are ever read.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from flaketui.discover.bindings import (
    Import,
    ImportFrom,
    ModuleInfo,
    PathIndex,
    build_module,
)
from flaketui.discover.classes import Hierarchy
from flaketui.discover.files import FLAKY_WORDS
from flaketui.discover.fixtures import FixtureDef, module_fixtures
from flaketui.discover.marks import MarkReader
from flaketui.discover.marks import is_flaky as _is_flaky
from flaketui.discover.params import Unknowable
from flaketui.discover.parse import Unparsable, decode, parse
from flaketui.discover.search import FileSearch
from flaketui.discover.suspects import FLAKY_REASON, RETRY_NAME
from flaketui.discover.symbols import (
    ClassRef,
    Evaluator,
    External,
    FlakyDecorator,
    FunctionRef,
    Mark,
    Param,
    Unbound,
    dotted_name,
    flatten_marks,
)
from flaketui.discover.symbols import Sequence as Listed

ProgressCallback = Callable[[int, int], None]

_FROM_IMPORT = re.compile(rb"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n]*)", re.MULTILINE)
_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_WORD = re.compile(rb"\w+")
# The collector's own patterns, over bytes: what it calls a retry decorator or a flaky reason.
# A retry decorator is written on its decorator line, or under another name: a module-level
# alias (``again = tenacity.retry(...)``) or an import renaming it (``retry as again``).
_RETRY_WORD = re.compile(RETRY_NAME.pattern.encode(), re.IGNORECASE)
_ALIAS = re.compile(rb"\w+[ \t]*=[^=]")
_RENAMED = re.compile(rb"\w*\s+as\s+\w")
_FLAKY_REASON = re.compile(FLAKY_REASON.pattern.encode(), re.IGNORECASE)
_MAX_ROUNDS = 8


class Reader:
    """Reads and parses the repository's Python files into one ``Evaluator``."""

    def __init__(self, root: str, search: FileSearch | None) -> None:
        self._root = root
        self.search = search
        self.evaluator = Evaluator()
        #: Python files the search vouched hold nothing to read: ASCII text, no flaky word.
        self.unread: set[str] = set()
        self.follow = _Follow()
        #: The answer of a search started for importers (``FileSearch.naming``), once asked.
        self.naming: Callable[[], Collection[str] | None] | None = None
        #: Files that could not be parsed, and why.
        self.skipped: dict[str, str] = {}
        #: Files read once and why an unparsed one could not be (binary, not UTF-8).
        self.seen: set[str] = set()
        self.unreadable: dict[str, str] = {}
        self._module_words: dict[str, frozenset[str]] = {}

    def read(self, path: str) -> bytes | None:
        try:
            with open(os.path.join(self._root, path), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def parse_relevant(self, python_files: list[str], on_progress: ProgressCallback | None) -> None:
        # A file that never mentions flakiness can still receive a marker, but only through an
        # import: remember what each one imports, and parse it once an import brings a name
        # (or a module) that an already parsed module exports with a flaky marker attached.
        total = len(python_files)
        listed = self.search.to_read() if self.search is not None else None
        if listed is not None:
            to_read = [path for path in python_files if path in listed or is_conftest(path)]
            self.unread = set(python_files).difference(to_read)
        else:
            to_read = python_files
        for done, path in enumerate(to_read):
            if on_progress is not None and done % 500 == 0:
                on_progress(done * total // len(to_read), total)
            self._read_one(path)
        self._reach_flaky_fixture_users(python_files)
        self._follow_imports()
        self._reach_base_classes(python_files)
        if on_progress is not None:
            on_progress(total, total)

    def _reach_base_classes(self, python_files: list[str]) -> None:
        """Parse the modules that define the bases of parsed classes, round after round: a
        marked test class inherits its test methods from a base that often lives in a shared
        module which never says "flaky" (``class TestStore(common.BaseQueue)``)."""
        index = PathIndex(python_files)
        reached = True
        while reached:
            reached = False
            for module in list(self.evaluator.modules.values()):
                for dotted in _missing_bases(self.evaluator, module):
                    path = index.find(dotted, module.path)
                    if path is None or path in self.evaluator.modules or path in self.skipped:
                        continue
                    data = self.read(path)
                    if data is not None:
                        self._parse_reached_file(path, data)
                        reached = True

    def _parse_reached_file(self, path: str, data: bytes) -> None:
        """Parse a file something parsed reaches, whether or not the prefilter read it."""
        self.unread.discard(path)
        self.seen.add(path)
        self.follow.pending.pop(path, None)
        self._parse(path, data)

    def _reach_flaky_fixture_users(self, python_files: list[str]) -> None:
        """Parse the test modules that use a conftest fixture whose params carry a flaky mark
        (``params=[pytest.param(x, marks=pytest.mark.flaky)]``): they never import it, and
        need not say "flaky" anywhere; they name the fixture, or its users, as an argument."""
        words = self._flaky_fixture_words()
        if not words:
            return
        named_anywhere = {w for found in words.values() for w in found if w != "*"}
        named: Collection[str] | None = None
        if self.search is not None and self.unread and named_anywhere and all(w.isascii() for w in named_anywhere):
            named = self.search.naming(named_anywhere)()
        for path in python_files:
            if path in self.evaluator.modules or path in self.skipped:
                continue
            wanted = {w for directory, found in words.items() if _within(path, directory) for w in found}
            if not wanted or ("*" not in wanted and named is not None and path in self.unread and path not in named):
                continue
            data = self.read(path)
            if data is None:
                continue
            text = data.decode("utf-8", "replace")
            if "*" in wanted or re.search(r"\b(?:" + "|".join(map(re.escape, sorted(wanted))) + r")\b", text):
                self._parse_reached_file(path, data)

    def _flaky_fixture_words(self) -> dict[str, set[str]]:
        """Per conftest directory, the fixtures whose params carry a flaky mark and those that
        depend on them (``"*"`` when one is autouse: every test below may get it)."""
        conftests = {path: module for path, module in self.evaluator.modules.items() if is_conftest(path)}
        if not any("flak" in module.source.text for module in conftests.values()):
            return {}
        definitions: dict[str, list[FixtureDef]] = {}
        for path, module in conftests.items():
            try:
                definitions[path] = module_fixtures(module, self.evaluator)
            except Unknowable:
                continue  # a fixture named at run time: nothing to follow
        flaky = {
            d.name for found in definitions.values() for d in found if d.params is not None and "flak" in d.module.source.segment(d.params)
        }
        if not flaky:
            return {}
        grew = True
        while grew:  # fixtures that use them pass the params on to their tests
            grew = False
            for found in definitions.values():
                for definition in found:
                    if definition.name not in flaky and not flaky.isdisjoint(definition.argnames):
                        flaky.add(definition.name)
                        grew = True
        words: dict[str, set[str]] = {}
        for path, found in definitions.items():
            mine = {d.name for d in found if d.name in flaky}
            if mine:
                if any(d.autouse for d in found if d.name in mine):
                    mine.add("*")
                words[path.rpartition("/")[0]] = mine | flaky
        return words

    def _follow_imports(self) -> None:
        """Parse, round after round, the read files that import a name a parsed module exports
        with a flaky marker attached. Once no read file is reached, start the search for the
        unread files naming any such name (git reads them all in one pass, while Python
        collects); ``resume_imports`` takes its answer."""
        follow = self.follow
        for _ in range(_MAX_ROUNDS):
            if not follow.pending and not self.unread:
                return  # no file left that an import could bring in
            follow.fresh = self._exported_names(follow.known, follow.fresh, follow.checked) - follow.known
            if not follow.fresh:
                break
            follow.known |= follow.fresh
            follow.wanted |= follow.fresh | self._exporting_module_names(follow.fresh)
            self._parse_reached(list(follow.pending))
        asked = follow.wanted - follow.searched
        if self.unread and asked and self.search is not None:
            follow.searched |= asked
            self.naming = self.search.naming(asked) if all(w.isascii() for w in asked) else (lambda: None)

    def resume_imports(self, python_files: list[str]) -> bool:
        """Read the unread files the search named, parse those that import a wanted name and
        follow them in turn; False when nothing new was parsed."""
        if self.naming is None:
            return False
        named, self.naming = self.naming(), None
        read = [path for path in python_files if path in self.unread and (named is None or path in named)]
        for path in read:
            self.unread.discard(path)
            self._read_one(path)
        if not self._parse_reached(read):
            return False
        self._follow_imports()
        return True

    def _parse_reached(self, candidates: list[str]) -> bool:
        pending, wanted = self.follow.pending, self.follow.wanted
        reached = [path for path in candidates if path in pending and not pending[path].isdisjoint(wanted)]
        for path in reached:
            del pending[path]
            data = self.read(path)
            if data is not None:
                self._parse(path, data)
        return bool(reached)

    def _read_one(self, path: str) -> None:
        data = self.read(path)
        if data is None:
            return
        self.seen.add(path)
        if _worth_parsing(data) or is_conftest(path):
            self._parse(path, data)
            return
        try:
            decode(data)
        except Unparsable as reason:  # reported if the file turns out to be a test file
            self.unreadable[path] = str(reason)
        imported = _imported_words(data)
        if imported:
            self.follow.pending[path] = imported

    def _exporting_module_names(self, names: set[str]) -> set[str]:
        """Last components of the modules that bind ``names`` (``helpers`` for ``helpers.RETRY``)."""
        found: set[str] = set()
        for module in self.evaluator.modules.values():
            if not names.isdisjoint(module.scope.bindings):
                found.add(module.dotted.rpartition(".")[2])
        return found

    def _parse(self, path: str, data: bytes) -> None:
        try:
            source = parse(data, path)
        except Unparsable as reason:
            self.skipped[path] = str(reason)
            return
        except RecursionError:
            self.skipped[path] = "nesting too deep to parse"
            return
        self.evaluator.add(build_module(path, source))

    def unreadable_reason(self, path: str) -> str | None:
        """Why an unparsed test file could not be read (binary, not UTF-8), if it could not."""
        if path in self.unreadable:
            return self.unreadable[path]
        if path not in self.seen and path not in self.unread and os.path.lexists(os.path.join(self._root, path)):
            return "unreadable"  # (a file gone since the listing is simply not there)
        return None

    def _exported_names(self, known: set[str], fresh: set[str], checked: set[str]) -> set[str]:
        """Module-level names that carry a flaky marker into whatever imports them.

        Only bindings whose own text mentions flakiness or an exported name can carry one, so
        the rest are never evaluated (most of a test suite). Modules seen in an earlier round
        are only rechecked for the names exported since (``fresh``).
        """
        names: set[str] = set()
        for path, module in list(self.evaluator.modules.items()):
            words, flak = (fresh, False) if path in checked else (known, True)
            checked.add(path)
            if words:
                # Only the words this module says at all can be named by one of its bindings.
                words = words & self._words_of(path, module)
            if not words and not flak:
                continue  # no binding here can name a fresh export: the module says none of them
            lines = module.source.lines
            for name, bindings in module.scope.bindings.items():
                branches = [b for _, found in module.scope.conditional.get(name, ()) for b in found]
                if name.startswith("__") or not any(_mentions(b, name, lines, words, flak) for b in (*bindings, *branches)):
                    continue
                try:
                    carries = self._carries_flaky(self.evaluator.lookup(module, module.scope, name))
                except (RecursionError, ValueError, AttributeError, TypeError, KeyError, IndexError):
                    carries = False  # the module itself is still collected (and reported if it fails)
                if carries:
                    names.add(name)
        return names

    def _words_of(self, path: str, module: ModuleInfo) -> frozenset[str]:
        words = self._module_words.get(path)
        if words is None:
            words = self._module_words[path] = frozenset(_IDENTIFIER.findall(module.source.text))
        return words

    def _carries_flaky(self, value: object, depth: int = 0) -> bool:
        if isinstance(value, Listed) and any(isinstance(item, Param) for item in value.items):
            # A list of cases for parametrize: `pytest.param(..., marks=pytest.mark.flaky)` inside.
            return any(
                _is_flaky(m) for item in value.items if isinstance(item, Param) for mark in item.marks for m in flatten_marks(mark)
            )
        if isinstance(value, (Mark, FlakyDecorator, Listed)):
            return any(_is_flaky(m) for m in flatten_marks(value))
        if isinstance(value, FunctionRef):
            helper = MarkReader(self.evaluator, set()).applied_marks(value)
            if any(_is_flaky(m) for m in helper):
                return True
            return any(self.flaky_expression(value.module, d) for d in value.node.decorator_list) or any(
                isinstance(n, ast.Return) and n.value is not None and self.flaky_expression(value.module, n.value)
                for n in value.node.body
            )
        if isinstance(value, ClassRef):
            return self._class_mentions_flaky(value)
        return False

    def flaky_expression(self, module: ModuleInfo, node: ast.expr) -> bool:
        value = self.evaluator.evaluate(module, module.scope, node)
        return any(_is_flaky(m) for m in flatten_marks(value)) or (
            isinstance(node, (ast.Name, ast.Call)) and dotted_name(node.func if isinstance(node, ast.Call) else node) == "flaky"
        )

    def _class_mentions_flaky(self, cls: ClassRef) -> bool:
        """A class whose own or inherited marks or methods carry a flaky marker; base classes
        often live in modules whose text never says "flaky" (they inherit it)."""
        for current in Hierarchy(self.evaluator).mro(cls):
            for statement in current.node.body:
                if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets):
                    if self.flaky_expression(current.module, statement.value):
                        return True
            for decorator in current.node.decorator_list:
                if self.flaky_expression(current.module, decorator):
                    return True
            for statement in current.node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    self.flaky_expression(current.module, d) for d in statement.decorator_list
                ):
                    return True
        return False


@dataclass
class _Follow:
    """Where following imports stands: what each read, unparsed file imports, the names
    known to carry a flaky marker, those found last round, and what was searched for."""

    pending: dict[str, frozenset[str]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    fresh: set[str] = field(default_factory=set)
    checked: set[str] = field(default_factory=set)
    wanted: set[str] = field(default_factory=set)
    searched: set[str] = field(default_factory=set)


def _worth_parsing(data: bytes) -> bool:
    """Whether a file may hold what a scan reports: a flaky marker or an alias of one, a
    non-strict xfail for a flaky reason, or a home-made retry decorator.

    Parsing is most of a scan's time, and in a real test suite most files that say "retr"
    say "retries=3" or "retrieve", or import ``retry_operation`` to call it: a retry
    decorator's name is written on a decorator line, unless an alias or an import renames it.
    """
    # Plain substring tests run at memchr speed; a regex alternation is several times slower.
    if b"flak" in data or b"rerun" in data:
        return True
    if b"xfail" in data and _FLAKY_REASON.search(data):
        return True
    if not any(word in data for word in FLAKY_WORDS):
        return False
    for found in _RETRY_WORD.finditer(data):
        start = data.rfind(b"\n", 0, found.start()) + 1
        line = data[start : found.start()]
        if line.lstrip().startswith(b"@") or _ALIAS.match(line) or _RENAMED.match(data, found.end()):
            return True
    return False


def _imported_words(data: bytes) -> frozenset[str]:
    """The names and module names (last components) a file imports: the only ways a flaky
    marker defined elsewhere can reach it. Over-approximate on purpose (``as`` names too)."""
    if b"import" not in data:
        return frozenset()
    words: set[bytes] = set()
    for module, names in _FROM_IMPORT.findall(data):
        words.add(module.rpartition(b".")[2])
        words.update(_WORD.findall(names))
    for modules in _IMPORT.findall(data):
        words.update(m.rpartition(b".")[2] for m in _WORD.findall(modules))
    return frozenset(w.decode("ascii", "replace") for w in words)


_IDENTIFIER = re.compile(r"\w+")


def _mentions(binding: object, name: str, lines: list[str], words: set[str], flak: bool) -> bool:
    """Whether a binding's own text says "flak" (when ``flak``) or names one of ``words``."""
    if isinstance(binding, (Import, ImportFrom)):
        imported = {name, getattr(binding, "name", "")}
        return (flak and any("flak" in n for n in imported)) or not words.isdisjoint(imported)
    if not isinstance(binding, ast.AST):
        return False
    start = binding.lineno  # type: ignore[attr-defined]  # every node a scope binds is a statement or an expression
    for decorator in getattr(binding, "decorator_list", ()):
        start = min(start, decorator.lineno)
    end = getattr(binding, "end_lineno", None) or start
    text = "\n".join(lines[start - 1 : end])
    # ``words`` are the few the module says: a substring test per word beats tokenising the
    # text, and over-approximates only (a longer identifier containing a word).
    return (flak and "flak" in text) or any(word in text for word in words)


def _missing_bases(evaluator: Evaluator, module: ModuleInfo) -> Iterable[str]:
    """Dotted names of the module's class bases that lead out of the parsed modules: an
    import of a module not parsed, or a star import whose module is not parsed."""
    for node in _class_definitions(module.tree.body):
        for base in node.bases:
            value = evaluator.evaluate(module, module.scope, base)
            if isinstance(value, External) and not value.called:
                yield value.dotted
            elif isinstance(value, Unbound) and not value.called:
                yield from (d for d in module.scope.star_imports if evaluator.find_module(d, module) is None)


def _class_definitions(statements: Iterable[ast.stmt]) -> Iterable[ast.ClassDef]:
    """Classes at module level (also under ``if``/``try``/``with``) and nested in them."""
    for statement in statements:
        if isinstance(statement, ast.ClassDef):
            yield statement
            yield from _class_definitions(statement.body)
        elif isinstance(statement, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.TryStar)):
            for block in ("body", "orelse", "finalbody"):
                yield from _class_definitions(getattr(statement, block, []))
            for handler in getattr(statement, "handlers", []):
                yield from _class_definitions(handler.body)


def _within(path: str, directory: str) -> bool:
    return not directory or path.startswith(directory + "/")


def is_conftest(path: str) -> bool:
    return path == "conftest.py" or path.endswith("/conftest.py")
