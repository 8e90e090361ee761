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
