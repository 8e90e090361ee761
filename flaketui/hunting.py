"""``flaketui hunt``: find the flaky tests nobody marked by running the whole suite N times in
each of three modes (serial, shuffled, xdist), then the polluter of each order-dependent one.

Runs interleave the modes (serial, shuffled, xdist, serial...), so a hunt cut short by its
budget or a cancel has measured every mode; each complete run is recorded at once, and
``--resume`` continues the hunt from there. A run cut short is never counted.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui.errors import FlakeTUIError
from flaketui.models.history import (
    HuntMode,
    HuntProgress,
    HuntReport,
    HuntRun,
    HuntTest,
    HuntVerdict,
    Polluter,
    SuiteOutcome,
    Tally,
)
from flaketui.pollution import Bisection

if TYPE_CHECKING:
    from flaketui.store import Store
    from flaketui.verify.hunt import SuitePass, SuiteResult

MODES = (HuntMode.SERIAL, HuntMode.SHUFFLED, HuntMode.XDIST)


ProgressCallback = Callable[[HuntProgress], None]
StopPredicate = Callable[[], bool]


@dataclass(frozen=True)
class HuntSettings:
    rootdir: str
    cwd: Path
    python: str
    paths: tuple[str, ...]
    pytest_args: tuple[str, ...]
    runs_per_mode: int
    budget_seconds: float
    #: Seeds every run's shuffle and hash seed, so a hunt can be repeated exactly (None: random).
    seed: int | None = None


def run_hunt(
    store: Store,
    settings: HuntSettings,
    *,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    should_stop: StopPredicate | None = None,
) -> HuntReport:
    from flaketui import store_hunts
    from flaketui.verify.runner import installed_probe

    stop = should_stop or (lambda: False)
    started = time.monotonic()
    notes: list[str] = []
    previous: list[HuntRun] = []
    hunt_id = None
    if resume:
        hunt_id, settings, previous, earlier_seconds = _resumable(store, settings)
        notes.append(f"resumed hunt {hunt_id} after {len(previous)} runs")
    else:
        hunt_id = store_hunts.start_hunt(
            store, settings.rootdir, settings.paths, settings.pytest_args, settings.runs_per_mode, MODES
        )
        earlier_seconds = 0.0
    runs = list(previous)
    deadline = started + settings.budget_seconds
    rng = random.Random(settings.seed) if settings.seed is not None else random.SystemRandom()
    xdist_ok: bool | None = None
    cut_short = False
    try:
        with installed_probe() as probe_dir:
            schedule = _schedule(settings.runs_per_mode, runs)
            total = len(runs) + len(schedule)
            suite_size = max((len(r.outcomes) for r in runs), default=0)
            for mode in schedule:
                if mode is HuntMode.XDIST and xdist_ok is False:
                    continue
                remaining = deadline - time.monotonic()
                if stop() or remaining <= 0:
                    cut_short = True
                    break
                seed = rng.randrange(2**32) if mode is HuntMode.SHUFFLED else None
                request = _pass(settings, mode, rng.randrange(1, 2**32), seed)
                done = len(runs)
                finished: list[SuiteOutcome] = []

                def progress(outcome: SuiteOutcome, done: int = done, mode: HuntMode = mode) -> None:
                    finished.append(outcome)
                    if on_progress is not None:
                        on_progress(_progress("run", done + 1, total, mode, started, runs, suite_size, outcome, len(finished)))

                if on_progress is not None:
                    on_progress(_progress("run", done + 1, total, mode, started, runs, suite_size, None, 0))
                result = _run(request, probe_dir, progress, stop, remaining)
                if mode is HuntMode.XDIST and result.xdist is False:
                    xdist_ok = False
                    notes.append("no xdist runs: pytest-xdist is not installed in the target's environment")
                    continue
                if not result.complete:
                    if result.cancelled or time.monotonic() >= deadline:
                        cut_short = True
                        break
                    raise FlakeTUIError(
                        f"A {mode} run of the suite did not complete: {result.problem or 'pytest stopped'}.",
                        "Run the suite once with pytest in the rootdir; pass the options it needs with --pytest-args.",
                    )
                if result.problem and not any(result.problem in note for note in notes):
                    notes.append(f"pytest reported: {result.problem}")  # a module that did not collect
                run = _as_run(mode, request, result)
                store_hunts.add_hunt_run(store, hunt_id, run)
                runs.append(run)
                suite_size = max(suite_size, len(run.outcomes))
            tests = classify(runs, settings.rootdir)
            bisection_runs = 0
            if not cut_short:
                tests, bisection_runs, cut_short = _find_polluters(
                    store, hunt_id, settings, tests, runs, probe_dir, on_progress, stop, started, deadline, len(runs)
                )
    except BaseException as exc:
        # An error (or ^C twice) mid-hunt: what ran is kept, and --resume goes on from there.
        store_hunts.finish_hunt(store, hunt_id, "partial", earlier_seconds + time.monotonic() - started,
                                [*notes, f"stopped by an error: {exc}"], record_json(classify(runs, settings.rootdir)))  # fmt: skip
        raise
    if cut_short:
        notes.append("cut short by the time budget or a cancel: flaketui hunt --resume continues it")
    seconds = earlier_seconds + time.monotonic() - started
    report = HuntReport(
        hunt_id=hunt_id,
        rootdir=settings.rootdir,
        runs_per_mode=settings.runs_per_mode,
        runs_done=tuple((m, sum(r.mode is m for r in runs)) for m in MODES),
        tests=tuple(tests),
        complete=not cut_short,
        seeds=tuple(r.seed for r in runs if r.seed is not None),
        notes=tuple(notes),
        suite_size=suite_size,
        bisection_runs=bisection_runs,
        seconds=seconds,
    )
    store_hunts.finish_hunt(store, hunt_id, "complete" if report.complete else "partial", seconds, notes,
                            record_json(report.tests))  # fmt: skip
    return report


def _resumable(store: Store, settings: HuntSettings) -> tuple[int, HuntSettings, list[HuntRun], float]:
    from flaketui import store_hunts

    found = store_hunts.hunt(store)
    if found is None or found["status"] == "complete":
        raise FlakeTUIError("There is no unfinished hunt to resume.", "Start one with flaketui hunt.")
    hunt_id = int(found["id"])  # type: ignore[call-overload]  # a hunts row: JSON values typed object
    resumed = replace(
        settings,
        paths=tuple(found["paths"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
        pytest_args=tuple(found["pytest_args"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
        runs_per_mode=int(found["runs_per_mode"]),  # type: ignore[call-overload]  # a hunts row: JSON values typed object
    )
    return hunt_id, resumed, store_hunts.hunt_runs(store, hunt_id), float(found["seconds"])  # type: ignore[arg-type]  # a hunts row: JSON values typed object


def _schedule(runs_per_mode: int, done: Sequence[HuntRun]) -> list[HuntMode]:
    """The runs still to do, the modes interleaved."""
    left = {m: runs_per_mode - sum(r.mode is m for r in done) for m in MODES}
    order: list[HuntMode] = []
    for index in range(runs_per_mode):
        order.extend(m for m in MODES if left[m] > index)
    return order


def _pass(settings: HuntSettings, mode: HuntMode, hash_seed: int, seed: int | None) -> SuitePass:
    from flaketui.verify.hunt import SuitePass

    return SuitePass(
        cwd=settings.cwd, python=settings.python, paths=settings.paths, mode=mode, hash_seed=hash_seed,
        seed=seed, pytest_args=settings.pytest_args,
    )  # fmt: skip


def _run(request: SuitePass, probe_dir: str, progress: Callable[[SuiteOutcome], None], stop: StopPredicate,
         remaining: float) -> SuiteResult:  # fmt: skip
    from flaketui.verify.hunt import run_pass

    return run_pass(request, probe_dir, on_outcome=progress, should_stop=stop, deadline_seconds=remaining)


def _as_run(mode: HuntMode, request: SuitePass, result: SuiteResult) -> HuntRun:
    return HuntRun(
        mode=mode, hash_seed=request.hash_seed, outcomes=tuple(result.outcomes), seed=request.seed, seconds=result.seconds
    )


def _progress(phase: str, run: int, total: int, mode: HuntMode | str, started: float, runs: Sequence[HuntRun],
              suite_size: int, outcome: SuiteOutcome | None, tests_done: int = 0) -> HuntProgress:  # fmt: skip
    elapsed = time.monotonic() - started
    timed = [r.seconds for r in runs if r.seconds]
    eta = (sum(timed) / len(timed)) * max(0, total - run + 1) if timed else None
    return HuntProgress(phase, run, total, str(mode), tests_done, suite_size, elapsed, eta, outcome)


# -- verdicts ---------------------------------------------------------------------------


def classify(runs: Sequence[HuntRun], rootdir: str = ".") -> list[HuntTest]:
    """Every test that failed at least once, with its counts per mode and a verdict.

    ``order-dependent`` here means "its outcome changed with the order only"; bisection
    confirms it (or turns it into ``flaky`` when the failing order passes when run again).
    """
    tallies: dict[str, dict[HuntMode, Tally]] = {}
    failures: dict[str, str] = {}
    for run in runs:
        for outcome in run.outcomes:
            if outcome.outcome not in ("passed", "failed"):
                continue
            by_mode = tallies.setdefault(outcome.nodeid, {})
            failed = outcome.outcome == "failed"
            by_mode[run.mode] = by_mode.get(run.mode, Tally()) + Tally(int(not failed), int(failed))
            if failed:
                failures[outcome.nodeid] = outcome.message
    found = []
    for nodeid, by_mode in tallies.items():
        total = sum(by_mode.values(), Tally())
        if not total.failed:
            continue
        found.append(
            HuntTest(
                rootdir=rootdir,
                nodeid=nodeid,
                modes=tuple((m, by_mode.get(m, Tally())) for m in MODES),
                verdict=_verdict(by_mode, total),
                last_failure=failures.get(nodeid, ""),
            )
        )
    return sorted(found, key=lambda t: (-t.total.failure_rate, -t.total.runs, t.nodeid))


def _verdict(by_mode: dict[HuntMode, Tally], total: Tally) -> HuntVerdict:
    if not total.passed:
        return HuntVerdict.BROKEN
    serial = by_mode.get(HuntMode.SERIAL, Tally())
    sequential = serial + by_mode.get(HuntMode.SHUFFLED, Tally())
    xdist = by_mode.get(HuntMode.XDIST, Tally())
    if serial.passed and serial.failed:
        return HuntVerdict.FLAKY  # the same order gave both outcomes
    if sequential.passed and sequential.failed:
        return HuntVerdict.ORDER_DEPENDENT
    if sequential.runs and not sequential.failed and xdist.failed:
        return HuntVerdict.PARALLEL_UNSAFE
    return HuntVerdict.FLAKY


# -- polluters ----------------------------------------------------------------------------


def _find_polluters(store: Store, hunt_id: int, settings: HuntSettings, tests: list[HuntTest], runs: Sequence[HuntRun],
                    probe_dir: str, on_progress: ProgressCallback | None, stop: StopPredicate, started: float,
                    deadline: float, done: int) -> tuple[list[HuntTest], int, bool]:  # fmt: skip
    """Bisect each order-dependent test over what ran before it in a failing order."""
    from flaketui import store_hunts

    total_runs = 0
    found = []
    for test in tests:
        if test.verdict is not HuntVerdict.ORDER_DEPENDENT:
            found.append(test)
            continue
        failing = next(r for r in runs if r.mode is not HuntMode.XDIST and _failed_in(r, test.nodeid))
        before = failing.order[: failing.order.index(test.nodeid)]

        def step(order_size: int, victim: str = test.nodeid) -> None:
            nonlocal total_runs
            total_runs += 1
            if on_progress is not None:
                on_progress(_progress("bisect", total_runs, 0, victim, started, runs, order_size, None))

        bisection = bisect_victim(settings, probe_dir, before, test.nodeid, failing.hash_seed, stop=stop,
                                  deadline=deadline, on_step=step)  # fmt: skip
        if bisection.polluter is not None:
            store_hunts.add_polluter(store, Polluter(settings.rootdir, test.nodeid, bisection.polluter,
                                                     bisection.runs, hunt_id))  # fmt: skip
            found.append(replace(test, polluter=bisection.polluter))
        elif bisection.stopped or bisection.reproduced or bisection.fails_alone:
            found.append(test)  # order-dependent still; no single polluter (or not found in time)
        else:
            # The failing order passed when run again: not the order's doing.
            found.append(replace(test, verdict=HuntVerdict.FLAKY))
        if bisection.stopped:
            return found + tests[len(found) :], total_runs, True
    return found, total_runs, False


def bisect_victim(settings: HuntSettings, probe_dir: str, before: Sequence[str], victim: str, hash_seed: int, *,
                  stop: StopPredicate, deadline: float, on_step: Callable[[int], None] | None = None) -> Bisection:  # fmt: skip
    """Bisection runs for one victim: serial passes of exactly ``order + [victim]``, with the
    failing run's hash seed, within the deadline."""
    from flaketui.pollution import find_polluter
    from flaketui.verify.hunt import run_pass

    def fails_after(order: Sequence[str]) -> bool | None:
        remaining = deadline - time.monotonic()
        if stop() or remaining <= 0:
            return None
        if on_step is not None:
            on_step(len(order) + 1)
        request = replace(_pass(settings, HuntMode.SERIAL, hash_seed, None), order=(*order, victim))
        result = run_pass(request, probe_dir, should_stop=stop, deadline_seconds=remaining)
        if not result.complete:
            return None
        return any(o.nodeid == victim and o.outcome == "failed" for o in result.outcomes)

    return find_polluter(before, victim, fails_after)


def find_polluter_of(store: Store, settings: HuntSettings, victim: str, *, on_progress: ProgressCallback | None = None,
                     should_stop: StopPredicate | None = None) -> tuple[Bisection, int]:  # fmt: skip
    """Without a hunt: one serial pass for pytest's order (the victim must fail in it), then
    bisection over the tests before it. Returns the bisection and the runs of both."""
    from flaketui import store_hunts
    from flaketui.verify.hunt import run_pass
    from flaketui.verify.runner import installed_probe

    stop = should_stop or (lambda: False)
    started = time.monotonic()
    deadline = started + settings.budget_seconds
    rng = random.Random(settings.seed) if settings.seed is not None else random.SystemRandom()
    hash_seed = rng.randrange(1, 2**32)
    steps = 0

    def step(order_size: int) -> None:
        nonlocal steps
        steps += 1
        if on_progress is not None:
            on_progress(_progress("bisect", steps, 0, victim, started, [], order_size, None))

    with installed_probe() as probe_dir:
        first = run_pass(_pass(settings, HuntMode.SERIAL, hash_seed, None), probe_dir, should_stop=stop,
                         deadline_seconds=settings.budget_seconds)  # fmt: skip
        order = [o.nodeid for o in first.outcomes]
        if not first.complete:
            return Bisection(None, 0, first.problem or "stopped", stopped=True), 1
        if not _failed_in(HuntRun(HuntMode.SERIAL, hash_seed, tuple(first.outcomes)), victim):
            reason = "it did not fail in pytest's order" if victim in order else f"{victim} did not run"
            return Bisection(None, 0, reason + ": hunt first, to find an order it fails in"), 1
        bisection = bisect_victim(settings, probe_dir, order[: order.index(victim)], victim, hash_seed, stop=stop,
                                  deadline=deadline, on_step=step)  # fmt: skip
    if bisection.polluter is not None:
        store_hunts.add_polluter(store, Polluter(settings.rootdir, victim, bisection.polluter, bisection.runs))
    return bisection, bisection.runs + 1


def _failed_in(run: HuntRun, nodeid: str) -> bool:
    return any(o.nodeid == nodeid and o.outcome == "failed" for o in run.outcomes)


# -- the record and --json ------------------------------------------------------------------


def record_json(tests: Sequence[HuntTest]) -> str:
    """The hunt's verdicts as the record keeps them (the app and ``scan`` read them back)."""
    return json.dumps([
        {"rootdir": t.rootdir, "nodeid": t.nodeid, "verdict": str(t.verdict), "polluter": t.polluter,
         "last_failure": t.last_failure, "modes": {str(m): [c.passed, c.failed] for m, c in t.modes}}
        for t in tests
    ])  # fmt: skip


def from_record(text: str) -> list[HuntTest]:
    return [
        HuntTest(
            rootdir=item["rootdir"], nodeid=item["nodeid"], verdict=HuntVerdict(item["verdict"]),
            polluter=item["polluter"], last_failure=item["last_failure"],
            modes=tuple((HuntMode(m), Tally(p, f)) for m, (p, f) in item["modes"].items()),
        )  # fmt: skip
        for item in json.loads(text)
    ]


def report_json(report: HuntReport) -> dict[str, object]:
    """``hunt --json``: each test with exactly the documented fields, node ids from the repository root."""
    return {
        "tests": [
            {
                "nodeid": _full_id(report.rootdir, t.nodeid),
                "runs": t.total.runs,
                "passed": t.total.passed,
                "failed": t.total.failed,
                "verdict": str(t.verdict),
                "modes": {str(m): {"runs": c.runs, "passed": c.passed, "failed": c.failed} for m, c in t.modes},
                "polluter": _full_id(report.rootdir, t.polluter) if t.polluter else None,
            }
            for t in report.tests
        ],
        "summary": {
            "stable": report.stable,
            "serial_equals_parallel": report.serial_equals_parallel,
            "identical_runs": report.identical_runs,
            "complete": report.complete,
            "suite_size": report.suite_size,
            "runs": {str(m): n for m, n in report.runs_done},
            "bisection_runs": report.bisection_runs,
            "seconds": round(report.seconds, 1),
            "shuffle_seeds": list(report.seeds),
            "notes": list(report.notes),
            "hunt": report.hunt_id,
        },
    }


def _full_id(rootdir: str, nodeid: str) -> str:
    return nodeid if rootdir in ("", ".") else f"{rootdir}/{nodeid}"


def latest_report(store: Store) -> HuntReport | None:
    """The newest hunt as recorded (a partial one too), or None before the first hunt."""
    from flaketui import store_hunts

    found = store_hunts.hunt(store)
    if found is None or found["status"] == "running":
        return None
    hunt_id = int(found["id"])  # type: ignore[call-overload]  # a hunts row: JSON values typed object
    runs = store_hunts.hunt_runs(store, hunt_id)
    return HuntReport(
        hunt_id=hunt_id,
        rootdir=str(found["rootdir"]),
        runs_per_mode=int(found["runs_per_mode"]),  # type: ignore[call-overload]  # a hunts row: JSON values typed object
        runs_done=tuple((m, sum(r.mode is m for r in runs)) for m in MODES),
        tests=tuple(from_record(str(found["results"]))),
        complete=found["status"] == "complete",
        seeds=tuple(r.seed for r in runs if r.seed is not None),
        notes=tuple(found["notes"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
        suite_size=max((len(r.outcomes) for r in runs), default=0),
        seconds=float(found["seconds"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
    )
