"""A module, read lazily: its top level (imports, globals, marks, which functions are
fixtures) at once, and each function only when a test's scope reaches it.

Positions are what libcst charges most for (its PositionProvider walks the whole module),
so they are computed for one function at a time and shifted to file lines with the
line numbers of the standard library's ``ast`` (a C parser, a millisecond per module).
"""

from __future__ import annotations

import ast
import re
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from flaketui.diagnose import cures, markguards, mitigations, trees
from flaketui.diagnose.facts import (
    FixtureSpec,
    FunctionFacts,
    FunctionReader,
    MitigationSite,
)
from flaketui.diagnose.resolve import Resolver, dotted, import_aliases
from flaketui.diagnose.vocabulary import (
    CACHE_DECORATORS,
    CALL_MITIGATIONS,
    MITIGATING_FIXTURES,
    MUTABLE_FACTORIES,
    NETWORK_MARKS,
    ORDER_MARKS,
)
from flaketui.pyast import parse_module

_TEARDOWN_SENSITIVE = frozenset({"fixture.no-teardown", "fixture.patch-not-stopped"})
_FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest.yield_fixture", "pytest_asyncio.fixture", "fixture"})

Marks = list[tuple[str, int, int]]


@dataclass
class ClassFacts:
    name: str
    line: int
    bases: tuple[str, ...]
    module: ModuleFacts = field(repr=False)
    method_nodes: dict[str, cst.FunctionDef] = field(default_factory=dict)
    mutable_attrs: dict[str, int] = field(default_factory=dict)
    usefixtures: list[str] = field(default_factory=list)
    mitigations: list[MitigationSite] = field(default_factory=list)
    notable_marks: Marks = field(default_factory=list)
    fixture_specs: dict[str, tuple[FixtureSpec, str]] = field(default_factory=dict)
    node: cst.ClassDef | None = field(default=None, repr=False)

    def method(self, name: str) -> FunctionFacts | None:
        node = self.method_nodes.get(name)
        return None if node is None else self.module.read(node, self.name)

    def methods(self) -> Iterator[FunctionFacts]:
        for name in self.method_nodes:
            method = self.method(name)
            if method is not None:
                yield method


@dataclass
class ModuleFacts:
    path: str
    imports: dict[str, str] = field(default_factory=dict)
    module_aliases: frozenset[str] = frozenset()
    mutable_globals: dict[str, int] = field(default_factory=dict)
    cached_functions: dict[str, int] = field(default_factory=dict)
    usefixtures: list[str] = field(default_factory=list)
    mitigations: list[MitigationSite] = field(default_factory=list)
    notable_marks: Marks = field(default_factory=list)
    classes: dict[str, ClassFacts] = field(default_factory=dict)
    function_nodes: dict[str, cst.FunctionDef] = field(default_factory=dict)
    #: Module-level fixtures: fixture name -> (spec, function name).
    fixture_specs: dict[str, tuple[FixtureSpec, str]] = field(default_factory=dict)
    #: ``global`` appears somewhere: only then must every function be read for writers.
    declares_globals: bool = False
    #: Names assigned at the top level (globals a ``global`` statement may rebind).
    top_names: frozenset[str] = frozenset()
    error: str | None = None
    _reader: _ModuleReader | None = field(default=None, repr=False)
    _read: dict[int, FunctionFacts] = field(default_factory=dict, repr=False)

    def read(self, node: cst.FunctionDef, class_name: str | None) -> FunctionFacts:
        key = id(node)
        if key not in self._read:
            assert self._reader is not None
            self._read[key] = self._reader.function(node, class_name)
        return self._read[key]

    def function(self, name: str) -> FunctionFacts | None:
        node = self.function_nodes.get(name)
        return None if node is None else self.read(node, None)

    def fixture(self, name: str) -> FunctionFacts | None:
        found = self.fixture_specs.get(name)
        return None if found is None else self.function(found[1])

    def function_at(self, line: int) -> FunctionFacts | None:
        assert self._reader is not None
        for name, node in self.function_nodes.items():
            if self._reader.def_line(node, None) == line:
                return self.function(name)
        return None

    def text(self, start: int, end: int) -> str:
        assert self._reader is not None
        return self._reader.text_of(start, end)

    def self_attributes(self, class_name: str) -> dict[str, str]:
        assert self._reader is not None
        return self._reader.self_attributes(class_name)

    def functions_mentioning(self, name: str, text: re.Pattern[bytes] | None = None) -> Iterator[FunctionFacts]:
        """Functions and methods whose text contains ``name`` (and matches ``text``, when given): the
        only ones that can write it. Reading an 8,000-line module whole costs seconds; a word search
        costs nothing."""
        assert self._reader is not None
        yield from self._reader.mentioning(name, text)

    def all_functions(self) -> Iterator[FunctionFacts]:
        for name in self.function_nodes:
            function = self.function(name)
            if function is not None:
                yield function
        for klass in self.classes.values():
            yield from klass.methods()


def read_module(path: str, source: bytes) -> ModuleFacts:
    """The top level of one module; a file that does not parse gives facts with ``error`` set."""
    facts = ModuleFacts(path)
    try:
        tree: ast.Module | None = parse_module(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        if not isinstance(exc, SyntaxError) or "nested" in str(exc):
            # libcst's native parser crashes the process on nesting this deep: do not hand it over.
            facts.error = f"{path} nests too deeply to analyse"
            return facts
        tree = None  # perhaps newer syntax than this interpreter knows; libcst may still read it
    module = trees.parse(source)  # the remedies read the same tree
    if module is None:
        try:
            cst.parse_module(source)  # again, for its message
        except (cst.ParserSyntaxError, UnicodeError, LookupError, SyntaxError, ValueError) as exc:
            facts.error = f"{path} does not parse: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        else:
            facts.error = f"{path} does not parse"
        return facts
    facts.declares_globals = b"global " in source
    reader = _ModuleReader(facts, module, tree)
    reader._source_lines = source.splitlines()
    facts._reader = reader
    reader.top_level(module.body)
    facts.top_names = frozenset(reader.lines.names)
    return facts


def _statements(body: Sequence[cst.BaseStatement]) -> Iterator[tuple[cst.BaseStatement, bool]]:
    """Top-level statements, and those under ``if``/``try`` guards (flagged ``True``)."""
    for statement in body:
        yield statement, False
        if isinstance(statement, cst.If):
            for nested, _ in _statements(_block(statement.body)):
                yield nested, True
            if isinstance(statement.orelse, cst.Else):
                for nested, _ in _statements(_block(statement.orelse.body)):
                    yield nested, True
        elif isinstance(statement, cst.Try):
            blocks = [statement.body, *(h.body for h in statement.handlers)]
            if statement.orelse is not None:
                blocks.append(statement.orelse.body)
            for block in blocks:
                for nested, _ in _statements(_block(block)):
                    yield nested, True


def _block(suite: cst.BaseSuite) -> Sequence[cst.BaseStatement]:
    """The statements of an indented block; a one-line suite (``if x: y = 1``) holds none we read."""
    return suite.body if isinstance(suite, cst.IndentedBlock) else ()


class _AstLines:
    """Line numbers from ``ast``: each def (by class chain and name, in source order), top-level names."""

    def __init__(self, tree: ast.Module | None) -> None:
        self.defs: dict[tuple[str | None, str], deque[tuple[int, int]]] = {}
        self.classes: dict[str, tuple[int, list[int]]] = {}
        self.names: dict[str, int] = {}
        self.class_attributes: dict[tuple[str, str], int] = {}
        if tree is not None:
            self._body(tree.body, None)

    def _body(self, body: list[ast.stmt], chain: str | None) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.defs.setdefault((chain, node.name), deque()).append((node.lineno, node.end_lineno or node.lineno))
            elif isinstance(node, ast.ClassDef):
                name = f"{chain}::{node.name}" if chain else node.name
                self.classes[name] = (node.lineno, [d.lineno for d in node.decorator_list])
                self._body(node.body, name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and chain is None:
                        self.names[target.id] = node.lineno
                    elif isinstance(target, ast.Name) and chain is not None:
                        self.class_attributes[(chain, target.id)] = node.lineno
            elif isinstance(node, ast.If | ast.Try) and chain is None:
                blocks = [node.body, node.orelse] if isinstance(node, ast.If) else [
                    node.body, *(h.body for h in node.handlers), node.orelse]
                for block in blocks:
                    self._body(block, chain)


class _ModuleReader:
    def __init__(self, facts: ModuleFacts, module: cst.Module, tree: ast.Module | None) -> None:
        self.facts = facts
        self.module = module
        self.lines = _AstLines(tree)
        self.resolver = Resolver(facts.imports)
        self._def_lines: dict[int, int] = {}
        #: Every function and method with its line span, to find those that mention a name.
        self._spans: list[tuple[cst.FunctionDef, str | None, int, int]] = []
        self._source_lines: list[bytes] = []
        self._whole: dict[cst.CSTNode, CodeRange] | None = None
        self._self_attributes: dict[str, dict[str, str]] = {}

    def text_of(self, start: int, end: int) -> str:
        return b"\n".join(self._source_lines[start - 1:end]).decode("utf-8", errors="replace")

    def mentioning(self, name: str, text: re.Pattern[bytes] | None = None) -> Iterator[FunctionFacts]:
        word = re.compile(rb"\b" + re.escape(name.encode()) + rb"\b")
        for node, chain, start, end in self._spans:
            body = b"\n".join(self._source_lines[start - 1:end])
            if word.search(body) and (text is None or text.search(body)):
                yield self.facts.read(node, chain)

    # -- positions --------------------------------------------------------------------
    def def_line(self, node: cst.FunctionDef, class_name: str | None) -> int:
        return self._def_lines.get(id(node), 0)

    def _positions(self, node: cst.FunctionDef) -> tuple[Mapping[cst.CSTNode, CodeRange], int]:
        known = self._def_lines.get(id(node))
        if known:
            positions = MetadataWrapper(cst.Module(body=[node]), unsafe_skip_copy=True).resolve(PositionProvider)
            return positions, known - positions[node.name].start.line
        if self._whole is None:
            # ``ast`` could not parse what libcst did: pay for the whole module once.
            self._whole = dict(MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider))
        return self._whole, 0

    # -- top level --------------------------------------------------------------------
    def top_level(self, body: Sequence[cst.BaseStatement]) -> None:
        for statement, _ in _statements(body):
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.Import | cst.ImportFrom):
                        bound = import_aliases(small)
                        self.facts.imports.update(bound)
                        if isinstance(small, cst.Import):
                            self.facts.module_aliases |= frozenset(bound)
        module_level = FunctionFacts("<module>", self.facts.path, 1, 1 << 30)
        for statement, _ in _statements(body):
            if isinstance(statement, cst.FunctionDef):
                self._register_function(statement, None)
                self.facts.function_nodes[statement.name.value] = statement
                spec = self._fixture_spec(statement)
                if spec is not None:
                    self.facts.fixture_specs[spec.name] = (spec, statement.name.value)
                if any(CACHE_DECORATORS.match(self._decorator_name(d)) for d in statement.decorators):
                    self.facts.cached_functions[statement.name.value] = self._def_lines.get(id(statement), 1)
            elif isinstance(statement, cst.ClassDef):
                self.klass(statement, None)
            elif isinstance(statement, cst.SimpleStatementLine):
                self.simple(statement, module_level)
        self.facts.mitigations.extend(
            MitigationSite(s.kind, s.start, s.end, True, s.target) for s in module_level.mitigations
        )

    def _register_function(self, node: cst.FunctionDef, chain: str | None) -> None:
        lines = self.lines.defs.get((chain, node.name.value))
        if lines:
            start, end = lines.popleft()
            self._def_lines[id(node)] = start
            self._spans.append((node, chain, start, end))

    def simple(self, statement: cst.SimpleStatementLine, module_level: FunctionFacts) -> None:
        for small in statement.body:
            if not isinstance(small, cst.Assign | cst.AnnAssign) or small.value is None:
                continue
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            for target in targets:
                if not isinstance(target, cst.Name):
                    continue
                line = self.lines.names.get(target.value, 1)
                if target.value == "pytestmark":
                    self.marks_into(_mark_expressions(small.value), line, self.facts.usefixtures,
                                    self.facts.notable_marks, self.facts.mitigations)
                elif _is_mutable(small.value, self.resolver):
                    self.facts.mutable_globals[target.value] = line
        if all(isinstance(small, cst.Import | cst.ImportFrom) for small in statement.body):
            return
        # Module code runs once at import: only what it mitigates (a seed, a patch) matters.
        statement.visit(FunctionReader(module_level, self.resolver, {}, self.facts.imports, self.facts.module_aliases))

    def _decorator_name(self, decorator: cst.Decorator) -> str:
        expression = decorator.decorator
        if isinstance(expression, cst.Call):
            expression = expression.func
        return self.resolver.qualify(expression) or ""

    def _fixture_spec(self, node: cst.FunctionDef) -> FixtureSpec | None:
        for decorator in node.decorators:
            name = self._decorator_name(decorator)
            if name in _FIXTURE_DECORATORS or name.endswith(".fixture"):
                return _fixture_spec(node.name.value, decorator.decorator)
        return None

    def marks_into(self, expressions: list[cst.BaseExpression], line: int, usefixtures: list[str],
                   notable_marks: Marks, mitigations: list[MitigationSite]) -> None:
        for expression in expressions:
            call = expression if isinstance(expression, cst.Call) else None
            qualified = self.resolver.qualify(call.func if call is not None else expression) or ""
            if qualified.endswith("mark.usefixtures") and call is not None:
                usefixtures.extend(
                    a.value.evaluated_value for a in call.args
                    if isinstance(a.value, cst.SimpleString) and isinstance(a.value.evaluated_value, str)
                )
            elif ORDER_MARKS.match(qualified) or NETWORK_MARKS.match(qualified):
                if qualified.endswith("dependency") and not _names_others(call, {"depends"}):
                    continue
                if ORDER_MARKS.match(qualified) and not qualified.endswith(("dependency", "incremental")) \
                        and not _names_others(call, {"after", "before"}):
                    continue  # ``order(2)``, ``first``: a pinned place, the same on every run
                notable_marks.append((qualified.removeprefix("pytest.mark."), line, line))
            for pattern, kind in CALL_MITIGATIONS:
                if pattern.match(qualified):
                    mitigations.append(MitigationSite(kind, line, line, True))

    # -- functions and classes ----------------------------------------------------------
    def function(self, node: cst.FunctionDef, class_name: str | None) -> FunctionFacts:
        positions, offset = self._positions(node)
        where = positions[node]
        params = tuple(
            p.name.value for p in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params)
        )
        facts = FunctionFacts(node.name.value, self.facts.path, positions[node.name].start.line + offset,
                              where.end.line + offset, class_name, params)
        facts.fixture = self._fixture_spec(node)
        resolver = self.resolver.child(self.self_attributes(class_name) if class_name else None)
        reader = FunctionReader(facts, resolver, positions, self.facts.imports, self.facts.module_aliases, offset)
        facts.is_async = node.asynchronous is not None
        text = self.text_of(facts.line, facts.end_line)
        facts.marks, facts.mark_guarded = markguards.read(node, text, positions, offset)
        for decorator in node.decorators:
            start, _ = reader.lines(decorator)
            self.marks_into([decorator.decorator], start, facts.usefixtures, facts.notable_marks, facts.mitigations)
        cures.prescan(facts, node, reader.resolver, text)
        node.visit(reader)
        facts.context = reader
        for decorator in node.decorators:
            mitigations.decorator(reader, decorator)
        for param in params:
            if param in MITIGATING_FIXTURES:
                facts.mitigations.append(MitigationSite(MITIGATING_FIXTURES[param], facts.line, facts.end_line, True))
        outer = self.resolver.local_names
        facts.locals = {k for k, v in reader.resolver.local_names.items() if outer.get(k) != v} | set(params)
        facts.first_line = where.start.line + offset
        docstring = node.get_docstring()
        if docstring and isinstance(node.body, cst.IndentedBlock) and node.body.body:
            facts.docstring = (positions[node.body.body[0]].start.line + offset, docstring)
        cures.apply(facts, node, reader.resolver, docstring or "")
        if facts.has_teardown:
            facts.hits = [h for h in facts.hits if h.rule.id not in _TEARDOWN_SENSITIVE]
        if not facts.asserts_equality:
            # A set passed along only matters when its order reaches an exact comparison.
            facts.hits = [h for h in facts.hits if h.rule.id != "data.string-set-passed"]
        # ``mod.attr = fake`` ... ``mod.attr = original``: patched and put back by hand.
        assigned = Counter(h.qualified for h in facts.hits if h.rule.id == "fixture.module-attribute")
        facts.hits = [h for h in facts.hits if h.rule.id != "fixture.module-attribute" or assigned[h.qualified] < 2]
        return facts

    def self_attributes(self, class_name: str) -> dict[str, str]:
        """What ``self.x`` holds in the methods of a class: its annotated fields (a dataclass's
        ``tags: set[str]``) and what ``__init__`` assigns (``self._jobs = queue.Queue()``)."""
        if class_name in self._self_attributes:
            return self._self_attributes[class_name]
        found: dict[str, str] = {}
        self._self_attributes[class_name] = found
        klass = self.facts.classes.get(class_name)
        if klass is None or klass.node is None:
            return found
        body = klass.node.body.body if isinstance(klass.node.body, cst.IndentedBlock) else ()
        for statement in body:
            for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    annotated = self._annotated(small.annotation.annotation)
                    if annotated:
                        found[small.target.value] = annotated
        init = klass.method_nodes.get("__init__")
        for assign in m.findall(init, m.Assign() | m.AnnAssign()) if init is not None else ():
            if not isinstance(assign, cst.Assign | cst.AnnAssign):
                continue
            targets = [t.target for t in assign.targets] if isinstance(assign, cst.Assign) else [assign.target]
            value = assign.value
            for target in targets:
                if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                        and target.value.value == "self" and value is not None):
                    qualified = self.resolver.qualify(value)
                    if isinstance(assign, cst.AnnAssign):
                        qualified = self._annotated(assign.annotation.annotation) or qualified
                    if qualified and not qualified.startswith(("str()", "<local>")):
                        found[target.attr.value] = qualified
        return found

    def _annotated(self, annotation: cst.BaseExpression) -> str | None:
        """``set[str]`` -> ``set()``, ``queue.Queue[int]`` -> ``queue.Queue()``: an instance of it."""
        if isinstance(annotation, cst.Subscript):
            annotation = annotation.value
        qualified = self.resolver.qualify(annotation) if isinstance(annotation, cst.Name | cst.Attribute) else None
        return f"{qualified}()" if qualified else None

    def klass(self, node: cst.ClassDef, outer: str | None) -> None:
        name = f"{outer}::{node.name.value}" if outer else node.name.value
        line, decorator_lines = self.lines.classes.get(name, (1, []))
        klass = ClassFacts(name, line, tuple(dotted(a.value) or "" for a in node.bases), self.facts, node=node)
        for index, decorator in enumerate(node.decorators):
            decorator_line = decorator_lines[index] if index < len(decorator_lines) else line
            self.marks_into([decorator.decorator], decorator_line, klass.usefixtures, klass.notable_marks,
                            klass.mitigations)
            decorations = FunctionFacts(f"<class {name}>", self.facts.path, decorator_line, decorator_line)
            mitigations.decorator(FunctionReader(decorations, self.resolver.child(), {}, self.facts.imports,
                                                 self.facts.module_aliases), decorator)
            klass.mitigations.extend(decorations.mitigations)
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        for statement in body:
            if isinstance(statement, cst.FunctionDef):
                self._register_function(statement, name)
                klass.method_nodes[statement.name.value] = statement
                spec = self._fixture_spec(statement)
                if spec is not None:
                    klass.fixture_specs[spec.name] = (spec, statement.name.value)
            elif isinstance(statement, cst.ClassDef):
                self.klass(statement, name)
            elif isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if not isinstance(small, cst.Assign):
                        continue
                    names = [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
                    if "pytestmark" in names:
                        self.marks_into(_mark_expressions(small.value), line, klass.usefixtures, klass.notable_marks,
                                        klass.mitigations)
                    elif _is_mutable(small.value, self.resolver):
                        for attr in names:
                            klass.mutable_attrs[attr] = self.lines.class_attributes.get((name, attr), line)
        self.facts.classes[name] = klass


def _mark_expressions(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(value, cst.List | cst.Tuple):
        return [e.value for e in value.elements]
    return [value]


def _is_mutable(value: cst.BaseExpression, resolver: Resolver) -> bool:
    if isinstance(value, cst.List | cst.Dict | cst.Set | cst.ListComp | cst.DictComp | cst.SetComp):
        return True
    if isinstance(value, cst.Call):
        return (resolver.qualify(value.func) or "") in MUTABLE_FACTORIES
    return False


def _fixture_spec(name: str, decorator: cst.BaseExpression) -> FixtureSpec:
    scope, autouse = "function", False
    if isinstance(decorator, cst.Call):
        for arg in decorator.args:
            value = arg.value
            keyword = arg.keyword.value if arg.keyword is not None else "scope"
            if keyword == "scope" and isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
                scope = value.evaluated_value
            elif keyword == "autouse" and isinstance(value, cst.Name):
                autouse = value.value == "True"
            elif keyword == "name" and isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
                name = value.evaluated_value
    return FixtureSpec(name, scope, autouse)


def _names_others(call: cst.Call | None, keywords: set[str]) -> bool:
    """The mark names the tests this one runs after (``depends=[...]``, ``after="test_a"``)."""
    return call is not None and any(a.keyword is not None and a.keyword.value in keywords for a in call.args)
