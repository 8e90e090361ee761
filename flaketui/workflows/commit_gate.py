"""The commit gate: a marker goes only after a stable, complete verification of this very
tree (same HEAD, same uncommitted changes), and only if the plan's files are as planned."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from flaketui import vcs
from flaketui.errors import FlakeTUIError
from flaketui.models import FixPlan, FlakyTest, TestKey, Verdict, Verification


def verification_gate(test: FlakyTest, verification: Verification | None) -> str | None:
    """Why ``verification`` does not allow removing the marker of ``test``, if it does not."""
    if verification is None:
        return f"{test.nodeid} has not been verified."
    if verification.verdict is not Verdict.STABLE:
        return f"{test.nodeid} is not stable: {verification.verdict}, {verification.summary}."
    if verification.runs < verification.runs_requested:
        return (
            f"The verification of {test.nodeid} stopped after {verification.runs} of "
            f"{verification.runs_requested} runs."
        )
    return None


def check_verified(root: Path, tests: Sequence[FlakyTest], latest: Mapping[TestKey, Verification]) -> None:
    """Raise, saying what to do, unless every test's ``latest`` verification lets its marker go."""
    state = vcs.tree_state(root)
    for test in tests:
        verification = latest.get(test.key)
        problem = verification_gate(test, verification)
        if problem:
            raise FlakeTUIError(problem, f"Verify it first: `flaketui fix {test.nodeid}` verifies, then commits.")
        assert verification is not None
        if verification.head != state.head:
            raise FlakeTUIError(
                f"HEAD moved since {test.nodeid} was verified ({(verification.head or 'none')[:12]} -> "
                f"{(state.head or 'none')[:12]}).",
                "Verify again on this commit, then commit the fix.",
            )
        if verification.tree_fingerprint != state.fingerprint:
            changed = sorted(set(verification.dirty_paths) ^ set(state.dirty_paths))
            where = f" ({', '.join(changed)})" if changed else " (a file was edited)"
            hint = "Verify again on this tree, then commit: the verification must cover what is committed."
            appeared = set(state.dirty_paths) - set(verification.dirty_paths)
            if appeared and all(vcs.status(root).get(p) == "??" for p in appeared):
                # Most often the tests themselves wrote these: verifying again would not help.
                hint += " If the test run writes these files, add them to .gitignore first."
            raise FlakeTUIError(f"The work tree changed since {test.nodeid} was verified{where}.", hint)


def stale_source(root: Path, plan: FixPlan) -> str | None:
    """The first file the plan edits whose bytes changed since it was planned."""
    for path, digest in plan.sources:
        target = root / path
        if not target.is_file() or sha256_of(target) != digest:
            return path
    return None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
