"""Scope: fixtures (class, module, conftest.py up the tree, transitive, autouse, overridden),
setup methods and helpers; where each piece of evidence was found; and name resolution."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from flaketui.diagnose.resolve import Resolver, import_aliases
from flaketui.models import Category
from tests._diagnose_helpers import diagnose_files


def where(diagnosis) -> set[tuple[str, str, int, str]]:
    return {(e.rule, e.path, e.line, e.where) for e in diagnosis.evidence}


def test_fixture_in_conftest_up_the_tree_transitively(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import pytest
            import requests

            @pytest.fixture
            def session():
                return requests.Session()
        """,
        "tests/conftest.py": """
            import pytest

            @pytest.fixture
            def api(session, base_url):
                return (session, base_url)

            @pytest.fixture
            def base_url():
                return "http://localhost"
        """,
        "tests/unit/test_api.py": """
            def test_it(api):
                assert api
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/unit/test_api.py", "test_it")
    assert where(diagnosis) == {("external.http", "conftest.py", 6, "fixture session in conftest.py:5")}
    assert diagnosis.suggestion.category is Category.EXTERNAL


def test_autouse_fixture_setting_state_before_every_test_is_isolation_not_a_cause(tmp_path: Path) -> None:
    files = {
        "tests/conftest.py": """
            import os
            import pytest

            @pytest.fixture(autouse=True)
            def mode():
                os.environ["MODE"] = "ci"
        """,
        "tests/test_x.py": """
            import os

            def test_it():
                os.environ["OTHER"] = "1"
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/test_x.py", "test_it")
    # Every test starts from MODE=ci: the same state each run, so no cause of this test's flake.
    assert {e.where for e in diagnosis.evidence} == {"test body"}


def test_autouse_seeding_fixture_cancels_random_evidence(tmp_path: Path) -> None:
    files = {
        "tests/conftest.py": """
            import random
            import pytest

            @pytest.fixture(autouse=True)
            def _seed():
                random.seed(1234)
        """,
        "tests/test_x.py": """
            import random

            def test_it():
                assert random.choice([1, 2]) in (1, 2)
        """,
    }
    assert diagnose_files(tmp_path, files, "tests/test_x.py", "test_it").evidence == ()


def test_seed_after_the_draw_does_not_help(tmp_path: Path) -> None:
    files = {
        "test_x.py": """
            import random

            def test_it():
                value = random.random()
                random.seed(0)
                assert value < 0.99
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it")
    assert [(e.rule, e.line) for e in diagnosis.evidence] == [("data.unseeded-random", 4)]


def test_frozen_time_covers_only_its_with_block(tmp_path: Path) -> None:
    files = {
        "test_x.py": """
            from datetime import datetime
            from freezegun import freeze_time

            def test_it():
                with freeze_time("2024-01-01"):
                    assert datetime.now().year == 2024
                assert datetime.now()
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it")
    assert [(e.rule, e.line) for e in diagnosis.evidence] == [("time.wall-clock", 7)]


def test_overriding_fixture_reaches_the_one_it_overrides(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import pytest
            import redis

            @pytest.fixture
            def cache():
                return redis.Redis()
        """,
        "tests/test_x.py": """
            import pytest

            @pytest.fixture
            def cache(cache):
                cache.flushall()
                return cache

            def test_it(cache):
                assert cache
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/test_x.py", "test_it")
    assert ("external.broker", "conftest.py", 6, "fixture cache in conftest.py:5") in where(diagnosis)


def test_module_scoped_fixture_mutated_by_the_test(tmp_path: Path) -> None:
    files = {
        "tests/conftest.py": """
            import pytest

            @pytest.fixture(scope="session")
            def config():
                return {"debug": False}
        """,
        "tests/test_x.py": """
            def test_it(config):
                config["debug"] = True
                assert config["debug"]
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/test_x.py", "test_it")
    assert where(diagnosis) == {("fixture.shared-fixture-mutated", "tests/test_x.py", 2, "test body")}
    assert "session-scoped fixture config (tests/conftest.py:4)" in diagnosis.evidence[0].message
    assert diagnosis.suggestion.category is Category.FIXTURE


def test_function_scoped_fixture_may_be_mutated(tmp_path: Path) -> None:
    files = {
        "tests/test_x.py": """
            import pytest

            @pytest.fixture
            def config():
                return {}

            def test_it(config):
                config["debug"] = True
        """,
    }
    assert diagnose_files(tmp_path, files, "tests/test_x.py", "test_it").evidence == ()


def test_helpers_of_the_module_and_methods_are_followed(tmp_path: Path) -> None:
    files = {
        "test_x.py": """
            import time
            import subprocess

            def wait_for_server():
                time.sleep(1)

            def start():
                subprocess.Popen(["server"])
                wait_for_server()

            class TestServer:
                def launch(self):
                    start()

                def test_it(self):
                    self.launch()
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it", "TestServer")
    assert where(diagnosis) == {
        ("async.blocking-sleep", "test_x.py", 5, "helper wait_for_server"),
        ("external.subprocess", "test_x.py", 8, "helper start"),
    }


def test_class_fixture_setup_method_and_usefixtures(tmp_path: Path) -> None:
    files = {
        "test_x.py": """
            import os
            import uuid
            import pytest

            @pytest.fixture
            def workdir():
                os.chdir("/")

            @pytest.mark.usefixtures("workdir")
            class TestThing:
                def setup_method(self):
                    self.token = uuid.uuid4()

                @pytest.fixture
                def client(self):
                    import socket
                    return socket.socket()

                def test_it(self, client):
                    assert client
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it", "TestThing")
    assert where(diagnosis) == {
        ("fixture.chdir", "test_x.py", 7, "fixture workdir in test_x.py:6"),
        ("data.uuid", "test_x.py", 12, "TestThing.setup_method in test_x.py:11"),
        ("external.socket", "test_x.py", 17, "fixture client in test_x.py:15"),
    }


def test_cache_cleared_in_a_fixture_is_not_evidence(tmp_path: Path) -> None:
    files = {
        "test_x.py": """
            import functools
            import pytest

            @functools.cache
            def load():
                return {}

            @pytest.fixture(autouse=True)
            def fresh():
                load.cache_clear()

            def test_it():
                assert load() == {}
        """,
    }
    assert diagnose_files(tmp_path, files, "test_x.py", "test_it").evidence == ()


def test_file_that_does_not_parse_is_unknown(tmp_path: Path) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": "def test_it(:\n"}, "test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.UNKNOWN and diagnosis.evidence == ()


def test_missing_test_is_unknown(tmp_path: Path) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": "def test_other():\n    pass\n"}, "test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.UNKNOWN
    assert len(diagnosis.ranking) == 7


RESOLUTION = [
    pytest.param("import datetime", "datetime.datetime.now()", "datetime.datetime.now", id="module"),
    pytest.param("from datetime import datetime as dt", "dt.now()", "datetime.datetime.now", id="from-as"),
    pytest.param("import numpy as np", "np.random.rand()", "numpy.random.rand", id="import-as"),
    pytest.param("import os.path", "os.path.getmtime(p)", "os.path.getmtime", id="dotted-import"),
    pytest.param("from . import helpers", "helpers.go()", ".helpers.go", id="relative"),
    pytest.param("from ..pkg import tool", "tool()", "..pkg.tool", id="relative-parent"),
    pytest.param("import requests", "requests.Session().get(u)", "requests.Session().get", id="call-chain"),
    pytest.param("", "open(p)", "open", id="builtin"),
]


@pytest.mark.parametrize(("imports", "expression", "expected"), RESOLUTION)
def test_resolver_qualifies_names(imports: str, expression: str, expected: str) -> None:
    names: dict[str, str] = {}
    if imports:
        statement = cst.parse_statement(imports)
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        assert isinstance(small, cst.Import | cst.ImportFrom)
        names = import_aliases(small)
    call = cst.parse_expression(expression)
    assert isinstance(call, cst.Call)
    assert Resolver(names).qualify(call.func) == expected


def test_local_binding_follows_and_shadows_imports() -> None:
    resolver = Resolver({"requests": "requests", "time": "time"})
    resolver.bind(cst.Name("s"), cst.parse_expression("requests.Session()"))
    resolver.bind(cst.Name("time"), cst.parse_expression("make_clock(1)"))
    assert resolver.qualify(cst.parse_expression("s.get")) == "requests.Session().get"
    assert resolver.qualify(cst.parse_expression("time.time")) == "make_clock().time"


def test_rebinding_a_name_shadows_the_import(tmp_path: Path) -> None:
    files = {
        "test_x.py": """
            import time

            def test_it(fake_clock):
                time = fake_clock
                assert time.time() == 0
        """,
    }
    assert diagnose_files(tmp_path, files, "test_x.py", "test_it").evidence == ()


def test_fixture_teardown_after_yield_is_not_evidence(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import time
            from datetime import datetime
            import pytest

            def save_screenshot(name):
                return f"{name}-{datetime.today():%H%M}.png"

            @pytest.fixture(autouse=True)
            def screenshot_on_failure(request):
                yield
                time.sleep(0.1)
                save_screenshot(request.node.name)
        """,
        "test_x.py": """
            def test_it():
                assert True
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it")
    assert diagnosis.evidence == ()


def test_helpers_of_autouse_fixtures_weigh_less_than_the_body(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import random
            import pytest

            def pick():
                return random.choice("ab")

            @pytest.fixture(autouse=True)
            def letter():
                return pick()
        """,
        "test_x.py": """
            import random

            def test_it():
                assert random.random() < 0.99
        """,
    }
    weights = {e.where: e.weight for e in diagnose_files(tmp_path, files, "test_x.py", "test_it").evidence}
    assert weights == {"test body": 0.6, "helper pick in conftest.py:4": round(0.6 * 0.45 * 0.9, 3)}


def test_session_fixture_configuring_the_process_does_not_outweigh_the_body(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import os
            import pytest

            @pytest.fixture(scope="session", autouse=True)
            def environment():
                os.chdir("/srv")
                os.environ["APP_HOME"] = "/srv/app"
                os.environ["APP_DB"] = "sqlite://"
                os.environ["APP_MODE"] = "test"
        """,
        "test_x.py": """
            import datasets

            def test_it():
                assert datasets.load_dataset("squad")
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.EXTERNAL
    assert "autouse session-scoped fixture environment in conftest.py:5" not in {e.where for e in diagnosis.evidence}


def test_calls_on_what_a_fixture_returned_are_resolved_through_it(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import httpx
            import pytest

            @pytest.fixture
            def client():
                with httpx.Client(base_url="https://api.partner.io") as session:
                    yield session
        """,
        "test_x.py": """
            def test_it(client):
                response = client.get("/status")
                assert response.status_code == 200
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it")
    body = [e for e in diagnosis.evidence if e.where == "test body"]
    assert [(e.rule, e.line) for e in body] == [("external.http", 2)]
    assert "client.get() (fixture client is httpx.Client())" in body[0].message


def test_mocked_transport_also_covers_calls_through_a_fixture(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import pytest
            import requests

            @pytest.fixture
            def api():
                return requests.Session()
        """,
        "test_x.py": """
            import responses

            @responses.activate
            def test_it(api):
                api.get("https://api.partner.io/x")
        """,
    }
    assert diagnose_files(tmp_path, files, "test_x.py", "test_it").evidence == ()


def test_autouse_fixture_of_the_class_counts_more_than_one_in_a_conftest(tmp_path: Path) -> None:
    files = {
        "conftest.py": """
            import pytest
            from selenium import webdriver

            @pytest.fixture(autouse=True)
            def everywhere():
                webdriver.Firefox()
        """,
        "test_x.py": """
            import pytest
            from selenium import webdriver

            class TestLogin:
                @pytest.fixture(autouse=True)
                def setup(self, request):
                    request.cls.driver = webdriver.Chrome()

                def test_it(self):
                    assert self.driver.title
        """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_x.py", "test_it", "TestLogin")
    weights = {e.path: e.weight for e in diagnosis.evidence}
    assert weights == {"test_x.py": 0.35, "conftest.py": 0.225}


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("(" * 3000 + "1" + ")" * 3000, id="nesting-that-crashes-native-parsers"),
        pytest.param("+".join(["1"] * 5000), id="expression-too-long-to-recurse"),
    ],
)
def test_pathological_file_is_unknown_and_the_batch_goes_on(tmp_path: Path, expression: str) -> None:
    from flaketui.diagnose import Diagnoser
    from tests._diagnose_helpers import make_test

    (tmp_path / "test_deep.py").write_text(f"def test_it():\n    x = {expression}\n")
    (tmp_path / "test_ok.py").write_text("import time\n\ndef test_ok():\n    time.sleep(1)\n")
    results = Diagnoser(tmp_path).diagnose_many([make_test("test_deep.py", "test_it"), make_test("test_ok.py", "test_ok")])
    assert [d.suggestion.category for d in results] == [Category.UNKNOWN, Category.ASYNC]


ORDER_VICTIMS = """
    import os
    import pytest
    from app import registry
    from app.settings import Settings

    @pytest.fixture(scope="module")
    def settings():
        return Settings.from_env()

    def test_register():
        registry.register("send_email")

    def test_only_builtins():
        assert registry.names() == ["noop"]

    def test_disable_retries(settings):
        settings.max_retries = 0

    def test_default_budget(settings):
        assert settings.max_retries == 3

    def test_url_from_environment():
        os.environ["APP_URL"] = "https://hooks.example.com"

    def test_default_url():
        assert Settings.from_env().url == "http://localhost"

    def test_budget_from_environment(monkeypatch):
        monkeypatch.setenv("APP_RETRIES", "5")
        assert Settings.from_env().max_retries == 5
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("test_only_builtins", ("order.shared-state-read", 14, "registry, changed by test_register (line 11)"),
                     id="registry-filled-by-a-neighbour"),
        pytest.param("test_default_budget", ("order.shared-fixture-read", 19,
                                             "module-scoped fixture settings, changed by test_disable_retries (line 17)"),
                     id="module-fixture-changed-by-a-neighbour"),
        pytest.param("test_default_url", ("order.polluted-environment", 25,
                                          "os.environ['APP_URL'], changed by test_url_from_environment (line 23)"),
                     id="environment-set-by-a-neighbour"),
    ],
)
def test_victims_of_order_dependence_point_at_the_polluter(tmp_path: Path, name: str, expected: tuple[str, int, str]) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": ORDER_VICTIMS}, "test_x.py", name)
    rule, line, detail = expected
    assert [(e.rule, e.line) for e in diagnosis.evidence] == [(rule, line)]
    assert diagnosis.evidence[0].message.startswith(detail)
    assert diagnosis.suggestion.category is Category.ORDER


ENVIRONMENT_READ = """
    import os

    def test_token_from_environment():
        assert os.environ["APP_TOKEN"] == "secret"
"""


@pytest.mark.parametrize(("neighbour", "claims"), [
    pytest.param('def test_other():\n    os.environ["APP_URL"] = "x"\n', [], id="another-variable"),
    pytest.param('def test_other():\n    os.environ["APP_TOKEN"] = "x"\n',
                 ["os.environ['APP_TOKEN'], changed by test_other (line 7)"], id="the-variable-it-reads"),
    pytest.param("def test_other():\n    os.environ.clear()\n",
                 ["os.environ, changed by test_other (line 7)"], id="the-whole-environment"),
    pytest.param('def test_other():\n    os.chdir("/tmp")\n', [], id="the-directory-it-does-not-read"),
])
def test_an_environment_polluter_is_named_only_for_what_the_test_reads(
    tmp_path: Path, neighbour: str, claims: list[str]
) -> None:
    # Any environment write was once blamed for any environment read: spyder's
    # test_restart_interactive_backend, which removes a variable of the console's, was named as
    # the polluter of tests that read other variables.
    source = textwrap.dedent(ENVIRONMENT_READ) + "\n" + neighbour
    diagnosis = diagnose_files(tmp_path, {"test_x.py": source}, "test_x.py", "test_token_from_environment")
    assert [e.message.split(": ")[0] for e in diagnosis.evidence if e.rule == "order.polluted-environment"] == claims


@pytest.mark.parametrize(("call", "claims"), [
    pytest.param("shell.request_env()", [], id="a-kernel-asked-for-its-environment"),
    pytest.param("get_conda_test_env()", [], id="a-conda-environment"),
    pytest.param("Settings.from_env()", ["os.environ['APP_URL'], changed by test_other (line 8)"],
                 id="settings-read-from-the-environment"),
])
def test_only_a_call_that_reads_environment_variables_makes_a_neighbours_write_a_polluter(
    tmp_path: Path, call: str, claims: list[str]
) -> None:
    source = textwrap.dedent(f"""
        import os
        from app import Settings, get_conda_test_env, shell

        def test_reads():
            assert {call}

        def test_other():
            os.environ["APP_URL"] = "x"
    """)
    diagnosis = diagnose_files(tmp_path, {"test_x.py": source}, "test_x.py", "test_reads")
    assert [e.message.split(": ")[0] for e in diagnosis.evidence if e.rule == "order.polluted-environment"] == claims


def test_a_test_that_resolves_the_working_directory_names_a_neighbour_that_changes_it(tmp_path: Path) -> None:
    source = textwrap.dedent("""
        import os

        def test_config_found():
            assert os.path.exists(os.path.join(os.getcwd(), "setup.cfg"))

        def test_build():
            os.chdir("/tmp")
    """)
    diagnosis = diagnose_files(tmp_path, {"test_x.py": source}, "test_x.py", "test_config_found")
    assert [e.message.split(": ")[0] for e in diagnosis.evidence if e.rule == "order.polluted-environment"] == [
        "the working directory, changed by test_build (line 7)"]
    assert diagnosis.fix_at == ("test_x.py", 7)


MODULE_SETTING = """
    import pytest
    from app import config

    def test_prices_in_dollars():
        config.CURRENCY = "USD"
        assert config.price(3) == "3.00 USD"

    def test_prices_in_pounds(monkeypatch):
        monkeypatch.setattr(config, "CURRENCY", "GBP")

    @pytest.mark.flaky(reruns=2)
    def test_price_in_euros():
        assert config.price(3) == "3.00 EUR"
"""


def test_a_module_setting_assigned_by_a_neighbour_points_at_its_assignment(tmp_path: Path) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": MODULE_SETTING}, "test_x.py", "test_price_in_euros")
    assert [(e.rule, e.line) for e in diagnosis.evidence] == [("order.shared-state-read", 13)]
    assert diagnosis.evidence[0].message.startswith("config, changed by test_prices_in_dollars (line 5)")
    assert diagnosis.fix_at == ("test_x.py", 5)


DEVICE_RESET = """
    import pytest
    from app import devices

    @pytest.fixture(autouse=True)
    def reset_devices():
        devices.STATE = devices.State.UNINITIALIZED

    @pytest.fixture
    def fake_device():
        devices.OWNER = "fake"

    def test_owner_and_state(fake_device):
        assert devices.OWNER == "fake" and devices.STATE == devices.State.UNINITIALIZED
"""
LEAVES_AN_OWNER = """
    def test_owner_taken():
        devices.OWNER = "worker"
"""


@pytest.mark.parametrize(("neighbour", "claims"), [
    pytest.param("", [], id="only-fixtures-write"),
    pytest.param(LEAVES_AN_OWNER, ["devices, changed by test_owner_taken (line 16)"], id="and-a-test-that-leaves-state"),
])
def test_a_fixture_that_runs_before_the_test_is_its_setup_not_a_polluter(
    tmp_path: Path, neighbour: str, claims: list[str]
) -> None:
    # The autouse reset and the requested fixture run before the test whatever the order: they
    # are its setup (the reset is the cure, as distributed's reset_nvml_state). A test that
    # leaves state behind is still named.
    source = textwrap.dedent(DEVICE_RESET) + textwrap.dedent(neighbour)
    diagnosis = diagnose_files(tmp_path, {"test_x.py": source}, "test_x.py", "test_owner_and_state")
    assert [e.message.split(":")[0] for e in diagnosis.evidence if e.rule == "order.shared-state-read"] == claims


def test_a_test_that_sets_its_own_environment_is_not_a_victim(tmp_path: Path) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": ORDER_VICTIMS}, "test_x.py", "test_budget_from_environment")
    assert diagnosis.evidence == ()


def test_conftests_above_the_rootdir_are_not_in_scope(tmp_path: Path) -> None:
    from flaketui.diagnose import Diagnoser
    from flaketui.models import FlakyTest
    from tests._diagnose_helpers import source

    files = {
        "conftest.py": "import pytest\nimport time\n\n@pytest.fixture(autouse=True)\ndef slow():\n    time.sleep(1)\n",
        "pkg/conftest.py": "import pytest\nimport random\n\n@pytest.fixture\ndef value():\n    return random.random()\n",
        "pkg/tests/test_x.py": "def test_it(value):\n    assert value < 0.99\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(source(text))
    test = FlakyTest("tests/test_x.py::test_it", "pkg", "pkg/tests/test_x.py", 1, "test_it", ())
    diagnosis = Diagnoser(tmp_path).diagnose(test)
    assert {(e.rule, e.path) for e in diagnosis.evidence} == {("data.unseeded-random", "pkg/conftest.py")}


#: Lines of a neighbour that may leave an imported name changed, and lines that only read it: only
#: neighbours with one of the first are read for order.shared-state-read (a large module names
#: ``asyncio`` in every test).
CHANGING_LINES = [
    ("    registry.handlers.append(handler)\n", True),
    ("    registry['x'] = 1\n", True),
    ("    settings.DEBUG=True\n", True),
    ("    config.retries += 1\n", True),
    ("    CONF.set('main', 'size', 3)\n", True),
    ("    del registry.handlers[0]\n", True),
    ("    await asyncio.sleep(0.1)\n", False),
    ("    value = registry.get('x')\n", False),
    ("    assert registry.size == 2\n", False),
]


@pytest.mark.parametrize("line, changes", CHANGING_LINES)
def test_a_neighbour_is_read_only_where_a_line_may_change_the_name(line, changes):
    from flaketui.diagnose.scope import changing

    name = next(n for n in ("registry", "settings", "config", "CONF", "asyncio") if n in line)
    assert bool(changing(name).search(line.encode())) is changes


MARK_GUARDED_FIXTURE = """
    import time
    import pytest

    @pytest.fixture
    def console(request):
        slow_backend = request.node.get_closest_marker("slow_backend")
        tk = request.node.get_closest_marker("tk")
        if slow_backend or tk:
            time.sleep(2)
        yield object()

    {marks}
    def test_console(console):
        assert console is not None
"""


@pytest.mark.parametrize(("marks", "expected"), [
    pytest.param("", [], id="a-test-without-the-mark"),
    pytest.param("@pytest.mark.tk", [("async.blocking-sleep", 9)], id="a-test-with-one-of-them"),
    pytest.param("@pytest.mark.other", [], id="a-test-with-another-mark"),
])
def test_a_fixture_branch_that_only_some_marks_run_is_evidence_for_those_tests_only(
    tmp_path: Path, marks: str, expected: list[tuple[str, int]]
) -> None:
    # spyder's ipyconsole fixture waits a fixed time only for tests marked auto_backend or
    # tk_backend; that wait was the "why" of 71 tests, 4 of which carry either mark.
    source = MARK_GUARDED_FIXTURE.replace("{marks}", marks)
    diagnosis = diagnose_files(tmp_path, {"test_x.py": source}, "test_x.py", "test_console")
    assert [(e.rule, e.line) for e in diagnosis.evidence if e.category is Category.ASYNC] == expected


def test_a_module_pytestmark_carries_the_mark_to_its_tests(tmp_path: Path) -> None:
    source = MARK_GUARDED_FIXTURE.replace("{marks}", "").replace(
        "import pytest\n", 'import pytest\n\n    pytestmark = [pytest.mark.tk, pytest.mark.skipif(False, reason="")]\n', 1)
    diagnosis = diagnose_files(tmp_path, {"test_x.py": source}, "test_x.py", "test_console")
    assert [e.rule for e in diagnosis.evidence if e.category is Category.ASYNC] == ["async.blocking-sleep"]
