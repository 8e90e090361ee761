"""N independent runs per test in each mode, turned into ``Verification`` values.

Tests are grouped by rootdir; one group is one pytest process in forked, same-process and
random-order modes (collection is paid once), one process per run in fresh-process and
parallel modes. Forking falls back to fresh processes when the probe finds threads.
"""

from __future__ import annotations

import os
import random
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flaketui.models import RunOutcome, RunResult, TestKey, Verdict, Verification, VerifyMode, VerifyOptions, selects
from flaketui.verify.interpreter import Interpreter
from flaketui.verify.runner import ProbeEvent, ProbeOutcome, ProbeRequest, Watch, installed_probe, run_probe
from flaketui.verify.targets import Target
from flaketui.verify.verdict import verdict_of

RunCallback = Callable[[RunResult], None]
StopPredicate = Callable[[], bool]

#: xdist workers for the parallel mode: two, the smallest number that runs tests concurrently.
PARALLEL_WORKERS = 2
#: Room for collection and interpreter start on top of the per-run timeouts of a process.
_STARTUP_ALLOWANCE = 120.0


_DISTRIBUTIONS = {
    "pytest_rerunfailures": "pytest-rerunfailures",
    "pytest_retry": "pytest-retry",
    "pytest_randomly": "pytest-randomly",
    "flaky": "flaky",
}


@dataclass
class _Tally:
    """What one group of targets produced so far."""

    results: dict[str, list[RunResult]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    group_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target_notes: dict[str, list[str]] = field(default_factory=dict)
    versions: str = ""
    neutralised: tuple[str, ...] = ()
    cancelled: bool = False
    mode_ran: VerifyMode = VerifyMode.FORKED


def verify_targets(
    root: Path,
    targets: Sequence[Target],
    interpreter: Interpreter,
    options: VerifyOptions,
    *,
    on_run: RunCallback | None = None,
    should_stop: StopPredicate | None = None,
    command_for: Callable[[Target, VerifyOptions], str] | None = None,
    fresh_reasons: Mapping[TestKey, str] | None = None,
) -> list[Verification]:
    """Verify every target; the list follows the order of ``targets``.

    ``fresh_reasons`` names the targets (by rootdir, nodeid) that must run fresh-process
    rather than forked, and why (the diagnosis rules that point at hash order).
    """
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    fresh_reasons = fresh_reasons or {}
    fresh = replace(options, mode=VerifyMode.FRESH_PROCESS)
    by_key: dict[TestKey, Verification] = {}
    groups: dict[tuple[str, VerifyOptions], list[Target]] = {}
    for target in targets:
        chosen = fresh if target.key in fresh_reasons else options
        groups.setdefault((target.rootdir, chosen), []).append(target)
    stop = should_stop or (lambda: False)
    with installed_probe() as probe_dir:
        for (rootdir, group_options), group in groups.items():
            tally = _Tally(mode_ran=group_options.mode)
            if not stop():
                _run_group(_Where(root / rootdir, interpreter, probe_dir, stop), group, group_options, tally, on_run)
            else:
                tally.cancelled = True
            for target in group:
                reason = fresh_reasons.get(target.key)
                if reason and group_options is fresh:
                    tally.target_notes.setdefault(target.nodeid, []).insert(
                        0,
                        f"ran fresh-process, not forked: the diagnosis points at hash order ({reason}) and forked "
                        "runs share one string hash seed",
                    )
                by_key[target.key] = _verification(
                    target, tally, group_options, interpreter, started_at, command_for
                )
    return [by_key[t.key] for t in targets]


def _request(interpreter: Interpreter, cwd: Path, options: VerifyOptions, **fields: Any) -> ProbeRequest:
    """A pytest process of this verification: its interpreter, rootdir, timeout and the project's options."""
    return ProbeRequest(
        python=interpreter.path, cwd=cwd, timeout=options.timeout, pytest_args=options.pytest_args, **fields
    )


def _modules(nodeids: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.split("::", 1)[0] for n in nodeids))


@dataclass(frozen=True)
class _Where:
    """Where one group of targets runs: its rootdir, the interpreter, the probe, the stop."""

    cwd: Path
    interpreter: Interpreter
    probe_dir: str
    stop: StopPredicate


def _run_group(where: _Where, group: list[Target], options: VerifyOptions, tally: _Tally, on_run: RunCallback | None) -> None:
    cwd, interpreter, probe_dir, stop = where.cwd, where.interpreter, where.probe_dir, where.stop
    nodeids = tuple(dict.fromkeys(t.nodeid for t in group))
    for nodeid in nodeids:
        tally.results.setdefault(nodeid, [])

    def run(request: ProbeRequest, deadline: float | None) -> ProbeOutcome:
        result = run_probe(request, probe_dir, Watch(lambda e: _consume(e, tally, on_run), stop, deadline))
        tally.cancelled = tally.cancelled or result.cancelled
        _attribute_crash(result, tally, on_run)
        _absorb_failure(result, request, tally)
        return result

    mode = options.mode
    companions = options.companions if mode is VerifyMode.RANDOM_ORDER else ()
    if mode in (VerifyMode.FORKED, VerifyMode.SAME_PROCESS, VerifyMode.RANDOM_ORDER):
        request = _request(
            interpreter,
            cwd,
            options,
            # Whole modules, so a test that no longer exists is reported alone, not fatal to the rest.
            args=tuple(dict.fromkeys((*_modules(nodeids), *companions))),
            mode=str(mode),
            runs=options.runs,
            targets=nodeids,
            fail_fast=options.fail_fast,
            companions=companions,
            seed=options.seed if mode is VerifyMode.RANDOM_ORDER else None,
        )
        result = run(request, _deadline(options, len(nodeids)))
        fallback = result.of("fallback")
        if fallback and not tally.cancelled:
            tally.notes.append(f"{mode} was unsafe ({fallback[0]['reason']}): ran fresh-process instead")
            tally.mode_ran = VerifyMode.FRESH_PROCESS
            _run_per_process(cwd, nodeids, interpreter, options, tally, run, stop, parallel=False)
    else:
        _run_per_process(cwd, nodeids, interpreter, options, tally, run, stop, parallel=mode is VerifyMode.PARALLEL)
        if mode is VerifyMode.PARALLEL:
            _compare_with_serial(where, group, options, tally)


def _compare_with_serial(where: _Where, group: list[Target], options: VerifyOptions, tally: _Tally) -> None:
    """The same runs, serial: does parallel execution give the serial results?

    The baseline is a real verification of its own (forked, or fresh-process where forking
    is unsafe); where it could not run, the note says why there is no comparison.
    """
    nodeids = tuple(dict.fromkeys(t.nodeid for t in group))
    why_none = ""
    if tally.cancelled:
        why_none = "the parallel runs were cancelled"
    elif tally.group_errors:
        why_none = "the parallel runs did not complete"
    serial = _Tally()
    if not why_none:
        serial_options = replace(options, mode=VerifyMode.FORKED, fail_fast=False)
        _run_group(where, group, serial_options, serial, None)
        tally.cancelled = tally.cancelled or serial.cancelled
        if serial.cancelled:
            why_none = "the serial runs were cancelled"
        elif serial.group_errors:
            why_none = "the serial runs failed: " + "; ".join(serial.group_errors)
    for nodeid in nodeids:
        parallel_runs = tally.results.get(nodeid, [])
        serial_runs = serial.results.get(nodeid, [])
        parallel_text = f"parallel ({PARALLEL_WORKERS} xdist workers) {_passed(parallel_runs)}/{len(parallel_runs)} passed"
        reason = why_none or ("; ".join(serial.errors[nodeid]) if serial.errors.get(nodeid) else "")
        if reason or not serial_runs:
            tally.target_notes.setdefault(nodeid, []).append(
                f"{parallel_text}; no serial baseline: {reason or 'the serial runs ran nothing'}"
            )
            continue
        same = verdict_of(parallel_runs) is verdict_of(serial_runs)
        tally.target_notes.setdefault(nodeid, []).append(
            f"{parallel_text}, {'the same as' if same else 'unlike'} serial ({serial.mode_ran}) "
            f"{_passed(serial_runs)}/{len(serial_runs)}"
        )


def _passed(results: list[RunResult]) -> int:
    return sum(r.outcome is RunOutcome.PASSED for r in results)


def _stopped(results: list[RunResult], fail_fast: bool) -> bool:
    """No more runs for this target: it skips, or it failed under --fail-fast."""
    return any(r.outcome is RunOutcome.SKIPPED or (fail_fast and r.outcome is not RunOutcome.PASSED) for r in results)


def _run_per_process(
    cwd: Path,
    nodeids: tuple[str, ...],
    interpreter: Interpreter,
    options: VerifyOptions,
    tally: _Tally,
    run: Callable[[ProbeRequest, float | None], ProbeOutcome],
    stop: StopPredicate,
    *,
    parallel: bool,
) -> None:
    """One interpreter per run index (all targets in it): a new PYTHONHASHSEED each time, or xdist."""
    rng = random.SystemRandom()
    for index in range(options.runs):
        live = tuple(n for n in nodeids if not _stopped(tally.results.get(n, []), options.fail_fast))
        if not live or tally.group_errors or stop():
            tally.cancelled = tally.cancelled or (bool(live) and not tally.group_errors and stop())
            return
        hash_seed = rng.randrange(1, 2**32)
        request = _request(
            interpreter,
            cwd,
            options,
            args=(*_modules(live), "-n", str(PARALLEL_WORKERS)) if parallel else _modules(live),
            mode="parallel" if parallel else "fresh",
            runs=1,
            targets=live,
            first_index=index,
            seed=hash_seed,
            extra_env={"PYTHONHASHSEED": str(hash_seed)},
            probe_everywhere=parallel,
        )
        result = run(request, _deadline(options, len(live), runs=1))
        if parallel and not result.of("run") and "-n" in result.output and "unrecognized" in result.output:
            tally.group_errors.append("the parallel mode needs pytest-xdist in the target's environment")
        if result.cancelled:
            return


def _deadline(options: VerifyOptions, targets: int, runs: int | None = None) -> float | None:
    if options.timeout is None:
        return None
    return options.timeout * (runs or options.runs) * targets + _STARTUP_ALLOWANCE


def _has_failure(results: list[RunResult]) -> bool:
    return any(r.outcome is not RunOutcome.PASSED for r in results)


def _consume(event: ProbeEvent, tally: _Tally, on_run: RunCallback | None) -> None:
    kind = event.get("event")
    if kind == "start":
        tally.versions = f"Python {event.get('python')}, pytest {event.get('pytest')}"
        tally.neutralised = tuple(_DISTRIBUTIONS.get(p, p) for p in event.get("neutralised") or ())
    elif kind == "run":
        result = RunResult(
            nodeid=event["nodeid"],
            index=int(event["index"]),
            outcome=RunOutcome(event["outcome"]),
            duration=float(event.get("duration") or 0.0),
            message=str(event.get("message") or ""),
            seed=event.get("seed"),
        )
        tally.results.setdefault(result.nodeid, []).append(result)
        if on_run is not None:
            on_run(result)
    elif kind == "zygote":
        tally.notes.append(str(event.get("reason")))
    elif kind == "error":
        nodeid = event.get("nodeid")
        where = event.get("where")
        if nodeid:
            tally.errors.setdefault(nodeid, []).append(str(event.get("message")))
        elif where:  # a module or directory that failed to collect: its tests' business only
            for target in tally.results:
                if selects(where, target):
                    tally.errors.setdefault(target, []).append(str(event.get("message")))
        else:
            tally.group_errors.append(str(event.get("message")))


def _attribute_crash(result: ProbeOutcome, tally: _Tally, on_run: RunCallback | None) -> None:
    """A run inside pytest's own process (same-process mode) that took the interpreter down."""
    if result.cancelled or not result.events:
        return
    last = result.events[-1]
    if last.get("event") != "begin":
        return
    code = result.returncode or 0
    status = f"exit code {code}" if code >= 0 else f"signal {-code}"
    _consume(
        {**last, "event": "run", "outcome": "crashed", "message": f"the interpreter died: {status}"}, tally, on_run
    )
    tally.notes.append(f"the interpreter died during {last['nodeid']}; the runs after it did not happen")


def _absorb_failure(result: ProbeOutcome, request: ProbeRequest, tally: _Tally) -> None:
    """A process that ended without a word for some target: say what pytest printed."""
    if result.cancelled:
        return
    reported = {e.get("nodeid") for e in result.events if e.get("event") in ("run", "error")}
    silent = [n for n in request.targets if n not in reported]
    if not silent or result.of("fallback") or tally.group_errors:
        return
    if result.of("error"):
        return
    detail = failure_summary(result.output) or f"pytest exited with code {result.returncode}"
    if result.returncode is None or (result.returncode != 0 and not result.of("start")):
        tally.group_errors.append(f"pytest could not run the tests (exit code {result.returncode}): {detail}")
    elif not result.of("run") and result.returncode == 0 and not request.fail_fast:
        tally.group_errors.append(f"pytest ran none of the tests: {detail}")
    elif result.returncode not in (0, 1) and not result.of("run"):
        tally.group_errors.append(f"pytest stopped (exit code {result.returncode}): {detail}")


_ERROR_LINE = re.compile(r"^(?:E\s+)?(?:ERROR:|[\w.]*(?:Error|Exception|Exit)\b:?)")


def failure_summary(output: str) -> str:
    """The line of pytest's output that says what went wrong (the last error line), else its last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else ""


def _verification(
    target: Target,
    tally: _Tally,
    options: VerifyOptions,
    interpreter: Interpreter,
    started_at: str,
    command_for: Callable[[Target, VerifyOptions], str] | None,
) -> Verification:
    results = tuple(sorted(tally.results.get(target.nodeid, []), key=lambda r: r.index))
    errors = tally.errors.get(target.nodeid, []) + tally.group_errors
    verdict = verdict_of(results, errored=bool(errors), cancelled=tally.cancelled, runs_requested=options.runs)
    notes = list(tally.notes) + tally.target_notes.get(target.nodeid, [])
    if errors:
        notes.append("; ".join(errors))
    if tally.cancelled and len(results) < options.runs:
        notes.append(f"cancelled after {len(results)} of {options.runs} runs")
    elif options.fail_fast and len(results) < options.runs and results:
        notes.append(f"stopped at the first failure (--fail-fast), after {len(results)} of {options.runs} runs")
    if tally.neutralised:
        notes.append("switched off: " + ", ".join(tally.neutralised))
    if options.companions and tally.mode_ran is VerifyMode.RANDOM_ORDER:
        notes.append("random order among the tests of its module and of " + ", ".join(options.companions))
    addopts = os.environ.get("PYTEST_ADDOPTS", "").strip()
    if addopts:
        notes.append(f"PYTEST_ADDOPTS from the environment applied too: {addopts}")
    if verdict is Verdict.SKIPPED:
        notes.append("the test skips here, so it was run once and nothing was verified")
    if verdict is Verdict.BROKEN and tally.mode_ran in (VerifyMode.FORKED, VerifyMode.SAME_PROCESS):
        # Every forked child inherits the parent's string hash seed, so a set- or dict-order
        # cause fails every run alike and a flaky test looks broken.
        notes.append("all runs shared one hash seed: if set or dict order may matter, verify with --mode fresh-process")
    python = interpreter.description + (f" · {tally.versions}" if tally.versions else "")
    return Verification(
        nodeid=target.nodeid,
        rootdir=target.rootdir,
        mode=tally.mode_ran,
        runs_requested=options.runs,
        results=results,
        verdict=verdict,
        command=command_for(target, options) if command_for else "",
        python=python,
        started_at=started_at,
        note="; ".join(notes),
        pytest_args=options.pytest_args,
    )


def cli_command(root: Path, target: Target, options: VerifyOptions, python: str | None = None) -> str:
    """The ``flaketui verify`` command that repeats this verification exactly."""
    argv = ["flaketui", "-C", str(root)]
    if python:
        argv += ["--python", python]
    if options.pytest_args:
        argv += ["--pytest-args", shlex.join(options.pytest_args)]
    argv += ["verify", "--runs", str(options.runs), "--mode", str(options.mode)]
    if options.timeout is not None:
        argv += ["--timeout", f"{options.timeout:g}"]
    argv.append(target.repo_nodeid)
    return " ".join(shlex.quote(a) for a in argv)
