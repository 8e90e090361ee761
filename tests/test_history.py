"""``flaketui history NODEID``: decisions from .flaketui.toml, verifications from SQLite."""

from __future__ import annotations

import pytest

from flaketui.cli import main
from flaketui.models import Category, CommitRecord, DecidedBy, Keep, VerifyMode
from flaketui.service import Service
from tests._record_helpers import flaky, verification
from tests.conftest import MakeRepo


def test_history_prints_decisions_verifications_and_commits(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"README": "x\n"})
    service = Service(root)
    test = flaky("tests/test_ws.py::test_reconnect")
    service.set_category(test, Category.ASYNC, DecidedBy.SUGGESTION)
    service.set_note(test, "server start is slow")
    service.keep_marker(test, Keep("until the server has a ready event", "2027-02-01"))
    service.record.add_verification(verification(test.nodeid, 7, 10, started_at="2026-11-24T10:00:00+00:00"))
    service.record.add_verification(
        verification(test.nodeid, 10, 10, mode=VerifyMode.FRESH_PROCESS, started_at="2026-11-24T11:00:00+00:00")
    )
    service.record.add_commit(CommitRecord("0123456789abcdef", test.nodeid, "test: remove flaky marker\n\nbody"))

    assert main(["-C", str(root), "history", test.nodeid]) == 0
    assert capsys.readouterr().out == (
        "tests/test_ws.py::test_reconnect\n"
        "  category: async (decided by suggestion)\n"
        "  note: server start is slow\n"
        "  kept on purpose until 2027-02-01: until the server has a ready event\n"
        "  verifications:\n"
        "    2026-11-24T10:00:00+00:00  7/10  forked  flaky  no HEAD\n"
        "    2026-11-24T11:00:00+00:00  10/10  fresh-process  stable  no HEAD\n"
        "  commit 0123456789ab (fix): test: remove flaky marker\n"
    )


def test_history_of_a_renamed_test_shows_where_it_was_recorded(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"README": "x\n"})
    Service(root).record.add_verification(verification("tests/test_ws.py::TestOld::test_reconnect", 3, 3))
    assert main(["-C", str(root), "history", "tests/test_ws.py::TestNew::test_reconnect"]) == 0
    out = capsys.readouterr().out
    assert "3/3  forked  stable  no HEAD  (as tests/test_ws.py::TestOld::test_reconnect)" in out


def test_history_of_an_unknown_test_says_nothing_is_recorded(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"README": "x\n"})
    assert main(["-C", str(root), "history", "tests/test_x.py::test_y"]) == 0
    assert capsys.readouterr().out == "Nothing recorded for tests/test_x.py::test_y.\n"


def test_history_reports_a_corrupt_database_with_what_to_do(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"README": "x\n"})
    database = Service(root).state_dir() / "history.sqlite3"
    database.write_bytes(b"garbage" * 1000)
    assert main(["-C", str(root), "history", "tests/test_x.py::test_y"]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and "Move it aside" in err
    assert database.read_bytes() == b"garbage" * 1000
