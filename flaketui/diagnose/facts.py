"""What one function says (a test, fixture, helper or setup method): its rule hits,
mitigations, fixtures requested, helpers called and the state it touches.

``module.py`` reads each function at most once per run, when a test's scope first reaches
it; ``scope.py`` then puts a test's functions together.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import translate

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange

from flaketui.diagnose.catalog import RULES
from flaketui.diagnose.resolve import Resolver, dotted, import_aliases
from flaketui.diagnose.rules import Mitigation, Rule, RuleContext

MUTATORS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "remove", "discard",
     "clear", "register", "appendleft", "extendleft", "sort", "reverse", "__setitem__", "__delitem__"}
)
_UNORDERED_CONSUMERS = frozenset(
    {"sorted", "set", "frozenset", "len", "sum", "any", "all", "max", "min", "Counter", "collections.Counter", "dict"}
)
_DEADLINE_WORDS = re.compile(r"deadline|timeout|until|expire|stop_at|end_time|give_up", re.IGNORECASE)
_POLLING_SLEEPS = frozenset({"async.fixed-sleep", "async.blocking-sleep"})
_SETTERS = frozenset({"set", "setValue", "set_option", "set_config", "configure", "override"})
_REMOVERS = frozenset({"pop", "popitem", "remove", "discard", "clear", "__delitem__"})
_NAMING_CALLS = frozenset({"str", "repr", "hex", "pathlib.Path", "os.path.join", "tempfile.mkdtemp", "tempfile.mkstemp"})
_CLOCK_WORDS = re.compile(r"elapsed|duration|took|time_taken|runtime|latency|delta_t|seconds_spent")
SETUP_NAMES = frozenset(
    {"setup_method", "setup", "setUp", "asyncSetUp", "setup_class", "setUpClass", "setup_function", "setup_module", "setUpModule"}
)


def _globs(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(translate(p) for p in patterns))


_CLOCK_CALLS = _globs(
    "time.time", "time.time_ns", "time.monotonic*", "time.perf_counter*", "time.process_time*",
    "datetime.datetime.now", "datetime.datetime.utcnow", "timeit.default_timer", "*loop().time", "*.elapsed*",
)
_SEED_CALLS = _globs(
    "random.seed", "numpy.random.seed", "torch.manual_seed", "torch.cuda.manual_seed*", "tensorflow.random.set_seed",
    "faker.Faker.seed", "*.seed_instance", "random.setstate", "numpy.random.set_state", "*.seed_everything",
    "transformers.set_seed", "*.set_random_seed", "*.set_seed", "torch.use_deterministic_algorithms",
)
CALL_MITIGATIONS: tuple[tuple[re.Pattern[str], Mitigation], ...] = (
    (_globs("freezegun.freeze_time", "*.freeze_time", "pytest.mark.freeze_time", "pytest.mark.time_machine", "time_machine.travel", "*.move_to", "*.tick", "libfaketime.*"),
     Mitigation.FROZEN_TIME),
    (_globs("responses.*", "respx.*", "httpretty.*", "requests_mock.*", "aioresponses.*", "vcr.*", "*.use_cassette",
            "betamax.*", "pook.*", "pytest_httpserver.*", "httpx.MockTransport", "*.add_response", "*.expect_request",
            "werkzeug.*", "pytest_socket.disable_socket", "aiohttp.test_utils.*", "pytest.mark.vcr*",
            "pytest.mark.default_cassette", "pytest.mark.block_network", "pytest.mark.allowed_hosts"),
     Mitigation.MOCK_NETWORK),
    (_globs("moto.*", "botocore.stub.Stubber*", "*.mock_aws", "*.mock_s3", "*.mock_dynamodb*", "*.mock_sqs"),
     Mitigation.MOCK_CLOUD),
    (_globs("pytest_subprocess.*", "*.register_subprocess", "fake_process.*", "fp.register*"), Mitigation.MOCK_SUBPROCESS),
)
MITIGATING_FIXTURES: dict[str, Mitigation] = {
    "freezer": Mitigation.FROZEN_TIME, "time_machine": Mitigation.FROZEN_TIME, "frozen_time": Mitigation.FROZEN_TIME,
    "responses": Mitigation.MOCK_NETWORK, "requests_mock": Mitigation.MOCK_NETWORK, "httpx_mock": Mitigation.MOCK_NETWORK,
    "respx_mock": Mitigation.MOCK_NETWORK, "httpserver": Mitigation.MOCK_NETWORK, "aioresponses": Mitigation.MOCK_NETWORK,
    "mock_aioresponse": Mitigation.MOCK_NETWORK, "vcr": Mitigation.MOCK_NETWORK, "vcr_cassette": Mitigation.MOCK_NETWORK,
    "socket_disabled": Mitigation.MOCK_NETWORK, "httpbin": Mitigation.MOCK_NETWORK, "aiohttp_server": Mitigation.MOCK_NETWORK,
    "fake_process": Mitigation.MOCK_SUBPROCESS, "fp": Mitigation.MOCK_SUBPROCESS,
}
_PATCH_CALLS = _globs(
    "*mock.patch", "*mock.patch.object", "*mock.patch.dict", "*mock.patch.multiple", "patch", "patch.object",
    "mocker.patch", "mocker.patch.*", "*monkeypatch.setattr", "*MonkeyPatch*.setattr", "*.stub", "*.patch.object",
)
_TARGET_WORDS: tuple[tuple[frozenset[str], Mitigation], ...] = (
    (frozenset({"time", "datetime", "now", "utcnow", "today", "date", "monotonic", "perf_counter", "timezone"}),
     Mitigation.FROZEN_TIME),
    (frozenset({"requests", "httpx", "aiohttp", "urlopen", "urllib", "urllib3", "socket", "websockets", "grpc",
                "smtplib", "openai", "anthropic", "redis", "pika", "kafka", "psycopg2", "pymongo", "Session",
                "ClientSession", "AsyncClient", "Client", "urlretrieve", "create_connection"}), Mitigation.MOCK_NETWORK),
    (frozenset({"boto3", "botocore", "client", "resource"}), Mitigation.MOCK_CLOUD),
    (frozenset({"subprocess", "run", "Popen", "check_output", "check_call", "system"}), Mitigation.MOCK_SUBPROCESS),
    (frozenset({"random", "randint", "choice", "shuffle", "uuid4", "uuid1", "urandom"}), Mitigation.SEED),
)
CACHE_DECORATORS = _globs("functools.lru_cache*", "functools.cache", "lru_cache*", "cache", "functools.cached_property",
                           "cachetools.*", "*.memoize*", "joblib.Memory*")
ORDER_MARKS = _globs("pytest.mark.order", "pytest.mark.run", "pytest.mark.first", "pytest.mark.second",
                      "pytest.mark.last", "pytest.mark.second_to_last", "pytest.mark.incremental", "pytest.mark.dependency")
#: Markers by which a project says a test needs the network or a live service.
NETWORK_MARKS = _globs("pytest.mark.network", "pytest.mark.internet", "pytest.mark.online", "pytest.mark.remote_data",
                       "pytest.mark.requires_network", "pytest.mark.requires_internet", "pytest.mark.needs_network",
                       "pytest.mark.integration", "pytest.mark.e2e", "pytest.mark.live", "pytest.mark.external")
MUTABLE_FACTORIES = frozenset(
    {"list", "dict", "set", "defaultdict", "collections.defaultdict", "deque", "collections.deque", "Counter",
     "collections.Counter", "OrderedDict", "collections.OrderedDict", "weakref.WeakValueDictionary",
     "weakref.WeakKeyDictionary", "weakref.WeakSet", "queue.Queue"}
)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    line: int
    end_line: int
    qualified: str | None = None


@dataclass(frozen=True)
class MitigationSite:
    """Something that cancels evidence: ``blanket`` ones cover the whole function (a
    decorator, a requested fixture); others cover ``start..end`` of their own function and
    everything in the other functions of the scope."""

    kind: Mitigation | None
    start: int
    end: int
    blanket: bool = False
    target: str | None = None


@dataclass(frozen=True)
class FixtureSpec:
    name: str
    scope: str = "function"
    autouse: bool = False


@dataclass
class FunctionFacts:
    name: str
    path: str
    line: int
    end_line: int
    class_name: str | None = None
    params: tuple[str, ...] = ()
    fixture: FixtureSpec | None = None
    usefixtures: list[str] = field(default_factory=list)
    notable_marks: list[tuple[str, int, int]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    mitigations: list[MitigationSite] = field(default_factory=list)
    calls_bare: set[str] = field(default_factory=set)
    calls_self: set[str] = field(default_factory=set)
    #: Bare names whose object is changed in place (``x.append``, ``x[k] = v``), with lines.
    mutated: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: ``self.attr`` changed in place (class attributes are shared by every test of the class).
    self_mutated: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: Class attributes assigned through the class (``cls.x = ``, ``type(self).x = ``, ``TestC.x = ``).
    class_assigned: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    #: Imported objects changed in place (``app.registry.append``, ``module.CONFIG[k] = v``).
    imported_mutated: list[tuple[str, int, int]] = field(default_factory=list)
    #: Imported roots the function also removes from (it cleans up what it registered).
    imported_restored: set[str] = field(default_factory=set)
    reads: dict[str, tuple[int, int]] = field(default_factory=dict)
    globals_declared: set[str] = field(default_factory=set)
    fixture_lookups: set[str] = field(default_factory=set)
    #: Attribute names called (``Settings.from_env()`` -> ``from_env``).
    attributes_called: set[str] = field(default_factory=set)
    locals: set[str] = field(default_factory=set)
    has_teardown: bool = False
    clears_caches: bool = False
    #: It asserts that something equals something (``assert x == y``, ``assertEqual``).
    asserts_equality: bool = False
    #: What a fixture returns or yields, resolved (``requests.Session()``), if it can be said.
    returns: str | None = None
    #: Calls on a parameter (``api.get(url)``): (parameter, the rest of the name, the call).
    param_calls: list[tuple[str, str, cst.Call]] = field(default_factory=list)
    #: The reader, kept as the RuleContext of ``param_calls`` once the fixture is known.
    context: RuleContext | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name


_CALL_RULES = [r for r in RULES if r.calls]
_NODE_RULES: dict[type[cst.CSTNode], list[Rule]] = {}
for _rule in RULES:
    if _rule.matcher is not None and _rule.node_type is not None:
        _NODE_RULES.setdefault(_rule.node_type, []).append(_rule)


def target_mitigations(target: str) -> set[Mitigation]:
    """What patching ``target`` cancels: ``mock.patch("app.api.requests.get")`` mocks the network."""
    words = set(re.split(r"[.\[\]()]+", target))
    return {kind for vocabulary, kind in _TARGET_WORDS if words & vocabulary}


class FunctionReader(cst.CSTVisitor):
    """Reads one function (decorators included) into a :class:`FunctionFacts`."""

    def __init__(self, facts: FunctionFacts, resolver: Resolver, positions: Mapping[cst.CSTNode, CodeRange],
                 module_imports: dict[str, str], module_aliases: frozenset[str] = frozenset(), offset: int = 0) -> None:
        self.facts = facts
        #: Positions are computed for the function alone; ``offset`` makes them file lines.
        self.offset = offset
        #: Names bound by ``import x`` / ``import x as y``: modules, not objects.
        self.module_aliases = module_aliases
        self.resolver = resolver
        self.positions = positions
        self.module_imports = module_imports
        #: Names a function imports itself (``import requests`` inside a fixture).
        self.local_imports: set[str] = set()
        self.is_fixture = facts.fixture is not None
        self.clock_names: set[str] = set()
        self.unordered: set[int] = set()
        self.naming: set[int] = set()
        self.local_calls: set[int] = set()
        self.deadlines: set[int] = set()
        self.loop_depth = 0
        self.params = set(facts.params)
        self._seen: set[tuple[str, int]] = set()
        self.in_teardown = False
        #: Calls that are with-items: they mitigate their block only, not the rest of the function.
        self.with_items: set[int] = set()

    # -- RuleContext ------------------------------------------------------------------
    def qualify(self, node: cst.BaseExpression) -> str | None:
        return self.resolver.qualify(node)

    def is_unordered_use(self, node: cst.CSTNode) -> bool:
        return id(node) in self.unordered

    def is_local(self, node: cst.CSTNode) -> bool:
        return id(node) in self.local_calls

    def mark_local(self, node: cst.CSTNode) -> None:
        self.local_calls.add(id(node))

    def loop_has_deadline(self, loop: cst.While) -> bool:
        """The loop checks a clock or a deadline/timeout (``assert time() < start + 5``)."""
        for name in m.findall(loop, m.Name()):
            assert isinstance(name, cst.Name)
            if name.value in self.clock_names or _DEADLINE_WORDS.search(name.value):
                return True
        for call in m.findall(loop, m.Call()):
            assert isinstance(call, cst.Call)
            if _CLOCK_CALLS.match(self.qualify(call.func) or ""):
                return True
        return False

    def is_deadline(self, node: cst.CSTNode) -> bool:
        return id(node) in self.deadlines

    def _mark_deadline(self, expression: cst.BaseExpression) -> None:
        if isinstance(expression, cst.Call):
            self.deadlines.add(id(expression))
        elif isinstance(expression, cst.BinaryOperation):
            self._mark_deadline(expression.left)
            self._mark_deadline(expression.right)
        elif isinstance(expression, cst.Comparison):
            self._mark_deadline(expression.left)
            for target in expression.comparisons:
                self._mark_deadline(target.comparator)
        elif isinstance(expression, cst.BooleanOperation):
            self._mark_deadline(expression.left)
            self._mark_deadline(expression.right)
        elif isinstance(expression, cst.UnaryOperation):
            self._mark_deadline(expression.expression)

    def is_naming_use(self, node: cst.CSTNode) -> bool:
        return id(node) in self.naming

    def _mark_naming(self, expression: cst.BaseExpression) -> None:
        """``f"run-{uuid4().hex}"``, ``str(random.getrandbits(64))``: a value used to name
        something unique, whose randomness is the point rather than a risk."""
        current: cst.BaseExpression | None = expression
        while current is not None:
            self.naming.add(id(current))
            if isinstance(current, cst.Attribute | cst.Subscript):
                current = current.value
            elif isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute):
                current = current.func.value
            else:
                current = None

    def is_imported_name(self, name: str) -> bool:
        if name in self.params:
            return False
        if name in self.local_imports:
            return self.resolver.local_names.get(name, "").split(".")[0] != "<local>"
        return name in self.module_imports and name not in self.resolver.local_names

    def is_clock_expression(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            return node.value in self.clock_names or bool(_CLOCK_WORDS.search(node.value))
        if isinstance(node, cst.Attribute):
            return bool(_CLOCK_WORDS.search(node.attr.value))
        if isinstance(node, cst.Call):
            qualified = self.qualify(node.func) or ""
            if _CLOCK_CALLS.match(qualified):
                return True
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "total_seconds":
                return self.is_clock_expression(node.func.value)
            return any(self.is_clock_expression(a.value) for a in node.args[:1]) and qualified in {"abs", "round", "int", "float"}
        if isinstance(node, cst.BinaryOperation):
            return self.is_clock_expression(node.left) or self.is_clock_expression(node.right)
        return False

    # -- recording ----------------------------------------------------------------------
    def lines(self, node: cst.CSTNode) -> tuple[int, int]:
        where = self.positions.get(node)
        if where is None:
            return (self.facts.line, self.facts.line)
        return (where.start.line + self.offset, where.end.line + self.offset)

    def hit(self, rule: Rule, node: cst.CSTNode, qualified: str | None = None) -> None:
        start, end = self.lines(node)
        if (rule.id, start) in self._seen:
            return
        self._seen.add((rule.id, start))
        self.facts.hits.append(Hit(rule, start, end, qualified))

    def mitigate(self, kind: Mitigation | None, node: cst.CSTNode, *, blanket: bool = False,
                 span: tuple[int, int] | None = None, target: str | None = None) -> None:
        """A site from ``node`` to the end of the function, or over ``span`` (a with-block)."""
        start, end = span if span is not None else (self.lines(node)[0], self.facts.end_line)
        self.facts.mitigations.append(MitigationSite(kind, start, end, blanket, target))

    # -- the walk -----------------------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.in_teardown:
            # After a fixture's yield the test has already run: only cleanup facts matter.
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                self._teardown_call(node.func.attr.value)
            return True
        for rule in _NODE_RULES.get(type(node), ()):
            if rule.matcher is not None and m.matches(node, rule.matcher) and (rule.when is None or rule.when(node, self)):
                self.hit(rule, node, dotted(node.target) if isinstance(node, cst.AssignTarget) else None)
        if isinstance(node, cst.Assert) and isinstance(node.test, cst.Comparison):
            if any(isinstance(t.operator, cst.Equal) for t in node.test.comparisons):
                self.facts.asserts_equality = True
        if isinstance(node, cst.Call):
            self._call(node)
        elif isinstance(node, cst.FormattedStringExpression):
            self._mark_naming(node.expression)
        elif isinstance(node, cst.Name):
            if node.value not in self.facts.reads:
                self.facts.reads[node.value] = self.lines(node)
        elif isinstance(node, cst.AssignTarget):
            self._assigned(node.target, node)
        elif isinstance(node, cst.AugAssign):
            self._assigned(node.target, node, augmented=True)
        elif isinstance(node, cst.Del):
            self._deleted(node.target, node)
        elif isinstance(node, cst.With):
            self._with(node)
        elif isinstance(node, cst.While):
            # ``while time.time() < deadline``: the clock bounds a wait, which is the cure.
            self._mark_deadline(node.test)
            self.loop_depth += 1
        elif isinstance(node, cst.Comparison) and any(
            isinstance(n, cst.Name) and n.value in self.clock_names for n in _operand_names(node)
        ):
            # ``time() < start + 30`` measures elapsed time; time.elapsed-assert judges it.
            self._mark_deadline(node)
        elif isinstance(node, cst.For):
            # ``for f in os.listdir(d)``: each entry is handled on its own; order rarely matters.
            self.unordered.add(id(node.iter))
        elif isinstance(node, cst.Assign) and any(
            isinstance(t.target, cst.Name) and _DEADLINE_WORDS.search(t.target.value) for t in node.targets
        ):
            self._mark_deadline(node.value)
        elif (isinstance(node, cst.Assign) and isinstance(node.value, cst.Call)
              and self.qualify(node.value.func) in {"time.time", "time.time_ns"}):
            # ``start = time.time()`` starts a measurement; an assert on it is time.elapsed-assert.
            self.deadlines.add(id(node.value))
        elif isinstance(node, cst.Global):
            self.facts.globals_declared.update(n.name.value for n in node.names)
        elif isinstance(node, cst.Yield):
            self._returned(node.value)
            self.facts.has_teardown = True
            self.in_teardown = self.is_fixture
        elif isinstance(node, cst.Return) and self.is_fixture:
            self._returned(node.value)
        elif isinstance(node, cst.Import | cst.ImportFrom):
            bound = import_aliases(node)
            self.resolver.local_names.update(bound)
            self.local_imports.update(bound)
            if isinstance(node, cst.Import):
                self.module_aliases = self.module_aliases | frozenset(bound)
            return False
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if isinstance(original_node, cst.While) and not self.in_teardown:
            self.loop_depth -= 1
        elif isinstance(original_node, cst.Assign):
            for target in original_node.targets:
                self._bind(target.target, original_node.value)
        elif isinstance(original_node, cst.AnnAssign) and original_node.value is not None:
            self._bind(original_node.target, original_node.value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.resolver.bind(target, value)
            if self.is_clock_expression(value):
                self.clock_names.add(target.value)

    def _call(self, node: cst.Call) -> None:
        qualified = self.qualify(node.func)
        if qualified is None:
            return
        for rule in _CALL_RULES:
            if self.loop_depth and rule.id in _POLLING_SLEEPS:
                continue  # a sleep inside a while loop is polling: async.polling-loop speaks for it
            if rule.matches_call(qualified) and (rule.when is None or rule.when(node, self)):
                self.hit(rule, node, qualified)
        head, dot, rest = qualified.partition(".")
        if dot and head in self.params and head not in {"self", "cls"} and head not in self.resolver.local_names:
            self.facts.param_calls.append((head, "." + rest, node))
        if qualified in _NAMING_CALLS or qualified.endswith((".format", ".joinpath", "path.join", "sleep")):
            # A random name, or a random jitter in a sleep, is not data the test checks.
            for arg in node.args:
                self._mark_naming(arg.value)
        if qualified in _UNORDERED_CONSUMERS:
            for arg in node.args:
                self.unordered.add(id(arg.value))
                if isinstance(arg.value, cst.GeneratorExp | cst.ListComp | cst.SetComp):
                    self.unordered.update(id(f.iter) for f in _comprehension_fors(arg.value))
        func = node.func
        if isinstance(func, cst.Name):
            self.facts.calls_bare.add(func.value)
        elif isinstance(func, cst.Attribute):
            self.facts.attributes_called.add(func.attr.value)
            if func.attr.value in {"assertEqual", "assertEquals", "assertListEqual", "assert_equal"}:
                self.facts.asserts_equality = True
            owner = func.value
            if isinstance(owner, cst.Name) and owner.value in {"self", "cls"}:
                self.facts.calls_self.add(func.attr.value)
            if func.attr.value in MUTATORS:
                self._mutated(owner, node, removing=func.attr.value in _REMOVERS)
            elif func.attr.value in _SETTERS and self._imported_root(owner):
                self._mutated(owner, node)  # ``CONF.set("main", "size", ...)``: imported configuration
            self._teardown_call(func.attr.value)
        if qualified.endswith(("getfixturevalue", "getfuncargvalue")) and node.args:
            first = node.args[0].value
            if isinstance(first, cst.SimpleString):
                self.facts.fixture_lookups.add(first.evaluated_value if isinstance(first.evaluated_value, str) else "")
        if id(node) not in self.with_items:
            self._call_mitigations(node, qualified)

    def _returned(self, value: cst.CSTNode | None) -> None:
        if self.facts.returns is None and isinstance(value, cst.BaseExpression):
            qualified = self.qualify(value)
            if qualified is not None and not qualified.startswith("<local>"):
                self.facts.returns = qualified

    def _teardown_call(self, attribute: str) -> None:
        if attribute in {"stop", "stopall", "addCleanup", "addfinalizer", "close", "shutdown", "terminate",
                         "join", "__exit__", "undo", "enterContext", "enter_context"}:
            self.facts.has_teardown = True
        if attribute == "cache_clear":
            self.facts.clears_caches = True

    def _call_mitigations(self, node: cst.Call, qualified: str, *, blanket: bool = False,
                          span: tuple[int, int] | None = None) -> None:
        if _SEED_CALLS.match(qualified) and node.args and not any(self.is_clock_expression(a.value) for a in node.args):
            self.mitigate(Mitigation.SEED, node, blanket=blanket, span=span)
        for pattern, kind in CALL_MITIGATIONS:
            if pattern.match(qualified):
                self.mitigate(kind, node, blanket=blanket, span=span)
        if _PATCH_CALLS.match(qualified):
            target = self._patch_target(node, qualified)
            if target:
                kinds: Collection[Mitigation | None] = target_mitigations(target) or {None}
                for patched in kinds:
                    self.mitigate(patched, node, blanket=blanket, span=span, target=target)

    def _patch_target(self, node: cst.Call, qualified: str) -> str | None:
        args = [a for a in node.args if a.keyword is None]
        if not args:
            return None
        first = args[0].value
        if isinstance(first, cst.SimpleString) and isinstance(first.evaluated_value, str):
            return first.evaluated_value
        owner = self.qualify(first)
        if owner is not None and len(args) > 1 and isinstance(args[1].value, cst.SimpleString):
            name = args[1].value.evaluated_value
            return f"{owner}.{name}" if isinstance(name, str) else owner
        return owner

    def decorator(self, decorator: cst.Decorator) -> None:
        """Decorators cover the whole function: ``@freeze_time``, ``@responses.activate``, ``@patch(...)``."""
        expression = decorator.decorator
        call = expression if isinstance(expression, cst.Call) else None
        qualified = self.qualify(call.func if call is not None else expression) or ""
        if call is not None:
            self._call_mitigations(call, qualified, blanket=True)
        for pattern, kind in CALL_MITIGATIONS:
            if call is None and pattern.match(qualified):
                self.mitigate(kind, decorator, blanket=True)

    def _with(self, node: cst.With) -> None:
        span = self.lines(node)
        for item in node.items:
            if isinstance(item.item, cst.Call):
                self.with_items.add(id(item.item))
                qualified = self.qualify(item.item.func)
                if qualified is not None:
                    self._call_mitigations(item.item, qualified, span=span)
            if item.asname is not None:
                self._bind(item.asname.name, item.item)

    def _imported_root(self, owner: cst.BaseExpression) -> bool:
        while isinstance(owner, cst.Attribute | cst.Subscript):
            owner = owner.value
        return isinstance(owner, cst.Name) and self.is_imported_name(owner.value) and owner.value not in self.module_aliases

    def _mutated(self, owner: cst.BaseExpression, node: cst.CSTNode, removing: bool = False) -> None:
        """``owner`` is changed in place: attribute it to the name at the root of its chain.
        ``removing`` (``del x[k]``, ``x.pop(k)``) on an imported registry is cleanup, not pollution."""
        start, end = self.lines(node)
        root, attrs = owner, []
        while isinstance(root, cst.Attribute | cst.Subscript):
            if isinstance(root, cst.Attribute):
                attrs.append(root.attr.value)
            root = root.value
        if not isinstance(root, cst.Name):
            return
        base = root.value
        attrs.reverse()
        if base == "self":
            if attrs:
                self.facts.self_mutated.setdefault(attrs[0], []).append((start, end))
        elif base == "cls":
            if attrs:
                self.facts.class_assigned.setdefault(attrs[0], []).append((start, end, "cls"))
        elif self.is_imported_name(base):
            # ``np.add(a, b)`` calls a module's function; ``plugins.register(x)`` (an imported
            # object) and ``myapp.REGISTRY.append(x)`` change state that outlives the test.
            if base in self.module_aliases and not attrs:
                return
            if (self.qualify(owner) or "").startswith(("os.environ", "sys.path", "sys.modules")):
                return
            if removing:
                self.facts.imported_restored.add(base)
            else:
                self.facts.imported_mutated.append((".".join([base, *attrs]), start, end))
        else:
            self.facts.mutated.setdefault(base, []).append((start, end))

    def _assigned(self, target: cst.BaseExpression, node: cst.CSTNode, augmented: bool = False) -> None:
        if isinstance(target, cst.Subscript):
            self._mutated(target.value, node)
        elif isinstance(target, cst.Attribute):
            owner = target.value
            start, end = self.lines(node)
            if isinstance(owner, cst.Name) and owner.value == "cls":
                self.facts.class_assigned.setdefault(target.attr.value, []).append((start, end, "cls"))
            elif _is_type_of_self(owner):
                self.facts.class_assigned.setdefault(target.attr.value, []).append((start, end, "type(self)"))
            elif isinstance(owner, cst.Name) and owner.value not in {"self"} and not self.is_imported_name(owner.value):
                # ``TestC.x = 1`` (a class of the module) or ``config.debug = True`` (a fixture's object).
                self.facts.class_assigned.setdefault(target.attr.value, []).append((start, end, owner.value))
                self.facts.mutated.setdefault(owner.value, []).append((start, end))
            elif isinstance(owner, cst.Attribute) and isinstance(owner.value, cst.Name) and owner.value.value == "self":
                self.facts.self_mutated.setdefault(owner.attr.value, []).append((start, end))
        elif isinstance(target, cst.Name) and augmented:
            if target.value in self.facts.globals_declared:
                self.facts.mutated.setdefault(target.value, []).append(self.lines(node))

    def _deleted(self, target: cst.BaseExpression, node: cst.CSTNode) -> None:
        if isinstance(target, cst.Subscript):
            if self.qualify(target.value) == "os.environ":
                rule = next(r for r in RULES if r.id == "fixture.environ-write")
                self.hit(rule, node, "os.environ.__delitem__")
            self._mutated(target.value, node, removing=True)


def _is_type_of_self(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Attribute) and node.attr.value == "__class__":
        return isinstance(node.value, cst.Name) and node.value.value == "self"
    return (
        isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "type"
        and len(node.args) == 1 and isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == "self"
    )


def _comprehension_fors(node: cst.GeneratorExp | cst.ListComp | cst.SetComp) -> list[cst.CompFor]:
    fors = []
    current: cst.CompFor | None = node.for_in
    while current is not None:
        fors.append(current)
        current = current.inner_for_in
    return fors


def _operand_names(comparison: cst.Comparison) -> list[cst.BaseExpression]:
    """The plain names among a comparison's operands, including inside ``start + 30``."""
    found: list[cst.BaseExpression] = []
    pending: list[cst.BaseExpression] = [comparison.left, *(t.comparator for t in comparison.comparisons)]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.BinaryOperation):
            pending += [current.left, current.right]
        elif isinstance(current, cst.Name):
            found.append(current)
    return found
