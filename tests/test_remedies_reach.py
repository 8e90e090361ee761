"""Remedies that reach where real tests keep the cause: a fixture the test requests (its module's
or a conftest's), a helper of the tests that only sleeps, a project function it calls by name,
a mock asserted from a thread, unittest's assertEqual, a read-modify-write split over
statements, and a polluter whose fixture changes the state. Golden before/after tables (applied
again, each proposes nothing more) and the near misses that must get no proposal."""

from __future__ import annotations

import json

import pytest
from flaketui.cli import main
from flaketui.models import Category, Evidence
from flaketui.remedies import Target

from tests.conftest import MakeRepo
from tests.test_remedies import _run, src

FLOAT_AT_9 = Evidence(Category.DATA, "data.float-assert-equal", "tests/test_x.py", 9, 9, "assertEqual on floats", "", 0.6)

GOLDEN = [
    pytest.param(
        {
            "tests/test_x.py": src("""
                import time
                from unittest import mock

                def test_a(bus):
                    handler = mock.Mock()
                    bus.publish("orders", handler)
                    time.sleep(0.1)
                    handler.assert_called_once_with({"id": 7})
            """),
        },
        "test_a", {}, "wait.event",
        {
            "tests/test_x.py": src("""
                import time
                from unittest import mock

                def test_a(bus):
                    handler = mock.Mock()
                    bus.publish("orders", handler)
                    deadline = time.monotonic() + 10
                    while not handler.called and time.monotonic() < deadline:
                        time.sleep(0.01)
                    handler.assert_called_once_with({"id": 7})
            """),
        },
        id="a-mock-asserted-after-a-sleep-is-polled-until-called",
    ),
    pytest.param(
        {
            "tests/__init__.py": b"",
            "tests/helpers.py": src('''
                import time


                def settle():
                    """Give background threads a moment."""
                    time.sleep(0.05)
            '''),
            "tests/test_x.py": src("""
                from tests.helpers import settle

                def test_a(watcher):
                    watcher.notify("a.txt")
                    settle()
                    assert watcher.seen == ["a.txt"]
            """),
        },
        "test_a", {}, "wait.event",
        {
            "tests/test_x.py": src("""
                from tests.helpers import settle
                import time

                def test_a(watcher):
                    watcher.notify("a.txt")
                    deadline = time.monotonic() + 10
                    while not (watcher.seen == ["a.txt"]) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    assert watcher.seen == ["a.txt"]
            """),
        },
        id="a-helper-that-only-sleeps-is-a-sleep",
    ),
    pytest.param(
        {
            "tests/conftest.py": src("""
                import os
                import sqlite3

                import pytest

                DB = "notes.sqlite3"


                @pytest.fixture
                def db():
                    conn = sqlite3.connect(DB)
                    yield conn
                    conn.close()
                    os.remove(DB)
            """),
            "tests/test_x.py": src("""
                def test_a(db):
                    assert db.execute("select 1").fetchone() == (1,)


                def test_b(db):
                    assert db.execute("select 2").fetchone() == (2,)
            """),
        },
        "test_a", {}, "isolate.tmp_path",
        {
            "tests/conftest.py": src("""
                import os
                import sqlite3

                import pytest

                DB = "notes.sqlite3"


                @pytest.fixture
                def db(tmp_path):
                    conn = sqlite3.connect(str(tmp_path / "notes.sqlite3"))
                    yield conn
                    conn.close()
                    os.remove(str(tmp_path / "notes.sqlite3"))
            """),
        },
        id="a-conftest-fixture-two-tests-request-gets-tmp_path",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                from pathlib import Path

                import pytest

                from exporter import export


                @pytest.mark.parametrize("sep", [",", ";"])
                def test_a(sep):
                    path = Path("export.out")
                    export([("a", "1")], path, sep)
                    assert path.read_text() == f"a{sep}1\\n"
            """),
        },
        "test_a", {}, "isolate.tmp_path",
        {
            "tests/test_x.py": src("""
                from pathlib import Path

                import pytest

                from exporter import export


                @pytest.mark.parametrize("sep", [",", ";"])
                def test_a(sep, tmp_path):
                    path = tmp_path / "export.out"
                    export([("a", "1")], path, sep)
                    assert path.read_text() == f"a{sep}1\\n"
            """),
        },
        id="a-bare-file-name-the-repository-lacks-is-made-by-the-run",
    ),
    pytest.param(
        {
            "tests/conftest.py": src("""
                import random

                import pytest


                @pytest.fixture
                def make_user():
                    def make(name):
                        return (name, f"user{random.randint(1, 20)}@example.com")

                    return make
            """),
            "tests/test_x.py": src("""
                def test_a(make_user):
                    emails = {make_user(n)[1] for n in ("ann", "bob", "cid")}
                    assert len(emails) == 3
            """),
        },
        "test_a", {}, "seed.local",
        {
            "tests/conftest.py": src("""
                import random

                import pytest


                @pytest.fixture
                def make_user():
                    rng = random.Random(1234)
                    def make(name):
                        return (name, f"user{rng.randint(1, 20)}@example.com")

                    return make
            """),
        },
        id="a-factory-fixture-draws-from-a-seeded-generator",
    ),
    pytest.param(
        {
            "src/till.py": src("""
                def basket_total(items):
                    return sum(item.price for item in items)
            """),
            "tests/test_x.py": src("""
                import unittest

                from till import basket_total


                class BasketTest(unittest.TestCase):
                    def test_a(self):
                        self.assertEqual(basket_total(BASKET), 0.6)
            """),
        },
        "test_a", {"class_name": "BasketTest", "evidence": (FLOAT_AT_9,)}, "float.approx",
        {
            "tests/test_x.py": src("""
                import unittest

                from till import basket_total
                import pytest


                class BasketTest(unittest.TestCase):
                    def test_a(self):
                        self.assertEqual(basket_total(BASKET), pytest.approx(0.6))
            """),
        },
        id="unittest-assertEqual-on-a-project-sum-takes-approx",
    ),
    pytest.param(
        {
            "src/hashtags.py": src("""
                def render(tags):
                    return " ".join("#" + tag for tag in set(tags))
            """),
            "tests/test_x.py": src("""
                from hashtags import render

                def test_a():
                    assert render(["python", "asyncio"]) == "#asyncio #python"
            """),
        },
        "test_a", {}, "order.sorted",
        {
            "src/hashtags.py": src("""
                def render(tags):
                    return " ".join("#" + tag for tag in sorted(set(tags)))
            """),
        },
        id="a-project-function-the-test-calls-sorts-its-set",
    ),
    pytest.param(
        {
            "src/tokens.py": src("""
                import datetime


                def issue(user, now=datetime.datetime.now):
                    return (user, now())
            """),
            "tests/test_x.py": src("""
                import datetime

                from tokens import issue

                def test_a():
                    token = issue("ann")
                    assert token[1].replace(microsecond=0) == datetime.datetime.now().replace(microsecond=0)
            """),
        },
        "test_a", {}, "clock.read-once",
        {
            "tests/test_x.py": src("""
                import datetime

                from tokens import issue

                def test_a():
                    now = datetime.datetime.now()
                    token = issue("ann", now=lambda: now)
                    assert token[1].replace(microsecond=0) == now.replace(microsecond=0)
            """),
        },
        id="a-project-function-that-takes-a-clock-gets-it",
    ),
    pytest.param(
        {
            "src/bank.py": src("""
                class Account:
                    def __init__(self):
                        self.balance = 0
                        self.history = []

                    def audit(self, amount):
                        self.history.append(amount)

                    def deposit(self, amount):
                        balance = self.balance
                        self.audit(amount)
                        self.balance = balance + amount
            """),
            "tests/test_x.py": src("""
                import threading

                from bank import Account

                def test_a():
                    account = Account()
                    threads = [threading.Thread(target=account.deposit, args=(1,)) for _ in range(4)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    assert account.balance == 4
            """),
        },
        "test_a", {}, "race.lock",
        {
            "src/bank.py": src("""
                import threading

                class Account:
                    def __init__(self):
                        self.balance = 0
                        self.history = []
                        self._lock = threading.RLock()

                    def audit(self, amount):
                        self.history.append(amount)

                    def deposit(self, amount):
                        with self._lock:
                            balance = self.balance
                            self.audit(amount)
                            self.balance = balance + amount
            """),
        },
        id="a-split-read-modify-write-is-locked-reentrantly",
    ),
    pytest.param(
        {
            "src/limiter.py": src("""
                class Limiter:
                    def __init__(self):
                        self.hits = {}

                    def hit(self, key):
                        count = self.hits.get(key, 0)
                        self.hits[key] = count + 1
                        return self.hits[key]
            """),
            "tests/test_x.py": src("""
                from concurrent.futures import ThreadPoolExecutor

                from limiter import Limiter

                def test_a():
                    limiter = Limiter()
                    with ThreadPoolExecutor(4) as pool:
                        list(pool.map(lambda _: limiter.hit("k"), range(100)))
                    assert limiter.hits["k"] == 100
            """),
        },
        "test_a", {}, "race.lock",
        {
            "src/limiter.py": src("""
                import threading

                class Limiter:
                    def __init__(self):
                        self.hits = {}
                        self._lock = threading.Lock()

                    def hit(self, key):
                        with self._lock:
                            count = self.hits.get(key, 0)
                            self.hits[key] = count + 1
                        return self.hits[key]
            """),
        },
        id="a-dict-read-then-written-is-locked",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                import os

                import pytest


                @pytest.fixture
                def production():
                    os.environ["APP_ENV"] = "production"
                    yield


                def test_a():
                    assert os.environ.get("APP_ENV", "development") == "development"


                def test_b(production):
                    assert os.environ["APP_ENV"] == "production"
            """),
        },
        "test_a", {"polluters": (Target("tests/test_x.py", "test_b"),)}, "restore.monkeypatch",
        {
            "tests/test_x.py": src("""
                import os

                import pytest


                @pytest.fixture
                def production(monkeypatch):
                    monkeypatch.setenv("APP_ENV", "production")
                    yield


                def test_a():
                    assert os.environ.get("APP_ENV", "development") == "development"


                def test_b(production):
                    assert os.environ["APP_ENV"] == "production"
            """),
        },
        id="a-polluters-fixture-restores-with-monkeypatch",
    ),
]


@pytest.mark.parametrize(("files", "name", "options", "remedy", "expected"), GOLDEN)
def test_golden(files, name, options, remedy, expected):
    proposals, _ = _run(files, name, options)
    assert proposals and proposals[0].remedy == remedy, [p.remedy for p in proposals]
    after = {e.path: e.after for e in proposals[0].edits}
    assert after == expected
    again, _ = _run({**files, **after}, name, options)
    assert [p for p in again if p.remedy == remedy] == []


NEAR_MISSES = [
    pytest.param({
        "tests/conftest.py": src("""
            import pathlib

            import pytest


            @pytest.fixture
            def run_number():
                path = pathlib.Path("/tmp/counter")
                runs = int(path.read_text()) if path.exists() else 0
                path.write_text(str(runs + 1))
                return runs
        """),
        "tests/test_x.py": src("""
            def test_a(run_number):
                assert run_number >= 0
        """),
    }, {}, "isolate.tmp_path", id="a-fixture-only-one-test-requests-shares-its-path-with-no-test"),
    pytest.param({
        "README.md": b"hello\n",
        "tests/test_x.py": src("""
            from pathlib import Path

            def test_a():
                assert Path("README.md").read_text() == "hello\\n"
        """),
    }, {}, "isolate.tmp_path", id="a-bare-name-the-repository-has-is-data-read"),
    pytest.param({
        "tests/test_x.py": src("""
            import unittest


            class ConfigTest(unittest.TestCase):
                def test_a(self):
                    self.assertEqual(config_interval(), 0.5)
        """),
    }, {"class_name": "ConfigTest"}, "float.approx", id="a-float-read-back-without-the-diagnosis-stays-exact"),
    pytest.param({
        "tests/test_x.py": src("""
            import time
            from unittest import mock

            def test_a(bus):
                handler = mock.Mock()
                bus.publish("orders", handler)
                time.sleep(0.1)
                handler.assert_not_called()
        """),
    }, {}, "wait.event", id="a-mock-that-must-stay-uncalled-is-not-polled"),
    pytest.param({
        "src/bank.py": src("""
            class Account:
                def __init__(self):
                    self.balance = 0

                def deposit(self, amount):
                    balance = self.balance
                    if amount > 0:
                        self.balance = balance + amount
        """),
        "tests/test_x.py": src("""
            import threading

            from bank import Account

            def test_a():
                account = Account()
                thread = threading.Thread(target=account.deposit, args=(1,))
                thread.start()
                thread.join()
                assert account.balance == 1
        """),
    }, {}, "race.lock", id="a-write-back-inside-a-block-is-not-a-span-to-wrap"),
    pytest.param({
        "tests/helpers.py": src("""
            import time


            def settle(seconds):
                time.sleep(seconds)
                print("settled")
        """),
        "tests/test_x.py": src("""
            from tests.helpers import settle

            def test_a(watcher):
                watcher.notify("a.txt")
                settle(0.1)
                assert watcher.seen == ["a.txt"]
        """),
    }, {}, "wait.event", id="a-helper-that-does-more-than-sleep-is-no-sleep"),
]


@pytest.mark.parametrize(("files", "options", "remedy"), NEAR_MISSES)
def test_near_miss(files, options, remedy):
    proposals, _ = _run(files, "test_a", options)
    assert remedy not in [p.remedy for p in proposals]


def test_an_unconfirmed_fixture_of_a_non_polluter_is_left_alone():
    polluted = next(p.values[0] for p in GOLDEN if p.id == "a-polluters-fixture-restores-with-monkeypatch")
    # The polluter confirmed is another test: test_b's fixture is not what the proposal changes.
    proposals, _ = _run(polluted, "test_a", {"polluters": (Target("tests/test_x.py", "test_c"),)})
    assert all(b"def production(monkeypatch)" not in e.after for p in proposals for e in p.edits)


def test_a_unittest_polluter_restores_with_a_mock_patcher_it_stops_on_cleanup():
    files = {
        "src/client/__init__.py": b"",
        "src/client/settings.py": b'DEFAULTS = {"retries": 3}\n',
        "tests/test_x.py": src("""
            import unittest

            from client import settings


            class ClientTest(unittest.TestCase):
                def test_a(self):
                    self.assertEqual(settings.DEFAULTS["retries"], 3)

                def test_b(self):
                    settings.DEFAULTS["retries"] = 10
                    self.assertEqual(settings.DEFAULTS["retries"], 10)
        """),
    }
    options = {"class_name": "ClientTest", "polluters": (Target("tests/test_x.py", "test_b", "ClientTest"),)}
    proposals, _ = _run(files, "test_a", options)
    assert proposals[0].remedy == "restore.monkeypatch"
    after = proposals[0].edits[0].after.decode()
    assert after == src("""
        import unittest

        from client import settings
        from unittest import mock


        class ClientTest(unittest.TestCase):
            def test_a(self):
                self.assertEqual(settings.DEFAULTS["retries"], 3)

            def test_b(self):
                patcher = mock.patch.dict(settings.DEFAULTS, {"retries": 10})
                patcher.start()
                self.addCleanup(patcher.stop)
                self.assertEqual(settings.DEFAULTS["retries"], 10)
    """).decode()
    again, _ = _run({**files, "tests/test_x.py": after.encode()}, "test_a", options)
    assert [p for p in again if p.remedy == "restore.monkeypatch"] == []


def test_a_unittest_polluter_that_changes_the_working_directory_gets_no_patcher():
    files = {"tests/test_x.py": src("""
        import os
        import unittest


        class FilesTest(unittest.TestCase):
            def test_a(self):
                self.assertTrue(os.path.exists("tests"))

            def test_b(self):
                os.chdir("/")
    """)}
    options = {"class_name": "FilesTest", "polluters": (Target("tests/test_x.py", "test_b", "FilesTest"),)}
    proposals, _ = _run(files, "test_a", options)
    assert "restore.monkeypatch" not in [p.remedy for p in proposals]


def test_a_set_up_folder_in_tmp_becomes_one_per_test():
    files = {"tests/test_x.py": src("""
        import os
        import shutil


        class TestArchive:
            def setup_method(self):
                self.workdir = "/tmp/archive-tests"
                shutil.rmtree(self.workdir, ignore_errors=True)
                os.makedirs(self.workdir)

            def test_a(self):
                assert os.listdir(self.workdir) == []
    """)}
    proposals, _ = _run(files, "test_a", {"class_name": "TestArchive"})
    found = [p for p in proposals if p.remedy == "isolate.mkdtemp"]
    after = found[0].edits[0].after
    assert b'self.workdir = tempfile.mkdtemp(prefix="archive-tests-")' in after and b"import tempfile" in after
    again, _ = _run({"tests/test_x.py": after}, "test_a", {"class_name": "TestArchive"})
    assert "isolate.mkdtemp" not in [p.remedy for p in again]
    # A file in /tmp set up the same way is a file name, not a folder: not this remedy's.
    single = {"tests/test_x.py": files["tests/test_x.py"].replace(b'"/tmp/archive-tests"', b'"/tmp/archive.json"')}
    assert "isolate.mkdtemp" not in [p.remedy for p in _run(single, "test_a", {"class_name": "TestArchive"})[0]]


def test_a_file_a_run_left_behind_is_no_data_file_of_the_repository(make_repo: MakeRepo, capsys):
    source = src("""
        from pathlib import Path

        import pytest


        @pytest.mark.flaky(reruns=2)
        @pytest.mark.parametrize("sep", [",", ";"])
        def test_a(sep):
            path = Path("export.out")
            path.write_text(f"a{sep}1")
            assert path.read_text() == f"a{sep}1"
    """)
    root = make_repo({"tests/test_x.py": source, "README.md": "data, committed\n"})
    (root / "export.out").write_text("a;1")  # what an earlier run wrote, untracked
    assert main(["-C", str(root), "fix", "tests/test_x.py::test_a[,]", "--propose", "--json"]) == 0
    remedies = [p["remedy"] for p in json.loads(capsys.readouterr().out)["proposals"]]
    assert remedies[:1] == ["isolate.tmp_path"]
    # The same name committed is the repository's data: left alone.
    committed = make_repo({"tests/test_x.py": source, "export.out": "a;1"})
    assert main(["-C", str(committed), "fix", "tests/test_x.py::test_a[,]", "--propose", "--json"]) in (0, 3)
    assert "isolate.tmp_path" not in [p["remedy"] for p in json.loads(capsys.readouterr().out)["proposals"]]
