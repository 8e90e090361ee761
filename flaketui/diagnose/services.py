"""Whether a call builds a client of a service outside the test: a third-party class named like
a client, given a server's address or a credential. No request is in sight, but every call on the
object crosses the network (the largest blind spot of rules that look for URLs)."""

from __future__ import annotations

import re
import sys

import libcst as cst

from flaketui.diagnose.predicates import has_keyword, literal_number, served_locally, string_prefix
from flaketui.diagnose.rules import RuleContext

_CLIENT_CLASS = re.compile(r"^(?=[A-Z])\w*(Client|Connection|Session|Api|API|Service|Pool|Producer|Consumer|Channel)$")
_NOT_REMOTE = re.compile(r"test|mock|fake|stub|dummy|memory|local|sandbox|simulat", re.IGNORECASE)
_LOOPBACK_URL = re.compile(r"^[^:]*://(localhost|127\.|0\.0\.0\.0|\[::1\])")
_ADDRESS_KEYWORDS = frozenset({"host", "hostname", "hosts", "url", "base_url", "endpoint", "endpoint_url", "address",
                               "server", "servers", "uri", "dsn", "broker", "brokers", "bootstrap_servers", "api_url"})
_SECRET_KEYWORDS = frozenset({"api_key", "apikey", "token", "access_token", "auth_token", "secret", "secret_key",
                              "password", "client_secret", "credentials"})
_FRAMEWORKS = frozenset({"starlette", "fastapi", "flask", "django", "werkzeug", "httpx", "requests", "aiohttp",
                         "tornado", "unittest", "pytest", "multiprocessing", "concurrent", "asyncio", "threading"})


def service_client(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``InsecureClient("http://namenode:9870")``, ``Client(("localhost", 11211))``,
    ``ApiClient(host=os.environ["API_HOST"], token=...)``: a third-party client class built with
    an address or a credential: no request in sight, but every call on it crosses the network."""
    assert isinstance(node, cst.Call)
    qualified = ctx.qualify(node.func) or ""
    root_name = node.func
    while isinstance(root_name, cst.Attribute):
        root_name = root_name.value
    module = qualified.split(".", 1)[0]
    if not (_CLIENT_CLASS.match(qualified.rsplit(".", 1)[-1]) and isinstance(root_name, cst.Name)
            and ctx.is_imported_name(root_name.value)):
        return False
    if module in sys.stdlib_module_names or module in _FRAMEWORKS or _NOT_REMOTE.search(qualified):
        return False
    # A URL of a test server (``receiver.url``) stays here; a literal one, even on localhost,
    # needs a server that the test did not start.
    if ctx.is_local(node) or has_keyword(node, "transport", "app") or any(served_locally(a.value) for a in node.args):
        return False
    return any(_addresses_a_server(a, ctx) for a in node.args)


def _addresses_a_server(arg: cst.Arg, ctx: RuleContext) -> bool:
    value = arg.value
    keyword = arg.keyword.value if arg.keyword is not None else None
    if keyword in _SECRET_KEYWORDS | _ADDRESS_KEYWORDS and _configured(value, ctx):
        return True
    if keyword is not None and keyword not in _ADDRESS_KEYWORDS:
        return False
    if isinstance(value, cst.SimpleString | cst.FormattedString) and "://" in string_prefix(value):
        # ``http://127.0.0.1:8765``: usually a server the test itself runs (the HTTP rules judge it).
        return not _LOOPBACK_URL.search(string_prefix(value))
    # ``("localhost", 11211)``: a server that must already be listening there.
    return (isinstance(value, cst.Tuple) and len(value.elements) == 2
            and isinstance(value.elements[0].value, cst.SimpleString) and literal_number(value.elements[1].value) is not None)


def _configured(value: cst.BaseExpression, ctx: RuleContext) -> bool:
    """A literal, or a lookup of the environment (``os.environ["API_HOST"]``, ``os.getenv(...)``)."""
    if isinstance(value, cst.SimpleString | cst.FormattedString):
        return True
    if isinstance(value, cst.Subscript):
        return (ctx.qualify(value.value) or "") == "os.environ"
    if isinstance(value, cst.Call):
        return (ctx.qualify(value.func) or "") in {"os.environ.get", "os.getenv", "os.environ.__getitem__"}
    return False


def task_sent(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``add.delay(1, 2)``, ``add.s(4) | add.s(8)`` on a task imported from the project: the call
    goes through a message broker to a worker (``pool.apply_async`` on a local pool does not)."""
    assert isinstance(node, cst.Call)
    func = node.func
    return (isinstance(func, cst.Attribute) and func.attr.value in {"delay", "apply_async", "s", "si"}
            and isinstance(func.value, cst.Name) and ctx.is_imported_name(func.value.value)
            and not (ctx.qualify(func.value) or "").startswith(("multiprocessing", "concurrent", "asyncio")))
