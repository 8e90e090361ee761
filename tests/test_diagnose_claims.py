"""No false claims: each rule checks what it asserts, the cure is never the cause, and what
people wrote next to the marker weighs in. Each case is a small project in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.diagnose import Diagnoser
from flaketui.models import Category, FlakyTest, Marker, MarkerKind, MarkerScope
from tests._diagnose_helpers import diagnose_files, source

#: (module source, rules that must not appear)
NOT_CLAIMED = [
    pytest.param(
        """
        import asyncio
        from distributed.metrics import time

        async def test_it(cluster):
            start = time()
            while len(cluster.workers) < 2:
                await asyncio.sleep(0.01)
                assert time() < start + 30
        """,
        {"async.polling-loop"},
        id="polling-with-a-wrapped-clock-deadline",
    ),
    pytest.param(
        """
        import time
        import pytest

        @pytest.mark.timeout(60)
        def test_it(server):
            while not server.ready:
                time.sleep(0.1)
        """,
        {"async.polling-loop"},
        id="polling-bounded-by-the-framework-timeout",
    ),
    pytest.param(
        """
        import os
        import pytest
        from app import settings

        @pytest.fixture
        def debug_mode():
            saved = settings.DEBUG
            settings.DEBUG = True
            os.environ["APP_MODE"] = "debug"
            yield
            settings.DEBUG = saved
            del os.environ["APP_MODE"]

        def test_it(debug_mode):
            assert settings.DEBUG
        """,
        {"fixture.module-attribute", "fixture.environ-assign", "fixture.environ-write"},
        id="fixture-restoring-what-it-changed",
    ),
    pytest.param(
        """
        import os

        def test_it(tmp_path):
            old = os.getcwd()
            os.chdir(tmp_path)
            try:
                assert os.listdir(".") == []
            finally:
                os.chdir(old)
        """,
        {"fixture.chdir"},
        id="chdir-put-back-in-finally",
    ),
    pytest.param(
        """
        import random
        import time

        def test_chaos_worker_restart(cluster):
            for _ in range(5):
                time.sleep(random.uniform(0, 0.2))
                random.choice(cluster.workers).kill()
            assert cluster.wait_for_workers(3, timeout=60)
        """,
        {"data.unseeded-random"},
        id="chaos-randomness-is-the-purpose",
    ),
    pytest.param(
        """
        import random

        def test_it(codec):
            payload = random.randbytes(4096)
            data = random.getrandbits(64)
            assert codec.decode(codec.encode(data)) == data
        """,
        {"data.unseeded-random"},
        id="random-payload-that-round-trips",
    ),
    pytest.param(
        """
        from hypothesis import given, strategies as st
        import random

        @given(st.integers())
        def test_it(n):
            assert sorted([n, random.randint(0, 9)])
        """,
        {"data.unseeded-random"},
        id="property-test",
    ),
    pytest.param(
        """
        import threading

        def test_it(store):
            workers = [threading.Thread(target=store.add, args=(i,)) for i in range(4)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert len(store) == 4
        """,
        {"race.thread"},
        id="joined-threads-are-not-told-to-join",
    ),
    pytest.param(
        """
        import subprocess
        import sys

        def test_it(tmp_path):
            child = subprocess.Popen([sys.executable, "-m", "app.worker", str(tmp_path)])
            try:
                assert child.wait(timeout=30) == 0
            finally:
                child.kill()
        """,
        {"external.subprocess", "race.signal-timing"},
        id="our-own-interpreter-killed-in-finally",
    ),
    pytest.param(
        """
        import subprocess
        import sys

        def test_it(tmp_path):
            argv = [sys.executable, "-c", "print(1)"]
            try:
                out = subprocess.check_output(argv, timeout=30)
            except subprocess.TimeoutExpired:
                raise
            assert out
        """,
        {"external.subprocess"},
        id="argv-of-our-own-interpreter-bound-to-a-name",
    ),
    pytest.param(
        """
        import pytest
        from app.agent import Agent, AgentTimeout

        def test_it():
            with pytest.raises(AgentTimeout):
                Agent(stuck=True).ping(timeout=0.5)
        """,
        {"async.tight-timeout"},
        id="a-timeout-the-test-expects-to-expire",
    ),
    pytest.param(
        """
        def test_it(value):
            assert type(value) is not type(iter(set()))
        """,
        {"data.set-order"},
        id="an-empty-set-as-a-type-probe-has-no-order",
    ),
    pytest.param(
        """
        import subprocess
        import sys
        import time

        def test_it(ready):
            child = subprocess.Popen([sys.executable, "-m", "app"])
            while not ready.exists() and child.poll() is None:
                time.sleep(0.05)
            child.communicate(timeout=30)
        """,
        {"async.polling-loop"},
        id="a-wait-that-ends-when-the-child-exits",
    ),
    pytest.param(
        """
        import warnings
        from app import run_all

        def test_it():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                assert run_all()
        """,
        {"fixture.process-config"},
        id="a-filter-catch-warnings-puts-back",
    ),
    pytest.param(
        """
        import pytest

        @pytest.mark.flaky(reruns=3, reason="https://github.com/org/project/issues/1234")
        def test_it():
            assert sum([1, 2]) == 3
        """,
        {"external.remote-url"},
        id="an-issue-link-in-the-marker-is-no-request",
    ),
    pytest.param(
        """
        import subprocess
        import sys
        import zmq

        def test_it(tmp_path):
            socket = zmq.Context.instance().socket(zmq.PUB)
            child = subprocess.Popen([sys.executable, "-m", "app.kernel"])
            if child.poll() is not None:
                child.kill()
                raise RuntimeError("the kernel did not start")
            assert socket is not None
            child.terminate()
        """,
        {"external.broker", "race.signal-timing"},
        id="zmq-in-process-and-kills-on-error-paths-and-after-the-last-assert",
    ),
    pytest.param(
        """
        import asyncio
        import time
        import pytest
        from app import Recorder

        def test_it():
            async def work(seconds):
                time.sleep(0.05)
                await asyncio.sleep(seconds)

            with Recorder() as recorder:
                asyncio.run(work(0.3))
            assert recorder.awaited == pytest.approx(0.3, rel=0.1)
        """,
        {"async.fixed-sleep", "async.blocking-sleep"},
        id="sleeps-a-profiler-measures-are-its-work",
    ),
]


@pytest.mark.parametrize(("module", "absent"), NOT_CLAIMED)
def test_rule_does_not_claim_what_the_code_does_not_do(tmp_path: Path, module: str, absent: set[str]) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_" + _name(module))
    assert not absent & {e.rule for e in diagnosis.evidence}


def _name(module: str) -> str:
    return source(module).split("def test_", 1)[1].split("(", 1)[0]


#: (module source, the rule that names it, the category suggested)
TIMING = [
    pytest.param(
        """
        import time
        import pytest

        def test_it(profiler):
            with profiler:
                time.sleep(0.1)
            assert profiler.duration == pytest.approx(0.1, rel=0.1)
        """,
        "time.elapsed-assert",
        id="duration-held-to-approx",
    ),
    pytest.param(
        """
        import time

        def test_it(ticker):
            calls = []
            ticker.every(0.01, lambda: calls.append(1))
            end = time.monotonic() + 0.2
            while time.monotonic() < end:
                pass
            assert 15 <= len(calls) <= 25
        """,
        "time.timing-tolerance",
        id="count-bounded-both-sides-after-busy-wait",
    ),
]


@pytest.mark.parametrize(("module", "rule"), TIMING)
def test_timing_tolerances_are_time(tmp_path: Path, module: str, rule: str) -> None:
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_it")
    assert rule in {e.rule for e in diagnosis.evidence}
    assert diagnosis.suggestion.category is Category.TIME


def test_a_comment_next_to_the_marker_weighs_in(tmp_path: Path) -> None:
    module = """
        import pytest

        # Sometimes the worker has not registered with the scheduler yet: a race with the heartbeat.
        @pytest.mark.flaky(reruns=3)
        def test_it(cluster):
            assert cluster.status() == "running"
        """
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_it")
    notes = [e for e in diagnosis.evidence if e.rule == "note.marker"]
    assert {e.category for e in notes} >= {Category.RACE}
    assert notes[0].line == 3 and "race with the heartbeat" in notes[0].message


def test_a_comment_saying_only_flaky_is_shown_without_weight(tmp_path: Path) -> None:
    module = """
        import pytest

        # flaky on CI, hopefully the one we don't have
        @pytest.mark.flaky(reruns=3)
        def test_it(thing):
            assert thing.value == 1
        """
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.UNKNOWN
    [note] = [e for e in diagnosis.evidence if e.rule == "note.marker"]
    assert note.weight == 0 and "hopefully the one we don't have" in note.message


def test_a_platform_condition_on_the_marker_is_shown(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(source("""
        import pytest

        @pytest.mark.flaky(reruns=3, condition=MACOS)
        def test_it(thing):
            assert thing.value == 1
        """))
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, "test_x.py", 3, "pytest.mark.flaky",
                    (("reruns", "3"), ("condition", "MACOS")))
    test = FlakyTest("test_x.py::test_it", ".", "test_x.py", 4, "test_it", (marker,))
    diagnosis = Diagnoser(tmp_path).diagnose(test)
    [note] = [e for e in diagnosis.evidence if e.rule == "note.platform-condition"]
    assert "MACOS" in note.message and note.line == 3 and note.weight == 0


def test_a_signal_timed_on_a_ready_file_is_a_race(tmp_path: Path) -> None:
    """tox's Ctrl-C tests: our own interpreter started, signalled once it wrote a file; the
    signal's timing is the cause, not "another program"."""
    module = """
        import signal
        import subprocess
        import sys
        import time

        def test_ctrl_c(tmp_path):
            ready = tmp_path / "ready"
            child = subprocess.Popen([sys.executable, "-m", "app", str(ready)], stdout=subprocess.PIPE, text=True)
            while not ready.exists() and child.poll() is None:
                time.sleep(0.05)
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate(timeout=30)
            assert "interrupted" in out
        """
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_ctrl_c")
    assert diagnosis.suggestion.category is Category.RACE
    assert diagnosis.fix_at == ("test_x.py", 11)


def test_an_inherited_method_gets_the_fixtures_of_the_module_that_collects_it(tmp_path: Path) -> None:
    """kombu's integration tests: the methods live in a base class, each broker's module gives
    the ``connection`` fixture (a client of the library for a server, no URL in the test)."""
    files = {
        "t/common.py": """
            class BasicFunctionality:
                def test_connect(self, connection):
                    assert connection.connect()
            """,
        "t/test_redis.py": """
            import kombu
            import pytest

            from .common import BasicFunctionality

            @pytest.fixture
            def connection():
                return kombu.Connection("redis://localhost:6379")

            @pytest.mark.flaky(reruns=5)
            class test_RedisBasicFunctionality(BasicFunctionality):
                pass
            """,
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(source(text), encoding="utf-8")
    test = FlakyTest("t/test_redis.py::test_RedisBasicFunctionality::test_connect", ".", "t/common.py", 2,
                     "test_connect", (), "test_RedisBasicFunctionality")
    diagnosis = Diagnoser(tmp_path).diagnose(test)
    assert diagnosis.suggestion.category is Category.EXTERNAL
    assert ("t/test_redis.py", 8) in {(e.path, e.line) for e in diagnosis.evidence}


def test_a_test_of_a_timeout_is_not_blamed_on_its_name(tmp_path: Path) -> None:
    module = """
        import pytest
        from app.agent import Agent, AgentTimeout

        def test_stuck_agent_times_out():
            \"\"\"A stuck agent makes ping raise after its timeout.\"\"\"
            with pytest.raises(AgentTimeout):
                Agent(stuck=True).ping(timeout=0.5)
        """
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_stuck_agent_times_out")
    assert diagnosis.suggestion.category is Category.UNKNOWN


def test_a_fixture_handing_out_a_fixed_folder_is_named_where_the_folder_is(tmp_path: Path) -> None:
    module = """
        import shutil
        from pathlib import Path

        import pytest

        @pytest.fixture
        def scratch():
            folder = Path("scratch")
            folder.mkdir(exist_ok=True)
            yield folder
            shutil.rmtree(folder, ignore_errors=True)

        def test_staged(scratch):
            (scratch / "a.txt").write_text("a")
            assert [p.name for p in scratch.iterdir()] == ["a.txt"]

        def test_reads_data():
            assert Path("data.json").read_text()
        """
    diagnosis = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_staged")
    assert ("test_x.py", 8, "fixture.fixed-folder") in {(e.path, e.line, e.rule) for e in diagnosis.evidence}
    reader = diagnose_files(tmp_path, {"test_x.py": module}, "test_x.py", "test_reads_data")
    assert "fixture.fixed-folder" not in {e.rule for e in reader.evidence}
