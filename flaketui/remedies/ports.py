"""A port drawn at random (``port = random.randint(10000, 50000)``): now and then another process,
another test or another xdist worker already listens there and the server cannot bind. A seed
would not help (every run, and every worker, would then pick the same port); the fix asks the
operating system for a free one, with the project's own helper when it has one (``open_port()``,
``free_port()``...), or a small helper written into the test module.
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, module_of_file, on_test, proposal
from flaketui.remedies._cst import add_imports, called_name, change_function, visit_function, with_helper_before
from flaketui.remedies._model import Context, Declined, Proposal

_DRAWS = frozenset({"random.randint", "random.randrange"})
_PORTISH = re.compile(r"port", re.IGNORECASE)
#: Helpers projects write to get a free port; the first one found (with no required argument) is used.
_HELPERS = ("open_port", "free_port", "get_free_port", "find_free_port", "unused_port", "get_open_port",
            "get_unused_port", "unused_tcp_port", "find_open_port", "pick_port")
_HELPER_DEF = re.compile(rb"^def (" + "|".join(_HELPERS).encode() + rb")\(([^)]*)\)", re.MULTILINE)
_LOCAL = "_free_port"


def port_draws(function: cst.FunctionDef, names: dict[str, str]) -> list[cst.Assign]:
    """``port = random.randint(...)`` assignments in ``function`` (a name with "port" in it)."""
    found: list[cst.Assign] = []

    class _Find(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            target = node.targets[0].target if len(node.targets) == 1 else None
            if isinstance(target, cst.Name) and _PORTISH.search(target.value) and called_name(node.value, names) in _DRAWS:
                found.append(node)

    function.visit(_Find())
    return found


def _project_helper(ctx: Context) -> tuple[str, str] | None:
    """(module, function) of the project's free-port helper that takes no required argument."""
    for path in ctx.project_files:
        source = ctx.read(path) or b""
        for match in _HELPER_DEF.finditer(source):
            params = [p.strip() for p in match.group(2).decode().split(",") if p.strip()]
            if all("=" in p or p.startswith("*") for p in params):
                module = module_of_file(ctx, path)
                if module:
                    return module, match.group(1).decode()
    return None


class _Replace(cst.CSTTransformer):
    def __init__(self, draws: list[cst.Assign], call: str) -> None:
        self.draws = draws
        self.call = call

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if any(original is d for d in self.draws):
            return updated.with_changes(value=cst.parse_expression(self.call))
        return updated


_HELPER = (
    f"def {_LOCAL}():\n"
    '    """A port nothing listens on now: the operating system picks it."""\n'
    "    with socket.socket() as probe:\n"
    '        probe.bind(("127.0.0.1", 0))\n'
    "        return probe.getsockname()[1]\n"
)


@on_test("port.free")
def propose_free_port(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    draws = port_draws(loaded.function, loaded.names)
    if not draws:
        return []
    helper = _project_helper(ctx)
    imports: list[tuple[str, str | None]]
    if helper is not None and helper[0] not in (module_of_file(ctx, loaded.path), None):
        call, imports, how = f"{helper[1]}()", [helper], f"the project's own {helper[1]}()"
    elif _LOCAL not in loaded.names and f"def {_LOCAL}(".encode() not in loaded.source:
        call, imports, how = f"{_LOCAL}()", [], f"a {_LOCAL}() helper written into the test module"
    else:
        return [Declined(remedy, f"{_LOCAL} already names something else in {loaded.path}")]
    new_test = visit_function(loaded.function, _Replace(draws, call))
    module = change_function(loaded.module, loaded.function, lambda _f: new_test)
    if not imports:
        module = with_helper_before(module, new_test, _HELPER)
        imports = [("socket", None)]
    module = add_imports(module, imports)
    why = (
        f"{ctx.target.name} draws its port at random; now and then another process, test or xdist worker "
        "already listens there and the server cannot bind. A seed would make every run pick the same port; "
        f"asking the operating system for a free one ({how}) removes the collision."
    )
    # The diagnosis may see the socket as the network; a port the test picks itself is no external
    # service, and this code fix ranks with that diagnosis, above keeping the marker.
    category = Category.EXTERNAL if ctx.category is Category.EXTERNAL else Category.FIXTURE
    return [proposal(category, remedy, "Ask the OS for a free port", why, {loaded.path: (loaded.source, module)})]
