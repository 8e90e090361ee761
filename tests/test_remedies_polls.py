"""Golden before/after for ``wait.poll`` (an assertion on state a started task, thread or server
changes, checked once right after setting it going, polled first with a deadline: with the
project's own helper when its test utilities have one) and the shapes where it must not fire."""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category, Evidence
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _context(files: dict[str, bytes], name: str = "test_a", category: Category = Category.ASYNC,
             evidence: tuple[Evidence, ...] = ()) -> Context:  # fmt: skip
    return Context(target=Target("tests/test_x.py", name), read=files.get, project_files=tuple(files),
                   category=category, evidence=evidence)  # fmt: skip


def _polls(files: dict[str, bytes], **options: object) -> list[bytes]:
    proposals, _ = propose(_context(files, **options))  # type: ignore[arg-type]  # the keyword options of _context
    return [p.edits[0].after for p in proposals if p.remedy == "wait.poll"]


UTILS = src("""
    import asyncio
    from time import monotonic, sleep


    def gen_cluster(**kwargs):
        return lambda f: f


    def poll_for(predicate, timeout=15, period=0.05):
        deadline = monotonic() + timeout
        while not predicate():
            sleep(period)
            if monotonic() > deadline:
                raise AssertionError(f"condition not reached after {timeout} seconds")


    async def async_poll_for(predicate, timeout=15, period=0.05):
        deadline = monotonic() + timeout
        while not predicate():
            await asyncio.sleep(period)
            if monotonic() > deadline:
                raise AssertionError(f"condition not reached after {timeout} seconds")


    async def wait_for_state(key, state, worker):
        while worker.state(key) != state:
            await asyncio.sleep(0.01)
""")

HELPERS = src("""
    import time


    def wait_until(predicate, timeout=5.0, period=0.01):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {timeout} s")
            time.sleep(period)
""")

WORKERS = src("""
    import asyncio


    async def test_a(s):
        w1, w2 = Worker(s), Worker(s)
        await w1.start()
        await w2.start()
        assert len(s.workers) == 2
        await w1.close()
""")
WORKERS_POLLED = src("""
    import asyncio
    import time


    async def test_a(s):
        w1, w2 = Worker(s), Worker(s)
        await w1.start()
        await w2.start()
        deadline = time.monotonic() + 10
        while not (len(s.workers) == 2) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(s.workers) == 2
        await w1.close()
""")

GOLDEN = [
    pytest.param({"tests/test_x.py": WORKERS}, WORKERS_POLLED, id="no-helper-an-inline-deadline-loop"),
    pytest.param({"pkg/__init__.py": b"", "pkg/utils_test.py": UTILS, "tests/test_x.py": src("""
        from pkg.utils_test import gen_cluster


        @gen_cluster(client=True)
        async def test_a(c, s):
            futures = c.map(str, range(3))
            await c.gather(futures)
            del futures
            assert not c.futures, c.futures
    """)}, src("""
        from pkg.utils_test import async_poll_for, gen_cluster


        @gen_cluster(client=True)
        async def test_a(c, s):
            futures = c.map(str, range(3))
            await c.gather(futures)
            del futures
            await async_poll_for(lambda: not c.futures, timeout=10)
            assert not c.futures, c.futures
    """), id="the-projects-async-helper-imported-from-its-test-utilities"),
    pytest.param({"pkg/__init__.py": b"", "pkg/utils_test.py": UTILS, "tests/test_x.py": src("""
        from pkg.utils_test import poll_for


        def test_a(c):
            x = c.submit(len, "ab")
            x.result()
            # released futures are forgotten
            x.release()
            assert not c.futures
    """)}, src("""
        from pkg.utils_test import poll_for


        def test_a(c):
            x = c.submit(len, "ab")
            x.result()
            # released futures are forgotten
            x.release()
            poll_for(lambda: not c.futures, timeout=10)
            assert not c.futures
    """), id="a-sync-test-uses-the-sync-helper-it-already-imports"),
    pytest.param({"pkg/__init__.py": b"", "pkg/utils_test.py": UTILS, "tests/test_x.py": src("""
        from pkg.utils_test import gen_cluster


        @gen_cluster(client=True)
        async def test_a(c, s, lease):
            with capture() as log:
                results = await c.gather(jobs(lease))
            lines = log.getvalue().splitlines()
            assert len(lines) == 2
            assert sorted(results) == [0, 1]
            # back to normal
            assert await lease.get_value() == 0
    """)}, src("""
        from pkg.utils_test import gen_cluster
        import asyncio
        import time


        @gen_cluster(client=True)
        async def test_a(c, s, lease):
            with capture() as log:
                results = await c.gather(jobs(lease))
            lines = log.getvalue().splitlines()
            assert len(lines) == 2
            assert sorted(results) == [0, 1]
            # back to normal
            deadline = time.monotonic() + 10
            while not (await lease.get_value() == 0) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert await lease.get_value() == 0
    """), id="an-awaited-getter-after-the-work-of-a-with-block-polls-inline"),
    pytest.param({"tests/helpers.py": HELPERS, "tests/test_x.py": src("""
        import pytest


        def test_a():
            pool = Pool()
            pool.start(2)
            assert len(pool.workers) == 2
    """)}, src("""
        import pytest
        from helpers import wait_until


        def test_a():
            pool = Pool()
            pool.start(2)
            wait_until(lambda: len(pool.workers) == 2, timeout=10)
            assert len(pool.workers) == 2
    """), id="a-helper-beside-the-test-is-imported"),
    pytest.param({"tests/test_x.py": src("""
        async def test_a(s):
            async with Worker(s.address) as w:
                assert w.address in s.workers
    """)}, src("""
        import asyncio
        import time

        async def test_a(s):
            async with Worker(s.address) as w:
                deadline = time.monotonic() + 10
                while not (w.address in s.workers) and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                assert w.address in s.workers
    """), id="entering-an-async-with-starts-the-worker"),
    pytest.param({"tests/test_x.py": src("""
        import threading

        def test_a(box):
            worker = threading.Thread(target=box.fill)
            worker.start()
            box.kick()
            assert box.full
    """)}, src("""
        import threading
        import time

        def test_a(box):
            worker = threading.Thread(target=box.fill)
            worker.start()
            box.kick()
            deadline = time.monotonic() + 10
            while not box.full and time.monotonic() < deadline:
                time.sleep(0.01)
            assert box.full
    """), id="a-thread-the-test-talks-to-is-polled-not-joined"),
]


@pytest.mark.parametrize(("files", "expected"), GOLDEN)
def test_golden(files: dict[str, bytes], expected: bytes) -> None:
    found = _polls(files)
    assert found and found[0] == expected
    assert weakening("tests/test_x.py", files["tests/test_x.py"], found[0]) is None
    again = {**files, "tests/test_x.py": found[0]}
    assert _polls(again) == []  # it recognises its own poll


def test_the_remedy_also_serves_an_undiagnosed_test_and_ranks_first_for_a_race() -> None:
    files = {"tests/test_x.py": WORKERS}
    assert _polls(files, category=Category.UNKNOWN) == [WORKERS_POLLED]
    proposals, _ = propose(_context(files, category=Category.ASYNC))
    assert proposals[0].remedy == "wait.poll"
    assert "len(s.workers) == 2" in proposals[0].why
    assert "candidate" not in proposals[0].why
    undiagnosed, _ = propose(_context(files, category=Category.UNKNOWN))
    assert undiagnosed[0].why.startswith("The diagnosis established no cause; this is a candidate")


NOOPS = [
    pytest.param(src("""
        async def test_a(c):
            result = await c.submit(len, "ab")
            assert result == 2
    """), id="a-value-the-test-computed"),
    pytest.param(src("""
        async def test_a(serve, port):
            server = await serve(port)
            assert server.port == port
    """), id="an-attribute-of-what-the-call-returned"),
    pytest.param(src("""
        async def test_a(c):
            await c.close()
            assert c.status() == "closed"
    """), id="the-condition-calls-a-method"),
    pytest.param(src("""
        async def test_a(c, s):
            await c.wait_for_workers(2)
            assert len(s.workers) == 2
    """), id="the-call-before-already-waits"),
    pytest.param(src("""
        async def test_a(w, handler):
            await w.start()
            assert not handler.called
    """), id="a-check-that-nothing-happened"),
    pytest.param(src("""
        import config

        async def test_a(w):
            await w.start()
            assert config.ENABLED
    """), id="a-module-attribute"),
    pytest.param(src("""
        def test_a(box):
            box.fill()
            assert box.full
    """), id="a-plain-sync-test-starts-nothing"),
    pytest.param(src("""
        async def test_a(c, s):
            def job(sem):
                sem.refresh()
                assert sem.leases
                return 1

            assert await c.submit(job, s.sem) == 1
    """), id="an-assertion-in-a-function-the-test-defines"),
    pytest.param(src("""
        async def test_a(lease):
            await lease.refresh()
            assert await lease.acquire()
    """), id="an-awaited-call-that-changes-state"),
    pytest.param(src("""
        async def test_a(c, s):
            await c.scale(2)
            for w in c.workers:
                print(w)
            assert len(s.workers) == 2
    """), id="a-loop-between-settles-nothing-we-can-name"),
    pytest.param(src("""
        async def test_a(s):
            w = Worker(s)
            assert w.nthreads == 1
    """), id="nothing-set-going-before-the-assert"),
    pytest.param(src("""
        import asyncio
        import time

        async def test_a(s):
            await s.start()
            deadline = time.monotonic() + 10
            while not s.running and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert s.running
    """), id="already-polled-inline"),
]


@pytest.mark.parametrize("source", NOOPS)
def test_no_poll(source: bytes) -> None:
    assert _polls({"tests/test_x.py": source}) == []


def test_not_for_a_cause_of_another_kind() -> None:
    files = {"tests/test_x.py": WORKERS}
    assert _polls(files, category=Category.DATA) == []
    assert _polls(files, category=Category.TIME) == []


SEVERAL = src("""
    async def test_a(s, a):
        await a.start()
        assert len(s.workers) == 1
        await a.close()
        assert not s.workers
""")


def test_several_candidates_wait_for_the_diagnosis_to_name_one() -> None:
    proposals, declined = propose(_context({"tests/test_x.py": SEVERAL}))
    assert "wait.poll" not in [p.remedy for p in proposals]
    assert any(d.remedy == "wait.poll" and "2 assertions" in d.reason for d in declined)
    named = Evidence(Category.ASYNC, "async.x", "tests/test_x.py", 5, 5, "", "", 1.0)
    found = _polls({"tests/test_x.py": SEVERAL}, evidence=(named,))
    assert found and b"while s.workers and" in found[0]
    assert found[0].count(b"deadline = ") == 1


def test_only_functions_that_poll_a_predicate_they_are_given_count_as_helpers() -> None:
    from flaketui.remedies.polls import poll_helpers

    files = {"pkg/__init__.py": b"", "pkg/utils_test.py": UTILS, "tests/test_x.py": b""}
    found = poll_helpers(_context(files), {"gen_cluster": "pkg.utils_test.gen_cluster"})
    assert [(h.name, h.module, h.is_async) for h in found] == [
        ("poll_for", "pkg.utils_test", False), ("async_poll_for", "pkg.utils_test", True),
    ]  # wait_for_state waits on its own condition, not a predicate it is given


def test_a_sleep_inside_a_polling_loop_is_not_polled_again() -> None:
    """``while busy: sleep; assert time() < start + 5``: the assertion is the loop's deadline, and
    polling it would wait for the deadline to pass (seen on distributed's tests)."""
    source = src("""
        import asyncio
        from time import time


        async def test_a(s):
            start = time()
            while s.tasks:
                await asyncio.sleep(0.01)
                assert time() < start + 5
    """)
    proposals, _ = propose(_context({"tests/test_x.py": source}))
    assert [p.remedy for p in proposals if p.remedy.startswith("wait.")] == []


def test_the_tests_own_deadline_is_left_alone() -> None:
    source = src("""
        import time


        async def test_a(s):
            deadline = time.monotonic() + 30
            await s.scale(2)
            assert len(s.workers) == 2
            assert time.monotonic() < deadline
    """)
    found = _polls({"tests/test_x.py": source})
    assert found and b"poll_deadline = time.monotonic() + 10" in found[0]
    assert b"while not (len(s.workers) == 2) and time.monotonic() < poll_deadline:" in found[0]
    assert found[0].count(b"deadline = time.monotonic() + 30") == 1


def test_after_an_awaited_call_a_test_that_polls_elsewhere_asserts_at_once_on_purpose() -> None:
    polls_elsewhere = src("""
        import asyncio


        async def test_a(s, a):
            while a.key not in s.tasks:
                await asyncio.sleep(0.01)
            await a.heartbeat()
            assert len(s.workers) == 2
    """)
    proposals, declined = propose(_context({"tests/test_x.py": polls_elsewhere}))
    assert "wait.poll" not in [p.remedy for p in proposals]
    assert any(d.remedy == "wait.poll" and "deliberate" in d.reason for d in declined)
    fired_and_forgotten = polls_elsewhere.replace(b"await a.heartbeat()", b"a.release()")
    assert _polls({"tests/test_x.py": fired_and_forgotten})
