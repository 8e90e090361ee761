"""Golden before/after for ``wait.again`` (a step the test repeats after a ``with`` block gets
the wait the test made before it the first time) and the shapes where it must not fire."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui.models import Category
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening
from tests._codemod_helpers import pytest_in, src


def _again(source: bytes, category: Category = Category.ASYNC) -> list[bytes]:
    files = {"tests/test_x.py": source}
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=files.get, project_files=tuple(files), category=category)
    return [p.edits[0].after for p in propose(ctx)[0] if p.remedy == "wait.again"]


REPEATED = src("""
    def test_a(qtbot, console):
        panel = console.current_panel()
        with qtbot.waitSignal(panel.finished):
            panel.run("%pdb on")
        panel.restart()
        qtbot.waitUntil(lambda: panel.is_prompting())
        assert panel.is_prompting()

        # the arrow brings the last line back
        qtbot.keyClick(panel.editor, "Up")
        assert "x = 1" in panel.text()

        panel = console.open_panel()
        with qtbot.waitSignal(panel.finished):
            panel.run("%pdb on")

        # the arrow brings the last line back
        qtbot.keyClick(panel.editor, "Up")
        assert "x = 1" in panel.text()
        panel.history.append("y = 2")
        qtbot.keyClick(panel.editor, "Up")
        assert "y = 2" in panel.text()
""")

WAITED = src("""
    def test_a(qtbot, console):
        panel = console.current_panel()
        with qtbot.waitSignal(panel.finished):
            panel.run("%pdb on")
        panel.restart()
        qtbot.waitUntil(lambda: panel.is_prompting())
        assert panel.is_prompting()

        # the arrow brings the last line back
        qtbot.keyClick(panel.editor, "Up")
        assert "x = 1" in panel.text()

        panel = console.open_panel()
        with qtbot.waitSignal(panel.finished):
            panel.run("%pdb on")

        # the arrow brings the last line back
        qtbot.waitUntil(lambda: panel.is_prompting())
        qtbot.keyClick(panel.editor, "Up")
        assert "x = 1" in panel.text()
        panel.history.append("y = 2")
        qtbot.keyClick(panel.editor, "Up")
        assert "y = 2" in panel.text()
""")


@pytest.mark.parametrize("category", [Category.ASYNC, Category.RACE, Category.UNKNOWN])
def test_the_repeat_after_a_with_block_waits_as_the_first_step_did(category: Category) -> None:
    assert _again(REPEATED, category) == [WAITED]
    assert weakening("tests/test_x.py", REPEATED, WAITED) is None
    assert _again(WAITED, category) == []  # it waits there already


@pytest.mark.parametrize("source", [
    # a fixed wait, not a condition
    REPEATED.replace(b"qtbot.waitUntil(lambda: panel.is_prompting())", b"qtbot.wait(500)"),
    # a count the test moves past: waiting for it again would time out
    REPEATED.replace(b"qtbot.waitUntil(lambda: panel.is_prompting())", b"qtbot.waitUntil(lambda: len(panel.lines) == 1)"),
    # the repeat follows a plain statement, not a step in a with block
    REPEATED.replace(b'        panel.run("%pdb on")\n\n    # the arrow', b'        panel.run("%pdb on")\n    panel.focus()\n\n    # the arrow'),
    # not the same action word for word
    REPEATED.replace(b'    qtbot.keyClick(panel.editor, "Up")\n    assert "x = 1" in panel.text()\n    panel.history',
                     b'    qtbot.keyClick(panel.editor, "Down")\n    assert "x = 1" in panel.text()\n    panel.history'),
], ids=["fixed-wait", "a-count", "after-a-plain-statement", "another-action"])  # fmt: skip
def test_no_proposal(source: bytes) -> None:
    assert source != REPEATED
    assert _again(source) == []


@pytest.mark.parametrize("condition", [b"not panel.busy", b"panel.ready and panel.is_prompting()"])
def test_a_state_negated_or_joined_is_waited_for_again(condition: bytes) -> None:
    source = REPEATED.replace(b"lambda: panel.is_prompting()", b"lambda: " + condition)
    found = _again(source)
    assert len(found) == 1 and found[0].count(b"qtbot.waitUntil(lambda: " + condition + b")") == 2


def test_not_for_a_cause_it_does_not_cure() -> None:
    assert _again(REPEATED, Category.DATA) == []
    assert _again(REPEATED, Category.TIME) == []


PROMPT_APP = '''
import contextlib


class Console:
    """A console that is ready for keys only after it has been asked a few times (a prompt that
    arrives on the program's own time, without threads: the same every run)."""

    def __init__(self):
        self.keys = []
        self._asked = 0

    def start(self):
        self._asked = 0

    def is_prompting(self):
        self._asked += 1
        return self._asked > 3

    def press(self, key):
        if self._asked > 3:
            self.keys.append(key)


@contextlib.contextmanager
def restarted(console):
    yield
    console.start()


def wait_until(condition, tries=1000):
    for _ in range(tries):
        if condition():
            return
    raise TimeoutError("the condition never held")
'''

PROMPT_TEST = src("""
    from app import Console, restarted, wait_until


    def test_a():
        console = Console()
        console.start()
        wait_until(lambda: console.is_prompting())
        console.press("up")
        assert console.keys == ["up"]
        with restarted(console):
            console.keys.clear()
        console.press("up")
        assert console.keys == ["up"]
""")


def test_the_repeated_step_waits_for_the_prompt(tmp_path: Path) -> None:
    """The proposal runs: without the wait the second key goes to a console not prompting yet
    and is lost, every run; with the test's own wait it arrives."""
    found = _again(PROMPT_TEST)
    assert len(found) == 1
    (tmp_path / "app.py").write_text(PROMPT_APP)


    (tmp_path / "test_x.py").write_bytes(PROMPT_TEST)
    before = pytest_in(tmp_path)
    assert before.returncode == 1 and "1 failed" in before.stdout, before.stdout + before.stderr
    (tmp_path / "test_x.py").write_bytes(found[0])
    after = pytest_in(tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
