"""Snapshot tests: the app's screens as SVGs (pytest-textual-snapshot).

Everything on screen is deterministic: fixed terminal size, repositories named by the
test (no temp paths), commit dates pinned so shas repeat, notifications cleared. With
``--snapshot-update`` the accepted SVGs are also copied to ``screenshots/`` for the README.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from flaketui.demo import write_demo
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from tests._tui_helpers import BLOCKING, PROJECT, settle, wait_for
from tests.conftest import git, write_files

SIZE = (160, 45)
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture(autouse=True)
def _pinned_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(variable, "2026-01-01T12:00:00+00:00")


@pytest.fixture
def publish(request: pytest.FixtureRequest) -> Callable[[Pilot, str], None]:
    """With ``--snapshot-update``, save the screen being snapshotted as screenshots/NAME.svg."""

    def save(pilot: Pilot, name: str) -> None:
        if request.config.getoption("--snapshot-update", default=False):
            SCREENSHOTS.mkdir(exist_ok=True)
            pilot.app.save_screenshot(f"{name}.svg", str(SCREENSHOTS))

    return save


def repo(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    root = tmp_path / name
    root.mkdir()
    write_files(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


async def _settled(pilot: Pilot) -> None:
    await settle(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_main_screen_on_the_demo_repository(snap_compare, tmp_path: Path, publish) -> None:
    root = write_demo(tmp_path / "taskq")

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("j")  # an async test: the sleep line is highlighted with its note
        await _settled(pilot)
        publish(pilot, "main")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 35), (200, 50)], ids=["80x24", "120x35", "200x50"])
def test_the_demo_at_any_width(snap_compare, tmp_path: Path, publish, size: tuple[int, int]) -> None:
    """lazygit and k9s stay usable at 80x24: so does the main screen, at every size."""
    root = write_demo(tmp_path / "taskq")

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("j")
        await _settled(pilot)
        publish(pilot, f"main-{size[0]}x{size[1]}")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=size, run_before=run_before)


def test_fix_proposal_on_the_demo_repository(snap_compare, tmp_path: Path, publish) -> None:
    root = write_demo(tmp_path / "taskq")

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("j", "j", "p")  # the set-order test: the fix sorts in the project's code
        await _settled(pilot)
        publish(pilot, "proposal")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=SIZE, run_before=run_before)


def test_commit_modal(snap_compare, tmp_path: Path, publish) -> None:
    root = repo(tmp_path, "shop", PROJECT)

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("j", "4", "c")  # the stable test, category external, verify and commit
        await _settled(pilot)
        publish(pilot, "commit")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, tmp_path: Path, publish) -> None:
    root = repo(tmp_path, "shop", PROJECT)

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await _settled(pilot)
        publish(pilot, "help")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=SIZE, run_before=run_before)


def test_verification_in_progress(snap_compare, tmp_path: Path, publish) -> None:
    root = repo(tmp_path, "shop", {**PROJECT, **BLOCKING})
    running = root / "tests" / "running.txt"

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("v")  # the blocking test is first: run 1 passes, run 2 hangs
        await wait_for(pilot, lambda: running.exists() and running.read_text().isdigit())
        await wait_for(pilot, lambda: pilot.app.main.model.rows[(".", "tests/test_blocking.py::test_blocks_on_second_run")]
                       .verification_text().startswith("1/10"))
        await pilot.press("l", "l")  # the Runs tab
        pilot.app.clear_notifications()
        await pilot.pause()
        publish(pilot, "verifying")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=SIZE, run_before=run_before)


def test_empty_state(snap_compare, tmp_path: Path, publish) -> None:
    root = repo(tmp_path, "clean", {"tests/test_fine.py": "def test_fine():\n    assert True\n"})

    async def run_before(pilot: Pilot) -> None:
        await _settled(pilot)
        publish(pilot, "empty")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=SIZE, run_before=run_before)


def test_candidates_from_ci_history(snap_compare, tmp_path: Path, publish) -> None:
    """Unmarked tests CI history shows flaky, in the table beside the marked ones, with a source column."""
    from tests.test_ci_import import REPORTS

    root = repo(tmp_path, "shop", {**PROJECT, "tests/test_api.py": (
        "class TestLogin:\n    def test_ok(self):\n        pass\n\n\ndef test_flips():\n    pass\n")})
    Service(root).import_junit([REPORTS / "xunit1.xml", REPORTS / "rerun_interim.xml"])

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("j", "l")  # the second candidate, its Evidence tab
        await _settled(pilot)
        publish(pilot, "candidates")

    assert snap_compare(FlakeTUIApp(Service(root)), terminal_size=(120, 35), run_before=run_before)
