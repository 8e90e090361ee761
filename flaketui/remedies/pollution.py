"""State one test changes and never restores, read by another: restore it in the polluter.

The polluting test (named by the diagnosis, else found by what it changes) gets pytest's
``monkeypatch``, which undoes every change when the test ends:

- ``os.environ[k] = v`` / ``del os.environ[k]`` / ``os.environ.pop(k)`` / ``.update({...})``:
  ``setenv`` / ``delenv``; ``os.chdir(d)``: ``monkeypatch.chdir``;
- ``module.attr = v``, or an attribute of a module- or session-scoped fixture: ``setattr``;
- ``CONTAINER[k] = v`` on a module-level dict: ``setitem``;
- a call into the project's code that fills a module-level registry (``@registry.register``):
  the registry is swapped for a copy for the duration of the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from flaketui.models import Category
from flaketui.remedies import setters
from flaketui.remedies._base import (
    Loaded,
    conftests_above,
    on_test,
    project_modules,
    proposal,
)
from flaketui.remedies._cst import (
    add_imports,
    add_parameter,
    change_function,
    code,
    dotted,
    module_names,
    parse,
    statement,
    top_level_functions,
)
from flaketui.remedies._model import Context, Declined, Proposal
from flaketui.remedies.restoring import environ_call_key, environ_spellings, restored_by, target_key

_CHANGED_BY = re.compile(r"changed by (\w+)")
_BROAD_SCOPES = ("module", "session", "package", "class")
_MUTATORS = frozenset({"append", "add", "update", "setdefault", "extend", "insert", "__setitem__"})


def _fixture_scopes(module: cst.Module) -> dict[str, str]:
    scopes: dict[str, str] = {}
    for _, function in top_level_functions(module):
        for decorator in function.decorators:
            node = decorator.decorator
            name = dotted(node.func if isinstance(node, cst.Call) else node) or ""
            if not name.endswith("fixture"):
                continue
            scope = "function"
            if isinstance(node, cst.Call):
                for arg in node.args:
                    if arg.keyword is not None and arg.keyword.value == "scope" and isinstance(arg.value, cst.SimpleString):
                        scope = arg.value.evaluated_value if isinstance(arg.value.evaluated_value, str) else scope
            scopes[function.name.value] = scope
    return scopes


def _module_globals(module: cst.Module) -> dict[str, str]:
    """Module-level names bound to a container literal -> its type (``dict``, ``list``, ``set``)."""
    found: dict[str, str] = {}
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for small in line.body:
            target, value = None, None
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign):
                target, value = small.target, small.value
            if isinstance(target, cst.Name) and value is not None:
                kind = {cst.Dict: "dict", cst.DictComp: "dict", cst.List: "list", cst.Set: "set"}.get(type(value))
                if kind is None and isinstance(value, cst.Call):
                    kind = {"dict": "dict", "list": "list", "set": "set"}.get(dotted(value.func) or "")
                found[target.value] = kind or "object"
    return found


_CONTAINER = re.compile(rb"^[A-Za-z_]\w*\s*(?::[^=\n]*)?=\s*(?:[\[{]|dict\(|list\(|set\()", re.MULTILINE)


def _registries(ctx: Context, names: dict[str, str]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """qualified project module -> function -> [(module-level container it fills, its type)]."""
    found: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        if _CONTAINER.search(source) is None:
            continue  # parsing costs; no module-level dict, list or set to fill
        module = parse(source)
        if module is None:
            continue
        containers = {k: v for k, v in _module_globals(module).items() if v != "object"}
        if not containers:
            continue
        qualified = _qualified(ctx, path)
        fills = {n: re.compile(rf"\b{re.escape(n)}\s*\[[^\]]*\]\s*=[^=]|\b{re.escape(n)}\.({'|'.join(_MUTATORS)})\(")
                 for n in containers}  # fmt: skip
        text = source.decode("utf-8", errors="replace")
        filled_here = sorted(n for n, fill in fills.items() if fill.search(text))
        if not filled_here:
            continue  # a function's text is part of the module's: nothing here fills a container
        for owner, function in top_level_functions(module):
            if owner is not None:
                continue
            body = code(function)
            filled = [n for n in filled_here if fills[n].search(body)]
            if filled:
                found.setdefault(qualified, {})[function.name.value] = [(n, containers[n]) for n in filled]
    return found


def _qualified(ctx: Context, path: str) -> str:
    from flaketui.remedies._base import module_of_file

    return module_of_file(ctx, path) or path


@dataclass
class _Restore(cst.CSTTransformer):
    """Turns the unrestored changes of one test into ``monkeypatch`` calls."""

    names: dict[str, str]
    restorable: set[str]
    registries: dict[str, dict[str, list[tuple[str, str]]]]
    done: list[str] = field(default_factory=list)
    swaps: list[str] = field(default_factory=list)
    #: A ``unittest.TestCase`` method: no monkeypatch; ``unittest.mock`` patchers undone by ``addCleanup``.
    unittest: bool = False
    patchers: list[str] = field(default_factory=list)
    #: The function rewritten: what it puts back itself (``restoring.restored_by``, read on the
    #: first change it makes: most tests change nothing) is left as it is.
    function: cst.FunctionDef | None = None
    _restored: set[str] | None = None

    def _puts_back(self, keys: set[str]) -> bool:
        if not keys or self.function is None:
            return False
        if self._restored is None:
            self._restored = restored_by(self.function, environ_spellings(self.names))
        return bool(keys & self._restored)

    def _qualified(self, node: cst.BaseExpression) -> str:
        name = dotted(node) or ""
        head, _, rest = name.partition(".")
        return f"{self.names.get(head, head)}.{rest}".rstrip(".")

    def _is_environ(self, node: cst.BaseExpression) -> bool:
        return self._qualified(node) == "os.environ"

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        if len(updated.body) != 1:
            return updated
        small = updated.body[0]
        new = self._restoring(small) or self._environ_update(small)
        if new is None or self._puts_back(self._keys(small)):
            return updated  # nothing to restore, or the test puts it back itself (finally, teardown, a patch)
        if self.unittest:
            new = _as_patchers(new, self.patchers)
            if new is None:
                return updated
        self.done.append(code(small).strip())
        lines = [line for c in new.split("\n") if isinstance(line := cst.parse_statement(c + "\n"), cst.SimpleStatementLine)]
        first = updated.with_changes(body=lines[0].body)
        rest = lines[1:]
        return cst.FlattenSentinel([first, *rest]) if rest else first

    def _keys(self, small: cst.BaseSmallStatement) -> set[str]:
        environ = environ_spellings(self.names)
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            key = target_key(small.targets[0].target, environ)
            return {key} if key else set()
        if isinstance(small, cst.Del):
            key = target_key(small.target, environ)
            return {key} if key else set()
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            if (dotted(call.func) or "").endswith("chdir"):
                return {"chdir"}
            key = environ_call_key(call, environ)
            if key is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value == "update":
                pairs = call.args[0].value.elements if isinstance(call.args[0].value, cst.Dict) else ()
                return {f"os.environ[{code(p.key)}]" for p in pairs if isinstance(p, cst.DictElement)}
            return {key} if key else set()
        return set()

    def _environ_update(self, small: cst.BaseSmallStatement) -> str | None:
        """``os.environ.update({"A": "1", "B": x})`` -> one ``monkeypatch.setenv`` per key."""
        call = small.value if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) else None
        if call is None or not isinstance(call.func, cst.Attribute) or call.func.attr.value != "update":
            return None
        if not self._is_environ(call.func.value) or len(call.args) != 1 or not isinstance(call.args[0].value, cst.Dict):
            return None
        pairs = call.args[0].value.elements
        if not pairs or not all(isinstance(p, cst.DictElement) for p in pairs):
            return None
        return "\n".join(
            f"monkeypatch.setenv({code(p.key)}, {code(p.value)})" for p in pairs if isinstance(p, cst.DictElement)
        )

    def _restoring(self, small: cst.BaseSmallStatement) -> str | None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target, value = small.targets[0].target, code(small.value)
            if isinstance(target, cst.Subscript) and len(target.slice) == 1:
                key = code(target.slice[0].slice.value) if isinstance(target.slice[0].slice, cst.Index) else None
                if key is None:
                    return None
                if self._is_environ(target.value):
                    return f"monkeypatch.setenv({key}, {value})"
                root = dotted(target.value)
                if root is not None and root.split(".")[0] in self.restorable:
                    return f"monkeypatch.setitem({root}, {key}, {value})"
            if isinstance(target, cst.Attribute):
                root = dotted(target.value)
                if root is not None and root.split(".")[0] in self.restorable:
                    return f'monkeypatch.setattr({root}, "{target.attr.value}", {value})'
        if isinstance(small, cst.Del) and isinstance(small.target, cst.Subscript) and self._is_environ(small.target.value):
            index = small.target.slice[0].slice
            if isinstance(index, cst.Index):
                return f"monkeypatch.delenv({code(index.value)}, raising=False)"
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "pop" and self._is_environ(func.value) and call.args:
                return f"monkeypatch.delenv({code(call.args[0].value)}, raising=False)"
            called = self._qualified(func)
            if called == "os.chdir" and len(call.args) == 1:  # the working directory every later test starts in
                return f"monkeypatch.chdir({code(call.args[0].value)})"
        return None

    def visit_Call(self, node: cst.Call) -> None:
        self._note_registry(node.func)

    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._note_registry(node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator)

    def _note_registry(self, func: cst.BaseExpression) -> None:
        name = dotted(func)
        if name is None or "." not in name:
            return
        local_module, function = name.rsplit(".", 1)
        qualified = self.names.get(local_module, local_module)
        for container, kind in self.registries.get(qualified, {}).get(function, []):
            copy = f"{kind}({local_module}.{container})"
            swap = f'monkeypatch.setattr({local_module}, "{container}", {copy})'
            if swap not in self.swaps:
                self.swaps.append(swap)


def _polluters(ctx: Context, module: cst.Module) -> list[tuple[str | None, cst.FunctionDef]]:
    named = {m for e in ctx.evidence for m in _CHANGED_BY.findall(e.message)}
    tests = [
        (owner, f) for owner, f in top_level_functions(module)
        if f.name.value.startswith("test") and (owner, f.name.value) != (ctx.target.class_name, ctx.target.name)
    ]
    if named:
        return [(o, f) for o, f in tests if f.name.value in named]
    return tests if ctx.category is Category.ORDER else []


def _confirmed(ctx: Context) -> dict[str, set[tuple[str | None, str]]]:
    """The polluters a bisection or a hunt confirmed, per file: (class, function)."""
    found: dict[str, set[tuple[str | None, str]]] = {}
    for polluter in ctx.polluters:
        found.setdefault(polluter.path, set()).add((polluter.class_name, polluter.name))
    return found


_CHANGED_ELSEWHERE = re.compile(r"changed by ([\w.]+) in \S+ \(line \d+\)")


def _named_elsewhere(ctx: Context) -> dict[str, set[tuple[str | None, str]]]:
    """The polluters the diagnosis names in other test modules, per file: (class, function)."""
    found: dict[str, set[tuple[str | None, str]]] = {}
    for item in ctx.evidence:
        named = _CHANGED_ELSEWHERE.search(item.message)
        if item.category is Category.ORDER and named and item.fix_path and item.fix_path != ctx.target.path:
            owner, _, name = named.group(1).rpartition(".")
            found.setdefault(item.fix_path, set()).add((owner or None, name))
    return found


@on_test("restore.monkeypatch")
def propose_restoring(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    confirmed = _confirmed(ctx)
    registries = _registries(ctx, loaded.names)
    own_file = [(o, f) for o, f in top_level_functions(loaded.module) if (o, f.name.value) in confirmed[loaded.path]] \
        if loaded.path in confirmed else _polluters(ctx, loaded.module)  # fmt: skip
    # A test that names what only another test registers is brittle on it, whatever the diagnosis
    # saw: every other test of the module may be that setter.
    setters_here = own_file or [
        (o, f) for o, f in top_level_functions(loaded.module)
        if f.name.value.startswith("test") and (o, f.name.value) != (ctx.target.class_name, ctx.target.name)
    ]  # fmt: skip
    needed: list[setters.Registration] = []
    named: list[str] = []
    for _, setter in setters_here:
        found = setters.brittle_on(loaded.function, setter, loaded.names, registries)
        needed += found
        named += [setter.name.value] if found else []
    if needed:
        return [_own_setup(ctx, loaded, needed, named)]
    changes: dict[str, tuple[bytes, cst.Module]] = {}
    changed: list[str] = []
    swapped: list[str] = []
    dependents: list[str] = []
    # Without a confirmed polluter, the diagnosis may name one in another test module.
    elsewhere = {} if confirmed else _named_elsewhere(ctx)
    for path in confirmed or {loaded.path: set(), **elsewhere}:
        if path == loaded.path:
            source, module = loaded.source, loaded.module
        else:
            source = ctx.read(path) or b""
            parsed = parse(source)
            if parsed is None:
                continue
            module = parsed
        wanted = confirmed.get(path) or elsewhere.get(path)
        polluters = [
            (o, f) for o, f in top_level_functions(module) if (o, f.name.value) in wanted
        ] if wanted else _polluters(ctx, module)
        new_module, names, swaps = _restore_in(ctx, path, module, polluters)
        if names:
            new_module, fixed = _dependents_fill_their_own(ctx, module, new_module, polluters, loaded.function)
            changes[path] = (source, new_module)
            changed.extend(names)
            swapped.extend(swaps)
            dependents.extend(fixed)
    if not changed:
        return []
    who = ", ".join(changed)
    why = (
        f"{who} changes state that {ctx.target.name} reads and never puts it back, so "
        f"{ctx.target.name} fails whenever it runs after {who}. monkeypatch (in a unittest.TestCase, "
        f"a unittest.mock patcher that addCleanup stops) restores it when {who} ends{' (the registry is swapped for a copy)' if swapped else ''}."
    )
    if dependents:
        why += (f" {', '.join(dependents)} passed only after {who} registered what it uses: it now registers "
                "that itself, on its own copy of the registry.")  # fmt: skip
    title = f"Restore what {who} changes, with monkeypatch"
    return [proposal(Category.ORDER, loaded.remedy, title, why, changes)]


def _own_setup(ctx: Context, loaded: Loaded, needed: list[setters.Registration], setters_named: list[str]) -> Proposal | Declined:
    """The target passes only after a test that registers what it uses: it registers it itself."""
    function = setters.own_setup(loaded.function, needed)
    module = change_function(loaded.module, loaded.function, _constantly(function))
    keys = ", ".join(sorted({k for r in needed for k in r.keys}))
    who = ", ".join(dict.fromkeys(setters_named))
    why = (
        f"{ctx.target.name} uses {keys}, which only {who} registers, and never takes back: it passes only "
        f"when {who} ran first, and fails alone or before it. It now registers {keys} itself, on a copy of "
        "the registry that monkeypatch puts back when it ends; its assertions are unchanged."
    )
    title = f"Register what {ctx.target.name} needs in the test itself"
    return proposal(Category.ORDER, "restore.own-setup", title, why, {loaded.path: (loaded.source, module)})


def _dependents_fill_their_own(
    ctx: Context, module: cst.Module, new_module: cst.Module,
    polluters: list[tuple[str | None, cst.FunctionDef]], target: cst.FunctionDef,
) -> tuple[cst.Module, list[str]]:  # fmt: skip
    """Tests of the module that passed only thanks to the polluters' registrations (restoring
    them would break those tests) register what they use themselves."""
    names = module_names(module)
    registries = _registries(ctx, names)
    skip = {f.name.value for _, f in polluters} | {target.name.value}
    fixed = []
    for owner, test in top_level_functions(module):
        if owner is not None or not test.name.value.startswith("test") or test.name.value in skip:
            continue
        needed = [r for _, p in polluters for r in setters.brittle_on(test, p, names, registries)]
        current = _find(new_module, owner, test.name.value)
        if needed and current is not None:
            new_module = change_function(new_module, current, _constantly(setters.own_setup(current, needed)))
            fixed.append(test.name.value)
    return new_module, fixed


def _restore_in(
    ctx: Context, path: str, module: cst.Module, polluters: list[tuple[str | None, cst.FunctionDef]]
) -> tuple[cst.Module, list[str], list[str]]:
    """The module with each polluter restoring what it changes; the polluters changed; the swaps."""
    names = module_names(module)
    scopes = _fixture_scopes(module)
    for conftest in conftests_above(path):
        scopes = {**_fixture_scopes(parse(ctx.read(conftest) or b"") or cst.Module(body=[])), **scopes}
    registries = _registries(ctx, names)
    plain_classes = _classes_taking_fixtures(module)
    changed: list[str] = []
    swapped: list[str] = []
    mocks: list[str] = []
    for owner, polluter in polluters:
        # A unittest.TestCase method takes no monkeypatch argument: unittest.mock patches, undone
        # by addCleanup, restore there.
        unittest = owner is not None and owner not in plain_classes
        broad = {p for p in _params(polluter) if scopes.get(p, "function") in _BROAD_SCOPES}
        restorable = {*names, *_module_globals(module), *broad} - {"os"}
        rewrite = _Restore(names, restorable, registries, unittest=unittest,
                           function=polluter)
        new_function = polluter.visit(rewrite)
        assert isinstance(new_function, cst.FunctionDef)
        already = code(polluter)
        swaps = [s for s in rewrite.swaps if s not in already]
        if unittest:
            if rewrite.done:
                module = change_function(module, _find(module, owner, polluter.name.value) or polluter, _constantly(new_function))
                changed.append(polluter.name.value)
                mocks.append("mock")
            continue
        if not rewrite.done and not swaps:
            continue
        if swaps:
            body = new_function.body
            assert isinstance(body, cst.IndentedBlock)
            docstring = 1 if polluter.get_docstring() is not None else 0
            lines = list(body.body)
            lines[docstring:docstring] = [statement(s + "\n") for s in swaps]
            new_function = new_function.with_changes(body=body.with_changes(body=lines))
        final = add_parameter(new_function, "monkeypatch")
        module = change_function(module, _find(module, owner, polluter.name.value) or polluter, _constantly(final))
        changed.append(polluter.name.value)
        swapped.extend(swaps)
    # What a polluter's own function-scoped fixture of this module changes (``os.environ[...] = v``
    # before its ``yield``) stays changed after the test too: the fixture takes monkeypatch.
    for _, polluter in polluters:
        for param in _params(polluter):
            fixture = _find(module, None, param)
            if fixture is None or scopes.get(param) != "function" or f"the fixture {param}" in changed:
                continue
            rewrite = _Restore(names, {*names, *_module_globals(module)} - {"os"}, registries,
                               function=fixture)
            restored = fixture.visit(rewrite)
            if rewrite.done and isinstance(restored, cst.FunctionDef):
                module = change_function(module, fixture, _constantly(add_parameter(restored, "monkeypatch")))
                changed.append(f"the fixture {param}")
    if mocks and names.get("mock") != "unittest.mock":
        module = add_imports(module, [("unittest", "mock")])
    return module, changed, swapped


_PATCHES = (
    (re.compile(r"monkeypatch\.setenv\((.+?), (.+)\)$"), "mock.patch.dict(os.environ, {{{0}: {1}}})"),
    (re.compile(r"monkeypatch\.setitem\(([\w.]+), (.+?), (.+)\)$"), "mock.patch.dict({0}, {{{1}: {2}}})"),
    (re.compile(r"monkeypatch\.setattr\(([\w.]+), (\"\w+\"), (.+)\)$"), "mock.patch.object({0}, {1}, {2})"),
)


def _as_patchers(calls: str, taken: list[str]) -> str | None:
    """monkeypatch calls -> ``unittest.mock`` patchers started and stopped by ``addCleanup``;
    None when one has no such form (``chdir``, ``delenv``)."""
    lines = []
    for call in calls.split("\n"):
        patch = next((form.format(*m.groups()) for pattern, form in _PATCHES if (m := pattern.match(call))), None)
        if patch is None:
            return None
        name = f"patcher_{len(taken) + 1}" if taken else "patcher"
        taken.append(name)
        lines += [f"{name} = {patch}", f"{name}.start()", f"self.addCleanup({name}.stop)"]
    return "\n".join(lines)


def _constantly(function: cst.FunctionDef) -> Callable[[cst.FunctionDef], cst.FunctionDef]:
    return lambda _old: function


def _classes_taking_fixtures(module: cst.Module) -> set[str]:
    """Top-level classes without bases: pytest passes fixtures to their methods."""
    return {
        s.name.value for s in module.body
        if isinstance(s, cst.ClassDef) and not s.bases
    }


def _find(module: cst.Module, owner: str | None, name: str) -> cst.FunctionDef | None:
    for found_owner, function in top_level_functions(module):
        if (found_owner, function.name.value) == (owner, name):
            return function
    return None


def _params(function: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in function.params.params]



