"""A fixed file name shared between tests: give each test its own directory.

Two tests (or one test in two xdist workers) writing ``/tmp/report.json`` or ``out.db`` in the
working directory overwrite each other. The path becomes ``tmp_path / "report.json"``: pytest
makes a fresh directory per test, which is why parallel runs then match serial ones.

The path may be written in the test, or in a fixture it requests (its module's or a conftest's):
the fixture then takes ``tmp_path``. A relative file name counts as shared when the function
creates it (a write mode, a database), or when it is a bare name no file of the repository has
(``Path("export.out")`` handed to the code under test, which writes it).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal, requested_fixtures
from flaketui.remedies._cst import (
    add_imports,
    add_parameter,
    change_function,
    code,
    dotted,
    replaced_by,
    top_level_functions,
)
from flaketui.remedies._model import Context, Declined, Proposal

#: Calls whose first argument names a file the test creates or opens.
_OPENERS = frozenset({
    "open", "Path", "pathlib.Path", "sqlite3.connect", "shelve.open", "os.makedirs", "os.mkdir",
    "shutil.rmtree", "io.open", "os.remove", "os.unlink", "os.path.exists", "dbm.open",
})
_SHARED_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/")


def _file_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        return node.evaluated_value
    return None


def _writes(call: cst.Call) -> bool:
    """Whether the call creates the file: a write mode, or a database or directory it makes."""
    if dotted(call.func) in ("sqlite3.connect", "shelve.open", "dbm.open", "os.makedirs", "os.mkdir"):
        return True
    modes = [a.value for a in call.args[1:2] if a.keyword is None] + [
        a.value for a in call.args if a.keyword is not None and a.keyword.value == "mode"
    ]
    return any(isinstance(m, cst.SimpleString) and any(c in m.value for c in "wax") for m in modes)


#: Calls that name a file without saying whether they write it.
_NAMERS = frozenset({"Path", "pathlib.Path", "open", "io.open"})
_TEMP_DIRS = frozenset({"/tmp", "/var/tmp", "/dev/shm"})
_GETTEMPDIR = frozenset({"tempfile.gettempdir", "gettempdir"})


def shared_constants(module: cst.Module) -> dict[str, str]:
    """Module-level ``NAME = "/tmp/report.json"``: a fixed shared path every test that uses it shares."""
    found: dict[str, str] = {}
    for line in module.body:
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign):
            assign = line.body[0]
            target = assign.targets[0].target if len(assign.targets) == 1 else None
            value = _file_name(assign.value) if isinstance(assign.value, cst.SimpleString) else None
            if isinstance(target, cst.Name) and value and value.startswith(_SHARED_DIRS) and " " not in value:
                found[target.value] = value
    return found


def written_constants(module: cst.Module, function: cst.FunctionDef) -> dict[str, str]:
    """Module-level ``DB = "notes.sqlite3"`` that ``function`` creates (opens for writing, connects
    to): a file name every test using the function shares, in the working directory."""
    strings = {}
    for line in module.body:
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign):
            assign = line.body[0]
            target = assign.targets[0].target if len(assign.targets) == 1 else None
            value = _file_name(assign.value)
            if isinstance(target, cst.Name) and value and "/" not in value and " " not in value and "." in value:
                strings[target.value] = value
    found: dict[str, str] = {}

    class _Uses(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            first = node.args[0].value if node.args else None
            if isinstance(first, cst.Name) and first.value in strings and dotted(node.func) in _OPENERS and _writes(node):
                found[first.value] = strings[first.value]

    function.visit(_Uses())
    return found


class _TmpPath(cst.CSTTransformer):
    def __init__(self, constants: dict[str, str] | None = None, exists: Callable[[str], bool] | None = None) -> None:
        self.names: list[str] = []
        #: Module constants naming a shared path: where the test reads one, it gets its own.
        self.constants = constants or {}
        #: Whether the repository has this relative file (then it is data the test reads).
        self.exists = exists

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if updated.value in self.constants:
            return self._local(self.constants[updated.value])
        return updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(attr=original.attr)  # ``obj.REPORT`` is no module constant

    def leave_AssignTarget(self, original: cst.AssignTarget, updated: cst.AssignTarget) -> cst.AssignTarget:
        return original  # a name assigned to stays the name

    def leave_Param(self, original: cst.Param, updated: cst.Param) -> cst.Param:
        return original

    def _local(self, value: str) -> cst.BaseExpression:
        name = posixpath.basename(value.rstrip("/")) or "data"
        self.names.append(value)
        return cst.parse_expression(f'str(tmp_path / "{name}")')

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        called = dotted(updated.func)
        if called in _GETTEMPDIR and not updated.args:
            self.names.append("the temporary directory")
            return cst.parse_expression("str(tmp_path)")
        first = _file_name(updated.args[0].value) if updated.args else None
        if called in ("Path", "pathlib.Path") and first is not None and first.rstrip("/") in _TEMP_DIRS:
            self.names.append(first)
            return cst.Name("tmp_path")  # ``Path("/tmp") / "report.json"``
        if called == "os.path.join" and first is not None and first.rstrip("/") in _TEMP_DIRS:
            self.names.append(first)
            return updated.with_changes(args=[updated.args[0].with_changes(value=cst.parse_expression("str(tmp_path)")),
                                              *updated.args[1:]])  # fmt: skip
        if called not in _OPENERS or not updated.args:
            return updated
        if first is None or first in ("", ".", ":memory:") or first.startswith(("/dev/null", "/proc", "/sys", "/etc")):
            return updated
        if not first.startswith(_SHARED_DIRS) and ("/" in first.strip("/") or not (_writes(updated) or self._made(called, first))):
            return updated  # a path into the repository (fixtures, data files): read, not shared
        local = self._local(first)
        if called in ("Path", "pathlib.Path") and len(updated.args) == 1:
            return cst.parse_expression(code(local).removeprefix("str(").removesuffix(")"))  # tmp_path / "name"
        return updated.with_changes(args=[updated.args[0].with_changes(value=local), *updated.args[1:]])

    def _made(self, called: str, name: str) -> bool:
        """A bare file name (``export.out``) the repository has no file of, given to ``Path`` or
        ``open``: the run makes it, in whatever directory the tests run from."""
        return self.exists is not None and called in _NAMERS and "." in name.strip(".") and not self.exists(name)

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.BaseExpression:
        value = _file_name(updated)
        if value is not None and value.startswith(_SHARED_DIRS) and len(value) > 5 and " " not in value:
            return self._local(value)
        return updated


def _shared_by_tests(ctx: Context, path: str, name: str, loaded: Loaded) -> bool:
    """Whether tests that may run at once get the fixture: the test's own cases (parametrized),
    or two tests requesting it (in the modules the fixture's file serves)."""
    if any("parametrize" in code(d.decorator) for d in loaded.function.decorators):
        return True
    folder = posixpath.dirname(path)
    asked = re.compile(rb"def test\w*\([^)]*\b" + re.escape(name.encode()) + rb"\b")
    count = 0
    for other in ctx.project_files:
        if (other == path or other.startswith(folder + "/") or not folder) and posixpath.basename(other).startswith("test"):
            count += len(asked.findall(ctx.read(other) or b""))
            if count > 1:
                return True
    return False


@on_test("isolate.tmp_path")
def propose_tmp_path(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    base = posixpath.dirname(loaded.path)

    def exists(name: str) -> bool:
        """A file of the repository (one a run left behind, untracked, is none)."""
        return any(ctx.read(p) is not None and p not in ctx.untracked for p in (name, posixpath.join(base, name)))

    places = [(loaded.path, loaded.source, loaded.module, loaded.function, ctx.target.name), *(
        (path, source, module, function, f"the fixture {function.name.value}")
        for path, source, module, function in requested_fixtures(ctx, loaded)
        if _shared_by_tests(ctx, path, function.name.value, loaded)
    )]  # fmt: skip
    for path, source, module, function, who in places:
        rewrite = _TmpPath({**shared_constants(module), **written_constants(module, function)}, exists)
        changed = function.visit(rewrite)
        if not rewrite.names:
            continue
        if function is loaded.function and ctx.target.class_name is not None and "unittest" in " ".join(loaded.names.values()):
            return [Declined(remedy, "a unittest method cannot take the tmp_path fixture")]
        assert isinstance(changed, cst.FunctionDef)
        changed = add_parameter(changed, "tmp_path")
        new = change_function(module, function, replaced_by(changed))
        shared = ", ".join(dict.fromkeys(rewrite.names))
        why = (
            f"{who} uses a fixed path ({shared}) that other tests, or the same test in another "
            "xdist worker, use too: one overwrites or deletes what the other reads. tmp_path is a fresh "
            "directory per test."
        )
        title = "Give the test its own directory (tmp_path)"
        return [proposal(Category.FIXTURE, remedy, title, why, {path: (source, new)})]
    return []


_SETUPS = frozenset({"setup_method", "setUp", "setup"})


class _MkdTemp(cst.CSTTransformer):
    """``self.workdir = "/tmp/archive"`` -> ``self.workdir = tempfile.mkdtemp(prefix="archive-")``."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        value = _file_name(updated.value)
        target = updated.targets[0].target if len(updated.targets) == 1 else None
        if not (isinstance(target, cst.Attribute) and code(target.value) == "self") or value is None:
            return updated
        if not value.startswith(_SHARED_DIRS) or " " in value or "." in posixpath.basename(value):
            return updated  # a folder in the shared temporary directory (a file name has a suffix)
        self.names.append(value)
        prefix = posixpath.basename(value.rstrip("/")) or "test"
        return updated.with_changes(value=cst.parse_expression(f'tempfile.mkdtemp(prefix="{prefix}-")'))


@on_test("isolate.mkdtemp")
def propose_mkdtemp(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    """A class whose set-up method (which takes no fixture) gives every test one fixed folder in
    /tmp: each test gets a fresh one from ``tempfile.mkdtemp``, as tmp_path would give it."""
    if ctx.target.class_name is None:
        return []
    module = loaded.module
    for owner, method in top_level_functions(module):
        if owner != ctx.target.class_name or method.name.value not in _SETUPS:
            continue
        rewrite = _MkdTemp()
        changed = method.visit(rewrite)
        if not rewrite.names or not isinstance(changed, cst.FunctionDef):
            continue
        new = add_imports(change_function(module, method, replaced_by(changed)), [("tempfile", None)])
        why = (
            f"{method.name.value} gives every test of {ctx.target.class_name} the same folder ({', '.join(rewrite.names)}): "
            "two tests in two xdist workers (or two CI jobs) write and delete it under each other. "
            "tempfile.mkdtemp makes a fresh folder for each test."
        )
        title = "Give each test its own folder (tempfile.mkdtemp)"
        return [proposal(Category.FIXTURE, loaded.remedy, title, why, {loaded.path: (loaded.source, new)})]
    return []
