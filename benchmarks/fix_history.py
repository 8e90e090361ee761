"""Does ``flaketui fix --propose`` change the lines a developer's real fix changed?
Run: ``.venv/bin/python benchmarks/fix_history.py`` (``benchmarks/fix.py`` runs it too).

Each case is the tree just before a commit that fixed a flaky test and removed its marker, in
the shapes such commits take in async and threaded Python projects (a fixed sleep before an
assertion, a thread or task asserted on before it finished, a wait the project's class offers,
tornado's ``yield gen.sleep``, unittest assertions, set order, unseeded randomness, a clock read
twice...). The cases are written for this benchmark (no project's code is copied). Lines ending in
``#<<`` are the ones the real fix changed (the marker's own removal left out); the comment is
taken off before the file is written. A case counts as hit when the best proposal's diff
removes or changes one of those lines, or inserts right before one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

MARK = "  #<<"


@dataclass
class HistoryCase:
    id: str
    shape: str
    files: dict[str, str]
    test: str


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


POOL = _src("""
    import asyncio


    class WorkerPool:
        def __init__(self, size, idle_timeout=1.0):
            self.size = size
            self.idle_timeout = idle_timeout
            self.workers = []

        async def start(self):
            self.workers = [object() for _ in range(self.size)]
            asyncio.get_running_loop().call_later(self.idle_timeout, self.workers.pop)

        async def close(self):
            self.workers.clear()
""")

KERNEL = _src("""
    import threading
    import time


    class KernelManager:
        def __init__(self):
            self._alive = threading.Event()

        def start_kernel(self):
            threading.Timer(0.2, self._alive.set).start()

        def restart_kernel(self):
            self._alive.clear()
            self.start_kernel()

        def is_alive(self):
            return self._alive.is_set()

        def wait_for_ready(self, timeout=60.0):
            if not self._alive.wait(timeout):
                raise RuntimeError("kernel did not start")
""")

CASES = [
    HistoryCase("async-idle-worker", "await asyncio.sleep before an assert on state", {
        "src/pool.py": POOL,
        "tests/test_pool.py": _src("""
            import asyncio

            import pytest

            from pool import WorkerPool


            @pytest.mark.flaky(reruns=3)
            async def test_idle_worker_is_retired():
                pool = WorkerPool(size=2, idle_timeout=0.01)
                await pool.start()
                await asyncio.sleep(0.05)  #<<
                assert len(pool.workers) == 1
                await pool.close()
        """),
    }, "tests/test_pool.py::test_idle_worker_is_retired"),
    HistoryCase("thread-sleep-join", "time.sleep after thread.start", {"tests/test_bus.py": _src("""
        import threading
        import time

        import pytest


        class Bus:
            def __init__(self):
                self.handlers = []

            def publish(self, event):
                for handler in self.handlers:
                    handler(event)


        @pytest.mark.flaky(reruns=2)
        def test_listener_receives_event():
            bus = Bus()
            seen = []
            bus.handlers.append(seen.append)
            publisher = threading.Thread(target=bus.publish, args=("ping",))
            publisher.start()
            time.sleep(0.1)  #<<
            assert seen == ["ping"]
    """)}, "tests/test_bus.py::test_listener_receives_event"),
    HistoryCase("tornado-gen-sleep", "yield gen.sleep then a unittest assertion", {"tests/test_cache.py": _src("""
        import time

        import pytest
        from tornado import gen
        from tornado.testing import AsyncTestCase, gen_test


        class Cache:
            def __init__(self, ttl):
                self.ttl = ttl
                self.items = {}

            def put(self, key, value):
                self.items[key] = (value, time.monotonic() + self.ttl)

            def get(self, key):
                value, until = self.items.get(key, (None, 0))
                return value if time.monotonic() < until else None


        class TestCache(AsyncTestCase):
            @pytest.mark.flaky(reruns=2)
            @gen_test
            def test_entry_expires(self):
                cache = Cache(ttl=0.01)
                cache.put("k", 1)
                yield gen.sleep(0.02)  #<<
                self.assertIsNone(cache.get("k"))
    """)}, "tests/test_cache.py::TestCache::test_entry_expires"),
    HistoryCase("kernel-wait-ready", "sleep replaced by the class's own wait", {
        "src/kernels.py": KERNEL,
        "tests/test_restart.py": _src("""
            import time

            import pytest

            from kernels import KernelManager


            @pytest.mark.flaky(reruns=3)
            def test_restart_keeps_kernel_alive():
                km = KernelManager()
                km.start_kernel()
                km.restart_kernel()
                time.sleep(0.3)  #<<
                assert km.is_alive()
        """),
    }, "tests/test_restart.py::test_restart_keeps_kernel_alive"),
    HistoryCase("unawaited-task", "a task asserted on before it ran", {"tests/test_hub.py": _src("""
        import asyncio

        import pytest


        class Hub:
            def __init__(self):
                self.delivered = []

            async def dispatch(self, message):
                await asyncio.sleep(0)
                self.delivered.append(message)


        @pytest.mark.flaky(reruns=2)
        async def test_dispatch_delivers():
            hub = Hub()
            task = asyncio.ensure_future(hub.dispatch("hello"))
            assert hub.delivered == ["hello"]  #<<
    """)}, "tests/test_hub.py::test_dispatch_delivers"),
    HistoryCase("unjoined-thread", "a thread asserted on before it finished", {"tests/test_counter.py": _src("""
        import threading

        import pytest


        class Counter:
            def __init__(self):
                self.value = 0

            def run(self, times):
                for _ in range(times):
                    self.value += 1


        @pytest.mark.flaky(reruns=2)
        def test_counter_counts_in_background():
            counter = Counter()
            worker = threading.Thread(target=counter.run, args=(1000,))
            worker.start()
            assert counter.value == 1000  #<<
    """)}, "tests/test_counter.py::test_counter_counts_in_background"),
    HistoryCase("sleep-then-read", "sleep, read a reply, assert", {"tests/test_echo.py": _src("""
        import queue
        import threading
        import time

        import pytest


        class Echo:
            def __init__(self):
                self.inbox = queue.Queue()
                self.replies = []

            def send(self, text):
                self.inbox.put(text)
                threading.Thread(target=lambda: self.replies.append(self.inbox.get().upper())).start()

            def received(self):
                return list(self.replies)


        @pytest.mark.flaky(reruns=2)
        def test_echo_replies():
            echo = Echo()
            echo.send("ping")
            time.sleep(0.05)  #<<
            replies = echo.received()
            assert replies == ["PING"]
    """)}, "tests/test_echo.py::test_echo_replies"),
    HistoryCase("sleep-in-with-block", "a sleep inside a with block before its assert", {"tests/test_log.py": _src("""
        import logging
        import threading
        import time

        import pytest

        log = logging.getLogger("jobs")


        @pytest.mark.flaky(reruns=2)
        def test_job_logs_completion(caplog):
            with caplog.at_level(logging.INFO):
                threading.Timer(0.01, log.info, args=("job done",)).start()
                time.sleep(0.05)  #<<
                assert "job done" in caplog.text
    """)}, "tests/test_log.py::test_job_logs_completion"),
    HistoryCase("fixture-sleep", "a fixture sleeps for its server; the test asserts it is up", {"tests/test_server.py": _src("""
        import threading
        import time

        import pytest


        class Receiver:
            def __init__(self):
                self.listening = False

            def serve(self):
                time.sleep(0.02)
                self.listening = True


        @pytest.fixture
        def receiver():
            instance = Receiver()
            threading.Thread(target=instance.serve, daemon=True).start()
            time.sleep(0.01)  #<<
            yield instance


        @pytest.mark.flaky(reruns=3)
        def test_receiver_listens(receiver):
            assert receiver.listening
    """)}, "tests/test_server.py::test_receiver_listens"),
    HistoryCase("set-order", "a set's order compared exactly", {"tests/test_tags.py": _src("""
        import pytest


        def tags_of(post):
            return {word[1:] for word in post.split() if word.startswith("#")}


        @pytest.mark.flaky(reruns=2)
        def test_tags_are_found():
            assert list(tags_of("#b hello #a #c")) == ["b", "a", "c"]  #<<
    """)}, "tests/test_tags.py::test_tags_are_found"),
    HistoryCase("unseeded-shuffle", "random data without a seed", {"tests/test_sample.py": _src("""
        import random

        import pytest


        @pytest.mark.flaky(reruns=2)
        def test_sample_has_a_low_value():
            values = [random.randint(0, 100) for _ in range(5)]  #<<
            assert min(values) < 50
    """)}, "tests/test_sample.py::test_sample_has_a_low_value"),
    HistoryCase("asyncio-poll-in-helper-loop", "await sleep then two asserts", {"tests/test_stream.py": _src("""
        import asyncio

        import pytest


        class Stream:
            def __init__(self):
                self.chunks = []
                self.closed = False

            async def feed(self, data):
                await asyncio.sleep(0.01)
                self.chunks.append(data)
                self.closed = True


        @pytest.mark.flaky(reruns=5)
        async def test_stream_closes_after_feed():
            stream = Stream()
            asyncio.get_running_loop().create_task(stream.feed(b"x"))
            await asyncio.sleep(0.02)  #<<
            assert stream.chunks == [b"x"]
            assert stream.closed
    """)}, "tests/test_stream.py::test_stream_closes_after_feed"),
    HistoryCase("elapsed-threshold", "a duration compared with a threshold (fixed by hand)", {"tests/test_speed.py": _src("""
        import time

        import pytest


        def work():
            return sum(range(10000))


        @pytest.mark.flaky(reruns=2)
        def test_work_is_fast():
            started = time.perf_counter()
            work()
            assert time.perf_counter() - started < 0.001  #<<
    """)}, "tests/test_speed.py::test_work_is_fast"),
    HistoryCase("blocking-sleep-poll", "time.sleep inside a coroutine's polling loop (jupyter_server #1625)", {
        "tests/test_channels.py": _src("""
            import asyncio
            import time

            import pytest


            class Hub:
                def __init__(self):
                    self.open = set()

                async def connect(self, name):
                    self.open.add(name)

                def disconnect(self, name):
                    asyncio.get_running_loop().call_soon(self.open.discard, name)

                async def count(self):
                    return len(self.open)


            @pytest.mark.flaky
            async def test_reconnect_releases_the_old_channel():
                hub = Hub()
                await hub.connect("first")
                hub.disconnect("first")
                for _ in range(10):
                    if await hub.count() > 0:
                        time.sleep(0.1)  #<<
                    else:
                        break
                assert await hub.count() == 0
        """),
    }, "tests/test_channels.py::test_reconnect_releases_the_old_channel"),
    HistoryCase("blocking-sleep-helper", "time.sleep in an async helper the test awaits (cpython #7023)", {
        "tests/test_listener.py": _src("""
            import asyncio
            import time

            import pytest


            async def wait_listening(server):
                for _ in range(50):
                    if server.listening:
                        return
                    time.sleep(0.01)  #<<


            class Server:
                def __init__(self):
                    self.listening = False

                async def start(self):
                    await asyncio.sleep(0)
                    self.listening = True


            @pytest.mark.flaky(reruns=3)
            async def test_server_accepts_after_start():
                server = Server()
                asyncio.get_running_loop().create_task(server.start())
                await wait_listening(server)
                assert server.listening
        """),
    }, "tests/test_listener.py::test_server_accepts_after_start"),
    HistoryCase("random-port", "a port drawn at random, replaced by the project's helper (distributed #6883)", {
        "src/meshnet/__init__.py": "",
        "src/meshnet/net.py": _src("""
            import socket


            def open_port(host=""):
                with socket.socket() as probe:
                    probe.bind((host, 0))
                    return probe.getsockname()[1]


            class Node:
                def __init__(self, port):
                    self.port = port
                    self.sock = socket.socket()
                    self.sock.bind(("127.0.0.1", port))
        """),
        "tests/test_node.py": _src("""
            import random

            import pytest

            from meshnet.net import Node


            @pytest.mark.flaky(reruns=2)  # the port may be taken
            def test_node_binds_its_port():
                port = random.randint(10000, 50000)  #<<
                node = Node(port)
                assert node.sock.getsockname()[1] == port
        """),
    }, "tests/test_node.py::test_node_binds_its_port"),
    HistoryCase("tasks-not-awaited", "tasks started in a loop and never awaited", {"tests/test_fanout.py": _src("""
        import asyncio

        import pytest


        class Fanout:
            def __init__(self):
                self.received = {}

            async def deliver(self, peer, message):
                await asyncio.sleep(0)
                self.received[peer] = message


        @pytest.mark.flaky(reruns=2)
        async def test_every_peer_receives():
            fanout = Fanout()
            for peer in ("a", "b", "c"):
                asyncio.create_task(fanout.deliver(peer, "hi"))  #<<
            await asyncio.sleep(0.01)  #<<
            assert fanout.received == {"a": "hi", "b": "hi", "c": "hi"}
    """)}, "tests/test_fanout.py::test_every_peer_receives"),
    HistoryCase("wall-clock-interval", "an interval measured with time.time(), moved to a monotonic clock", {
        "tests/test_timer.py": _src("""
            import threading
            import time

            import pytest


            class Timer:
                def __init__(self, seconds):
                    self.fired = threading.Event()
                    threading.Timer(seconds, self.fired.set).start()

                def wait(self):
                    self.fired.wait(5)


            @pytest.mark.flaky(reruns=2)
            def test_timer_waits_its_interval():
                started = time.time()  #<<
                timer = Timer(0.05)
                timer.wait()
                assert time.time() - started >= 0.05  #<<
        """),
    }, "tests/test_timer.py::test_timer_waits_its_interval"),
]


CASES += [
    HistoryCase("assert-async-state", "an assert on state a released future changes, turned into the project's poll", {
        "src/gridlib/__init__.py": "",
        "src/gridlib/testing.py": _src("""
            import asyncio
            import time


            def run_cluster(**options):
                return lambda test: test


            async def poll_until(check, timeout=20.0, interval=0.05):
                deadline = time.monotonic() + timeout
                while not check():
                    if time.monotonic() > deadline:
                        raise AssertionError(f"still false after {timeout} s")
                    await asyncio.sleep(interval)
        """),
        "tests/test_release.py": _src("""
            import pytest

            from gridlib.testing import run_cluster


            @pytest.mark.flaky(reruns=4)
            @run_cluster(client=True)
            async def test_released_handles_are_forgotten(client, scheduler):
                handle = client.submit(sum, [1, 2])
                assert await handle == 3
                handle.release()
                assert not client.handles  #<<
                assert scheduler.pending == {}
        """),
    }, "tests/test_release.py::test_released_handles_are_forgotten"),
    HistoryCase("plugin-name-per-instance", "instances made in a loop share the name their class derives", {
        "src/gridlib/__init__.py": "",
        "src/gridlib/plugins.py": _src("""
            class Watcher:
                def __init__(self, keys, hub, name=None):
                    self.name = name or "watch-" + "-".join(sorted(keys))
                    self.keys = set(keys)
                    self.hub = hub
                    self.seen = set()

                async def setup(self):
                    self.hub.add_plugin(self)
        """),
        "tests/test_watch.py": _src("""
            import asyncio

            import pytest

            from gridlib.plugins import Watcher


            @pytest.mark.flaky(reruns=5)
            async def test_many_watchers(hub):
                watchers = [Watcher(["a", "b"], hub) for _ in range(5)]  #<<
                await asyncio.gather(*(w.setup() for w in watchers))
                assert len(hub.plugins) == 5
        """),
    }, "tests/test_watch.py::test_many_watchers"),
    HistoryCase("shared-queue-name", "a queue name several tests write, made the test's own", {
        "tests/test_mailbox.py": _src("""
            import pytest

            from mailbox_broker import Broker, Queue


            # fails when another test left messages in the queue
            @pytest.mark.flaky(reruns=3)
            def test_first_message_is_read_first(broker):
                broker.declare(Queue("inbox"))  #<<
                broker.publish("inbox", "one")  #<<
                broker.publish("inbox", "two")  #<<
                assert broker.get("inbox") == "one"  #<<


            def test_publish_is_counted(broker):
                broker.declare(Queue("inbox"))
                broker.publish("inbox", "x")
                assert broker.size("inbox") >= 1
        """),
    }, "tests/test_mailbox.py::test_first_message_is_read_first"),
    HistoryCase("awaited-getter-after-gather", "the last assert awaits a getter on state the gathered work releases", {
        "tests/test_leases.py": _src("""
            import asyncio
            import contextlib

            import pytest


            class Leases:
                def __init__(self, limit):
                    self.limit = limit
                    self.held = 0

                async def get_value(self):
                    return self.held

                async def run(self, job):
                    self.held += 1
                    try:
                        return await job
                    finally:
                        asyncio.get_running_loop().call_later(0.01, self._release)

                def _release(self):
                    self.held -= 1


            async def square(x):
                await asyncio.sleep(0)
                return x * x


            @pytest.mark.flaky(reruns=10)
            async def test_leases_are_given_back():
                leases = Leases(limit=2)
                with contextlib.suppress(KeyError):
                    results = await asyncio.gather(*(leases.run(square(x)) for x in range(2)))
                assert sorted(results) == [0, 1]
                # back to normal
                assert await leases.get_value() == 0  #<<
        """),
    }, "tests/test_leases.py::test_leases_are_given_back"),
    HistoryCase("purge-after-the-test", "a queue purged before the work and left full after it", {
        "tests/test_dispatch.py": _src("""
            import pytest


            class TestDispatch:
                # this test leaves messages behind and breaks other tests
                @pytest.mark.flaky(reruns=3)
                def test_revoked_jobs_never_run(self, broker):
                    for tag in ("a", "b"):
                        while broker.purge():
                            pass
                        job = broker.send("sleep", tag=tag)
                        job.revoke()
                        assert job.state == "REVOKED"
                    broker.revoked.clear()
                #<<
                def test_jobs_run(self, broker):
                    assert broker.send("add", 1, 2).get() == 3
        """),
    }, "tests/test_dispatch.py::TestDispatch::test_revoked_jobs_never_run"),
    HistoryCase("assert-workers-after-scale", "an assert on worker count right after scaling, polled inline", {
        "tests/test_scale.py": _src("""
            import asyncio

            import pytest


            class Cluster:
                def __init__(self):
                    self.workers = {}

                async def scale(self, n):
                    asyncio.get_running_loop().call_later(0.01, self._grow, n)

                def _grow(self, n):
                    self.workers = {f"w{i}": object() for i in range(n)}


            @pytest.mark.flaky(reruns=3)
            async def test_scale_up_adds_workers():
                cluster = Cluster()
                await cluster.scale(3)
                assert len(cluster.workers) == 3  #<<
        """),
    }, "tests/test_scale.py::test_scale_up_adds_workers"),
    HistoryCase("server-start-sleep", "a fixed sleep while a threaded server starts, then a request to it", {
        "src/dashboard/__init__.py": "",
        "src/dashboard/server.py": _src("""
            import http.server
            import threading


            def launch(port):
                server = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                return server
        """),
        "tests/test_dashboard.py": _src("""
            import threading
            import time
            import urllib.request

            import pytest

            from dashboard.server import launch


            @pytest.mark.flaky(reruns=2)
            def test_index_page_loads(unused_port):
                threading.Thread(target=launch, args=(unused_port,), daemon=True).start()

                # give the server a moment to come up
                time.sleep(0.5)  #<<

                with urllib.request.urlopen(f"http://127.0.0.1:{unused_port}/") as page:
                    assert page.status == 200
        """),
    }, "tests/test_dashboard.py::test_index_page_loads"),
]


def _write(case: HistoryCase, root: Path) -> set[tuple[str, int]]:
    """Write the case's files (markers taken off); the lines the real fix changed."""
    expected: set[tuple[str, int]] = set()
    for path, text in case.files.items():
        lines = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.endswith(MARK):
                expected.add((path, number))
                line = line[: -len(MARK)]
            lines.append(line)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\npythonpath = ['src']\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=b@example.com", "commit", "-q", "-m", "before the fix"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return expected


def touched(diff: str) -> set[tuple[str, int]]:
    """(path, old line) each hunk removes or changes, and the old line an insertion goes before."""
    found: set[tuple[str, int]] = set()
    path = ""
    old = 0
    for line in diff.splitlines():
        if line.startswith("--- "):
            path = line[4:].removeprefix("a/")
        elif line.startswith("@@"):
            old = int(line.split()[1].lstrip("-").split(",")[0])
        elif line.startswith("-"):
            found.add((path, old))
            old += 1
        elif line.startswith("+") and not line.startswith("+++"):
            found.add((path, old))  # inserted before this old line
        elif line.startswith(" "):
            old += 1
    return found


def run_case(case: HistoryCase, scratch: Path) -> dict[str, object]:
    root = scratch / f"history-{case.id}"
    expected = _write(case, root)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "flaketui", "-C", str(root), "fix", case.test, "--propose", "--json"],
                         capture_output=True, text=True, env={**os.environ})  # fmt: skip
    seconds = time.perf_counter() - started
    try:
        proposals = json.loads(run.stdout).get("proposals", [])
    except json.JSONDecodeError:
        proposals = []
    best = proposals[0] if proposals else None
    hit = bool(best and touched(str(best.get("diff", ""))) & expected)
    what = f"{best['remedy']}" if best else (run.stderr.strip().splitlines() or ["no proposal"])[-1][:80]
    return {"case": case, "hit": hit, "what": what, "seconds": seconds}


def main(only: str | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="flaketui-fix-history-") as scratch_dir:
        scratch = Path(scratch_dir)
        print("history: does the best proposal change the lines the real fix changed?")
        results = []
        for case in CASES:
            if only and only not in case.id:
                continue
            result = run_case(case, scratch)
            results.append(result)
            print(f"  {case.id:28} {'hit ' if result['hit'] else 'MISS'} {result['seconds']:4.1f}s  "
                  f"{result['what']:22} ({case.shape})", flush=True)  # fmt: skip
        hits = sum(1 for r in results if r["hit"])
        print(f"  history rate: {hits}/{len(results)} ({hits / len(results):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
