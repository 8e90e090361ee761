"""What a repository says around its test modules, as pytest reads it: conftest ignores and
fixtures, parametrize hooks, the paths its commands test, the rerun plugins it declares,
and what reruns every test (configuration, CI files, collection hooks)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator

from flaketui import rootdirs
from flaketui.discover import config as cfg
from flaketui.discover import declared
from flaketui.discover.bindings import ModuleInfo
from flaketui.discover.reach import Reader, is_conftest
from flaketui.discover.symbols import Constant, dotted_name
from flaketui.models import Finding


class Project:
    """Facts of the repository's files (``files``) and of the modules ``reader`` parsed."""

    def __init__(self, reader: Reader, files: list[str]) -> None:
        self.reader = reader
        self.files = files
        self._fixture_params: dict[str, frozenset[str]] = {}
        self._conftests: list[str] | None = None

    def conftest_ignores(self) -> dict[str, cfg.ConftestIgnores]:
        ignores: dict[str, cfg.ConftestIgnores] = {}
        for path, module in self.reader.evaluator.modules.items():
            if not is_conftest(path):
                continue
            directory = path.rpartition("/")[0] or "."
            found = {}
            for key in ("collect_ignore", "collect_ignore_glob"):
                value = self.reader.evaluator.lookup(module, module.scope, key) if key in module.scope.bindings else None
                items = getattr(value, "items", ())
                found[key] = tuple(
                    cfg.join(directory, item.value) for item in items if isinstance(item, Constant) and isinstance(item.value, str)
                )
            if found["collect_ignore"] or found["collect_ignore_glob"]:
                ignores[directory] = cfg.ConftestIgnores(found["collect_ignore"], found["collect_ignore_glob"])
        return ignores

    def fixture_modules(self, path: str) -> list[ModuleInfo]:
        """The modules whose fixtures a test module sees, nearest last: the conftests of its
        directory and those above it, from the top down, then the module itself."""
        directories = {""} | {path[: i] for i in range(len(path)) if path[i] == "/"}
        if self._conftests is None:  # every module is parsed by now; list the conftests once
            self._conftests = [c for c in self.reader.evaluator.modules if is_conftest(c)]
        above = sorted((c for c in self._conftests if c != path and c.rpartition("/")[0] in directories), key=lambda c: c.count("/"))
        return [self.reader.evaluator.modules[c] for c in (*above, path) if c in self.reader.evaluator.modules]

    def parametrized_fixtures(self, modules: list[ModuleInfo]) -> frozenset[str]:
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

    def parametrize_id_hooks(self) -> dict[str, bool]:
        hooks: dict[str, bool] = {}
        for path, module in self.reader.evaluator.modules.items():
            if is_conftest(path) and "pytest_make_parametrize_id" in module.scope.bindings:
                hooks[path.rpartition("/")[0] or "."] = True
        # A conftest's hook reaches every test of its rootdir in practice (conftests load top-down).
        return {r: True for r in hooks} if hooks else {}

    def commanded_paths(self) -> list[str]:
        """Paths the project's tox/CI/make/nox commands hand to pytest, repo-relative (both
        relative to the command file's directory, as tox runs them, and to the root, as CI does)."""
        paths: list[str] = []
        for path, text in self._texts(declared.is_ci_file):
            directory = path.rpartition("/")[0]
            for found in declared.command_paths(text):
                paths.append(found)
                if directory:
                    paths.append(cfg.join(directory, found))
        return list(dict.fromkeys(paths))

    def declared_plugins(self, configs: dict[str, cfg.PytestConfig]) -> dict[str, set[str]]:
        by_directory: dict[str, set[str]] = {}
        for path, text in self._texts(declared.is_dependency_file):
            found = declared.declared_plugins(text, path)
            if found:
                by_directory[path.rpartition("/")[0] or "."] = found
        result: dict[str, set[str]] = {}
        for rootdir in configs:
            plugins: set[str] = set()
            for directory, found in by_directory.items():
                below = rootdir == "." or directory == rootdir or directory.startswith(rootdir + "/")
                above = directory == "." or rootdir.startswith(directory + "/")
                if below or above:
                    plugins |= found
            result[rootdir] = plugins
        return result

    # -- repository findings ---------------------------------------------------------------
    def config_findings(self) -> list[Finding]:
        """Reruns configured for every test: in pytest's configuration, tox and CI files."""
        findings: list[Finding] = []
        for path, text in self._texts(lambda p: rootdirs.is_config_file(p) or declared.is_ci_file(p)):
            settings: list[declared.RerunSetting] = []
            if rootdirs.is_config_file(path):
                settings.extend(declared.config_reruns(path.rpartition("/")[2], text))
            if declared.is_ci_file(path):
                settings.extend(declared.ci_reruns(text))
            findings.extend(Finding(s.kind, path, s.line, s.message, s.source) for s in settings)
        return findings

    def _texts(self, wanted: Callable[[str], bool]) -> Iterator[tuple[str, str]]:
        """Each readable file of the repository that ``wanted`` picks by path, with its text."""
        for path in self.files:
            if wanted(path):
                data = self.reader.read(path)
                if data is not None:
                    yield path, data.decode("utf-8", errors="replace")

    def hook_findings(self) -> list[Finding]:
        """Hooks that add a flaky marker at collection time (``item.add_marker``)."""
        findings: list[Finding] = []
        for path, module in self.reader.evaluator.modules.items():
            if "add_marker" not in module.source.text:
                continue
            try:
                findings.extend(self._hook_findings_in(path, module))
            except (RecursionError, ValueError, AttributeError, TypeError, KeyError, IndexError):
                continue  # a hook we cannot read is no reason to lose the rest of the scan
        return findings

    def _hook_findings_in(self, path: str, module: ModuleInfo) -> Iterator[Finding]:
        for function in _functions(module.tree.body):
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_marker"):
                    continue
                if not node.args or not self._adds_flaky(module, node.args[0]):
                    continue
                yield Finding(
                    "collection-hook",
                    path,
                    node.lineno,
                    f"{function.name}() adds a flaky marker at collection time; reading the code cannot tell "
                    "which tests it reaches (flaketui scan --collect asks pytest)",
                    module.source.segment(node),
                )

    def _adds_flaky(self, module: ModuleInfo, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return node.value == "flaky"
        return self.reader.flaky_expression(module, node)


def _parametrized_fixtures_in(module: ModuleInfo) -> frozenset[str]:
    if "pytest_generate_tests" in module.scope.bindings:
        return frozenset({"*"})
    names: set[str] = set()
    for function in _functions(module.tree.body):
        for decorator in function.decorator_list:
            if isinstance(decorator, ast.Call) and dotted_name(decorator.func).endswith("fixture"):
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
