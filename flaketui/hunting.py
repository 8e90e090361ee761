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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from flaketui.errors import FlakeTUIError
from flaketui.hunt_verdicts import MODES, classify, passes_only_under_xdist, settled
from flaketui.models.history import (
    HuntMode,
    HuntProgress,
    HuntReport,
    HuntRun,
    HuntTest,
    HuntVerdict,
    SuiteOutcome,
    Tally,
)

if TYPE_CHECKING:
    from flaketui.hunt_bisect import Hints
    from flaketui.store import Store
    from flaketui.verify.hunt import Suite, SuitePass, SuiteResult

DEFAULT_TIMEOUT = 60.0
#: A test that hung once gets this long in later runs (or 10 times its longest run that ended).
_HUNG_TIMEOUT = 5.0
#: A pass runs at most this long, or 10 times the longest pass so far (a hang no signal ends).
_PASS_LIMIT = 300.0
_TIMED_OUT = "timed out after "


ProgressCallback = Callable[[HuntProgress], None]
StopPredicate = Callable[[], bool]


@dataclass(frozen=True)
class HuntSettings:
    rootdir: str
    #: What every pass runs (a bisection's passes run a part of it, in an order).
    suite: Suite
    runs_per_mode: int
    budget_seconds: float
    #: Seeds every run's shuffle and hash seed, so a hunt can be repeated exactly (None: random).
    seed: int | None = None
    #: Seconds a test may run before it counts as hung (a test that hung gets less afterwards).
    timeout: float = DEFAULT_TIMEOUT


def run_hunt(
    store: Store,
    settings: HuntSettings,
    *,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    should_stop: StopPredicate | None = None,
    hints: Hints | None = None,
) -> HuntReport:
    """``hints``: the polluters a diagnosis names for a victim, tried before bisecting for it."""
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
            store, settings.rootdir, settings.suite.paths, settings.suite.pytest_args, settings.runs_per_mode, MODES
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
            from flaketui.hunt_bisect import Midway

            midway = Midway()
            for mode in schedule:
                if mode is HuntMode.XDIST and xdist_ok is False:
                    continue
                remaining = deadline - time.monotonic()
                if stop() or remaining <= 0:
                    cut_short = True
                    break
                if _time_to_bisect(settings, runs, remaining):
                    # The polluters first, while the budget lasts: the passes left only add counts.
                    short = remaining < 0.4 * settings.budget_seconds
                    cut_short = midway.bisect(store, hunt_id, settings, classify(runs, settings.rootdir), runs, probe_dir,
                                              on_progress, stop, started, deadline, short=short, hints=hints)  # fmt: skip
                    if cut_short:
                        break
                # xdist shuffles too: neighbours in pytest's order would share a worker and never race.
                seed = rng.randrange(2**32) if mode is not HuntMode.SERIAL else None
                request = suite_pass(settings, mode, rng.randrange(1, 2**32), seed, hung_timeouts(runs, settings.timeout))
                done = len(runs)
                finished: list[SuiteOutcome] = []

                def progress(outcome: SuiteOutcome, done: int = done, mode: HuntMode = mode) -> None:
                    finished.append(outcome)
                    if on_progress is not None:
                        on_progress(progress_of("run", done + 1, total, mode, started, runs, suite_size, outcome, len(finished)))

                if on_progress is not None:
                    on_progress(progress_of("run", done + 1, total, mode, started, runs, suite_size, None, 0))
                result = _run(request, probe_dir, progress, stop, min(remaining, _pass_limit(runs)))
                if mode is HuntMode.XDIST and result.xdist is False:
                    xdist_ok = False
                    notes.append("no xdist runs: pytest-xdist is not installed in the target's environment")
                    continue
                if not result.complete:
                    if result.cancelled or time.monotonic() >= deadline:
                        cut_short = True
                        break
                    salvaged = _salvage(mode, result, notes)
                    if salvaged is None:
                        continue
                    result = salvaged
                if result.problem and not any(result.problem in note for note in notes):
                    notes.append(f"pytest reported: {result.problem}")  # a module that did not collect
                run = _as_run(mode, request, result)
                store_hunts.add_hunt_run(store, hunt_id, run)
                runs.append(run)
                suite_size = max(suite_size, len(run.outcomes))
            tests = [midway.apply(t) for t in classify(runs, settings.rootdir)]
            bisection_runs = midway.runs
            if cut_short:
                tests = [settled(t) for t in tests]
            else:
                from flaketui.hunt_bisect import find_culprits

                tests, bisection_runs, cut_short = find_culprits(
                    store, hunt_id, settings, tests, runs, probe_dir, on_progress, stop, started, deadline,
                    runs_before=bisection_runs, only={t.nodeid for t in tests if t.nodeid not in midway.decided},
                    hints=hints,
                )  # fmt: skip
    except BaseException as exc:
        # An error (or ^C twice) mid-hunt: what ran is kept, and --resume goes on from there.
        store_hunts.finish_hunt(store, hunt_id, "partial", earlier_seconds + time.monotonic() - started,
                                [*notes, f"stopped by an error: {exc}"], record_json(classify(runs, settings.rootdir)))  # fmt: skip
        raise
    if cut_short:
        notes.append("cut short by the time budget or a cancel: flaketui hunt --resume continues it")
    for test in (t for t in tests if passes_only_under_xdist(t)):
        said = f"{test.nodeid} failed in every serial and shuffled run and passed under xdist: "
        if test.verdict is HuntVerdict.FLAKY:
            notes.append(said + "it failed alone too, so xdist's workers, not the order, make it pass")
        else:
            culprit = f"after {test.polluter}" if test.polluter else "after some test (no single polluter found)"
            notes.append(said + f"it fails {culprit} in the same process; not broken, not random")
    seconds = earlier_seconds + time.monotonic() - started
    report = HuntReport(
        hunt_id=hunt_id,
        rootdir=settings.rootdir,
        runs_per_mode=settings.runs_per_mode,
        runs_done=tuple((m, sum(r.mode is m for r in runs)) for m in MODES),
        tests=tuple(tests),
        complete=not cut_short,
        seeds=tuple((r.mode, r.seed) for r in runs if r.seed is not None),
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
    suite = replace(
        settings.suite,
        paths=tuple(found["paths"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
        pytest_args=tuple(found["pytest_args"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
    )
    resumed = replace(
        settings,
        suite=suite,
        runs_per_mode=int(found["runs_per_mode"]),  # type: ignore[call-overload]  # a hunts row: JSON values typed object
    )
    return hunt_id, resumed, store_hunts.hunt_runs(store, hunt_id), float(found["seconds"])  # type: ignore[arg-type]  # a hunts row: JSON values typed object


def _time_to_bisect(settings: HuntSettings, runs: Sequence[HuntRun], remaining: float) -> bool:
    """Halfway through the passes (or with 40% of the budget left), once every mode has run:
    bisect what is order-dependent by then before the passes that are left, and from then on
    each test as soon as it is (``Midway``)."""
    rounds = min((sum(r.mode is m for r in runs) for m in MODES[:2]), default=0)
    if settings.runs_per_mode < 4 or rounds < 2:
        return False
    return rounds >= settings.runs_per_mode // 2 or remaining < 0.4 * settings.budget_seconds


def _schedule(runs_per_mode: int, done: Sequence[HuntRun]) -> list[HuntMode]:
    """The runs still to do, the modes interleaved."""
    left = {m: runs_per_mode - sum(r.mode is m for r in done) for m in MODES}
    order: list[HuntMode] = []
    for index in range(runs_per_mode):
        order.extend(m for m in MODES if left[m] > index)
    return order


def suite_pass(settings: HuntSettings, mode: HuntMode, hash_seed: int, seed: int | None,
               timeouts: Mapping[str, float] | None = None) -> SuitePass:  # fmt: skip
    from flaketui.verify.hunt import SuitePass

    return SuitePass(settings.suite, mode, hash_seed, seed, timeout=settings.timeout, timeouts=timeouts or {})


def hung_timeouts(runs: Sequence[HuntRun], timeout: float) -> dict[str, float]:
    """The tests that hung in a run so far, each with a shorter timeout: 10 times its longest
    run that ended, at least ``_HUNG_TIMEOUT`` (a test that hangs every time costs little)."""
    hung: dict[str, float] = {}
    for run in runs:
        for o in run.outcomes:
            if o.outcome == "failed" and o.message.startswith(_TIMED_OUT):
                hung.setdefault(o.nodeid, 0.0)
    for run in runs:
        for o in run.outcomes:
            if o.nodeid in hung and not o.message.startswith(_TIMED_OUT):
                hung[o.nodeid] = max(hung[o.nodeid], o.duration or 0.0)
    return {nodeid: min(timeout, max(_HUNG_TIMEOUT, 10 * longest)) for nodeid, longest in hung.items()}


def _pass_limit(runs: Sequence[HuntRun]) -> float:
    longest = max((r.seconds for r in runs), default=0.0)
    return max(_PASS_LIMIT, 10 * longest) if longest else float("inf")


def _salvage(mode: HuntMode, result: SuiteResult, notes: list[str]) -> SuiteResult | None:
    """A pass that ended early, not by a stop or the budget (a test that crashed pytest or hung
    past every timeout): the tests that ran count, and the one running then failed. An xdist
    pass cannot tell which one that was: it is left out. None: nothing to keep."""
    if mode is not HuntMode.XDIST and not result.collected:
        raise FlakeTUIError(
            f"A {mode} run of the suite did not complete: {result.problem or 'pytest stopped'}.",
            "Run the suite once with pytest in the rootdir; pass the options it needs with --pytest-args.",
        )
    said = f"a {mode} run ended early: "
    if not any(note.startswith(said) for note in notes):  # once per mode: the first says why
        notes.append(said + (result.problem or "pytest stopped"))
    if mode is HuntMode.XDIST or not result.unfinished:
        return None
    ended = SuiteOutcome(result.unfinished[0], "failed", f"the run ended in this test: {result.problem}")
    return replace(result, outcomes=[*result.outcomes, ended], complete=True)


def _run(request: SuitePass, probe_dir: str, progress: Callable[[SuiteOutcome], None], stop: StopPredicate,
         remaining: float) -> SuiteResult:  # fmt: skip
    from flaketui.verify.hunt import run_pass

    return run_pass(request, probe_dir, on_outcome=progress, should_stop=stop, deadline_seconds=remaining)


def _as_run(mode: HuntMode, request: SuitePass, result: SuiteResult) -> HuntRun:
    return HuntRun(
        mode=mode, hash_seed=request.hash_seed, outcomes=tuple(result.outcomes), seed=request.seed, seconds=result.seconds
    )


def progress_of(phase: str, run: int, total: int, mode: HuntMode | str, started: float, runs: Sequence[HuntRun],
              suite_size: int, outcome: SuiteOutcome | None, tests_done: int = 0) -> HuntProgress:  # fmt: skip
    elapsed = time.monotonic() - started
    timed = [r.seconds for r in runs if r.seconds]
    eta = (sum(timed) / len(timed)) * max(0, total - run + 1) if timed else None
    return HuntProgress(phase, run, total, str(mode), tests_done, suite_size, elapsed, eta, outcome)


# -- the record and --json ------------------------------------------------------------------


def record_json(tests: Sequence[HuntTest]) -> str:
    """The hunt's verdicts as the record keeps them (the app and ``scan`` read them back)."""
    return json.dumps([
        {"rootdir": t.rootdir, "nodeid": t.nodeid, "verdict": str(t.verdict), "polluter": t.polluter,
         "setter": t.setter, "last_failure": t.last_failure, "modes": {str(m): [c.passed, c.failed] for m, c in t.modes}}
        for t in tests
    ])  # fmt: skip


def from_record(text: str) -> list[HuntTest]:
    return [
        HuntTest(
            rootdir=item["rootdir"], nodeid=item["nodeid"], verdict=HuntVerdict(item["verdict"]),
            polluter=item["polluter"], setter=item.get("setter"), last_failure=item["last_failure"],
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
                # The test it fails after or, for a brittle test that fails alone, the one it needs
                # before it: the test whose place in the order decides its outcome.
                "polluter": _full_id(report.rootdir, culprit) if (culprit := t.polluter or t.setter) else None,
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
            "shuffle_seeds": [seed for mode, seed in report.seeds if mode is HuntMode.SHUFFLED],
            "xdist_seeds": [seed for mode, seed in report.seeds if mode is HuntMode.XDIST],
            "state_setters": {_full_id(report.rootdir, t.nodeid): _full_id(report.rootdir, t.setter)
                              for t in report.tests if t.setter},
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
        seeds=tuple((r.mode, r.seed) for r in runs if r.seed is not None),
        notes=tuple(found["notes"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
        suite_size=max((len(r.outcomes) for r in runs), default=0),
        seconds=float(found["seconds"]),  # type: ignore[arg-type]  # a hunts row: JSON values typed object
    )
