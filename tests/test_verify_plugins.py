"""Rerun plugins in the target's environment change nothing, and a cancel leaves no process behind."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.models import Verdict, VerifyMode
from flaketui.service import Service
from tests._verify_helpers import LIGHT, PYTEST_INI, outcomes, project, wait_until_dead

FAILS_ON_FIRST_RUN = '''
import pathlib

import pytest
{imports}

COUNTER = pathlib.Path(__file__).with_name("counter.txt")


{decorator}
def test_fails_once():
    count = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(count))
    assert count != 1, "the first run fails"
'''


A_MARKED_TEST_FAILING_ONCE_COUNTS_AS_A_FAILURE_WITH_EACH_RERUN_PLUGIN_CASES = [
    pytest.param("--reruns 3", "", "@pytest.mark.flaky(reruns=3)", id="pytest-rerunfailures"),
    pytest.param("--force-flaky --max-runs 3", "from flaky import flaky", "@flaky(max_runs=3)", id="flaky"),
    pytest.param("--retries 3", "", "@pytest.mark.flaky(retries=3)", id="pytest-retry"),
    pytest.param("-p randomly --randomly-seed 1234", "", "@pytest.mark.flaky", id="pytest-randomly"),
]


@pytest.mark.parametrize(
    ("addopts", "imports", "decorator"),
    A_MARKED_TEST_FAILING_ONCE_COUNTS_AS_A_FAILURE_WITH_EACH_RERUN_PLUGIN_CASES,
)
def test_a_marked_test_failing_once_counts_as_a_failure_with_each_rerun_plugin(
    tmp_path: Path, addopts: str, imports: str, decorator: str
) -> None:
    root = project(
        tmp_path / "p",
        {"test_once.py": FAILS_ON_FIRST_RUN.format(imports=imports, decorator=decorator)},
        ini=f"[pytest]\naddopts = --strict-markers {LIGHT} {addopts}\n",
    )
    [v] = Service(root).verify(["test_once.py::test_fails_once"], runs=3)
    assert outcomes(v) == ["failed", "passed", "passed"]
    assert v.verdict is Verdict.FLAKY
    assert "pytest-rerunfailures" in v.note and "flaky" in v.note


RANDOM_VALUES = '''
import pathlib
import random

OUT = pathlib.Path(__file__).with_name("values.txt")


def test_draws():
    with OUT.open("a") as out:
        out.write("%r\\n" % random.random())
'''


def test_pytest_randomly_does_not_make_every_forked_run_alike(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", {"test_draw.py": RANDOM_VALUES}, ini=f"[pytest]\naddopts = {LIGHT} -p randomly --randomly-seed 1234\n"
    )
    Service(root).verify(["test_draw.py::test_draws"], runs=3)
    assert len(set((root / "values.txt").read_text().splitlines())) == 3


HANGS_WITH_A_CHILD = '''
import os
import pathlib
import subprocess
import sys
import threading

PIDS = pathlib.Path(__file__).with_name("pids.txt")


def test_hangs_with_a_child():
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    PIDS.write_text("%d %d %d\\n" % (os.getppid(), os.getpid(), child.pid))
    threading.Event().wait()
'''


@pytest.mark.parametrize("mode", [VerifyMode.FORKED, VerifyMode.SAME_PROCESS, VerifyMode.FRESH_PROCESS])
def test_cancel_kills_every_process_at_once(tmp_path: Path, mode: VerifyMode) -> None:
    root = project(tmp_path / "p", {"test_hang.py": HANGS_WITH_A_CHILD})
    pids_file = root / "pids.txt"

    def should_stop() -> bool:
        return pids_file.exists() and pids_file.read_text().endswith("\n")

    service = Service(root)
    [v] = service.verify(["test_hang.py::test_hangs_with_a_child"], runs=5, mode=mode, should_stop=should_stop)
    # In same-process mode the test's parent is this very process.
    pids = [int(p) for p in pids_file.read_text().split() if int(p) != os.getpid()]
    assert all(wait_until_dead(pid) for pid in pids), pids
    assert v.results == ()
    assert "cancelled after 0 of 5 runs" in v.note
    # A cancelled verification is recorded too.
    assert service.last_verifications()[(".", "test_hang.py::test_hangs_with_a_child")].runs_requested == 5


def test_cancel_from_another_thread_while_runs_go_on(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_hang.py": HANGS_WITH_A_CHILD})
    stop = threading.Event()
    done: list = []
    worker = threading.Thread(
        target=lambda: done.extend(
            Service(root).verify(["test_hang.py::test_hangs_with_a_child"], runs=3, should_stop=stop.is_set)
        )
    )
    worker.start()
    pids_file = root / "pids.txt"
    while not (pids_file.exists() and pids_file.read_text().endswith("\n")):
        worker.join(0.05)  # waits on the worker, which is what we are waiting for anyway
    stop.set()
    worker.join(60)
    assert not worker.is_alive()
    assert all(wait_until_dead(int(pid)) for pid in pids_file.read_text().split() if int(pid) != os.getpid())
    assert done[0].verdict is Verdict.CANCELLED


ONLY_SERIAL = '''
import os


def test_only_serial():
    assert "PYTEST_XDIST_WORKER" not in os.environ


def test_neighbour():
    pass
'''


def test_parallel_mode_runs_under_xdist_workers(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_serial.py": ONLY_SERIAL})
    [parallel] = Service(root).verify(["test_serial.py::test_only_serial"], runs=2, mode=VerifyMode.PARALLEL)
    assert outcomes(parallel) == ["failed", "failed"]
    assert parallel.mode is VerifyMode.PARALLEL
    assert "parallel (2 xdist workers) 0/2 passed, unlike serial (forked) 2/2" in parallel.note


def test_cli_json_prints_one_object_per_test_and_exits_1_unless_all_stable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", {"test_x.py": "def test_ok():\n    pass\n\ndef test_bad():\n    assert False\n"})
    code = main(["-C", str(root), "verify", "test_x.py::test_ok", "test_x.py::test_bad", "--runs", "2", "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    ok, bad = (json.loads(line) for line in lines)
    assert code == 1
    fields = {"nodeid", "runs", "passed", "failed", "errors", "timeouts", "crashed", "verdict",
              "failure_rate_upper_95", "mode", "command", "head", "tree_fingerprint"}  # fmt: skip
    assert fields <= ok.keys()
    assert (ok["passed"], ok["verdict"], ok["failure_rate_upper_95"]) == (2, "stable", 0.7764)
    assert (bad["failed"], bad["verdict"], bad["mode"]) == (2, "broken", "forked")


def test_cli_exits_0_when_all_stable_and_prints_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", {"test_x.py": "def test_ok():\n    pass\n"})
    assert main(["-C", str(root), "verify", "test_x.py::test_ok", "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "stable" in out and "3/3 passed, forked, failure rate < 63% at 95%" in out
    assert "only 3 runs: 3/3 passes still allow a failure rate of 63% at 95%, and a test that fails one run in five" in out
    assert "reproduce: flaketui -C" in out


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["verify"], id="no-node-id"),
        pytest.param(["verify", "test_x.py::test_ok", "--runs", "0"], id="zero-runs"),
        pytest.param(["verify", "test_x.py::test_ok", "--mode", "sideways"], id="unknown-mode"),
        pytest.param(["verify", "missing.py::test_ok"], id="missing-file"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path: Path, argv: list[str]) -> None:
    root = project(tmp_path / "p", {"test_x.py": "def test_ok():\n    pass\n"})
    assert main(["-C", str(root), *argv]) == 2


def test_the_default_ini_blocks_only_unrelated_plugins() -> None:
    assert "rerun" not in PYTEST_INI


def test_ctrl_c_on_the_command_line_stops_every_process_and_exits_130(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    root = project(tmp_path / "p", {"test_hang.py": HANGS_WITH_A_CHILD})
    pids_file = root / "pids.txt"
    command = [sys.executable, "-m", "flaketui", "-C", str(root), "verify", "test_hang.py::test_hangs_with_a_child"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not (pids_file.exists() and pids_file.read_text().endswith("\n")):
            try:
                process.wait(timeout=0.05)  # waiting on flaketui itself, which must not exit yet
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"flaketui exited early: {process.stderr.read() if process.stderr else ''}")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "cancelled after 0 of 10 runs" in out
    assert all(wait_until_dead(int(pid)) for pid in pids_file.read_text().split() if int(pid) != process.pid)
