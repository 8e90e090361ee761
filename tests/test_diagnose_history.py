"""Evidence from a test's history: the commits that changed its lines after it was written (a fix
that landed while the marker stayed), never the commit that wrote it, and nothing that HEAD's
line numbers no longer describe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.diagnose.history import history_evidence
from flaketui.models import Category, LineChange
from flaketui.service import Service
from tests._diagnose_helpers import make_test, source
from tests.conftest import MakeRepo, git

WALL_CLOCK = source(
    """
    from datetime import datetime

    import pytest


    @pytest.mark.flaky(reruns=2)
    def test_eta():
        assert datetime.now().minute >= 0


    @pytest.mark.flaky(reruns=2)
    def test_neighbour():
        assert 1 + 1 == 2
    """
)

FIXED = WALL_CLOCK.replace("    assert datetime.now().minute >= 0\n", "    now = datetime(2025, 1, 1, 12, 0)\n    assert now.minute == 0\n")


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def service_diagnosis(root: Path, name: str):  # -> Diagnosis
    service = Service(root)
    [test] = [t for t in service.scan().tests if t.name == name]
    return service.diagnose(test)


def test_a_later_commit_that_names_the_cause_is_evidence_and_the_creating_one_is_not(make_repo: MakeRepo) -> None:
    # The commit that wrote the tests says "threads": that describes the feature, not a flake.
    root = make_repo({"tests/test_eta.py": WALL_CLOCK, "tests/__init__.py": ""}, commit=False)
    commit_all(root, "Schedule with worker threads")
    (root / "tests/test_eta.py").write_text(FIXED)
    commit_all(root, "Test the ETA with a fixed clock instead of the wall clock")

    fixed = service_diagnosis(root, "test_eta")
    [history] = [e for e in fixed.evidence if e.source == "history"]
    assert fixed.suggestion.category is Category.TIME
    assert history.category is Category.TIME and "fixed clock instead of the wall clock" in history.message
    assert history.path == "tests/test_eta.py"
    # The fix is in already: there is no line left to change.
    assert fixed.fix_at is None
    # Its neighbour's lines were not touched by the fix: only the creating commit, which is no evidence.
    neighbour = service_diagnosis(root, "test_neighbour")
    assert not [e for e in neighbour.evidence if e.source == "history"]
    assert neighbour.suggestion.category is Category.UNKNOWN


def test_uncommitted_edits_leave_the_history_out(make_repo: MakeRepo) -> None:
    root = make_repo({"tests/test_eta.py": WALL_CLOCK}, commit=False)
    commit_all(root, "Add the ETA test")
    (root / "tests/test_eta.py").write_text(FIXED)
    commit_all(root, "Test the ETA with a fixed clock instead of the wall clock")
    # An edit moves the lines: HEAD's history no longer says which commit changed which test.
    (root / "tests/test_eta.py").write_text("# moved\n" + FIXED)
    assert not [e for e in service_diagnosis(root, "test_eta").evidence if e.source == "history"]


def test_explain_json_and_text_show_the_history_apart(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_eta.py": WALL_CLOCK}, commit=False)
    commit_all(root, "Add the ETA test")
    (root / "tests/test_eta.py").write_text(FIXED)
    commit_all(root, "Test the ETA with a fixed clock instead of the wall clock")
    assert main(["-C", str(root), "explain", "tests/test_eta.py::test_eta", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["suggestion"]["category"] == "time"
    assert [e["source"] for e in payload["evidence"] if e["rule"] == "history.later-change"] == ["history"]
    assert main(["-C", str(root), "explain", "tests/test_eta.py::test_eta"]) == 0
    assert "Evidence from the test's history" in capsys.readouterr().out


def test_scan_json_answers_again_after_a_new_commit(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_eta.py": WALL_CLOCK}, commit=False)
    commit_all(root, "Add the ETA test")
    assert main(["-C", str(root), "scan", "--json"]) == 0
    capsys.readouterr()
    # Same tree, one commit more (an empty fix commit would be odd; a message-only change is not):
    # the answer must not come from the cache of the old HEAD.
    (root / "tests/test_eta.py").write_text(FIXED)
    commit_all(root, "Test the ETA with a fixed clock instead of the wall clock")
    assert main(["-C", str(root), "scan", "--json"]) == 0
    capsys.readouterr()
    git(root, "commit", "-q", "--amend", "-m", "Pin the ETA test's clock: it failed near midnight")
    assert main(["-C", str(root), "scan", "--json"]) == 0
    tests = {t["nodeid"]: t for t in json.loads(capsys.readouterr().out)["tests"]}
    messages = [e["message"] for e in tests["tests/test_eta.py::test_eta"]["evidence"] if e["rule"] == "history.later-change"]
    assert messages and all("midnight" in m for m in messages)


# Commit messages and what they say (some speak of markers: kept out of the decorator, where a
# reader looking for flaky markers in our own tests would take them for one).
COMMIT_MESSAGES = [
    pytest.param("Webhook tests: answer 503 instead of assuming port 8799 is free", "", {Category.EXTERNAL}, id="port"),
    pytest.param("Settings tests: set the environment with monkeypatch", "", {Category.FIXTURE}, id="monkeypatch"),
    pytest.param("Queue: join() returns before in-flight jobs finish; tests use wait_idle()", "", {Category.RACE},
                 id="in-flight"),
    pytest.param("Implement wait_for with asyncio.timeout()", "", set(), id="not-about-tests-or-a-fix"),
    pytest.param("Tests: tidy imports", "Fixes the race in the upload test and the timezone of the report",
                 set(), id="a-body-mentions-everything"),
    pytest.param("Remove the flaky marker", "Flaky-Category: order\nFlaky-Verification: 10/10", {Category.ORDER},
                 id="flaketui-trailer"),
    pytest.param("Rename the helpers", "", set(), id="refactor-names-no-cause"),
    pytest.param("Not a race: rename the counter", "", set(), id="negated"),
    pytest.param("Replace the flaky.flaky decorator with a pytest fixture", "", set(), id="marker-spelling-only"),
    pytest.param("Mark the timeout test as flaky", "", set(), id="marking-it-flaky-names-no-cause"),
    pytest.param("Reduce the timeout in the upload test", "", set(), id="making-a-test-faster-names-no-cause"),
    pytest.param("git subrepo clone --branch=fix-paths https://github.com/someone/remote-tools.git vendor/tools",
                 "", set(), id="an-address-names-no-cause"),
]


@pytest.mark.parametrize(("subject", "body", "expected"), COMMIT_MESSAGES)
def test_which_commit_messages_name_a_cause(subject: str, body: str, expected: set[Category]) -> None:
    test = make_test("tests/test_x.py", "test_it")
    found = history_evidence(test, [LineChange("a" * 40, subject, body)])
    assert {e.category for e in found} == expected
    assert all(e.source == "history" and e.weight > 0 for e in found)


def test_sweeps_and_disagreeing_commits_say_nothing() -> None:
    test = make_test("tests/test_x.py", "test_it")
    sweep = LineChange("b" * 40, "Unit tests use a random port for the dashboard", files=37)
    assert history_evidence(test, [sweep]) == []
    clock = LineChange("c" * 40, "Test the report with a fixed clock")
    port = LineChange("d" * 40, "Tests: avoid a fixed port")
    assert history_evidence(test, [clock, port]) == []
    assert {e.category for e in history_evidence(test, [clock])} == {Category.TIME}
