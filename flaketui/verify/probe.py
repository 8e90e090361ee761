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

import gc
import json
import os
import random
import select
import signal
import sys
import threading
import time

import pytest

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

#: Packages whose plugins retry or reseed tests: each would hide or distort a failure.
NEUTRALISED_PACKAGES = ("pytest_rerunfailures", "flaky", "pytest_retry", "pytest_randomly")

MESSAGE_LIMIT = 2000
_PR_SET_PDEATHSIG = 1


class _Settings:
    def __init__(self, environ):
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


_settings = None  # type: _Settings | None
_config = None
_events_fd = None  # type: int | None
_collect_errors = []  # type: list[tuple[str, str]]
_neutralised = []  # type: list[str]
_libc = None


def _emit(event):
    if _events_fd is None:
        return
    os.write(_events_fd, (json.dumps(event) + "\n").encode("utf-8"))


def _plugin_package(plugin):
    name = getattr(plugin, "__name__", None) if isinstance(plugin, type(sys)) else None
    if name is None:
        name = type(plugin).__module__
    return (name or "").split(".")[0]


def _is_rerunning(plugin):
    # Their xdist handshake objects only pass ports and seeds to workers, where the
    # plugins' own configure expects them; without them an xdist run crashes.
    if plugin is None or _plugin_package(plugin) not in NEUTRALISED_PACKAGES:
        return False
    return not (not isinstance(plugin, type(sys)) and hasattr(type(plugin), "pytest_configure_node"))


def _neutralise(pluginmanager):
    """Unregister every plugin of the retrying/reseeding packages; return what is left of them."""
    for name, plugin in list(pluginmanager.list_name_plugin()):
        if _is_rerunning(plugin):
            pluginmanager.unregister(plugin)
            package = _plugin_package(plugin)
            if package not in _neutralised:
                _neutralised.append(package)
    return [name for name, plugin in pluginmanager.list_name_plugin() if _is_rerunning(plugin)]


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Late: every plugin has parsed its options and configured itself; now switch off the
    ones that retry or reseed. (xdist's trylast configure comes after this one, as it was
    registered later, so it sees ``dist = "no"``.)"""
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
    if settings.mode != "parallel" and hasattr(config.option, "dist"):
        # An ``-n auto`` in the project's addopts would hand the runs to xdist workers.
        config.option.dist = "no"
        config.option.tx = []
    left = _neutralise(config.pluginmanager)
    if left:
        _emit({"event": "error", "nodeid": None, "message": "could not disable plugins: " + ", ".join(left)})
        pytest.exit("flaketui: rerun plugins still active: " + ", ".join(left), returncode=3)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    if _settings is None or _is_xdist_worker():
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


def pytest_collectreport(report):
    if _settings is not None and report.failed:
        _collect_errors.append((report.nodeid, _short_text(report.longreprtext)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if _settings is None or _settings.mode == "parallel":
        return None
    left = _neutralise(session.config.pluginmanager)
    if left:
        _emit({"event": "error", "nodeid": None, "message": "could not disable plugins: " + ", ".join(left)})
        return True
    # A module that fails to collect concerns the tests in it ("where"); the rest still run.
    for where, message in _collect_errors:
        _emit({"event": "error", "nodeid": None, "where": where, "message": message})
    if _settings.mode == "collect":
        _emit_flaky_items(session.items)
        return True
    if runtestprotocol is None:
        _emit({"event": "error", "nodeid": None, "message": "this pytest has no _pytest.runner.runtestprotocol"})
        return True
    targets = _select_targets(session.items)
    mode = _settings.mode
    if mode in ("forked", "random-order") and not _fork_is_safe():
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
    _reap(block=True)
    return True


def _select_targets(items):
    if not _settings.targets:
        return list(items)
    by_id = {}
    for item in items:
        by_id.setdefault(item.nodeid, item)
    found = []
    for nodeid in _settings.targets:
        if nodeid in by_id:
            found.append(by_id[nodeid])
            continue
        inside = [i for i in by_id if i.startswith(nodeid + "::")]
        if inside:
            message = "%s is not a test but holds %d: verify each by its node id (such as %s)" % (
                nodeid,
                len(inside),
                inside[0],
            )
        else:
            message = "not collected: " + nodeid
        _emit({"event": "error", "nodeid": nodeid, "message": message})
    return found


def _other_threads():
    return [
        t.name
        for t in threading.enumerate()
        if t is not threading.current_thread() and not _is_neutralised_thread(t)
    ]


def _fork_is_safe():
    if not hasattr(os, "fork"):
        _emit({"event": "fallback", "reason": "this platform cannot fork"})
        return False
    others = _other_threads()
    if others:
        _emit(
            {
                "event": "fallback",
                "reason": "threads were running after collection (" + ", ".join(sorted(others)[:5]) + "), "
                "so forking was unsafe",
            }
        )
        return False
    return True


def _is_neutralised_thread(thread):
    # pytest-rerunfailures starts a socket server thread whenever xdist is installed; it
    # only waits in accept() and holds no lock a forked child could need.
    target = getattr(thread, "_target", None)
    owner = getattr(target, "__self__", None)
    module = type(owner).__module__ if owner is not None else getattr(target, "__module__", "")
    return (module or "").split(".")[0] in NEUTRALISED_PACKAGES


# -- outcomes -----------------------------------------------------------------------


def _short_text(text):
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else "..." + text[-MESSAGE_LIMIT:]


def _report_message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _short_text(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        return _short_text(str(report.longrepr[2]))
    return _short_text(str(report.longrepr or ""))


def _classify(reports):
    """(outcome, message) of one run from its setup/call/teardown reports."""
    for report in reports:
        if report.when == "setup" and report.failed:
            return "error", "error in setup: " + _report_message(report)
        if report.when == "call" and report.failed:
            return "failed", _report_message(report)
    for report in reports:
        if report.when == "teardown" and report.failed:
            return "error", "error in teardown: " + _report_message(report)
    for report in reports:
        # An xfail that failed as declared is what the test promises; a plain skip verifies nothing.
        if report.skipped and not hasattr(report, "wasxfail"):
            return "error", "skipped: " + _report_message(report)
    return "passed", ""


def _run_item(item, nextitem=None):
    return _classify(runtestprotocol(item, log=False, nextitem=nextitem))


# -- runs ---------------------------------------------------------------------------


def _new_seed():
    return random.SystemRandom().randrange(2**32)


def _reseed(seed):
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed(seed % 2**32)
        except Exception:  # numpy without a legacy global generator: nothing to reseed
            pass
    faker = sys.modules.get("faker")
    if faker is not None and hasattr(faker, "Faker"):
        try:
            faker.Faker.seed(seed)
        except Exception:
            pass


def _run_event(item, index, outcome, duration, message, seed):
    _emit(
        {
            "event": "run",
            "nodeid": item.nodeid,
            "index": index,
            "outcome": outcome,
            "duration": round(duration, 6),
            "message": message,
            "seed": seed,
        }
    )


def _verify_forked(item):
    for offset in range(_settings.runs):
        seed = _settings.seed if _settings.seed is not None else _new_seed()
        outcome, message, duration = _fork_run(lambda report_at: _run_item(item), seed, target=item.nodeid)
        _run_event(item, _settings.first_index + offset, outcome, duration, message, seed)
        if _settings.fail_fast and outcome != "passed":
            return


def _verify_in_random_order(item, items):
    module_items = [i for i in items if _same_module(i, item)]
    for offset in range(_settings.runs):
        seed = _new_seed()
        order = list(module_items)
        random.Random(seed).shuffle(order)
        # Tests after the target cannot change its outcome: the run ends with it.
        order = order[: order.index(item) + 1]

        def run_in_order(report_at, order=order):
            for position, each in enumerate(order):
                report_at(each.nodeid)
                nextitem = order[position + 1] if position + 1 < len(order) else None
                outcome = _run_item(each, nextitem)
            return outcome

        outcome, message, duration = _fork_run(run_in_order, seed, target=item.nodeid)
        _run_event(item, _settings.first_index + offset, outcome, duration, message, seed)
        if _settings.fail_fast and outcome != "passed":
            return


def _same_module(a, b):
    return a.nodeid.split("::")[0] == b.nodeid.split("::")[0]


def _verify_in_process(item):
    runs = _settings.runs
    for offset in range(runs):
        seed = _settings.seed
        nextitem = item if offset + 1 < runs else None
        start = time.perf_counter()
        _emit({"event": "begin", "nodeid": item.nodeid, "index": _settings.first_index + offset})
        with _alarm(_settings.timeout) as expired:
            outcome, message = _run_item(item, nextitem)
        if expired():
            outcome, message = "timeout", "timed out after %gs" % _settings.timeout
        _run_event(item, _settings.first_index + offset, outcome, time.perf_counter() - start, message, seed)
        if _settings.fail_fast and outcome != "passed":
            return


class _RunTimeout(BaseException):
    pass


class _alarm:
    """SIGALRM-based timeout for runs inside this process (main thread, POSIX only)."""

    def __init__(self, seconds):
        self.seconds = seconds if hasattr(signal, "setitimer") else None
        self.fired = False
        self.previous = None

    def _on_alarm(self, signum, frame):
        self.fired = True
        raise _RunTimeout()

    def __enter__(self):
        if self.seconds:
            self.previous = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return lambda: self.fired

    def __exit__(self, *exc):
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def _load_libc():
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.prctl  # resolved once here, not again in every child
        except Exception:  # no ctypes/libc: children are still killed through their group
            _libc = False
    return _libc


def _fork_run(work, seed, target):
    """Run ``work`` in a forked child in its own process group; (outcome, message, seconds).

    The child writes JSON lines to a pipe: ``["at", nodeid]`` as each test starts (so a
    hang or crash in a neighbour is named), then ``["result", outcome, message]``.
    """
    libc = _load_libc()
    parent = os.getpid()
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            os.setpgid(0, 0)
            if libc:
                libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            _reseed(seed)

            def report_at(nodeid):
                os.write(write_end, (json.dumps(["at", nodeid]) + "\n").encode("utf-8"))

            outcome, message = work(report_at)
            os.write(write_end, (json.dumps(["result", outcome, message]) + "\n").encode("utf-8"))
        except BaseException as exc:  # noqa: BLE001 - anything here must end the child
            code = 1
            try:
                line = json.dumps(["result", "error", "probe: %r" % (exc,)]) + "\n"
                os.write(write_end, line.encode("utf-8"))
            except BaseException:
                pass
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        os.setpgid(pid, pid)  # also here, so the group exists before we announce it
    except OSError:
        pass
    _emit({"event": "child", "pgid": pid})
    buffer = b""
    running = target
    result = None
    deadline = None if not _settings.timeout else start + _settings.timeout
    timed_out = False
    try:
        while result is None:
            wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
            ready, _, _ = select.select([read_end], [], [], wait)
            if not ready:
                timed_out = True
                break
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer and result is None:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line.decode("utf-8"))
                if message[0] == "at":
                    running = message[1]
                else:
                    result = (message[1], message[2])
    finally:
        os.close(read_end)
    duration = time.perf_counter() - start
    _kill_group(pid)
    if result is not None:
        # Reaped later: the child's exit (unmapping a whole pytest) overlaps the next run.
        _unreaped.append(pid)
        _reap(block=False)
        return result[0], result[1], duration
    _, status = os.waitpid(pid, 0)
    where = "" if running == target else " (while %s ran before it)" % running
    if timed_out:
        return "timeout", "timed out after %gs%s" % (_settings.timeout, where), duration
    return "crashed", _describe_status(status) + where, duration


_unreaped = []  # type: list[int]


def _reap(block):
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.remove(pid)


def _kill_group(pgid):
    # Leftover subprocesses of the test die with its run, so the next run starts clean.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _describe_status(status):
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return "the interpreter died: killed by signal %s" % name
    if os.WIFEXITED(status):
        return "the interpreter died: exit code %d" % os.WEXITSTATUS(status)
    return "the interpreter died"


def _is_xdist_worker():
    return _config is not None and hasattr(_config, "workerinput")


# -- parallel (xdist): the controller sees every worker's reports -------------------


_parallel_reports = {}  # type: dict[str, list]


def pytest_runtest_logreport(report):
    if _settings is None or _settings.mode != "parallel":
        return
    if _is_xdist_worker():
        return
    targets = _settings.targets
    if targets and report.nodeid not in targets:
        return
    _parallel_reports.setdefault(report.nodeid, []).append(report)
    if report.when in ("teardown", "???"):  # "???": xdist's report for a worker that died
        reports = _parallel_reports.pop(report.nodeid)
        if report.when == "???":
            outcome, message = "crashed", _report_message(report)
        elif any(dict(r.user_properties).get("flaketui_timeout") for r in reports):
            outcome, message = "timeout", "timed out after %gs" % _settings.timeout
        else:
            outcome, message = _classify(reports)
        _emit(
            {
                "event": "run",
                "nodeid": report.nodeid,
                "index": _settings.first_index,
                "outcome": outcome,
                "duration": round(sum(r.duration for r in reports), 6),
                "message": message,
                "seed": _settings.seed,
            }
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """In an xdist worker, a target's call phase runs under the per-run timeout."""
    if _settings is None or _settings.mode != "parallel" or not _is_xdist_worker():
        yield
        return
    with _alarm(_settings.timeout) as expired:
        yield
    if expired():
        item.user_properties.append(("flaketui_timeout", True))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    if _settings is None or _settings.mode != "parallel" or _parallel_missing_reported:
        return
    _parallel_missing_reported.append(True)
    collected = set(ids)
    for nodeid in _settings.targets:
        if nodeid not in collected:
            _emit({"event": "error", "nodeid": nodeid, "message": "not collected: " + nodeid})


_parallel_missing_reported = []  # type: list[bool]


# -- collect: what pytest itself sees as flaky (``flaketui scan --collect``) ---------

#: Attributes the ``flaky`` package's decorator sets on a test function or class.
FLAKY_ATTRIBUTES = ("_flaky_max_runs", "_flaky_min_passes")


def _safe_repr(value):
    try:
        text = repr(value)
    except Exception:  # a user object whose __repr__ fails
        text = "<%s>" % type(value).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _emit_flaky_items(items):
    for item in items:
        markers = [
            {
                "name": mark.name,
                "args": [_safe_repr(a) for a in mark.args],
                "kwargs": [[k, _safe_repr(v)] for k, v in sorted(mark.kwargs.items())],
            }
            for mark in item.iter_markers(name="flaky")
        ]
        attributes = []
        for owner in (getattr(item, "obj", None), getattr(item, "cls", None)):
            for name in FLAKY_ATTRIBUTES:
                if owner is not None and getattr(owner, name, None) is not None:
                    attributes.append([name, _safe_repr(getattr(owner, name))])
            if attributes:
                break
        if not markers and not attributes:
            continue
        path = getattr(item, "path", None) or getattr(item, "fspath", None)
        cls = getattr(item, "cls", None)
        _emit(
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
