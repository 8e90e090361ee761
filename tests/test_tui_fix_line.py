"""Pilot tests of the line the fix must change (F) and of rows that learn from new runs."""

from __future__ import annotations

from flaketui.models import Category
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.help import HelpScreen
from flaketui.tui.widgets.detail import DetailPane, EvidenceView, SourceView
from tests._tui_helpers import run_async, settle
from tests.conftest import MakeRepo

SIZE = (150, 40)

#: The race is in the code under test: the line to change is in app/counter.py, not in the test.
RACE = {
    "pyproject.toml": "[tool.pytest.ini_options]\n",
    "app/__init__.py": "",
    "app/counter.py": """\
        import threading


        class Counter:
            def __init__(self):
                self.value = 0
                self._lock = threading.Lock()

            def increment(self):
                self.value += 1
    """,
    "test_counter.py": """\
        import threading

        import pytest

        from app.counter import Counter


        @pytest.mark.flaky(reruns=2)
        def test_it():
            counter = Counter()
            threads = [threading.Thread(target=counter.increment) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert counter.value == 8
    """,
}

#: The second call of fetch() is refused (a counter file): nothing in the code says "network",
#: only the runs do, and the traceback ends in client.py.
REFUSED = {
    "pyproject.toml": "[tool.pytest.ini_options]\n",
    ".gitignore": "calls.txt\n",
    "client.py": """\
        import pathlib

        COUNTER = pathlib.Path(__file__).with_name("calls.txt")


        def fetch():
            calls = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
            COUNTER.write_text(str(calls))
            if calls == 2:
                raise ConnectionRefusedError(111, "Connection refused")
            return 1
    """,
    "test_fetch.py": """\
        import pytest

        from client import fetch


        @pytest.mark.flaky(reruns=2)
        def test_fetch():
            assert fetch() == 1
    """,
}


def source_text(app: FlakeTUIApp) -> str:
    return app.main.query_one(SourceView).text


def fix_line_shown(app: FlakeTUIApp, path: str, line: int) -> str:
    """The text of the shown line numbered ``line`` (it must be on screen)."""
    view = app.main.query_one(SourceView)
    top, height = view.scroll_offset.y, view.scrollable_content_region.height
    on_screen = source_text(app).splitlines()[top:top + height]
    [shown] = [text for text in on_screen if text.split()[:1] == [str(line)]]
    return shown


@run_async
async def test_f_shows_the_line_to_change_in_the_code_under_test_and_back(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(RACE)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = app.main.selected
        assert row is not None and row.diagnosis is not None
        assert row.diagnosis.fix_at == ("app/counter.py", 10)
        assert "fix at app/counter.py:10 · F shows that line" in source_text(app)
        assert "def test_it" in source_text(app)
        await pilot.press("F")
        await pilot.pause()
        text = source_text(app)
        assert text.startswith("app/counter.py:10: the line to change · F back to the test")
        assert "self.value += 1" in fix_line_shown(app, "app/counter.py", 10)
        assert "└ change this line:" in text and "def test_it" not in text
        await pilot.press("F")
        await pilot.pause()
        assert "def test_it" in source_text(app) and "self.value += 1" not in source_text(app)


@run_async
async def test_f_works_from_another_tab_and_with_the_detail_hidden(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(RACE)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d", "l")  # the detail hidden, the Evidence tab chosen
        await pilot.press("F")
        await settle(pilot)
        pane = app.main.query_one(DetailPane)
        assert pane.display and pane.region.height > 0 and pane.active == "tab-source"
        assert "self.value += 1" in fix_line_shown(app, "app/counter.py", 10)


@run_async
async def test_f_says_why_when_no_line_is_named_and_help_lists_it(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(REFUSED)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.main.selected is not None and app.main.selected.diagnosis is not None
        assert app.main.selected.diagnosis.fix_at is None  # never run: nothing points anywhere yet
        assert app.main.unavailable_reason("goto_fix") == "the diagnosis names no line to change"
        await pilot.press("F")
        await pilot.pause()
        assert "def test_fetch" in source_text(app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        [(keys, about)] = [(k, a) for k, d, a in app.screen.lines if d == "Fix line"]
        assert keys == "F" and about.startswith("Show the line the fix must change")
        assert "(unavailable: the diagnosis names no line to change)" in about


@run_async
async def test_a_verification_re_diagnoses_its_row_with_what_the_runs_showed(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(REFUSED)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = app.main.selected
        assert row is not None and row.diagnosis is not None
        assert row.diagnosis.suggestion.category is Category.UNKNOWN
        await pilot.press("v")
        await settle(pilot)
        row = app.main.selected
        assert row is not None and row.diagnosis is not None and row.verification is not None
        assert row.verification.passed == 9
        assert row.diagnosis.suggestion.category is Category.EXTERNAL
        assert row.category_text().startswith("external?")
        assert row.diagnosis.fix_at == ("client.py", 10)
        await pilot.press("l")  # Evidence
        await pilot.pause()
        evidence = str(app.main.query_one(EvidenceView).render())
        assert "From 1 failed run of 10" in evidence and "ConnectionRefusedError" in evidence
        await pilot.press("F")  # the refused call is where the traceback ended: in another file
        await pilot.pause()
        assert "raise ConnectionRefusedError" in fix_line_shown(app, "client.py", 10)
