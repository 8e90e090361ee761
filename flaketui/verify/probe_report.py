"""What pytest's reports and items say, as flaketui's probe tells it: one run's outcome and
message, and the flaky markers of a collected item (``flaketui scan --collect``).

Runs inside the *target project's* interpreter, installed beside the probe under its name
and "_report", so it imports only the standard library and nothing of flaketui.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

import os

MESSAGE_LIMIT = 2000


def short_text(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else "..." + text[-MESSAGE_LIMIT:]


def project_frames(report: pytest.TestReport | pytest.CollectReport) -> str:
    """`` at src/app/queue.py:80 <- tests/test_queue.py:41``: where a failure ends in the
    project's own files (relative paths; installed packages are absolute), innermost first."""
    entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", None) or []
    frames = []
    for entry in reversed(entries):
        location = getattr(entry, "reprfileloc", None)
        path = str(getattr(location, "path", "") or "")
        if not path or os.path.isabs(path) or path.startswith("..") or "site-packages" in path:
            continue
        frames.append("{}:{}".format(path.replace(os.sep, "/"), getattr(location, "lineno", 0)))
    return "\n  at " + " <- ".join(frames[:4]) if frames else ""


def report_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return short_text(crash.message) + project_frames(report)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        return short_text(str(report.longrepr[2]))
    return short_text(str(report.longrepr or ""))


def classify(reports: Sequence[pytest.TestReport]) -> tuple[str, str]:
    """(outcome, message) of one run from its setup/call/teardown reports."""
    for report in reports:
        if report.when == "setup" and report.failed:
            return "error", "error in setup: " + report_message(report)
        if report.when == "call" and report.failed:
            return "failed", report_message(report)
    for report in reports:
        if report.when == "teardown" and report.failed:
            return "error", "error in teardown: " + report_message(report)
    for report in reports:
        # An xfail that failed as declared is what the test promises; a plain skip verifies nothing.
        if report.skipped and not hasattr(report, "wasxfail"):
            return "skipped", report_message(report).replace("Skipped: ", "", 1)
    return "passed", ""


#: Attributes the ``flaky`` package's decorator sets on a test function or class.
FLAKY_ATTRIBUTES = ("_flaky_max_runs", "_flaky_min_passes")


def safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a user object whose __repr__ fails, whatever it raises
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def flaky_items(items: Iterable[pytest.Item]) -> Iterator[dict[str, Any]]:
    """One ``item`` event for each collected item that carries a flaky marker or attribute."""
    for item in items:
        markers = [
            {
                "name": mark.name,
                "args": [safe_repr(a) for a in mark.args],
                "kwargs": [[k, safe_repr(v)] for k, v in sorted(mark.kwargs.items())],
            }
            for mark in item.iter_markers(name="flaky")
        ]
        attributes: list[list[str]] = []
        for owner in (getattr(item, "obj", None), getattr(item, "cls", None)):
            for name in FLAKY_ATTRIBUTES:
                if owner is not None and getattr(owner, name, None) is not None:
                    attributes.append([name, safe_repr(getattr(owner, name))])
            if attributes:
                break
        if not markers and not attributes:
            continue
        path = getattr(item, "path", None) or getattr(item, "fspath", None)
        cls = getattr(item, "cls", None)
        yield (
            {
                "event": "item",
                "nodeid": item.nodeid,
                "path": str(path) if path is not None else "",
                "line": (item.location[1] + 1) if item.location[1] is not None else 0,
                "name": getattr(item, "originalname", None) or item.name,
                "cls": cls.__name__ if cls is not None else None,
                "markers": markers,
                "flaky_attributes": attributes,
            }
        )


def worker_of(report: object) -> str | None:
    """The xdist worker (``gw0``...) a report came from, on the controller; None without xdist."""
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    worker = getattr(gateway, "id", None)
    return worker if isinstance(worker, str) else None
