"""Remedies say only what they checked: the shapes of real tests where a proposal named a cure
for a cause that was not there (a lock in a test helper, a property called as a wait, a sort
where order is never seen, a seed for values nothing asserts), each beside the near case that
must still get its proposal."""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category
from flaketui.remedies import Context, Target, propose


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _propose(files: dict[str, bytes], name: str = "test_a", test_path: str = "tests/test_x.py",
             category: Category = Category.UNKNOWN) -> tuple[dict[str, dict[str, bytes]], dict[str, str]]:
    """remedy id -> {path: content after} of each proposal; remedy id -> reason of each refusal."""
    ctx = Context(target=Target(test_path, name), read=files.get, category=category, project_files=tuple(files))
    proposals, declined = propose(ctx)
    return {p.remedy: {e.path: e.after for e in p.edits} for p in proposals}, {d.remedy: d.reason for d in declined}


# -- race.lock: only a method a thread the test starts runs, of the project's code ----------------

COUNTER = src("""
    class Counter:
        def __init__(self):
            self.value = 0

        def bump(self):
            self.value += 1

        async def bump_later(self):
            self.value += 1
""")

#: A fake clock among the test helpers: its read-modify-write is the helper's, run by no thread.
FAKE_CLOCK = src("""
    class FakeClock:
        def __init__(self):
            self.now = 0.0

        def sleep(self, seconds):
            self.now += seconds
""")

LOCK_CASES = [
    pytest.param({
        "test/__init__.py": b"",
        "test/fake_clock.py": FAKE_CLOCK,
        "test/test_x.py": src("""
            import threading
            import time
            from test.fake_clock import FakeClock

            import pytest

            @pytest.mark.flaky
            def test_a():
                seen = []

                def watch():
                    while len(seen) < 3:
                        time.sleep(0.001)
                        seen.append(1)

                worker = threading.Thread(target=watch)
                worker.start()
                worker.join()
                assert len(seen) == 3
        """),
    }, "test/test_x.py", False, id="test-helper-fake-clock-is-no-project-code"),
    pytest.param({
        "pkg/__init__.py": b"",
        "pkg/clock.py": FAKE_CLOCK.replace(b"FakeClock", b"Clock"),
        "tests/test_x.py": src("""
            import threading
            from pkg.clock import Clock

            def test_a():
                clock = Clock()
                done = []
                worker = threading.Thread(target=lambda: done.append(True))
                worker.start()
                clock.sleep(1)
                worker.join()
                assert done and clock.now == 1
        """),
    }, "tests/test_x.py", False, id="method-called-on-the-main-thread-only"),
    pytest.param({
        "pkg/__init__.py": b"",
        "pkg/counter.py": COUNTER,
        "pkg/other.py": src("""
            class Buffer:
                def __init__(self):
                    self.size = 0

                def bump(self):
                    self.size += 1
        """),
        "tests/test_x.py": src("""
            import threading
            from pkg.counter import Counter

            def test_a():
                counter = Counter()

                def work():
                    for _ in range(100):
                        counter.bump()

                threads = [threading.Thread(target=work) for _ in range(4)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert counter.value == 400
        """),
    }, "tests/test_x.py", True, id="thread-target-calls-the-method-of-a-class-the-test-names"),
    pytest.param({
        "pkg/__init__.py": b"",
        "pkg/counter.py": COUNTER,
        "tests/test_x.py": src("""
            import asyncio
            from concurrent.futures import ThreadPoolExecutor
            from pkg.counter import Counter

            def test_a():
                counter = Counter()
                with ThreadPoolExecutor() as pool:
                    pool.submit(asyncio.run, counter.bump_later())
                assert counter.value == 1
        """),
    }, "tests/test_x.py", False, id="coroutine-is-no-thread-race"),
]


@pytest.mark.parametrize(("files", "path", "locks"), LOCK_CASES)
def test_lock_only_where_a_started_thread_runs_the_write(files, path, locks):
    proposals, _ = _propose(files, test_path=path, category=Category.RACE)
    if not locks:
        assert "race.lock" not in proposals
        return
    after = proposals["race.lock"]
    assert list(after) == ["pkg/counter.py"]  # Buffer.bump, of a class the test never names, stays
    assert b"with self._lock:\n            self.value += 1" in after["pkg/counter.py"]
    assert b"async def bump_later(self):\n        self.value += 1" in after["pkg/counter.py"]


# -- wait.event: the project's wait, on an instance of the class that has it ----------------------

RESULTS = src("""
    class Result:
        def __init__(self, backend):
            self.backend = backend

        def get(self, timeout=None):
            return self.backend.fetch()

        @property
        def date_done(self):
            return self.backend.meta().get("date_done")


    class Pool:
        def apply_async(self, target, args=()):
            return target(*args)

        def flush(self):
            pass


    class Kernel:
        def restart(self):
            pass

        def is_alive(self):
            return True

        def wait_ready(self, timeout=60.0):
            pass
""")

WAIT_CASES = [
    pytest.param(src("""
        import time
        from pkg.results import Result

        def test_a(backend):
            result = Result(backend)
            assert result.get() is None
            time.sleep(1)
            assert backend.stored is None
    """), None, id="a-property-named-like-a-wait-is-no-wait"),
    pytest.param(src("""
        import time
        from pkg.results import Pool

        def test_a(add):
            result = add.apply_async((1, 1), countdown=3)
            time.sleep(1)
            assert result.status == "PENDING"
    """), None, id="receiver-is-no-instance-of-the-class-with-the-wait"),
    pytest.param(src("""
        import time
        from pkg.results import Kernel

        def test_a():
            kernel = Kernel()
            kernel.restart()
            for _ in range(50):
                if kernel.is_alive():
                    break
                time.sleep(0.1)
            assert kernel.is_alive()
    """), None, id="sleep-in-a-polling-loop-is-its-pause"),
    pytest.param(src("""
        import time
        from pkg.results import Kernel

        def test_a():
            kernel = Kernel()
            kernel.restart()
            time.sleep(0.3)
            assert kernel.is_alive()
    """), "kernel.wait_ready()", id="the-class-own-wait-on-its-instance"),
]


@pytest.mark.parametrize(("test", "wait"), WAIT_CASES)
def test_project_wait_only_on_an_instance_of_its_class(test, wait):
    files = {"pkg/__init__.py": b"", "pkg/results.py": RESULTS, "tests/test_x.py": test}
    proposals, _ = _propose(files, category=Category.ASYNC)
    after = proposals.get("wait.event", {}).get("tests/test_x.py", b"").decode()
    if wait is None:
        assert ".date_done" not in after and ".flush()" not in after and "wait_ready" not in after
    else:
        assert f"    {wait}\n" in after and "time.sleep(0.3)" not in after


POLL_CASES = [
    pytest.param("""
        import time

        def test_a(jobs):
            job = jobs.schedule(add, (1, 1), delay=3)
            time.sleep(1)
            assert job.status == "PENDING"
            assert job.get() == 2
    """, False, id="a-later-assertion-waits-itself-so-the-sleep-is-no-wait-for-the-work"),
    pytest.param("""
        import time

        def test_a(jobs):
            job = jobs.run(add, (1, 1), keep_result=False)
            assert job.get() is None
            time.sleep(1)
            assert jobs.stored(job.id) is None
    """, False, id="waited-then-a-sleep-to-see-nothing-stored"),
    pytest.param("""
        import time

        def test_a(jobs):
            job = jobs.schedule(add, (1, 1))
            time.sleep(1)
            assert job.status == "SUCCESS"
    """, True, id="a-sleep-for-the-state-the-work-reaches"),
    pytest.param("""
        import time

        def test_a(served):
            client, process = served.client, served.process
            client.request("initialize", {"pid": process.pid}).result(timeout=5)
            process.terminate()
            time.sleep(5)
            assert not served.reader_thread.is_alive()
    """, True, id="a-wait-on-another-object-then-a-sleep-for-a-thread-to-end"),
]


@pytest.mark.parametrize(("test", "polls"), POLL_CASES)
def test_poll_only_a_state_the_sleep_waits_for(test, polls):
    proposals, _ = _propose({"tests/test_x.py": src(test)}, category=Category.ASYNC)
    after = proposals.get("wait.event", {}).get("tests/test_x.py", b"").decode()
    assert ("deadline" in after) is polls


# -- order.sorted: only where the set's order shows in the result -------------------------------

ORDER_CASES = [
    pytest.param("""
        def test_a(cluster):
            keys = {"x", "y", "z"}
            while any(cluster.tasks[k].pending for k in keys):
                cluster.step()
            assert cluster.released == keys
    """, None, id="any-over-a-set-has-no-order"),
    pytest.param("""
        def test_a(store):
            keys = {"x", "y"}
            for key in keys:
                assert store[key] == 1
            assert {k: store[k] for k in keys} == {"x": 1, "y": 1}
    """, None, id="asserting-each-element-or-building-a-dict-has-no-order"),
    pytest.param("""
        def test_a(store):
            keys = {"x", "y"}
            seen = []
            for key in keys:
                seen.append(store[key])
            assert seen == [1, 2]
    """, "for key in sorted(keys):", id="a-loop-that-builds-a-list-is-sorted"),
]


@pytest.mark.parametrize(("test", "expected"), ORDER_CASES)
def test_sorted_only_where_order_is_seen(test, expected):
    proposals, _ = _propose({"tests/test_x.py": src(test)}, category=Category.DATA)
    if expected is None:
        assert "order.sorted" not in proposals
    else:
        assert expected in proposals["order.sorted"]["tests/test_x.py"].decode()


def test_project_sets_sorted_only_where_the_test_compares_the_result():
    """A server closing every connection in a set does it in any order: the test calls close()
    for its effect and compares no result of it, so no project code is sorted; comparing what a
    project function renders from a set still gets the sort."""
    server = src("""
        import asyncio

        class Server:
            def __init__(self):
                self.comms = set()

            async def close(self):
                await asyncio.gather(*[comm.close() for comm in list(self.comms)])

            def names(self):
                return ", ".join(self.comms)
    """)
    closing = src("""
        from pkg.server import Server

        async def test_a(port):
            server = Server()
            await server.close()
            assert port.free()
    """)
    files = {"pkg/__init__.py": b"", "pkg/server.py": server, "tests/test_x.py": closing}
    proposals, _ = _propose(files, category=Category.UNKNOWN)
    assert "order.sorted" not in proposals
    comparing = closing.replace(b"assert port.free()", b'assert server.names() == "a, b"')
    proposals, _ = _propose({**files, "tests/test_x.py": comparing}, category=Category.UNKNOWN)
    assert b'", ".join(sorted(self.comms))' in proposals["order.sorted"]["pkg/server.py"]
    assert b"for comm in list(self.comms)" in proposals["order.sorted"]["pkg/server.py"]


# -- seed.local: only values an assertion reads ---------------------------------------------------

SEED_CASES = [
    pytest.param("""
        import random

        async def test_a(client):
            x = await client.scatter(random.randbytes(1_000_000))
            await client.gather(x)
    """, False, id="a-random-payload-nothing-compares"),
    pytest.param("""
        import asyncio
        import random

        async def test_a(client, worker):
            await asyncio.sleep(random.random() / 20)
            await worker.kill()
            result = await client.gather(client.submit(sum, [1, 2]))
            assert result == 3
    """, False, id="a-random-delay-is-timing"),
    pytest.param("""
        import random

        def test_a(parser):
            words = ["a", "b", "c"]
            random.shuffle(words)
            assert parser.parse(" ".join(words)) == 3
    """, True, id="shuffled-in-place-then-asserted"),
    pytest.param("""
        import random

        def test_a(box):
            value = random.random()
            box.put(value)
            assert box.total() < 1
    """, True, id="handed-to-an-object-then-asserted-on-it"),
]


@pytest.mark.parametrize(("test", "seeds"), SEED_CASES)
def test_seed_only_values_an_assertion_reads(test, seeds):
    proposals, declined = _propose({"tests/test_x.py": src(test)}, category=Category.DATA)
    assert ("seed.local" in proposals) is seeds
    if not seeds:
        assert "no assertion reads" in declined["seed.local"]


def test_clock_reads_skip_keywords_called_in_strings():
    """``'pre:not([class])'`` holds ``not(`` in a string: no clock read, and no crash parsing it."""
    test = src("""
        import datetime

        def test_a(page):
            page.locator("pre:not([class])").click()
            assert datetime.date.today().year > 2000
    """)
    _proposals, declined = _propose({"tests/test_x.py": test}, category=Category.TIME)
    assert "clock.freeze" in declined and "freezegun" in declined["clock.freeze"]
