"""Whole-suite passes for a hunt, and the runs bisection asks for: the probe in ``suite`` mode.

A pass is one pytest process in the rootdir, with its own ``PYTHONHASHSEED``, rerun plugins
switched off (the probe), and the suite in pytest's order, shuffled with a seed, in a given
order (bisection), or spread over xdist workers. Each test's outcome comes through the probe's
events file as it finishes; a stop or the deadline kills the whole process group and the
pass counts as incomplete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaketui.models.history import HuntMode, SuiteOutcome
from flaketui.verify.engine import PARALLEL_WORKERS, failure_summary
from flaketui.verify.runner import ProbeRequest, Watch, run_probe

OutcomeCallback = Callable[[SuiteOutcome], None]
StopPredicate = Callable[[], bool]

#: pytest stops before any test at a collection error; a hunt runs what collected.
_KEEP_GOING = ("--continue-on-collection-errors",)


@dataclass(frozen=True)
class Suite:
    """The tests a pass runs and how pytest starts: the same for every pass of a hunt."""

    cwd: Path
    python: str
    #: Relative to ``cwd``, as pytest's arguments.
    paths: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuitePass:
    """What one pass asks for: the suite, in ``mode``, under ``PYTHONHASHSEED=hash_seed``, in
    pytest's order, shuffled by ``seed``, or exactly the node ids of ``order`` (bisection)."""

    suite: Suite
    mode: HuntMode
    hash_seed: int
    seed: int | None = None
    order: tuple[str, ...] | None = None
    #: Seconds a test may run, and the tests with a shorter timeout of their own (they hung before).
    timeout: float | None = None
    timeouts: Mapping[str, float] = field(default_factory=dict)


@dataclass
class SuiteResult:
    outcomes: list[SuiteOutcome] = field(default_factory=list)
    #: The node ids in the order pytest was to run them (serial and shuffled passes).
    collected: tuple[str, ...] = ()
    #: Collected tests without an outcome, in order: the first was running when the pass ended.
    unfinished: tuple[str, ...] = ()
    #: False when an xdist pass found no pytest-xdist in the target's environment.
    xdist: bool | None = None
    complete: bool = False
    cancelled: bool = False
    problem: str = ""
    seconds: float = 0.0


def run_pass(
    request: SuitePass,
    probe_dir: str,
    *,
    on_outcome: OutcomeCallback | None = None,
    should_stop: StopPredicate | None = None,
    deadline_seconds: float | None = None,
) -> SuiteResult:
    """Run the pass to the end, or until ``should_stop`` or the deadline (then incomplete)."""
    import time

    result = SuiteResult()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flaketui-hunt-") as scratch:
        env = {"PYTHONHASHSEED": str(request.hash_seed)}
        if request.order is not None:
            order_path = os.path.join(scratch, "order.json")
            Path(order_path).write_text(json.dumps(list(request.order)), encoding="utf-8")
            env["FLAKETUI_PROBE_ORDER"] = order_path
        elif request.seed is not None:
            env["FLAKETUI_PROBE_SHUFFLE"] = str(request.seed)
        if request.timeouts:
            timeouts_path = os.path.join(scratch, "timeouts.json")
            Path(timeouts_path).write_text(json.dumps(dict(request.timeouts)), encoding="utf-8")
            env["FLAKETUI_PROBE_TIMEOUTS"] = timeouts_path
        xdist = request.mode is HuntMode.XDIST
        suite = request.suite
        args = (*suite.paths, *_KEEP_GOING)
        probe = ProbeRequest(
            python=suite.python,
            cwd=suite.cwd,
            # Node ids of a bisection run are selected by the order file, so whole paths here.
            args=(*args, "-n", str(PARALLEL_WORKERS)) if xdist else args,
            pytest_args=suite.pytest_args,
            mode="parallel" if xdist else "suite",
            runs=1,
            timeout=request.timeout,
            seed=request.seed,
            extra_env=env,
            probe_everywhere=xdist,
        )

        def consume(event: dict[str, Any]) -> None:
            kind = event.get("event")
            if kind == "collected":
                result.collected = tuple(event.get("nodeids") or ())
            elif kind == "run":
                outcome = _outcome(event)
                result.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
            elif kind == "error" and not event.get("nodeid"):
                where = event.get("where")
                result.problem = result.problem or (f"{where}: " if where else "") + str(event.get("message"))

        outcome = run_probe(probe, probe_dir, Watch(consume, should_stop, deadline_seconds))
    result.seconds = time.monotonic() - started
    result.cancelled = outcome.cancelled
    # pytest exits 0 (all passed) or 1 (some failed) after running every test; anything else
    # (interrupted, usage error, killed at the deadline) leaves the pass incomplete.
    result.complete = not outcome.cancelled and outcome.returncode in (0, 1)
    if xdist and not result.outcomes and "-n" in outcome.output and "unrecognized" in outcome.output:
        result.problem = "pytest-xdist is not installed in the target's environment"
        result.xdist = False
    elif result.complete and not outcome.of("start"):
        # pytest exits 1 when a -p plugin fails to import: then nothing ran, whatever it says.
        result.complete = False
        result.problem = f"flaketui's probe did not start in pytest: {failure_summary(outcome.output)}"
    elif not result.complete and not outcome.cancelled and not result.problem:
        if outcome.returncode is None or outcome.returncode < 0:  # killed at the deadline
            result.problem = f"killed after {deadline_seconds or 0:.0f} s"
        else:
            result.problem = f"pytest exited with code {outcome.returncode}: {failure_summary(outcome.output)}"
    ran = {o.nodeid for o in result.outcomes}
    result.unfinished = tuple(n for n in result.collected if n not in ran)
    if result.unfinished and not outcome.cancelled and outcome.of("start"):
        # A test ended the process (os._exit, a crash, a hang killed), whatever its exit code says.
        code = outcome.returncode
        how = f"killed after {deadline_seconds or 0:.0f} s" if code is None or code < 0 else f"exit code {code}"
        result.complete = False
        result.problem = f"pytest ended in {result.unfinished[0]} ({how}); {len(result.unfinished)} tests did not end"
    return result


def _outcome(event: dict[str, Any]) -> SuiteOutcome:
    outcome = str(event.get("outcome"))
    message = str(event.get("message") or "")
    if outcome == "error" and message.startswith("skipped: "):  # a probe that calls a skip an error
        outcome, message = "skipped", message[len("skipped: ") :]
    elif outcome not in ("passed", "skipped"):
        outcome = "failed"  # failed, error (setup/teardown), timeout, crashed: the test did not pass
    return SuiteOutcome(str(event["nodeid"]), outcome, message, float(event.get("duration") or 0.0))

