"""The discovery engine: the repository's file list in, every flaky-marked test out.

1. Every pytest config file decides the rootdirs and what each one collects.
2. A byte prefilter picks the Python files worth parsing: those that mention flakiness,
   then, round after round, those that import a name an already parsed module binds to a
   flaky marker, class or test (aliases and base classes imported across modules). With a
   ``FileSearch`` (git grep), only the files it names are ever read.
3. Each collected test module is replayed through pytest's collection rules.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flaketui import rootdirs
from flaketui.discover import config as cfg
from flaketui.discover.collect import _FLAKY_REASON as _FLAKY_REASON_TEXT
from flaketui.discover.collect import _RETRY_NAME, Collector, _is_flaky
from flaketui.discover.files import FLAKY_WORDS
from flaketui.discover.fixtures import FixtureDef, module_fixtures
from flaketui.discover.params import Unknowable
from flaketui.discover.parse import Unparsable, decode, parse
from flaketui.discover.search import FileSearch
from flaketui.discover.symbols import (
    ClassRef,
    Constant,
    Evaluator,
    FlakyDecorator,
    FunctionRef,
    Import,
    ImportFrom,
    Mark,
    ModuleInfo,
    Param,
    build_module,
    flatten_marks,
)
from flaketui.discover.symbols import Sequence as Listed
from flaketui.discover.symbols import dotted_name as _dotted
from flaketui.models import Finding, FlakyTest, ScanResult, Skipped, TestKey, selects

ProgressCallback = Callable[[int, int], None]

_FROM_IMPORT = re.compile(rb"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n]*)", re.MULTILINE)
_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_WORD = re.compile(rb"\w+")
# The collector's own patterns, over bytes: what it calls a retry decorator or a flaky reason.
# A retry decorator is written on its decorator line, or under another name: a module-level
# alias (``again = tenacity.retry(...)``) or an import renaming it (``retry as again``).
_RETRY_WORD = re.compile(_RETRY_NAME.pattern.encode(), re.IGNORECASE)
_ALIAS = re.compile(rb"\w+[ \t]*=[^=]")
_RENAMED = re.compile(rb"\w*\s+as\s+\w")
_FLAKY_REASON = re.compile(_FLAKY_REASON_TEXT.pattern.encode(), re.IGNORECASE)
_MAX_ROUNDS = 8


def scan_repository(
    root: Path,
    files: Sequence[str],
    *,
    on_progress: ProgressCallback | None = None,
    search: FileSearch | None = None,
) -> ScanResult:
    return _Scan(root, files, on_progress, search).run()


class _Scan:
    def __init__(
        self, root: Path, files: Sequence[str], on_progress: ProgressCallback | None, search: FileSearch | None = None
    ) -> None:
        self.root = root
        self._root = str(root)
        self.files = list(files)
        self.on_progress = on_progress
        self.search = search
        #: Python files the search vouched hold nothing to read: ASCII text, no flaky word.
        self.unread: set[str] = set()
        self.follow = _Follow()
        #: The answer of a search started for importers (``FileSearch.naming``), once asked.
        self.naming: Callable[[], Collection[str] | None] | None = None
        self.evaluator = Evaluator()
        self.skipped: dict[str, str] = {}
        #: Files read once and why an unparsed one could not be (binary, not UTF-8).
        self.seen: set[str] = set()
        self.unreadable: dict[str, str] = {}
        self._fixture_params: dict[str, frozenset[str]] = {}
        self._conftests: list[str] | None = None
        self.findings: dict[tuple[str, int], Finding] = {}
        self._module_words: dict[str, frozenset[str]] = {}

    def read(self, path: str) -> bytes | None:
        try:
            with open(os.path.join(self._root, path), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def run(self) -> ScanResult:
        configs = cfg.find_configs(self.files, self.read)
        python_files = [f for f in self.files if f.endswith(".py")]
        by_rootdir: dict[str, list[str]] = {r: [] for r in configs}
        for path in python_files:
            by_rootdir[rootdirs.rootdir_of(path, configs)].append(path)
        self._parse_relevant(python_files)
        # Conftests are always read first, so what follows does not wait for the search.
        conftests = self._conftest_ignores()
        venvs = self._venv_dirs()
        plugins = self._declared_plugins(configs)
        id_hooks = self._parametrize_id_hooks()
        commanded = self._commanded_paths()

        def collect() -> tuple[dict[TestKey, FlakyTest], list[Finding], dict[str, str]]:
            # Only parsed modules hold tests, and only unread-able ones are reported: whether
            # pytest would collect the thousands of other files does not matter here.
            relevant = set(self.evaluator.modules) | set(self.unreadable)
            relevant.update(p for p in python_files if p not in self.seen and p not in self.unread)
            selected = {
                rootdir: cfg.select_test_files(config, by_rootdir[rootdir], venvs, conftests, commanded, only=relevant)
                for rootdir, config in configs.items()
            }
            return self._collect(configs, selected, plugins, id_hooks)

        tests, findings, skipped = collect()
        # The search for importers ran while we collected; a file it brings in may carry marks
        # into modules already collected (a base class, an alias), so collect again.
        while self._resume_imports(python_files):
            tests, findings, skipped = collect()
        self.skipped.update(skipped)
        for finding in findings:
            self.findings.setdefault((finding.path, finding.line), finding)
        self._config_findings()
        self._hook_findings()
        ordered = sorted(tests.values(), key=lambda t: (t.rootdir, t.nodeid.split("::", 1)[0], t.line, t.nodeid))
        return ScanResult(
            root=str(self.root),
            tests=tuple(ordered),
            findings=tuple(sorted(self.findings.values(), key=lambda f: (f.path, f.line))),
            skipped=tuple(Skipped(path, reason) for path, reason in sorted(self.skipped.items())),
            files_scanned=len(python_files),
        )

    def _collect(
        self,
        configs: dict[str, cfg.PytestConfig],
        selected: dict[str, list[str]],
        plugins: dict[str, set[str]],
        id_hooks: dict[str, bool],
    ) -> tuple[dict[TestKey, FlakyTest], list[Finding], dict[str, str]]:
        tests: dict[TestKey, FlakyTest] = {}
        findings: list[Finding] = []
        skipped: dict[str, str] = {}
        for rootdir, config in configs.items():
            collector = Collector(self.evaluator, config, plugins.get(rootdir, set()), id_hooks.get(rootdir, False))
            chosen = config.node_selections()
            for path in selected[rootdir]:
                module = self.evaluator.modules.get(path)
                if module is None:
                    reason = self._unreadable_reason(path)
                    if reason is not None:
                        skipped[path] = reason
                    continue
                collector.fixture_modules = self._fixture_modules(path)
                collector.parametrized_fixtures = self._parametrized_fixtures(collector.fixture_modules)
                try:
                    collected = collector.collect(module, rootdirs.relative(path, rootdir))
                except (RecursionError, ValueError, AttributeError, TypeError, KeyError, IndexError) as error:
                    # Code we do not model must never stop the scan: say so, and go on.
                    skipped[path] = f"not analysed: {type(error).__name__} in flaketui ({error}); please report it"
                    continue
                for test in collected.tests:
                    if path not in chosen or any(selects(nodeid, test.nodeid) for nodeid in chosen[path]):
                        tests.setdefault(test.key, test)
                findings.extend(collected.findings)
        return tests, findings, skipped

    # -- parsing --------------------------------------------------------------------------
    def _parse_relevant(self, python_files: list[str]) -> None:
        # A file that never mentions flakiness can still receive a marker, but only through an
        # import: remember what each one imports, and parse it once an import brings a name
        # (or a module) that an already parsed module exports with a flaky marker attached.
        total = len(python_files)
        listed = self.search.to_read() if self.search is not None else None
        if listed is not None:
            to_read = [path for path in python_files if path in listed or _is_conftest(path)]
            self.unread = set(python_files).difference(to_read)
        else:
            to_read = python_files
        for done, path in enumerate(to_read):
            if self.on_progress is not None and done % 500 == 0:
                self.on_progress(done * total // len(to_read), total)
            self._read_one(path)
        self._reach_flaky_fixture_users(python_files)
        self._follow_imports()
        if self.on_progress is not None:
            self.on_progress(total, total)

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
                self.unread.discard(path)
                self.seen.add(path)
                self.follow.pending.pop(path, None)
                self._parse(path, data)

    def _flaky_fixture_words(self) -> dict[str, set[str]]:
        """Per conftest directory, the fixtures whose params carry a flaky mark and those that
        depend on them (``"*"`` when one is autouse: every test below may get it)."""
        conftests = {path: module for path, module in self.evaluator.modules.items() if _is_conftest(path)}
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
        collects); ``_resume_imports`` takes its answer."""
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

    def _resume_imports(self, python_files: list[str]) -> bool:
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
        if _worth_parsing(data) or _is_conftest(path):
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

    def _unreadable_reason(self, path: str) -> str | None:
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
                if name.startswith("__") or not any(_mentions(b, name, lines, words, flak) for b in bindings):
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
            helper = Collector(self.evaluator, cfg.PytestConfig("."), set(), False).applied_marks(value)
            if any(_is_flaky(m) for m in helper):
                return True
            return any(self._flaky_expression(value.module, d) for d in value.node.decorator_list) or any(
                isinstance(n, ast.Return) and n.value is not None and self._flaky_expression(value.module, n.value)
                for n in value.node.body
            )
        if isinstance(value, ClassRef):
            return self._class_mentions_flaky(value)
        return False

    def _flaky_expression(self, module: ModuleInfo, node: ast.expr) -> bool:
        value = self.evaluator.evaluate(module, module.scope, node)
        return any(_is_flaky(m) for m in flatten_marks(value)) or (
            isinstance(node, (ast.Name, ast.Call)) and _dotted(node.func if isinstance(node, ast.Call) else node) == "flaky"
        )

    def _class_mentions_flaky(self, cls: ClassRef) -> bool:
        """A class whose own or inherited marks or methods carry a flaky marker; base classes
        often live in modules whose text never says "flaky" (they inherit it)."""
        for current in Collector(self.evaluator, cfg.PytestConfig("."), set(), False).mro(cls):
            for statement in current.node.body:
                if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets):
                    if self._flaky_expression(current.module, statement.value):
                        return True
            for decorator in current.node.decorator_list:
                if self._flaky_expression(current.module, decorator):
                    return True
            for statement in current.node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    self._flaky_expression(current.module, d) for d in statement.decorator_list
                ):
                    return True
        return False

    # -- conftest-level facts -------------------------------------------------------------
    def _conftest_ignores(self) -> dict[str, cfg.ConftestIgnores]:
        ignores: dict[str, cfg.ConftestIgnores] = {}
        for path, module in self.evaluator.modules.items():
            if not _is_conftest(path):
                continue
            directory = path.rpartition("/")[0] or "."
            found = {}
            for key in ("collect_ignore", "collect_ignore_glob"):
                value = self.evaluator.lookup(module, module.scope, key) if key in module.scope.bindings else None
                items = getattr(value, "items", ())
                found[key] = tuple(
                    _join(directory, item.value) for item in items if isinstance(item, Constant) and isinstance(item.value, str)
                )
            if found["collect_ignore"] or found["collect_ignore_glob"]:
                ignores[directory] = cfg.ConftestIgnores(found["collect_ignore"], found["collect_ignore_glob"])
        return ignores

    def _fixture_modules(self, path: str) -> list[ModuleInfo]:
        """The modules whose fixtures a test module sees, nearest last: the conftests of its
        directory and those above it, from the top down, then the module itself."""
        directories = {""} | {path[: i] for i in range(len(path)) if path[i] == "/"}
        if self._conftests is None:  # every module is parsed by now; list the conftests once
            self._conftests = [c for c in self.evaluator.modules if _is_conftest(c)]
        above = sorted((c for c in self._conftests if c != path and c.rpartition("/")[0] in directories), key=lambda c: c.count("/"))
        return [self.evaluator.modules[c] for c in (*above, path) if c in self.evaluator.modules]

    def _parametrized_fixtures(self, modules: list[ModuleInfo]) -> frozenset[str]:
        """Fixtures with ``params=`` in ``modules`` (a test module's ``_fixture_modules``);
        ``"*"`` when a ``pytest_generate_tests`` hook there may parametrize anything."""
        names: set[str] = set()
        for module in modules:
            candidate = module.path
            found = self._fixture_params.get(candidate)
            if found is None:
                found = self._fixture_params[candidate] = _parametrized_fixtures_in(module)
            if "*" in found:
                return frozenset({"*"})
            names |= found
        return frozenset(names)

    def _parametrize_id_hooks(self) -> dict[str, bool]:
        hooks: dict[str, bool] = {}
        for path, module in self.evaluator.modules.items():
            if _is_conftest(path) and "pytest_make_parametrize_id" in module.scope.bindings:
                hooks[path.rpartition("/")[0] or "."] = True
        # A conftest's hook reaches every test of its rootdir in practice (conftests load top-down).
        return {r: True for r in hooks} if hooks else {}

    def _commanded_paths(self) -> list[str]:
        """Paths the project's tox/CI/make/nox commands hand to pytest, repo-relative (both
        relative to the command file's directory, as tox runs them, and to the root, as CI does)."""
        paths: list[str] = []
        for path in self.files:
            if not cfg.is_ci_file(path):
                continue
            data = self.read(path)
            if data is None:
                continue
            directory = path.rpartition("/")[0]
            for found in cfg.command_paths(data.decode("utf-8", errors="replace")):
                paths.append(found)
                if directory:
                    paths.append(_join(directory, found))
        return list(dict.fromkeys(paths))

    def _venv_dirs(self) -> set[str]:
        return {f.rpartition("/")[0] for f in self.files if f.endswith(("/pyvenv.cfg", "conda-meta/history"))}

    def _declared_plugins(self, configs: dict[str, cfg.PytestConfig]) -> dict[str, set[str]]:
        declared: dict[str, set[str]] = {}
        for path in self.files:
            if not cfg.is_dependency_file(path):
                continue
            data = self.read(path)
            if data is None:
                continue
            found = cfg.declared_plugins(data.decode("utf-8", errors="replace"), path)
            if found:
                declared[path.rpartition("/")[0] or "."] = found
        result: dict[str, set[str]] = {}
        for rootdir in configs:
            plugins: set[str] = set()
            for directory, found in declared.items():
                below = rootdir == "." or directory == rootdir or directory.startswith(rootdir + "/")
                above = directory == "." or rootdir.startswith(directory + "/")
                if below or above:
                    plugins |= found
            result[rootdir] = plugins
        return result

    # -- repository findings -------------------------------------------------------------------
    def _config_findings(self) -> None:
        for path in self.files:
            name = path.rpartition("/")[2]
            settings: list[cfg.RerunSetting] = []
            if rootdirs.is_config_file(path):
                data = self.read(path)
                if data is not None:
                    settings.extend(cfg.config_reruns(name, data.decode("utf-8", errors="replace")))
            if cfg.is_ci_file(path):
                data = self.read(path)
                if data is not None:
                    settings.extend(cfg.ci_reruns(data.decode("utf-8", errors="replace")))
            for setting in settings:
                self.findings.setdefault((path, setting.line), Finding(setting.kind, path, setting.line, setting.message, setting.source))

    def _hook_findings(self) -> None:
        for path, module in self.evaluator.modules.items():
            if "add_marker" not in module.source.text:
                continue
            try:
                self._hook_findings_in(path, module)
            except (RecursionError, ValueError, AttributeError, TypeError, KeyError, IndexError):
                continue  # a hook we cannot read is no reason to lose the rest of the scan

    def _hook_findings_in(self, path: str, module: ModuleInfo) -> None:
        for function in _functions(module.tree.body):
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_marker"):
                    continue
                if not node.args or not self._adds_flaky(module, node.args[0]):
                    continue
                self.findings.setdefault(
                    (path, node.lineno),
                    Finding(
                        "collection-hook",
                        path,
                        node.lineno,
                        f"{function.name}() adds a flaky marker at collection time; reading the code cannot tell "
                        "which tests it reaches (flaketui scan --collect asks pytest)",
                        module.source.segment(node),
                    ),
                )

    def _adds_flaky(self, module: ModuleInfo, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return node.value == "flaky"
        return self._flaky_expression(module, node)


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


def _parametrized_fixtures_in(module: ModuleInfo) -> frozenset[str]:
    if "pytest_generate_tests" in module.scope.bindings:
        return frozenset({"*"})
    names: set[str] = set()
    for function in _functions(module.tree.body):
        for decorator in function.decorator_list:
            if isinstance(decorator, ast.Call) and _dotted(decorator.func).endswith("fixture"):
                if any(k.arg == "params" for k in decorator.keywords):
                    given = next((k.value for k in decorator.keywords if k.arg == "name"), None)
                    named = given.value if isinstance(given, ast.Constant) and isinstance(given.value, str) else None
                    names.add(named or function.name)
    return frozenset(names)


def _functions(statements: Iterable[ast.stmt]) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield statement
        elif isinstance(statement, ast.ClassDef):
            yield from _functions(statement.body)


def _join(directory: str, path: str) -> str:
    joined = os.path.normpath(os.path.join("" if directory == "." else directory, path)).replace(os.sep, "/")
    return joined


def _within(path: str, directory: str) -> bool:
    return not directory or path.startswith(directory + "/")


def _is_conftest(path: str) -> bool:
    return path == "conftest.py" or path.endswith("/conftest.py")
