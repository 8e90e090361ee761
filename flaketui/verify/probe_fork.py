"""The processes of flaketui's probe: a run in a forked child, and a zygote's chain of parents;
a run's seeds, and its timeout when it runs in pytest's own process.

Runs inside the *target project's* interpreter next to the probe (copied with it under a
unique name), so it imports only the standard library: no pytest, nothing of flaketui.

A run's child writes JSON lines to a pipe: ``["at", nodeid]`` as each test starts (so a hang
or crash in a neighbour is named), then ``["result", outcome, message]``. A zygote's chain:
each level of pytest's start-up forks a child that goes on (``delegate``) and waits for it;
a child that finds threads hands the work back up (``give_up``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the target's Python may be 3.8: subscripted builtins only in annotations
    import ctypes

    #: A run's (outcome, message); its work reports each test it starts through the callback.
    RunWork = Callable[[Callable[[str], None]], tuple[str, str]]

_PR_SET_PDEATHSIG = 1
#: How long a zygote's child may take to load and collect its test before it counts as hung.
STARTUP_SECONDS = 120.0

#: None: not looked for yet; False: none to be had (not Linux, or no ctypes).
_libc: ctypes.CDLL | Literal[False] | None = None
#: Write ends of the pipes to the waiting parents of a zygote's chain, nearest last.
up_pipes: list[int] = []
#: In a zygote's run child: where its one result goes.
run_pipe: int | None = None
_unreaped: list[int] = []


def load_libc() -> ctypes.CDLL | Literal[False] | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.prctl  # noqa: B018 - resolved once here, not again in every child
        except Exception:  # noqa: BLE001 - no ctypes/libc: children are still killed through their group
            _libc = False
    return _libc



def fork_run(
    work: RunWork | None, target: str, timeout: float | None, on_child: Callable[[], None], announce: Callable[[int], None]
) -> tuple[str, str, float] | None:
    """Run ``work`` in a forked child in its own process group; (outcome, message, seconds).

    ``on_child`` runs first in the child (reseeding), ``announce(pid)`` in the parent
    before it waits (so a cancel can kill the child's group); ``timeout`` is per run.

    The child writes JSON lines to a pipe: ``["at", nodeid]`` as each test starts (so a
    hang or crash in a neighbour is named), then ``["result", outcome, message]``.
    ``work`` None: the child returns ``None`` from here and goes on through pytest (a
    zygote's run: it collects its test, and the probe reports through ``run_pipe``); the
    run's timeout then starts when the test does, not while its module imports.
    """
    libc = load_libc()
    parent = os.getpid()
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            close_up_pipes()
            os.setpgid(0, 0)
            if libc:
                libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            on_child()
            if work is None:
                global run_pipe
                run_pipe = write_end
                return None

            def report_at(nodeid: str) -> None:
                tell(write_end, ["at", nodeid])

            outcome, message = work(report_at)
            tell(write_end, ["result", outcome, message])
        except BaseException as exc:  # noqa: BLE001 - anything here must end the child
            code = 1
            try:
                tell(write_end, ["result", "error", f"probe: {exc!r}"])
            except BaseException:  # noqa: BLE001, S110 - the child ends just below whatever happened
                pass
        os._exit(code)  # never return into pytest
    os.close(write_end)
    try:
        os.setpgid(pid, pid)  # also here, so the group exists before we announce it
    except OSError:
        pass
    announce(pid)
    buffer = b""
    running = target if work is not None else None
    result: tuple[str, str] | None = None
    began = start
    timed_out = False
    try:
        while result is None:
            deadline: float | None = None
            if running is None:  # a zygote's child still collecting: only a start-up allowance
                deadline = start + STARTUP_SECONDS
            elif timeout:
                deadline = began + timeout
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
                    if running is None:
                        began = time.perf_counter()
                    running = message[1]
                else:
                    result = (message[1], message[2])
    finally:
        os.close(read_end)
    duration = time.perf_counter() - began
    kill_group(pid)
    if result is not None:
        # Reaped later: the child's exit (unmapping a whole pytest) overlaps the next run.
        _unreaped.append(pid)
        reap(block=False)
        return result[0], result[1], duration
    _, status = os.waitpid(pid, 0)
    if running is None:  # it never got to the test: its conftest or module would not load
        why = f"timed out after {STARTUP_SECONDS:g}s" if timed_out else describe_status(status)
        return "missing", f"pytest stopped before the test ran ({why}): see pytest's output", duration
    where = "" if running == target else f" (while {running} ran before it)"
    if timed_out:
        return "timeout", f"timed out after {timeout:g}s{where}", duration
    return "crashed", describe_status(status) + where, duration


def tell(fd: int, message: list[str]) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode("utf-8"))


def reap(block: bool) -> None:
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.remove(pid)


def kill_group(pgid: int) -> None:
    # Leftover subprocesses of the test die with its run, so the next run starts clean.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"the interpreter died: killed by signal {name}"
    if os.WIFEXITED(status):
        return f"the interpreter died: exit code {os.WEXITSTATUS(status)}"
    return "the interpreter died"


def delegate() -> str | None:
    """Fork a child that goes on through pytest while this process waits.

    Returns None in the child. In the parent: the reason the child gave up (the threads it
    found), or never: the parent then exits as the child did, its work done.
    """
    read_end, write_end = os.pipe()
    libc = load_libc()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        if libc:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)
        up_pipes.append(write_end)
        return None
    os.close(write_end)
    word = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        word += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if word.startswith(b"unsafe:"):
        return word[len(b"unsafe:"):].decode("utf-8", "replace")
    # Without flushing: what this process buffered was copied into the child, which wrote it.
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def give_up(reason: str) -> None:
    os.write(up_pipes[-1], ("unsafe:" + reason).encode("utf-8"))
    os._exit(0)


def close_up_pipes() -> None:
    while up_pipes:
        os.close(up_pipes.pop())


# -- a run's seeds and its timeout inside this process ------------------------------


def new_seed() -> int:
    return random.SystemRandom().randrange(2**32)


def reseed(seed: int) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        # numpy without a legacy global generator: nothing to reseed
        with contextlib.suppress(Exception):
            numpy.random.seed(seed % 2**32)
    faker = sys.modules.get("faker")
    if faker is not None and hasattr(faker, "Faker"):
        with contextlib.suppress(Exception):  # a Faker too old or too new to seed this way
            faker.Faker.seed(seed)


class _RunTimeout(BaseException):
    pass


class alarm:
    """SIGALRM-based timeout for runs inside this process (main thread, POSIX only)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if hasattr(signal, "setitimer") else None
        self.fired = False
        self.previous: Any = None

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        self.fired = True
        raise _RunTimeout()

    def __enter__(self) -> Callable[[], bool]:
        if self.seconds:
            self.previous = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return lambda: self.fired

    def __exit__(self, *exc: object) -> Literal[False]:
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False
