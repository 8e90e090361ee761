"""The probe's ``suite`` mode (a hunt's whole-suite pass): pytest runs the suite itself, in its
own order, shuffled with a seed, or in a given order (bisection), and the probe reports each
test as it ends (``pytest_runtest_logreport``, as in the parallel mode).

Runs inside the *target project's* interpreter, installed beside the probe under its name
and "_suite", so it imports only the standard library and pytest. Events, besides ``run``:

- ``{"event": "collected", "nodeids": [...]}``: the tests in the order they will run
- ``{"event": "error", "nodeid": null, "where": ..., "message": ...}``: a module that did not collect
- ``{"event": "error", "nodeid": ..., "message": "not collected: ..."}``: a test of the order missing
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

#: A JSON file listing the node ids to run, in that order (bisection).
ENV_ORDER = "FLAKETUI_PROBE_ORDER"
#: Shuffle the modules, and the tests in each, with this seed.
ENV_SHUFFLE = "FLAKETUI_PROBE_SHUFFLE"
#: A JSON file of ``{nodeid: seconds}``: tests with a timeout of their own (one that hung before).
ENV_TIMEOUTS = "FLAKETUI_PROBE_TIMEOUTS"
_timeouts: dict[str, float] | None = None


def timeout_of(nodeid: str, default: float | None) -> float | None:
    """The seconds ``nodeid`` may run for in this pass: its own, else ``default``."""
    global _timeouts
    if _timeouts is None:
        path = os.environ.get(ENV_TIMEOUTS, "")
        _timeouts = {}
        if path:
            with open(path, encoding="utf-8") as handle:
                _timeouts = json.load(handle)
    return _timeouts.get(nodeid, default)


def wanted(mode: str, environ: Mapping[str, str]) -> bool:
    """In ``suite`` mode always; under xdist (``parallel``) when the pass is shuffled: every
    worker shuffles with the same seed, so they agree on the collection xdist compares."""
    return mode == "suite" or (mode == "parallel" and bool(environ.get(ENV_SHUFFLE)))


class Suite:
    """Registered by the probe in a hunt's pass; ``emit`` writes one event."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], environ: Mapping[str, str]) -> None:
        self.emit = emit
        self.order_path = environ.get(ENV_ORDER, "")
        raw = environ.get(ENV_SHUFFLE, "")
        self.shuffle = int(raw) if raw else None
        #: xdist workers collect the same tests: the controller reports them, not each worker.
        self.worker = "PYTEST_XDIST_WORKER" in environ

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and not self.worker:
            message = str(report.longreprtext).strip()[-2000:]
            self.emit({"event": "error", "nodeid": None, "where": report.nodeid, "message": message})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.order_path:
            with open(self.order_path, encoding="utf-8") as handle:
                wanted = json.load(handle)
            by_id: dict[str, pytest.Item] = {}
            for item in items:
                by_id.setdefault(item.nodeid, item)
            for nodeid in wanted:
                if nodeid not in by_id:
                    self.emit({"event": "error", "nodeid": nodeid, "message": "not collected: " + nodeid})
            items[:] = [by_id[n] for n in wanted if n in by_id]
        elif self.shuffle is not None:
            rng = random.Random(self.shuffle)
            if self.worker:  # each test alone, so neighbours go to different workers
                rng.shuffle(items)
                return
            modules: dict[str, list[pytest.Item]] = {}
            for item in items:
                modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
            groups = list(modules.values())
            rng.shuffle(groups)
            for group in groups:
                rng.shuffle(group)
            items[:] = [item for group in groups for item in group]
        if not self.worker:
            self.emit({"event": "collected", "nodeids": [item.nodeid for item in items]})
