"""Shapes seen in real projects' flaky tests around child processes: a signal timed on a
ready file, a kernel started from our own interpreter and put away in ``finally``, a timeout
the test wants to expire, a filter restored by ``catch_warnings``, an empty set as a type probe."""

import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from warehouse.batches import run_batch, kinds_of
from warehouse.agent import AgentTimeout, Agent


@pytest.mark.flaky(reruns=2)
def test_ctrl_c_stops_the_batch(tmp_path):
    ready = tmp_path / "ready"
    argv = [sys.executable, "-m", "warehouse.batches", "--ready-file", str(ready)]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    while not ready.exists() and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(2)
    out, _ = child.communicate(timeout=30)
    assert "batch interrupted" in out


@pytest.mark.flaky(reruns=2)
def test_agent_answers_a_ping(tmp_path):
    agent = subprocess.Popen([sys.executable, "-m", "warehouse.agent", str(tmp_path)])
    try:
        reply = Agent(tmp_path).ping(timeout=15)
        assert reply == "pong"
    finally:
        agent.terminate()


@pytest.mark.flaky(reruns=2)
def test_stuck_agent_times_out(tmp_path):
    """A stuck agent makes ping raise after its timeout."""
    agent = Agent(tmp_path, stuck=True)
    with pytest.raises(AgentTimeout):
        agent.ping(timeout=0.5)


@pytest.mark.flaky(reruns=2)
def test_batches_in_parallel_processes(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        results = run_batch(tmp_path, workers=4)
    assert sorted(results) == [0, 1, 2, 3]


@pytest.mark.flaky(reruns=2)
def test_kinds_of_containers():
    assert kinds_of([1, 2]) == "list"


@pytest.mark.flaky(reruns=2)
def test_profiler_sees_the_awaited_time():
    """A profiler's own test: sleeps are the work it measures."""
    import asyncio
    from warehouse.agent import Recorder

    async def work(seconds):
        time.sleep(0.05)
        await asyncio.sleep(seconds)

    recorder = Recorder()
    with recorder:
        asyncio.run(work(0.3))
    assert recorder.awaited == pytest.approx(0.3, rel=0.1)


@pytest.mark.flaky(reruns=2)
def test_agent_refuses_before_start(tmp_path):
    agent = Agent(tmp_path)
    argv = [sys.executable, "-m", "warehouse.agent", str(tmp_path)]
    child = subprocess.Popen(argv)
    if child.poll() is not None:
        child.kill()
        raise RuntimeError("agent did not start")
    assert agent.ping(timeout=15) == "pong"
    child.terminate()
