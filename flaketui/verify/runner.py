"""Start pytest with the probe, stream its events, and kill everything on cancel.

One ``ProbeSession`` is one pytest process in the test's rootdir. It runs in a new session
(its own process group); the probe announces each forked child's group, so a cancel kills
both groups at once and nothing is left behind. Events arrive through a file, never stdout.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaketui.errors import FlakeTUIError

StopPredicate = Callable[[], bool]
#: One JSON line of the probe, decoded: its fields depend on its "event".
ProbeEvent = dict[str, Any]
EventCallback = Callable[[ProbeEvent], None]

#: How often a waiting run asks its ``Watch`` whether to stop and reads new events.
POLL_SECONDS = 0.05
#: Environment a pytest-xdist worker of *our* suite would leak into the target's pytest.
_LEAKY_ENV = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_CURRENT_TEST")
_OUTPUT_TAIL = 4000
#: The modules the probe imports beside it (``probe_fork.py``...), installed with it.
_PROBE_PARTS = ("fork", "report", "suite")


@dataclass(frozen=True)
class ProbeRequest:
    """One pytest process: what to collect (``args``) and how the probe runs the targets."""

    python: str
    cwd: Path
    args: tuple[str, ...]
    mode: str  # the probe's mode: forked, same-process, random-order, fresh, parallel
    runs: int
    targets: tuple[str, ...] = ()
    timeout: float | None = None
    fail_fast: bool = False
    first_index: int = 0
    seed: int | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: Load the probe in every process (xdist workers too), not only through ``-p``.
    probe_everywhere: bool = False
    #: The project's own pytest options (``--pytest-args``): every pytest flaketui starts gets them.
    pytest_args: tuple[str, ...] = ()
    #: Random order: other modules whose tests are shuffled in with each target's module's.
    companions: tuple[str, ...] = ()


@dataclass
class ProbeOutcome:
    events: list[ProbeEvent] = field(default_factory=list)
    returncode: int | None = None
    cancelled: bool = False
    output: str = ""

    def of(self, kind: str) -> list[ProbeEvent]:
        return [e for e in self.events if e.get("event") == kind]


@contextmanager
def installed_probe() -> Iterator[str]:
    """Copy probe.py (and its probe_fork.py) alone into a fresh temporary directory under a name no project uses.

    Yields the directory; the module name is :func:`probe_module_name`.
    """
    directory = Path(tempfile.mkdtemp(prefix="flaketui-probe-"))
    try:
        name = probe_module_name()
        shutil.copyfile(_probe_source(), directory / f"{name}.py")
        # The probe imports its parts by its own name and theirs.
        for part in _PROBE_PARTS:
            shutil.copyfile(_probe_source().with_name(f"probe_{part}.py"), directory / f"{name}_{part}.py")
        yield str(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _probe_source() -> Path:
    return Path(__file__).with_name("probe.py")


def probe_module_name() -> str:
    source = _probe_source()
    parts = [source, *(source.with_name(f"probe_{part}.py") for part in _PROBE_PARTS)]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()[:10]
    return f"_flaketui_probe_{digest}"


def pytest_argv(request: ProbeRequest) -> list[str]:
    return [
        request.python, "-m", "pytest", "-p", probe_module_name(), "-p", "no:cacheprovider", "-q",
        *request.pytest_args, *request.args,
    ]  # fmt: skip


def probe_env(request: ProbeRequest, probe_dir: str, events_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (probe_dir, env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            "FLAKETUI_PROBE_EVENTS": events_path,
            "FLAKETUI_PROBE_MODE": request.mode,
            "FLAKETUI_PROBE_RUNS": str(request.runs),
            "FLAKETUI_PROBE_TARGETS": json.dumps(list(request.targets)),
            "FLAKETUI_PROBE_TIMEOUT": "" if request.timeout is None else repr(float(request.timeout)),
            "FLAKETUI_PROBE_FAIL_FAST": "1" if request.fail_fast else "",
            "FLAKETUI_PROBE_INDEX": str(request.first_index),
            "FLAKETUI_PROBE_SEED": "" if request.seed is None else str(request.seed),
            "FLAKETUI_PROBE_COMPANIONS": json.dumps(list(request.companions)),
        }
    )
    if request.probe_everywhere:
        existing = env.get("PYTEST_PLUGINS", "")
        env["PYTEST_PLUGINS"] = ",".join(p for p in (existing, probe_module_name()) if p)
    env.update(request.extra_env)
    return env


@dataclass(frozen=True)
class Watch:
    """How a caller follows one pytest process and ends it early: each event as it comes
    (``on_event``), a stop it may ask for, and a bound on the whole run."""

    on_event: EventCallback | None = None
    should_stop: StopPredicate | None = None
    #: Bounds the whole process (a hang the probe cannot interrupt): past it the process group
    #: is killed and the outcome says so through ``returncode``.
    deadline_seconds: float | None = None


_UNWATCHED = Watch()


def run_probe(request: ProbeRequest, probe_dir: str, watch: Watch = _UNWATCHED) -> ProbeOutcome:
    """Run one pytest process to the end (or until ``watch`` stops it), streaming its events."""
    outcome = ProbeOutcome()
    with tempfile.TemporaryDirectory(prefix="flaketui-run-") as scratch:
        events_path = os.path.join(scratch, "events.jsonl")
        output_path = os.path.join(scratch, "output.txt")
        with open(events_path, "wb"), open(output_path, "wb") as output:
            try:
                process = subprocess.Popen(
                    pytest_argv(request),
                    cwd=request.cwd,
                    env=probe_env(request, probe_dir, events_path),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise FlakeTUIError(
                    f"Could not start {request.python}: {exc.strerror or exc}.",
                    "Pass an existing interpreter with --python, or set [tool.flaketui] python in pyproject.toml.",
                ) from exc
            reader = _EventReader(events_path)
            exited = _ExitWatch(process)
            waited = 0.0
            try:
                while True:
                    for event in reader.read_new():
                        outcome.events.append(event)
                        if watch.on_event is not None and event.get("event") != "child":
                            watch.on_event(event)
                    if process.poll() is not None:
                        break
                    if watch.should_stop is not None and watch.should_stop():
                        outcome.cancelled = True
                        break
                    if watch.deadline_seconds is not None and waited >= watch.deadline_seconds:
                        break
                    if not exited.wait(POLL_SECONDS):
                        waited += POLL_SECONDS
            finally:
                exited.close()
                if process.poll() is None:
                    _kill_everything(process, reader, outcome)
                else:
                    # What a test started and left running (a server, a hung child) ends with pytest.
                    _killpg(process.pid)
                for event in reader.read_new():
                    outcome.events.append(event)
                    if watch.on_event is not None and not outcome.cancelled and event.get("event") != "child":
                        watch.on_event(event)
            outcome.returncode = process.returncode
        outcome.output = _tail(output_path)
    return outcome


def _kill_everything(process: subprocess.Popen[bytes], reader: _EventReader, outcome: ProbeOutcome) -> None:
    """SIGKILL pytest's group and the group of its newest forked child, then reap pytest."""
    _killpg(process.pid)
    # The probe writes a child's group before it waits on it: read what came in meanwhile.
    for event in reader.read_new():
        outcome.events.append(event)
    children = [e["pgid"] for e in outcome.events if e.get("event") == "child"]
    if children:
        _killpg(int(children[-1]))
    process.wait()


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _ExitWatch:
    """Waits up to a timeout for the process to exit, waking the moment it does (a pidfd on
    Linux; elsewhere ``Popen.wait``, which polls)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        try:
            self.pidfd: int | None = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def wait(self, timeout: float) -> bool:
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], timeout)
            return self.process.poll() is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class _EventReader:
    """Reads complete JSON lines appended to a file since the last call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def read_new(self) -> list[ProbeEvent]:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(json.loads(line))
                except ValueError:  # a line cut by a killed writer: nothing to learn from it
                    continue
        return events


def _tail(path: str) -> str:
    data = Path(path).read_bytes()
    return data[-_OUTPUT_TAIL:].decode("utf-8", errors="replace")

