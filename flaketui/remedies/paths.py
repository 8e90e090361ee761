"""A fixed file name shared between tests: give each test its own directory.

Two tests (or one test in two xdist workers) writing ``/tmp/report.json`` or ``out.db`` in the
working directory overwrite each other. The path becomes ``tmp_path / "report.json"``: pytest
makes a fresh directory per test, which is why parallel runs then match serial ones.
"""

from __future__ import annotations

import posixpath

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import add_parameter, change_function, dotted
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


class _TmpPath(cst.CSTTransformer):
    def __init__(self, constants: dict[str, str] | None = None) -> None:
        self.names: list[str] = []
        #: Module constants naming a shared path: where the test reads one, it gets its own.
        self.constants = constants or {}

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
        if not first.startswith(_SHARED_DIRS) and ("/" in first.strip("/") or not _writes(updated)):
            return updated  # a path into the repository (fixtures, data files): read, not shared
        return updated.with_changes(args=[updated.args[0].with_changes(value=self._local(first)), *updated.args[1:]])

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.BaseExpression:
        value = _file_name(updated)
        if value is not None and value.startswith(_SHARED_DIRS) and len(value) > 5 and " " not in value:
            return self._local(value)
        return updated


@on_test("isolate.tmp_path")
def propose_tmp_path(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    if ctx.target.class_name is not None and "unittest" in " ".join(loaded.names.values()):
        return [Declined(remedy, "a unittest method cannot take the tmp_path fixture")]
    rewrite = _TmpPath(shared_constants(loaded.module))
    function = loaded.function.visit(rewrite)
    if not rewrite.names:
        return []
    assert isinstance(function, cst.FunctionDef)
    function = add_parameter(function, "tmp_path")
    module = change_function(loaded.module, loaded.function, lambda _f: function)
    shared = ", ".join(dict.fromkeys(rewrite.names))
    why = (
        f"{ctx.target.name} uses a fixed path ({shared}) that other tests, or the same test in another "
        "xdist worker, use too: one overwrites or deletes what the other reads. tmp_path is a fresh "
        "directory per test."
    )
    return [proposal(Category.FIXTURE, remedy, "Give the test its own directory (tmp_path)", why, {loaded.path: (loaded.source, module)})]
