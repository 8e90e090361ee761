"""What one function says (a test, fixture, helper or setup method): its rule hits,
mitigations, fixtures requested, helpers called and the state it touches.

``module.py`` reads each function at most once per run, when a test's scope first reaches
it; ``scope.py`` then puts a test's functions together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange

from flaketui.diagnose import blocks, clocks, cures, mitigations, state, windows
from flaketui.diagnose.blocks import CLEANUP_CALLS, ends_in_raise, operand_names, restoring
from flaketui.diagnose.catalog import RULES
from flaketui.diagnose.predicates import local_url
from flaketui.diagnose.resolve import Resolver, dotted, import_aliases
from flaketui.diagnose.rules import Mitigation, Rule, RuleContext
from flaketui.diagnose.vocabulary import (
    CLOCK_CALLS,
    DEADLINE_WORDS,
    MUTATORS,
    NAMING_CALLS,
    POLLING_SLEEPS,
    REMOVERS,
    SETTERS,
    TIMER_WORDS,
    UNORDERED_CONSUMERS,
)


@dataclass(frozen=True)
class Hit:
    """One match of a rule in the function read: its lines, and for a call rule the name the
    call resolved to (``qualified``)."""

    rule: Rule
    line: int
    end_line: int
    qualified: str | None = None
    #: Where the fix belongs when not here: the line of another test that leaves state changed.
    fix: tuple[str, int] | None = None


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
    #: ``config.CURRENCY = "USD"`` on an imported module: (text, start, end). Its own evidence is
    #: fixture.module-attribute; a neighbour that reads ``config`` is its victim.
    imported_assigned: list[tuple[str, int, int]] = field(default_factory=list)
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
    #: Qualified names a teardown (after ``yield``, in ``finally``) touches: what it puts back.
    restored: set[str] = field(default_factory=set)
    #: Names bound to a random draw, and the lines of draws whose value cannot change the
    #: outcome (compared with itself after a round trip, or naming the victim of a chaos test).
    random_names: dict[str, int] = field(default_factory=dict)
    benign_random_lines: set[int] = field(default_factory=set)
    #: Set by the module reader before the walk: the function joins threads without a timeout;
    #: a framework bounds its time (``@pytest.mark.timeout``, ``with fail_after(...)``).
    joins_threads: bool = False
    framework_timeout: bool = False
    #: The last line that asserts (``assert``, ``self.assert*``): a kill after it only cleans up.
    last_assert_line: int = 0
    decorator_strings: set[int] = field(default_factory=set)  # a marker's reason="https://..." is no request
    writes_files: bool = False  # it writes, creates or deletes files (``write_text``, ``mkdir``, ``rmtree``)
    #: It expects a timeout to expire (``pytest.raises(TimeoutError)``): a tight one is the point.
    expects_timeout: bool = False
    #: The function read a clock or slept before the current node (timing tolerances follow).
    measures_time: bool = False
    #: Every call (resolved name, line, whether an argument is a URL served locally), and the
    #: functions handed to threads (``target=self._work``): what calls into the project follow.
    calls: list[tuple[str, int, bool]] = field(default_factory=list)
    #: ``self.x += 1`` (or ``self.d[k] = self.d.get(k, 0) + 1``) outside any ``with <lock>``.
    unlocked_updates: list[tuple[str, int]] = field(default_factory=list)
    returns_self: bool = False
    is_async: bool = False
    #: Where its first decorator is, and its docstring (line, text), for the notes people wrote.
    first_line: int = 0
    docstring: tuple[int, str] | None = None
    #: The marks its decorators put on it, and (a fixture) the branches only some marks run.
    marks: frozenset[str] = frozenset()
    mark_guarded: list[tuple[int, int, frozenset[str]]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name


_CALL_RULES = [r for r in RULES if r.calls]
_LOCKISH = re.compile(r"lock|mutex|cond|semaphore|critical", re.IGNORECASE)
_RANDOM_RULE = next(r for r in RULES if r.id == "data.unseeded-random")
_NODE_RULES: dict[type[cst.CSTNode], list[Rule]] = {}
for _rule in RULES:
    if _rule.matcher is not None and _rule.node_type is not None:
        _NODE_RULES.setdefault(_rule.node_type, []).append(_rule)


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
        self.lock_depth = 0
        #: ``with Timer():`` blocks being read: a sleep inside one is the work measured, not a wait.
        self.timed_blocks: set[int] = set()
        #: The function and the functions defined in it, outermost first, while they are read.
        self.defs: list[cst.FunctionDef] = []
        self.local_objects: set[str] = set()
        #: Locals computed from ``self`` attributes (a read of a read-modify-write).
        self.self_derived: dict[str, set[str]] = {}
        self.params = set(facts.params)
        self._seen: set[tuple[str, int]] = set()
        self.in_teardown = False
        #: ``with warnings.catch_warnings():`` blocks being read: what changes inside is put back.
        self.restoring_depth = 0
        #: ``finally:`` and ``except`` bodies being read: a kill there cleans up, it races nothing.
        self.cleanup_depth = 0
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
        return clocks.loop_has_deadline(self, loop)

    def is_deadline(self, node: cst.CSTNode) -> bool:
        return id(node) in self.deadlines

    def is_context_managed(self, node: cst.CSTNode) -> bool:
        return id(node) in self.with_items

    def _mark_deadline(self, expression: cst.BaseExpression) -> None:
        self.deadlines.update(id(call) for call in clocks.calls_within(expression))

    def is_naming_use(self, node: cst.CSTNode) -> bool:
        return id(node) in self.naming

    def _mark_naming(self, expression: cst.BaseExpression) -> None:
        """``f"run-{uuid4().hex}"``, ``str(random.getrandbits(64))``: a value used to name
        something unique, whose randomness is the point rather than a risk."""
        current: cst.BaseExpression | None = expression
        while current is not None:
            self.naming.add(id(current))
            if isinstance(current, cst.BinaryOperation):
                self._mark_naming(current.left)  # ``sleep(random.random() / 20)``: still a pause
                current = current.right
            elif isinstance(current, cst.Attribute | cst.Subscript):
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
        return clocks.is_clock_expression(self, node)

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
            self._restores(node)
            return True
        for rule in () if id(node) in self.facts.decorator_strings else _NODE_RULES.get(type(node), ()):
            if rule.matcher is not None and m.matches(node, rule.matcher) and (rule.when is None or rule.when(node, self)):
                self.hit(rule, node, dotted(node.target) if isinstance(node, cst.AssignTarget) else None)
        if isinstance(node, cst.Assert):
            self.facts.last_assert_line = max(self.facts.last_assert_line, self.lines(node)[1])
        if isinstance(node, cst.Assert) and isinstance(node.test, cst.Comparison):
            if any(isinstance(t.operator, cst.Equal) for t in node.test.comparisons):
                self.facts.asserts_equality = True
        if isinstance(node, cst.Call | cst.Comparison) and self.facts.random_names:
            cures.random_use(self, node)
        if isinstance(node, cst.Call):
            self._call(node)
        elif isinstance(node, cst.FormattedStringExpression):
            self._mark_naming(node.expression)
        elif isinstance(node, cst.Name):
            if node.value not in self.facts.reads:
                self.facts.reads[node.value] = self.lines(node)
        elif isinstance(node, cst.AssignTarget):
            state.assigned(self, node.target, node)
        elif isinstance(node, cst.AugAssign):
            state.assigned(self, node.target, node, augmented=True)
            if not self.lock_depth:
                state.read_modify_write(self, node.target, node)
        elif isinstance(node, cst.Del):
            state.deleted(self, node.target, node)
        elif isinstance(node, cst.With):
            mitigations.with_block(self, node)
            clocks.timers(self, node)
            if any(_LOCKISH.search(dotted(i.item.func if isinstance(i.item, cst.Call) else i.item) or "")
                   for i in node.items):
                self.lock_depth += 1
            if restoring(self, node):
                self.restoring_depth += 1
        elif isinstance(node, cst.While):
            # ``while time.time() < deadline``: the clock bounds a wait, which is the cure.
            self._mark_deadline(node.test)
            self.loop_depth += 1
        elif isinstance(node, cst.Comparison) and any(
            isinstance(n, cst.Name) and n.value in self.clock_names for n in operand_names(node)
        ):
            # ``time() < start + 30`` measures elapsed time; time.elapsed-assert judges it.
            self._mark_deadline(node)
        elif isinstance(node, cst.For):
            # ``for f in os.listdir(d)``: each entry is handled on its own; order rarely matters.
            self.unordered.add(id(node.iter))
        elif isinstance(node, cst.Assign) and any(
            isinstance(t.target, cst.Name) and DEADLINE_WORDS.search(t.target.value) for t in node.targets
        ):
            self._mark_deadline(node.value)
        elif (isinstance(node, cst.Assign) and isinstance(node.value, cst.Call)
              and self.qualify(node.value.func) in {"time.time", "time.time_ns"}):
            # ``start = time.time()`` starts a measurement; an assert on it is time.elapsed-assert.
            self.deadlines.add(id(node.value))
        elif isinstance(node, cst.Try) and node.finalbody is not None:
            # ``finally: os.chdir(old)``: what the function puts back is not what it leaks.
            for inner in m.findall(node.finalbody, m.Name() | m.Attribute()):
                self._restores(inner)
        elif isinstance(node, cst.Finally | cst.ExceptHandler) or ends_in_raise(node):
            self.cleanup_depth += 1
        elif isinstance(node, cst.Global):
            self.facts.globals_declared.update(n.name.value for n in node.names)
        elif isinstance(node, cst.Yield):
            self._returned(node.value)
            self.facts.has_teardown = True
            self.in_teardown = self.is_fixture
        elif isinstance(node, cst.Return) and self.is_fixture:
            self._returned(node.value)
        elif isinstance(node, cst.Return) and isinstance(node.value, cst.Name) and node.value.value == "self":
            self.facts.returns_self = True
        elif isinstance(node, cst.FunctionDef):
            self.defs.append(node)
        elif isinstance(node, cst.Import | cst.ImportFrom):
            bound = import_aliases(node)
            self.resolver.local_names.update(bound)
            self.local_imports.update(bound)
            if isinstance(node, cst.Import):
                self.module_aliases = self.module_aliases | frozenset(bound)
            return False
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if isinstance(original_node, cst.With) and any(
                _LOCKISH.search(dotted(i.item.func if isinstance(i.item, cst.Call) else i.item) or "")
                for i in original_node.items):
            self.lock_depth -= 1
        if isinstance(original_node, cst.With) and restoring(self, original_node):
            self.restoring_depth -= 1
        self.timed_blocks.discard(id(original_node))
        if isinstance(original_node, cst.FunctionDef) and self.defs:
            clocks.leave_def(self, original_node)
            if original_node is self.defs[0]:
                windows.read_sleeps(self, original_node, Hit)
            self.defs.pop()
        if (isinstance(original_node, cst.Finally | cst.ExceptHandler) or ends_in_raise(original_node)) \
                and not self.in_teardown:
            self.cleanup_depth -= 1
        if isinstance(original_node, cst.While) and not self.in_teardown:
            self.loop_depth -= 1
        elif isinstance(original_node, cst.Assign):
            for target in original_node.targets:
                self._bind(target.target, original_node.value)
                if not self.lock_depth:
                    state.read_modify_write(self, target.target, original_node)
        elif isinstance(original_node, cst.AnnAssign) and original_node.value is not None:
            self._bind(original_node.target, original_node.value)

    def _restores(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Name | cst.Attribute):
            # Both spellings: hits name an assigned attribute as written (``settings.DEBUG``).
            for name in (self.qualify(node), dotted(node)):
                if name:
                    self.facts.restored.add(name.replace("()", ""))

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name) and self.facts.class_name:
            self.self_derived[target.value] = state.self_reads(value)
        if isinstance(target, cst.Name) and isinstance(value, cst.Call) and any(local_url(a.value) for a in value.args):
            self.local_objects.add(target.value)  # ``client = Client(receiver.url)``: its calls stay here
        if isinstance(target, cst.Name) and isinstance(value, cst.Call) and _RANDOM_RULE.matches_call(self.qualify(value.func) or ""):
            self.facts.random_names[target.value] = self.lines(value)[0]
        if isinstance(target, cst.Name):
            self.resolver.bind(target, value)
            if self.is_clock_expression(value):
                self.clock_names.add(target.value)

    def _call(self, node: cst.Call) -> None:
        qualified = self.qualify(node.func)
        if qualified is None:
            return
        last = qualified.rsplit(".", 1)[-1].lower()
        if CLOCK_CALLS.match(qualified) or "sleep" in last or "wait" in last or TIMER_WORDS.search(qualified):
            self.facts.measures_time = True  # ``busy_wait(1.0)``: a stretch of wall time passes
        if last in {"append", "add"} and isinstance(node.func, cst.Attribute) and isinstance(node.func.value, cst.Name) \
                and any(self.is_clock_expression(a.value) for a in node.args[:1]):
            self.clock_names.add(node.func.value.value)  # ``stamps.append(time.perf_counter())``
        line = self.lines(node)[0]
        root = node.func
        while isinstance(root, cst.Attribute | cst.Call):
            root = root.value if isinstance(root, cst.Attribute) else root.func
        local = any(local_url(a.value) for a in node.args) or (isinstance(root, cst.Name) and root.value in self.local_objects)
        self.facts.calls.append((qualified, line, local))
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in {"target", "func", "fn", "callback"}:
                handed = self.qualify(arg.value)
                if handed and isinstance(arg.value, cst.Attribute | cst.Name):
                    self.facts.calls.append((handed, line, False))
        for rule in _CALL_RULES:
            if self.loop_depth and rule.id in POLLING_SLEEPS:
                continue  # a sleep inside a while loop is polling: async.polling-loop speaks for it
            if self.timed_blocks and rule.id in POLLING_SLEEPS:
                continue  # a sleep a timer measures stands in for work; the duration's assert speaks
            if self.restoring_depth and rule.id == "fixture.process-config":
                continue  # inside ``with warnings.catch_warnings():`` the change ends with the block
            if self.cleanup_depth and rule.id in CLEANUP_CALLS:
                continue  # ``finally: proc.terminate()``: cleanup after the outcome is decided
            if rule.matches_call(qualified) and (rule.when is None or rule.when(node, self)):
                self.hit(rule, node, qualified)
        head, dot, rest = qualified.partition(".")
        if dot and head in self.params and head not in {"self", "cls"} and head not in self.resolver.local_names:
            self.facts.param_calls.append((head, "." + rest, node))
        if qualified.endswith((".addfinalizer", ".addCleanup")) and self.defs:
            for name in blocks.finalized_names(self.defs[0], node):
                self._restores(name)
        # A random name, a jitter in a sleep, a time stamped into a message sent on: not data checked.
        naming = qualified in NAMING_CALLS or qualified.endswith((".format", ".joinpath", "path.join", "sleep"))
        for value in (a.value for a in node.args) if naming else blocks.payload_values(node):
            self._mark_naming(value)
        if qualified in UNORDERED_CONSUMERS:
            for arg in node.args:
                self.unordered.add(id(arg.value))
                if isinstance(arg.value, cst.GeneratorExp | cst.ListComp | cst.SetComp):
                    self.unordered.update(id(f.iter) for f in clocks.comprehension_fors(arg.value))
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
                state.mutated(self, owner, node, removing=func.attr.value in REMOVERS)
            elif func.attr.value in SETTERS and state.imported_root(self, owner):
                state.mutated(self, owner, node)  # ``CONF.set("main", "size", ...)``: imported configuration
            self._teardown_call(func.attr.value)
        if qualified.endswith(("getfixturevalue", "getfuncargvalue")) and node.args:
            first = node.args[0].value
            if isinstance(first, cst.SimpleString):
                self.facts.fixture_lookups.add(first.evaluated_value if isinstance(first.evaluated_value, str) else "")
        if id(node) not in self.with_items:
            mitigations.call_mitigations(self, node, qualified)

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
