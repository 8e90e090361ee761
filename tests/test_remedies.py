"""Golden before/after tables for the remedies, a table of no-ops, idempotence, and the guard."""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category, Evidence
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def context(files: dict[str, bytes], name: str, *, category=Category.UNKNOWN, evidence=(), deps=(), polluters=(),
            class_name=None) -> Context:
    return Context(
        polluters=tuple(polluters),
        target=Target("tests/test_x.py", name, class_name),
        read=files.get,
        evidence=tuple(evidence),
        category=category,
        dependencies=frozenset(deps),
        project_files=tuple(files),
    )


def order_evidence(polluter: str) -> Evidence:
    return Evidence(Category.ORDER, "order.shared-state-read", "tests/test_x.py", 1, 1,
                    f"state, changed by {polluter} (line 9): reads module-level state", "", 0.7)


GOLDEN = [
    pytest.param(
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(runner):
                task = asyncio.create_task(runner.run())
                await asyncio.sleep(0.05)  # long enough
                assert runner.done
        """)},
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(runner):
                task = asyncio.create_task(runner.run())
                await asyncio.wait_for(task, timeout=10)
                assert runner.done
        """)},
        id="async-sleep-waits-for-the-task",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(runner):
                first = asyncio.create_task(runner.run(1))
                second = asyncio.create_task(runner.run(2))
                await asyncio.sleep(0.05)
                assert runner.count == 2
        """)},
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(runner):
                first = asyncio.create_task(runner.run(1))
                second = asyncio.create_task(runner.run(2))
                await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
                assert runner.count == 2
        """)},
        id="tasks-never-awaited-are-gathered",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import threading
            import time

            def test_a(box):
                worker = threading.Thread(target=box.fill)
                worker.start()
                time.sleep(0.1)
                assert box.full
        """)},
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            import threading
            import time

            def test_a(box):
                worker = threading.Thread(target=box.fill)
                worker.start()
                worker.join(timeout=10)
                assert box.full
        """)},
        id="thread-sleep-joins-the-thread",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            from time import sleep

            def test_a(server):
                server.send("ping")
                sleep(0.2)
                assert server.received == ["ping"]
        """)},
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            from time import sleep
            import time

            def test_a(server):
                server.send("ping")
                deadline = time.monotonic() + 10
                while not (server.received == ["ping"]) and time.monotonic() < deadline:
                    sleep(0.01)
                assert server.received == ["ping"]
        """)},
        id="sleep-then-assert-polls-with-a-deadline",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            from tornado import gen
            from tornado.testing import AsyncTestCase, gen_test

            class TestCache(AsyncTestCase):
                @gen_test
                def test_a(self):
                    self.cache.put("k", 1)
                    yield gen.sleep(0.05)
                    self.assertIsNone(self.cache.get("k"))
        """)},
        "test_a", {"class_name": "TestCache"}, "wait.event",
        {"tests/test_x.py": src("""
            from tornado import gen
            from tornado.testing import AsyncTestCase, gen_test
            import time

            class TestCache(AsyncTestCase):
                @gen_test
                def test_a(self):
                    self.cache.put("k", 1)
                    deadline = time.monotonic() + 10
                    while not ((self.cache.get("k")) is None) and time.monotonic() < deadline:
                        yield gen.sleep(0.01)
                    self.assertIsNone(self.cache.get("k"))
        """)},
        id="tornado-yield-sleep-polls-the-unittest-assertion",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import threading

            def test_a(counter):
                worker = threading.Thread(target=counter.run, args=(100,))
                worker.start()
                assert counter.value == 100
        """)},
        "test_a", {}, "wait.join",
        {"tests/test_x.py": src("""
            import threading

            def test_a(counter):
                worker = threading.Thread(target=counter.run, args=(100,))
                worker.start()
                worker.join(timeout=10)
                assert counter.value == 100
        """)},
        id="thread-started-then-asserted-is-joined-first",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import threading
            import time

            import pytest

            @pytest.fixture
            def server():
                srv = Server()
                threading.Thread(target=srv.run).start()
                time.sleep(0.05)
                yield srv

            def test_a(server):
                assert server.ready
        """)},
        "test_a", {"evidence": [Evidence(Category.ASYNC, "async.blocking-sleep", "tests/test_x.py", 10, 10, "time.sleep()",
                                         "", 0.5, where="fixture server in tests/test_x.py:6")]}, "wait.event",
        {"tests/test_x.py": src("""
            import threading
            import time

            import pytest

            @pytest.fixture
            def server():
                srv = Server()
                threading.Thread(target=srv.run).start()
                deadline = time.monotonic() + 10
                while not srv.ready and time.monotonic() < deadline:
                    time.sleep(0.01)
                yield srv

            def test_a(server):
                assert server.ready
        """)},
        id="fixture-sleep-polls-what-the-test-asserts-on-its-value",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                from tagging import tags_of

                def test_a():
                    assert list(tags_of("#b hello #a")) == ["b", "a"]
            """),
            "tagging.py": src("""
                def tags_of(post):
                    return {word[1:] for word in post.split() if word.startswith("#")}
            """),
        },
        "test_a", {}, "order.sorted",
        {"tests/test_x.py": src("""
            from tagging import tags_of

            def test_a():
                assert sorted(tags_of("#b hello #a")) == ["a", "b"]
        """)},
        id="set-returned-by-a-project-function-is-sorted",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(hub):
                task = asyncio.ensure_future(hub.dispatch("hello"))
                assert hub.delivered == ["hello"]
        """)},
        "test_a", {}, "wait.join",
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(hub):
                task = asyncio.ensure_future(hub.dispatch("hello"))
                await asyncio.wait_for(task, timeout=10)
                assert hub.delivered == ["hello"]
        """)},
        id="task-created-then-asserted-is-awaited-first",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                def test_a(started):
                    assert started.ready
            """),
            "tests/conftest.py": src("""
                import threading
                import time

                import pytest

                @pytest.fixture
                def started(service):
                    worker = threading.Thread(target=service.boot)
                    worker.start()
                    time.sleep(0.2)
                    return service
            """),
        },
        "test_a",
        {"evidence": [Evidence(Category.ASYNC, "async.blocking-sleep", "tests/conftest.py", 10, 10,
                               "time.sleep(): waits a fixed time", "", 0.6, "fixture started in tests/conftest.py:6")]},
        "wait.event",
        {"tests/conftest.py": src("""
            import threading
            import time

            import pytest

            @pytest.fixture
            def started(service):
                worker = threading.Thread(target=service.boot)
                worker.start()
                worker.join(timeout=10)
                return service
        """)},
        id="sleep-in-the-fixture-the-evidence-names",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import time

            def test_a(client, server):
                client.send("hi")
                time.sleep(0.5)
                messages = server.received()
                assert messages == ["hi"]
        """)},
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            import time

            def test_a(client, server):
                client.send("hi")
                deadline = time.monotonic() + 10
                while True:
                    messages = server.received()
                    if (messages == ["hi"]) or time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
                assert messages == ["hi"]
        """)},
        id="sleep-read-assert-polls-the-read",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                from pkg.q import Queue

                def test_a():
                    q = Queue()
                    q.put(1)
                    q.join()
                    assert q.done == 1
            """),
            "src/pkg/__init__.py": b"",
            "src/pkg/q.py": src('''
                class Queue:
                    def join(self):
                        """Returns when nothing waits; a job may still run: use ``wait_idle``."""

                    def wait_idle(self, timeout: float = 5.0) -> bool:
                        return True
            '''),
        },
        "test_a", {}, "wait.documented",
        {"tests/test_x.py": src("""
            from pkg.q import Queue

            def test_a():
                q = Queue()
                q.put(1)
                assert q.wait_idle()
                assert q.done == 1
        """)},
        id="documented-wait-replaces-join",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                import asyncio

                from app.events import EventManager

                async def test_a():
                    events = EventManager()
                    events.emit("saved")
                    await asyncio.sleep(0.1)
                    assert events.handled == ["saved"]
            """),
            "app/__init__.py": b"",
            "app/events.py": src("""
                class EventManager:
                    def emit(self, name): ...

                    async def wait_for_all_listeners_to_complete(self, timeout=None): ...
            """),
        },
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            import asyncio

            from app.events import EventManager

            async def test_a():
                events = EventManager()
                events.emit("saved")
                await events.wait_for_all_listeners_to_complete()
                assert events.handled == ["saved"]
        """)},
        id="project-wait-method-for-what-was-started",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(handler, queue):
                handler.on_message("hi")
                await asyncio.sleep(0.05)
                message = queue.get_nowait()
                assert message == "hi"
        """)},
        "test_a", {}, "wait.event",
        {"tests/test_x.py": src("""
            import asyncio

            async def test_a(handler, queue):
                handler.on_message("hi")
                message = await asyncio.wait_for(queue.get(), timeout=10)
                assert message == "hi"
        """)},
        id="queue-read-waits-for-the-item",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import random

            def test_a():
                values = [random.randint(0, 9) for _ in range(5)]
                assert len(values) == 5
        """)},
        "test_a", {}, "seed.local",
        {"tests/test_x.py": src("""
            import random

            def test_a():
                rng = random.Random(1234)
                values = [rng.randint(0, 9) for _ in range(5)]
                assert len(values) == 5
        """)},
        id="stdlib-random-seeded-local-generator",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import numpy as np

            def test_a():
                data = np.random.rand(3, 2)
                assert data.shape == (3, 2)
        """)},
        "test_a", {}, "seed.local",
        {"tests/test_x.py": src("""
            import numpy as np

            def test_a():
                rng = np.random.default_rng(1234)
                data = rng.random((3, 2))
                assert data.shape == (3, 2)
        """)},
        id="numpy-legacy-to-default-rng",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            from faker import Faker

            def test_a():
                fake = Faker()
                assert fake.name()
        """)},
        "test_a", {}, "seed.local",
        {"tests/test_x.py": src("""
            from faker import Faker

            def test_a():
                fake = Faker()
                fake.seed_instance(1234)
                assert fake.name()
        """)},
        id="faker-seed-instance",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            def test_a():
                tags = {"b", "a"}
                assert list(tags) == ["b", "a"]
        """)},
        "test_a", {}, "order.sorted",
        {"tests/test_x.py": src("""
            def test_a():
                tags = {"b", "a"}
                assert sorted(tags) == ["a", "b"]
        """)},
        id="set-to-list-sorted-both-sides",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            def test_a():
                assert 0.1 + 0.2 == 0.3
        """)},
        "test_a", {}, "float.approx",
        {"tests/test_x.py": src("""
            import pytest

            def test_a():
                assert 0.1 + 0.2 == pytest.approx(0.3)
        """)},
        id="float-sum-approx",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import os

            def test_reads():
                assert os.environ.get("MODE") is None

            def test_sets():
                os.environ["MODE"] = "fast"
                del os.environ["OTHER"]
        """)},
        "test_reads", {"evidence": [order_evidence("test_sets")]}, "restore.monkeypatch",
        {"tests/test_x.py": src("""
            import os

            def test_reads():
                assert os.environ.get("MODE") is None

            def test_sets(monkeypatch):
                monkeypatch.setenv("MODE", "fast")
                monkeypatch.delenv("OTHER", raising=False)
        """)},
        id="environ-polluter-uses-monkeypatch",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            from pkg import config

            def test_reads():
                assert config.DEBUG is False

            def test_sets():
                config.DEBUG = True
                assert config.DEBUG
        """)},
        "test_reads", {"category": Category.ORDER}, "restore.monkeypatch",
        {"tests/test_x.py": src("""
            from pkg import config

            def test_reads():
                assert config.DEBUG is False

            def test_sets(monkeypatch):
                monkeypatch.setattr(config, "DEBUG", True)
                assert config.DEBUG
        """)},
        id="module-attribute-polluter-setattr",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                from pkg import config

                def test_reads():
                    assert config.DEBUG is False
            """),
            "tests/test_y.py": src("""
                from pkg import config

                class TestSwitch:
                    def test_on(self):
                        config.DEBUG = True
                        assert config.DEBUG

                    def test_untouched(self):
                        config.DEBUG = True
            """),
        },
        "test_reads", {"polluters": [Target("tests/test_y.py", "test_on", "TestSwitch")]}, "restore.monkeypatch",
        {"tests/test_y.py": src("""
            from pkg import config

            class TestSwitch:
                def test_on(self, monkeypatch):
                    monkeypatch.setattr(config, "DEBUG", True)
                    assert config.DEBUG

                def test_untouched(self):
                    config.DEBUG = True
        """)},
        id="bisected-polluter-in-another-file-and-class",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            import json

            def test_a():
                with open("/tmp/report.json", "w") as out:
                    json.dump({}, out)
        """)},
        "test_a", {}, "isolate.tmp_path",
        {"tests/test_x.py": src("""
            import json

            def test_a(tmp_path):
                with open(str(tmp_path / "report.json"), "w") as out:
                    json.dump({}, out)
        """)},
        id="shared-tmp-file-goes-to-tmp-path",
    ),
    pytest.param(
        {
            "tests/test_x.py": src("""
                import threading
                from pkg.counter import Counter

                def test_a():
                    counter = Counter()
                    threads = [threading.Thread(target=counter.bump) for _ in range(4)]
                    assert counter
            """),
            "pkg/__init__.py": b"",
            "pkg/counter.py": src("""
                class Counter:
                    def __init__(self):
                        self.value = 0

                    def bump(self):
                        self.value += 1
            """),
        },
        "test_a", {}, "race.lock",
        {"pkg/counter.py": src("""
            import threading

            class Counter:
                def __init__(self):
                    self.value = 0
                    self._lock = threading.Lock()

                def bump(self):
                    with self._lock:
                        self.value += 1
        """)},
        id="unlocked-increment-gets-a-lock",
    ),
    pytest.param(
        {"tests/test_x.py": src("""
            from datetime import datetime

            def test_a():
                assert datetime.now().year >= 2024
        """)},
        "test_a", {"deps": ["freezegun"]}, "clock.freeze",
        {"tests/test_x.py": src("""
            from datetime import datetime
            from freezegun import freeze_time

            @freeze_time("2025-01-14 12:00:00")
            def test_a():
                assert datetime.now().year >= 2024
        """)},
        id="freezegun-when-the-project-has-it",
    ),
]


def _run(files, name, options):
    ctx = context(files, name, category=options.get("category", Category.UNKNOWN),
                  evidence=options.get("evidence", ()), deps=options.get("deps", ()),
                  polluters=options.get("polluters", ()), class_name=options.get("class_name"))
    return propose(ctx)


@pytest.mark.parametrize(("files", "name", "options", "remedy", "expected"), GOLDEN)
def test_golden(files, name, options, remedy, expected):
    proposals, _ = _run(files, name, options)
    found = [p for p in proposals if p.remedy == remedy]
    assert found, f"no {remedy} proposal among {[p.remedy for p in proposals]}"
    after = {e.path: e.after for e in found[0].edits}
    assert after == expected
    # Idempotent: applying the proposal and proposing again offers nothing more of that remedy.
    again, _ = _run({**files, **after}, name, options)
    assert [p for p in again if p.remedy == remedy] == []


NOOPS = [
    pytest.param(src("""
        import asyncio

        async def test_a():
            await asyncio.sleep(0)
            assert True
    """), id="sleep-zero-yields-on-purpose"),
    pytest.param(src("""
        import time

        def test_a():
            time.sleep(0.1)
            print("no assertion follows, nothing started")
    """), id="sleep-waiting-for-nothing-named"),
    pytest.param(src("""
        import random
        from hypothesis import given

        @given(x=1)
        def test_a(x):
            assert random.random() < 2
    """), id="property-test-randomness-is-its-purpose"),
    pytest.param(src("""
        def test_a():
            assert sorted({"b", "a"}) == ["a", "b"]
            assert 1 + 2 == 3
    """), id="already-sorted-and-integers"),
    pytest.param(src("""
        def test_a():
            with open("data/input.csv") as f:
                assert f.read()
    """), id="reading-a-repository-file"),
    pytest.param(src("""
        import urllib.request

        def test_a():
            assert urllib.request.urlopen("http://127.0.0.1:9/", timeout=0.5).status == 200
    """), id="float-argument-of-a-call-is-not-compared"),
    pytest.param(src("""
        import threading

        def test_a(server, client):
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            assert client.get("/").ok
    """), id="server-thread-is-not-joined"),
]


@pytest.mark.parametrize("source", NOOPS)
def test_no_proposal(source):
    proposals, _ = _run({"tests/test_x.py": source}, "test_a", {})
    assert [p.remedy for p in proposals] == []


def test_freeze_declined_without_the_library():
    files = {"tests/test_x.py": src("""
        from datetime import date

        def test_a():
            assert date.today().day < 32
    """)}
    proposals, declined = _run(files, "test_a", {})
    assert proposals == []
    assert any("freezegun or time-machine" in d.reason for d in declined)


def test_external_offers_keep_without_code_change():
    evidence = Evidence(Category.EXTERNAL, "external.http", "tests/test_x.py", 2, 2, "requests.get(): calls the network", "", 0.8)
    proposals, _ = _run({"tests/test_x.py": src("""
        import requests

        def test_a():
            assert requests.get("https://example.com").ok
    """)}, "test_a", {"evidence": [evidence], "category": Category.EXTERNAL})
    assert [p.remedy for p in proposals] == ["keep.external"]
    assert proposals[0].edits == () and "respx" in proposals[0].why


def test_diagnosed_category_ranks_first():
    files = {"tests/test_x.py": src("""
        import random
        import time

        def test_a(box):
            value = random.random()
            box.put(value)
            time.sleep(0.1)
            assert box.value == value
    """)}
    proposals, _ = _run(files, "test_a", {"category": Category.DATA})
    assert [p.remedy for p in proposals] == ["seed.local", "wait.event"]
    proposals, _ = _run(files, "test_a", {"category": Category.ASYNC})
    assert [p.remedy for p in proposals] == ["wait.event", "seed.local"]


WEAKENINGS = [
    pytest.param("assert x == 1\n", "pass\n", "remove an assertion", id="assertion-removed"),
    pytest.param("assert x == 1\n", "assert x >= 1\n", "changes what", id="operator-loosened"),
    pytest.param("assert elapsed < 0.5\n", "assert elapsed < 5\n", "change a number", id="threshold-raised"),
    pytest.param("call(timeout=1)\nassert x\n", "call(timeout=30)\nassert x\n", "change a number", id="timeout-raised"),
    pytest.param("def test_a():\n    assert x\n", "@pytest.mark.skip\ndef test_a():\n    assert x\n", "skip", id="skip-added"),
    pytest.param("def test_a():\n    assert x\n", "@pytest.mark.xfail\ndef test_a():\n    assert x\n", "skip", id="xfail-added"),
    pytest.param("f()\nassert x\n", "try:\n    f()\nexcept Exception:\n    pass\nassert x\n", "try", id="try-added"),
]


@pytest.mark.parametrize(("before", "after", "words"), WEAKENINGS)
def test_guard_rejects_weakening(before, after, words):
    problem = weakening("t.py", before.encode(), after.encode())
    assert problem is not None and words in problem.replace("would change what", "changes what")


def test_guard_accepts_a_sleep_replaced_by_a_wait():
    before = b"import time\ntime.sleep(0.3)\nassert box.full\n"
    after = b"import time\nbox.worker.join(timeout=10)\nassert box.full\n"
    assert weakening("t.py", before, after) is None


SPREAD_CODE = {
    "src/pkg/__init__.py": b"",
    "src/pkg/sched.py": src("""
        import asyncio
        import random

        class Schedule:
            def __init__(self, *, expiry_jitter=0.05):
                self.expiry_jitter = expiry_jitter

            def add(self, job, *, delay=0, ttl=None):
                if ttl is not None:
                    job.expires = ttl * random.uniform(1 - self.expiry_jitter, 1 + self.expiry_jitter)
                return job

        class Runner:
            def __init__(self, limit=4, *, spread=0.02):
                self.spread = spread

            async def run(self, call, items):
                async def one(item):
                    await asyncio.sleep(random.uniform(0, self.spread))
                    return await call(item)
                return await asyncio.gather(*(one(i) for i in items))
    """),
}

SPREADS = [
    pytest.param("""
        from pkg.sched import Schedule

        def test_a(job):
            sched = Schedule()
            assert sched.add(job, ttl=40).expires > 39
    """, "Schedule(expiry_jitter=0)", id="value-spread-the-test-reaches"),
    pytest.param("""
        from pkg.sched import Schedule

        def test_a(job):
            sched = Schedule()
            assert sched.add(job, delay=5) is job
    """, "never passes the ttl that Schedule's random expiry_jitter needs", id="guard-not-reached"),
    pytest.param("""
        from pkg.sched import Schedule

        def test_a(job):
            assert Schedule().expiry_jitter == 0.05
    """, "calls no method of Schedule that draws", id="no-method-draws"),
    pytest.param("""
        import asyncio
        from pkg.sched import Runner

        def test_a(fetch):
            runner = Runner(limit=2)
            assert asyncio.run(runner.run(fetch, ["a"])) == ["A"]
    """, "only delays work the test waits for to finish", id="delay-the-test-waits-out"),
    pytest.param("""
        import asyncio
        from pkg.sched import Runner

        def test_a(fetch):
            runner = Runner(limit=2)

            async def scenario():
                task = asyncio.create_task(runner.run(fetch, ["a"]))
                await asyncio.sleep(0.023)
                return task.done()

            assert asyncio.run(scenario())
    """, "Runner(limit=2, spread=0)", id="delay-against-a-fixed-sleep"),
]


@pytest.mark.parametrize(("test", "expected"), SPREADS)
def test_no_spread_only_where_the_spread_can_fail_the_test(test, expected):
    """Offered only when the test reaches the random draw and, for a delay, waits a fixed time."""
    files = {**SPREAD_CODE, "tests/test_x.py": src(test)}
    proposals, declined = _run(files, "test_a", {})
    offered = [p for p in proposals if p.remedy == "seed.no-spread"]
    reasons = [d.reason for d in declined if d.remedy == "seed.no-spread"]
    if expected.endswith(")"):
        assert len(offered) == 1 and expected in offered[0].edits[0].after.decode(), reasons
    else:
        assert offered == [] and any(expected in r for r in reasons), reasons


REGISTRY = src("""
    HANDLERS = {"noop": lambda job: None}

    def register(name):
        def decorate(handler):
            HANDLERS[name] = handler
            return handler
        return decorate

    def dispatch(name):
        return HANDLERS[name]()
""")

REGISTRY_TESTS = src("""
    from pkg import registry

    def test_only_noop():
        assert sorted(registry.HANDLERS) == ["noop"]

    def test_register():
        @registry.register("email")
        def email():
            return "sent"

        assert "email" in registry.HANDLERS

    def test_dispatch():
        assert registry.dispatch("email") == "sent"
""")


def _registry_evidence(victim_line: int) -> Evidence:
    return Evidence(Category.ORDER, "order.shared-state-read", "tests/test_x.py", victim_line, victim_line,
                    "registry, changed by test_register (line 6): reads module-level state", "", 0.7)


_SWAP = '    monkeypatch.setattr(registry, "HANDLERS", dict(registry.HANDLERS))\n'
_REGISTER = '    @registry.register("email")\n    def email():\n        return "sent"\n'
#: test_dispatch registering the handler it dispatches to, on its own copy of the registry.
_DISPATCH_OWN = f'def test_dispatch(monkeypatch):\n{_SWAP}{_REGISTER}    assert registry.dispatch("email") == "sent"\n'
_HEAD = 'from pkg import registry\n\ndef test_only_noop():\n    assert sorted(registry.HANDLERS) == ["noop"]\n\n'
_TAIL = f'\n    assert "email" in registry.HANDLERS\n\n{_DISPATCH_OWN}'


@pytest.mark.parametrize(("name", "line", "remedy", "expected"), [
    pytest.param("test_dispatch", 14, "restore.own-setup", f"{_HEAD}def test_register():\n{_REGISTER}{_TAIL}",
                 id="a-brittle-test-registers-what-it-needs"),
    pytest.param("test_only_noop", 4, "restore.monkeypatch", f"{_HEAD}def test_register(monkeypatch):\n{_SWAP}{_REGISTER}{_TAIL}",
                 id="restoring-keeps-the-test-that-relied-on-it-passing"),
])
def test_registry_pollution(name, line, remedy, expected):
    """Restoring the registry in the polluter would break a test that passed only after it: that
    test registers what it uses itself, and a brittle target gets only that."""
    files = {"src/pkg/__init__.py": b"", "src/pkg/registry.py": REGISTRY, "tests/test_x.py": REGISTRY_TESTS}
    options = {"evidence": [_registry_evidence(line)], "category": Category.ORDER}
    proposals, _ = _run(files, name, options)
    assert [p.remedy for p in proposals][:1] == [remedy]
    after = proposals[0].edits[0].after
    assert after.decode() == expected
    again, _ = _run({**files, "tests/test_x.py": after}, name, options)
    assert remedy not in [p.remedy for p in again]


def test_expected_order_breaks_ties_as_the_project_does():
    files = {
        "src/pkg/__init__.py": b"",
        "src/pkg/jobs.py": src("""
            import queue

            class Queue:
                def __init__(self):
                    self._q = queue.PriorityQueue()

                def submit(self, job):
                    self._q.put((-job.priority, job.id, job))
        """),
        "tests/test_x.py": src("""
            import random
            from pkg.jobs import Queue

            def test_a():
                jobs = [Job(priority=random.randint(0, 9)) for _ in range(5)]
                expected = sorted(jobs, key=lambda job: job.priority, reverse=True)
                ascending = sorted(jobs, key=lambda job: job.priority)
                assert drain(jobs) == expected
        """),
    }
    proposals, _ = _run(files, "test_a", {})
    ties = [p for p in proposals if p.remedy == "ties.project"]
    assert len(ties) == 1
    after = ties[0].edits[0].after.decode()
    assert "expected = sorted(jobs, key=lambda job: (-job.priority, job.id))\n" in after
    # An ascending order is not the project's: left as it is, as is the assertion.
    assert "ascending = sorted(jobs, key=lambda job: job.priority)\n" in after
    assert "assert drain(jobs) == expected\n" in after
    again, _ = _run({**files, "tests/test_x.py": after.encode()}, "test_a", {})
    assert "ties.project" not in [p.remedy for p in again]


def test_a_brittle_test_is_seen_without_the_diagnosis():
    """No evidence names the setter and the category is unknown: the key only test_register
    registers is enough."""
    files = {"src/pkg/__init__.py": b"", "src/pkg/registry.py": REGISTRY, "tests/test_x.py": REGISTRY_TESTS}
    proposals, _ = _run(files, "test_dispatch", {})
    assert [p.remedy for p in proposals] == ["restore.own-setup"]
    assert proposals[0].edits[0].after.decode().endswith(_DISPATCH_OWN)
    # test_only_noop names no key test_register registers: nothing is proposed for it without evidence.
    assert _run(files, "test_only_noop", {})[0] == []
