"""Random data without a seed: draw it from a seeded local generator, the seed in the test.

``random.randint(...)`` -> ``rng.randint(...)`` with ``rng = random.Random(SEED)``; numpy's
legacy ``np.random.rand(...)`` -> ``rng.random(...)`` with ``rng = np.random.default_rng(SEED)``;
``fake = Faker()`` gets ``fake.seed_instance(SEED)`` (the ``faker`` fixture too). Tests whose
randomness is their purpose (hypothesis, fuzzing, chaos) are left alone, and so are draws no
assertion reads (a random delay, a payload sent and never compared): a seed changes nothing
there that could fail.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import SEED, Loaded, on_test, proposal, requested_fixtures
from flaketui.remedies._cst import (
    add_imports,
    change_function,
    code,
    dotted,
    module_names,
    parameter_names,
    replaced_by,
    statement,
)
from flaketui.remedies._model import Context, Declined, Proposal
from flaketui.remedies.ports import port_draws

#: Module functions of ``random`` that a ``random.Random`` instance has too.
_STDLIB = frozenset({
    "random", "randint", "randrange", "choice", "choices", "sample", "shuffle", "uniform", "gauss",
    "normalvariate", "expovariate", "triangular", "betavariate", "getrandbits", "randbytes", "lognormvariate",
})
#: numpy's legacy module functions -> the ``Generator`` method that replaces them.
_NUMPY = {
    "rand": "random", "random": "random", "random_sample": "random", "ranf": "random", "sample": "random",
    "randn": "standard_normal", "randint": "integers", "choice": "choice", "shuffle": "shuffle",
    "permutation": "permutation", "normal": "normal", "uniform": "uniform", "poisson": "poisson",
    "binomial": "binomial", "exponential": "exponential", "standard_normal": "standard_normal",
}
_PURPOSE = ("fuzz", "chaos", "stress", "property", "random_order")


class _Seed(cst.CSTTransformer):
    def __init__(self, names: dict[str, str], rng: str) -> None:
        self.names = names
        self.rng = rng
        self.kind: str | None = None  # "random" or the numpy alias
        self.replaced = 0

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        name = dotted(updated.func)
        if name is None:
            return updated
        head, _, rest = name.partition(".")
        qualified = f"{self.names.get(head, head)}.{rest}".rstrip(".")
        module, _, function = qualified.rpartition(".")
        if module == "random" and function in _STDLIB and self.kind in (None, "random"):
            self.kind = "random"
        elif module == "numpy.random" and function in _NUMPY and self.kind in (None, head):
            self.kind = head
            function = _NUMPY[function]
            if function in ("random", "standard_normal") and len(updated.args) > 1:
                shape = cst.Tuple([cst.Element(a.value) for a in updated.args])
                updated = updated.with_changes(args=[cst.Arg(shape)])
        else:
            return updated
        self.replaced += 1
        return updated.with_changes(func=cst.Attribute(cst.Name(self.rng), cst.Name(function)))


def _insert_first(function: cst.FunctionDef, lines: list[cst.BaseStatement]) -> cst.FunctionDef:
    body = function.body
    assert isinstance(body, cst.IndentedBlock)
    first = 1 if function.get_docstring() is not None else 0
    statements = list(body.body)
    statements[first:first] = lines
    return function.with_changes(body=body.with_changes(body=statements))


def _faker_seeds(function: cst.FunctionDef, names: dict[str, str]) -> tuple[cst.FunctionDef, int]:
    """``fake = Faker()`` -> followed by ``fake.seed_instance(SEED)``; the ``faker`` fixture seeded."""
    text = code(function)
    added = 0
    if "faker" in parameter_names(function) and "faker.seed_instance(" not in text:
        function = _insert_first(function, [statement(f"faker.seed_instance({SEED})\n")])
        added += 1
    body = function.body
    assert isinstance(body, cst.IndentedBlock)
    statements: list[cst.BaseStatement] = []
    for line in body.body:
        statements.append(line)
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign):
            assign = line.body[0]
            target = assign.targets[0].target if len(assign.targets) == 1 else None
            callee = dotted(assign.value.func) if isinstance(assign.value, cst.Call) else None
            is_faker = callee is not None and names.get(callee.split(".")[0], callee).endswith("Faker")
            if isinstance(target, cst.Name) and is_faker and f"{target.value}.seed_instance(" not in text:
                statements.append(statement(f"{target.value}.seed_instance({SEED})\n"))
                added += 1
    return function.with_changes(body=body.with_changes(body=statements)), added


@on_test("seed.local")
def propose_seed(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    """In the test; failing that, in a fixture it requests that draws the data (a factory)."""
    remedy = loaded.remedy
    function = loaded.function
    decorators = " ".join(code(d.decorator) for d in function.decorators)
    if "given" in decorators or any(word in function.name.value for word in _PURPOSE):
        return [Declined(remedy, "the test's randomness is its purpose (property, fuzz or chaos test)")]
    places = [(loaded.path, loaded.source, loaded.module, function, loaded.names, ctx.target.name), *(
        (path, source, module, fixture, module_names(module), f"the fixture {fixture.name.value}")
        for path, source, module, fixture in requested_fixtures(ctx, loaded)
    )]  # fmt: skip
    for path, source, module, place, names, who in places:
        seeded = _seeded(place, names)
        if seeded is None:
            continue
        new, kind, replaced, faked, rng = seeded
        if not faked and replaced == len(port_draws(place, names)):
            return [Declined(remedy, "the random value is a port: a seed would give every run and worker the same one")]
        if not faked and not _asserted(new, rng, handed=place is not function):
            return [Declined(remedy, "no assertion reads the random values (a delay, a payload never compared): "
                                     "they cannot make it fail, and a seed would change nothing that does")]
        changed = add_imports(change_function(module, place, replaced_by(new)), [("random", None)] if kind == "random" else [])
        generator = {None: "Faker.seed_instance", "random": "random.Random"}.get(kind, "numpy's default_rng")
        why = (
            f"{who} draws {'its' if place is function else 'the test'}'s data from an unseeded generator, so every run "
            f"tests different values and only some of them fail. A local {generator} seeded with {SEED} makes the data "
            "the same on every run (and leaves the global generator alone); change the seed to test other data."
        )
        return [proposal(Category.DATA, remedy, "Seed the test's random data", why, {path: (source, changed)})]
    return []


def _seeded(function: cst.FunctionDef, names: dict[str, str]) -> tuple[cst.FunctionDef, str | None, int, int, str] | None:
    """The function drawing from a seeded local generator, with the generator's kind, the draws
    it replaced, the Faker seeds it added and the generator's name; None when it draws nothing."""
    used = set(parameter_names(function)) | set(names)
    rng = next(n for n in ("rng", "seeded", "rng_") if n not in used and f"{n} =" not in code(function))
    seed = _Seed(names, rng)
    new = function.visit(seed)
    assert isinstance(new, cst.FunctionDef)
    if seed.kind == "random":
        new = _insert_first(new, [statement(f"{rng} = random.Random({SEED})\n")])
    elif seed.kind is not None:
        new = _insert_first(new, [statement(f"{rng} = {seed.kind}.random.default_rng({SEED})\n")])
    new, faked = _faker_seeds(new, names)
    if not seed.replaced and not faked:
        return None
    return new, seed.kind, seed.replaced, faked, rng


#: A call that only waits: a random delay is timing, not data.
_SLEEP = re.compile(r"(?:^|\.)sleep$")
_NAME = re.compile(r"(?<![.\w])([A-Za-z_]\w*)")


def _asserted(function: cst.FunctionDef, rng: str, *, handed: bool = False) -> bool:
    """An assertion of the test reads a value drawn from ``rng``: directly, or through the names
    assigned from it (``values = [rng.randint(...)]``, ``total = sum(values)``), the objects it is
    handed to (``box.put(value)``) or shuffles in place (``rng.shuffle(items)``); in statement order.
    ``handed``: a fixture's, whose drawn value returned or yielded is what its test reads."""
    tainted = {rng}
    found = False

    def reads(node: cst.CSTNode) -> bool:
        return bool(tainted.intersection(_NAME.findall(code(node))))

    class _Flow(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> bool:
            name = dotted(node.func) or ""
            if _SLEEP.search(name):
                return False  # its argument is a delay
            receiver = name.rpartition(".")[0]
            if receiver == rng and node.args:
                tainted.update(_NAME.findall(code(node.args[0].value)))  # shuffled in place
            elif receiver.isidentifier() and any(reads(a.value) for a in node.args):
                tainted.add(receiver)  # ``box.put(value)``: the object holds a drawn value now
            return True

        def visit_Assign(self, node: cst.Assign) -> None:
            if reads(node.value):
                for target in node.targets:
                    tainted.update(_NAME.findall(code(target.target)))

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if reads(node.value):
                tainted.update(_NAME.findall(code(node.target)))

        def visit_For(self, node: cst.For) -> None:
            if reads(node.iter):
                tainted.update(_NAME.findall(code(node.target)))

        def visit_Return(self, node: cst.Return) -> None:
            nonlocal found
            found |= handed and node.value is not None and reads(node.value)

        def visit_Yield(self, node: cst.Yield) -> None:
            nonlocal found
            found |= handed and isinstance(node.value, cst.BaseExpression) and reads(node.value)

        def visit_Assert(self, node: cst.Assert) -> None:
            nonlocal found
            found |= reads(node.test)

        def visit_Expr(self, node: cst.Expr) -> None:
            nonlocal found
            call = node.value.expression if isinstance(node.value, cst.Await) else node.value
            if isinstance(call, cst.Call) and (dotted(call.func) or "").rsplit(".", 1)[-1].lower().startswith("assert"):
                found |= any(reads(a.value) for a in call.args)

    function.visit(_Flow())
    return found
