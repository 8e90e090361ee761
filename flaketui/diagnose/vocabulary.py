"""Vocabulary of the readers, as data: which calls read a clock, seed an RNG, mock the
network or patch a target; which marks and fixtures say what; which containers are mutable.
"""

from __future__ import annotations

import re
from fnmatch import translate

from flaketui.diagnose.rules import Mitigation

MUTATORS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "remove", "discard",
     "clear", "register", "appendleft", "extendleft", "sort", "reverse", "__setitem__", "__delitem__"}
)
UNORDERED_CONSUMERS = frozenset(
    {"sorted", "set", "frozenset", "len", "sum", "any", "all", "max", "min", "Counter", "collections.Counter", "dict"}
)
DEADLINE_WORDS = re.compile(r"deadline|timeout|until|expire|stop_at|end_time|give_up", re.IGNORECASE)
POLLING_SLEEPS = frozenset({"async.fixed-sleep", "async.blocking-sleep"})
SETTERS = frozenset({"set", "setValue", "set_option", "set_config", "configure", "override"})
REMOVERS = frozenset({"pop", "popitem", "remove", "discard", "clear", "__delitem__"})
NAMING_CALLS = frozenset({"str", "repr", "hex", "pathlib.Path", "os.path.join", "tempfile.mkdtemp", "tempfile.mkstemp"})
CLOCK_WORDS = re.compile(r"elapsed|duration|took|time_taken|runtime|latency|delta_t|seconds_spent")
#: What a measurement is read as once the function slept or read a clock (``timer.seconds``,
#: ``frame.time``, ``stats.timings["x"]``): alone these names say too little.
MEASURED_ATTRS = re.compile(r"^(time|seconds|secs|timings?|total_time|self_time|wall_time|cpu_time|interval|ms"
                            r"|\w+_ms|\w+_seconds|\w+_secs)$")
#: Calls that time what runs while they are open (``with Timer() as t``, ``profiler.start()``).
TIMER_WORDS = re.compile(r"timer|stopwatch|profil|timing|measure_time|benchmark", re.IGNORECASE)
#: Summaries of a measurement that are still a measurement (``max(gaps)``).
CLOCK_SUMMARIES = frozenset({"abs", "round", "int", "float", "max", "min", "sum", "sorted", "statistics.mean",
                             "statistics.median", "statistics.fmean", "math.fsum", "numpy.mean", "numpy.median",
                             # ``asyncio.run(measure())``: what the coroutine measured.
                             "asyncio.run", "anyio.run", "trio.run"})
SETUP_NAMES = frozenset(
    {"setup_method", "setup", "setUp", "asyncSetUp", "setup_class", "setUpClass", "setup_function", "setup_module", "setUpModule"}
)


def globs(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(translate(p) for p in patterns))


CLOCK_CALLS = globs(
    "time.time", "time.time_ns", "time.monotonic*", "time.perf_counter*", "time.process_time*",
    "datetime.datetime.now", "datetime.datetime.utcnow", "timeit.default_timer", "*loop().time", "*.elapsed*",
    # Projects wrap the clock (``from distributed.metrics import time``): a deadline all the same.
    "*.metrics.time", "*.monotonic", "*.monotonic_ns", "*.perf_counter", "*.perf_counter_ns", "*.timer.time",
)
#: Decorators and context managers by which a framework bounds a test's time.
FRAMEWORK_TIMEOUTS = globs(
    "pytest.mark.timeout", "*.fail_after", "*.move_on_after", "*.fail_at", "asyncio.timeout*", "async_timeout.timeout",
    "*.wait_for", "timeout_decorator.*", "*.gen_test", "*.gen_cluster", "*.gen_test", "*.timeout",
)
SEED_CALLS = globs(
    "random.seed", "numpy.random.seed", "torch.manual_seed", "torch.cuda.manual_seed*", "tensorflow.random.set_seed",
    "faker.Faker.seed", "*.seed_instance", "random.setstate", "numpy.random.set_state", "*.seed_everything",
    "transformers.set_seed", "*.set_random_seed", "*.set_seed", "torch.use_deterministic_algorithms",
)
CALL_MITIGATIONS: tuple[tuple[re.Pattern[str], Mitigation], ...] = (
    (globs("freezegun.freeze_time", "*.freeze_time", "pytest.mark.freeze_time", "pytest.mark.time_machine", "time_machine.travel", "*.move_to", "*.tick", "libfaketime.*"),
     Mitigation.FROZEN_TIME),
    (globs("responses.*", "respx.*", "httpretty.*", "requests_mock.*", "aioresponses.*", "vcr.*", "*.use_cassette",
            "betamax.*", "pook.*", "pytest_httpserver.*", "httpx.MockTransport", "*.add_response", "*.expect_request",
            "werkzeug.*", "pytest_socket.disable_socket", "aiohttp.test_utils.*", "pytest.mark.vcr*",
            "pytest.mark.default_cassette", "pytest.mark.block_network", "pytest.mark.allowed_hosts"),
     Mitigation.MOCK_NETWORK),
    (globs("moto.*", "botocore.stub.Stubber*", "*.mock_aws", "*.mock_s3", "*.mock_dynamodb*", "*.mock_sqs"),
     Mitigation.MOCK_CLOUD),
    (globs("pytest_subprocess.*", "*.register_subprocess", "fake_process.*", "fp.register*"), Mitigation.MOCK_SUBPROCESS),
)
MITIGATING_FIXTURES: dict[str, Mitigation] = {
    "freezer": Mitigation.FROZEN_TIME, "time_machine": Mitigation.FROZEN_TIME, "frozen_time": Mitigation.FROZEN_TIME,
    "responses": Mitigation.MOCK_NETWORK, "requests_mock": Mitigation.MOCK_NETWORK, "httpx_mock": Mitigation.MOCK_NETWORK,
    "respx_mock": Mitigation.MOCK_NETWORK, "httpserver": Mitigation.MOCK_NETWORK, "aioresponses": Mitigation.MOCK_NETWORK,
    "mock_aioresponse": Mitigation.MOCK_NETWORK, "vcr": Mitigation.MOCK_NETWORK, "vcr_cassette": Mitigation.MOCK_NETWORK,
    "socket_disabled": Mitigation.MOCK_NETWORK, "httpbin": Mitigation.MOCK_NETWORK, "aiohttp_server": Mitigation.MOCK_NETWORK,
    "fake_process": Mitigation.MOCK_SUBPROCESS, "fp": Mitigation.MOCK_SUBPROCESS,
}
PATCH_CALLS = globs(
    "*mock.patch", "*mock.patch.object", "*mock.patch.dict", "*mock.patch.multiple", "patch", "patch.object",
    "mocker.patch", "mocker.patch.*", "*monkeypatch.setattr", "*MonkeyPatch*.setattr", "*.stub", "*.patch.object",
)
TARGET_WORDS: tuple[tuple[frozenset[str], Mitigation], ...] = (
    (frozenset({"time", "datetime", "now", "utcnow", "today", "date", "monotonic", "perf_counter", "timezone"}),
     Mitigation.FROZEN_TIME),
    (frozenset({"requests", "httpx", "aiohttp", "urlopen", "urllib", "urllib3", "socket", "websockets", "grpc",
                "smtplib", "openai", "anthropic", "redis", "pika", "kafka", "psycopg2", "pymongo", "Session",
                "ClientSession", "AsyncClient", "Client", "urlretrieve", "create_connection"}), Mitigation.MOCK_NETWORK),
    (frozenset({"boto3", "botocore", "client", "resource"}), Mitigation.MOCK_CLOUD),
    (frozenset({"subprocess", "run", "Popen", "check_output", "check_call", "system"}), Mitigation.MOCK_SUBPROCESS),
    (frozenset({"random", "randint", "choice", "shuffle", "uuid4", "uuid1", "urandom"}), Mitigation.SEED),
)
CACHE_DECORATORS = globs("functools.lru_cache*", "functools.cache", "lru_cache*", "cache", "functools.cached_property",
                           "cachetools.*", "*.memoize*", "joblib.Memory*")
ORDER_MARKS = globs("pytest.mark.order", "pytest.mark.run", "pytest.mark.first", "pytest.mark.second",
                      "pytest.mark.last", "pytest.mark.second_to_last", "pytest.mark.incremental", "pytest.mark.dependency")
#: Markers by which a project says a test needs the network or a live service.
NETWORK_MARKS = globs("pytest.mark.network", "pytest.mark.internet", "pytest.mark.online", "pytest.mark.remote_data",
                       "pytest.mark.requires_network", "pytest.mark.requires_internet", "pytest.mark.needs_network",
                       "pytest.mark.integration", "pytest.mark.e2e", "pytest.mark.live", "pytest.mark.external")
MUTABLE_FACTORIES = frozenset(
    {"list", "dict", "set", "defaultdict", "collections.defaultdict", "deque", "collections.deque", "Counter",
     "collections.Counter", "OrderedDict", "collections.OrderedDict", "weakref.WeakValueDictionary",
     "weakref.WeakKeyDictionary", "weakref.WeakSet", "queue.Queue"}
)


def target_mitigations(target: str) -> set[Mitigation]:
    """What patching ``target`` cancels: ``mock.patch("app.api.requests.get")`` mocks the network."""
    words = set(re.split(r"[.\[\]()]+", target))
    return {kind for vocabulary, kind in TARGET_WORDS if words & vocabulary}

#: A read of one environment variable by its literal name: ``os.environ["X"]``, ``environ.get("X")``,
#: ``os.getenv("X")`` (not the ``os.environ["X"] = v`` that writes it). The group is the name.
ENV_READ = re.compile(r"(?:environ\s*(?:\.get\s*\(|\[)|getenv\s*\()\s*[\"']([A-Za-z_]\w*)[\"'](?!\s*\]\s*=[^=])")
#: A quoted identifier: the variable an environment write names.
QUOTED_NAME = re.compile(r"[\"']([A-Za-z_]\w*)[\"']")
