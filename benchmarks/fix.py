"""Does ``flaketui fix --apply`` really fix flaky tests? Run: ``.venv/bin/python benchmarks/fix.py``.

Each case is a small git repository with one test that really fails at run time, made flaky
deterministically where possible (a counter file that makes every other run slow, a hash seed,
the order of two tests, two xdist workers), one or more per remedy. For each case:

1. plain pytest loops in the mode that makes it flaky (fresh processes, both orders of the
   module's tests, ``-n 2``) show that it fails before;
2. ``flaketui fix NODEID --apply --yes`` writes the fix, proves it and commits it (timed);
3. the same plain loops show it never fails after, the marker is gone, and the commit holds
   no skip, no try and as many assertions as before (the guard's rules, checked again).

The network case must end with no commit and an unchanged tree, the stable one with a
marker-only commit. ``--demo`` also applies every demo test (``flaketui demo``) and prints
what each got. ``--fresh`` runs the second set instead (``fix_fresh.py``: cases written after the
remedies, in other shapes, to see how far they generalise). Prints the fix rate per cause and
the time per fix.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LOOPS = 10
#: Plain pytest, as the project would run it without reruns: flaketui's environment has every
#: rerun plugin installed (flaky's own plugin rejects a reruns= marker), so all are off.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:rerunfailures",
          "-p", "no:flaky", "-p", "no:pytest-retry", "-p", "no:textual-snapshot", "-p", "no:hypothesispytest", "-x"]


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


COUNTER_CONFTEST = """
import pathlib

import pytest


@pytest.fixture
def run_number():
    path = pathlib.Path({counter!r})
    runs = int(path.read_text()) if path.exists() else 0
    path.write_text(str(runs + 1))
    return runs
"""


@dataclass
class Case:
    id: str
    cause: str
    files: dict[str, str]
    test: str  # the node id, repo-relative
    mode: str = "plain"  # plain | fresh | orders | parallel
    expect: str = "fix"  # fix | keep | marker-only
    needs_counter: bool = False
    extra: list[str] = field(default_factory=list)
    #: The interpreter the project's tests run on (flaketui finds it as $VIRTUAL_ENV); None: this one.
    python: str | None = None
    #: For ``orders``: the path whose tests run in both orders (the test's module when None).
    orders_over: str | None = None


def cases(token: str) -> list[Case]:
    shared = f"/tmp/flaketui-bench-{token}.json"
    return [
        Case("thread-sleep", "async: fixed sleep for a thread", {"tests/test_box.py": _src("""
            import threading
            import time

            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_worker_fills_the_box(run_number):
                box = []
                delay = 0.3 if run_number % 2 else 0.0
                worker = threading.Thread(target=lambda: (time.sleep(delay), box.append(1)))
                worker.start()
                time.sleep(0.05)
                assert box == [1]
        """)}, "tests/test_box.py::test_worker_fills_the_box", needs_counter=True),
        Case("task-sleep", "async: fixed sleep for a task", {"tests/test_task.py": _src("""
            import asyncio

            import pytest


            async def fill(box, delay):
                await asyncio.sleep(delay)
                box.append(1)


            @pytest.mark.flaky(reruns=2)
            def test_task_fills_the_box(run_number):
                box = []

                async def scenario():
                    task = asyncio.create_task(fill(box, 0.3 if run_number % 2 else 0.0))
                    await asyncio.sleep(0.05)
                    return box

                assert asyncio.run(scenario()) == [1]
        """)}, "tests/test_task.py::test_task_fills_the_box", needs_counter=True),
        Case("poll-condition", "async: fixed sleep for a condition", {"tests/test_poll.py": _src("""
            import threading
            import time

            import pytest


            class Inbox:
                def __init__(self):
                    self.messages = []


            def deliver_later(inbox, delay):
                threading.Timer(delay, inbox.messages.append, args=("hi",)).start()


            @pytest.mark.flaky(reruns=2)
            def test_message_arrives(run_number):
                inbox = Inbox()
                deliver_later(inbox, 0.3 if run_number % 2 else 0.0)
                time.sleep(0.05)
                assert inbox.messages == ["hi"]
        """)}, "tests/test_poll.py::test_message_arrives", needs_counter=True),
        Case("task-gather", "async: two tasks and a fixed sleep", {"tests/test_pair.py": _src("""
            import asyncio

            import pytest


            class Box:
                def __init__(self):
                    self.items = []

                async def put(self, item, delay):
                    await asyncio.sleep(delay)
                    self.items.append(item)


            @pytest.mark.flaky(reruns=2)
            def test_both_tasks_fill_the_box(run_number):
                async def scenario():
                    box = Box()
                    slow = asyncio.create_task(box.put("a", 0.3 if run_number % 2 else 0.0))
                    quick = asyncio.create_task(box.put("b", 0.0))
                    await asyncio.sleep(0.05)
                    return sorted(box.items)

                assert asyncio.run(scenario()) == ["a", "b"]
        """)}, "tests/test_pair.py::test_both_tasks_fill_the_box", needs_counter=True),
        Case("blocking-sleep", "async: time.sleep blocks the loop", {"tests/test_close.py": _src("""
            import asyncio
            import time

            import pytest


            class Channel:
                def __init__(self):
                    self.open = True

                def close(self, deferred):
                    if deferred:  # the server notices on its next turn of the loop
                        asyncio.get_running_loop().call_soon(setattr, self, "open", False)
                    else:
                        self.open = False


            @pytest.mark.flaky(reruns=2)
            def test_close_is_noticed(run_number):
                async def scenario():
                    channel = Channel()
                    channel.close(deferred=run_number % 2 == 1)
                    for _ in range(5):
                        if not channel.open:
                            break
                        time.sleep(0.01)
                    return channel.open

                assert asyncio.run(scenario()) is False
        """)}, "tests/test_close.py::test_close_is_noticed", needs_counter=True),
        Case("tasks-unawaited", "async: tasks started, never awaited", {"tests/test_fan.py": _src("""
            import asyncio

            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_every_peer_receives(run_number):
                received = {}

                async def deliver(peer, delay):
                    await asyncio.sleep(delay)
                    received[peer] = "hi"

                async def scenario():
                    for peer in ("a", "b"):
                        asyncio.create_task(deliver(peer, 0.3 if run_number % 2 and peer == "b" else 0.0))
                    await asyncio.sleep(0.05)
                    return dict(received)

                assert asyncio.run(scenario()) == {"a": "hi", "b": "hi"}
        """)}, "tests/test_fan.py::test_every_peer_receives", needs_counter=True),
        Case("unjoined-thread", "race: a thread asserted on at once", {"tests/test_count.py": _src("""
            import threading
            import time

            import pytest


            class Counter:
                def __init__(self):
                    self.value = 0

                def run(self, delay):
                    time.sleep(delay)
                    self.value += 1


            @pytest.mark.flaky(reruns=2)
            def test_counter_counts_in_background(run_number):
                counter = Counter()
                worker = threading.Thread(target=counter.run, args=(0.3 if run_number % 2 else 0.0,))
                worker.start()
                assert counter.value == 1
        """)}, "tests/test_count.py::test_counter_counts_in_background", needs_counter=True),
        Case("state-poll", "race: state a started thread changes, asserted at once", {
            "tests/helpers.py": _src("""
                import time


                def wait_until(predicate, timeout=5.0, period=0.01):
                    deadline = time.monotonic() + timeout
                    while not predicate():
                        if time.monotonic() > deadline:
                            raise AssertionError(f"not true within {timeout} s")
                        time.sleep(period)
            """),
            "tests/test_pool.py": _src("""
                import threading
                import time

                import pytest


                class Pool:
                    def __init__(self):
                        self.workers = []

                    def start(self, size, delay):
                        def spawn():
                            time.sleep(delay)
                            self.workers.extend(range(size))

                        threading.Thread(target=spawn, daemon=True).start()


                @pytest.mark.flaky(reruns=2)
                def test_pool_starts_its_workers(run_number):
                    pool = Pool()
                    pool.start(2, 0.3 if run_number % 2 else 0.0)
                    assert len(pool.workers) == 2
            """),
        }, "tests/test_pool.py::test_pool_starts_its_workers", needs_counter=True),
        Case("name-per-instance", "fixture: instances share the name their class derives", {
            "src/hub/__init__.py": "",
            "src/hub/plugins.py": _src("""
                class Hub:
                    def __init__(self):
                        self.plugins = {}

                    def add_plugin(self, plugin):
                        old = self.plugins.get(plugin.name)
                        if old is not None and not old.finished:
                            raise RuntimeError(f"overwriting the running plugin {plugin.name}")
                        self.plugins[plugin.name] = plugin


                class Tracker:
                    def __init__(self, keys, hub, name=None):
                        self.name = name or "tracker-" + "-".join(sorted(keys))
                        self.hub = hub
                        self.finished = False

                    def setup(self, finished):
                        self.finished = finished  # the work may be over before the tracker is set up
                        self.hub.add_plugin(self)
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
            "tests/test_trackers.py": _src("""
                import pytest

                from hub.plugins import Hub, Tracker


                @pytest.mark.flaky(reruns=2)
                def test_every_tracker_is_set_up(run_number):
                    hub = Hub()
                    trackers = [Tracker(["x", "y"], hub) for _ in range(3)]
                    for tracker in trackers:
                        tracker.setup(finished=run_number % 2 == 0)
                    assert all(t.hub is hub for t in trackers)
            """),
        }, "tests/test_trackers.py::test_every_tracker_is_set_up", needs_counter=True),
        Case("shared-queue-name", "order: a queue name two tests write", {
            "src/postbox.py": _src("""
                class Broker:
                    queues = {}  # one broker per process, as a real one is one per host

                    def declare(self, name):
                        self.queues.setdefault(name, [])

                    def publish(self, name, message):
                        self.queues[name].append(message)

                    def get(self, name):
                        return self.queues[name].pop(0)
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
            "tests/test_postbox.py": _src("""
                import pytest

                from postbox import Broker


                # fails when another test left messages in the queue
                @pytest.mark.flaky(reruns=2)
                def test_first_in_first_out():
                    broker = Broker()
                    broker.declare(name="jobs")
                    broker.publish("jobs", "one")
                    broker.publish("jobs", "two")
                    assert broker.get("jobs") == "one"


                def test_publish_keeps_the_message():
                    broker = Broker()
                    broker.declare(name="jobs")
                    broker.publish("jobs", "kept")
                    assert "kept" in broker.queues["jobs"]
            """),
        }, "tests/test_postbox.py::test_first_in_first_out", mode="orders"),
        Case("set-order-code", "data: set order in the project's code", {
            "src/mail/__init__.py": "",
            "src/mail/header.py": _src("""
                from dataclasses import dataclass, field


                @dataclass
                class Mail:
                    subject: str
                    recipients: set[str] = field(default_factory=set)

                    def header(self) -> str:
                        return f"To: {', '.join(self.recipients)}"
            """),
            "tests/test_mail.py": _src("""
                import pytest

                from mail.header import Mail


                @pytest.mark.flaky(reruns=2)
                def test_header_lists_recipients():
                    mail = Mail("hi", recipients={"carol", "alice", "bob"})
                    assert mail.header() == "To: carol, alice, bob"
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_mail.py::test_header_lists_recipients", mode="fresh"),
        Case("set-order-test", "data: set order in the test", {"tests/test_tags.py": _src("""
            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_tags_in_order():
                tags = {"x", "z", "y"}
                assert list(tags) == ["z", "y", "x"]
        """)}, "tests/test_tags.py::test_tags_in_order", mode="fresh"),
        Case("unseeded-random", "data: unseeded random data", {"tests/test_rand.py": _src("""
            import random

            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_three_draws_add_up():
                draws = [random.random() for _ in range(3)]
                assert sum(draws) > 1.0
        """)}, "tests/test_rand.py::test_three_draws_add_up"),
        Case("float-sum", "data: floats compared exactly", {"tests/test_price.py": _src("""
            import pytest

            PRICES = {"bread": 0.1, "milk": 0.2, "tea": 0.7}


            @pytest.mark.flaky(reruns=2)
            def test_basket_total():
                basket = {"bread", "milk", "tea"}
                total = sum(PRICES[item] for item in basket)
                assert total == 1.0
        """)}, "tests/test_price.py::test_basket_total", mode="fresh"),
        Case("clock-twice", "time: clock read twice", {
            "src/stamps.py": _src("""
                import time


                class Stamp:
                    def __init__(self, clock=time.time, settle=0.0):
                        self.at = clock()
                        time.sleep(settle)  # the stamp is taken, then the record is written
            """),
            "tests/test_stamp.py": _src("""
                import time

                import pytest

                from stamps import Stamp


                @pytest.mark.flaky(reruns=2)
                def test_stamp_is_this_second(run_number):
                    stamp = Stamp(settle=0.7 if run_number % 2 else 0.0)
                    assert int(stamp.at) == int(time.time())
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_stamp.py::test_stamp_is_this_second", needs_counter=True),
        Case("env-polluter", "order: os.environ not restored", {"tests/test_region.py": _src("""
            import os

            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_default_region():
                assert os.environ.get("BENCH_REGION", "us") == "us"


            def test_region_from_environment():
                os.environ["BENCH_REGION"] = "eu"
                assert os.environ["BENCH_REGION"] == "eu"
        """)}, "tests/test_region.py::test_default_region", mode="orders"),
        Case("attr-polluter", "order: module state not restored", {
            "src/appconf.py": "DEBUG = False\n",
            "tests/test_debug.py": _src("""
                import pytest

                import appconf


                @pytest.mark.flaky(reruns=2)
                def test_debug_off_by_default():
                    assert appconf.DEBUG is False


                def test_debug_can_be_switched_on():
                    appconf.DEBUG = True
                    assert appconf.DEBUG
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_debug.py::test_debug_off_by_default", mode="orders"),
        Case("cwd-polluter", "order: the working directory not restored", {
            "tests/data.txt": "x\n",
            "tests/test_files.py": _src("""
                import os

                import pytest


                @pytest.mark.flaky(reruns=2)
                def test_reads_the_data_file():
                    with open("tests/data.txt") as data:
                        assert data.read() == "x\\n"


                def test_works_in_a_scratch_directory(tmp_path):
                    os.chdir(tmp_path)
                    assert os.getcwd() == str(tmp_path)
            """),
        }, "tests/test_files.py::test_reads_the_data_file", mode="orders"),
        Case("registry-polluter", "order: registry filled by another test", {
            "src/plugins.py": _src("""
                REGISTRY = {"builtin": None}


                def register(name):
                    def decorate(function):
                        REGISTRY[name] = function
                        return function

                    return decorate


                def names():
                    return sorted(REGISTRY)
            """),
            "tests/test_plugins.py": _src("""
                import pytest

                import plugins


                @pytest.mark.flaky(reruns=2)
                def test_only_builtin_by_default():
                    assert plugins.names() == ["builtin"]


                def test_register_adds_a_plugin():
                    @plugins.register("extra")
                    def extra():
                        return 1

                    assert "extra" in plugins.names()
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_plugins.py::test_only_builtin_by_default", mode="orders"),
        Case("brittle-registry", "order: a test that needs another's registration", {
            "src/hooks.py": _src("""
                HOOKS = {}


                def register(name):
                    def decorate(function):
                        HOOKS[name] = function
                        return function

                    return decorate


                def fire(name):
                    return HOOKS[name]()
            """),
            "tests/test_hooks.py": _src("""
                import pytest

                import hooks


                @pytest.mark.flaky(reruns=2)
                def test_fire_runs_the_hook():
                    assert hooks.fire("ping") == "pong"


                def test_register_adds_a_hook():
                    @hooks.register("ping")
                    def ping():
                        return "pong"

                    assert "ping" in hooks.HOOKS
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_hooks.py::test_fire_runs_the_hook", mode="orders"),
        Case("heap-ties", "data: ties broken unlike the project's heap", {
            "src/jobs.py": _src("""
                import heapq
                import uuid


                class Job:
                    def __init__(self, priority):
                        self.priority = priority
                        self.id = uuid.uuid4().hex


                class Queue:
                    def __init__(self):
                        self._heap = []

                    def submit(self, job):
                        heapq.heappush(self._heap, (-job.priority, job.id, job))

                    def drain(self):
                        return [heapq.heappop(self._heap)[2] for _ in range(len(self._heap))]
            """),
            "tests/test_jobs.py": _src("""
                import random

                import pytest

                from jobs import Job, Queue


                @pytest.mark.flaky(reruns=2)
                def test_highest_priority_first():
                    queue = Queue()
                    jobs = [Job(random.randint(0, 3)) for _ in range(4)]
                    for job in jobs:
                        queue.submit(job)
                    expected = sorted(jobs, key=lambda job: job.priority, reverse=True)
                    assert [job.id for job in queue.drain()] == [job.id for job in expected]
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_jobs.py::test_highest_priority_first"),
        Case("shared-file", "fixture: fixed path shared by tests", {"tests/test_report.py": _src(f"""
            import json
            import time

            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_report_round_trip():
                with open("{shared}", "w") as out:
                    json.dump({{"rows": 1}}, out)
                time.sleep(0.3)
                with open("{shared}") as back:
                    assert json.load(back) == {{"rows": 1}}


            def test_summary_round_trip():
                with open("{shared}", "w") as out:
                    json.dump({{"rows": 2}}, out)
                time.sleep(0.3)
                with open("{shared}") as back:
                    assert json.load(back) == {{"rows": 2}}
        """)}, "tests/test_report.py::test_report_round_trip", mode="parallel"),
        Case("shared-tempdir", "fixture: a file in the temporary directory", {"tests/test_export.py": _src(f"""
            import json
            import os
            import tempfile
            import time

            import pytest

            EXPORT = "flaketui-bench-{token}-export.json"


            @pytest.mark.flaky(reruns=2)
            def test_export_round_trip():
                path = os.path.join(tempfile.gettempdir(), EXPORT)
                with open(path, "w") as out:
                    json.dump({{"rows": 1}}, out)
                time.sleep(0.3)
                with open(path) as back:
                    assert json.load(back) == {{"rows": 1}}


            def test_import_overwrites_the_export():
                target = os.path.join(tempfile.gettempdir(), EXPORT)
                open(target, "w").write("[]")
                time.sleep(0.3)
                assert open(target).read() == "[]"
        """)}, "tests/test_export.py::test_export_round_trip", mode="parallel"),
        Case("unlocked-counter", "race: unlocked read-modify-write", {
            "src/tally.py": _src("""
                class Tally:
                    def __init__(self):
                        self.value = 0

                    def step(self):
                        return 1

                    def bump(self, times):
                        for _ in range(times):
                            self.value = self.value + self.step()
            """),
            "tests/test_tally.py": _src("""
                import sys
                import threading

                import pytest

                from tally import Tally


                @pytest.mark.flaky(reruns=2)
                def test_threads_count_everything():
                    sys.setswitchinterval(1e-6)
                    tally = Tally()
                    threads = [threading.Thread(target=tally.bump, args=(20000,)) for _ in range(4)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    assert tally.value == 80000
            """),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
        }, "tests/test_tally.py::test_threads_count_everything"),
        Case("network", "external: the network", {"tests/test_partner.py": _src("""
            import urllib.request

            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_partner_health():
                assert urllib.request.urlopen("http://127.0.0.1:9/health", timeout=0.5).status == 200
        """)}, "tests/test_partner.py::test_partner_health", expect="keep"),
        Case("stable", "stable: nothing fails", {"tests/test_math.py": _src("""
            import pytest


            @pytest.mark.flaky(reruns=2)
            def test_sum():
                assert sum(range(10)) == 45
        """)}, "tests/test_math.py::test_sum", expect="marker-only"),
    ]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def _make_repo(case: Case, scratch: Path) -> Path:
    root = scratch / case.id
    files = dict(case.files)
    if case.needs_counter:
        # Beside a conftest.py the case has, the counter goes one level up (pytest reads both).
        where = "conftest.py" if "tests/conftest.py" in files else "tests/conftest.py"
        files[where] = _src(COUNTER_CONFTEST.format(counter=str(scratch / f"{case.id}.counter")))
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "initial")
    return root


def _loops(case: Case, root: Path) -> int:
    """Failures of plain pytest runs, in the mode that makes the cause show."""
    failed = 0
    module = case.test.split("::")[0]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    pytest = [case.python or sys.executable, *PYTEST[1:]]
    for i in range(LOOPS):
        args = [case.test]
        if case.mode == "orders":
            names = [line.strip() for line in subprocess.run(
                [*pytest, "--collect-only", case.orders_over or module], cwd=root, capture_output=True, text=True, env=env
            ).stdout.splitlines() if "::" in line]
            args = names[::-1] if i % 2 else names
        elif case.mode == "parallel":
            args = ["-n", "2", "-p", "xdist", module]
        if case.mode == "fresh":
            env["PYTHONHASHSEED"] = str(i)
        run = subprocess.run([*pytest, *args], cwd=root, capture_output=True, text=True, env=env)
        failed += run.returncode != 0
    return failed


def _apply(root: Path, case: Case) -> tuple[int, float, str]:
    started = time.perf_counter()
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
    if case.python:
        env["VIRTUAL_ENV"] = str(Path(case.python).parents[1])
    run = subprocess.run(
        [sys.executable, "-m", "flaketui", "-C", str(root), "fix", case.test, "--apply", "--yes"],
        capture_output=True, text=True, env=env,
    )
    return run.returncode, time.perf_counter() - started, run.stdout + run.stderr


def _not_weakened(root: Path) -> bool:
    from flaketui.remedies.guard import weakening

    for path in _git(root, "diff", "--name-only", "HEAD~1", "HEAD").split():
        before = subprocess.run(["git", "-C", str(root), "show", f"HEAD~1:{path}"], capture_output=True).stdout
        after = (root / path).read_bytes()
        # The marker's own removal takes a number (reruns=2) away; the guard judges the fix alone.
        if weakening(path, _MARKER_LINE.sub(b"", before), after):
            return False
    return True


#: A flaky marker's decorator line (pytest's mark or flaky's decorator), as a fix removes it.
_MARKER_LINE = re.compile(rb"^[ \t]*@(?:pytest\.mark\.flaky|flaky)\b[^\n]*\n", re.MULTILINE)


def asyncio_python() -> str:
    """An interpreter with pytest-asyncio (from the package index) on top of this one's packages:
    a venv kept in ~/.cache between runs, never the project's or flaketui's own environment."""
    import sysconfig

    venv = Path.home() / ".cache" / "flaketui-bench" / "asyncio-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        Path(site, "flaketui-bench-base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "pytest-asyncio"], check=True)
    return str(python)


def run_case(case: Case, scratch: Path) -> dict[str, object]:
    root = _make_repo(case, scratch)
    head = _git(root, "rev-parse", "HEAD")
    flaky_before = _loops(case, root) if case.expect == "fix" else 0
    code, seconds, output = _apply(root, case)
    moved = _git(root, "rev-parse", "HEAD") != head
    clean = _git(root, "status", "--porcelain") == ""
    if case.expect == "keep":
        ok = code == 3 and not moved and clean
        after = 0
    elif case.expect == "marker-only":
        ok = code == 0 and moved and "no cause was seen failing" in _git(root, "log", "-1", "--format=%B")
        after = 0
    else:
        after = _loops(case, root) if moved else LOOPS
        ok = code == 0 and moved and after == 0 and _not_weakened(root)
    summary = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    return {"case": case, "before": flaky_before, "after": after, "ok": ok, "seconds": seconds, "summary": summary}


def run_demo(scratch: Path) -> None:
    """``fix --apply`` on every demo test, one fresh demo repository per test."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from flaketui.service import Service

    probe = scratch / "demo-probe"
    subprocess.run([sys.executable, "-m", "flaketui", "demo", str(probe), "--no-open"], check=True, capture_output=True)
    tests = [t.nodeid for t in Service(probe).scan().tests]
    print(f"\ndemo: {len(tests)} tests, `fix --apply --yes` on each in a fresh copy")
    for number, nodeid in enumerate(tests):
        root = scratch / f"demo-{number}"
        subprocess.run([sys.executable, "-m", "flaketui", "demo", str(root), "--no-open"], check=True, capture_output=True)
        code, seconds, output = _apply(root, Case("demo", "demo", {}, nodeid))
        summary = next((line for line in reversed(output.splitlines()) if line.strip()), "")
        print(f"  exit {code}  {seconds:5.1f}s  {nodeid}\n      {summary[:150]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose id contains this")
    parser.add_argument("--demo", action="store_true", help="also apply every demo test")
    parser.add_argument("--fresh", action="store_true", help="the fresh set (fix_fresh.py) instead of this one's cases")
    args = parser.parse_args()
    token = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="flaketui-fix-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        results = []
        if args.fresh:
            import fix_fresh

            chosen = fix_fresh.cases(token, asyncio_python())
        else:
            chosen = cases(token)
        for case in chosen:
            if args.only and args.only not in case.id:
                continue
            result = run_case(case, scratch)
            results.append(result)
            mark = "fixed" if result["ok"] else "NOT FIXED"
            print(f"{case.id:24} {mark:9} before {result['before']}/{LOOPS} failed, after {result['after']}/{LOOPS}, "
                  f"{result['seconds']:.1f}s  {str(result['summary'])[:110]}", flush=True)
        by_cause: dict[str, list[dict[str, object]]] = {}
        for result in results:
            by_cause.setdefault(str(result["case"].cause).split(":")[0], []).append(result)  # type: ignore[attr-defined]
        print("\nfix rate per cause (network: no commit; stable: marker-only)")
        for cause, found in by_cause.items():
            fixed = sum(1 for r in found if r["ok"])
            mean = sum(float(r["seconds"]) for r in found) / len(found)  # type: ignore[arg-type]
            print(f"  {cause:9} {fixed}/{len(found)}  {mean:5.1f}s per fix")
        total = sum(1 for r in results if r["ok"])
        print(f"  {'all':9} {total}/{len(results)}  {sum(float(r['seconds']) for r in results) / max(len(results), 1):5.1f}s per fix")  # type: ignore[arg-type]
        if args.demo:
            run_demo(scratch)
    if not args.only and not args.fresh:
        print()
        import fix_history

        fix_history.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
