"""What every remedy does around its one transformation: load the test, find the project's
own modules the test imports, and turn a changed module into a checked proposal."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._cst import (
    changed_lines,
    dotted,
    find_function,
    module_names,
    parameter_names,
    parse,
    top_level_functions,
)
from flaketui.remedies._model import Context, Declined, FileEdit, Proposal
from flaketui.remedies.guard import breaks, weakening

#: How long a wait that replaces a fixed sleep may take before the test fails (not hangs).
WAIT_SECONDS = 10
#: The seed written into a test whose random data is made repeatable.
SEED = 1234


@dataclass(frozen=True)
class Loaded:
    #: The remedy that loaded it (``on_test``'s id): the id its proposals and refusals carry.
    remedy: str
    path: str
    source: bytes
    module: cst.Module
    function: cst.FunctionDef
    names: dict[str, str]


def load_test(ctx: Context, remedy: str) -> Loaded | Declined:
    path = ctx.target.path
    source = ctx.read(path)
    if source is None:
        return Declined(remedy, f"{path} cannot be read")
    module = parse(source)
    if module is None:
        return Declined(remedy, f"{path} does not parse")
    function = find_function(module, ctx.target.name, ctx.target.class_name)
    if function is None:
        return Declined(remedy, f"no function {ctx.target.name} in {path}")
    return Loaded(remedy, path, source, module, function, module_names(module))


RemedyBody = Callable[[Context, Loaded], list[Proposal | Declined]]


def on_test(remedy: str) -> Callable[[RemedyBody], Callable[[Context], list[Proposal | Declined]]]:
    """A remedy that works on the test's own function: loaded once, or declined with why."""

    def wrap(body: RemedyBody) -> Callable[[Context], list[Proposal | Declined]]:
        @functools.wraps(body)
        def run(ctx: Context) -> list[Proposal | Declined]:
            loaded = load_test(ctx, remedy)
            return [loaded] if isinstance(loaded, Declined) else body(ctx, loaded)

        return run

    return wrap


def proposal(
    category: Category, remedy: str, title: str, why: str, changes: Mapping[str, tuple[bytes, cst.Module | bytes]]
) -> Proposal | Declined:
    """A proposal of these per-file changes, unless one weakens a test or changes nothing."""
    edits = []
    lines: list[tuple[str, int]] = []
    for path, (before, after_module) in changes.items():
        after = after_module if isinstance(after_module, bytes) else after_module.bytes
        if after == before:
            continue
        problem = weakening(path, before, after, None if isinstance(after_module, bytes) else after_module)
        problem = problem or breaks(path, before, after)
        if problem:
            return Declined(remedy, f"not offered: {problem}")
        edits.append(FileEdit(path, before, after))
        lines.extend((path, line) for line in changed_lines(before, after))
    if not edits:
        return Declined(remedy, "the change would leave every file as it is")
    return Proposal(category, remedy, title, why, tuple(edits), lines=tuple(lines))


def project_modules(ctx: Context, names: dict[str, str]) -> Iterator[str]:
    """Repository files the imports ``names`` reach: the module itself, and for a package
    every module in it (``from taskq import JobQueue`` reaches ``src/taskq/queue.py``)."""
    files = set(ctx.project_files)
    seen: set[str] = set()
    for qualified in names.values():
        parts = qualified.lstrip(".").split(".")
        for root in ctx.import_roots:
            base = "" if root in ("", ".") else root.rstrip("/") + "/"
            for size in range(len(parts), 0, -1):
                stem = base + "/".join(parts[:size])
                if f"{stem}.py" in files:
                    found = [f"{stem}.py"]
                elif f"{stem}/__init__.py" in files:
                    found = sorted(f for f in files if f.startswith(stem + "/") and f.endswith(".py"))
                else:
                    continue
                for path in found:
                    if path not in seen and not _test_code(path):
                        seen.add(path)
                        yield path
                break


def parsed_project_modules(ctx: Context, names: dict[str, str], worth: re.Pattern[bytes]) -> Iterator[tuple[str, cst.Module]]:
    """(path, module) of each of ``project_modules`` whose bytes match ``worth``: parsing costs,
    and a large package has hundreds of modules that cannot hold what a remedy looks for."""
    for path in project_modules(ctx, names):
        source = ctx.read(path) or b""
        module = parse(source) if worth.search(source) is not None else None
        if module is not None:
            yield path, module


def conftests_above(path: str) -> list[str]:
    """The conftest.py files whose fixtures a test in ``path`` sees, nearest first."""
    parts = path.split("/")[:-1]
    return [("/".join(parts[:i]) + "/conftest.py").lstrip("/") for i in range(len(parts), -1, -1)]


_FIXTURE = ("pytest.fixture", "fixture", "pytest_asyncio.fixture")


def requested_fixtures(ctx: Context, loaded: Loaded) -> list[tuple[str, bytes, cst.Module, cst.FunctionDef]]:
    """(path, source, module, function) of each fixture the test requests by parameter, found in
    its module or a conftest above it (the nearest definition, as pytest picks it)."""
    wanted = set(parameter_names(loaded.function)) - {"self", "tmp_path", "request"}
    found = []
    places = [(loaded.path, loaded.source, loaded.module)]
    for conftest in conftests_above(loaded.path):
        source = ctx.read(conftest)
        module = parse(source) if source is not None and wanted else None
        if source is not None and module is not None:
            places.append((conftest, source, module))
    for path, source, module in places:
        for _owner, function in top_level_functions(module):
            decorators = [d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator for d in function.decorators]
            if function.name.value in wanted and any(dotted(d) in _FIXTURE for d in decorators):
                wanted.discard(function.name.value)
                found.append((path, source, module, function))
    return found


#: Directories that hold a project's tests and their helpers (``test/fake_time_util.py``), not its code.
_TEST_DIRECTORIES = frozenset({"test", "tests", "testing"})


def _test_code(path: str) -> bool:
    *directories, name = path.split("/")
    return (
        bool(_TEST_DIRECTORIES.intersection(directories)) or name.startswith("test_")
        or name.endswith("_test.py") or name == "conftest.py"
    )


def module_of_file(ctx: Context, path: str) -> str | None:
    """``taskq.registry`` for ``src/taskq/registry.py``: how the test would import it."""
    for root in sorted(ctx.import_roots, key=len, reverse=True):
        base = "" if root in ("", ".") else root.rstrip("/") + "/"
        if path.startswith(base) and path.endswith(".py"):
            dotted_path = path[len(base) : -3].replace("/", ".")
            return dotted_path.removesuffix(".__init__")
    return None


def constructor_parameters(ctx: Context, names: dict[str, str]) -> dict[str, list[cst.Param]]:
    """Local name of each project class the test imports -> its ``__init__``'s parameters
    that have a default (the ones a test may pass or leave out); the same for each project
    function it imports (``issue(user, now=datetime.now)``)."""
    wanted = {qualified.rsplit(".", 1)[-1]: local for local, qualified in names.items()}
    found: dict[str, list[cst.Param]] = {}
    for path in project_modules(ctx, names):
        module = parse(ctx.read(path) or b"")
        if module is None:
            continue
        for owner, function in top_level_functions(module):
            params = [*function.params.params, *function.params.kwonly_params]
            if function.name.value == "__init__" and owner in wanted:
                found[wanted[owner]] = [p for p in params if p.default is not None]
            elif owner is None and function.name.value in wanted:
                found.setdefault(wanted[function.name.value], [p for p in params if p.default is not None])
    return found


def with_keyword(call: cst.Call, name: str, value: str) -> cst.Call:
    """``Cls(a)`` -> ``Cls(a, name=value)``."""
    argument = cst.Arg(
        cst.parse_expression(value), keyword=cst.Name(name),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )
    args = list(call.args)
    if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, argument])


def passes(call: cst.Call, name: str) -> bool:
    return any(a.keyword is not None and a.keyword.value == name for a in call.args)
