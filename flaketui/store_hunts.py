"""The history database's tables for CI history, hunts and confirmed polluters.

Part of the store: ``store.py`` owns the connection, the migrations (number 5 made these
tables) and the rule that nothing else opens SQLite; this module only writes and reads the
rows, through ``Store.transaction``. The diagnosis and the fix proposals read confirmed
polluters through :func:`polluters` and :func:`polluter_of`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flaketui.models.history import HuntMode, HuntRun, Polluter, SuiteOutcome, TestHistory

if TYPE_CHECKING:
    from flaketui.store import Store

#: Attempts recorded per test and report for a JUnit row: (rootdir, nodeid, outcome, message).
AttemptRow = tuple[str, str, str, str]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- CI history ------------------------------------------------------------------------


def add_junit_report(store: Store, digest: str, path: str, report_time: str, attempts: Sequence[AttemptRow]) -> bool:
    """Record one report's attempts; False (and nothing written) when a report with the same
    content was imported before, under any name."""
    with store.transaction(write=True) as conn:
        if conn.execute("SELECT 1 FROM junit_reports WHERE digest = ?", (digest,)).fetchone():
            return False
        now = _now()
        conn.execute(
            "INSERT INTO junit_reports (digest, path, report_time, imported_at) VALUES (?, ?, ?, ?)",
            (digest, path, report_time or now, now),
        )
        conn.executemany(
            "INSERT INTO junit_attempts (report, idx, rootdir, nodeid, outcome, message) VALUES (?, ?, ?, ?, ?, ?)",
            [(digest, index, *row) for index, row in enumerate(attempts)],
        )
    return True


def junit_histories(store: Store) -> list[TestHistory]:
    """Every test of the imported reports, in node id order, with its counts and flips
    (attempts taken in report time order, then as each report lists them)."""
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT a.rootdir, a.nodeid, a.outcome, a.message, r.report_time, r.digest "
            "FROM junit_attempts a JOIN junit_reports r ON r.digest = a.report "
            "WHERE a.outcome IN ('passed', 'failed') "
            "ORDER BY a.rootdir, a.nodeid, r.report_time, r.imported_at, r.digest, a.idx"
        ).fetchall()
    found: list[TestHistory] = []
    current: _Tally | None = None
    for rootdir, nodeid, outcome, message, when, digest in rows:
        if current is None or (current.rootdir, current.nodeid) != (rootdir, nodeid):
            if current is not None:
                found.append(current.history())
            current = _Tally(rootdir, nodeid, first=when)
        if outcome == "passed":
            current.passed += 1
        else:
            current.failed += 1
        if current.previous is not None and current.previous != outcome:
            current.flips += 1
        current.previous = outcome
        current.reports.add(digest)
        current.last = when
        if outcome == "failed":
            current.failure = message
    if current is not None:
        found.append(current.history())
    return found


@dataclass
class _Tally:
    """One test's attempts, counted as the rows go by."""

    rootdir: str
    nodeid: str
    first: str
    last: str = ""
    passed: int = 0
    failed: int = 0
    flips: int = 0
    reports: set[str] = field(default_factory=set)
    previous: str | None = None
    failure: str = ""

    def history(self) -> TestHistory:
        return TestHistory(
            rootdir=self.rootdir,
            nodeid=self.nodeid,
            passed=self.passed,
            failed=self.failed,
            reports=len(self.reports),
            flips=self.flips,
            first_seen=str(self.first),
            last_seen=str(self.last or self.first),
            last_failure=str(self.failure),
        )


def junit_report_count(store: Store) -> int:
    with store.transaction() as conn:
        return int(conn.execute("SELECT count(*) FROM junit_reports").fetchone()[0])


# -- hunts -----------------------------------------------------------------------------


def start_hunt(store: Store, rootdir: str, paths: Sequence[str], pytest_args: Sequence[str], runs_per_mode: int,
               modes: Sequence[HuntMode]) -> int:  # fmt: skip
    with store.transaction(write=True) as conn:
        cursor = conn.execute(
            "INSERT INTO hunts (rootdir, paths, pytest_args, runs_per_mode, modes, status, notes, seconds, started_at) "
            "VALUES (?, ?, ?, ?, ?, 'running', '[]', 0, ?)",
            (rootdir, json.dumps(list(paths)), json.dumps(list(pytest_args)), runs_per_mode,
             json.dumps([str(m) for m in modes]), _now()),
        )  # fmt: skip
        hunt_id = cursor.lastrowid
    assert hunt_id is not None
    return hunt_id


def add_hunt_run(store: Store, hunt_id: int, run: HuntRun) -> None:
    """A complete whole-suite run of the hunt (a run cut short is never recorded)."""
    with store.transaction(write=True) as conn:
        cursor = conn.execute(
            "INSERT INTO hunt_runs (hunt_id, mode, seed, hash_seed, seconds) VALUES (?, ?, ?, ?, ?)",
            (hunt_id, str(run.mode), run.seed, run.hash_seed, run.seconds),
        )
        conn.executemany(
            "INSERT INTO hunt_outcomes (run_id, position, nodeid, outcome, message) VALUES (?, ?, ?, ?, ?)",
            [(cursor.lastrowid, i, o.nodeid, o.outcome, o.message) for i, o in enumerate(run.outcomes)],
        )


def finish_hunt(store: Store, hunt_id: int, status: str, seconds: float, notes: Sequence[str], results: str) -> None:
    """``status``: complete, or partial (the budget or a cancel cut it short: ``--resume`` goes on);
    ``results``: the verdicts as JSON (``hunting.record_json``)."""
    with store.transaction(write=True) as conn:
        conn.execute(
            "UPDATE hunts SET status = ?, seconds = ?, notes = ?, results = ? WHERE id = ?",
            (status, seconds, json.dumps(list(notes)), results, hunt_id),
        )


def hunt(store: Store, hunt_id: int | None = None) -> dict[str, object] | None:
    """A hunt's settings and status (the newest when ``hunt_id`` is None), or None."""
    where, params = ("WHERE id = ?", [hunt_id]) if hunt_id is not None else ("", [])
    with store.transaction() as conn:
        row = conn.execute(
            f"SELECT id, rootdir, paths, pytest_args, runs_per_mode, modes, status, notes, seconds, started_at, "
            f"results FROM hunts {where} ORDER BY id DESC LIMIT 1",
            params,
        ).fetchone()
    if row is None:
        return None
    keys = ("id", "rootdir", "paths", "pytest_args", "runs_per_mode", "modes", "status", "notes", "seconds", "started_at",
            "results")  # fmt: skip
    found = dict(zip(keys, row, strict=True))
    for key in ("paths", "pytest_args", "modes", "notes"):
        found[key] = json.loads(str(found[key]))
    return found


def hunt_runs(store: Store, hunt_id: int) -> list[HuntRun]:
    with store.transaction() as conn:
        runs = conn.execute(
            "SELECT id, mode, seed, hash_seed, seconds FROM hunt_runs WHERE hunt_id = ? ORDER BY id", (hunt_id,)
        ).fetchall()
        outcomes: dict[int, list[SuiteOutcome]] = {run[0]: [] for run in runs}
        for run_id, nodeid, outcome, message in conn.execute(
            "SELECT o.run_id, o.nodeid, o.outcome, o.message FROM hunt_outcomes o JOIN hunt_runs r ON r.id = o.run_id "
            "WHERE r.hunt_id = ? ORDER BY o.run_id, o.position",
            (hunt_id,),
        ):
            outcomes[run_id].append(SuiteOutcome(nodeid, outcome, message))
    return [
        HuntRun(mode=HuntMode(mode), hash_seed=hash_seed, outcomes=tuple(outcomes[run_id]), seed=seed, seconds=seconds)
        for run_id, mode, seed, hash_seed, seconds in runs
    ]


# -- polluters -------------------------------------------------------------------------


def add_polluter(store: Store, found: Polluter) -> None:
    """Record (or replace) the confirmed polluter of a victim."""
    with store.transaction(write=True) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO polluters (rootdir, victim, polluter, runs, hunt_id, confirmed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (found.rootdir, found.victim, found.polluter, found.runs, found.hunt_id, found.confirmed_at or _now()),
        )


def polluters(store: Store) -> list[Polluter]:
    """Every confirmed polluter: ``victim`` fails when ``polluter`` ran before it and passes alone."""
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT rootdir, victim, polluter, runs, hunt_id, confirmed_at FROM polluters ORDER BY rootdir, victim"
        ).fetchall()
    return [Polluter(*row) for row in rows]


def polluter_of(store: Store, rootdir: str, victim: str) -> Polluter | None:
    return next((p for p in polluters(store) if (p.rootdir, p.victim) == (rootdir, victim)), None)
