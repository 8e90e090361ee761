"""Ctrl-C on a real ``flaketui hunt`` process: the passes that ended are kept and printed,
every process of the cut pass ends, and ``--resume`` finishes the hunt."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests._hunt_helpers import HANGS_ON_SECOND_CALL, SEED, stable_project
from tests._verify_helpers import wait_until_dead


def _hunt(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "flaketui", "-C", str(root), "hunt", "--json", *args]


def _until(done, what: str, limit: float = 300.0) -> None:
    """Wait for a condition another process brings about (checked, not slept on blindly)."""
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def test_ctrl_c_keeps_the_passes_that_ended_and_resume_finishes(make_repo) -> None:
    root = make_repo({**stable_project(), "tests/test_hang.py": HANGS_ON_SECOND_CALL})
    pids = root / "tests" / "pids.txt"
    hunt = subprocess.Popen(_hunt(root, "--runs", "1", "--seed", str(SEED)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    # The serial pass ends; the shuffled one hangs in the test, which wrote its pids first.
    _until(lambda: pids.exists() and pids.read_text().endswith("\n"), "the second pass hung")
    hunt.send_signal(signal.SIGINT)
    out, err = hunt.communicate(timeout=120)
    assert hunt.returncode == 1, err  # cut short: not a stable suite
    summary = json.loads(out)["summary"]
    assert summary["complete"] is False and summary["runs"] == {"serial": 1, "shuffled": 0, "xdist": 0}
    assert any("--resume" in note for note in summary["notes"])
    # pytest of the cut pass and the child its hung test started: both ended.
    assert all(wait_until_dead(int(pid)) for pid in pids.read_text().split())
    resumed = subprocess.run(_hunt(root, "--resume", "--seed", str(SEED)), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)["summary"]
    assert summary["complete"] is True and summary["runs"] == {"serial": 1, "shuffled": 1, "xdist": 1}
    assert summary["hunt"] == json.loads(out)["summary"]["hunt"]
