"""pytest's collection, replayed on the syntax tree of one test module.

Module attributes whose names match ``python_functions``/``python_classes`` (imported ones
too, as pytest sees them), classes walked along their MRO (methods and ``pytestmark``
inherited, also from other modules), nested classes, unittest ``TestCase`` methods, and
the marks that reach each test through the node chain: function, param, class, module.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from flaketui.discover.bindings import ModuleInfo, Scope
from flaketui.discover.classes import Hierarchy, defines_init, test_attribute
from flaketui.discover.config import PytestConfig
from flaketui.discover.fixtures import (
    FixtureDef,
    class_fixtures,
    fixture_parametrizations,
    has_params,
    module_fixtures,
)
from flaketui.discover.marks import MarkReader, MarkUse, alias, is_flaky
from flaketui.discover.params import (
    ParameterSet,
    Unknowable,
    literal_argnames,
    parameter_sets,
)
from flaketui.discover.suspects import Suspects
from flaketui.discover.symbols import (
    ClassRef,
    Evaluator,
    External,
    FunctionRef,
    Mark,
    Param,
    flatten_marks,
)
from flaketui.discover.symbols import dotted_name as _dotted
from flaketui.models import Finding, FlakyTest, MarkerScope


@dataclass
class ModuleCollection:
    tests: list[FlakyTest] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class Collector:
    def __init__(
        self,
        evaluator: Evaluator,
        config: PytestConfig,
        declared: set[str],
        id_hook: bool,
        parametrized_fixtures: frozenset[str] = frozenset(),
    ) -> None:
        self.evaluator = evaluator
        self.config = config
        self.id_hook = id_hook
        self.classes = Hierarchy(evaluator)
        self.marks = MarkReader(evaluator, declared)
        self.suspects = Suspects(self.marks, config.xfail_strict)
        #: Fixture names defined with ``params=``, or ``"*"`` when a ``pytest_generate_tests``
        #: hook may parametrize anything (then only the function's id is sure).
        self.parametrized_fixtures = parametrized_fixtures
        #: The modules whose fixtures a test module sees, nearest last: conftests from the
        #: rootdir down, then the module itself.
        self.fixture_modules: list[ModuleInfo] = []
        self._module_fixtures: dict[str, list[FixtureDef]] = {}
        #: Whether a class body defines a fixture with params, by ``id`` of its scope (each
        #: method of the class asks; scopes live as long as the scan).
        self._class_params: dict[int, bool] = {}
        #: What the module being collected needs at import (``pytest.importorskip``).
        self._requires: tuple[str, ...] = ()
        self._class_patterns = config.python_classes
        self._function_patterns = config.python_functions

    # -- name filters (pytest's _matches_prefix_or_glob_option) ---------------------------
    @staticmethod
    def _matches(name: str, patterns: list[str]) -> bool:
        for pattern in patterns:
            if name.startswith(pattern):
                return True
            if any(ch in pattern for ch in "*?[") and fnmatch.fnmatch(name, pattern):
                return True
        return False

    # -- entry point ------------------------------------------------------------------------
    def collect(self, module: ModuleInfo, file_id: str) -> ModuleCollection:
        result = ModuleCollection()
        if _false_test_flag(self.evaluator, module, module.scope):
            return result
        module_marks = list(self.marks.pytestmark(module, module.scope, MarkerScope.MODULE))
        self._requires = _imports_or_skips(self.evaluator, module)
        for name in self._module_names(module):
            value = self.evaluator.lookup(module, module.scope, name)
            if isinstance(value, FunctionRef) and self._matches(name, self._function_patterns):
                self._function(result, module, file_id, name, value, value.module.scope, [], module_marks, unittest=False)
            elif isinstance(value, ClassRef):
                if self.classes.is_unittest(value):
                    self._class(result, module, f"{file_id}::{name}", value, [], module_marks, unittest=True)
                elif self._is_test_class(name, value):
                    self._class(result, module, f"{file_id}::{name}", value, [], module_marks, unittest=False)
        return result

    def _module_names(self, module: ModuleInfo) -> list[str]:
        """The module's attributes: its own bindings, then what ``from x import *`` brought from
        the repository's modules (pytest collects those test functions and classes too)."""
        names = dict.fromkeys(module.scope.bindings)
        pending = list(module.scope.star_imports)
        visited: set[str] = set()
        while pending:
            dotted = pending.pop()
            source = self.evaluator.find_module(dotted, module)
            if source is None or source.path in visited or source is module:
                continue
            visited.add(source.path)
            exported = _dunder_all(source)
            for name in source.scope.bindings:
                if (name in exported) if exported is not None else not name.startswith("_"):
                    names.setdefault(name)
            pending.extend(source.scope.star_imports)
        return list(names)

    # -- classes ---------------------------------------------------------------------------
    def _class(
        self,
        result: ModuleCollection,
        module: ModuleInfo,
        class_id: str,
        cls: ClassRef,
        outer_marks: list[MarkUse],
        module_marks: list[MarkUse],
        *,
        unittest: bool,
    ) -> None:
        mro = self.classes.mro(cls)
        if test_attribute(mro) is False:
            return
        if not unittest and any(defines_init(c.node) for c in mro):
            return  # pytest refuses classes with __init__/__new__ (a warning, no tests)
        # pytest reads class marks base-first (get_unpacked_marks walks the reversed MRO).
        class_marks = [use for c in reversed(mro) for use in self.marks.class_own_marks(c)]
        chain = self.marks.applied_uses(cls, MarkerScope.CLASS) + class_marks + outer_marks
        members: dict[str, tuple[FunctionRef | ClassRef, Scope]] = {}
        for base in reversed(mro):
            scope = base.module.class_scope(base.node)
            for name in scope.bindings:
                value = self.evaluator.lookup(base.module, scope, name)
                if isinstance(value, (FunctionRef, ClassRef)):
                    members[name] = (value, scope)
                else:
                    members.pop(name, None)
        for name, (member, scope) in members.items():
            if isinstance(member, FunctionRef):
                wanted = name.startswith("test") if unittest else self._matches(name, self._function_patterns)
                if wanted:
                    owner = scope if member.node in scope_owner_body(member, scope) else member.module.scope
                    self._function(result, module, class_id, name, member, owner, chain, module_marks, unittest=unittest)
            elif not unittest and self._is_test_class(name, member) and not self.classes.is_unittest(member):
                self._class(result, module, f"{class_id}::{name}", member, chain, module_marks, unittest=False)

    def _is_test_class(self, name: str, cls: ClassRef) -> bool:
        """pytest's ``istestclass``: the name matches (or ``__test__ = True``), and not abstract."""
        mro = self.classes.mro(cls)
        if not (self._matches(name, self._class_patterns) or test_attribute(mro) is True):
            return False
        return not self.classes.is_abstract(cls, mro)

    # -- functions ---------------------------------------------------------------------------
    def _function(
        self,
        result: ModuleCollection,
        module: ModuleInfo,
        parent_id: str,
        name: str,
        function: FunctionRef,
        owner_scope: Scope,
        chain: list[MarkUse],
        module_marks: list[MarkUse],
        *,
        unittest: bool,
    ) -> None:
        if _is_fixture(function):
            return
        own = self.marks.applied_uses(function, MarkerScope.FUNCTION) + [
            use
            for decorator in reversed(function.node.decorator_list)
            for use in self.marks.decorator_marks(function.module, owner_scope, decorator, MarkerScope.FUNCTION)
        ]
        self.suspects.decorators(result, function, owner_scope, f"{parent_id}::{name}")
        marks = own + chain + module_marks
        base_id = f"{parent_id}::{name}"
        parametrize = [use.value for use in marks if isinstance(use.value, Mark) and use.value.name == "parametrize"]
        combos = None
        known_ids = not unittest
        if not unittest:
            try:
                # pytest parametrizes the fixtures' params first: their ids lead the node id.
                parametrize = self._fixture_marks(function, owner_scope, parametrize, marks, in_class="::" in parent_id) + parametrize
            except Unknowable:
                # Only the function's id is sure (pytest accepts it), unless the test names no
                # parametrized fixture itself: then its own parametrize ids stand, as they did.
                known_ids = not self._uses_parametrized_fixture(function)
            if parametrize and known_ids:
                combos = self._combinations(parametrize)
        flaky_static = [use for use in marks if is_flaky(use.value)]
        self.suspects.xfails(result, marks, base_id)
        class_name = parent_id.split("::", 1)[1] if "::" in parent_id else None
        line = _def_line(function.node)
        if combos is None:
            param_flaky = []
            if parametrize and not unittest:
                param_flaky = list(self._all_param_marks(parametrize))
            found = param_flaky + flaky_static
            if found:
                result.tests.append(self._test(base_id, function, name, class_name, line, found))
            return
        for suffix, param_marks in combos:
            found = [use for use in param_marks if is_flaky(use.value)] + flaky_static
            if found:
                result.tests.append(self._test(f"{base_id}[{suffix}]", function, name, class_name, line, found))

    def _uses_parametrized_fixture(self, function: FunctionRef) -> bool:
        if "*" in self.parametrized_fixtures:
            return True
        arguments = function.node.args
        names = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
        return not names.isdisjoint(self.parametrized_fixtures)

    def _fixture_marks(
        self, function: FunctionRef, owner_scope: Scope, parametrize: list[Mark], marks: list[MarkUse], *, in_class: bool
    ) -> list[Mark]:
        """The ``parametrize`` pytest applies for the test's fixtures' params (before its own
        marks); raises ``Unknowable`` when the ids are not knowable from the source."""
        if "*" in self.parametrized_fixtures:
            raise Unknowable("a pytest_generate_tests hook may parametrize anything")
        if not self.parametrized_fixtures and not (in_class and self._class_has_params(owner_scope)):
            return []  # nothing this test can see has params
        direct = {name for mark in parametrize for name in self._parametrize_argnames(mark)}
        usefixtures = [name for use in marks if isinstance(use.value, Mark) and use.value.name == "usefixtures"
                       for name in self._literal_strings(use.value)]
        visible = [self._fixtures_of(module) for module in self.fixture_modules]
        if in_class:
            visible.append(class_fixtures(owner_scope, function.module))
        return fixture_parametrizations(visible, function, in_class=in_class, usefixtures=usefixtures, direct=direct)

    def _class_has_params(self, scope: Scope) -> bool:
        found = self._class_params.get(id(scope))
        if found is None:
            found = self._class_params[id(scope)] = has_params(scope)
        return found

    def _fixtures_of(self, module: ModuleInfo) -> list[FixtureDef]:
        found = self._module_fixtures.get(module.path)
        if found is None:
            found = self._module_fixtures[module.path] = module_fixtures(module, self.evaluator)
        return found

    def _parametrize_argnames(self, mark: Mark) -> list[str]:
        node = mark.positional[0] if mark.positional else mark.keyword("argnames")
        if node is None or mark.module is None:
            raise Unknowable("parametrize without argnames")
        return literal_argnames(self.evaluator, mark.module, node)

    def _literal_strings(self, mark: Mark) -> list[str]:
        names = []
        for node in mark.positional:
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                raise Unknowable("usefixtures argument not literal")
            names.append(node.value)
        return names

    def _combinations(self, parametrize: list[Mark]) -> list[tuple[str, list[MarkUse]]] | None:
        combos: list[tuple[str, list[MarkUse]]] = [("", [])]
        try:
            for mark in parametrize:
                sets = parameter_sets(self.evaluator, mark, escape=self.config.escape_ids, id_hook=self.id_hook)
                combos = [
                    (f"{prefix}-{pset.id}" if prefix else pset.id, uses + self._param_uses(mark, pset))
                    for prefix, uses in combos
                    for pset in sets
                ]
        except Unknowable:
            return None
        return combos

    def _param_uses(self, mark: Mark, pset: ParameterSet) -> list[MarkUse]:
        module = pset.module or mark.module
        assert module is not None
        return [
            MarkUse(value, MarkerScope.PARAM, module, node, alias(self.evaluator, module, module.scope, node))
            for item, node in pset.marks
            for value in flatten_marks(item)
        ]

    def _all_param_marks(self, parametrize: list[Mark]) -> Iterator[MarkUse]:
        """When ids are unknowable the test is reported once, with every param-level flaky mark."""
        for mark in parametrize:
            if mark.module is None:
                continue
            argvalues = mark.positional[1] if len(mark.positional) > 1 else mark.keyword("argvalues")
            if argvalues is None:
                continue
            cases = self.evaluator.evaluate(mark.module, mark.module.scope, argvalues)
            for case in getattr(cases, "items", ()):
                if isinstance(case, Param):
                    for found in (m for item in case.marks for m in flatten_marks(item)):
                        if is_flaky(found):
                            yield MarkUse(found, MarkerScope.PARAM, case.module, case.node)

    def _test(self, nodeid: str, function: FunctionRef, name: str, class_name: str | None, line: int, uses: list[MarkUse]) -> FlakyTest:
        markers = tuple(dict.fromkeys(self.marks.marker(use) for use in uses))
        return FlakyTest(
            nodeid=nodeid,
            rootdir=self.config.rootdir,
            path=function.module.path,
            line=line,
            name=name,
            markers=markers,
            class_name=class_name,
            end_line=function.node.end_lineno,
            requires=self._requires,
        )

def scope_owner_body(function: FunctionRef, scope: Scope) -> list[object]:
    """The definitions bound in ``scope``: a method assigned from elsewhere (``test_x = helper``)
    had its decorators evaluated in its own module, not in this class body."""
    return [b for bindings in scope.bindings.values() for b in bindings]


def _is_fixture(function: FunctionRef) -> bool:
    for decorator in function.node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if _dotted(target).split(".")[-1] in ("fixture", "yield_fixture"):
            return True
    return False


def _imports_or_skips(evaluator: Evaluator, module: ModuleInfo) -> tuple[str, ...]:
    """The modules a test module asks ``pytest.importorskip`` for at its top level: without
    them pytest skips the whole module and collects none of its tests."""
    if "importorskip" not in module.source.text:
        return ()
    names: list[str] = []
    for statement in module.tree.body:
        call = statement.value if isinstance(statement, (ast.Expr, ast.Assign, ast.AnnAssign)) else None
        if not (isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant)):
            continue
        function = evaluator.evaluate(module, module.scope, call.func)
        named = call.args[0].value
        if isinstance(function, External) and function.dotted.rpartition(".")[2] == "importorskip" and isinstance(named, str):
            names.append(named)
    return tuple(names)


def _dunder_all(module: ModuleInfo) -> set[str] | None:
    bindings = module.scope.bindings.get("__all__")
    if bindings and isinstance(bindings[0], (ast.List, ast.Tuple)):
        return {e.value for e in bindings[0].elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return None


def _false_test_flag(evaluator: Evaluator, module: ModuleInfo, scope: Scope) -> bool:
    bindings = scope.bindings.get("__test__")
    if not bindings or not isinstance(bindings[-1], ast.Constant):
        return False
    return not bindings[-1].value


def _def_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The line of ``def`` itself, below any decorators (where an editor should land)."""
    return node.lineno


