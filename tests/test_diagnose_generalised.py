"""Claims checked on shapes met in a second set of real repositories (a scheduler's CLI tests,
a bot SDK's job queue, an IDE's Qt tests): each rule says only what the code does. Each case is
a small project in tmp_path, written for this suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.diagnose import Diagnoser
from flaketui.models import Category, FlakyTest, Marker, MarkerKind, MarkerScope
from tests._diagnose_helpers import diagnose_files, source

#: (files, the test to diagnose, rules that must not appear, the category suggested)
CASES = [
    pytest.param(
        {"tests/test_x.py": """
        import asyncio
        import random

        async def test_it(pool):
            jobs = pool.submit_many(range(64))
            await asyncio.sleep(random.random() / 10)
            pool.kill_one()
            await asyncio.sleep(0.02 + random.uniform(0, 0.05))
            assert sum(await pool.gather(jobs)) == 2016
        """},
        {"data.unseeded-random", "async.fixed-sleep"},
        Category.UNKNOWN,
        id="random-pauses-before-a-kill-are-the-chaos-the-test-needs",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import json
        import pytest

        @pytest.fixture
        def outline():
            def build(name):
                with open(f"cases/{name}.json") as handle:
                    return json.load(handle)
            return build

        def test_it(outline):
            assert outline("module")["symbols"]
        """},
        {"fixture.no-teardown"},
        Category.UNKNOWN,
        id="a-file-opened-with-with-in-a-fixture-is-closed",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import pytest

        @pytest.mark.order(3)
        def test_it(editor):
            editor.set_text("x = 1")
            assert editor.lines() == 1
        """},
        {"order.explicit-order"},
        Category.UNKNOWN,
        id="a-pinned-place-in-the-order-is-the-same-on-every-run",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import pytest
        from shop.config import SETTINGS

        @pytest.fixture
        def strict(request):
            SETTINGS.update(strict=True)

            def back():
                SETTINGS.update(strict=False)

            request.addfinalizer(back)

        def test_it():
            assert not SETTINGS.get("strict")

        def test_strict(strict):
            assert SETTINGS["strict"]
        """},
        {"order.shared-state-read"},
        Category.UNKNOWN,
        id="a-fixture-that-puts-state-back-through-addfinalizer-pollutes-nothing",
    ),
    pytest.param(
        {
            "tests/test_x.py": """
            import sys
            from kit.testing import free_port, run_child

            def test_it():
                port = free_port()
                with run_child([sys.executable, "-m", "kit", "serve", "--port", str(port)]) as child:
                    assert child.wait(timeout=30) == 0
            """,
            "kit/__init__.py": "",
            "kit/testing.py": '''
            import socket
            import subprocess

            def free_port():
                """A port free right now."""
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    return probe.getsockname()[1]

            def run_child(argv, **options):
                """Start argv. Reading its output from another thread is not thread-safe."""
                return subprocess.Popen(argv, **options)
            ''',
        },
        {"external.socket", "external.subprocess", "race.warning-docstring"},
        Category.UNKNOWN,
        id="helpers-that-probe-a-port-and-run-our-own-interpreter-reach-no-other-machine",
    ),
    pytest.param(
        {"tests/test_x.py": """
        def test_it(worker):
            \"\"\"The worker reports its logical clock.\"\"\"
            assert worker.clock() > 0
        """},
        set(),
        Category.UNKNOWN,
        id="a-docstring-saying-what-is-tested-names-no-cause",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import asyncio

        async def test_it(limiter):
            first = asyncio.create_task(limiter.call())
            await asyncio.sleep(0.1)
            assert not first.done()
            await asyncio.sleep(1.05)
            assert first.done()
        """},
        {"async.fixed-sleep"},
        Category.TIME,
        id="sleeps-that-step-across-a-timer-hold-it-to-a-window-of-wall-time",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import asyncio

        async def test_it(queue):
            queue.run_later(0.1, queue.mark)
            await asyncio.sleep(0.3)
            assert queue.marked
        """},
        {"time.sleep-window"},
        Category.ASYNC,
        id="one-sleep-then-one-assert-is-a-wait",
    ),
]


@pytest.mark.parametrize(("files", "absent", "category"), CASES)
def test_each_rule_says_only_what_the_code_does(tmp_path: Path, files: dict[str, str], absent: set[str],
                                                category: Category) -> None:
    diagnosis = diagnose_files(tmp_path, files, "tests/test_x.py", "test_it")
    assert not absent & {e.rule for e in diagnosis.evidence}
    assert diagnosis.suggestion.category is category


def test_a_named_predecessor_in_the_order_mark_is_still_order_evidence(tmp_path: Path) -> None:
    module = """
        import pytest

        @pytest.mark.order(after="test_create_account")
        def test_it(accounts):
            assert accounts.count() == 1
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert [(e.rule, e.line) for e in diagnosis.evidence if e.rule == "order.explicit-order"] == [
        ("order.explicit-order", 3)]


def test_the_window_names_its_first_sleep(tmp_path: Path) -> None:
    module = """
        import time

        def test_it(session):
            session.expire_after(0.5)
            time.sleep(0.3)
            assert session.alive()
            time.sleep(0.3)
            assert not session.alive()
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.TIME
    assert diagnosis.fix_at == ("tests/test_x.py", 5)


#: (files, the rule that must name it, the category suggested)
NAMED = [
    pytest.param(
        {"tests/test_x.py": """
        async def test_it(client, worker):
            jobs = client.map(worker.slow_square, range(8), delay=0.1)
            await client.wait(jobs)
            sampled = worker.profile_of("slow_square")
            assert sampled["count"]
        """},
        "time.timing-tolerance",
        Category.TIME,
        id="a-sampling-profiler-must-have-caught-sleeping-work",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import time

        def test_it(tracer):
            everything = tracer.samples(since=0)
            recent = tracer.samples(since=time.time() - 0.25)
            assert 0 < recent["count"] < everything["count"]
        """},
        "time.timing-tolerance",
        Category.TIME,
        id="a-count-in-the-last-quarter-second-bounded-by-another-count",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import pytest

        # These sometimes show up on a loaded runner:
        #     asyncio.exceptions.TimeoutError
        @pytest.mark.flaky(reruns=2)
        def test_it(shell):
            assert shell.run("shutdown").output == ""
        """},
        "note.marker",
        Category.ASYNC,
        id="a-comment-listing-a-timeout-error",
    ),
    pytest.param(
        {
            "tests/test_x.py": """
            from orders.tasks import reserve, ship

            def test_it(celery_worker):
                chain = reserve.s("sku-1") | ship.s()
                assert chain().get(timeout=10) == "shipped"
                assert reserve.delay("sku-2").get(timeout=10)
            """,
            "orders/__init__.py": "",
            "orders/tasks.py": """
            from celery import shared_task

            @shared_task
            def reserve(sku):
                return sku

            @shared_task
            def ship(sku):
                return "shipped"
            """,
        },
        "external.task-queue",
        Category.EXTERNAL,
        id="tasks-sent-through-a-broker",
    ),
    pytest.param(
        {"tests/test_x.py": """
        import signal
        import threading
        import time

        def test_it(pair):
            signal.setitimer(signal.ITIMER_REAL, 0.1)

            def later():
                time.sleep(0.3)
                pair.left.send(b"go")

            sender = threading.Thread(target=later)
            sender.start()
            assert pair.right.poll(1000)
            sender.join()
        """},
        "race.sleep-ordering",
        Category.RACE,
        id="a-thread-sleeps-so-the-signal-goes-first",
    ),
]


NAMED.append(pytest.param(
    {"tests/test_x.py": """
    import pytest

    @pytest.fixture
    def control(worker_app):
        return worker_app.app.control.inspect()

    def test_it(control):
        assert control.stats()["pool"]["max-concurrency"] == 2
    """},
    "external.broker",
    Category.EXTERNAL,
    id="a-remote-control-call-goes-through-the-broker",
))


@pytest.mark.parametrize(("files", "rule", "category"), NAMED)
def test_shapes_of_the_second_set_are_named(tmp_path: Path, files: dict[str, str], rule: str,
                                            category: Category) -> None:
    diagnosis = diagnose_files(tmp_path, files, "tests/test_x.py", "test_it")
    assert rule in {e.rule for e in diagnosis.evidence}
    assert diagnosis.suggestion.category is category


def test_a_local_pool_apply_async_sends_nothing_to_a_broker(tmp_path: Path) -> None:
    module = """
        from multiprocessing import Pool

        def test_it():
            with Pool(2) as pool:
                assert pool.apply_async(abs, (-3,)).get(timeout=5) == 3
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert "external.task-queue" not in {e.rule for e in diagnosis.evidence}


def test_reruns_limited_to_connection_errors_say_the_network_fails(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(source("""
        import pytest

        @pytest.mark.flaky(reruns=3, only_rerun=["ConnectionResetError", "requests.exceptions.ConnectionError"])
        def test_it(catalog):
            assert catalog.lookup("sku-1")["price"] == 12
        """))
    marker = Marker(MarkerKind.RERUNFAILURES, MarkerScope.FUNCTION, "test_x.py", 3, "pytest.mark.flaky",
                    (("reruns", "3"), ("only_rerun", '["ConnectionResetError", "requests.exceptions.ConnectionError"]')))
    diagnosis = Diagnoser(tmp_path).diagnose(FlakyTest("test_x.py::test_it", ".", "test_x.py", 4, "test_it", (marker,)))
    [note] = [e for e in diagnosis.evidence if e.rule == "note.rerun-filter"]
    assert note.line == 3 and "ConnectionResetError" in note.message
    assert diagnosis.suggestion.category is Category.EXTERNAL


def test_a_time_stamped_into_a_message_is_no_clock_dependence(tmp_path: Path) -> None:
    module = """
        import datetime
        import json

        async def test_it(socket):
            await socket.send(json.dumps({"kind": "ping", "meta": {"sent": datetime.datetime.now().isoformat()}}))
            assert json.loads(await socket.receive())["kind"] == "pong"
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert "time.wall-clock" not in {e.rule for e in diagnosis.evidence}


def test_a_time_in_a_record_the_test_compares_still_counts(tmp_path: Path) -> None:
    module = """
        import datetime

        def test_it(ledger):
            entry = {"day": datetime.date.today()}
            assert ledger.add(entry).day == datetime.date(2024, 1, 31)
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert "time.wall-clock" in {e.rule for e in diagnosis.evidence}


def test_sleep_handed_over_as_profiled_work_is_time(tmp_path: Path) -> None:
    module = """
        import time
        from concurrent.futures import ThreadPoolExecutor
        from app.profiling import Profiler

        def test_it():
            with ThreadPoolExecutor(4) as pool, Profiler() as prof:
                list(pool.map(time.sleep, [0.5] * 4))
            assert len({r.thread for r in prof.records}) == 4
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.TIME
    assert diagnosis.fix_at == ("tests/test_x.py", 7)


def test_the_request_not_the_network_marker_is_where_the_fix_goes(tmp_path: Path) -> None:
    module = """
        import pytest
        from tables import read_csv

        @pytest.mark.network
        def test_it():
            rates = read_csv("https://data.parcelhub.io/v2/rates.csv")
            assert len(rates) > 10
        """
    diagnosis = diagnose_files(tmp_path, {"tests/test_x.py": module}, "tests/test_x.py", "test_it")
    assert diagnosis.suggestion.category is Category.EXTERNAL
    assert diagnosis.fix_at == ("tests/test_x.py", 6)
