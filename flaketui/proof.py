"""The statistics of a fix proof: how many clean runs after a fix show it worked.

Before the fix the test failed ``k`` times in ``n`` runs. Its failure rate is at least
``p_low`` (the one-sided 95% Wilson lower bound). If the fix changed nothing, ``m`` runs in a
row pass with probability at most ``(1 - p_low) ** m``; with ``m = ln(0.05) / ln(1 - p_low)``
that is 5%, so ``m`` clean runs show the fix worked at 95% confidence (about 5 runs when the
test failed half the time, 29 at 10%, 149 at 2%). Standard library and models only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flaketui.models import Category, Verification, VerifyMode
from flaketui.models.history import Tally

#: One-sided 95%: the confidence the proof is stated at.
CONFIDENCE = 0.95
_Z = 1.6448536269514722  # the standard normal's 95th percentile
#: ``--min-runs``: never fewer clean runs after a fix than this, however high the old rate.
DEFAULT_MIN_RUNS = 10
#: ``--runs-before``: runs of the unfixed test that measure its failure rate.
DEFAULT_RUNS_BEFORE = 20
#: ``--max-runs``: a proof that needs more runs after the fix is refused.
DEFAULT_MAX_RUNS = 200


def lower_bound(failures: int, runs: int) -> float:
    """The one-sided 95% Wilson lower bound of the failure rate seen in ``runs``."""
    if runs <= 0 or failures <= 0:
        return 0.0
    p = failures / runs
    z2 = _Z * _Z
    centre = p + z2 / (2 * runs)
    spread = _Z * math.sqrt(p * (1 - p) / runs + z2 / (4 * runs * runs))
    return max(0.0, (centre - spread) / (1 + z2 / runs))


def runs_for_rate(rate: float) -> int:
    """Clean runs that rule out a failure rate of ``rate`` at 95% (``inf`` for rate 0)."""
    if rate <= 0:
        return math.inf  # type: ignore[return-value]  # an unbounded rate: callers compare it, never count with it
    if rate >= 1:
        return 1
    return math.ceil(math.log(1 - CONFIDENCE) / math.log(1 - rate))


def runs_needed(failures: int, runs: int, minimum: int = DEFAULT_MIN_RUNS) -> int | None:
    """Clean runs after the fix that prove it, or None when no failure was seen before."""
    if failures <= 0:
        return None
    return max(minimum, runs_for_rate(lower_bound(failures, runs)))


def mode_for(category: Category, remedy: str = "") -> VerifyMode:
    """The mode that makes this cause show: fresh interpreters for hash order, random order
    for state another test leaves behind, xdist for shared files; forked otherwise."""
    if remedy.startswith("order.") or remedy == "hash":
        return VerifyMode.FRESH_PROCESS
    if category is Category.ORDER or remedy.startswith("restore."):
        return VerifyMode.RANDOM_ORDER
    if remedy.startswith("isolate.") or category is Category.FIXTURE:
        return VerifyMode.PARALLEL
    return VerifyMode.FORKED


def tally_of(verification: Verification) -> Tally:
    """A verification's runs as passed and failed: a run that did not pass (an error, a
    timeout, a crash) counts against the test."""
    return Tally(verification.passed, verification.runs - verification.passed)


@dataclass(frozen=True)
class Proof:
    """Before and after, in one mode: what the commit message states."""

    mode: VerifyMode
    before: Tally
    after: Tally = field(default_factory=Tally)
    #: Clean runs after the fix that prove it (``runs_needed``); None when nothing failed before.
    needed: int | None = None

    @property
    def holds(self) -> bool:
        return self.needed is not None and self.after.failed == 0 and self.after.runs >= self.needed

    @property
    def text(self) -> str:
        """``before: 11 of 20 runs failed; after: 0 of 29; fixed at 95%`` (mode named)."""
        before = f"before: {self.before.failed} of {self.before.runs} runs failed"
        if self.needed is None:
            return f"{before} ({self.mode}): no cause was seen failing"
        after = f"after: {self.after.failed} of {self.after.runs}"
        verdict = f"fixed at {CONFIDENCE:.0%}" if self.holds else "not fixed"
        return f"{before}; {after}; {verdict} ({self.mode})"
