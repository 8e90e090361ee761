"""Golden before/after for ``purge.after`` (a test that purges a shared queue before its work
purges it again when done) and the shapes where it must not fire."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui.models import Category, Evidence
from flaketui.remedies import Context, Proposal, Target, propose
from flaketui.remedies.guard import weakening
from tests._codemod_helpers import pytest_in, src


def _purges(source: bytes, category: Category = Category.ORDER) -> list[bytes]:
    files = {"tests/test_x.py": source}
    ctx = Context(target=Target("tests/test_x.py", "test_a", "TestQueue"), read=files.get,
                  project_files=tuple(files), category=category)  # fmt: skip
    return [p.edits[0].after for p in propose(ctx)[0] if p.remedy == "purge.after"]


BEFORE = src("""
    class TestQueue:
        def test_a(self, manager):
            for tag in ["a", "b"]:
                # start from an empty queue
                while True:
                    count = manager.app.control.purge()
                    if count == 0:
                        break

                result = manager.send(tag)
                assert result.get() == tag
            manager.state.clear()

        def test_b(self, manager):
            assert manager.send("x").get() == "x"
""")

AFTER = src("""
    class TestQueue:
        def test_a(self, manager):
            for tag in ["a", "b"]:
                # start from an empty queue
                while True:
                    count = manager.app.control.purge()
                    if count == 0:
                        break

                result = manager.send(tag)
                assert result.get() == tag
            manager.state.clear()

            while True:
                count = manager.app.control.purge()
                if count == 0:
                    break

        def test_b(self, manager):
            assert manager.send("x").get() == "x"
""")


@pytest.mark.parametrize("category", [Category.ORDER, Category.FIXTURE])
def test_the_purge_before_the_work_is_done_again_after_it(category: Category) -> None:
    assert _purges(BEFORE, category) == [AFTER]
    assert weakening("tests/test_x.py", BEFORE, AFTER) is None
    assert _purges(AFTER, category) == []  # it purges when done already


def test_one_purge_call_is_copied_as_it_is() -> None:
    source = BEFORE.replace(
        b"            while True:\n                count = manager.app.control.purge()\n"
        b"                if count == 0:\n                    break\n",
        b"            manager.queue.purge()\n",
    )
    assert source != BEFORE
    found = _purges(source)
    assert found and found[0].endswith(b"manager.state.clear()\n\n        manager.queue.purge()\n\n"
                                       b"    def test_b(self, manager):\n        assert manager.send(\"x\").get() == \"x\"\n")


@pytest.mark.parametrize("category", [Category.UNKNOWN, Category.ASYNC, Category.DATA])
def test_not_without_shared_state_in_the_diagnosis(category: Category) -> None:
    assert _purges(BEFORE, category) == []


def test_not_when_the_test_never_purges() -> None:
    assert _purges(BEFORE.replace(b"control.purge()", b"control.inspect()")) == []


def test_a_while_that_purges_in_its_condition_is_copied_whole() -> None:
    source = BEFORE.replace(
        b"            while True:\n                count = manager.app.control.purge()\n"
        b"                if count == 0:\n                    break\n",
        b"            while manager.purge():\n                pass\n",
    )
    found = _purges(source)
    assert found and b"manager.state.clear()\n\n        while manager.purge():\n            pass\n" in found[0]


#: The loop is the test's last statement: each pass purges first, so the last pass's messages stay.
LOOP_LAST = src("""
    class TestQueue:
        def test_a(self, manager):
            for tag in ["a", "b"]:
                # start from an empty queue: another test may have left messages
                while True:
                    count = manager.app.control.purge()
                    if count == 0:
                        break
                result = manager.send(tag)
                assert result.get() == tag

        def test_b(self, manager):
            assert manager.send("x").get() == "x"
""")


def test_a_loop_that_purges_first_in_each_pass_still_leaves_its_last_pass() -> None:
    found = _purges(LOOP_LAST)
    assert len(found) == 1
    # the loop is copied without its comment, after the for loop, before test_b
    assert b"            assert result.get() == tag\n\n        while True:\n            count = manager.app.control.purge()\n" \
        b"            if count == 0:\n                break\n\n    def test_b(self, manager):\n" in found[0]
    assert weakening("tests/test_x.py", LOOP_LAST, found[0]) is None
    assert _purges(found[0]) == []  # it purges when done now


def test_a_block_that_ends_by_purging_is_done_already() -> None:
    source = LOOP_LAST.replace(
        b"            assert result.get() == tag\n",
        b"            assert result.get() == tag\n            manager.app.control.purge()\n",
    )
    assert source != LOOP_LAST
    assert _purges(source) == []


def _with_evidence(source: bytes, category: Category, *evidence: Evidence) -> list[Proposal]:
    files = {"tests/test_x.py": source}
    ctx = Context(target=Target("tests/test_x.py", "test_a", "TestQueue"), read=files.get,
                  project_files=tuple(files), category=category, evidence=evidence)  # fmt: skip
    return [p for p in propose(ctx)[0] if p.remedy == "purge.after"]


_BROKER = Evidence(Category.EXTERNAL, "external.broker", "tests/test_x.py", 6, 6, "purge(): connects to a broker", "", 0.8)
_DIRTY = Evidence(Category.ORDER, "note.body", "tests/test_x.py", 4, 4, "a comment says another test may have left", "", 0.4)


def test_a_broker_test_that_also_shows_shared_state_gets_the_purge_as_an_order_fix() -> None:
    found = _with_evidence(LOOP_LAST, Category.EXTERNAL, _BROKER, _DIRTY)
    assert [p.category for p in found] == [Category.ORDER]
    assert "also saw state shared between tests" in found[0].why


def test_a_broker_test_without_shared_state_in_the_diagnosis_gets_none() -> None:
    assert _with_evidence(LOOP_LAST, Category.EXTERNAL, _BROKER) == []


BROKER = '''
class Queue:
    """An in-process queue the module's tests share, as they would share a broker's."""

    def __init__(self):
        self.items = []

    def send(self, item):
        self.items.append(item)

    def purge(self):
        count = len(self.items)
        self.items.clear()
        return count


QUEUE = Queue()
'''

SHARED_QUEUE_TESTS = src("""
    from broker import QUEUE


    class TestQueue:
        def test_a(self):
            for tag in ["a", "b"]:
                while True:
                    count = QUEUE.purge()
                    if count == 0:
                        break
                QUEUE.send(tag)
                assert QUEUE.items == [tag]

        def test_b(self):
            assert QUEUE.items == []
""")


def test_the_next_test_finds_the_queue_empty_after_the_purge(tmp_path: Path) -> None:
    """The proposal runs: before it the test after test_a reads the message of test_a's last
    pass, every run in file order; after it the queue is empty when test_a is done."""
    found = _purges(SHARED_QUEUE_TESTS)
    assert len(found) == 1
    (tmp_path / "broker.py").write_text(BROKER)


    (tmp_path / "test_x.py").write_bytes(SHARED_QUEUE_TESTS)
    before = pytest_in(tmp_path)
    assert before.returncode == 1 and "1 failed, 1 passed" in before.stdout, before.stdout + before.stderr
    (tmp_path / "test_x.py").write_bytes(found[0])
    after = pytest_in(tmp_path)
    assert after.returncode == 0 and "2 passed" in after.stdout, after.stdout + after.stderr
