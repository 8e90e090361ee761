"""What a stable verification does not prove, said before a marker goes.

A marker whose ``condition=`` names another platform applies where these runs never ran;
a verification with fewer runs than the team's minimum bounds the failure rate loosely.
Either needs the user's explicit word before the commit (``!`` in the app, ``--anyway``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping

from flaketui.models import FlakyTest, TestKey, Verdict, Verification

#: sys.platform values by the words a condition names them with.
_PLATFORM_WORDS = {
    "windows": "win32", "win": "win32", "win32": "win32", "win64": "win32", "nt": "win32", "cygwin": "win32",
    "macos": "darwin", "mac": "darwin", "osx": "darwin", "darwin": "darwin", "apple": "darwin",
    "linux": "linux",
}  # fmt: skip
_PLATFORM_NAMES = {"win32": "Windows", "darwin": "macOS", "linux": "Linux"}
#: Words of an identifier or string: ``IS_WINDOWS`` -> IS, WINDOWS; ``isMacOS`` -> is, Mac, OS; ``win32``.
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")


def platform_of(value: str) -> str:
    """``linux``, ``win32`` or ``darwin`` for a ``sys.platform`` value (others as they are)."""
    for key in ("win32", "darwin", "linux"):
        if value.startswith(key[:3] if key == "win32" else key):
            return key
    return value


def platforms_named(condition: str) -> set[str]:
    """The platforms a condition's words name: ``IS_WINDOWS``, ``sys.platform == "darwin"``..."""
    words = {w.lower() for w in _WORD.findall(condition.replace("_", " "))}
    return {_PLATFORM_WORDS[w] for w in words if w in _PLATFORM_WORDS}


def platform_caution(test: FlakyTest, here: str = sys.platform) -> str | None:
    """Why runs on ``here`` say nothing about where the marker applies, if they do not."""
    platform = platform_of(here)
    for marker in test.markers:
        condition = marker.args_dict.get("condition")
        if not condition:
            continue
        others = sorted(platforms_named(condition) - {platform})
        if others:
            names = " or ".join(_PLATFORM_NAMES.get(p, p) for p in others)
            return (
                f"{test.nodeid}: its marker applies only when condition={condition}, which names {names}; "
                f"the runs here on {_PLATFORM_NAMES.get(platform, platform)} prove nothing about {names}."
            )
    return None


def few_runs_caution(verification: Verification, min_runs: int) -> str | None:
    """What a stable verification of fewer runs than ``min_runs`` leaves open."""
    if verification.verdict is not Verdict.STABLE or verification.runs >= min_runs:
        return None
    return (
        f"{verification.nodeid} was verified with {verification.runs} runs, fewer than the {min_runs} "
        f"[tool.flaketui] min-runs asks: {verification.few_runs_meaning}."
    )


def cautions(
    tests: Iterable[FlakyTest], verifications: Mapping[TestKey, Verification], min_runs: int
) -> tuple[str, ...]:
    """Every caution for committing the removal of these tests' marker."""
    found = []
    for test in tests:
        platform = platform_caution(test)
        if platform:
            found.append(platform)
        verification = verifications.get(test.key)
        few = few_runs_caution(verification, min_runs) if verification is not None else None
        if few:
            found.append(few)
    return tuple(found)
