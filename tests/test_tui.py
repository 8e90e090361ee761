"""Pilot tests: the real app, the real service, real git repositories in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from flaketui.demo import write_demo
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, ScanResult
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.flows import scanner
from flaketui.tui.flows.scanner import Scanner
from flaketui.tui.help import HelpScreen
from flaketui.tui.keymap import load_keymap
from flaketui.tui.modals import CategoryPicker, FindingsScreen, MessageDialog
from flaketui.tui.rows import RowState, Stage
from flaketui.tui.triage import TriageModel
from flaketui.tui.widgets import test_list
from flaketui.tui.widgets.proposal import ProposalView
from flaketui.tui.widgets.detail import DetailPane, EvidenceView, SourceView
from flaketui.tui.widgets.test_list import TestList
from flaketui.tui.widgets.test_table import TestTable
from tests._tui_helpers import PROJECT, run_async, settle, wait_for
from tests.conftest import MakeRepo, git

SIZE = (150, 40)


def nodeids(app: FlakeTUIApp) -> list[str]:
    return [key[1] for key in app.main.model.shown]


@run_async
async def test_opens_scans_and_lists_the_flaky_tests(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert nodeids(app) == [
            "tests/test_counter.py::test_every_third_run_fails",
            "tests/test_stable.py::test_always_passes",
            "tests/test_time.py::test_today_is_a_weekday",
        ]
        header = str(app.main.query_one("#header").render())
        assert "@main" in header and "3 flaky" in header
        assert app.main.query_one("#scan-progress").has_class("hidden")


@run_async
async def test_j_and_k_move_and_the_source_follows(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j")
        assert app.main.selected.test.name == "test_today_is_a_weekday"
        assert "def test_today_is_a_weekday" in app.main.query_one(SourceView).text
        await pilot.press("k")
        assert app.main.selected.test.name == "test_always_passes"


@run_async
async def test_the_later_tabs_make_their_view_when_first_shown(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Nobody sees them at start-up: not built, so not styled before the first frame.
        assert not app.main.query(EvidenceView) and not app.main.query(ProposalView)
        await pilot.press("l")
        await settle(pilot)
        assert app.main.query_one(DetailPane).active == "tab-evidence"
        assert app.main.selected.test.nodeid in str(app.main.query_one(EvidenceView).render())
        await pilot.press("p")  # the fix flow shows its proposal in a tab never shown yet
        await settle(pilot)
        assert app.main.query_one(DetailPane).active == "tab-fix"
        assert app.main.selected.test.nodeid in app.main.query_one(ProposalView).text
        assert len(app.main.query(ProposalView)) == len(app.main.query(EvidenceView)) == 1


@run_async
async def test_a_digit_confirms_a_category_and_it_persists(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "3")
        await settle(pilot)
        assert app.main.selected.confirmed is Category.TIME
    assert "time" in (root / ".flaketui.toml").read_text()
    again = FlakeTUIApp(Service(root))
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = again.main.model.rows[(".", "tests/test_stable.py::test_always_passes")]
        assert row.confirmed is Category.TIME
        assert row.category_text() == "✓ time"


@run_async
async def test_the_picker_ranks_and_assigns(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        assert isinstance(app.screen, CategoryPicker)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.main.selected.confirmed is not None
        assert Service(root).decisions()[app.main.selected.key].category is app.main.selected.confirmed


@run_async
async def test_filter_by_text_and_by_category(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"stable")
        assert nodeids(app) == ["tests/test_stable.py::test_always_passes"]
        await pilot.press("escape")
        assert len(nodeids(app)) == 3
        assert app.main.selected.test.name == "test_always_passes"  # the selection survives the filter
        await pilot.press("4", "slash", *"cat:ext", "enter")
        await settle(pilot)
        assert nodeids(app) == ["tests/test_stable.py::test_always_passes"]
        assert app.main.table.has_focus


@run_async
async def test_sort_cycles_and_keeps_the_selection(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j")
        chosen = app.main.selected.key
        assert app.main.model.sort_order == "failures"  # the default: most failing first
        await pilot.press("s")
        assert app.main.model.sort_order == "file"
        assert app.main.selected.key == chosen
        await pilot.press("s")
        assert app.main.model.sort_order == "category"
        assert app.main.selected.key == chosen


@run_async
async def test_help_is_generated_from_the_bindings(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = {description for _keys, description, _about in app.screen.lines}
        for binding in [*TestTable.BINDINGS, *TestList.BINDINGS, *app.main.BINDINGS, *app.BINDINGS]:
            assert binding.description in described
        down = next(keys for keys, description, _about in app.screen.lines if description == "Down")
        assert set(down.split(", ")) == {"j", "↓"}
        legend = str(app.screen.query_one("#help-legend").render())
        assert "◐ flaky" in legend and "◔ to verify again" in legend and "H hunt, C CI history" in legend
        await pilot.press("escape")
        assert app.screen is app.main


@run_async
async def test_without_git_it_scans_but_commit_says_why_not(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT, git_repo=False)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(nodeids(app)) == 3
        reason = app.main.unavailable_reason("commit")
        assert reason is not None and "git" in reason
        assert app.main.check_action("commit", ()) is None
        assert "no git" in str(app.main.query_one("#header").render())
        assert "commits are disabled" in str(app.main.query_one("#notice").render())


@run_async
async def test_the_empty_state_says_what_was_looked_at(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo({"tests/test_fine.py": "def test_fine():\n    pass\n"})))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        empty = app.main.query_one("#empty")
        assert not empty.has_class("hidden") and app.main.table.has_class("hidden")
        assert "No flaky markers found" in str(empty.render())
        assert app.main.check_action("verify", ()) is None


class _BrokenScan(Service):
    def scan(self, **options) -> ScanResult:
        raise FlakeTUIError("pyproject.toml does not parse.", "Fix its syntax, then press R.")


@run_async
async def test_a_worker_failure_becomes_a_dialog_with_the_hint(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(_BrokenScan(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MessageDialog)
        assert app.screen.hint == "Fix its syntax, then press R."
        await pilot.press("escape")
        assert app.screen is app.main


@run_async
async def test_keep_records_a_reason_and_expiry(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("K", *"calls a live service", "tab", *"2099-01-31", "enter")
        await settle(pilot)
        assert app.main.selected.state is Stage.KEPT
    keep = Service(root).decisions()[(".", "tests/test_counter.py::test_every_third_run_fails")].keep
    assert keep is not None and keep.reason == "calls a live service" and keep.expires == "2099-01-31"


@pytest.mark.parametrize("query, expected", [("state:unverified", 3), ("marker:reruns=3", 1), ("nomatch", 0)])
@run_async
async def test_filter_terms(make_repo: MakeRepo, query: str, expected: int, tmp_path: Path) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *query)
        assert len(nodeids(app)) == expected
        if expected == 0:
            assert "No test matches" in str(app.main.query_one("#empty").render())


@run_async
async def test_the_palette_offers_the_actions_and_runs_them(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"category time")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.selected.confirmed is Category.TIME
    assert Service(root).decisions()[(".", "tests/test_counter.py::test_every_third_run_fails")].category is Category.TIME


@run_async
async def test_verify_options_change_runs_and_mode(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o", "end", "backspace", "backspace", *"25", "enter")
        assert app.main.model.runs == 25
        assert "25 runs" in str(app.main.query_one("#activity").render())


@run_async
async def test_letters_typed_fast_after_slash_go_to_the_filter(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # All at once, as a terminal delivers a fast typist's keys: none may reach `c` (commit).
        for key, character in [("slash", "/"), *((c, c) for c in "cat"), ("slash", "/"), ("x", "x")]:
            app.post_message(events.Key(key, character))
        await settle(pilot)
        assert app.main.query_one("#filter", Input).value == "cat/x"
        assert app.screen is app.main
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


@run_async
async def test_typing_in_the_filter_sets_background_diagnosis_aside_at_the_first_key(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A big table refills only after a pause in typing. Until then, diagnosis landing row by
    # row took the main thread from each keystroke: it must step aside at the first key.
    monkeypatch.setattr(test_list, "_REFILL_AT_ONCE_UP_TO", 0)
    monkeypatch.setattr(test_list, "_FILTER_PAUSE", 600.0)
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(scanner, "QUIET_AFTER_INPUT", 600.0)  # so no load can end the pause early
        assert not app.main.scanner.waiting_for_quiet
        await pilot.press("slash", "c")
        assert app.main.scanner.waiting_for_quiet
        assert len(app.main.table.rows) == len(app.main.model.rows)  # the filter waits for the pause


@run_async
async def test_diagnoses_queued_together_land_in_one_model_change(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        model = app.main.model
        found = {key: row.diagnosis for key, row in model.rows.items()}
        assert len(found) >= 2 and all(d is not None for d in found.values())
        for row in model.rows.values():
            row.diagnosis = None
        changes: list[frozenset[object]] = []
        model.observe(lambda change: changes.append(change.keys) if change.keys else None)
        # As a worker posts them from the cache: one batch per file, faster than they land.
        for key, diagnosis in found.items():
            app.main.scanner.post_message(Scanner.Diagnosed([(key, diagnosis)]))
        await pilot.pause()
        assert changes == [frozenset(found)]
        assert all(row.diagnosis == found[key] for key, row in model.rows.items())
        again = next(iter(found))  # after new runs a diagnosis is replaced, in the order it came
        app.main.scanner.post_message(Scanner.Diagnosed([(again, found[again])], again=True))
        await pilot.pause()
        assert changes == [frozenset(found)]  # the same diagnosis again changes nothing


@run_async
async def test_f_lists_the_repository_findings(make_repo: MakeRepo) -> None:
    project = {**PROJECT, "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "--reruns 2"\n'}
    app = FlakeTUIApp(Service(make_repo(project)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "1 repository finding (f)" in str(app.main.query_one("#notice").render())
        await pilot.press("f")
        # The dialog composes after the key is handled: under load its body can come later.
        await wait_for(pilot, lambda: bool(app.screen.query("#dialog-body Static")))
        assert isinstance(app.screen, FindingsScreen)
        assert "pyproject.toml" in str(app.screen.query_one("#dialog-body Static").render())
        await pilot.press("escape")
        assert app.screen is app.main


@run_async
async def test_e_says_why_it_cannot_open_an_editor(make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.main.unavailable_reason("edit") == "neither $VISUAL nor $EDITOR is set"
        monkeypatch.setenv("EDITOR", "vi")
        await pilot.press("e")  # a headless terminal cannot be suspended: a dialog, not a crash
        await pilot.pause()  # the key posts a message the screen handles
        assert isinstance(app.screen, MessageDialog)
        assert "tests/test_counter.py:" in app.screen.hint


@run_async
async def test_keys_are_remapped_by_binding_id(make_repo: MakeRepo) -> None:
    app = FlakeTUIApp(Service(make_repo(PROJECT)), keymap={"pick-category": "w"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("w")
        assert isinstance(app.screen, CategoryPicker)
        await pilot.press("escape", "question_mark")
        assert ("w", "Category", "Pick a category, ranked by the diagnosis") in app.screen.lines


def test_the_keymap_file_is_read_and_a_broken_one_says_how_to_fix_it(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('verify = "w"\ncommit = "ctrl+o"\n')
    assert load_keymap(keys) == {"verify": "w", "commit": "ctrl+o"}
    keys.write_text("verify = \n")
    with pytest.raises(FlakeTUIError) as raised:
        load_keymap(keys)
    assert "binding-id" in raised.value.hint
    assert load_keymap(tmp_path / "missing.toml") == {}


@run_async
async def test_R_rescans_and_finds_a_new_marker(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "3")
        await settle(pilot)
        (root / "tests/test_new.py").write_text("import pytest\n\n\n@pytest.mark.flaky(reruns=1)\ndef test_new():\n    pass\n")
        await pilot.press("R")
        await settle(pilot)
        assert "tests/test_new.py::test_new" in nodeids(app)
        assert app.main.selected.test.name == "test_always_passes"  # the selection survives
        assert app.main.selected.confirmed is Category.TIME


@run_async
async def test_a_filter_leaves_the_header_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The header counts every row, shown or not: recounting them on each refill of a large
    # table cost a tenth of the refill for the same line.
    counted: list[int] = []
    original = TriageModel.counts

    def counts(model: TriageModel) -> tuple[dict[RowState, int], dict[Category, int]]:
        counted.append(1)
        return original(model)

    monkeypatch.setattr(TriageModel, "counts", counts)
    app = FlakeTUIApp(Service(write_demo(tmp_path / "taskq")))
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        header = str(app.main.query_one("#header").render())
        before = len(counted)
        await pilot.press("slash", *"cat:time")
        await settle(pilot)
        assert 0 < len(app.main.model.shown) < len(app.main.model.rows)
        assert len(counted) == before
        assert str(app.main.query_one("#header").render()) == header
