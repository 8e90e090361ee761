"""Pilot tests of the Fix tab: p shows the proposal as a diff, w proves it and opens the commit
dialog, z undoes it as any marker removal. The real app, service, pytest runs and git."""

from __future__ import annotations

from pathlib import Path

from flaketui import vcs
from flaketui.service import Service
from flaketui.tui.app import FlakeTUIApp
from flaketui.tui.modals import CommitDialog
from flaketui.tui.widgets.proposal import ProposalView
from tests._tui_helpers import run_async, settle, wait_for
from tests.conftest import MakeRepo

SIZE = (150, 45)
TEST_FILE = "tests/test_box.py"


def _project(counter: Path) -> dict[str, str]:
    """A worker thread that is slow on every other run (a counter file outside the repository)
    while the test sleeps a fixed time instead of joining it."""
    return {
        "tests/conftest.py": (
            "import pathlib\n\nimport pytest\n\n\n@pytest.fixture\ndef run_number():\n"
            f"    path = pathlib.Path({str(counter)!r})\n"
            "    runs = int(path.read_text()) if path.exists() else 0\n"
            "    path.write_text(str(runs + 1))\n"
            "    return runs\n"
        ),
        TEST_FILE: (
            "import threading\nimport time\n\nimport pytest\n\n\n"
            "@pytest.mark.flaky(reruns=2)\n"
            "def test_worker_fills_the_box(run_number):\n"
            "    box = []\n"
            "    delay = 0.3 if run_number % 2 else 0.0\n"
            "    worker = threading.Thread(target=lambda: (time.sleep(delay), box.append(1)))\n"
            "    worker.start()\n"
            "    time.sleep(0.05)\n"
            "    assert box == [1]\n"
        ),
    }


@run_async
async def test_p_shows_the_fix_and_w_proves_and_commits_it(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo(_project(tmp_path / "counter"))
    head = vcs.head(root)
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        view = app.main.query_one(ProposalView)
        assert "1/1  Wait for the event, not a fixed time" in view.text
        assert "-    time.sleep(0.05)\n+    worker.join(timeout=10)" in view.text
        assert vcs.status(root) == {}  # showing a proposal changes nothing
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, CommitDialog))
        assert "before: 10 of 20 runs failed; after: 0 of 10; fixed at 95% (forked)" in app.screen.plan.message
        assert "before: 20 runs of the unfixed test" in view.text and "10 of 20 failed" in view.text
        await pilot.press("enter")
        await settle(pilot)
        assert vcs.head(root) != head and vcs.status(root) == {}
        committed = vcs.show_file(root, "HEAD", TEST_FILE) or b""
        assert b"worker.join(timeout=10)" in committed and b"flaky" not in committed
        assert "Committed" in view.text
        await pilot.press("z")
        await settle(pilot)
        restored = vcs.show_file(root, "HEAD", TEST_FILE) or b""
        assert b"@pytest.mark.flaky(reruns=2)" in restored and b"worker.join(timeout=10)" in restored


@run_async
async def test_declining_the_commit_puts_every_byte_back(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo(_project(tmp_path / "counter"))
    before = (root / TEST_FILE).read_bytes()
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, CommitDialog))
        await pilot.press("escape")
        await settle(pilot)
        assert (root / TEST_FILE).read_bytes() == before and vcs.status(root) == {}
        assert "Nothing was committed" in app.main.query_one(ProposalView).text


@run_async
async def test_w_on_a_test_nobody_marked_commits_just_the_fix(make_repo: MakeRepo, tmp_path: Path) -> None:
    from flaketui.tui.widgets.test_table import TestTable
    from tests.test_fix_unmarked import _report

    files = _project(tmp_path / "counter")
    files[TEST_FILE] = files[TEST_FILE].replace("@pytest.mark.flaky(reruns=2)\n", "")
    root = make_repo(files)
    reports = tmp_path / "reports"
    reports.mkdir()
    service = Service(root)
    service.import_junit([_report(reports, 1, failed=True), _report(reports, 2, failed=False)])
    head = vcs.head(root)
    app = FlakeTUIApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = app.main.model.rows[(".", f"{TEST_FILE}::test_worker_fills_the_box")]
        assert row.candidate is not None
        app.main.query_one(TestTable).select(row.key)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, CommitDialog))
        assert app.screen.plan.message.startswith(f"test: fix flaky {TEST_FILE}::test_worker_fills_the_box (no marker")
        await pilot.press("enter")
        await settle(pilot)
        assert vcs.head(root) != head and vcs.status(root) == {}
        assert vcs.show_file(root, "HEAD", TEST_FILE) == files[TEST_FILE].replace(
            "    time.sleep(0.05)\n", "    worker.join(timeout=10)\n").encode()
