"""A test's scope: its body, the fixtures it reaches (class, module, conftest.py files up
the tree, transitively, autouse ones too), setup methods, and the helpers they call.
Evidence is found in each piece; the scope rules (state shared across tests) need the
pieces together, so they are computed here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from flaketui.diagnose import markguards
from flaketui.diagnose.catalog import RULES
from flaketui.diagnose.facts import FixtureSpec, FunctionFacts, Hit, MitigationSite
from flaketui.diagnose.module import ClassFacts, ModuleFacts
from flaketui.diagnose.rules import Rule
from flaketui.diagnose.vocabulary import ENV_READ, MUTATORS, QUOTED_NAME, SETTERS, SETUP_NAMES

RULES_BY_ID = {rule.id: rule for rule in RULES}
CALL_RULES = [rule for rule in RULES if rule.calls]

#: How much evidence counts, by how the test reaches it: its own body says most; an autouse
#: fixture runs for every test, so what it does says little about this one.
ROLE_FACTORS = {"test": 1.0, "fixture": 0.8, "setup": 0.7, "autouse": 0.45}
HELPER_FACTOR = 0.9
LOCAL_AUTOUSE_FACTOR = 0.7
BROAD_FIXTURE_FACTOR = 0.5

NETWORK_MARK_NAMES = frozenset(
    {"network", "internet", "online", "remote_data", "requires_network", "requires_internet", "needs_network",
     "integration", "e2e", "live", "external"}
)
#: Plugin fixtures (pytest-django, pytest-docker, pytest-postgresql...) that start live services.
LIVE_FIXTURES = frozenset(
    {"live_server", "docker_services", "docker_ip", "redis_proc", "redisdb", "postgresql_proc", "postgresql",
     "mysql_proc", "mysql", "mongodb", "rabbitmq", "rabbitmq_proc", "elasticsearch_proc", "kafka_server",
     "live_server_url"}
)
#: Plugin fixtures (pytest-playwright, pytest-selenium, pytest-splinter) that drive a browser.
BROWSER_FIXTURES = frozenset({"page", "browser", "context", "selenium", "driver", "splinter_webdriver", "browser_context"})


@dataclass(frozen=True)
class Piece:
    facts: FunctionFacts
    module: ModuleFacts
    role: str
    where: str
    #: How much its evidence counts; a helper inherits (a little less of) its caller's.
    factor: float = 1.0
    #: A module/class/session-scoped fixture (or a helper of one): set up once for many tests.
    broad: bool = False


@dataclass
class Scope:
    test: Piece
    pieces: list[Piece]
    #: Mitigations that cover every piece (module ``pytestmark``, class decorators, module code).
    blanket: list[MitigationSite] = field(default_factory=list)
    #: Hits that only the whole scope reveals, attributed to a piece.
    scope_hits: list[tuple[Piece, Hit, str]] = field(default_factory=list)
    #: What the fixtures the pieces request return (``running_queue`` -> ``taskq.JobQueue().start()``).
    param_values: dict[str, str] = field(default_factory=dict)


def _find_class(module: ModuleFacts, class_name: str | None) -> ClassFacts | None:
    if not class_name:
        return None
    key = class_name.replace(".", "::")
    if key in module.classes:
        return module.classes[key]
    last = key.split("::")[-1]
    return next((c for n, c in module.classes.items() if n.split("::")[-1] == last), None)


def _class_chain(module: ModuleFacts, klass: ClassFacts | None) -> list[ClassFacts]:
    """The class and its bases defined in the same module, nearest first."""
    chain: list[ClassFacts] = []
    pending = [klass] if klass is not None else []
    while pending:
        current = pending.pop(0)
        if current in chain:
            continue
        chain.append(current)
        for base in current.bases:
            found = _find_class(module, base.split(".")[-1])
            if found is not None:
                pending.append(found)
    return chain


def find_test(module: ModuleFacts, name: str, class_name: str | None, line: int) -> FunctionFacts | None:
    klass = _find_class(module, class_name)
    if class_name:
        for candidate in _class_chain(module, klass):
            method = candidate.method(name)
            if method is not None:
                return method
        return None
    return module.function(name) or module.function_at(line)


def inherited_method(module: ModuleFacts, name: str, line: int) -> FunctionFacts | None:
    """The method ``name`` defined at ``line`` in any class of ``module`` (a base class)."""
    for klass in module.classes.values():
        method = klass.method(name)
        if method is not None and method.line == line:
            return method
    return None


@dataclass
class _Level:
    """Fixtures visible at one level (the class, the module, one conftest.py), read on demand."""

    owner: ModuleFacts
    specs: dict[str, tuple[FixtureSpec, Callable[[], FunctionFacts | None]]]

    def get(self, name: str) -> FunctionFacts | None:
        found = self.specs.get(name)
        return None if found is None else found[1]()

    def autouse(self) -> list[str]:
        return [name for name, (spec, _) in self.specs.items() if spec.autouse]


def _module_level(module: ModuleFacts) -> _Level:
    return _Level(module, {
        name: (spec, functools.partial(module.function, function))
        for name, (spec, function) in module.fixture_specs.items()
    })


def _class_level(module: ModuleFacts, chain: list[ClassFacts]) -> _Level:
    specs: dict[str, tuple[FixtureSpec, Callable[[], FunctionFacts | None]]] = {}
    for klass in reversed(chain):
        for name, (spec, method) in klass.fixture_specs.items():
            specs[name] = (spec, functools.partial(klass.method, method))
    return _Level(module, specs)


def assemble(test_facts: FunctionFacts, class_name: str | None, module: ModuleFacts,
             conftests: list[ModuleFacts]) -> Scope:
    """The pieces of one test's scope; ``conftests`` nearest first."""
    chain = _class_chain(module, _find_class(module, class_name))
    test = Piece(test_facts, module, "test", "test body", ROLE_FACTORS["test"])
    scope = Scope(test, [test])
    for klass in chain:
        scope.blanket.extend(klass.mitigations)
    scope.blanket.extend(module.mitigations)

    levels = [_class_level(module, chain), _module_level(module)] + [_module_level(c) for c in conftests]

    wanted: list[tuple[str, int, bool]] = [(name, 0, False) for name in _requests(test_facts)]
    wanted += [(name, 0, False) for klass in chain for name in klass.usefixtures]
    wanted += [(name, 0, False) for name in module.usefixtures]
    for index, visible in enumerate(levels):
        wanted += [(name, index, True) for name in visible.autouse()]
    # An autouse fixture of the test's own class or module is about these tests; one in a
    # conftest.py runs for a whole tree and says little about any single test.
    local_autouse = {name for visible in levels[:2] for name in visible.autouse()}

    seen: set[int] = set()
    missing: list[str] = []
    while wanted:
        name, start, autouse = wanted.pop(0)
        found = _lookup(levels, name, start)
        if found is None:
            missing.append(name)
            continue
        fixture, level, owner = found
        if id(fixture) in seen:
            continue
        seen.add(id(fixture))
        role = "autouse" if autouse else "fixture"
        broad = fixture.fixture is not None and fixture.fixture.scope != "function"
        kind = f"{fixture.fixture.scope}-scoped " if broad and fixture.fixture else ""
        label = f"{'autouse ' if autouse else ''}{kind}fixture {name} in {fixture.path}:{fixture.line}"
        # A broad fixture sets up the world once, the same way every run: weaker evidence.
        factor = LOCAL_AUTOUSE_FACTOR if autouse and name in local_autouse else ROLE_FACTORS[role]
        factor = min(factor, BROAD_FIXTURE_FACTOR) if broad else factor
        if fixture.mark_guarded:
            marks = _marks_of(test_facts, chain, module)
            fixture = replace(fixture, hits=[h for h in fixture.hits
                                             if markguards.applies(fixture.mark_guarded, h.line, marks)])
        scope.pieces.append(Piece(fixture, owner, role, label, factor, broad))
        if fixture.returns:
            scope.param_values.setdefault(name, fixture.returns)
        for requested in _requests(fixture):
            # A fixture that requests its own name overrides the one further up the tree.
            wanted.append((requested, level + 1 if requested == name else 0, autouse))

    for klass in chain:
        for setup_name in sorted(SETUP_NAMES & klass.method_nodes.keys()):
            method = klass.method(setup_name)
            if method is not None:
                scope.pieces.append(Piece(method, module, "setup", f"{method.label} in {method.path}:{method.line}",
                                          ROLE_FACTORS["setup"]))
    for function_name in ("setup_module", "setUpModule", "setup_function"):
        function = module.function(function_name)
        if function is not None:
            scope.pieces.append(Piece(function, module, "setup", f"{function_name} in {function.path}:{function.line}",
                                      ROLE_FACTORS["setup"]))

    _add_helpers(scope, chain)
    _scope_rules(scope, chain, levels, missing)
    return scope


def _marks_of(test: FunctionFacts, chain: list[ClassFacts], module: ModuleFacts) -> frozenset[str]:
    """The marks a test carries: its own, its classes', its module's ``pytestmark``."""
    classes = (markguards.decorator_marks(k.node.decorators) for k in chain if k.node is not None)
    return test.marks.union(*classes, markguards.module_marks(module.text(1, 10**9)))


def _requests(facts: FunctionFacts) -> list[str]:
    names = [p for p in facts.params if p not in {"self", "cls"}]
    return names + facts.usefixtures + sorted(facts.fixture_lookups)


def _lookup(levels: list[_Level], name: str, start: int) -> tuple[FunctionFacts, int, ModuleFacts] | None:
    for index in range(start, len(levels)):
        found = levels[index].get(name)
        if found is not None:
            return found, index, levels[index].owner
    return None


def _add_helpers(scope: Scope, chain: list[ClassFacts]) -> None:
    """Same-module functions (and ``self.`` methods) the pieces call, transitively."""
    seen = {id(p.facts) for p in scope.pieces}
    pending = list(scope.pieces)
    while pending:
        piece = pending.pop(0)
        candidates: list[FunctionFacts] = []
        for name in sorted(piece.facts.calls_bare):
            if name.startswith("test") or name not in piece.module.function_nodes:
                continue
            function = piece.module.function(name)
            if function is not None and function.fixture is None:
                candidates.append(function)
        if piece.module is scope.test.module:
            for name in sorted(piece.facts.calls_self):
                for klass in chain:
                    method = klass.method(name)
                    if method is not None and method.fixture is None:
                        candidates.append(method)
                        break
        for function in candidates:
            if id(function) in seen or len(seen) > 60:
                continue
            seen.add(id(function))
            where = f"helper {function.label}"
            if function.path != scope.test.facts.path:
                where += f" in {function.path}:{function.line}"
            helper = Piece(function, piece.module, "helper", where, round(piece.factor * HELPER_FACTOR, 3), piece.broad)
            scope.pieces.append(helper)
            pending.append(helper)


def _hit(rule_id: str, line: int, end_line: int, fix: tuple[str, int] | None = None) -> Hit:
    return Hit(RULES_BY_ID[rule_id], line, end_line, fix=fix)


def _scope_rules(scope: Scope, chain: list[ClassFacts], levels: list[_Level], missing: list[str]) -> None:
    add = scope.scope_hits.append
    test = scope.test

    # Objects of fixtures that live longer than one test, changed by the test or a fixture.
    for piece in scope.pieces:
        for name in piece.facts.params:
            if name not in piece.facts.mutated:
                continue
            found = _lookup(levels, name, 0)
            spec = None if found is None else found[0].fixture
            if found is None or spec is None or spec.scope == "function":
                continue
            fixture = found[0]
            detail = f"{spec.scope}-scoped fixture {name} ({fixture.path}:{fixture.line})"
            for start, end in piece.facts.mutated[name]:
                add((piece, _hit("fixture.shared-fixture-mutated", start, end), detail))

    # Calls on what a fixture returned: ``api.get(url)`` where ``api`` is ``requests.Session()``.
    for piece in scope.pieces:
        context = piece.facts.context
        for param, rest, call in piece.facts.param_calls:
            found = _lookup(levels, param, 0)
            if context is None or found is None or found[0].returns is None:
                continue
            qualified = found[0].returns + rest
            for rule in CALL_RULES:
                if rule.matches_call(qualified) and (rule.when is None or rule.when(call, context)):
                    start, end = context.lines(call)
                    add((piece, Hit(rule, start, end, qualified), f"{param}{rest}() (fixture {param} is {found[0].returns})"))

    # Module-level containers and globals.
    module = test.module
    writers: dict[str, list[tuple[str, int]]] = {}
    shared = [n for n in test.facts.reads if n not in test.facts.locals and (
        n in module.mutable_globals or (module.declares_globals and n in module.top_names))]
    for shared_name in shared:
        for function in module.functions_mentioning(shared_name):
            if _runs_before(function, test.facts):
                continue
            spots = function.mutated.get(shared_name)
            if spots and shared_name in module.mutable_globals and shared_name not in function.locals:
                writers.setdefault(shared_name, []).append((function.label, spots[0][0]))
            if shared_name in function.globals_declared:
                writers.setdefault(shared_name, []).append((function.label, function.line))
    for piece in scope.pieces:
        if piece.role == "setup" or (piece.role in {"fixture", "autouse"} and piece.facts.has_teardown):
            continue
        owner = piece.module
        for name, spots in piece.facts.mutated.items():
            if name in owner.mutable_globals and name not in piece.facts.locals:
                detail = f"{name}, defined at {owner.path}:{owner.mutable_globals[name]}"
                for start, end in spots:
                    add((piece, _hit("order.module-state-mutation", start, end), detail))
        for text, start, end in piece.facts.imported_mutated:
            if text.split(".")[0] not in piece.facts.imported_restored:
                add((piece, _hit("order.imported-state-mutation", start, end), text))
    for name, (start, end) in test.facts.reads.items():
        if name in test.facts.locals or name not in writers:
            continue
        others = [(label, line) for label, line in writers[name] if label != test.facts.label]
        if others and (name in module.mutable_globals or name in writers):
            label, line = others[0]
            add((test, _hit("order.shared-state-read", start, end, (module.path, line)),
                 f"{name}, changed by {label} (line {line})"))

    _neighbour_rules(scope, levels, add)

    # Class attributes are shared by every test of the class.
    class_names = {k.name.split("::")[-1] for k in chain}
    mutable_attrs = {name: line for klass in reversed(chain) for name, line in klass.mutable_attrs.items()}
    for piece in scope.pieces:
        if piece.role not in {"test", "helper"}:
            continue
        for attr, spots in piece.facts.self_mutated.items():
            if attr in mutable_attrs:
                for start, end in spots:
                    add((piece, _hit("order.class-state", start, end), f"class attribute {attr} (line {mutable_attrs[attr]})"))
        for attr, owned_spots in piece.facts.class_assigned.items():
            for start, end, owner_name in owned_spots:
                if owner_name in {"cls", "type(self)"} or owner_name in class_names:
                    add((piece, _hit("order.class-state", start, end), f"{owner_name}.{attr}"))

    marks = list(test.facts.notable_marks) + [m for k in chain for m in k.notable_marks] + list(module.notable_marks)
    for mark, start, end in marks:
        rule_id = "external.declared-network" if mark.split(".")[0] in NETWORK_MARK_NAMES else "order.explicit-order"
        add((test, _hit(rule_id, start, end), mark))

    cleared = any(p.facts.clears_caches for p in scope.pieces)
    if not cleared:
        for piece in scope.pieces:
            for name in sorted(piece.facts.calls_bare & piece.module.cached_functions.keys()):
                line = _first_call_line(piece.facts, name)
                add((piece, _hit("fixture.cached-function", line, line),
                     f"{name}, cached at {piece.module.path}:{piece.module.cached_functions[name]}"))

    for name in missing:
        if name in LIVE_FIXTURES:
            add((test, _hit("external.live-fixture", test.facts.line, test.facts.line), name))
        elif name in BROWSER_FIXTURES:
            add((test, _hit("async.browser-fixture", test.facts.line, test.facts.line), name))


def _neighbour_rules(scope: Scope, levels: list[_Level], add: Callable[[tuple[Piece, Hit, str]], None]) -> None:
    """State this test reads that another test of its module leaves changed: the victims of
    order dependence, which the polluter's own evidence does not point at."""
    test, module = scope.test, scope.test.module
    label = test.facts.label

    # An imported registry or config that a neighbour fills (``registry.register(...)``).
    for name, (start, end) in test.facts.reads.items():
        if name in test.facts.locals or name not in module.imports or name in module.module_aliases:
            continue
        for other in module.functions_mentioning(name, changing(name)):
            if other.label == label or _runs_before(other, test.facts):
                continue
            spots = [line for text, line, _ in unrestored_writes(other) if text.split(".")[0] == name]
            if spots:
                add((test, _hit("order.shared-state-read", start, end, (module.path, spots[0])),
                     f"{name}, changed by {other.label} (line {spots[0]})"))
                break

    # A module/class/session-scoped fixture that a neighbour changes.
    for param in test.facts.params:
        found = _lookup(levels, param, 0)
        if found is None or found[0].fixture is None or found[0].fixture.scope == "function":
            continue
        for other in module.functions_mentioning(param):
            if other.label != label and param in other.params and param in other.mutated:
                line = other.mutated[param][0][0]
                add((test, _hit("order.shared-fixture-read", test.facts.line, test.facts.line, (module.path, line)),
                     f"{found[0].fixture.scope}-scoped fixture {param}, changed by {other.label} (line {line})"))
                break

    # os.environ / the working directory changed for good by a neighbour, read by this test:
    # a variable it reads by name (any, when it reads the environment whole), or the directory.
    names = (*test.facts.reads, *test.facts.attributes_called)
    if {"setenv", "delenv", "chdir"} & test.facts.attributes_called:
        return
    reads_environment = any(_ENVIRONMENT_READERS.search(n) for n in names)
    variables = _variables_read(test.facts, module) if reads_environment else frozenset()
    reads_directory = any(n.rsplit(".", 1)[-1] in ("getcwd", "cwd") for n in names)
    if not reads_environment and not reads_directory:
        return
    for word in ("environ", "putenv", "chdir"):
        for other in module.functions_mentioning(word):
            if other.label == label or other.fixture is not None:
                continue
            for hit in other.hits:
                if hit.rule.id == "fixture.chdir":
                    changed = "the working directory" if reads_directory else None
                elif hit.rule.id in _ENVIRONMENT_RULES and reads_environment:
                    changed = _variable_changed(hit, variables, module)
                else:
                    changed = None
                if changed is not None:
                    add((test, _hit("order.polluted-environment", test.facts.line, test.facts.line,
                                    (module.path, hit.line)),
                         f"{changed}, changed by {other.label} (line {hit.line})"))
                    return


def _variables_read(facts: FunctionFacts, module: ModuleFacts) -> frozenset[str] | None:
    """The environment variables a test reads by name; None when it reads the environment
    another way (whole, by a computed name, through the code it calls: ``Settings.from_env()``),
    which any change can reach."""
    text = module.text(facts.line, facts.end_line)
    variables = ENV_READ.findall(text)
    every_read_named = len(variables) == len(re.findall(r"\b(?:environ|getenv)\b", text))
    return frozenset(variables) if variables and every_read_named else None


def _variable_changed(hit: Hit, variables: frozenset[str] | None, module: ModuleFacts) -> str | None:
    """What an environment write changes that the test reads: the variable by name, or the whole
    environment (``clear()``, or a test that reads it whole); None for another variable, or one
    the write does not name (precision: spyder's console variable is not the backend's)."""
    written = module.text(hit.line, hit.end_line)
    if ".clear(" in written:
        return "os.environ"
    named = QUOTED_NAME.findall(written)
    if variables is None:
        return f"os.environ[{named[0]!r}]" if named else "os.environ"
    both = [name for name in named if name in variables]
    return f"os.environ[{both[0]!r}]" if both else None


def _runs_before(other: FunctionFacts, test: FunctionFacts) -> bool:
    """A fixture of the module that runs before this test whatever the order (autouse, or one
    the test requests): what it writes is the test's setup, often the very reset that cures
    the flakiness (distributed's reset_nvml_state), never another test's leftover."""
    return other.fixture is not None and (other.fixture.autouse or other.fixture.name in test.params)


_ENVIRONMENT_RULES = frozenset({"fixture.environ-write", "fixture.environ-assign"})
#: Names that read environment variables: ``os.environ``, ``getenv``, ``Settings.from_env``.
#: Not any name with "env" in it: spyder's ``shell.request_env()`` asks a kernel in another
#: process, and ``get_conda_test_env()`` finds a conda environment.
_ENVIRONMENT_READERS = re.compile(r"environ|getenv|(?:^|[._])(?:from|load|read)_env(?:ironment)?$|env_vars?$", re.IGNORECASE)


def _first_call_line(facts: FunctionFacts, name: str) -> int:
    line = facts.reads.get(name)
    return line[0] if line is not None else facts.line


def rule(rule_id: str) -> Rule:
    return RULES_BY_ID[rule_id]


def unrestored_writes(facts: FunctionFacts) -> list[tuple[str, int, bool]]:
    """What ``facts`` changes of imported state and does not put back (a ``finally``, a
    teardown, a removal of what it added): (the text as written, its line, changed in place)."""
    return [(text, start, mutated) for mutated, writes in ((True, facts.imported_mutated), (False, facts.imported_assigned))
            for text, start, _ in writes
            if text not in facts.restored and text.split(".")[0] not in facts.imported_restored]


def changing(name: str) -> re.Pattern[bytes]:
    """A line that may change what ``name`` holds: ``name...`` then an assignment, or a mutating or
    setting call on the same line, or a ``del``. A neighbour whose text has none cannot leave
    ``name`` changed, so it is not read (``asyncio`` is named in every test of a large module)."""
    word = re.escape(name.encode())
    calls = "|".join(sorted(MUTATORS | SETTERS)).encode()
    return re.compile(
        rb"\b" + word + rb"\b[^\n]*(?:[^=!<>]=(?!=)|\.(?:" + calls + rb")\s*\()|^[ \t]*del\b[^\n]*\b" + word + rb"\b",
        re.MULTILINE,
    )
