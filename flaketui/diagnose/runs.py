"""Evidence from verification runs: what each failing run raised, where in the project's files
its traceback ended, and which modes failed while others passed.

The probe records a failure's message as pytest states it (``ConnectionRefusedError: [Errno
111] Connection refused``) followed by ``at path:line <- path:line``, the project frames of
its traceback, innermost first. A test that fails only in random order depends on its
neighbours; only with a fresh hash seed, on set or dict order; only under xdist, on what
workers share. Standard library and models only (no libcst): it runs on cached diagnoses too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from flaketui.models import (
    Category,
    Evidence,
    RunOutcome,
    RunResult,
    Verification,
    VerifyMode,
)

_EXCEPTION = re.compile(r"^(?:error in (?:setup|teardown): )?((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|"
                        r"Timeout|Refused|Failed|Warning))\b:?\s?(.*)", re.DOTALL)
_FRAMES = re.compile(r"\n  at (.+)$")
#: Exception names that say what failed: the network, a wait, the data's order.
_NETWORK = re.compile(r"Connection(Refused|Reset|Aborted)?Error|gaierror|SSLError|ProxyError|HTTPError|URLError"
                      r"|RemoteDisconnected|ReadTimeout|ConnectTimeout|requests\.exceptions|urllib3\.exceptions"
                      r"|httpx\.\w+Error|ClientConnectorError|ServerDisconnectedError")
_WAITING = re.compile(r"^(asyncio\.)?(TimeoutError|CancelledError)$|Timeout$|^Failed: Timeout")
_ASSERT_PAIR = re.compile(r"^assert (.+?) == (.+?)(?:\n|$)")
#: Modes whose failures, with none in the ordinary modes, point at a cause.
_MODE_CAUSES = {
    VerifyMode.RANDOM_ORDER: (Category.ORDER, ("fails only among its neighbours in random order: it depends on what "
                              "another test leaves behind (or does not)"), "run.order-only"),
    VerifyMode.FRESH_PROCESS: (Category.DATA, ("fails only with a fresh PYTHONHASHSEED: it depends on set or dict "
                               "order"), "run.hashseed-only"),
    VerifyMode.PARALLEL: (Category.FIXTURE, ("fails only under xdist: it shares files, ports or state with tests in "
                          "other workers"), "run.parallel-only"),
}
_ORDINARY = frozenset({VerifyMode.FORKED, VerifyMode.SAME_PROCESS})


@dataclass(frozen=True)
class Failure:
    exception: str
    message: str
    frames: tuple[tuple[str, int], ...]
    mode: VerifyMode


def failures(verifications: Sequence[Verification], rootdir: str = ".") -> list[Failure]:
    found = []
    prefix = "" if rootdir in {"", "."} else rootdir.rstrip("/") + "/"
    for verification in verifications:
        for run in verification.results:
            if run.outcome in {RunOutcome.FAILED, RunOutcome.ERROR, RunOutcome.TIMEOUT}:
                found.append(_failure(run, verification.mode, prefix))
    return found


def _failure(run: RunResult, mode: VerifyMode, prefix: str) -> Failure:
    text = run.message
    frames: tuple[tuple[str, int], ...] = ()
    trail = _FRAMES.search(text)
    if trail is not None:
        text = text[:trail.start()]
        places = [part.rsplit(":", 1) for part in trail.group(1).split(" <- ")]
        frames = tuple((prefix + path, int(line)) for path, line in places if line.isdigit())
    if run.outcome is RunOutcome.TIMEOUT:
        return Failure("Timeout", text, frames, mode)
    match = _EXCEPTION.match(text)
    if match is None:
        return Failure("AssertionError" if text.startswith("assert ") else "", text, frames, mode)
    return Failure(match.group(1), match.group(2), frames, mode)


def run_evidence(verifications: Sequence[Verification], rootdir: str = ".", *, notes: bool = True) -> list[Evidence]:
    """What the runs say, as evidence (``source="runs"``); with ``notes``, a note when nothing failed yet."""
    if not notes and not failures(verifications, rootdir):
        return []
    if not verifications:
        return [_note("no verification has run this test yet: no run evidence exists", "verify it (v) to see how it fails")]
    failed = failures(verifications, rootdir)
    runs = sum(v.runs for v in verifications)
    if not failed:
        return [_note(f"no run evidence: none of {runs} runs in {len(verifications)} verification(s) failed",
                      "a stable verification allows a small failure rate; try another mode (random-order, fresh-process)")]
    where = f"from {len(failed)} failed run{'s' if len(failed) != 1 else ''} of {runs}"
    found: list[Evidence] = []
    exceptions = Counter(f.exception or "failure" for f in failed)
    exception, count = exceptions.most_common(1)[0]
    example = next(f for f in failed if (f.exception or "failure") == exception)
    category, rule = _exception_cause(exception, example)
    ends = Counter(f.frames[0] for f in failed if f.frames)
    path, line = ends.most_common(1)[0][0] if ends else ("", 0)
    summary = f"{count} of {len(failed)} raised {exception}" + (f": {_clip(example.message)}" if example.message else "")
    if ends:
        summary += f"; failures end at {path}:{line}"
    weight = round(_strength(rule) * count / len(failed), 3) if category is not Category.UNKNOWN else 0.0
    found.append(Evidence(category, rule, path, line, line, summary, _exception_fix(rule), weight, where, source="runs"))
    found += _mode_pattern(verifications, failed, where)
    return found


def _exception_cause(exception: str, example: Failure) -> tuple[Category, str]:
    if _NETWORK.search(exception) or _NETWORK.search(example.message[:200]):
        return Category.EXTERNAL, "run.network-error"
    if _WAITING.search(exception):
        return Category.ASYNC, "run.timeout"
    if exception == "AssertionError" and _same_elements(example.message):
        return Category.DATA, "run.same-elements-other-order"
    return Category.UNKNOWN, "run.failure"


def _same_elements(message: str) -> bool:
    """``assert [1, 2, 3] == [2, 1, 3]`` or ``'a [x, y]' == 'a [y, x]'``: the same elements in
    another order, which is what set and dict order (or completion order) produce."""
    match = _ASSERT_PAIR.match(message.strip())
    if match is None:
        return False
    left, right = match.group(1), match.group(2)
    if left == right:
        return False
    tokens = re.compile(r"[\w.-]+")
    return sorted(tokens.findall(left)) == sorted(tokens.findall(right)) and len(tokens.findall(left)) > 1


def _mode_pattern(verifications: Sequence[Verification], failed: list[Failure], where: str) -> list[Evidence]:
    failing = {f.mode for f in failed}
    passing = [(str(v.mode), v.runs) for v in verifications if v.mode in _ORDINARY and v.runs >= 5 and v.passed == v.runs]
    passing += _serial_baselines(verifications)
    found = []
    for mode in failing & _MODE_CAUSES.keys():
        if failing - {mode} or not passing:
            continue
        category, message, rule = _MODE_CAUSES[mode]
        runs = sum(n for _, n in passing)
        found.append(Evidence(category, rule, "", 0, 0, f"{message} ({runs} runs in {passing[0][0]} passed)",
                              _mode_fix(mode), 0.85, where, source="runs"))
    return found


#: A parallel verification's own serial baseline, as its note states it.
_SERIAL = re.compile(r"unlike serial \(([\w-]+)\) (\d+)/(\d+)")


def _serial_baselines(verifications: Sequence[Verification]) -> list[tuple[str, int]]:
    """The serial runs a parallel verification compared itself with, where every one passed:
    "parallel (2 xdist workers) 4/10 passed, unlike serial (forked) 10/10"."""
    found = []
    for verification in verifications:
        match = _SERIAL.search(verification.note) if verification.mode is VerifyMode.PARALLEL else None
        if match is not None and match.group(2) == match.group(3) and int(match.group(3)) >= 5:
            found.append((match.group(1), int(match.group(3))))
    return found


def _strength(rule: str) -> float:
    return {"run.network-error": 0.8, "run.timeout": 0.5, "run.same-elements-other-order": 0.7}.get(rule, 0.0)


def _exception_fix(rule: str) -> str:
    return {
        "run.network-error": "the failures are the network's: mock it, or serve it locally",
        "run.timeout": "the runs waited too long: wait for the condition itself, with a generous deadline",
        "run.same-elements-other-order": "the same elements came back in another order: sort before comparing",
    }.get(rule, "the line where failures end is where to look first")


def _mode_fix(mode: VerifyMode) -> str:
    return {
        VerifyMode.RANDOM_ORDER: "find the neighbour that leaves state behind (flaketui hunt) and make it clean up",
        VerifyMode.FRESH_PROCESS: "sort what comes out of a set or dict before comparing",
        VerifyMode.PARALLEL: "give each test its own files and ports (tmp_path, port 0)",
    }[mode]


def _note(message: str, fix: str) -> Evidence:
    return Evidence(Category.UNKNOWN, "run.none", "", 0, 0, message, fix, 0.0, "runs", source="runs")


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 140 else flat[:137] + "..."


def fingerprint(verifications: Sequence[Verification]) -> str:
    """What the cache key needs of the runs: the latest verification of each, by time and count."""
    return ";".join(f"{v.started_at}/{v.mode}/{v.runs}/{v.passed}" for v in verifications)
