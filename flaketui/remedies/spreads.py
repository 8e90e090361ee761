"""A random spread in the code under test that the test does not control: turn it off.

``Schedule()`` -> ``Schedule(expiry_jitter=0)`` when the class takes the spread as a parameter.
Offered only where the spread can be the cause: the test calls a method that draws from
``random`` with that parameter, passes the arguments that method needs to reach the draw (an
``if ttl is not None:`` around it), and, when the spread only delays work (a random sleep),
waits a fixed time itself (a sleep or a timeout the delay can outrun). A test that waits for
the delayed work to finish cannot fail because of the delay, so nothing is proposed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, passes, project_modules, proposal, with_keyword
from flaketui.remedies._cst import change_function, code, dotted, parse, top_level_functions, visit_function
from flaketui.remedies._model import Context, Declined, Proposal

_SPREAD = re.compile(r"jitter|spread|randomi[sz]e|shuffle")
#: A wait of fixed length in the test: the thing a random delay can outrun.
_FIXED_WAIT = re.compile(r"sleep\(\s*[\d.]+|timeout\s*=\s*[\d.]+")


@dataclass(frozen=True)
class _Draw:
    """A method of the class that draws from ``random`` with the spread."""

    method: str
    #: Its parameters (without ``self``), to match positional arguments.
    params: tuple[str, ...]
    #: Parameters that an ``if NAME is not None`` around the draw needs passed.
    needs: frozenset[str]
    #: The draw only delays (inside a ``sleep(...)``), rather than changing a value.
    delays: bool


@dataclass(frozen=True)
class _Spread:
    param: str
    off: str
    draws: tuple[_Draw, ...]


class _Draws(cst.CSTVisitor):
    """Calls of ``random.*`` in one method that read the spread, with the guards around them."""

    def __init__(self, reads: re.Pattern[str], random_names: frozenset[str], params: frozenset[str]) -> None:
        self.reads = reads
        self.random_names = random_names
        self.params = params
        self.guards: list[str | None] = []
        self.calls: list[str] = []
        self.found: list[tuple[frozenset[str], bool]] = []

    def visit_If(self, node: cst.If) -> None:
        test = node.test
        guard = None
        if (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.Name)
            and test.left.value in self.params
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.IsNot)
            and code(test.comparisons[0].comparator) == "None"
        ):
            guard = test.left.value
        self.guards.append(guard)

    def leave_If(self, original_node: cst.If) -> None:
        self.guards.pop()

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted(node.func) or ""
        self.calls.append(name)
        if name.split(".")[0] in self.random_names and self.reads.search(code(node)):
            delays = any(c.rsplit(".", 1)[-1] == "sleep" for c in self.calls[:-1])
            self.found.append((frozenset(g for g in self.guards if g), delays))

    def leave_Call(self, original_node: cst.Call) -> None:
        self.calls.pop()


def _spreads(ctx: Context, names: dict[str, str]) -> dict[str, _Spread]:
    """Local name of each project class the test imports that takes a random spread as a
    parameter -> the spread and the methods that draw with it."""
    wanted = {qualified.rsplit(".", 1)[-1]: local for local, qualified in names.items()}
    found: dict[str, _Spread] = {}
    if not wanted:
        return found
    declares = re.compile(rb"\bclass\s+(?:" + "|".join(map(re.escape, wanted)).encode() + rb")\b")
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        if declares.search(source) is None:
            continue  # parsing costs; none of the classes the test imports is defined here
        module = parse(source)
        if module is None:
            continue
        random_names = frozenset(
            local for local, qualified in {**_module_imports(module), "random": "random"}.items() if qualified == "random"
        )
        methods: dict[str, list[cst.FunctionDef]] = {}
        for owner, function in top_level_functions(module):
            if owner in wanted:
                methods.setdefault(owner, []).append(function)
        for owner, functions in methods.items():
            spread = _spread_of(functions, random_names)
            if spread is not None:
                found[wanted[owner]] = spread
    return found


def _module_imports(module: cst.Module) -> dict[str, str]:
    from flaketui.remedies._cst import module_names

    return module_names(module)


def _spread_of(methods: Sequence[cst.FunctionDef], random_names: frozenset[str]) -> _Spread | None:
    init = next((m for m in methods if m.name.value == "__init__"), None)
    if init is None:
        return None
    for param in [*init.params.params, *init.params.kwonly_params]:
        default = code(param.default) if param.default is not None else ""
        if param.default is None or not _SPREAD.search(param.name.value) or default in ("0", "0.0", "False", "None"):
            continue
        name = param.name.value
        # ``self.spread = spread`` (or another attribute) is what the methods read.
        attributes = {name} | set(re.findall(rf"self\.(\w+)\s*(?::[^=]+)?=\s*{name}\b", code(init)))
        reads = re.compile(r"\bself\.(?:" + "|".join(map(re.escape, sorted(attributes))) + r")\b")
        draws = []
        for method in methods:
            if method.name.value == "__init__":
                continue
            params = tuple(p.name.value for p in [*method.params.params, *method.params.kwonly_params])[1:]
            visitor = _Draws(reads, random_names, frozenset(params))
            method.visit(visitor)
            draws += [_Draw(method.name.value, params, needs, delays) for needs, delays in visitor.found]
        if draws:
            return _Spread(name, "False" if default == "True" else "0", tuple(draws))
    return None


def _instances(function: cst.FunctionDef, classes: set[str]) -> dict[str, str]:
    """Variables of the test bound to an instance of one of ``classes`` -> the class."""
    bound: dict[str, str] = {}
    for match in re.finditer(r"\b(\w+)\s*=\s*(\w+)\(", code(function)):
        if match.group(2) in classes:
            bound[match.group(1)] = match.group(2)
    return bound


class _MethodCalls(cst.CSTVisitor):
    def __init__(self, instances: dict[str, str]) -> None:
        self.instances = instances
        self.calls: list[tuple[str, str, cst.Call]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in self.instances:
            self.calls.append((self.instances[func.value.value], func.attr.value, node))


def _reaches(call: cst.Call, draw: _Draw) -> bool:
    """Does this call pass what the draw's guards need (not None)?"""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for need in draw.needs:
        index = draw.params.index(need) if need in draw.params else len(draw.params)
        given = next((a for a in call.args if a.keyword is not None and a.keyword.value == need), None)
        if given is None and index < len(positional):
            given = positional[index]
        if given is None or code(given.value) == "None":
            return False
    return True


def _why_not(function: cst.FunctionDef, spreads: dict[str, _Spread]) -> tuple[set[str], str]:
    """The classes whose spread can make this test fail, or why none can."""
    visitor = _MethodCalls(_instances(function, set(spreads)))
    function.visit(visitor)
    waits_fixed = bool(_FIXED_WAIT.search(code(function)))
    causes: set[str] = set()
    reasons: list[str] = []
    for local, spread in spreads.items():
        drawn = [(d, c) for owner, method, c in visitor.calls if owner == local for d in spread.draws if d.method == method]
        if not drawn:
            reasons.append(f"it calls no method of {local} that draws the random {spread.param}")
            continue
        reached = [d for d, c in drawn if _reaches(c, d)]
        if not reached:
            needs = ", ".join(sorted({n for d, _ in drawn for n in d.needs}))
            reasons.append(f"it never passes the {needs} that {local}'s random {spread.param} needs")
        elif all(d.delays for d in reached) and not waits_fixed:
            reasons.append(f"{local}'s random {spread.param} only delays work the test waits for to finish")
        else:
            causes.add(local)
    return causes, "; ".join(reasons)


class _NoSpread(cst.CSTTransformer):
    """``Schedule()`` -> ``Schedule(expiry_jitter=0)`` for the classes whose spread is a cause."""

    def __init__(self, spreads: dict[str, _Spread]) -> None:
        self.spreads = spreads
        self.done: list[str] = []

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        local = dotted(updated.func) or ""
        if local not in self.spreads:
            return updated
        spread = self.spreads[local]
        if passes(updated, spread.param):
            return updated
        self.done.append(f"{local}({spread.param}={spread.off})")
        return with_keyword(updated, spread.param, spread.off)


@on_test("seed.no-spread")
def propose_no_spread(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    """The code under test spreads a value at random (jitter) and lets the caller turn that off."""
    remedy = loaded.remedy
    spreads = _spreads(ctx, loaded.names)
    if not spreads:
        return []
    causes, reason = _why_not(loaded.function, spreads)
    if not causes:
        return [Declined(remedy, f"not the cause: {reason}")]
    rewrite = _NoSpread({k: v for k, v in spreads.items() if k in causes})
    function = visit_function(loaded.function, rewrite)
    if not rewrite.done:
        return []
    module = change_function(loaded.module, loaded.function, lambda _f: function)
    made = ", ".join(dict.fromkeys(rewrite.done))
    if all(d.delays for local in causes for d in spreads[local].draws):
        effect = (f"delays work by a random amount while {ctx.target.name} waits a fixed time, so on a long "
                  "draw the work is not done when the test looks")  # fmt: skip
    else:
        effect = f"adds a random spread that {ctx.target.name} does not control, so the value it checks lands " \
                 "on either side of the boundary from run to run"
    why = (
        f"The code under test {effect}. The class lets callers turn the spread off: the test now builds "
        f"{made}, and checks the behaviour without the dice."
    )
    return [proposal(Category.DATA, remedy, "Turn off the random spread the test does not control", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
