"""What CI history and hunts say about tests that carry no marker: counts per test and source.

A test is keyed like every other test, ``(rootdir, nodeid)``: the node id pytest prints when
run from ``rootdir`` (repository-relative, ``"."`` for the root).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flaketui.models.key import NamesATest


class HuntMode(StrEnum):
    """How one whole-suite pass of a hunt ran."""

    SERIAL = "serial"
    SHUFFLED = "shuffled"
    XDIST = "xdist"


class HuntVerdict(StrEnum):
    STABLE = "stable"
    #: Failed in some runs and passed in others of one mode, whatever the order.
    FLAKY = "flaky"
    #: Fails only in some orders (a polluter ran before it, or a setter did not).
    ORDER_DEPENDENT = "order-dependent"
    #: Fails only when xdist runs the suite.
    PARALLEL_UNSAFE = "parallel-unsafe"
    #: Failed every time it ran: not flaky, broken.
    BROKEN = "broken"


@dataclass(frozen=True)
class Tally:
    """Pass/fail counts of one test in one source (a hunt mode, CI history, a fix proof's before or after)."""

    passed: int = 0
    failed: int = 0

    @property
    def runs(self) -> int:
        return self.passed + self.failed

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.passed + other.passed, self.failed + other.failed)

    @property
    def failure_rate(self) -> float:
        return self.failed / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class TestHistory(NamesATest):
    """One test across imported JUnit reports.

    ``passed``/``failed`` count attempts (a rerun plugin's failed attempt then its passed one is
    one of each); ``flips`` counts changes of outcome from one attempt to the next, in report
    order, and ``flip_rate`` divides them by the changes possible.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    rootdir: str
    nodeid: str
    passed: int
    failed: int
    reports: int
    flips: int
    first_seen: str
    last_seen: str
    last_failure: str = ""

    @property
    def attempts(self) -> int:
        return self.passed + self.failed

    @property
    def flip_rate(self) -> float:
        return self.flips / (self.attempts - 1) if self.attempts > 1 else 0.0

    @property
    def is_candidate(self) -> bool:
        """Both passed and failed: flaky by its history. A test that always failed is broken."""
        return self.passed > 0 and self.failed > 0


@dataclass(frozen=True)
class ImportProblem:
    path: str
    reason: str


@dataclass(frozen=True)
class ImportSummary:
    """What ``flaketui import`` did: reports read, reports seen before, files it skipped."""

    imported: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    problems: tuple[ImportProblem, ...] = ()
    testcases: int = 0
    #: Test ids that matched no file of the repository (their node id is a best guess).
    unmatched: tuple[str, ...] = ()


@dataclass(frozen=True)
class HuntTest(NamesATest):
    """One test of a hunt: its counts per mode, its verdict and, if confirmed, its polluter."""

    __test__ = False

    rootdir: str
    nodeid: str
    modes: tuple[tuple[HuntMode, Tally], ...]
    verdict: HuntVerdict
    polluter: str | None = None
    last_failure: str = ""
    #: For a test that fails alone: the test it passes after (it sets up what this one needs).
    setter: str | None = None

    @property
    def total(self) -> Tally:
        total = Tally()
        for _, tally in self.modes:
            total = total + tally
        return total

    def mode(self, mode: HuntMode) -> Tally:
        return dict(self.modes).get(mode, Tally())


@dataclass(frozen=True)
class HuntReport:
    """A hunt: every test that did not pass every run, and whether the suite is stable.

    ``complete`` is False when the budget or a cancel cut it short (``--resume`` continues it).
    """

    hunt_id: int
    rootdir: str
    runs_per_mode: int
    runs_done: tuple[tuple[HuntMode, int], ...]
    tests: tuple[HuntTest, ...]
    complete: bool
    #: Each shuffled or xdist run's seed, with its mode.
    seeds: tuple[tuple[HuntMode, int], ...] = ()
    notes: tuple[str, ...] = ()
    suite_size: int = 0
    bisection_runs: int = 0
    seconds: float = 0.0

    @property
    def flaky(self) -> tuple[HuntTest, ...]:
        return tuple(t for t in self.tests if t.verdict not in (HuntVerdict.STABLE, HuntVerdict.BROKEN))

    @property
    def serial_equals_parallel(self) -> bool | None:
        """Every test's xdist outcomes match its serial ones (None: xdist did not run)."""
        if not dict(self.runs_done).get(HuntMode.XDIST):
            return None
        return not any(t.verdict is HuntVerdict.PARALLEL_UNSAFE for t in self.tests)

    @property
    def identical_runs(self) -> bool:
        """Every run gave every test the same outcome (broken tests fail alike each time)."""
        return not self.flaky

    @property
    def stable(self) -> bool:
        return self.identical_runs and self.serial_equals_parallel is not False


@dataclass(frozen=True)
class Polluter:
    """A test whose run makes ``victim`` fail afterwards, confirmed by bisection runs."""

    rootdir: str
    victim: str
    polluter: str
    runs: int
    hunt_id: int | None = None
    #: When it was recorded: None until the store records it (and stamps the time).
    confirmed_at: str | None = None


@dataclass(frozen=True)
class Candidate(NamesATest):
    """An unmarked test that history or a hunt shows flaky: ``sources`` by name."""

    rootdir: str
    nodeid: str
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure_rate: float = 0.0
    runs: int = 0


@dataclass(frozen=True)
class SuiteOutcome:
    """One test's outcome in one whole-suite run: passed, skipped or failed (an error in setup or
    teardown, a timeout and a crash count as failed; ``message`` says which)."""

    nodeid: str
    outcome: str
    message: str = ""
    #: Seconds it ran; None when not known (runs read back from the record).
    duration: float | None = None


@dataclass(frozen=True)
class HuntRun:
    """One whole-suite pass: its mode, the order's seed (shuffled), its hash seed, and every
    test's outcome in the order the tests ran. ``complete`` is False for a run cut short."""

    mode: HuntMode
    hash_seed: int
    outcomes: tuple[SuiteOutcome, ...]
    seed: int | None = None
    seconds: float = 0.0
    complete: bool = True

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(o.nodeid for o in self.outcomes)


@dataclass(frozen=True)
class HuntProgress:
    """Where a hunt is: ``run`` of ``runs`` whole-suite passes (or a bisection step), the tests
    done in the current one, and an estimate of the seconds left (None before the first pass)."""

    phase: str  # "run" or "bisect"
    run: int
    runs: int
    mode: str
    tests_done: int
    suite_size: int
    elapsed: float
    eta: float | None
    #: A finished test of the current pass, for live partial results (None between passes).
    outcome: SuiteOutcome | None = None
