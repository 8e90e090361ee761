"""Module trees are shared inside one proposal and never kept beyond it (a tree of a large
module is over a hundred megabytes; an app diagnosing a whole project must not hold them all)."""

from __future__ import annotations

import threading

from flaketui.diagnose import trees

SOURCE = b"def test_x():\n    assert 1\n"


def test_outside_a_shared_block_nothing_is_kept() -> None:
    first, second = trees.parse(SOURCE), trees.parse(SOURCE)
    assert first is not None and second is not None
    assert first is not second
    assert first.code == second.code == SOURCE.decode()


def test_inside_a_block_a_content_is_parsed_once_and_dropped_at_its_end() -> None:
    with trees.shared():
        first = trees.parse(SOURCE)
        with trees.shared():  # a nested block reads the same trees
            assert trees.parse(SOURCE) is first
        assert trees.parse(SOURCE) is first
        assert trees.parse(SOURCE + b"\n") is not first
    assert trees.parse(SOURCE) is not first


def test_a_module_libcst_cannot_read_is_none_inside_and_outside() -> None:
    broken = b"def f(:\n"
    assert trees.parse(broken) is None
    with trees.shared():
        assert trees.parse(broken) is None
        assert trees.parse(broken) is None


def test_each_thread_keeps_its_own_trees() -> None:
    seen: list[object] = []
    with trees.shared():
        mine = trees.parse(SOURCE)
        worker = threading.Thread(target=lambda: seen.append(trees.parse(SOURCE)))
        worker.start()
        worker.join()
    assert seen[0] is not None and seen[0] is not mine
