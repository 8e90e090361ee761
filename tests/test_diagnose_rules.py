"""Rules, line by line: small sources with the exact (line, rule) pairs they must produce,
and a table of no-ops (seeded, frozen, monkeypatched, mocked) that must produce none."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.diagnose import hash_seed_rules
from flaketui.diagnose.catalog import RULES
from flaketui.models import Category
from tests._diagnose_helpers import diagnose_files, pairs


def evidence_of(tmp_path: Path, text: str, name: str = "test_it", class_name: str | None = None) -> set[tuple[int, str]]:
    return pairs(diagnose_files(tmp_path, {"test_mod.py": text}, "test_mod.py", name, class_name))


CASES = [
    pytest.param(
        """
        from datetime import datetime as dt

        def test_it():
            assert dt.now().year > 2000
        """,
        {(4, "time.wall-clock")},
        id="aliased-datetime-now",
    ),
    pytest.param(
        """
        import datetime

        def test_it():
            today = datetime.date.today()
            assert today.weekday() < 5
        """,
        {(4, "time.wall-clock"), (5, "time.calendar-dependent")},
        id="date-today",
    ),
    pytest.param(
        """
        from datetime import date

        def test_it():
            if date.today().weekday() == 4:
                assert False
        """,
        {(4, "time.wall-clock"), (4, "time.calendar-dependent")},
        id="weekday-branch",
    ),
    pytest.param(
        """
        import time

        def test_it():
            start = time.perf_counter()
            work()
            elapsed = time.perf_counter() - start
            assert elapsed < 0.5
        """,
        {(7, "time.elapsed-assert")},
        id="elapsed-assert",
    ),
    pytest.param(
        """
        import time
        from datetime import datetime

        def test_it():
            stamp = datetime.fromtimestamp(0)
            assert stamp.hour == 0
        """,
        {(5, "time.local-timezone")},
        id="fromtimestamp-local-zone",
    ),
    pytest.param(
        """
        from datetime import timedelta
        from app.tokens import issue

        def test_it(cache):
            token = issue("alice", ttl=1)
            cache.put("k", 1, max_age=timedelta(seconds=2))
            cache.put("j", 1, max_age=timedelta(hours=2))
        """,
        {(5, "time.short-expiry"), (6, "time.short-expiry")},
        id="short-expiry",
    ),
    pytest.param(
        """
        import os

        def test_it(tmp_path):
            before = os.path.getmtime(tmp_path)
            assert before
        """,
        {(4, "time.file-timestamp")},
        id="mtime",
    ),
    pytest.param(
        """
        import asyncio

        async def test_it():
            task = asyncio.ensure_future(job())
            await asyncio.sleep(0.1)
            assert task.done()
        """,
        {(5, "async.fixed-sleep")},
        id="asyncio-sleep",
    ),
    pytest.param(
        """
        import asyncio

        async def test_it():
            asyncio.create_task(job())
            await asyncio.sleep(0)
        """,
        {(4, "async.task-not-awaited")},
        id="fire-and-forget",
    ),
    pytest.param(
        """
        from time import sleep

        def test_it():
            start_server()
            sleep(2)
            assert ready()
        """,
        {(5, "async.blocking-sleep")},
        id="from-time-import-sleep",
    ),
    pytest.param(
        """
        import time

        def test_it():
            while not ready():
                time.sleep(0.01)
        """,
        {(4, "async.polling-loop")},
        id="polling-loop",
    ),
    pytest.param(
        """
        def test_it(qtbot, window):
            window.click()
            qtbot.wait(100)
            assert window.done
        """,
        {(3, "async.gui-fixed-wait")},
        id="qtbot-wait",
    ),
    pytest.param(
        """
        def test_it(qtbot, window):
            qtbot.waitUntil(lambda: window.ready, timeout=500)
        """,
        {(2, "async.gui-short-timeout")},
        id="qtbot-wait-until-short",
    ),
    pytest.param(
        """
        from selenium.webdriver.support.ui import WebDriverWait

        def test_it(driver):
            WebDriverWait(driver, 2).until(lambda d: d.title)
        """,
        {(3, "async.browser-fixture"), (4, "async.browser-short-wait")},
        id="webdriver-wait",
    ),
    pytest.param(
        """
        def test_it(page):
            page.goto("http://localhost:8000")
            page.wait_for_timeout(1000)
        """,
        {(1, "async.browser-fixture"), (3, "async.browser-fixed-wait")},
        id="playwright-wait-for-timeout",
    ),
    pytest.param(
        """
        import queue

        def test_it():
            q = queue.Queue()
            assert q.get(timeout=0.1)
        """,
        {(5, "async.tight-timeout")},
        id="tight-timeout",
    ),
    pytest.param(
        """
        from app.hooks import WebhookClient

        def test_it(receiver):
            client = WebhookClient("http://127.0.0.1:8765/hooks", timeout=0.08)
        """,
        {(4, "external.network-timeout")},
        id="tight-network-timeout-is-external",
    ),
    pytest.param(
        """
        from app.jobs import Job

        def test_it():
            job = Job("send", tags={"urgent", "billing"})
            assert job.describe() == "send [urgent, billing]"
        """,
        {(4, "data.string-set-passed")},
        id="set-of-strings-reaching-an-exact-comparison",
    ),
    pytest.param(
        """
        import threading

        def test_it():
            results = []
            t = threading.Thread(target=lambda: results.append(1))
            t.start()
            assert results
        """,
        {(5, "race.thread")},
        id="thread",
    ),
    pytest.param(
        """
        from concurrent.futures import ThreadPoolExecutor

        def test_it():
            with ThreadPoolExecutor(4) as pool:
                pool.map(work, range(10))
        """,
        {(4, "race.pool")},
        id="thread-pool",
    ),
    pytest.param(
        """
        def test_it():
            with open("/tmp/shared.txt", "w") as f:
                f.write("x")
        """,
        {(2, "race.shared-tmp-path")},
        id="fixed-tmp-path",
    ),
    pytest.param(
        """
        import requests

        def test_it():
            response = requests.get("https://api.github.com/repos/x")
            assert response.ok
        """,
        {(4, "external.http"), (4, "external.remote-url")},
        id="requests-get",
    ),
    pytest.param(
        """
        import requests

        def test_it():
            data = requests.get(
                "https://api.github.com/x"
            ).json()
            assert data["items"]
        """,
        {(4, "external.http"), (5, "external.remote-url")},
        id="response-methods-are-not-more-requests",
    ),
    pytest.param(
        """
        import httpx

        async def test_it():
            async with httpx.AsyncClient() as client:
                await client.get("/status")
        """,
        {(4, "external.http"), (5, "external.http")},
        id="httpx-async-client",
    ),
    pytest.param(
        """
        import boto3

        def test_it():
            s3 = boto3.client("s3")
            s3.list_buckets()
        """,
        {(4, "external.cloud"), (5, "external.cloud")},
        id="boto3",
    ),
    pytest.param(
        """
        import redis

        def test_it():
            r = redis.Redis(host="cache")
            r.set("a", 1)
        """,
        {(4, "external.broker"), (5, "external.broker")},
        id="redis",
    ),
    pytest.param(
        """
        from openai import OpenAI

        def test_it():
            client = OpenAI()
            client.chat.completions.create(model="gpt-4o", messages=[])
        """,
        {(4, "external.llm-api"), (5, "external.llm-api")},
        id="openai",
    ),
    pytest.param(
        """
        import subprocess

        def test_it():
            out = subprocess.check_output(["git", "status"])
            assert out
        """,
        {(4, "external.subprocess")},
        id="subprocess",
    ),
    pytest.param(
        """
        import socket

        def test_it():
            sock = socket.create_connection(("db.internal", 5432))
        """,
        {(4, "external.socket")},
        id="socket",
    ),
    pytest.param(
        """
        import psycopg2

        def test_it():
            conn = psycopg2.connect("dbname=test")
        """,
        {(4, "external.database")},
        id="psycopg2",
    ),
    pytest.param(
        """
        from transformers import AutoModel

        def test_it():
            model = AutoModel.from_pretrained("bert-base-uncased")
        """,
        {(4, "external.download")},
        id="from-pretrained",
    ),
    pytest.param(
        """
        import pytest

        @pytest.mark.network
        def test_it(catalog):
            assert catalog.fetch("m31")
        """,
        {(3, "external.declared-network")},
        id="network-marker",
    ),
    pytest.param(
        """
        import os
        import pytest

        @pytest.mark.skipif(not os.environ.get("SERVICE_API_KEY"), reason="needs a key")
        def test_it(catalog):
            assert catalog.fetch("m31")
        """,
        {(4, "external.credentials"), (4, "external.machine-environment")},
        id="credential-from-environment",
    ),
    pytest.param(
        """
        def test_it(server):
            server.start(port=8080)
        """,
        {(2, "external.fixed-port")},
        id="fixed-port",
    ),
    pytest.param(
        """
        import psutil

        def test_it(pool):
            assert pool.size == psutil.cpu_count()
        """,
        {(4, "external.machine-environment")},
        id="psutil-machine-figure",
    ),
    pytest.param(
        # The process's own open files and children (spyder's leak check): no machine setting.
        """
        import psutil

        def test_it(console):
            before = psutil.Process().children()
            console.close()
            assert psutil.Process().children() == before
        """,
        set(),
        id="psutil-own-process",
    ),
    pytest.param(
        """
        import random

        def test_it():
            values = [random.randint(0, 10) for _ in range(5)]
            assert sorted(values) == values
        """,
        {(4, "data.unseeded-random")},
        id="unseeded-random",
    ),
    pytest.param(
        """
        import numpy as np

        def test_it():
            data = np.random.rand(10)
            assert data.mean() > 0.1
        """,
        {(4, "data.unseeded-random")},
        id="numpy-random",
    ),
    pytest.param(
        """
        import random, time

        def test_it():
            random.seed(time.time())
            assert random.random() < 0.9
        """,
        {(4, "data.clock-seed"), (4, "time.wall-clock"), (5, "data.unseeded-random")},
        id="seed-from-clock-is-no-seed",
    ),
    pytest.param(
        """
        from sklearn.model_selection import train_test_split

        def test_it(data):
            train, test = train_test_split(data, random_state=None)
        """,
        {(4, "data.no-seed")},
        id="explicit-seed-none",
    ),
    pytest.param(
        """
        def test_it():
            names = {"b", "a", "c"}
            assert list(names) == ["a", "b", "c"]
            assert ",".join(set(names)) == "a,b,c"
        """,
        {(3, "data.set-order"), (4, "data.set-order")},
        id="set-order",
    ),
    pytest.param(
        """
        def test_it():
            assert 0.1 + 0.2 == 0.3
        """,
        {(2, "data.float-equality")},
        id="float-equality",
    ),
    pytest.param(
        """
        import os

        def test_it(tmp_path):
            names = os.listdir(tmp_path)
            assert names[0] == "a.txt"
            assert sorted(os.listdir(tmp_path)) == ["a.txt"]
        """,
        {(4, "data.directory-order")},
        id="listdir-unsorted-only",
    ),
    pytest.param(
        """
        def test_it():
            assert hash("abc") % 2 == 0
        """,
        {(2, "data.hash-value")},
        id="hash",
    ),
    pytest.param(
        """
        import os

        def test_it():
            os.environ["MODE"] = "test"
            os.environ.pop("OTHER")
            del os.environ["THIRD"]
        """,
        {(4, "fixture.environ-assign"), (5, "fixture.environ-write"), (6, "fixture.environ-write")},
        id="environ-writes",
    ),
    pytest.param(
        """
        import os
        import sys

        def test_it():
            os.chdir("/")
            sys.path.insert(0, "plugins")
        """,
        {(5, "fixture.chdir"), (6, "fixture.import-state")},
        id="chdir-and-sys-path",
    ),
    pytest.param(
        """
        from myapp import settings

        def test_it():
            settings.DEBUG = True
            assert settings.DEBUG
        """,
        {(4, "fixture.module-attribute")},
        id="module-attribute-assignment",
    ),
    pytest.param(
        """
        from unittest import mock

        def test_it():
            patcher = mock.patch("myapp.api.fetch")
            patcher.start()
        """,
        {(5, "fixture.patch-not-stopped")},
        id="patch-not-stopped",
    ),
    pytest.param(
        """
        import logging

        def test_it():
            logging.disable(logging.CRITICAL)
        """,
        {(4, "fixture.process-config")},
        id="process-config",
    ),
    pytest.param(
        """
        import functools

        @functools.lru_cache(maxsize=None)
        def settings():
            return {}

        def test_it():
            assert settings() == {}
        """,
        {(8, "fixture.cached-function")},
        id="lru-cache",
    ),
    pytest.param(
        """
        SEEN = []

        def test_it():
            SEEN.append(1)
            assert SEEN == [1]
        """,
        {(4, "order.module-state-mutation")},
        id="module-list-mutation",
    ),
    pytest.param(
        """
        COUNT = 0

        def test_it():
            global COUNT
            COUNT += 1
            assert COUNT == 1
        """,
        {(4, "order.global-statement")},
        id="global-statement",
    ),
    pytest.param(
        """
        USERS = {}

        def test_create():
            USERS["bob"] = 1

        def test_it():
            assert "bob" in USERS
        """,
        {(7, "order.shared-state-read")},
        id="reads-what-another-test-writes",
    ),
    pytest.param(
        """
        import pytest

        @pytest.mark.order(after="test_setup")
        def test_it():
            assert True
        """,
        {(3, "order.explicit-order")},
        id="order-marker",
    ),
    pytest.param(
        """
        from myapp import app

        def test_it(override):
            app.dependency_overrides[get_db] = override
        """,
        {(4, "order.imported-state-mutation")},
        id="imported-registry",
    ),
    pytest.param(
        """
        from app.config import CONF

        def test_it(window):
            CONF.set("main", "geometry", None)
            assert window.size()
        """,
        {(4, "order.imported-state-mutation")},
        id="imported-configuration-set",
    ),
    pytest.param(
        """
        import random
        import time

        def test_it(miner):
            miner.stop()
            while miner.running:
                time.sleep(random.random())
        """,
        {(6, "async.polling-loop")},
        id="random-jitter-in-a-sleep-is-not-data",
    ),
    pytest.param(
        """
        def test_it(request):
            request.config.cache.set("token", 1)
        """,
        {(2, "order.cross-run-cache")},
        id="pytest-cache",
    ),
    pytest.param(
        """
        import time
        import pytest
        from app.timing import Timer

        def test_it():
            with Timer() as timer:
                time.sleep(0.1)
            assert timer.seconds == pytest.approx(0.1, abs=0.02)
        """,
        {(8, "time.elapsed-assert")},
        id="timer-block-around-a-sleep-standing-in-for-work",
    ),
    pytest.param(
        """
        import time
        import pytest

        def test_it(profiler):
            profiler.start()
            time.sleep(0.25)
            session = profiler.stop()
            assert session.root_frame().time == pytest.approx(0.25, rel=0.1)
        """,
        # The sleep is the work the profiler measures (as in a timer block): no wait to blame.
        {(8, "time.elapsed-assert")},
        id="profiled-sleep-frame-time",
    ),
    pytest.param(
        """
        import time

        def test_it(throttle):
            stamps = []
            for _ in range(5):
                throttle.acquire()
                stamps.append(time.perf_counter())
            gaps = [b - a for a, b in zip(stamps, stamps[1:])]
            assert max(gaps) < 0.12
        """,
        {(9, "time.elapsed-assert")},
        id="gaps-between-clock-readings",
    ),
    pytest.param(
        """
        import asyncio

        def test_it():
            async def scenario():
                loop = asyncio.get_running_loop()
                started = loop.time()
                await asyncio.sleep(0.05)
                return loop.time() - started

            assert asyncio.run(scenario()) < 0.08
        """,
        {(10, "time.elapsed-assert")},
        id="coroutine-measures-its-sleep",
    ),
    pytest.param(
        """
        import os
        from hdfs import InsecureClient
        from pymemcache.client.base import Client
        from searchkit import SearchConnection

        def test_it():
            InsecureClient("http://namenode:9870", user="etl").list("/")
            Client(("localhost", 11211)).get("k")
            SearchConnection(host=os.environ["SEARCH_HOST"]).query("kettle")
        """,
        {(7, "external.service-client"), (8, "external.service-client"), (9, "external.service-client")},
        id="service-clients-with-an-address",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_rule_finds_exact_lines(tmp_path: Path, text: str, expected: set[tuple[int, str]]) -> None:
    assert evidence_of(tmp_path, text) == expected


def test_class_attribute_state_is_order_evidence(tmp_path: Path) -> None:
    text = """
    class TestCart:
        items = []

        def test_add(self):
            self.items.append("apple")
            assert self.items == ["apple"]

        def test_bump(self):
            type(self).counter = 1
    """
    assert evidence_of(tmp_path, text, "test_add", "TestCart") == {(5, "order.class-state")}
    assert evidence_of(tmp_path, text, "test_bump", "TestCart") == {(9, "order.class-state")}


NO_OPS = [
    pytest.param(
        """
        import time
        from app.timing import Timer

        def test_it():
            # A sleep lasts at least as long as asked, under any load.
            with Timer() as timer:
                time.sleep(0.05)
            assert timer.seconds >= 0.05
        """,
        id="timer-lower-bound-after-a-sleep",
    ),
    pytest.param(
        """
        import httpx
        from starlette.testclient import TestClient
        from app import create_app
        from app.pool import SessionPool
        from fakeredis import FakeConnection

        def test_it():
            TestClient(create_app()).get("/health")
            SessionPool(size=4).acquire()
            FakeConnection(host="redis.internal").ping()
            client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
        """,
        id="clients-that-never-leave-the-machine",
    ),
    pytest.param(
        """
        import random

        def test_it():
            random.seed(1234)
            assert random.randint(0, 10) >= 0
        """,
        id="seeded-random",
    ),
    pytest.param(
        """
        import random

        def test_it():
            rng = random.Random(42)
            assert rng.random() < 1
        """,
        id="seeded-generator-instance",
    ),
    pytest.param(
        """
        import numpy as np

        def test_it():
            rng = np.random.default_rng(0)
            assert rng.normal() < 10
        """,
        id="seeded-numpy-generator",
    ),
    pytest.param(
        """
        from datetime import datetime
        from freezegun import freeze_time

        @freeze_time("2024-01-01")
        def test_it():
            assert datetime.now().year == 2024
        """,
        id="freeze-time-decorator",
    ),
    pytest.param(
        """
        import datetime
        import time_machine

        def test_it():
            with time_machine.travel(0):
                assert datetime.datetime.now().year == 1970
        """,
        id="time-machine-context",
    ),
    pytest.param(
        """
        from datetime import datetime

        def test_it(freezer):
            freezer.move_to("2024-01-01")
            assert datetime.now().year == 2024
        """,
        id="freezer-fixture",
    ),
    pytest.param(
        """
        def test_it(monkeypatch):
            monkeypatch.setenv("MODE", "test")
            monkeypatch.delenv("OTHER", raising=False)
            monkeypatch.chdir("/")
        """,
        id="monkeypatched-env",
    ),
    pytest.param(
        """
        import responses
        import requests

        @responses.activate
        def test_it():
            responses.add(responses.GET, "https://api.github.com/x", json={})
            assert requests.get("https://api.github.com/x").ok
        """,
        id="responses-activate",
    ),
    pytest.param(
        """
        import requests

        def test_it(requests_mock):
            requests_mock.get("https://api.github.com/x", json={})
            assert requests.get("https://api.github.com/x").ok
        """,
        id="requests-mock-fixture",
    ),
    pytest.param(
        """
        import httpx

        def test_it(httpx_mock):
            with httpx.Client() as client:
                client.get("https://api.github.com/x")
        """,
        id="pytest-httpx",
    ),
    pytest.param(
        """
        import respx
        import httpx

        @respx.mock
        def test_it():
            respx.get("https://api.github.com/x")
            httpx.get("https://api.github.com/x")
        """,
        id="respx-decorator",
    ),
    pytest.param(
        """
        from unittest import mock
        import requests

        @mock.patch("requests.get")
        def test_it(get):
            requests.get("https://api.github.com/x")
        """,
        id="patched-client",
    ),
    pytest.param(
        """
        import requests

        def test_it(mocker):
            mocker.patch("myapp.client.requests.post")
            requests.post("https://api.github.com/x")
        """,
        id="mocker-patched-client",
    ),
    pytest.param(
        """
        import requests

        def test_it(httpserver):
            httpserver.expect_request("/x").respond_with_json({})
            requests.get(httpserver.url_for("/x"))
        """,
        id="pytest-httpserver",
    ),
    pytest.param(
        """
        import httpx

        def test_it():
            client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
            client.get("/")
        """,
        id="httpx-mock-transport",
    ),
    pytest.param(
        """
        import sqlalchemy

        def test_it():
            engine = sqlalchemy.create_engine("sqlite://")
        """,
        id="sqlite-engine",
    ),
    pytest.param(
        """
        from tornado.httpclient import AsyncHTTPClient

        async def test_it(server):
            response = await AsyncHTTPClient().fetch("http://localhost:8786/health")
        """,
        id="request-to-localhost",
    ),
    pytest.param(
        """
        import time

        def test_it(job):
            deadline = time.monotonic() + 30
            while not job.done() and time.time() < deadline:
                job.poll()
        """,
        id="clock-bounding-a-wait",
    ),
    pytest.param(
        """
        import asyncio
        from time import time

        async def test_it(worker):
            start = time()
            while not worker.ready:
                await asyncio.sleep(0.01)
                assert time() < start + 30
        """,
        id="poll-bounded-by-a-deadline",
    ),
    pytest.param(
        """
        import os

        def test_it(tmp_path):
            for name in os.listdir(tmp_path):
                assert name.endswith(".txt")
        """,
        id="listing-checked-entry-by-entry",
    ),
    pytest.param(
        """
        from app import api

        def test_it(fake):
            original = api._request
            api._request = fake
            try:
                assert api.fetch()
            finally:
                api._request = original
        """,
        id="module-attribute-restored-by-hand",
    ),
    pytest.param(
        """
        def test_it(slack):
            assert slack.post("https://b") is None
        """,
        id="url-without-a-real-host",
    ),
    pytest.param(
        """
        import requests

        def test_it(local_server, mock_api):
            requests.get(f"{local_server.url}/health")
            requests.post(mock_api.url + "/items", json={})
        """,
        id="requests-to-test-servers",
    ),
    pytest.param(
        """
        from app.retry import backoff

        def test_it():
            assert backoff(1) == 4.5
            assert backoff(0) == 0.25
        """,
        id="exactly-representable-floats",
    ),
    pytest.param(
        """
        from app.serialize import registry

        def test_it():
            registry.register(MyType)
            try:
                assert registry.dumps(MyType())
            finally:
                del registry.lookup[MyType]
        """,
        id="registry-cleaned-up-by-the-test",
    ),
    pytest.param(
        """
        import pytest

        def test_it():
            assert 0.1 + 0.2 == pytest.approx(0.3)
            assert sorted({"b", "a"}) == ["a", "b"]
        """,
        id="approx-and-sorted-set",
    ),
    pytest.param(
        """
        import asyncio

        async def test_it():
            async with asyncio.TaskGroup() as tg:
                tg.create_task(job())
            await asyncio.wait_for(event.wait(), timeout=10)
        """,
        id="task-group-and-generous-timeout",
    ),
    pytest.param(
        """
        import os
        import random
        import uuid

        def test_it(tmp_path):
            run_dir = os.path.join(tmp_path, "runs", str(random.getrandbits(128)))
            name = f"job-{uuid.uuid4().hex[:8]}"
        """,
        id="random-names-for-uniqueness",
    ),
    pytest.param(
        """
        import os

        def test_it(tmp_path):
            (tmp_path / "a.txt").write_text("x")
            assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
            assert len(os.listdir(tmp_path)) == 1
        """,
        id="order-insensitive-listing",
    ),
    pytest.param(
        """
        import boto3
        from moto import mock_aws

        @mock_aws
        def test_it():
            boto3.client("s3", region_name="us-east-1").list_buckets()
        """,
        id="moto",
    ),
]


@pytest.mark.parametrize("text", NO_OPS)
def test_no_op_produces_no_evidence(tmp_path: Path, text: str) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_mod.py": text}, "test_mod.py", "test_it")
    assert diagnosis.evidence == ()
    assert diagnosis.suggestion.category is Category.UNKNOWN


def test_rule_catalogue_is_broad_and_well_formed() -> None:
    assert len(RULES) >= 40
    assert len({rule.id for rule in RULES}) == len(RULES)
    for category in Category:
        if category is not Category.UNKNOWN:
            assert sum(rule.category is category for rule in RULES) >= 4, category
    for rule in RULES:
        assert rule.id.split(".")[0] == str(rule.category), rule.id
        assert 0 < rule.weight <= 1 and rule.message and rule.fix
        assert rule.scope or rule.calls or rule.matcher is not None, rule.id


def test_the_catalogue_loads_every_named_matcher_and_refuses_a_misspelt_key() -> None:
    """``rules.json`` names matchers and predicates: a matcher no rule names is dead code, and a
    misspelt key (``mitigated-by``) would silently drop what it says, so the load refuses it."""
    from flaketui.diagnose import catalog

    used = {id(rule.matcher) for rule in RULES if rule.matcher is not None}
    assert {name for name, matcher in catalog.MATCHERS.items() if id(matcher) not in used} == set()
    entry = {"id": "time.x", "category": "time", "weight": 0.5, "message": "m", "fix": "f", "calls": ["time.time"]}
    assert catalog._rule(entry).calls == ("time.time",)
    with pytest.raises(ValueError, match="unknown keys"):
        catalog._rule({**entry, "mitigated-by": ["frozen-time"]})
    with pytest.raises(AttributeError):
        catalog._rule({**entry, "when": "predicates.no_such_predicate"})
    assert catalog._rule({**entry, "except_calls": ["@errors"]}).except_calls == catalog.ERRORS


@pytest.mark.parametrize(
    ("code", "hash_seed"),
    [
        pytest.param("assert list({'b', 'a'}) == ['a', 'b']", True, id="set-order"),
        pytest.param("for tag in {'b', 'a'}:\n        out.append(tag)", True, id="set-loop"),
        pytest.param("assert stored == hash('key')", True, id="hash-value"),
        pytest.param("assert time.time() < 5", False, id="wall-clock-is-not"),
    ],
)
def test_evidence_says_whether_its_cause_varies_with_the_hash_seed(tmp_path: Path, code: str, hash_seed: bool) -> None:
    """The verifier runs such tests fresh-process: the property travels with the rule, so a
    rename cannot silently drop a rule from it."""
    body = f"import time\n\n\ndef test_it(out, stored):\n    {code}\n"
    diagnosis = diagnose_files(tmp_path, {"test_a.py": body}, "test_a.py", "test_it")
    rules = {e.rule for e in diagnosis.evidence}
    assert rules
    assert all((rule in hash_seed_rules()) is hash_seed for rule in rules)
