"""Private history in SQLite: every verification, flaketui's commits, and small caches.

The only module that opens SQLite. The file lives in ``<git common dir>/flaketui/`` so
worktrees share it. Every call opens its own connection and closes it before returning:
the app calls the service from worker threads, and two flaketui processes may write at
once, so WAL mode, a busy timeout and short ``BEGIN IMMEDIATE`` transactions keep every
write. A database that is corrupt or was written by a newer flaketui is reported, never
replaced: it is the user's history.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flaketui.errors import FlakeTUIError
from flaketui.models import CommitRecord, RunOutcome, RunResult, TestKey, Verdict, Verification, VerifyMode
from flaketui.settings import HISTORY_FILE

FILENAME = HISTORY_FILE
#: Seconds a store waits for another process's lock before it says the file stayed locked;
#: ``_pause`` waits between attempts to prepare the file (a name, so a test can step in).
LOCK_WAIT, _pause = 30.0, time.sleep

#: Each entry upgrades the schema by one version; ``PRAGMA user_version`` says how many ran.
#: Append only: a released migration is never edited, since databases already passed it.
MIGRATIONS: tuple[str, ...] = (
    # 1: verifications and their runs.
    """
    CREATE TABLE verifications (
        id INTEGER PRIMARY KEY,
        rootdir TEXT NOT NULL,
        nodeid TEXT NOT NULL,
        mode TEXT NOT NULL,
        runs_requested INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        command TEXT NOT NULL,
        head TEXT,
        tree_fingerprint TEXT,
        python TEXT NOT NULL,
        started_at TEXT NOT NULL,
        note TEXT NOT NULL,
        dirty_paths TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX verifications_by_test ON verifications (rootdir, nodeid);
    CREATE TABLE runs (
        verification_id INTEGER NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        duration REAL NOT NULL,
        message TEXT NOT NULL,
        seed INTEGER,
        PRIMARY KEY (verification_id, idx)
    );
    """,
    # 2: tallies and the test's file/function, so a renamed or moved test finds its
    # history and listings need not read every run.
    """
    ALTER TABLE verifications ADD COLUMN test_file TEXT NOT NULL DEFAULT '';
    ALTER TABLE verifications ADD COLUMN test_function TEXT NOT NULL DEFAULT '';
    ALTER TABLE verifications ADD COLUMN runs INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE verifications ADD COLUMN passed INTEGER NOT NULL DEFAULT 0;
    UPDATE verifications SET
        runs = (SELECT count(*) FROM runs WHERE verification_id = verifications.id),
        passed = (SELECT count(*) FROM runs WHERE verification_id = verifications.id AND outcome = 'passed');
    CREATE INDEX verifications_by_function ON verifications (test_function);
    """,
    # 3: the commits flaketui made, and a key/value cache (diagnoses by content hash...).
    """
    CREATE TABLE commits (
        sha TEXT PRIMARY KEY,
        nodeid TEXT NOT NULL,
        message TEXT NOT NULL,
        kind TEXT NOT NULL,
        undoes TEXT,
        files TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE cache (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    """,
    # 4: a run's own node id when it differs from its verification's (a random-order run
    # of the test among its neighbours); NULL means the verification's.
    """
    ALTER TABLE runs ADD COLUMN nodeid TEXT;
    """,
    # 5: CI history (JUnit reports, each once by content) and hunts: whole-suite runs, every
    # test's outcome at its position in the order that ran, and the polluters bisection confirmed.
    # Queried by store_hunts.py.
    """
    CREATE TABLE junit_reports (
        digest TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        report_time TEXT NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE junit_attempts (
        report TEXT NOT NULL REFERENCES junit_reports (digest) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        rootdir TEXT NOT NULL,
        nodeid TEXT NOT NULL,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (report, idx)
    );
    CREATE INDEX junit_attempts_by_test ON junit_attempts (rootdir, nodeid);
    CREATE TABLE hunts (
        id INTEGER PRIMARY KEY,
        rootdir TEXT NOT NULL,
        paths TEXT NOT NULL,
        pytest_args TEXT NOT NULL,
        runs_per_mode INTEGER NOT NULL,
        modes TEXT NOT NULL,
        status TEXT NOT NULL,
        notes TEXT NOT NULL,
        seconds REAL NOT NULL,
        started_at TEXT NOT NULL
    );
    CREATE TABLE hunt_runs (
        id INTEGER PRIMARY KEY,
        hunt_id INTEGER NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
        mode TEXT NOT NULL,
        seed INTEGER,
        hash_seed INTEGER NOT NULL,
        seconds REAL NOT NULL
    );
    CREATE TABLE hunt_outcomes (
        run_id INTEGER NOT NULL REFERENCES hunt_runs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        nodeid TEXT NOT NULL,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE polluters (
        rootdir TEXT NOT NULL,
        victim TEXT NOT NULL,
        polluter TEXT NOT NULL,
        runs INTEGER NOT NULL,
        hunt_id INTEGER,
        confirmed_at TEXT NOT NULL,
        PRIMARY KEY (rootdir, victim)
    );
    """,
    # 6: the project's own pytest options the runs had (--pytest-args), as a JSON list.
    """
    ALTER TABLE verifications ADD COLUMN pytest_args TEXT NOT NULL DEFAULT '[]';
    """,
    # 7: a hunt's verdicts as JSON (hunting.record_json), read back by the app, scan and the audit.
    """
    ALTER TABLE hunts ADD COLUMN results TEXT NOT NULL DEFAULT '[]';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_VERIFICATION_COLUMNS = (
    "id, rootdir, nodeid, mode, runs_requested, verdict, command, head, tree_fingerprint, "
    "python, started_at, note, dirty_paths, recorded_at, pytest_args"
)


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """``tests/a.py::TestC::test_x[1]`` -> (``tests/a.py``, ``test_x``)."""
    file, _, rest = nodeid.partition("::")
    # Parameter ids may hold "::" themselves, so drop them before splitting.
    function = rest.split("[", 1)[0].rsplit("::", 1)[-1]
    return file, function


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """The history database at ``path``. Cheap to construct; every method opens and closes."""

    def __init__(self, path: Path, *, busy_timeout: float = LOCK_WAIT) -> None:
        self.path = path
        self._ready = False
        #: How long one statement waits for a lock (SQLite's busy handler).
        self.busy_timeout = busy_timeout

    # -- connection --------------------------------------------------------------------
    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            # In WAL mode NORMAL never corrupts the file; a power cut may lose the last write.
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._ready:
                self._prepare_patiently(conn)
                self._ready = True
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from exc
        finally:
            conn.close()

    def _prepare_patiently(self, conn: sqlite3.Connection) -> None:
        """``_prepare``, again while another process holds the file (up to ``LOCK_WAIT`` s).
        Where waiting could deadlock, SQLite refuses a lock at once (the switch to WAL against
        another process's migration waiting to commit): two processes opening a fresh history
        both prepare it, and one of them got "database is locked"."""
        deadline, attempt = time.monotonic() + LOCK_WAIT, 0
        while True:
            try:
                return self._prepare(conn)
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() >= deadline:
                    raise
            attempt += 1
            _pause(min(0.05 * attempt, 0.5))

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL and migrate, once per Store; refuse files we do not understand."""
        # Read the version before anything writes: switching to WAL rewrites the header.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise self._too_new(version)
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise FlakeTUIError(
                f"Cannot use write-ahead logging on {self.path}.",
                "Keep the repository on a local disk (WAL does not work on network file systems).",
            )
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise self._too_new(version)
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
                if number == 1:
                    self._backfill_test_names(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")

    @staticmethod
    def _backfill_test_names(conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT id, nodeid FROM verifications").fetchall()
        for row_id, nodeid in rows:
            file, function = split_nodeid(nodeid)
            conn.execute(
                "UPDATE verifications SET test_file = ?, test_function = ? WHERE id = ?", (file, function, row_id)
            )

    def _too_new(self, version: int) -> FlakeTUIError:
        return FlakeTUIError(
            f"{self.path} has schema version {version}; this flaketui understands up to {SCHEMA_VERSION}.",
            "A newer flaketui wrote it: upgrade flaketui (pip install -U flaketui). The file was left untouched.",
        )

    def _unreadable(self, exc: Exception) -> FlakeTUIError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return FlakeTUIError(
                f"The history database {self.path} stayed locked: {exc}.",
                "Another flaketui is writing to it; try again when it finishes.",
            )
        if isinstance(exc, sqlite3.OperationalError) and ("unable to open" in str(exc) or "readonly" in str(exc)):
            return FlakeTUIError(
                f"Cannot open the history database {self.path}: {exc}.",
                f"Make {self.path.parent} and the files in it writable by you.",
            )
        return FlakeTUIError(
            f"The history database {self.path} cannot be read: {exc}.",
            f"It was left untouched. Move it aside (mv {self.path} {self.path}.broken) and flaketui "
            "starts a new history.",
        )

    def transaction(self, *, write: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        """A connection in one transaction (``BEGIN IMMEDIATE`` to write) for the query modules
        of the store's other tables (``store_hunts``)."""
        return self._connect(write=write)

    # -- verifications -----------------------------------------------------------------
    def add_verification(self, verification: Verification) -> int:
        file, function = split_nodeid(verification.nodeid)
        v = verification
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO verifications (rootdir, nodeid, mode, runs_requested, verdict, command, head, "
                "tree_fingerprint, python, started_at, note, dirty_paths, recorded_at, test_file, "
                "test_function, runs, passed, pytest_args) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    v.rootdir,
                    v.nodeid,
                    str(v.mode),
                    v.runs_requested,
                    str(v.verdict),
                    v.command,
                    v.head,
                    v.tree_fingerprint,
                    v.python,
                    v.started_at,
                    v.note,
                    json.dumps(list(v.dirty_paths)),
                    _now(),
                    file,
                    function,
                    v.runs,
                    v.passed,
                    json.dumps(list(v.pytest_args)),
                ),
            )
            row_id = cursor.lastrowid
            assert row_id is not None
            conn.executemany(
                "INSERT INTO runs (verification_id, idx, outcome, duration, message, seed, nodeid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (row_id, r.index, str(r.outcome), r.duration, r.message, r.seed,
                     r.nodeid if r.nodeid != v.nodeid else None)
                    for r in v.results
                ],
            )
        return row_id

    def verifications(self, *, rootdir: str | None = None, nodeid: str | None = None) -> list[Verification]:
        """Recorded verifications, oldest first, optionally for one test."""
        clauses, params = [], []
        if rootdir is not None:
            clauses.append("rootdir = ?")
            params.append(rootdir)
        if nodeid is not None:
            clauses.append("nodeid = ?")
            params.append(nodeid)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as conn:
            return self._load(conn, f"SELECT {_VERIFICATION_COLUMNS} FROM verifications {where} ORDER BY id", params)

    def latest_verifications(self) -> dict[TestKey, Verification]:
        """The newest verification per (rootdir, nodeid)."""
        with self._connect() as conn:
            found = self._load(
                conn,
                f"SELECT {_VERIFICATION_COLUMNS} FROM verifications WHERE id IN "
                "(SELECT max(id) FROM verifications GROUP BY rootdir, nodeid) ORDER BY id",
                [],
            )
        return {v.key: v for v in found}

    def history(self, nodeid: str, *, rootdir: str | None = None) -> list[Verification]:
        """A test's verifications, oldest first; if it has none under this node id (renamed
        class, moved file), those recorded under its file and function name, then under its
        function name in a file of the same name elsewhere."""
        exact = self.verifications(rootdir=rootdir, nodeid=nodeid)
        if exact:
            return exact
        if rootdir is None:
            # A node id given from the repository root: ``backend/tests/a.py::t`` for
            # ``tests/a.py::t`` under the rootdir ``backend``.
            with self._connect() as conn:
                prefixed = self._load(
                    conn,
                    f"SELECT {_VERIFICATION_COLUMNS} FROM verifications WHERE rootdir || '/' || nodeid = ? ORDER BY id",
                    [nodeid],
                )
            if prefixed:
                return prefixed
        file, function = split_nodeid(nodeid)
        if not function:
            return []
        root_clause = "AND rootdir = ?" if rootdir is not None else ""
        root_params = [rootdir] if rootdir is not None else []
        with self._connect() as conn:
            same_file = self._load(
                conn,
                f"SELECT {_VERIFICATION_COLUMNS} FROM verifications WHERE test_function = ? AND test_file = ? "
                f"{root_clause} ORDER BY id",
                [function, file, *root_params],
            )
            if same_file:
                return same_file
            basename = file.rsplit("/", 1)[-1]
            moved = self._load(
                conn,
                f"SELECT {_VERIFICATION_COLUMNS} FROM verifications WHERE test_function = ? "
                f"AND (test_file = ? OR test_file LIKE ? ESCAPE '\\') {root_clause} ORDER BY id",
                [function, basename, "%/" + _escape_like(basename), *root_params],
            )
        return moved

    def _load(self, conn: sqlite3.Connection, sql: str, params: list[str]) -> list[Verification]:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(sql, params).fetchall()
        runs: dict[int, list[sqlite3.Row]] = {row["id"]: [] for row in rows}
        ids = list(runs)
        for chunk_start in range(0, len(ids), 500):  # SQLite caps the number of parameters
            chunk = ids[chunk_start : chunk_start + 500]
            for run in conn.execute(
                f"SELECT verification_id, idx, outcome, duration, message, seed, nodeid FROM runs "
                f"WHERE verification_id IN ({', '.join('?' * len(chunk))}) ORDER BY verification_id, idx",
                chunk,
            ):
                runs[run["verification_id"]].append(run)
        result = []
        for row in rows:
            try:
                result.append(_verification(row, runs[row["id"]]))
            except ValueError:
                continue  # a mode or outcome a newer flaketui added: not ours to show
        return result

    # -- commits -----------------------------------------------------------------------
    def add_commit(self, record: CommitRecord) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO commits (sha, nodeid, message, kind, undoes, files, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.sha, record.nodeid, record.message, record.kind, record.undoes,
                 json.dumps(list(record.files)), _now()),
            )  # fmt: skip

    def commits(self) -> list[CommitRecord]:
        """flaketui's commits, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT sha, nodeid, message, kind, undoes, files FROM commits ORDER BY rowid"
            ).fetchall()
        return [CommitRecord(sha, nodeid, message, kind, undoes, tuple(json.loads(files)))
                for sha, nodeid, message, kind, undoes, files in rows]  # fmt: skip

    # -- cache ---------------------------------------------------------------------------
    def cache_get(self, namespace: str, key: str) -> str | None:
        """A cached value (a diagnosis by content hash, ...), or None."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM cache WHERE namespace = ? AND key = ?", (namespace, key)).fetchone()
        return row[0] if row else None

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cache (namespace, key, value) VALUES (?, ?, ?)", (namespace, key, value)
            )


def _verification(row: sqlite3.Row, runs: list[sqlite3.Row]) -> Verification:
    nodeid = row["nodeid"]
    return Verification(
        nodeid=nodeid,
        rootdir=row["rootdir"],
        mode=VerifyMode(row["mode"]),
        runs_requested=row["runs_requested"],
        results=tuple(
            RunResult(r["nodeid"] or nodeid, r["idx"], RunOutcome(r["outcome"]), r["duration"], r["message"], r["seed"])
            for r in runs
        ),
        verdict=Verdict(row["verdict"]),
        command=row["command"],
        head=row["head"],
        tree_fingerprint=row["tree_fingerprint"],
        python=row["python"],
        started_at=row["started_at"] or row["recorded_at"],
        note=row["note"],
        dirty_paths=tuple(json.loads(row["dirty_paths"])),
        pytest_args=tuple(json.loads(row["pytest_args"])),
    )


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite ends some on its own errors)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _statements(script: str) -> list[str]:
    """Split a migration into statements; ``executescript`` would commit our transaction."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
