"""pytest's collection, replayed on the syntax tree of one test module.

Module attributes whose names match ``python_functions``/``python_classes`` (imported ones
too, as pytest sees them), classes walked along their MRO (methods and ``pytestmark``
inherited, also from other modules), nested classes, unittest ``TestCase`` methods, and
the marks that reach each test through the node chain: function, param, class, module.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from flaketui.discover.config import PytestConfig
from flaketui.discover.fixtures import (
    FixtureDef,
    class_fixtures,
    fixture_parametrizations,
    has_params,
    module_fixtures,
)
from flaketui.discover.params import (
    ParameterSet,
    Unknowable,
    literal_argnames,
    parameter_sets,
)
from flaketui.discover.symbols import (
    ClassRef,
    Constant,
    Evaluator,
    External,
    FlakyDecorator,
    FunctionRef,
    Mark,
    ModuleInfo,
    Param,
    Scope,
    Sequence,
    Unbound,
    Value,
    _single_return,
    flatten_marks,
)
from flaketui.discover.symbols import dotted_name as _dotted
from flaketui.models import Finding, FlakyTest, Marker, MarkerKind, MarkerScope

_RERUNFAILURES_ARGS = frozenset({"reruns", "reruns_delay", "only_rerun", "condition", "rerun_except"})
_FLAKY_ARGS = frozenset({"max_runs", "min_passes", "rerun_filter"})
_RETRY_ARGS = frozenset({"retries", "delay", "cumulative_timing"})
_UNITTEST_BASES = re.compile(r"(^|\.)(TestCase|IsolatedAsyncioTestCase|TransactionTestCase|SimpleTestCase|LiveServerTestCase|AsyncTestCase)$")
_RETRY_NAME = re.compile(r"retr(y|ies|ying)|rerun|repeat_on_fail|flak|backoff|on_exception", re.IGNORECASE)
#: Words of a reason that say "fails now and then" (a plain bug or a timeout does not qualify).
_FLAKY_REASON = re.compile(
    r"flak|intermittent|sporadic|random(ly)? fail|sometimes|occasional|unstable|non-?determinis|\brac(e|y)\b|"
    r"race condition|timing|unreliable",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MarkUse:
    """A mark as it reaches a test, located where it is written."""

    value: Mark | FlakyDecorator
    scope: MarkerScope
    module: ModuleInfo
    node: ast.expr
    via: str | None = None


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
        self.declared = declared
        self.id_hook = id_hook
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
        module_marks = list(self._pytestmark(module, module.scope, MarkerScope.MODULE))
        for name in self._module_names(module):
            value = self.evaluator.lookup(module, module.scope, name)
            if isinstance(value, FunctionRef) and self._matches(name, self._function_patterns):
                self._function(result, module, file_id, name, value, value.module.scope, [], module_marks, unittest=False)
            elif isinstance(value, ClassRef):
                if self._is_unittest(value):
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
        mro = self.mro(cls)
        if _test_attribute(mro) is False:
            return
        if not unittest and any(_defines_init(c.node) for c in mro):
            return  # pytest refuses classes with __init__/__new__ (a warning, no tests)
        # pytest reads class marks base-first (get_unpacked_marks walks the reversed MRO).
        class_marks = [use for c in reversed(mro) for use in self._class_own_marks(c)]
        chain = self._applied_uses(cls, MarkerScope.CLASS) + class_marks + outer_marks
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
            elif not unittest and self._is_test_class(name, member) and not self._is_unittest(member):
                self._class(result, module, f"{class_id}::{name}", member, chain, module_marks, unittest=False)

    def _is_test_class(self, name: str, cls: ClassRef) -> bool:
        """pytest's ``istestclass``: the name matches (or ``__test__ = True``), and not abstract."""
        mro = self.mro(cls)
        if not (self._matches(name, self._class_patterns) or _test_attribute(mro) is True):
            return False
        return not self._is_abstract(cls, mro)

    def _is_abstract(self, cls: ClassRef, mro: list[ClassRef]) -> bool:
        """An ABC with an abstract method no class of the MRO overrides (``inspect.isabstract``)."""
        if not any(_uses_abc(self.evaluator, c) for c in mro):
            return False
        resolved: dict[str, bool] = {}
        for current in reversed(mro):
            for statement in current.node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    resolved[statement.name] = any(_dotted(d).endswith("abstractmethod") for d in statement.decorator_list)
        return any(resolved.values())

    def mro(self, cls: ClassRef) -> list[ClassRef]:
        """C3 linearisation over the classes we can see; external bases end the walk."""
        seen: set[int] = set()

        def linearise(current: ClassRef, depth: int) -> list[ClassRef]:
            if depth > 50 or id(current.node) in seen:
                return [current]
            seen.add(id(current.node))
            bases = [b for b in self._bases(current) if isinstance(b, ClassRef)]
            sequences = [linearise(b, depth + 1) for b in bases] + [bases]
            seen.discard(id(current.node))
            merged = _c3_merge([list(s) for s in sequences])
            return [current, *merged]

        return linearise(cls, 0)

    def _bases(self, cls: ClassRef) -> list[Value | None]:
        scope = cls.module.scope
        return [self.evaluator.evaluate(cls.module, scope, base) for base in cls.node.bases]

    def _is_unittest(self, cls: ClassRef, depth: int = 0) -> bool:
        if depth > 50:
            return False
        for base in self._bases(cls):
            if isinstance(base, External) and _UNITTEST_BASES.search(base.dotted):
                return True
            if isinstance(base, Unbound) and _UNITTEST_BASES.search(base.name):
                return True
            if isinstance(base, ClassRef) and self._is_unittest(base, depth + 1):
                return True
        return False

    def _class_own_marks(self, cls: ClassRef) -> Iterator[MarkUse]:
        scope = cls.module.class_scope(cls.node)
        yield from self._pytestmark(cls.module, scope, MarkerScope.CLASS)
        for decorator in reversed(cls.node.decorator_list):
            yield from self._decorator_marks(cls.module, cls.module.scope, decorator, MarkerScope.CLASS)

    def _pytestmark(self, module: ModuleInfo, scope: Scope, marker_scope: MarkerScope) -> Iterator[MarkUse]:
        bindings = scope.bindings.get("pytestmark")
        if not bindings:
            return
        for binding in bindings:
            if not isinstance(binding, ast.expr):
                value = self.evaluator.lookup(module, scope, "pytestmark")
                for mark in flatten_marks(value):
                    if mark.origin is not None and mark.module is not None:
                        yield MarkUse(mark, marker_scope, mark.module, mark.origin, "pytestmark")
                return
            pieces = binding.elts if isinstance(binding, (ast.List, ast.Tuple)) else [binding]
            for piece in pieces:
                value = self.evaluator.evaluate(module, scope, piece)
                for mark in flatten_marks(value):
                    yield MarkUse(mark, marker_scope, module, piece, _alias(self.evaluator, module, scope, piece))

    def _decorator_marks(self, module: ModuleInfo, scope: Scope, node: ast.expr, marker_scope: MarkerScope) -> Iterator[MarkUse]:
        value = self.evaluator.evaluate(module, scope, node)
        if isinstance(value, Unbound) and value.name == "flaky":
            # `@flaky` from a star import we cannot follow: the flaky package's decorator.
            value = FlakyDecorator(module, *_call_arguments(node))
        if isinstance(value, (Mark, FlakyDecorator)):
            yield MarkUse(value, marker_scope, module, node, _alias(self.evaluator, module, scope, node))
        elif isinstance(value, FunctionRef):
            via = _dotted(node) or None
            for applied in self.applied_marks(value):
                yield MarkUse(applied, marker_scope, module, node, via)

    def _applied_uses(self, target: FunctionRef | ClassRef, marker_scope: MarkerScope) -> list[MarkUse]:
        """Marks applied by calling them on the test (``test_x = pytest.mark.flaky(test_x)``),
        outermost first as decorators are; located at the mark expression of each call."""
        return [
            MarkUse(value, marker_scope, value.module or target.module, call.func)
            for value, call in reversed(target.applied)
        ]

    def applied_marks(self, helper: FunctionRef) -> list[Mark | FlakyDecorator]:
        """The marks a decorator helper applies to its argument: ``def flaky(fn): return
        _timeout(_flaky(fn))`` with ``_flaky = pytest.mark.flaky(reruns=5)``. Empty for anything else."""
        parameters = helper.node.args.posonlyargs + helper.node.args.args
        returned = _single_return(helper.node)
        if not parameters or returned is None:
            return []
        marks: list[Mark | FlakyDecorator] = []
        expression = returned
        while isinstance(expression, ast.Call) and len(expression.args) == 1 and not expression.keywords:
            applied = self.evaluator.evaluate(helper.module, helper.module.scope, expression.func)
            if not isinstance(applied, (Mark, FlakyDecorator)):
                return []
            marks.append(applied)
            expression = expression.args[0]
        if isinstance(expression, ast.Name) and expression.id == parameters[0].arg:
            return marks
        return []

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
        own = self._applied_uses(function, MarkerScope.FUNCTION) + [
            use
            for decorator in reversed(function.node.decorator_list)
            for use in self._decorator_marks(function.module, owner_scope, decorator, MarkerScope.FUNCTION)
        ]
        self._suspect_decorators(result, function, owner_scope, f"{parent_id}::{name}")
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
        flaky_static = [use for use in marks if _is_flaky(use.value)]
        self._suspect_xfails(result, marks, base_id)
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
            found = [use for use in param_marks if _is_flaky(use.value)] + flaky_static
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
            MarkUse(value, MarkerScope.PARAM, module, node, _alias(self.evaluator, module, module.scope, node))
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
                        if _is_flaky(found):
                            yield MarkUse(found, MarkerScope.PARAM, case.module, case.node)

    def _test(self, nodeid: str, function: FunctionRef, name: str, class_name: str | None, line: int, uses: list[MarkUse]) -> FlakyTest:
        markers = tuple(dict.fromkeys(self.marker(use) for use in uses))
        return FlakyTest(
            nodeid=nodeid,
            rootdir=self.config.rootdir,
            path=function.module.path,
            line=line,
            name=name,
            markers=markers,
            class_name=class_name,
            end_line=function.node.end_lineno,
        )

    def marker(self, use: MarkUse) -> Marker:
        value = use.value
        module = value.module or use.module
        keywords = tuple((key, module.source.segment(node)) for key, node in value.keywords)
        positional = tuple(module.source.segment(node) for node in value.positional)
        return Marker(
            kind=self.kind(value),
            scope=use.scope,
            path=use.module.path,
            line=use.node.lineno,
            source=use.module.source.segment(use.node),
            args=keywords,
            positional=positional,
            end_line=use.node.end_lineno,
            via=use.via,
        )

    def kind(self, value: Mark | FlakyDecorator) -> MarkerKind:
        if isinstance(value, FlakyDecorator):
            return MarkerKind.FLAKY
        names = {key for key, _ in value.keywords}
        if names & _RERUNFAILURES_ARGS:
            return MarkerKind.RERUNFAILURES
        if names & _FLAKY_ARGS:
            return MarkerKind.FLAKY
        if names & _RETRY_ARGS:
            return MarkerKind.RETRY
        if len(self.declared) == 1:
            return MarkerKind(next(iter(self.declared)))
        return MarkerKind.UNKNOWN

    # -- suspects ----------------------------------------------------------------------------
    def _suspect_xfails(self, result: ModuleCollection, marks: list[MarkUse], nodeid: str) -> None:
        for use in marks:
            value = use.value
            if not (isinstance(value, Mark) and value.name == "xfail" and value.module is not None):
                continue
            strict = value.keyword("strict")
            strict_value = self.evaluator.evaluate(value.module, value.module.scope, strict) if strict is not None else None
            is_strict = strict_value.value if isinstance(strict_value, Constant) else (self.config.xfail_strict if strict is None else True)
            reason_node = value.keyword("reason")
            if reason_node is None:
                reason_node = next((p for p in value.positional if isinstance(p, ast.Constant) and isinstance(p.value, str)), None)
            reason = value.module.source.segment(reason_node) if reason_node is not None else ""
            if not is_strict and _FLAKY_REASON.search(reason):
                result.findings.append(
                    Finding(
                        "xfail-flaky",
                        use.module.path,
                        use.node.lineno,
                        f"{nodeid}: non-strict xfail for a flaky reason hides both failures and passes",
                        use.module.source.segment(use.node),
                    )
                )

    def _suspect_decorators(self, result: ModuleCollection, function: FunctionRef, scope: Scope, nodeid: str) -> None:
        for decorator in function.node.decorator_list:
            value = self.evaluator.evaluate(function.module, scope, decorator)
            if isinstance(value, (Mark, FlakyDecorator)) or (isinstance(value, Unbound) and value.name == "flaky"):
                continue
            if isinstance(value, FunctionRef) and self.applied_marks(value):
                continue  # a helper that applies marks: reported as the markers themselves
            name = _decorator_name(value, decorator)
            if name and _RETRY_NAME.search(name):
                result.findings.append(
                    Finding(
                        "retry-decorator",
                        function.module.path,
                        decorator.lineno,
                        f"{nodeid}: @{name} looks like a home-made retry, which hides flakiness as a rerun plugin does",
                        function.module.source.segment(decorator),
                    )
                )


def _is_flaky(value: Mark | FlakyDecorator) -> bool:
    return isinstance(value, FlakyDecorator) or value.name == "flaky"


def _call_arguments(node: ast.expr) -> tuple[tuple[ast.expr, ...], tuple[tuple[str, ast.expr], ...]]:
    if isinstance(node, ast.Call):
        return tuple(node.args), tuple((k.arg, k.value) for k in node.keywords if k.arg)
    return (), ()


def _alias(evaluator: Evaluator, module: ModuleInfo, scope: Scope, node: ast.expr) -> str | None:
    """The alias a mark was reached through: ``flaky`` in ``@flaky`` when ``flaky = pytest.mark.flaky(...)``
    or when it is imported from one of the repository's modules; None for the spelled-out mark or the
    ``flaky`` package's own decorator."""
    target = node.func if isinstance(node, ast.Call) else node
    root = target
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name):
        return None
    current: Scope | None = scope
    while current is not None and root.id not in current.bindings:
        current = current.parent
    if current is None:
        return None
    binding = current.bindings[root.id][0]
    from flaketui.discover.symbols import Import, ImportFrom

    if isinstance(binding, Import):
        return None if evaluator.find_module(binding.dotted, module) is None else _dotted(target)
    if isinstance(binding, ImportFrom):
        if evaluator.find_module(binding.module, module) is None:
            return None
        return _dotted(target)
    if isinstance(binding, ast.expr):
        value = evaluator.lookup(module, scope, root.id)
        if isinstance(value, (Mark, FlakyDecorator, Sequence)):
            return _dotted(target)
    return None


def _decorator_name(value: Value | None, node: ast.expr) -> str:
    if isinstance(value, FunctionRef):
        return value.node.name
    if isinstance(value, External):
        return value.dotted
    if isinstance(value, Unbound):
        return value.name
    target = node.func if isinstance(node, ast.Call) else node
    return _dotted(target)


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


def _dunder_all(module: ModuleInfo) -> set[str] | None:
    bindings = module.scope.bindings.get("__all__")
    if bindings and isinstance(bindings[0], (ast.List, ast.Tuple)):
        return {e.value for e in bindings[0].elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return None


def _test_attribute(mro: list[ClassRef]) -> bool | None:
    """The class's ``__test__`` as ``getattr`` finds it along the MRO, when a literal says it."""
    for current in mro:
        for statement in current.node.body:
            if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__test__" for t in statement.targets):
                return bool(statement.value.value) if isinstance(statement.value, ast.Constant) else None
    return None


def _uses_abc(evaluator: Evaluator, cls: ClassRef) -> bool:
    names = [_dotted(b) for b in cls.node.bases] + [_dotted(k.value) for k in cls.node.keywords if k.arg == "metaclass"]
    return any(name.split(".")[-1] in ("ABC", "ABCMeta") for name in names)


def _false_test_flag(evaluator: Evaluator, module: ModuleInfo, scope: Scope) -> bool:
    bindings = scope.bindings.get("__test__")
    if not bindings or not isinstance(bindings[-1], ast.Constant):
        return False
    return not bindings[-1].value


def _defines_init(node: ast.ClassDef) -> bool:
    return any(
        isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name in ("__init__", "__new__")
        for statement in node.body
    )


def _def_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The line of ``def`` itself, below any decorators (where an editor should land)."""
    return node.lineno


def _c3_merge(sequences: list[list[ClassRef]]) -> list[ClassRef]:
    result: list[ClassRef] = []
    sequences = [s for s in sequences if s]
    while sequences:
        for sequence in sequences:
            head = sequence[0]
            if not any(head.node is c.node for other in sequences for c in other[1:]):
                break
        else:  # inconsistent hierarchy: Python would refuse it; keep a depth-first order
            head = sequences[0][0]
        result.append(head)
        sequences = [[c for c in s if c is not head and c.node is not head.node] for s in sequences]
        sequences = [s for s in sequences if s]
    return result
