"""Golden before/after for the remedies of real fixes' shapes: a blocking sleep in a coroutine,
tasks started and never awaited, a port drawn at random, a temporary directory shared by every
test, ``os.environ.update`` in a polluter; each idempotent and guarded."""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _run(files: dict[str, bytes], name: str, category: Category = Category.ASYNC) -> list[str | bytes]:
    ctx = Context(target=Target("tests/test_x.py", name), read=files.get, project_files=tuple(files),
                  category=category)  # fmt: skip
    proposals, _ = propose(ctx)
    return [p.remedy for p in proposals] + [p.edits[0].after for p in proposals[:1]]


GOLDEN = [
    pytest.param({"tests/test_x.py": src("""
        import time


        async def test_a(server, fetch):
            server.close_socket()
            for _ in range(10):
                if (await fetch()).connections > 0:
                    time.sleep(0.1)
                else:
                    break
            assert (await fetch()).connections == 0
    """)}, "test_a", "wait.nonblocking", src("""
        import time
        import asyncio


        async def test_a(server, fetch):
            server.close_socket()
            for _ in range(10):
                if (await fetch()).connections > 0:
                    await asyncio.sleep(0.1)
                else:
                    break
            assert (await fetch()).connections == 0
    """), id="blocking-sleep-in-a-coroutine-awaits-the-same-time"),
    pytest.param({"tests/test_x.py": src("""
        import asyncio
        from time import sleep


        def test_a():
            def in_a_thread():
                sleep(0.1)

            async def scenario(log):
                asyncio.get_running_loop().call_soon(log.append, 1)
                sleep(0.05)
                return log

            assert asyncio.run(scenario([])) == [1]
    """)}, "test_a", "wait.nonblocking", src("""
        import asyncio
        from time import sleep


        def test_a():
            def in_a_thread():
                sleep(0.1)

            async def scenario(log):
                asyncio.get_running_loop().call_soon(log.append, 1)
                await asyncio.sleep(0.05)
                return log

            assert asyncio.run(scenario([])) == [1]
    """), id="only-the-coroutine-not-a-plain-function-inside-the-test"),
    pytest.param({"tests/test_x.py": src("""
        import time
        from time import time as now


        async def test_a(server):
            server.close()
            time.sleep(0.1)
            assert server.connections == 0
    """)}, "test_a", "wait.event", src("""
        import time
        from time import time as now
        import asyncio


        async def test_a(server):
            server.close()
            deadline = time.monotonic() + 10
            while not (server.connections == 0) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert server.connections == 0
    """), id="a-poll-in-a-coroutine-awaits-between-tries"),
    pytest.param({"tests/test_x.py": src("""
        import time


        def test_a(scheduler):
            scheduler.repeat(0.001, times=50, blocking=False)
            time.sleep(1)
            if not scheduler.job.finished:
                raise RuntimeError("the job never finished")
            scheduler.cancel()
            assert scheduler.runs == 50
    """)}, "test_a", "wait.event", src("""
        import time


        def test_a(scheduler):
            scheduler.repeat(0.001, times=50, blocking=False)
            deadline = time.monotonic() + 10
            while not scheduler.job.finished and time.monotonic() < deadline:
                time.sleep(0.01)
            if not scheduler.job.finished:
                raise RuntimeError("the job never finished")
            scheduler.cancel()
            assert scheduler.runs == 50
    """), id="a-check-written-as-if-not-raise-is-polled-like-an-assert"),
    pytest.param({"tests/test_x.py": src("""
        import asyncio
        from time import time


        async def test_a(server):
            started = time()
            server.close()
            await asyncio.sleep(0.1)
            assert server.connections == 0
    """)}, "test_a", "wait.event", src("""
        import asyncio
        from time import monotonic, time


        async def test_a(server):
            started = time()
            server.close()
            deadline = monotonic() + 10
            while not (server.connections == 0) and monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert server.connections == 0
    """), id="time-names-a-function-so-the-poll-reads-monotonic"),
    pytest.param({"tests/test_x.py": src("""
        import asyncio


        async def test_a(hub):
            asyncio.ensure_future(hub.send("a"))
            asyncio.get_running_loop().create_task(hub.send("b"))
            assert hub.sent == ["a", "b"]
    """)}, "test_a", "wait.gather", src("""
        import asyncio


        async def test_a(hub):
            task_1 = asyncio.ensure_future(hub.send("a"))
            task_2 = asyncio.get_running_loop().create_task(hub.send("b"))
            await asyncio.wait_for(asyncio.gather(task_1, task_2), timeout=10)
            assert hub.sent == ["a", "b"]
    """), id="tasks-thrown-away-are-kept-and-gathered"),
    pytest.param({"tests/test_x.py": src("""
        import asyncio


        async def test_a(log, record):
            for name in ("a", "b"):
                asyncio.create_task(record(name))
            await asyncio.sleep(0.05)
            assert sorted(log) == ["a", "b"]
    """)}, "test_a", "wait.gather", src("""
        import asyncio


        async def test_a(log, record):
            started = []
            for name in ("a", "b"):
                started.append(asyncio.create_task(record(name)))
            await asyncio.wait_for(asyncio.gather(*started), timeout=10)
            assert sorted(log) == ["a", "b"]
    """), id="a-loop-of-tasks-and-the-sleep-for-them"),
    pytest.param({"tests/test_x.py": src("""
        import random


        async def test_a(serve):
            port = random.randint(10000, 50000)
            server = await serve(port)
            assert server.port == port
    """), "src/pkg/__init__.py": b"", "src/pkg/utils.py": b"def open_port(host=''):\n    return 0\n"},
        "test_a", "port.free", src("""
        import random
        from pkg.utils import open_port


        async def test_a(serve):
            port = open_port()
            server = await serve(port)
            assert server.port == port
    """), id="random-port-from-the-project-helper"),
    pytest.param({"tests/test_x.py": src("""
        import random


        def test_a(serve):
            port = random.randrange(20000, 30000)
            assert serve(port).port == port
    """)}, "test_a", "port.free", src('''
        import random
        import socket


        def _free_port():
            """A port nothing listens on now: the operating system picks it."""
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                return probe.getsockname()[1]


        def test_a(serve):
            port = _free_port()
            assert serve(port).port == port
    '''), id="random-port-from-a-helper-written-into-the-module"),
]


SHARED = [
    pytest.param(src("""
        import os
        import tempfile


        def test_a():
            path = os.path.join(tempfile.gettempdir(), "report.json")
            with open(path, "w") as out:
                out.write("1")
            assert open(path).read() == "1"
    """), src("""
        import os
        import tempfile


        def test_a(tmp_path):
            path = os.path.join(str(tmp_path), "report.json")
            with open(path, "w") as out:
                out.write("1")
            assert open(path).read() == "1"
    """), id="the-temporary-directory"),
    pytest.param(src("""
        from pathlib import Path


        def test_a():
            path = Path("/tmp") / "report.json"
            path.write_text("1")
            assert path.read_text() == "1"
    """), src("""
        from pathlib import Path


        def test_a(tmp_path):
            path = tmp_path / "report.json"
            path.write_text("1")
            assert path.read_text() == "1"
    """), id="path-of-tmp"),
    pytest.param(src("""
        REPORT = "/tmp/report.json"


        def test_a(settings):
            settings.REPORT = "x"
            with open(REPORT, "w") as out:
                out.write("1")
            assert open(REPORT).read() == "1"
    """), src("""
        REPORT = "/tmp/report.json"


        def test_a(settings, tmp_path):
            settings.REPORT = "x"
            with open(str(tmp_path / "report.json"), "w") as out:
                out.write("1")
            assert open(str(tmp_path / "report.json")).read() == "1"
    """), id="a-module-constant-but-not-an-attribute-of-that-name"),
]


@pytest.mark.parametrize(("files", "name", "remedy", "expected"), GOLDEN)
def test_golden(files: dict[str, bytes], name: str, remedy: str, expected: bytes) -> None:
    found = _run(files, name)
    assert found[0] == remedy, found[:-1]
    assert found[-1] == expected
    # Idempotent: proposing again on the fixed file offers nothing more of that remedy.
    assert remedy not in _run({**files, "tests/test_x.py": expected}, name)


@pytest.mark.parametrize(("before", "expected"), SHARED)
def test_a_shared_temporary_path_becomes_the_tests_own(before: bytes, expected: bytes) -> None:
    found = _run({"tests/test_x.py": before}, "test_a", Category.FIXTURE)
    assert found[0] == "isolate.tmp_path" and found[-1] == expected
    assert "isolate.tmp_path" not in _run({"tests/test_x.py": expected}, "test_a", Category.FIXTURE)


def test_a_wall_clock_interval_is_measured_with_perf_counter_and_a_point_in_time_is_left_alone() -> None:
    before = src("""
        from time import time


        def test_a(worker):
            t0 = time()
            worker.run()
            t1 = time()
            assert t1 > t0
            assert time() - t0 >= 0.1
    """)
    found = _run({"tests/test_x.py": before}, "test_a", Category.TIME)
    assert found[0] == "clock.perf_counter"
    assert found[-1] == src("""
        from time import perf_counter, time


        def test_a(worker):
            t0 = perf_counter()
            worker.run()
            t1 = perf_counter()
            assert t1 > t0
            assert perf_counter() - t0 >= 0.1
    """)
    fixed = found[-1]
    assert isinstance(fixed, bytes)
    assert "clock.perf_counter" not in _run({"tests/test_x.py": fixed}, "test_a", Category.TIME)
    for escaped in ("    cache.put(t0)\n", "    assert record.created - t0 < 1\n"):
        handed = before.replace(b"    worker.run()\n", b"    worker.run()\n" + escaped.encode())
        assert "clock.perf_counter" not in _run({"tests/test_x.py": handed}, "test_a", Category.TIME)


def test_chdir_in_the_polluter_is_undone_by_monkeypatch() -> None:
    before = src("""
        import os


        def test_victim():
            assert open("tests/data.txt").read() == "x"


        def test_polluter(tmp_path):
            os.chdir(tmp_path)
            assert os.getcwd() == str(tmp_path)
    """)
    found = _run({"tests/test_x.py": before}, "test_victim", Category.ORDER)
    assert found[0] == "restore.monkeypatch"
    assert found[-1] == before.replace(b"(tmp_path):", b"(tmp_path, monkeypatch):").replace(
        b"    os.chdir(tmp_path)\n", b"    monkeypatch.chdir(tmp_path)\n"
    )


def test_environ_update_in_the_polluter_becomes_setenv_per_key() -> None:
    before = src("""
        import os


        def test_victim():
            assert os.environ.get("MODE", "dev") == "dev"


        def test_polluter():
            os.environ.update({"MODE": "prod", "LEVEL": "3"})
            assert os.environ["MODE"] == "prod"
    """)
    found = _run({"tests/test_x.py": before}, "test_victim", Category.ORDER)
    assert found[0] == "restore.monkeypatch"
    assert found[-1] == before.replace(b"def test_polluter():", b"def test_polluter(monkeypatch):").replace(
        b'    os.environ.update({"MODE": "prod", "LEVEL": "3"})\n',
        b'    monkeypatch.setenv("MODE", "prod")\n    monkeypatch.setenv("LEVEL", "3")\n',
    )


def test_a_seed_is_no_fix_for_a_random_port() -> None:
    files = {"tests/test_x.py": src("""
        import random


        def test_a(serve):
            port = random.randint(10000, 50000)
            assert serve(port).port == port
    """)}
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=files.get, project_files=tuple(files))
    proposals, declined = propose(ctx)
    assert "seed.local" not in [p.remedy for p in proposals]
    assert any(d.remedy == "seed.local" and "port" in d.reason for d in declined)


def test_a_task_that_serves_for_the_whole_test_is_not_gathered() -> None:
    files = {"tests/test_x.py": src("""
        import asyncio


        async def test_a(server, client):
            asyncio.create_task(server.serve_forever())
            assert await client.ping() == "pong"
    """)}
    assert "wait.gather" not in _run(files, "test_a")


def test_a_test_about_blocking_the_loop_keeps_its_blocking_sleep() -> None:
    files = {"tests/test_x.py": src("""
        import asyncio
        import time


        async def test_slow_callback_is_reported(caplog):
            asyncio.get_running_loop().slow_callback_duration = 0.01
            time.sleep(0.05)
            await asyncio.sleep(0)
            assert "Executing" in caplog.text
    """)}
    assert "wait.nonblocking" not in _run(files, "test_slow_callback_is_reported")


def test_a_blocking_sleep_that_is_the_measured_work_stays() -> None:
    files = {"tests/test_x.py": src("""
        import asyncio
        import time


        def test_a(profiler_session):
            async def work(sync_time, async_time):
                time.sleep(sync_time / 2)
                await asyncio.sleep(async_time)
                time.sleep(sync_time / 2)

            asyncio.run(work(0.1, 0.5))
            assert profiler_session.frames
    """)}
    assert "wait.nonblocking" not in _run(files, "test_a")


@pytest.mark.parametrize("check", [
    "    time_d = ticker.read()\n    assert time_c == time_d\n",
    "    assert callback.assert_not_called() is None\n",
    "    assert callback.call_count == 0\n",
    "    assert ticker.read() == time_c\n",
    "    if ticker.running:\n        raise AssertionError('still ticking')\n",
])
def test_a_sleep_that_waits_to_see_nothing_change_is_not_polled(check: str) -> None:
    files = {"tests/test_x.py": src("""
        import time


        def test_a(ticker, callback):
            ticker.stop()
            time_c = ticker.read()
            time.sleep(0.05)
    """) + check.encode()}
    assert "wait.event" not in _run(files, "test_a", Category.TIME)


def test_a_sync_test_sleeping_gets_no_nonblocking_sleep() -> None:
    files = {"tests/test_x.py": src("""
        import time


        def test_a(server):
            time.sleep(0.1)
            print(server)
    """)}
    assert "wait.nonblocking" not in _run(files, "test_a")


def test_the_guard_lets_a_port_range_go_but_no_other_number() -> None:
    before = b"import random\n\ndef test_a():\n    port = random.randint(10000, 50000)\n    assert port > 1024\n"
    assert weakening("t.py", before, before.replace(b"random.randint(10000, 50000)", b"open_port()")) is None
    loosened = before.replace(b"random.randint(10000, 50000)", b"open_port()").replace(b"1024", b"0")
    assert "1024" in (weakening("t.py", before, loosened) or "")


def test_a_float_read_back_as_it_was_set_is_not_compared_with_approx() -> None:
    files = {"tests/test_x.py": src("""
        def test_a(timer):
            timer.subscribe(0.001)
            assert timer.interval() == 0.001
    """)}
    assert "float.approx" not in _run(files, "test_a", Category.DATA)
    summed = {"tests/test_x.py": src("""
        def test_a(prices):
            total = sum(prices[item] for item in {"bread", "milk"})
            assert total == 0.3
    """)}
    assert "float.approx" in _run(summed, "test_a", Category.DATA)
