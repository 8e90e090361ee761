"""The app with tests nobody marked: candidates from CI history and hunts in the table, the
hunt key with its progress, and x that stops a hunt with every process."""

from __future__ import annotations

from textual.widgets import TabbedContent

from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.widgets.detail import EvidenceView, SourceView
from flaketui.tui.widgets.test_table import TestTable, row_key
from tests._hunt_helpers import HANGS_ON_SECOND_CALL, HUNT_PROJECT, POLLUTER, SEED, VICTIM, stable_project
from tests._tui_helpers import PROJECT, processes_under, run_async, settle, wait_for
from tests.conftest import MakeRepo
from tests.test_ci_import import REPORTS

SIZE = (150, 40)


@run_async
async def test_history_candidates_join_the_marked_tests_most_failing_first(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, "tests/test_api.py": "class TestLogin:\n    def test_ok(self): pass\n\n\ndef test_flips(): pass\n"})
    service = Service(root)
    service.import_junit([REPORTS / "xunit1.xml", REPORTS / "rerun_interim.xml"])
    app = FlakeTUIApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        model = app.main.model
        # Measured failures first (3 of 4, then 2 of 3), then the marked tests by file.
        assert [k[1] for k in model.shown][:2] == ["tests/test_api.py::TestLogin::test_ok", "tests/test_api.py::test_flips"]
        assert len(model.shown) == 5
        row = model.rows[(".", "tests/test_api.py::test_flips")]
        assert (row.source, row.marker_text(), row.test.line) == ("history", "—", 5)
        app.main.query_one(TestTable).select(row.key)
        await pilot.pause()
        assert model.unavailable_reason("commit") == "it carries no marker: fix it, verify it with v, and commit the fix with git"
        # w proves and commits just the fix (there is no marker to remove); c has no removal to commit.
        assert model.unavailable_reason("verify") is None and model.unavailable_reason("propose") is None
        assert model.unavailable_reason("write_fix") is None
        app.main.query_one(TabbedContent).active = "tab-evidence"
        await pilot.pause()
        text = str(app.main.query_one(EvidenceView).render())
        assert "no marker; found by history" in text and "failed 2 of 3 attempts in 2 reports" in text


@run_async
async def test_the_source_column_folds_into_a_badge_when_narrow_and_src_filters(make_repo: MakeRepo) -> None:
    root = make_repo({**PROJECT, "tests/test_api.py": "class TestLogin:\n    def test_ok(self): pass\n\n\ndef test_flips(): pass\n"})
    service = Service(root)
    service.import_junit([REPORTS / "xunit1.xml", REPORTS / "rerun_interim.xml"])
    app = FlakeTUIApp(service)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        table = app.main.query_one(TestTable)

        def cells(nodeid: str) -> dict[str, str]:
            values = table.get_row(row_key((".", nodeid)))
            return {column.key: str(value) for column, value in zip(table._columns, values, strict=True)}

        flips, marked = cells("tests/test_api.py::test_flips"), cells("tests/test_stable.py::test_always_passes")
        assert (flips["source"], flips["marker"]) == ("history", "—")
        assert (marked["source"], marked["marker"]) == ("marker", "reruns=2")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "source" not in [c.key for c in table._columns]
        flips, marked = cells("tests/test_api.py::test_flips"), cells("tests/test_stable.py::test_always_passes")
        assert flips["status"] == " ○C" and marked["status"] == " ○"
        assert "test_flips" in flips["test"]
        await pilot.press("slash", *"src:hist", "enter")
        assert [k[1] for k in app.main.model.shown] == ["tests/test_api.py::TestLogin::test_ok",
                                                        "tests/test_api.py::test_flips"]
        await pilot.press("slash", "ctrl+u", *"src:marker", "enter")
        assert len(app.main.model.shown) == 3 and all(not app.main.model.rows[k].candidate for k in app.main.model.shown)


@run_async
async def test_h_hunts_shows_progress_and_the_victim_beside_its_polluter(make_repo: MakeRepo) -> None:
    root = make_repo(HUNT_PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        said: list[str] = []
        app.main.model.observe(lambda change: said.append(app.main.model.activity))
        app.main.hunter.runs, app.main.hunter.seed = 1, SEED
        await pilot.press("H")
        await settle(pilot)
        assert any(text.startswith("hunting: run 2/3 (shuffled)") for text in said)
        model = app.main.model
        assert model.activity.startswith("hunt: 3 flaky tests found in 7 tests, 3 unmarked (now in the table)")
        victim = model.rows[(".", VICTIM)]
        assert victim.source == "hunt" and victim.candidate is not None
        app.main.query_one(TestTable).select(victim.key)
        app.main.query_one(TabbedContent).active = "tab-evidence"
        await pilot.pause()
        text = str(app.main.query_one(EvidenceView).render())
        assert f"victim    {VICTIM}" in text and f"polluter  {POLLUTER}" in text and "shared    shared.STATE" in text
        # The Source tab: the victim's lines, then the polluter's, the line that leaves the state marked.
        app.main.query_one(TabbedContent).active = "tab-source"
        await pilot.pause()
        source = app.main.query_one(SourceView).text.splitlines()
        at = source.index(f"polluter: {POLLUTER}")
        assert any("def test_victim():" in line for line in source[:at])
        assert "leaves shared.STATE behind" in source[at + 1]
        assert [line.split(maxsplit=1)[1] for line in source[at + 2:]] == [
            "def test_polluter():", '▌    shared.STATE.append("leak")']


@run_async
async def test_a_hunt_measures_marked_tests_too_and_the_default_sort_puts_them_first(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.hunter.runs, app.main.hunter.seed = 1, SEED
        await pilot.press("H")
        await settle(pilot)
        model = app.main.model
        counter = model.rows[(".", "tests/test_counter.py::test_every_third_run_fails")]
        # Three whole-suite runs: its third call fails. Every other row is marked and unmeasured.
        assert counter.hunt is not None and counter.failures == (1, 3)
        assert model.shown[0] == counter.key and not model.rows[model.shown[1]].failures[1]
        assert "every one already marked" in model.activity
        app.main.query_one(TestTable).select(counter.key)
        app.main.query_one(TabbedContent).active = "tab-evidence"
        await pilot.pause()
        assert "latest hunt: " in str(app.main.query_one(EvidenceView).render())


@run_async
async def test_x_stops_a_hunt_and_every_process_it_started(make_repo: MakeRepo) -> None:
    root = make_repo({**stable_project(), "tests/test_hang.py": HANGS_ON_SECOND_CALL})
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.hunter.runs, app.main.hunter.seed = 1, SEED
        await pilot.press("H")
        pids = root / "tests" / "pids.txt"
        await wait_for(pilot, lambda: pids.exists() and pids.read_text().endswith("\n"))
        assert app.main.model.unavailable_reason("hunt") == "a hunt is running (x stops it)"
        await pilot.press("x")
        await settle(pilot)
        assert processes_under(root) == []
        assert not app.main.model.hunting
        assert "cut short: H continues it" in app.main.model.activity
        first = app.main.service.latest_hunt()
        assert first is not None and not first.complete
        # H again continues that hunt (the test hangs only on its second call): the same hunt, complete.
        await pilot.press("H")
        await settle(pilot)
        resumed = app.main.service.latest_hunt()
        assert resumed is not None and resumed.complete and resumed.hunt_id == first.hunt_id
        assert app.main.model.activity.startswith("hunt: stable in 3 tests"), app.main.model.activity


def test_the_polluters_lines_are_found_in_a_class_and_past_a_parameter_id() -> None:
    from flaketui.tui.widgets.detail import _def_span

    text = ("def test_leak():\n    pass\n\n\nclass TestCache:\n    def test_leak(self):\n        CACHE['k'] = 1\n\n"
            "        assert CACHE\n\n    def test_other(self):\n        pass\n")
    assert _def_span(text, "tests/test_c.py::TestCache::test_leak[a-1]") == (6, 9)
    assert _def_span(text, "tests/test_c.py::test_leak") == (1, 2)
    assert _def_span(text, "tests/test_c.py::TestCache::test_gone") is None
