"""The predicates that refine a rule's match where a libcst matcher alone cannot say enough
(``when=`` in ``catalog.py``): is this sleep zero, this URL local, this assert on elapsed time."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import libcst as cst
import libcst.matchers as m

from flaketui.diagnose.clocks import sampled_count
from flaketui.diagnose.resolve import ARGV_OF_PYTHON
from flaketui.diagnose.rules import RuleContext


def literal_number(node: cst.BaseExpression) -> float | None:
    if isinstance(node, cst.Integer | cst.Float):
        try:
            return float(node.evaluated_value)
        except ValueError:
            return None
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_number(node.expression)
        return None if inner is None else -inner
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply | cst.Divide):
        left, right = literal_number(node.left), literal_number(node.right)
        if left is None or right is None or (isinstance(node.operator, cst.Divide) and right == 0):
            return None
        return left * right if isinstance(node.operator, cst.Multiply) else left / right
    return None


def argument(call: cst.Call, position: int, keyword: str | None = None) -> cst.BaseExpression | None:
    """The argument given by keyword, else at ``position`` among the positional ones."""
    if keyword is not None:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == keyword:
                return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[position].value if position < len(positional) else None


def has_keyword(call: cst.Call, *names: str) -> bool:
    return any(a.keyword is not None and a.keyword.value in names for a in call.args)


def not_a_deadline(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``deadline = time.monotonic() + 5`` / ``while time.time() < deadline``: a bounded wait;
    ``json.dumps({"date": now().isoformat()})``: a stamp on a message, which nothing compares."""
    return not ctx.is_deadline(node) and not ctx.is_naming_use(node)


def nonzero_first_argument(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``sleep(0)`` only yields control; anything else (a literal or a variable) waits."""
    assert isinstance(node, cst.Call)
    value = argument(node, 0, "delay") or argument(node, 0, "seconds")
    number = literal_number(value) if value is not None else None
    if value is not None and any((ctx.qualify(c.func) or "").startswith(("random.", "numpy.random."))
                                 for c in m.findall(value, m.Call()) if isinstance(c, cst.Call)):
        return False  # a random pause (chaos, jitter) is the point, not a wait for something
    return value is not None and number != 0


def _talks_to_network(call: cst.Call) -> bool:
    """A URL among the arguments, or ``url=``/``host=``: the timeout is the network's."""
    if has_keyword(call, "url", "host", "base_url", "endpoint", "address"):
        return True
    return any(
        isinstance(a.value, cst.SimpleString) and re.match(r"""^[rbuRBU]*['"]{1,3}(https?|wss?|tcp|grpc)://""", a.value.value)
        for a in call.args
    )


def short_network_timeout(node: cst.CSTNode, ctx: RuleContext) -> bool:
    assert isinstance(node, cst.Call)
    return _talks_to_network(node) and _short_timeout(node, ctx)


def short_timeout_seconds(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """A tight timeout, unless the test expects it to expire (``pytest.raises(TimeoutError)``)."""
    assert isinstance(node, cst.Call)
    return not _talks_to_network(node) and not ctx.facts.expects_timeout and _short_timeout(node, ctx)


def another_program(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """Not ``Popen([sys.executable, ...])``: the test's own interpreter is no tool of the
    machine's, and what the child does is the project's code (its timing is judged by the
    rules on the signals and waits around it)."""
    assert isinstance(node, cst.Call)
    first = argument(node, 0, "args")
    if isinstance(first, cst.List | cst.Tuple) and first.elements:
        head = first.elements[0]
        first = None if isinstance(head, cst.StarredElement) else head.value
    if isinstance(first, cst.Name) and first.value in ctx.params:
        return False  # a helper that runs whatever its caller hands it: the caller's command decides
    return first is None or ctx.qualify(first) not in {"sys.executable", ARGV_OF_PYTHON}


def _short_timeout(node: cst.Call, ctx: RuleContext) -> bool:
    """A literal ``timeout=`` of one second or less (Qt waits, in ms, have their own rule)."""
    qualified = ctx.qualify(node.func) or ""
    if "qtbot" in qualified or "QTest" in qualified:
        return False
    value = argument(node, 99, "timeout")
    if value is None and qualified.endswith(("wait_for", ".join", ".wait")):
        value = argument(node, 1 if qualified.endswith("wait_for") else 0)
    number = literal_number(value) if value is not None else None
    return number is not None and 0 < number <= 1


def short_qt_timeout(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """pytest-qt waits take milliseconds; under two seconds is tight on a loaded runner."""
    assert isinstance(node, cst.Call)
    value = argument(node, 99, "timeout")
    number = literal_number(value) if value is not None else None
    return number is not None and number < 2000


def short_webdriver_wait(node: cst.CSTNode, ctx: RuleContext) -> bool:
    assert isinstance(node, cst.Call)
    value = argument(node, 1, "timeout")
    number = literal_number(value) if value is not None else None
    return number is not None and number <= 5


def no_arguments(node: cst.CSTNode, ctx: RuleContext) -> bool:
    assert isinstance(node, cst.Call)
    return not node.args


def passes_string_set(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``Job(tags={"urgent", "billing"})``: str hashes change per process, so the callee sees
    the set in a different order on every run."""
    assert isinstance(node, cst.Arg)
    value = node.value
    return (
        isinstance(value, cst.Set) and len(value.elements) > 1 and not ctx.is_unordered_use(value)
        and all(isinstance(e.value, cst.SimpleString) for e in value.elements)
    )


_EXPIRY_KEYWORDS = frozenset({"ttl", "expires_in", "expiry", "max_age", "lifetime", "expire", "expires_after",
                              "expire_after", "ttl_seconds", "timeout_seconds", "valid_for"})


def short_expiry(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``make_token(ttl=1)``, ``Cache(max_age=timedelta(seconds=2))``: an expiry the test can race."""
    assert isinstance(node, cst.Call)
    for arg in node.args:
        if arg.keyword is None or arg.keyword.value not in _EXPIRY_KEYWORDS:
            continue
        if 0 < _seconds(arg.value, ctx) <= 5:
            return True
    return False


def _seconds(value: cst.BaseExpression, ctx: RuleContext) -> float:
    """A literal number of seconds, or a ``timedelta`` of only seconds/milliseconds; else 0."""
    if isinstance(value, cst.Call) and (ctx.qualify(value.func) or "").endswith("timedelta"):
        if any(a.keyword is None or a.keyword.value not in {"seconds", "milliseconds"} for a in value.args):
            return 0.0
        seconds = literal_number(argument(value, 99, "seconds") or cst.Integer("0")) or 0.0
        millis = literal_number(argument(value, 99, "milliseconds") or cst.Integer("0")) or 0.0
        return seconds + millis / 1000
    return literal_number(value) or 0.0


def not_a_name(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """Random ids and bits used to name something unique (a path, a run id) are not a risk."""
    return not ctx.is_naming_use(node)


def unseeded_generator(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``Random()``, ``default_rng()``, ``RandomState()`` without a seed; other numpy.random calls always."""
    assert isinstance(node, cst.Call)
    if ctx.is_naming_use(node):
        return False
    qualified = ctx.qualify(node.func) or ""
    if qualified.rsplit(".", 1)[-1] in {"Random", "default_rng", "RandomState", "Generator", "PCG64", "Faker"}:
        return not node.args or _is_clock_seed(node, ctx)
    return True


def _is_clock_seed(call: cst.Call, ctx: RuleContext) -> bool:
    value = argument(call, 0, "seed") or argument(call, 0, "a")
    return value is not None and ctx.is_clock_expression(value)


def seeded_from_clock_or_nothing(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``random.seed()`` and ``random.seed(time.time())`` seed differently on every run."""
    assert isinstance(node, cst.Call)
    return not node.args or _is_clock_seed(node, ctx)


def ordered_use(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """Not already wrapped in ``sorted()``, ``set()``, ``len()``... where order does not matter."""
    return not ctx.is_unordered_use(node)


def iterates_a_set(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``list(s)``, ``"".join(s)``, ``next(iter(s))``, ``for x in s`` over a set."""
    if isinstance(node, cst.For):
        return _is_set(node.iter, ctx)
    assert isinstance(node, cst.Call)
    value = argument(node, 0)
    return value is not None and _is_set(value, ctx) and not ctx.is_unordered_use(node)


def _is_set(node: cst.BaseExpression, ctx: RuleContext) -> bool:
    if isinstance(node, cst.Set | cst.SetComp):
        return True
    if isinstance(node, cst.Call) and not node.args:
        return False  # ``iter(set())``, a type probe: an empty set has no order to depend on
    qualified = ctx.qualify(node)
    return qualified in {"set()", "frozenset()"} or (qualified or "").endswith((".keys().__xor__",))


def local_engine_url(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``create_engine("sqlite://")`` is a file or memory, not a server."""
    assert isinstance(node, cst.Call)
    url = argument(node, 0, "url")
    return not (isinstance(url, cst.SimpleString) and "sqlite" in url.value[:12])


def not_local_transport(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``httpx.Client(transport=MockTransport(...))``, ``AsyncClient(app=app)`` or a request to
    ``http://localhost:...`` never leaves the machine."""
    assert isinstance(node, cst.Call)
    if has_keyword(node, "transport", "app", "base_transport") or ctx.is_local(node):
        return False
    for value in (argument(node, 0, "url"), argument(node, 99, "base_url")):
        if served_locally(value):
            return False
        if isinstance(value, cst.SimpleString | cst.FormattedString) and _LOCAL_HOSTS.match(string_prefix(value)):
            if isinstance(node.func, cst.Attribute) and isinstance(node.func.value, cst.Call):
                ctx.mark_local(node.func.value)  # ``AsyncHTTPClient().fetch(local)``: the client too
            return False
    return True


_LOCAL_SERVER_NAMES = re.compile(r"server|local|receiver|mock|fake|stub|httpbin", re.IGNORECASE)


def served_locally(value: cst.BaseExpression | None) -> bool:
    """``f"{httpserver.url}/x"``, ``live_server.url + "/x"``, ``mock_api.url``: a URL of a test server."""
    if isinstance(value, cst.FormattedString) and value.parts:
        first = value.parts[0]
        value = first.expression if isinstance(first, cst.FormattedStringExpression) else None
    elif isinstance(value, cst.BinaryOperation):
        value = value.left
    elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        value = value.func.value  # ``httpserver.url_for("/x")``
    root = value
    while isinstance(root, cst.Attribute | cst.Subscript | cst.Call):
        root = root.func if isinstance(root, cst.Call) else root.value
    return isinstance(root, cst.Name) and bool(_LOCAL_SERVER_NAMES.search(root.value))


def local_url(value: cst.BaseExpression) -> bool:
    """A URL of a test server (``receiver.url``) or a literal one on this machine."""
    if served_locally(value):
        return True
    return isinstance(value, cst.SimpleString | cst.FormattedString) and bool(_LOCAL_HOSTS.match(string_prefix(value)))


def string_prefix(node: cst.SimpleString | cst.FormattedString) -> str:
    if isinstance(node, cst.SimpleString):
        return node.value
    text = "".join(p.value for p in node.parts if isinstance(p, cst.FormattedStringText))
    return node.start.lstrip("fF") + text


_LOCAL_HOSTS = re.compile(r"""^[rbuRBU]*['"]{1,3}https?://(localhost|127\.|0\.0\.0\.0|\[::1\]|testserver|example\.(com|org|net)|[^/'"]*\.(test|example|invalid|local)\b|[^./'"]*([/'"]|$))""")


def remote_url(node: cst.CSTNode, ctx: RuleContext) -> bool:
    assert isinstance(node, cst.SimpleString)
    return not _LOCAL_HOSTS.match(node.value)


def elapsed_time_comparison(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``assert elapsed < 0.5`` where ``elapsed`` came from the clock (or is named so)."""
    assert isinstance(node, cst.Assert)
    test = node.test
    if not isinstance(test, cst.Comparison):
        return False
    operands = [test.left, *(t.comparator for t in test.comparisons)]
    if _approx_of_duration(operands, ctx):
        return True
    if not any(isinstance(t.operator, cst.LessThan | cst.LessThanEqual | cst.GreaterThan | cst.GreaterThanEqual) for t in test.comparisons):
        return False
    if not any(ctx.is_clock_expression(o) for o in operands):
        return False
    if _lower_bound_only(test, ctx):
        return False
    # ``assert time() < start + 30`` bounds a wait generously: not a speed assertion.
    literals = [literal_number(n) for n in m.findall(test, m.Integer() | m.Float()) if isinstance(n, cst.BaseExpression)]
    names = [n.value.lower() for n in m.findall(test, m.Name()) if isinstance(n, cst.Name)]
    in_millis = any("ms" in name or "milli" in name for name in names)
    return in_millis or max((v for v in literals if v is not None), default=0) < 10


def _lower_bound_only(test: cst.Comparison, ctx: RuleContext) -> bool:
    """``assert timer.seconds >= 0.1`` after sleeping 0.1 s: a sleep lasts at least that long, so
    the bound holds under any load (the upper bound, when there is one, is the flaky part)."""
    if len(test.comparisons) != 1:
        return False
    operator, right = test.comparisons[0].operator, test.comparisons[0].comparator
    clock_left, clock_right = ctx.is_clock_expression(test.left), ctx.is_clock_expression(right)
    if clock_left == clock_right:
        return False
    at_least = cst.GreaterThan | cst.GreaterThanEqual
    at_most = cst.LessThan | cst.LessThanEqual
    return isinstance(operator, at_least) if clock_left else isinstance(operator, at_most)


def _approx_of_duration(operands: list[cst.BaseExpression], ctx: RuleContext) -> bool:
    """``assert profile.duration == approx(0.1, rel=0.2)``: a measured time held to a tolerance."""
    approx = [o for o in operands if isinstance(o, cst.Call) and (ctx.qualify(o.func) or "").endswith("approx")]
    if not approx:
        return False
    inner = [a.value for call in approx for a in call.args[:1]]
    if any(ctx.is_clock_expression(o) for o in [*operands, *inner] if not isinstance(o, cst.Call) or o not in approx):
        return True
    # ``recorder.awaited == approx(0.3, rel=0.1)`` after sleeping: seconds held to a tolerance.
    seconds = [literal_number(v) for v in inner]
    return ctx.facts.measures_time and any(has_keyword(call, "rel", "abs") for call in approx) and any(
        s is not None and 0 < s < 10 for s in seconds)


def timing_tolerance(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """A count or a duration bounded on both sides (``8 <= calls <= 12``), or ``isclose`` on a
    duration, after the function read a clock or slept: how much happens in a stretch of wall
    time depends on the machine's load."""
    assert isinstance(node, cst.Assert)
    test = node.test
    if isinstance(test, cst.Call) and (ctx.qualify(test.func) or "").endswith("isclose"):
        return any(ctx.is_clock_expression(a.value) for a in test.args[:2])
    if sampled_count(test, ctx.qualify) and ctx.facts.measures_time:
        return True
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 2 or not ctx.facts.measures_time:
        return False
    ordering = cst.LessThan | cst.LessThanEqual
    if not all(isinstance(t.operator, ordering) for t in test.comparisons) and not all(
            isinstance(t.operator, cst.GreaterThan | cst.GreaterThanEqual) for t in test.comparisons):
        return False
    low, middle, high = test.left, test.comparisons[0].comparator, test.comparisons[1].comparator
    bounds_literal = all(isinstance(b, cst.Integer | cst.Float | cst.Name | cst.BinaryOperation | cst.Attribute | cst.Subscript)
                         for b in (low, high))
    return bounds_literal and not isinstance(middle, cst.Integer | cst.Float)


def threads_joined(node: cst.CSTNode, ctx: RuleContext) -> bool:
    return ctx.facts.joins_threads


def threads_not_joined(node: cst.CSTNode, ctx: RuleContext) -> bool:
    return not ctx.facts.joins_threads


def float_equality(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``assert x == 0.3`` (a non-integral float literal on either side of == or !=)."""
    if isinstance(node, cst.Assert):
        test = node.test
        if not isinstance(test, cst.Comparison):
            return False
        if not any(isinstance(t.operator, cst.Equal | cst.NotEqual) for t in test.comparisons):
            return False
        operands = [test.left, *(t.comparator for t in test.comparisons)]
    else:
        assert isinstance(node, cst.Call)
        operands = [a.value for a in node.args[:2]]
    if any(isinstance(o, cst.Call) and (ctx.qualify(o.func) or "").endswith(("approx", "isclose")) for o in operands):
        return False
    return any(_is_inexact_float(o) for o in operands)


def _is_inexact_float(node: cst.BaseExpression) -> bool:
    """A literal binary floating point cannot hold exactly (0.1, 0.3; not 0.5 or 13.5)."""
    if isinstance(node, cst.Float):
        text = node.value.replace("_", "")
        try:
            return Decimal(text) != Decimal(float(text))
        except (InvalidOperation, ValueError):
            return False
    if isinstance(node, cst.BinaryOperation):
        return _is_inexact_float(node.left) or _is_inexact_float(node.right)
    return False


def left_open_by_fixture(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """Started or opened in a fixture, and not as ``with open(...) as f:`` (which closes it)."""
    return ctx.is_fixture and not ctx.is_context_managed(node)


def writes_relative_file(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``open("out.txt", "w")``: a fixed path in the working directory, shared by every test."""
    assert isinstance(node, cst.Call)
    path = argument(node, 0, "file")
    mode = argument(node, 1, "mode")
    if not isinstance(path, cst.SimpleString) or not isinstance(mode, cst.SimpleString):
        return False
    text = path.value.strip("rbuRBU").strip("'\"")
    return bool(text) and not text.startswith(("/", "~")) and any(c in mode.value for c in "wax")


def relative_path_written(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``folder = Path("scratch")`` in a function that writes or deletes files: every test (and
    every xdist worker) gets the same folder in the shared working directory."""
    assert isinstance(node, cst.Call)
    path = argument(node, 0)
    if not ctx.facts.writes_files or len(node.args) != 1 or not isinstance(path, cst.SimpleString):
        return False
    text = path.value.strip("rbuRBU").strip("'\"")
    return bool(text) and not text.startswith(("/", "~", ".")) and "{" not in text


def fixed_tmp_path(node: cst.CSTNode, ctx: RuleContext) -> bool:
    assert isinstance(node, cst.SimpleString)
    return node.value.lstrip("rbuRBUf").strip("'\"").startswith(("/tmp/", "/var/tmp/"))


def fixed_port(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``port=8080`` or ``bind(("localhost", 8080))``: a port another process may hold."""
    assert isinstance(node, cst.Call)
    value = argument(node, 99, "port")
    if value is None:
        qualified = ctx.qualify(node.func) or ""
        if not qualified.endswith(".bind"):
            return False
        address = argument(node, 0)
        if isinstance(address, cst.Tuple) and len(address.elements) == 2:
            value = address.elements[1].value
    number = literal_number(value) if value is not None else None
    return number is not None and number >= 1024


def today_part(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``date.today().weekday()``, ``datetime.now().hour``: logic that changes with the calendar."""
    assert isinstance(node, cst.Attribute)
    base = ctx.qualify(node.value) or ""
    return base.endswith(("now()", "today()", "utcnow()")) and base.startswith(("datetime.", "arrow.", "pendulum.", "django.utils.timezone."))


def select_without_order(node: cst.CSTNode, ctx: RuleContext) -> bool:
    text = node.value.lower() if isinstance(node, cst.SimpleString) else ""
    return bool(re.match(r"""^[rbuf]*['"]{1,3}\s*select\b""", text)) and "order by" not in text and (
        "limit" in text or " from " in text
    )


def module_reference(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``settings.DEBUG = True`` where ``settings`` was imported: a module attribute, not a local."""
    target = node.target if isinstance(node, cst.AssignTarget) else None
    if not isinstance(target, cst.Attribute):
        return False
    base = target.value
    while isinstance(base, cst.Attribute):
        base = base.value
    return isinstance(base, cst.Name) and ctx.is_imported_name(base.value)


def completion_order(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``as_completed`` always; ``asyncio.wait`` only with ``return_when=FIRST_COMPLETED``."""
    assert isinstance(node, cst.Call)
    if not (ctx.qualify(node.func) or "").endswith("asyncio.wait"):
        return True
    value = argument(node, 99, "return_when")
    return value is not None and (ctx.qualify(value) or "").endswith("FIRST_COMPLETED")


_CREDENTIAL = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|ACCESS_KEY|_DSN$|_URI$|_URL$|_HOST$|"
                         r"ENDPOINT|CONNECTION_STRING|CONNECT_STR)", re.IGNORECASE)


def credential_variable(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``os.environ.get("OPENAI_API_KEY")``: the test expects a real service to be configured."""
    assert isinstance(node, cst.Call)
    name = argument(node, 0, "key")
    if argument(node, 1, "default") is not None:
        return False  # with a fallback the test runs unconfigured, usually against a local default
    return isinstance(name, cst.SimpleString) and bool(_CREDENTIAL.search(name.value.strip("rbuRBU'\"")))


_SEED_KEYWORDS = frozenset({"seed", "random_seed", "random_state", "rng", "rng_seed", "seed_value"})


def explicit_no_seed(node: cst.CSTNode, ctx: RuleContext) -> bool:
    assert isinstance(node, cst.Call)
    return any(
        a.keyword is not None and a.keyword.value in _SEED_KEYWORDS and isinstance(a.value, cst.Name)
        and a.value.value == "None"
        for a in node.args
    )

