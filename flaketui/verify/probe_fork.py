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

import json
import os
import random
import select
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
#: How long a zygote's child may take to load and collect its test before it counts as hung.
STARTUP_SECONDS = 120.0

_libc = None
#: Write ends of the pipes to the waiting parents of a zygote's chain, nearest last.
up_pipes = []  # type: list[int]
#: In a zygote's run child: where its one result goes.
run_pipe = None  # type: int | None
_unreaped = []  # type: list[int]


def load_libc():
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.prctl  # resolved once here, not again in every child
        except Exception:  # no ctypes/libc: children are still killed through their group
            _libc = False
    return _libc



def fork_run(work, target, timeout, on_child, announce):
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

            def report_at(nodeid):
                tell(write_end, ["at", nodeid])

            outcome, message = work(report_at)
            tell(write_end, ["result", outcome, message])
        except BaseException as exc:  # noqa: BLE001 - anything here must end the child
            code = 1
            try:
                tell(write_end, ["result", "error", "probe: %r" % (exc,)])
            except BaseException:
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
    result = None
    began = start
    timed_out = False
    try:
        while result is None:
            if running is None:  # a zygote's child still collecting: only a start-up allowance
                deadline = start + STARTUP_SECONDS
            else:
                deadline = None if not timeout else began + timeout
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
        why = "timed out after %gs" % STARTUP_SECONDS if timed_out else describe_status(status)
        return "missing", "pytest stopped before the test ran (%s): see pytest's output" % why, duration
    where = "" if running == target else " (while %s ran before it)" % running
    if timed_out:
        return "timeout", "timed out after %gs%s" % (timeout, where), duration
    return "crashed", describe_status(status) + where, duration


def tell(fd, message):
    os.write(fd, (json.dumps(message) + "\n").encode("utf-8"))


def reap(block):
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.remove(pid)


def kill_group(pgid):
    # Leftover subprocesses of the test die with its run, so the next run starts clean.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def describe_status(status):
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


def delegate():
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


def give_up(reason):
    os.write(up_pipes[-1], ("unsafe:" + reason).encode("utf-8"))
    os._exit(0)


def close_up_pipes():
    while up_pipes:
        os.close(up_pipes.pop())


# -- a run's seeds and its timeout inside this process ------------------------------


def new_seed():
    return random.SystemRandom().randrange(2**32)


def reseed(seed):
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


class _RunTimeout(BaseException):
    pass


class alarm:
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
