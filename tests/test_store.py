"""The private history: real SQLite files in tmp_path, real processes writing at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flaketui.errors import FlakeTUIError
from flaketui.models import CommitRecord, RunOutcome, RunResult, Verdict, Verification, VerifyMode
from flaketui import store as store_module
from flaketui.service import Service
from flaketui.store import FILENAME, MIGRATIONS, SCHEMA_VERSION, Store, split_nodeid
from tests.conftest import MakeRepo, git

ROOT = Path(__file__).resolve().parents[1]


def make_verification(
    nodeid: str = "tests/test_a.py::test_x",
    *,
    outcomes: tuple[RunOutcome, ...] = (RunOutcome.PASSED, RunOutcome.FAILED, RunOutcome.PASSED),
    rootdir: str = ".",
    mode: VerifyMode = VerifyMode.FORKED,
    started_at: str = "2026-11-24T09:00:00+00:00",
) -> Verification:
    results = tuple(
        RunResult(nodeid, i, outcome, duration=0.5 + i, message="boom" if outcome is RunOutcome.FAILED else "", seed=i)
        for i, outcome in enumerate(outcomes)
    )
    verdict = Verdict.STABLE if all(o is RunOutcome.PASSED for o in outcomes) else Verdict.FLAKY
    return Verification(
        nodeid=nodeid,
        rootdir=rootdir,
        mode=mode,
        runs_requested=len(outcomes),
        results=results,
        verdict=verdict,
        command=f"python -m pytest {nodeid}",
        head="a" * 40,
        tree_fingerprint="0123456789abcdef",
        python="3.11.9",
        started_at=started_at,
        note="",
        dirty_paths=("tests/test_a.py", "src/ünïcode.py"),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / FILENAME)


def test_a_verification_round_trips_with_every_field(store: Store) -> None:
    original = make_verification()
    store.add_verification(original)
    assert store.verifications() == [original]


def test_latest_verification_per_test(store: Store) -> None:
    first = make_verification(outcomes=(RunOutcome.FAILED,))
    second = make_verification(outcomes=(RunOutcome.PASSED, RunOutcome.PASSED))
    other = make_verification("tests/test_b.py::test_y", rootdir="sub")
    for v in (first, other, second):
        store.add_verification(v)
    assert store.latest_verifications() == {
        (".", "tests/test_a.py::test_x"): second,
        ("sub", "tests/test_b.py::test_y"): other,
    }


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        pytest.param("tests/a.py::test_x", ("tests/a.py", "test_x"), id="function"),
        pytest.param("tests/a.py::TestC::test_x", ("tests/a.py", "test_x"), id="method"),
        pytest.param("tests/a.py::test_x[1-a::b]", ("tests/a.py", "test_x"), id="param-with-colons"),
        pytest.param("tests/a.py", ("tests/a.py", ""), id="module"),
    ],
)
def test_split_nodeid(nodeid: str, expected: tuple[str, str]) -> None:
    assert split_nodeid(nodeid) == expected


def test_history_follows_a_renamed_class_and_a_moved_file(store: Store) -> None:
    old = make_verification("tests/test_net.py::TestOld::test_fetch")
    store.add_verification(old)
    assert store.history("tests/test_net.py::TestNew::test_fetch") == [old]
    assert store.history("tests/net/test_net.py::test_fetch") == [old]
    assert store.history("tests/test_other.py::test_fetch") == []
    assert store.history("tests/test_net.py::test_something_else") == []


def test_history_prefers_the_exact_node_id(store: Store) -> None:
    old = make_verification("tests/test_net.py::TestOld::test_fetch")
    new = make_verification("tests/test_net.py::TestNew::test_fetch")
    store.add_verification(old)
    store.add_verification(new)
    assert store.history("tests/test_net.py::TestNew::test_fetch") == [new]


def test_like_wildcards_in_file_names_are_literal(store: Store) -> None:
    store.add_verification(make_verification("tests/xx/test_aXb.py::test_fetch"))
    assert store.history("tests/test_a_b.py::test_fetch") == []


def test_commits_and_cache_round_trip(store: Store) -> None:
    fix = CommitRecord("abc123", "tests/test_a.py::test_x", "Fix flaky test_x", files=("tests/test_a.py",))
    undo = CommitRecord("def456", "tests/test_a.py::test_x", "Undo", kind="undo", undoes="abc123")
    store.add_commit(fix)
    store.add_commit(undo)
    assert store.commits() == [fix, undo]
    assert store.cache_get("diagnosis", "k") is None
    store.cache_put("diagnosis", "k", '{"a": 1}')
    store.cache_put("diagnosis", "k", '{"a": 2}')
    assert store.cache_get("diagnosis", "k") == '{"a": 2}'


def test_the_database_uses_wal_and_records_its_version(store: Store) -> None:
    store.add_verification(make_verification())
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_migrates_a_first_release_database_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO verifications (id, rootdir, nodeid, mode, runs_requested, verdict, command, head, "
        "tree_fingerprint, python, started_at, note, dirty_paths, recorded_at) VALUES "
        "(1, '.', 'tests/test_old.py::TestA::test_x', 'forked', 2, 'flaky', 'cmd', NULL, NULL, '3.11', "
        "'2026-01-01T00:00:00+00:00', '', '[]', '2026-01-01T00:00:00+00:00')"
    )
    conn.executemany(
        "INSERT INTO runs VALUES (1, ?, ?, 0.1, '', NULL)", [(0, "passed"), (1, "failed")]
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    store = Store(path)
    (migrated,) = store.history("tests/test_old.py::TestRenamed::test_x")
    assert migrated.nodeid == "tests/test_old.py::TestA::test_x"
    assert [r.outcome for r in migrated.results] == [RunOutcome.PASSED, RunOutcome.FAILED]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT test_file, test_function, runs, passed FROM verifications").fetchall() == [
            ("tests/test_old.py", "test_x", 2, 1)
        ]
    finally:
        conn.close()


def test_a_corrupt_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    garbage = b"this is not sqlite\x00" * 300
    path.write_bytes(garbage)
    with pytest.raises(FlakeTUIError) as caught:
        Store(path).add_verification(make_verification())
    assert "cannot be read" in caught.value.message
    assert "Move it aside" in caught.value.hint
    assert path.read_bytes() == garbage


def test_a_newer_schema_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(FlakeTUIError) as caught:
        Store(path).verifications()
    assert f"schema version {SCHEMA_VERSION + 1}" in caught.value.message
    assert "upgrade flaketui" in caught.value.hint
    assert path.read_bytes() == before


WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from tests.test_store import make_verification
from flaketui.store import Store
store = Store(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    store.add_verification(make_verification(f"tests/test_{sys.argv[4]}.py::test_{i}"))
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """Both start on a fresh file, so they also race to create the schema."""
    path = tmp_path / FILENAME
    count = 60
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(count), str(ROOT), name], stderr=subprocess.PIPE)
        for name in ("left", "right")
    ]
    errors = [w.communicate()[1].decode() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    found = Store(path).verifications()
    assert len(found) == 2 * count
    assert {v.nodeid for v in found} == {f"tests/test_{n}.py::test_{i}" for n in ("left", "right") for i in range(count)}
    assert all(len(v.results) == 3 for v in found)


def test_threads_sharing_one_service_lose_nothing(make_repo: MakeRepo) -> None:
    service = Service(make_repo({"README": "x\n"}))

    def record(name: str) -> None:
        for i in range(15):
            service.record.add_verification(make_verification(f"tests/test_{name}.py::test_{i}"))

    threads = [threading.Thread(target=record, args=(name,)) for name in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(service.last_verifications()) == 60


def test_service_keeps_history_in_the_common_git_dir_shared_by_worktrees(make_repo: MakeRepo) -> None:
    root = make_repo({"README": "x\n"})
    worktree = root.parent / f"{root.name}-wt"
    git(root, "worktree", "add", "-q", str(worktree))
    main, other = Service(root), Service(worktree)
    verification = make_verification()
    main.record.add_verification(verification)
    assert other.history(verification.nodeid) == [verification]
    assert (root / ".git" / "flaketui" / FILENAME).is_file()
    assert git(root, "status", "--porcelain") == ""
    record = CommitRecord("abc", verification.nodeid, "msg")
    other.record.add_commit(record)
    assert main.commits() == [record]


def test_a_vanished_test_stays_in_the_history(make_repo: MakeRepo) -> None:
    root = make_repo({"tests/test_gone.py": "def test_x():\n    pass\n"})
    service = Service(root)
    verification = make_verification("tests/test_gone.py::test_x")
    service.record.add_verification(verification)
    git(root, "rm", "-q", "tests/test_gone.py")
    git(root, "commit", "-q", "-m", "remove")
    assert service.history("tests/test_gone.py::test_x") == [verification]


def test_a_run_of_another_node_keeps_its_own_node_id(store: Store) -> None:
    """Random-order runs execute the test among its neighbours."""
    base = make_verification("tests/test_a.py::test_x", outcomes=(RunOutcome.PASSED,))
    neighbour = RunResult("tests/test_a.py::test_neighbour", 1, RunOutcome.FAILED, 0.1, "polluted", 7)
    original = Verification(**{**base.__dict__, "results": (*base.results, neighbour)})
    store.add_verification(original)
    assert store.verifications() == [original]


def test_history_accepts_a_node_id_from_the_repository_root(store: Store) -> None:
    nested = make_verification("tests/test_a.py::test_x", rootdir="backend")
    store.add_verification(nested)
    store.add_verification(make_verification("tests/test_a.py::test_x", rootdir="frontend"))
    assert store.history("backend/tests/test_a.py::test_x") == [nested]



def test_a_database_that_cannot_be_opened_is_reported_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the directory should be")
    with pytest.raises(FlakeTUIError) as caught:
        Store(tmp_path / "state" / FILENAME).add_verification(make_verification())
    assert "Cannot open the history database" in caught.value.message
    assert "writable" in caught.value.hint


def test_rows_a_newer_flaketui_wrote_with_unknown_values_are_skipped(store: Store) -> None:
    known = make_verification("tests/test_a.py::test_known")
    store.add_verification(make_verification("tests/test_a.py::test_future"))
    store.add_verification(known)
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE verifications SET mode = 'teleported' WHERE nodeid = 'tests/test_a.py::test_future'")
    conn.commit()
    conn.close()
    assert store.verifications() == [known]


def test_a_lock_refused_while_preparing_the_file_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite refuses some locks at once (where waiting could deadlock): preparing a fresh
    file that another process holds tries again once that process is done."""
    path = tmp_path / FILENAME
    other = sqlite3.connect(path, isolation_level=None)
    # Another process in the middle of its own migration: the switch to WAL needs the file alone.
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE being_migrated (x)")
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")  # ...which it finishes while this one waits

    monkeypatch.setattr(store_module, "_pause", pause)
    store = Store(path, busy_timeout=0.0)  # a refusal at once, as in the deadlock case
    store.add_verification(make_verification("tests/test_a.py::test_x"))
    other.close()
    assert pauses == [0.05]
    assert [v.nodeid for v in Store(path).verifications()] == ["tests/test_a.py::test_x"]


def test_a_file_locked_for_good_still_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / FILENAME
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE being_migrated (x)")
    monkeypatch.setattr(store_module, "LOCK_WAIT", 0.0)  # no time left to try again
    with pytest.raises(FlakeTUIError) as caught:
        Store(path, busy_timeout=0.0).verifications()
    other.close()
    assert "stayed locked" in caught.value.message
    assert "Another flaketui is writing to it" in caught.value.hint
