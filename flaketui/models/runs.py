"""What verification records: each run's outcome, and the verdict over N runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from flaketui.models.key import NamesATest
from flaketui.models.scan import JSONObject, fields_json

#: Runs a verification needs before a commit without asking (``[tool.flaketui] min-runs``).
DEFAULT_MIN_RUNS = 10


class RunOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    #: The test skipped itself (``skip``, ``skipif``, ``importorskip``): it said nothing.
    SKIPPED = "skipped"


class Verdict(StrEnum):
    STABLE = "stable"
    FLAKY = "flaky"
    BROKEN = "broken"
    ERROR = "error"
    #: The test skips here: nothing was verified (the message says why it skips).
    SKIPPED = "skipped"
    #: Stopped before the runs asked for: what ran is kept, but it verifies nothing.
    CANCELLED = "cancelled"


class VerifyMode(StrEnum):
    FORKED = "forked"
    SAME_PROCESS = "same-process"
    FRESH_PROCESS = "fresh-process"
    RANDOM_ORDER = "random-order"
    PARALLEL = "parallel"


@dataclass(frozen=True)
class RunResult:
    nodeid: str
    index: int
    outcome: RunOutcome
    duration: float = 0.0
    message: str = ""
    seed: int | None = None

    def to_json(self) -> JSONObject:
        return fields_json(self)


def failure_rate_upper_95(failures: int, runs: int) -> float:
    """One-sided 95% upper bound on the failure rate (Clopper-Pearson).

    After 0 failures in 10 runs this is 1 - 0.05**(1/10) = 0.259: ten passes still allow a
    failure rate of about 26%. Solved by bisection on the binomial tail so it needs no SciPy.
    """
    if runs <= 0:
        return 1.0
    if failures >= runs:
        return 1.0

    def tail(p: float) -> float:  # P(X <= failures | n=runs, p)
        return sum(math.comb(runs, k) * p**k * (1 - p) ** (runs - k) for k in range(failures + 1))

    lo, hi = failures / runs, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if tail(mid) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class Verification(NamesATest):
    """N runs of one test and what they say. ``head``/``tree_fingerprint`` pin the tree it ran on."""

    nodeid: str
    rootdir: str
    mode: VerifyMode
    runs_requested: int
    results: tuple[RunResult, ...]
    verdict: Verdict
    command: str
    head: str | None = None
    tree_fingerprint: str | None = None
    python: str = ""
    started_at: str = ""
    #: Why the mode differs from the one asked for, a collection error, ...
    note: str = ""
    #: Paths with uncommitted changes when it ran (the commit message names those left out).
    dirty_paths: tuple[str, ...] = ()
    #: Extra pytest arguments every run had (``--pytest-args``, ``[tool.flaketui] pytest-args``).
    pytest_args: tuple[str, ...] = ()

    def count(self, outcome: RunOutcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def runs(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return self.count(RunOutcome.PASSED)

    @property
    def failure_rate_upper_95(self) -> float:
        return failure_rate_upper_95(self.runs - self.passed, self.runs)

    def to_json(self) -> JSONObject:
        """What ``verify --json`` prints for one test: the counts, the verdict and its bound,
        the tree it ran on, every seed and each run that did not pass."""
        return {
            "nodeid": self.nodeid,
            "rootdir": self.rootdir,
            "runs": self.runs,
            "runs_requested": self.runs_requested,
            "passed": self.passed,
            "failed": self.count(RunOutcome.FAILED),
            "errors": self.count(RunOutcome.ERROR),
            "timeouts": self.count(RunOutcome.TIMEOUT),
            "crashed": self.count(RunOutcome.CRASHED),
            "skipped": self.count(RunOutcome.SKIPPED),
            "skip_reason": self.skip_reason,
            "pytest_args": list(self.pytest_args),
            "verdict": str(self.verdict),
            "failure_rate_upper_95": round(self.failure_rate_upper_95, 4),
            "mode": str(self.mode),
            "command": self.command,
            "head": self.head,
            "tree_fingerprint": self.tree_fingerprint,
            "dirty_paths": list(self.dirty_paths),
            "python": self.python,
            "started_at": self.started_at,
            "note": self.note,
            "seeds": [r.seed for r in self.results],
            "failures": [r.to_json() for r in self.results if r.outcome is not RunOutcome.PASSED],
        }

    @property
    def few_runs_meaning(self) -> str:
        """What so few passing runs leave open, in numbers a person can weigh."""
        bound = round(self.failure_rate_upper_95 * 100)
        chance = round(0.8**self.runs * 100)
        return (
            f"{self.passed}/{self.runs} passes still allow a failure rate of {bound}% at 95%, and a test that "
            f"fails one run in five passes {self.runs} in a row {chance}% of the time"
        )

    @property
    def skip_reason(self) -> str:
        """Why the test skipped ("" when it did not)."""
        return next((r.message for r in self.results if r.outcome is RunOutcome.SKIPPED), "")

    @property
    def summary(self) -> str:
        """``10/10 passed, forked, failure rate < 26% at 95%``; no bound where the runs verified nothing."""
        if self.verdict is Verdict.SKIPPED:
            return f"skipped, {self.mode}: {self.skip_reason or 'no reason given'}"
        if self.verdict is Verdict.CANCELLED:
            return f"cancelled after {self.runs} of {self.runs_requested} runs ({self.passed} passed), {self.mode}"
        bound = round(self.failure_rate_upper_95 * 100)
        return f"{self.passed}/{self.runs} passed, {self.mode}, failure rate < {bound}% at 95%"


@dataclass(frozen=True)
class VerifyOptions:
    """How to verify: the runs per test, how they are isolated, a per-run timeout."""

    runs: int = 10
    mode: VerifyMode = VerifyMode.FORKED
    timeout: float | None = None
    fail_fast: bool = False
    #: The project's own pytest options, given to every pytest process of the verification.
    pytest_args: tuple[str, ...] = ()
    #: Random order: other test modules (paths as pytest takes them from the rootdir) whose tests
    #: are shuffled in with those of the test's module (where a polluter was found).
    companions: tuple[str, ...] = ()
    #: Random order: the first run's shuffle seed (run i takes seed + i), to repeat runs exactly.
    seed: int | None = None
