"""Claims checked on shapes met in a second set of real repositories (a scheduler's CLI tests,
a bot SDK's job queue, an IDE's Qt tests): each rule says only what the code does. Each case is
a small project in tmp_path, written for this suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui.models import Category

from tests._diagnose_helpers import diagnose_files

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
