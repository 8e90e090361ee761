"""A fixed sleep while a server starts: ``serve(app, port=port)``, ``time.sleep(1)``, then a
request to ``localhost:{port}``. Under load the server is not listening yet when the request
goes out; on a quiet machine most of the second is wasted. The fix waits until the port accepts
a connection, against a deadline, then makes the same request: a server that never starts
still fails the test there, with the same error.

Only where the statement right after the sleep talks to this machine on a port the code
before the sleep was given (an f-string ``localhost:{port}`` or ``("127.0.0.1", port)``).
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import WAIT_SECONDS, Loaded, on_test, proposal
from flaketui.remedies._cst import add_imports, called_name, change_function, code, visit_function, with_helper_before
from flaketui.remedies._model import Context, Declined, Proposal
from flaketui.remedies.polls import deadline_poll

_HOST = r"(?P<host>localhost|127\.0\.0\.1)"
_PORT = r"(?P<port>[A-Za-z_][\w.]*)"
#: ``f"http://localhost:{port}/"`` or ``("127.0.0.1", port)``: this machine, on a port held in a name.
_ADDRESSES = (
    re.compile(_HOST + r":\{" + _PORT + r"\}"),
    re.compile(r"\(\s*[\"']" + _HOST + r"[\"']\s*,\s*" + _PORT + r"\s*\)"),
)
_LOCAL = "_accepts_connections"
_HELPER = (
    f"def {_LOCAL}(host, port):\n"
    '    """Whether a server listens on (host, port) yet."""\n'
    "    with socket.socket() as probe:\n"
    "        return probe.connect_ex((host, port)) == 0\n"
)


def _address(line: cst.BaseStatement) -> tuple[str, str] | None:
    text = code(line)
    for pattern in _ADDRESSES:
        found = pattern.search(text)
        if found is not None:
            return found["host"], found["port"]
    return None


def _sleep(line: cst.BaseStatement, names: dict[str, str]) -> str | None:
    """The sleep's own callee (``time.sleep``, ``sleep``) when the line is a bare blocking sleep."""
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Expr)):
        return None
    call = line.body[0].value
    if called_name(call, names) != "time.sleep" or not isinstance(call, cst.Call):
        return None
    return code(call.func)


class _PollPort(cst.CSTTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.done: list[tuple[str, str]] = []
        #: The import the poll's monotonic clock needs.
        self.clock: tuple[str, str | None] = ("time", None)

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.done:
            return updated
        body = list(updated.body)
        for index, line in enumerate(body[:-1]):
            sleep = _sleep(line, self.names)
            address = _address(body[index + 1]) if sleep is not None else None
            if sleep is None or address is None or not isinstance(line, cst.SimpleStatementLine):
                continue
            host, port = address
            if not any(re.search(rf"(?<![\w.]){re.escape(port)}\b", code(s)) for s in body[:index]):
                continue  # no server was started on that port here: the sleep may wait for something else
            found = deadline_poll(f"{_LOCAL}({host!r}, {port})", f"{sleep}(0.05)", self.names)
            if found is None:
                continue
            polls, self.clock = found
            polls[0] = polls[0].with_changes(leading_lines=line.leading_lines)
            body[index : index + 1] = polls
            self.done.append((host, port))
            return updated.with_changes(body=body)
        return updated


def _own_helper(module: cst.Module, source: bytes) -> bool | None:
    """Whether the module defines the helper this remedy writes (True), does not define that
    name at all (False), or binds the name to something else (None: a foreign function or
    assignment of that name is never reused nor shadowed)."""
    if _LOCAL.encode() not in source:
        return False
    wanted = code(cst.parse_statement(_HELPER))
    found = False
    for line in module.body:
        if isinstance(line, cst.FunctionDef) and line.name.value == _LOCAL:
            if code(line.with_changes(leading_lines=[])) != wanted:
                return None
            found = True
        elif _LOCAL in code(line) and not isinstance(line, cst.FunctionDef | cst.ClassDef):
            return None  # assigned or imported at the top: not ours
    return found


@on_test("wait.listening")
def propose_poll_port(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    remedy = loaded.remedy
    if ctx.category not in (Category.ASYNC, Category.RACE, Category.UNKNOWN):
        return []
    if loaded.function.asynchronous is not None or "sleep" not in code(loaded.function):
        return []  # a blocking sleep inside a coroutine is wait.nonblocking's
    transform = _PollPort(loaded.names)
    new_test = visit_function(loaded.function, transform)
    if not transform.done:
        return []
    ours = _own_helper(loaded.module, loaded.source)
    if ours is None or _LOCAL in loaded.names:
        return [Declined(remedy, f"{_LOCAL} already names something else in {loaded.path}")]
    host, port = transform.done[0]
    module = change_function(loaded.module, loaded.function, lambda _f: new_test)
    if not ours:  # a second test of the module reuses the helper the first one's fix wrote
        module = with_helper_before(module, new_test, _HELPER)
    module = add_imports(module, [("socket", None), transform.clock])
    why = (
        f"The test sleeps a fixed time while its server starts, then connects to {host}:{{{port}}}. Under load "
        "the server is not listening yet and the request fails; on a quiet machine the time is wasted. The fix "
        f"waits until the port accepts a connection (at most {WAIT_SECONDS} s), then makes the same request, "
        "so a server that never starts still fails the test there."
    )
    title = "Wait until the server listens instead of sleeping"
    return [proposal(Category.ASYNC, remedy, title, why, {loaded.path: (loaded.source, module)})]
