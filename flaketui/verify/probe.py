"""flaketui's pytest plugin: runs the selected tests N times and reports each run as a JSON line.

This file runs inside the *target project's* interpreter (Python 3.8+, pytest 7 to 9), copied
alone under a unique module name into a temporary directory on PYTHONPATH and loaded with
``-p``. So it imports only the standard library and pytest, and nothing of flaketui.

It is inert unless ``FLAKETUI_PROBE_EVENTS`` names the file to append events to. Events, one
JSON object per line, each written with a single ``os.write`` on an ``O_APPEND`` descriptor:

- ``{"event": "start", "python": ..., "pytest": ..., "neutralised": [...]}``
- ``{"event": "child", "pgid": N}`` before every forked run, so the parent can kill it on cancel
- ``{"event": "run", "nodeid", "index", "outcome", "duration", "message", "seed"}``
- ``{"event": "fallback", "reason": ...}`` when forking is unsafe (threads already run)
- ``{"event": "error", "nodeid": ... or null, "message": ...}`` collection errors, missing tests
"""

from __future__ import annotations

import functools
import gc
import importlib
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

# Installed beside this file under this module's name and "_fork", "_report" (in flaketui:
# flaketui.verify.probe_fork and probe_report).
_fork = importlib.import_module(__name__ + "_fork")
_report = importlib.import_module(__name__ + "_report")
_suite = importlib.import_module(__name__ + "_suite")  # probe_suite: a hunt's whole-suite pass

try:  # pytest 7 to 9 all have it; it is the only private name we use
    from _pytest.runner import runtestprotocol
except ImportError:  # pragma: no cover - a future pytest
    runtestprotocol = None  # type: ignore[assignment]  # checked before use, for a pytest without it

ENV_EVENTS = "FLAKETUI_PROBE_EVENTS"
ENV_MODE = "FLAKETUI_PROBE_MODE"
ENV_RUNS = "FLAKETUI_PROBE_RUNS"
ENV_TARGETS = "FLAKETUI_PROBE_TARGETS"
ENV_TIMEOUT = "FLAKETUI_PROBE_TIMEOUT"
ENV_FAIL_FAST = "FLAKETUI_PROBE_FAIL_FAST"
ENV_INDEX = "FLAKETUI_PROBE_INDEX"
ENV_SEED = "FLAKETUI_PROBE_SEED"
ENV_COMPANIONS = "FLAKETUI_PROBE_COMPANIONS"

#: Packages whose plugins retry or reseed tests: each would hide or distort a failure.
NEUTRALISED_PACKAGES = ("pytest_rerunfailures", "flaky", "pytest_retry", "pytest_randomly")


if TYPE_CHECKING:  # the target's Python may be 3.8: subscripted builtins only in annotations
    #: One event, as the JSON object written for it.
    Event = dict[str, Any]


class _Settings:
    """What the engine asked for, from the environment; inactive (no events file) by default."""

    def __init__(self, environ: dict[str, str] | os._Environ[str]) -> None:
        self.events_path = environ.get(ENV_EVENTS, "")
        self.mode = environ.get(ENV_MODE, "forked")
        self.runs = int(environ.get(ENV_RUNS, "1") or "1")
        self.targets = json.loads(environ.get(ENV_TARGETS, "[]") or "[]")
        raw_timeout = environ.get(ENV_TIMEOUT, "")
        self.timeout = float(raw_timeout) if raw_timeout else None
        self.fail_fast = environ.get(ENV_FAIL_FAST, "") == "1"
        self.first_index = int(environ.get(ENV_INDEX, "0") or "0")
        raw_seed = environ.get(ENV_SEED, "")
        self.seed = int(raw_seed) if raw_seed else None
        self.companions = json.loads(environ.get(ENV_COMPANIONS, "[]") or "[]")

    @property
    def active(self) -> bool:
        return bool(self.events_path)


_settings = _Settings({})
_config: pytest.Config | None = None
_events_fd: int | None = None
_collect_errors: list[tuple[str, str]] = []
_neutralised: list[str] = []


def _emit(event: Event) -> None:
    if _events_fd is None:
        return
    os.write(_events_fd, (json.dumps(event) + "\n").encode("utf-8"))


def _announce(pgid: int) -> None:
    _emit({"event": "child", "pgid": pgid})


def _plugin_package(plugin: object) -> str:
    name = getattr(plugin, "__name__", None) if isinstance(plugin, type(sys)) else None
    if name is None:
        name = type(plugin).__module__
    return (name or "").split(".")[0]


def _is_rerunning(plugin: object) -> bool:
    # Their xdist handshake objects only pass ports and seeds to workers, where the
    # plugins' own configure expects them; without them an xdist run crashes.
    if plugin is None or _plugin_package(plugin) not in NEUTRALISED_PACKAGES:
        return False
    return not (not isinstance(plugin, type(sys)) and hasattr(type(plugin), "pytest_configure_node"))


def _neutralise(pluginmanager: pytest.PytestPluginManager) -> list[str]:
    """Unregister every plugin of the retrying/reseeding packages; return what is left of them."""
    for name, plugin in list(pluginmanager.list_name_plugin()):
        if _is_rerunning(plugin):
            pluginmanager.unregister(plugin)
            package = _plugin_package(plugin)
            if package not in _neutralised:
                _neutralised.append(package)
    return [name for name, plugin in pluginmanager.list_name_plugin() if _is_rerunning(plugin)]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Late: every plugin has parsed its options and configured itself; now switch off the ones
    that retry or reseed. (xdist's trylast configure, registered later, sees ``dist = "no"``.)"""
    global _settings, _events_fd, _config
    settings = _Settings(os.environ)
    if not settings.events_path:
        return
    _settings = settings
    _config = config
    _events_fd = os.open(settings.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    # pytest-rerunfailures and pytest-retry register it too; once they are gone a project
    # using --strict-markers would fail to collect its @pytest.mark.flaky tests.
    config.addinivalue_line("markers", "flaky: a flaky test (registered by flaketui's probe)")
    # ``-x``/``--maxfail`` in addopts would end a pass early, exit code 1 as if all had run.
    config.option.maxfail = 0
    if _suite.wanted(settings.mode, os.environ):  # a hunt's pass: its order (xdist's too), its reports
        config.pluginmanager.register(_suite.Suite(_emit, os.environ), "flaketui-suite")
    if settings.mode != "parallel" and hasattr(config.option, "dist"):
        # An ``-n auto`` in the project's addopts would hand the runs to xdist workers.
        config.option.dist = "no"
        config.option.tx = []
    left = _neutralise(config.pluginmanager)
    if left:
        _emit({"event": "error", "nodeid": None, "message": "could not disable plugins: " + ", ".join(left)})
        pytest.exit("flaketui: rerun plugins still active: " + ", ".join(left), returncode=3)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if not _settings.active or _is_xdist_worker():
        return
    _emit(
        {
            "event": "start",
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "pytest": pytest.__version__,
            "neutralised": list(_neutralised),
            "pid": os.getpid(),
        }
    )


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if _settings.active and report.failed:
        _collect_errors.append((report.nodeid, _report.short_text(report.longreprtext)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    if not _settings.active or _settings.mode in ("parallel", "suite"):
        return None
    if _zygote_done:
        return True
    if _fork.run_pipe is not None:
        _run_once_and_exit(session)
    left = _neutralise(session.config.pluginmanager)
    if left:
        _emit({"event": "error", "nodeid": None, "message": "could not disable plugins: " + ", ".join(left)})
        return True
    # A module that fails to collect concerns the tests in it ("where"); the rest still run.
    for where, message in _collect_errors:
        _emit({"event": "error", "nodeid": None, "where": where, "message": message})
    if _settings.mode == "collect":
        for event in _report.flaky_items(session.items):
            _emit(event)
        return True
    if runtestprotocol is None:
        _emit({"event": "error", "nodeid": None, "message": "this pytest has no _pytest.runner.runtestprotocol"})
        return True
    targets = _select_targets(session.items)
    mode = _settings.mode
    if mode in ("forked", "random-order") and not _fork_is_safe("after collection"):
        return True
    # "fresh": this interpreter is one of N; a forked child still catches crashes and hangs.
    fork_fresh = mode == "fresh" and hasattr(os, "fork") and not _other_threads()
    forking = mode in ("forked", "random-order") or fork_fresh
    if forking and hasattr(gc, "freeze"):
        # Children then never walk (and so never copy) the pages of everything collected.
        gc.freeze()
    for item in targets:
        if mode == "random-order":
            _verify_in_random_order(item, session.items)
        elif forking:
            _verify_forked(item)
        else:
            _verify_in_process(item)
    _fork.reap(block=True)
    return True


def _select_targets(items: Sequence[pytest.Item], targets: Sequence[str] | None = None) -> list[pytest.Item]:
    targets = _settings.targets if targets is None else targets
    if not targets:
        return list(items)
    by_id: dict[str, pytest.Item] = {}
    for item in items:
        by_id.setdefault(item.nodeid, item)
    found = []
    for nodeid in targets:
        if nodeid in by_id:
            found.append(by_id[nodeid])
        else:
            _emit({"event": "error", "nodeid": nodeid, "message": _missing(nodeid, by_id)})
    return found


def _missing(nodeid: str, by_id: Iterable[str]) -> str:
    inside = [i for i in by_id if i.startswith(nodeid + "::")]
    if inside:
        return f"{nodeid} is not a test but holds {len(inside)}: verify each by its node id (such as {inside[0]})"
    return "not collected: " + nodeid


def _other_threads() -> list[str]:
    current = threading.current_thread()
    return [t.name for t in threading.enumerate() if t is not current and not _is_neutralised_thread(t)]


def _fork_is_safe(when: str) -> bool:
    if not hasattr(os, "fork"):
        _emit({"event": "fallback", "reason": "this platform cannot fork"})
        return False
    others = _other_threads()
    if others:
        reason = f"threads were running {when} ({', '.join(sorted(others)[:5])})"
        if _fork.up_pipes:  # a parent from before this point waits: it forks each run instead
            _fork.give_up(reason)
        _emit({"event": "fallback", "reason": reason + ", so forking was unsafe"})
        return False
    return True


# -- the zygote: fork each run from before the point where threads start -------------
#
# Forked mode collects once and forks a child per run. A test module or conftest that
# starts a thread at import makes that unsafe, so each level of start-up first forks a
# child that goes on (``delegate`` in probe_fork) and waits: the deepest process that has no threads
# runs everything. If threads appear after collection, the parent that stopped before
# collecting forks each run, and each child collects just its test; if the conftests
# start them, the parent that stopped before the conftests loaded does. Only when threads
# run before that (a plugin's) does the engine fall back to fresh processes.

_run_target: str | None = None
_zygote_done = False


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Iterator[None]:
    """Before any conftest loads (and before pytest's capture starts)."""
    global _settings, _events_fd
    settings = _Settings(os.environ)
    if settings.events_path and settings.mode == "forked" and hasattr(os, "fork") and not _other_threads():
        reason = _fork.delegate()
        if reason is not None:  # the conftests start threads: every run forks from here
            _settings = settings
            _events_fd = os.open(settings.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            _zygote(reason + ": each run forked before the conftests loaded", before_conftests=True)
    yield


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> bool | None:
    global _zygote_done
    if not _settings.active:
        return None
    if _run_target is not None:  # a zygote's child: collect just its test
        session.config.args = [_run_target]
        return None
    if _settings.mode != "forked" or not hasattr(os, "fork") or not _fork_is_safe("once the conftests had loaded"):
        return None
    reason = _fork.delegate()
    if reason is None:  # the child: collect everything, then fork each run
        return None
    if _zygote(reason + ": each run forked before collection and collected its test alone"):
        session.config.args = [str(_run_target)]  # a run's child: collect just its test
        return None
    _zygote_done = True
    return True


def _zygote(reason: str, before_conftests: bool = False) -> bool:
    """Fork each run of each target from here; the child goes on to collect its test alone.

    Returns True in a child (it goes back into pytest), False in the zygote when done.
    """
    global _run_target
    _emit({"event": "zygote", "reason": reason})
    if hasattr(gc, "freeze"):
        gc.freeze()
    for nodeid in _settings.targets:
        for offset in range(_settings.runs):
            seed = _settings.seed if _settings.seed is not None else _fork.new_seed()
            _run_target = nodeid
            ran = _fork.fork_run(None, nodeid, _settings.timeout, functools.partial(_fork.reseed, seed), _announce)
            if ran is None:  # the child: back into pytest
                return True
            outcome, message, duration = ran
            if outcome == "missing":
                _emit({"event": "error", "nodeid": nodeid, "message": message})
                break
            _emit({"event": "run", "nodeid": nodeid, "index": _settings.first_index + offset, "outcome": outcome,
                   "duration": round(duration, 6), "message": message, "seed": seed})  # fmt: skip
            if _stops(outcome):
                break
    _run_target = None
    _fork.reap(block=True)
    if before_conftests:  # nothing past this point of pytest's start-up is wanted here
        os._exit(0)
    return False


def _run_once_and_exit(session: pytest.Session) -> None:
    """In a zygote's child: run its one test once, tell the zygote, and end."""
    by_id: dict[str, pytest.Item] = {}
    for item in session.items:
        by_id.setdefault(item.nodeid, item)
    target = by_id.get(_run_target or "")
    if target is None:
        message = "; ".join(m for _, m in _collect_errors) or _missing(_run_target or "", by_id)
        _fork.tell(_fork.run_pipe, ["result", "missing", message])
        os._exit(1)
    _fork.tell(_fork.run_pipe, ["at", target.nodeid])
    outcome, message = _run_item(target)
    _fork.tell(_fork.run_pipe, ["result", outcome, message])
    os._exit(0)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if _fork.run_pipe is not None:  # a zygote's child that never reached its test (a usage error)
        message = "; ".join(m for _, m in _collect_errors) or f"not collected: {_run_target}"
        _fork.tell(_fork.run_pipe, ["result", "missing", message])
        os._exit(1)


def _is_neutralised_thread(thread: threading.Thread) -> bool:
    # pytest-rerunfailures starts a socket server thread whenever xdist is installed; it
    # only waits in accept() and holds no lock a forked child could need.
    target = getattr(thread, "_target", None)
    owner = getattr(target, "__self__", None)
    module = type(owner).__module__ if owner is not None else getattr(target, "__module__", "")
    return (module or "").split(".")[0] in NEUTRALISED_PACKAGES


def _stops(outcome: str) -> bool:
    """A skip says the test does not run here: the next run would skip too."""
    return outcome == "skipped" or (_settings.fail_fast and outcome != "passed")


def _run_item(item: pytest.Item, nextitem: pytest.Item | None = None) -> tuple[str, str]:
    outcome: tuple[str, str] = _report.classify(runtestprotocol(item, log=False, nextitem=nextitem))
    return outcome


# -- runs ---------------------------------------------------------------------------


def _run_event(item: pytest.Item, index: int, outcome: str, duration: float, message: str, seed: int | None) -> None:
    _emit({"event": "run", "nodeid": item.nodeid, "index": index, "outcome": outcome,
           "duration": round(duration, 6), "message": message, "seed": seed})  # fmt: skip


def _verify_forked(item: pytest.Item) -> None:
    for offset in range(_settings.runs):
        seed = _settings.seed if _settings.seed is not None else _fork.new_seed()
        outcome, message, duration = _fork.fork_run(lambda report_at: _run_item(item), item.nodeid, _settings.timeout, functools.partial(_fork.reseed, seed), _announce)
        _run_event(item, _settings.first_index + offset, outcome, duration, message, seed)
        if _stops(outcome):
            return


def _verify_in_random_order(item: pytest.Item, items: Sequence[pytest.Item]) -> None:
    # Its module's tests, and those of the modules where a polluter was found (the companions).
    modules = (item.nodeid.split("::")[0], *_settings.companions)
    module_items = [i for i in items if i.nodeid.split("::")[0] in modules]
    for offset in range(_settings.runs):
        seed = _fork.new_seed() if _settings.seed is None else _settings.seed + _settings.first_index + offset
        order = list(module_items)
        random.Random(seed).shuffle(order)
        # Tests after the target cannot change its outcome: the run ends with it.
        order = order[: order.index(item) + 1]

        def run_in_order(report_at: Callable[[str], None], order: list[pytest.Item] = order) -> tuple[str, str]:
            outcome = ("error", "nothing ran")
            for position, each in enumerate(order):
                report_at(each.nodeid)
                nextitem = order[position + 1] if position + 1 < len(order) else None
                outcome = _run_item(each, nextitem)
            return outcome

        outcome, message, duration = _fork.fork_run(run_in_order, item.nodeid, _settings.timeout, functools.partial(_fork.reseed, seed), _announce)
        _run_event(item, _settings.first_index + offset, outcome, duration, message, seed)
        if _stops(outcome):
            return


def _verify_in_process(item: pytest.Item) -> None:
    runs = _settings.runs
    for offset in range(runs):
        seed = _settings.seed
        nextitem = item if offset + 1 < runs else None
        start = time.perf_counter()
        _emit({"event": "begin", "nodeid": item.nodeid, "index": _settings.first_index + offset})
        with _fork.alarm(_settings.timeout) as expired:
            outcome, message = _run_item(item, nextitem)
        if expired():
            outcome, message = "timeout", f"timed out after {_settings.timeout:g}s"
        _run_event(item, _settings.first_index + offset, outcome, time.perf_counter() - start, message, seed)
        if _stops(outcome):
            return


def _is_xdist_worker() -> bool:
    return _config is not None and hasattr(_config, "workerinput")


# -- parallel (xdist): the controller sees every worker's reports -------------------


_parallel_reports: dict[str, list[pytest.TestReport]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _settings.active or _settings.mode not in ("parallel", "suite"):
        return
    if _is_xdist_worker():
        return
    targets = _settings.targets
    if targets and report.nodeid not in targets:
        return
    _parallel_reports.setdefault(report.nodeid, []).append(report)
    when: str = report.when  # "???": xdist's report for a worker that died
    if when in ("teardown", "???"):
        reports = _parallel_reports.pop(report.nodeid)
        timed_out = [value for r in reports for key, value in r.user_properties if key == "flaketui_timeout"]
        if when == "???":
            outcome, message = "crashed", _report.report_message(report)
        elif timed_out:
            outcome, message = "timeout", f"timed out after {timed_out[0]:g}s"
        else:
            outcome, message = _report.classify(reports)
        _emit({"event": "run", "nodeid": report.nodeid, "index": _settings.first_index, "outcome": outcome,
               "duration": round(sum(r.duration for r in reports), 6), "message": message, "seed": _settings.seed,
               "worker": _report.worker_of(report)})  # fmt: skip


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """In an xdist worker or a hunt's pass, a test's call phase runs under the timeout."""
    if not _settings.active or not (_settings.mode == "suite" or (_settings.mode == "parallel" and _is_xdist_worker())):
        yield
        return
    seconds = _suite.timeout_of(item.nodeid, _settings.timeout)  # a hunt's: shorter for a test that hung
    with _fork.alarm(seconds) as expired:
        yield
    if expired():
        item.user_properties.append(("flaketui_timeout", seconds))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: Sequence[str]) -> None:
    if not _settings.active or _settings.mode != "parallel" or _parallel_missing_reported:
        return
    _parallel_missing_reported.append(True)
    collected = set(ids)
    for nodeid in _settings.targets:
        if nodeid not in collected:
            _emit({"event": "error", "nodeid": nodeid, "message": "not collected: " + nodeid})


_parallel_missing_reported: list[bool] = []
