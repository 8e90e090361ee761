"""A second set of runtime-flaky cases for ``benchmarks/fix.py --fresh``, written after the remedies
and not tuned for them: how well does ``fix --apply`` generalise?

The shapes are those projects write (no project's code is copied): tests in classes and in
``unittest.TestCase``, the cause carried by a fixture or a conftest helper or living in the
project's package, ``pytest.param`` cases, ``unittest.mock`` asserted from a thread, futures of an
executor, pytest-asyncio tests and async fixtures (in a venv of their own with pytest-asyncio from
the package index, ``fix.asyncio_python``), ``IsolatedAsyncioTestCase``, a polluter in another test
module, a SQLite file and a scratch folder shared under xdist. Each fails before, decided by a
counter file, the hash seed, the order of tests or two xdist workers; the machinery (repositories,
plain pytest loops, the checks after ``--apply``) is ``fix.py``'s.
"""

from __future__ import annotations

from fix import Case, _src

PYPROJECT = "[tool.pytest.ini_options]\npythonpath = ['src']\n"
ASYNC_PYPROJECT = PYPROJECT + "asyncio_default_fixture_loop_scope = 'function'\n"


def _waits() -> list[Case]:
    return [
        Case("mock-from-thread", "async: a mock called from a thread, fixed sleep", {
            "src/eventbus.py": _src("""
                import threading
                import time


                class EventBus:
                    def __init__(self, latency=0.0):
                        self._handlers = {}
                        self.latency = latency

                    def subscribe(self, topic, handler):
                        self._handlers.setdefault(topic, []).append(handler)

                    def publish(self, topic, payload):
                        def deliver():
                            time.sleep(self.latency)  # a busy dispatcher
                            for handler in self._handlers.get(topic, []):
                                handler(payload)

                        threading.Thread(target=deliver, daemon=True).start()
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_eventbus.py": _src("""
                import time
                from unittest import mock

                import pytest

                from eventbus import EventBus


                @pytest.mark.flaky(reruns=3, reruns_delay=1)
                def test_subscriber_receives_the_payload(run_number):
                    bus = EventBus(latency=0.3 if run_number % 2 else 0.0)
                    handler = mock.Mock()
                    bus.subscribe("orders", handler)
                    bus.publish("orders", {"id": 7})
                    time.sleep(0.1)
                    handler.assert_called_once_with({"id": 7})
            """),
        }, "tests/test_eventbus.py::test_subscriber_receives_the_payload", needs_counter=True),
        Case("unittest-worker", "async: unittest, a worker thread and a fixed sleep", {
            "src/jobs/__init__.py": "",
            "src/jobs/worker.py": _src("""
                import queue
                import threading
                import time


                class Job:
                    def __init__(self, cost=0.0):
                        self.cost = cost
                        self.done = False

                    def run(self):
                        time.sleep(self.cost)
                        self.done = True


                class Worker:
                    def __init__(self):
                        self._jobs = queue.Queue()
                        self._thread = threading.Thread(target=self._loop, daemon=True)

                    def start(self):
                        self._thread.start()

                    def submit(self, job):
                        self._jobs.put(job)

                    def stop(self):
                        self._jobs.put(None)
                        self._thread.join(timeout=5)

                    def _loop(self):
                        while (job := self._jobs.get()) is not None:
                            job.run()
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_worker.py": _src("""
                import time
                import unittest

                import pytest

                from jobs.worker import Job, Worker


                class WorkerTest(unittest.TestCase):
                    @pytest.fixture(autouse=True)
                    def _count(self, run_number):
                        self.run_number = run_number

                    def setUp(self):
                        self.worker = Worker()
                        self.worker.start()

                    def tearDown(self):
                        self.worker.stop()

                    @pytest.mark.flaky(reruns=2)
                    def test_job_runs_in_the_background(self):
                        job = Job(cost=0.3 if self.run_number % 2 else 0.0)
                        self.worker.submit(job)
                        time.sleep(0.05)
                        self.assertTrue(job.done)
            """),
        }, "tests/test_worker.py::WorkerTest::test_job_runs_in_the_background", needs_counter=True),
        Case("executor-future", "race: an executor's future never waited for", {
            "src/thumbs.py": _src("""
                import time


                class Thumbnailer:
                    def __init__(self, folder):
                        self.folder = folder

                    def render(self, name, cost=0.0):
                        time.sleep(cost)  # the real work: decoding and scaling
                        (self.folder / f"{name}.thumb").write_bytes(b"png")
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_thumbs.py": _src("""
                import time
                from concurrent.futures import ThreadPoolExecutor

                import pytest

                from thumbs import Thumbnailer


                class TestThumbnailer:
                    @pytest.mark.flaky(reruns=2)
                    def test_thumbnail_is_written(self, tmp_path, run_number):
                        thumbnailer = Thumbnailer(tmp_path)
                        executor = ThreadPoolExecutor(max_workers=1)
                        executor.submit(thumbnailer.render, "cat", 0.3 if run_number % 2 else 0.0)
                        time.sleep(0.05)
                        assert (tmp_path / "cat.thumb").exists()
                        executor.shutdown()
            """),
        }, "tests/test_thumbs.py::TestThumbnailer::test_thumbnail_is_written", needs_counter=True),
        Case("settle-helper", "async: a helper of the tests sleeps for a thread", {
            "src/watcher.py": _src("""
                import threading
                import time


                class Watcher:
                    def __init__(self, scan_every=0.0):
                        self.seen = []
                        self.scan_every = scan_every

                    def notify(self, name):
                        def later():
                            time.sleep(self.scan_every)
                            self.seen.append(name)

                        threading.Thread(target=later, daemon=True).start()
            """),
            "pyproject.toml": PYPROJECT,
            "tests/helpers.py": _src("""
                import time


                def settle():
                    \"\"\"Give background threads a moment.\"\"\"
                    time.sleep(0.05)
            """),
            "tests/test_watcher.py": _src("""
                import pytest

                from tests.helpers import settle
                from watcher import Watcher


                @pytest.mark.flaky(reruns=2)
                def test_new_file_is_seen(run_number):
                    watcher = Watcher(scan_every=0.3 if run_number % 2 else 0.0)
                    watcher.notify("a.txt")
                    settle()
                    assert watcher.seen == ["a.txt"]
            """),
            "tests/__init__.py": "",
        }, "tests/test_watcher.py::test_new_file_is_seen", needs_counter=True),
        Case("isolated-async-case", "async: IsolatedAsyncioTestCase, a task and a fixed sleep", {
            "src/mailer.py": _src("""
                import asyncio


                class Outbox:
                    def __init__(self, latency=0.0):
                        self.sent = []
                        self.latency = latency

                    async def send(self, to):
                        await asyncio.sleep(self.latency)  # the SMTP round trip
                        self.sent.append(to)
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_mailer.py": _src("""
                import asyncio
                import unittest

                import pytest

                from mailer import Outbox


                class OutboxTest(unittest.IsolatedAsyncioTestCase):
                    @pytest.fixture(autouse=True)
                    def _count(self, run_number):
                        self.latency = 0.3 if run_number % 2 else 0.0

                    @pytest.mark.flaky(reruns=2)
                    async def test_welcome_mail_is_sent(self):
                        outbox = Outbox(self.latency)
                        asyncio.create_task(outbox.send("ann@example.com"))
                        await asyncio.sleep(0.05)
                        self.assertEqual(outbox.sent, ["ann@example.com"])
            """),
        }, "tests/test_mailer.py::OutboxTest::test_welcome_mail_is_sent", needs_counter=True),
        Case("fire-and-forget-code", "async: the project's code starts tasks nobody awaits", {
            "src/fanout.py": _src("""
                import asyncio


                class Fanout:
                    def __init__(self, peers, slow_peer=None):
                        self.peers = peers
                        self.slow_peer = slow_peer
                        self.delivered = {}

                    async def _send(self, peer, message):
                        await asyncio.sleep(0.3 if peer == self.slow_peer else 0.0)
                        self.delivered[peer] = message

                    def broadcast(self, message):
                        for peer in self.peers:
                            asyncio.ensure_future(self._send(peer, message))
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_fanout.py": _src("""
                import asyncio

                import pytest

                from fanout import Fanout


                @pytest.mark.flaky(reruns=2)
                def test_broadcast_reaches_every_peer(run_number):
                    async def scenario():
                        fanout = Fanout(["a", "b", "c"], slow_peer="b" if run_number % 2 else None)
                        fanout.broadcast("hello")
                        await asyncio.sleep(0.05)
                        return fanout.delivered

                    assert asyncio.run(scenario()) == {"a": "hello", "b": "hello", "c": "hello"}
            """),
        }, "tests/test_fanout.py::test_broadcast_reaches_every_peer", needs_counter=True),
    ]


def _asyncio(python: str) -> list[Case]:
    return [
        Case("pytest-asyncio-consumer", "async: pytest-asyncio, a consumer task and a fixed sleep", {
            "src/pipeline.py": _src("""
                import asyncio


                class Consumer:
                    def __init__(self, queue, latency=0.0):
                        self.queue = queue
                        self.seen = []
                        self.latency = latency

                    async def run(self):
                        while True:
                            item = await self.queue.get()
                            await asyncio.sleep(self.latency)  # parsing, storing
                            self.seen.append(item)
                            self.queue.task_done()
            """),
            "pyproject.toml": ASYNC_PYPROJECT,
            "tests/test_pipeline.py": _src("""
                import asyncio

                import pytest

                from pipeline import Consumer


                @pytest.mark.asyncio
                @pytest.mark.flaky(reruns=2)
                async def test_consumer_sees_what_is_queued(run_number):
                    queue = asyncio.Queue()
                    consumer = Consumer(queue, latency=0.3 if run_number % 2 else 0.0)
                    task = asyncio.create_task(consumer.run())
                    await queue.put("order-1")
                    await asyncio.sleep(0.05)
                    assert consumer.seen == ["order-1"]
                    task.cancel()
            """),
        }, "tests/test_pipeline.py::test_consumer_sees_what_is_queued", needs_counter=True, python=python),
        Case("pytest-asyncio-fixture", "async: an async fixture starts a task nobody awaits", {
            "src/warmcache.py": _src("""
                import asyncio


                class Cache:
                    def __init__(self, warmup=0.0):
                        self._data = {}
                        self.warmup = warmup

                    async def warm(self):
                        await asyncio.sleep(self.warmup)  # loading from the backing store
                        self._data["greeting"] = "hello"

                    def get(self, key):
                        return self._data.get(key)
            """),
            "pyproject.toml": ASYNC_PYPROJECT,
            "tests/test_warmcache.py": _src("""
                import asyncio

                import pytest
                import pytest_asyncio

                from warmcache import Cache


                @pytest_asyncio.fixture
                async def cache(run_number):
                    cache = Cache(warmup=0.3 if run_number % 2 else 0.0)
                    asyncio.create_task(cache.warm())
                    yield cache


                @pytest.mark.asyncio
                @pytest.mark.flaky(reruns=2)
                async def test_warm_cache_has_the_defaults(cache):
                    await asyncio.sleep(0.05)
                    assert cache.get("greeting") == "hello"
            """),
        }, "tests/test_warmcache.py::test_warm_cache_has_the_defaults", needs_counter=True, python=python),
    ]


def _data() -> list[Case]:
    return [
        Case("set-order-param", "data: set order in the project's code, a pytest.param case", {
            "src/hashtags.py": _src("""
                def render(tags):
                    return " ".join("#" + tag for tag in set(tags))
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_hashtags.py": _src("""
                import pytest

                from hashtags import render


                @pytest.mark.flaky(reruns=2)
                @pytest.mark.parametrize(
                    "tags, expected",
                    [
                        pytest.param(["python"], "#python", id="one"),
                        pytest.param(["python", "asyncio"], "#asyncio #python", id="two"),
                    ],
                )
                def test_render(tags, expected):
                    assert render(tags) == expected
            """),
        }, "tests/test_hashtags.py::test_render[two]", mode="fresh"),
        Case("frozenset-in-class", "data: a frozenset's order compared in a class", {
            "src/roles.py": _src("""
                GRANTS = {
                    "viewer": {"read"},
                    "editor": {"read", "write"},
                }


                def grants(role):
                    return frozenset(GRANTS[role])
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_roles.py": _src("""
                import pytest

                from roles import grants


                class TestGrants:
                    @pytest.mark.flaky(reruns=2)
                    def test_editor_grants(self):
                        assert [name.upper() for name in grants("editor")] == ["READ", "WRITE"]
            """),
        }, "tests/test_roles.py::TestGrants::test_editor_grants", mode="fresh"),
        Case("random-factory-conftest", "data: unseeded random in a conftest factory", {
            "src/directory.py": _src("""
                class Duplicate(Exception):
                    pass


                class Directory:
                    def __init__(self):
                        self.by_email = {}

                    def add(self, user):
                        if user.email in self.by_email:
                            raise Duplicate(user.email)
                        self.by_email[user.email] = user
            """),
            "pyproject.toml": PYPROJECT,
            "tests/conftest.py": _src("""
                import random
                from dataclasses import dataclass

                import pytest


                @dataclass
                class User:
                    name: str
                    email: str


                @pytest.fixture
                def make_user():
                    def make(name):
                        return User(name, f"user{random.randint(1, 20)}@example.com")

                    return make
            """),
            "tests/test_directory.py": _src("""
                import pytest

                from directory import Directory


                @pytest.mark.flaky(reruns=2)
                def test_directory_holds_every_user(make_user):
                    directory = Directory()
                    for name in ("ann", "bob", "cid", "dee", "eve"):
                        directory.add(make_user(name))
                    assert len(directory.by_email) == 5
            """),
        }, "tests/test_directory.py::test_directory_holds_every_user"),
        Case("float-unittest", "data: floats summed in set order, unittest", {
            "src/basket.py": _src("""
                from dataclasses import dataclass


                @dataclass(frozen=True)
                class Item:
                    name: str
                    price: float


                class Basket:
                    def __init__(self):
                        self.items = set()

                    def add(self, item):
                        self.items.add(item)

                    def total(self):
                        return sum(item.price for item in self.items)
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_basket.py": _src("""
                import unittest

                import pytest

                from basket import Basket, Item


                class BasketTest(unittest.TestCase):
                    @pytest.mark.flaky(reruns=2)
                    def test_total(self):
                        basket = Basket()
                        for name, price in (("apple", 0.1), ("pear", 0.2), ("plum", 0.3)):
                            basket.add(Item(name, price))
                        self.assertEqual(basket.total(), 0.6)
            """),
        }, "tests/test_basket.py::BasketTest::test_total", mode="fresh"),
    ]


def _time() -> list[Case]:
    return [
        Case("clock-second-boundary", "time: datetime.now() read twice across a second", {
            "src/tokens.py": _src("""
                import datetime
                import hashlib
                from dataclasses import dataclass


                @dataclass
                class Token:
                    user: str
                    digest: str
                    issued_at: datetime.datetime


                def issue(user, now=datetime.datetime.now):
                    issued_at = now()
                    digest = hashlib.pbkdf2_hmac("sha256", user.encode(), b"pepper", 100_000)
                    return Token(user, digest.hex(), issued_at)
            """),
            "pyproject.toml": PYPROJECT,
            "tests/conftest.py": _src("""
                import time

                import pytest


                @pytest.fixture
                def late_in_a_second(run_number):
                    \"\"\"Every other run starts just before a second ends, as a loaded CI machine may.\"\"\"
                    if run_number % 2:
                        time.sleep(1 - time.time() % 1 - 0.005 if time.time() % 1 < 0.995 else 0.99)
            """),
            "tests/test_tokens.py": _src("""
                import datetime

                import pytest

                from tokens import issue


                @pytest.mark.flaky(reruns=2)
                def test_token_is_issued_now(late_in_a_second):
                    token = issue("ann")
                    assert token.issued_at.replace(microsecond=0) == datetime.datetime.now().replace(microsecond=0)
            """),
        }, "tests/test_tokens.py::test_token_is_issued_now", needs_counter=True),
    ]


def _order() -> list[Case]:
    return [
        Case("env-fixture-polluter", "order: a fixture sets os.environ and never restores it", {
            "src/appcfg.py": _src("""
                import os
                from dataclasses import dataclass


                @dataclass
                class Config:
                    env: str
                    debug: bool


                def load_config():
                    env = os.environ.get("APP_ENV", "development")
                    return Config(env, debug=env == "development")
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_appcfg.py": _src("""
                import os

                import pytest

                from appcfg import load_config


                @pytest.fixture
                def production():
                    os.environ["APP_ENV"] = "production"
                    yield


                class TestConfig:
                    @pytest.mark.flaky(reruns=2)
                    def test_debug_by_default(self):
                        assert load_config().debug is True

                    def test_production_turns_debug_off(self, production):
                        assert load_config().debug is False
            """),
        }, "tests/test_appcfg.py::TestConfig::test_debug_by_default", mode="orders"),
        Case("settings-dict-unittest", "order: unittest changes a settings dict of the project", {
            "src/client/__init__.py": "",
            "src/client/settings.py": 'DEFAULTS = {"retries": 3, "timeout": 5.0}\n',
            "src/client/http.py": _src("""
                from client import settings


                class Client:
                    def __init__(self):
                        self.retries = settings.DEFAULTS["retries"]
                        self.timeout = settings.DEFAULTS["timeout"]
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_client.py": _src("""
                import unittest

                import pytest

                from client import settings
                from client.http import Client


                class ClientTest(unittest.TestCase):
                    @pytest.mark.flaky(reruns=2)
                    def test_default_retries(self):
                        self.assertEqual(Client().retries, 3)

                    def test_retries_can_be_raised(self):
                        settings.DEFAULTS["retries"] = 10
                        self.assertEqual(Client().retries, 10)
            """),
        }, "tests/test_client.py::ClientTest::test_default_retries", mode="orders"),
        Case("class-attr-polluter", "order: a project class's attribute set by a test", {
            "src/greeter.py": _src("""
                class Greeter:
                    language = "en"
                    WORDS = {"en": "hello", "fr": "bonjour"}

                    def greet(self, name):
                        return f"{self.WORDS[self.language]} {name}"
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_greeter.py": _src("""
                import pytest

                from greeter import Greeter


                class TestGreeter:
                    def test_french(self):
                        Greeter.language = "fr"
                        assert Greeter().greet("ann") == "bonjour ann"

                    @pytest.mark.flaky(reruns=2)
                    def test_english_by_default(self):
                        assert Greeter().greet("ann") == "hello ann"
            """),
        }, "tests/test_greeter.py::TestGreeter::test_english_by_default", mode="orders"),
        Case("cross-module-polluter", "order: the polluter is in another test module", {
            "src/units.py": _src("""
                SYSTEM = "metric"


                def distance(km):
                    return f"{km} km" if SYSTEM == "metric" else f"{km * 0.621371:.1f} mi"
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_imperial.py": _src("""
                import units


                def test_miles():
                    units.SYSTEM = "imperial"
                    assert units.distance(10) == "6.2 mi"
            """),
            "tests/test_metric.py": _src("""
                import pytest

                import units


                @pytest.mark.flaky(reruns=2)
                def test_kilometres():
                    assert units.distance(10) == "10 km"
            """),
        }, "tests/test_metric.py::test_kilometres", mode="orders", orders_over="tests"),
    ]


def _shared(token: str) -> list[Case]:
    return [
        Case("sqlite-file-fixture", "fixture: a conftest fixture opens one fixed SQLite file", {
            "src/notes.py": _src("""
                import time


                def save(conn, text):
                    conn.execute("insert into notes (text) values (?)", (text,))
                    conn.commit()
                    time.sleep(0.3)  # indexing


                def count(conn):
                    return conn.execute("select count(*) from notes").fetchone()[0]
            """),
            "pyproject.toml": PYPROJECT,
            "tests/conftest.py": _src(f"""
                import os
                import sqlite3

                import pytest

                DB = "notes-{token}.sqlite3"


                @pytest.fixture
                def db():
                    if os.path.exists(DB):
                        os.remove(DB)
                    conn = sqlite3.connect(DB)
                    conn.execute("create table if not exists notes (text)")
                    yield conn
                    conn.close()
                    if os.path.exists(DB):
                        os.remove(DB)
            """),
            "tests/test_notes.py": _src("""
                import pytest

                from notes import count, save


                @pytest.mark.flaky(reruns=2)
                def test_one_note(db):
                    save(db, "hello")
                    assert count(db) == 1


                def test_two_notes(db):
                    save(db, "a")
                    save(db, "b")
                    assert count(db) == 2
            """),
        }, "tests/test_notes.py::test_one_note", mode="parallel"),
        Case("setup-method-tmp", "fixture: setup_method makes one fixed folder in /tmp", {
            "tests/test_archive.py": _src(f"""
                import os
                import shutil
                import time

                import pytest


                class TestArchive:
                    def setup_method(self):
                        self.workdir = "/tmp/archive-tests-{token}"
                        shutil.rmtree(self.workdir, ignore_errors=True)
                        os.makedirs(self.workdir)

                    def teardown_method(self):
                        shutil.rmtree(self.workdir, ignore_errors=True)

                    @pytest.mark.flaky(reruns=2)
                    def test_pack(self):
                        for name in ("a.txt", "b.txt"):
                            with open(os.path.join(self.workdir, name), "w") as out:
                                out.write(name)
                        time.sleep(0.3)  # packing
                        assert sorted(os.listdir(self.workdir)) == ["a.txt", "b.txt"]

                    def test_unpack(self):
                        with open(os.path.join(self.workdir, "c.txt"), "w") as out:
                            out.write("c")
                        time.sleep(0.3)  # unpacking
                        assert os.listdir(self.workdir) == ["c.txt"]
            """),
        }, "tests/test_archive.py::TestArchive::test_pack", mode="parallel"),
        Case("param-output-file", "fixture: pytest.param cases write one file name", {
            "src/exporter.py": _src("""
                import time


                def export(rows, path, sep):
                    with open(path, "w") as out:
                        for row in rows:
                            out.write(sep.join(row) + "\\n")
                    time.sleep(0.3)  # compressing, uploading
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_exporter.py": _src(f"""
                from pathlib import Path

                import pytest

                from exporter import export

                ROWS = [("a", "1"), ("b", "2")]


                @pytest.mark.flaky(reruns=2)
                @pytest.mark.parametrize("sep", [pytest.param(",", id="csv"), pytest.param("\\t", id="tsv")])
                def test_export_round_trip(sep):
                    path = Path("export-{token}.out")
                    export(ROWS, path, sep)
                    assert [tuple(line.split(sep)) for line in path.read_text().splitlines()] == ROWS
            """),
        }, "tests/test_exporter.py::test_export_round_trip[csv]", mode="parallel"),
    ]


def _races() -> list[Case]:
    return [
        Case("unlocked-balance", "race: an account's unlocked read-modify-write", {
            "src/bank.py": _src("""
                class Account:
                    def __init__(self):
                        self.balance = 0
                        self.history = []

                    def audit(self, kind, amount):
                        self.history.append((kind, amount))

                    def deposit(self, amount):
                        balance = self.balance
                        self.audit("deposit", amount)
                        self.balance = balance + amount
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_bank.py": _src("""
                import sys
                import threading

                import pytest

                from bank import Account


                class TestAccount:
                    @pytest.mark.flaky(reruns=2)
                    def test_concurrent_deposits(self):
                        sys.setswitchinterval(1e-6)
                        account = Account()
                        start = threading.Barrier(4)

                        def client():
                            start.wait()
                            for _ in range(20000):
                                account.deposit(1)

                        threads = [threading.Thread(target=client) for _ in range(4)]
                        for thread in threads:
                            thread.start()
                        for thread in threads:
                            thread.join()
                        assert account.balance == 80000
            """),
        }, "tests/test_bank.py::TestAccount::test_concurrent_deposits"),
        Case("rate-dict-pool", "race: a dict counter in the project, a thread pool", {
            "src/limiter.py": _src("""
                class RateLimiter:
                    def __init__(self):
                        self.hits = {}

                    def hit(self, key):
                        count = self.hits.get(key, 0)
                        self.hits[key] = count + 1
                        return self.hits[key]
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_limiter.py": _src("""
                import sys
                import threading
                from concurrent.futures import ThreadPoolExecutor

                import pytest

                from limiter import RateLimiter


                @pytest.mark.flaky(reruns=2)
                def test_every_hit_is_counted():
                    sys.setswitchinterval(1e-6)
                    limiter = RateLimiter()
                    start = threading.Barrier(4)

                    def hammer():
                        start.wait()
                        for _ in range(20000):
                            limiter.hit("ann")

                    with ThreadPoolExecutor(max_workers=4) as pool:
                        for future in [pool.submit(hammer) for _ in range(4)]:
                            future.result()
                    assert limiter.hits["ann"] == 80000
            """),
        }, "tests/test_limiter.py::test_every_hit_is_counted"),
    ]


def _ends() -> list[Case]:
    return [
        Case("network-socket", "external: a service on a socket", {
            "src/kvclient.py": _src("""
                import socket


                class KV:
                    def __init__(self, host="127.0.0.1", port=6399):
                        self.address = (host, port)

                    def ping(self):
                        with socket.create_connection(self.address, timeout=0.5) as conn:
                            conn.sendall(b"PING\\r\\n")
                            return conn.recv(16)
            """),
            "pyproject.toml": PYPROJECT,
            "tests/test_kv.py": _src("""
                import pytest

                from kvclient import KV


                class TestKV:
                    @pytest.mark.flaky(reruns=3)
                    def test_ping(self):
                        assert KV().ping() == b"+PONG\\r\\n"
            """),
        }, "tests/test_kv.py::TestKV::test_ping", expect="keep"),
        Case("stable-flaky-decorator", "stable: nothing fails (flaky's decorator)", {
            "tests/test_slug.py": _src("""
                from flaky import flaky


                def slug(title):
                    return "-".join(title.lower().split())


                class TestSlug:
                    @flaky(max_runs=3)
                    def test_slug(self):
                        assert slug("Hello  Big World") == "hello-big-world"
            """),
        }, "tests/test_slug.py::TestSlug::test_slug", expect="marker-only"),
    ]


def cases(token: str, python: str) -> list[Case]:
    """The fresh set; ``python`` runs the pytest-asyncio cases (an interpreter that has it)."""
    return [*_waits(), *_asyncio(python), *_data(), *_time(), *_order(), *_shared(token), *_races(), *_ends()]
