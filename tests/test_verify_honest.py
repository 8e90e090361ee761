"""What a verification is not: a skip, a cancel, a serial baseline that never ran; and the
project's own pytest options, which every run gets. Real pytest on projects in tmp_path."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.models import RunOutcome, Verdict, VerifyMode
from flaketui.service import Service
from tests._verify_helpers import LIGHT, outcomes, project

SKIPS = '''
import pytest


def test_needs_gpu():
    pytest.skip("needs the GPU runner")


@pytest.mark.skipif(True, reason="only on the nightly box")
def test_nightly():
    pass


def test_ok():
    pass
'''


@pytest.mark.parametrize("mode", [VerifyMode.FORKED, VerifyMode.SAME_PROCESS, VerifyMode.FRESH_PROCESS])
@pytest.mark.parametrize(
    ("test_name", "reason"),
    [("test_needs_gpu", "needs the GPU runner"), ("test_nightly", "only on the nightly box")],
)
def test_a_skipping_test_runs_once_and_is_skipped_with_its_reason(
    tmp_path: Path, mode: VerifyMode, test_name: str, reason: str
) -> None:
    root = project(tmp_path / "p", {"test_skip.py": SKIPS})
    [v] = Service(root).verify([f"test_skip.py::{test_name}"], runs=5, mode=mode)
    assert outcomes(v) == ["skipped"]
    assert v.verdict is Verdict.SKIPPED
    assert v.skip_reason == reason
    assert "failure rate" not in v.summary and reason in v.summary
    assert v.count(RunOutcome.FAILED) == v.count(RunOutcome.ERROR) == 0


def test_verify_exits_3_when_the_rest_is_stable_but_a_test_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", {"test_skip.py": SKIPS})
    code = main(["-C", str(root), "verify", "test_skip.py::test_ok", "test_skip.py::test_needs_gpu", "--runs", "2", "--json"])
    ok, skipped = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert code == 3
    assert (skipped["verdict"], skipped["runs"], skipped["skipped"]) == ("skipped", 1, 1)
    assert skipped["skip_reason"] == "needs the GPU runner"
    assert ok["verdict"] == "stable"


#: A conftest option the project's CI passes: without it the slow test skips.
RUNSLOW_CONFTEST = '''
import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(pytest.mark.skip(reason="need --runslow"))
        if config.getoption("--runslow"):
            item.add_marker(pytest.mark.flaky(reruns=2))
'''
SLOW_TEST = '''
import pytest


@pytest.mark.slow
def test_slow():
    pass
'''
SLOW_INI = f"[pytest]\naddopts = {LIGHT}\nmarkers = slow\n"


@pytest.mark.parametrize("mode", [VerifyMode.FORKED, VerifyMode.FRESH_PROCESS, VerifyMode.PARALLEL])
def test_pytest_args_reach_every_run_and_are_recorded_and_in_the_repro_command(tmp_path: Path, mode: VerifyMode) -> None:
    root = project(tmp_path / "p", {"conftest.py": RUNSLOW_CONFTEST, "test_slow.py": SLOW_TEST}, ini=SLOW_INI)
    [without] = Service(root).verify(["test_slow.py::test_slow"], runs=2, mode=mode)
    assert without.verdict is Verdict.SKIPPED and without.skip_reason == "need --runslow"
    service = Service(root, pytest_args="--runslow -o xfail_strict=true")
    [v] = service.verify(["test_slow.py::test_slow"], runs=2, mode=mode)
    assert outcomes(v) == ["passed", "passed"]
    assert v.pytest_args == ("--runslow", "-o", "xfail_strict=true")
    assert "--pytest-args '--runslow -o xfail_strict=true' verify --runs 2" in v.command
    assert service.history("test_slow.py::test_slow")[-1].pytest_args == v.pytest_args


def test_pytest_args_come_from_the_setting_and_reach_collection(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "conftest.py": RUNSLOW_CONFTEST,
            "test_slow.py": SLOW_TEST,
            "pyproject.toml": '[tool.flaketui]\npytest-args = ["--runslow"]\n',
        },
        ini=SLOW_INI,
    )
    service = Service(root)
    assert service.pytest_args == ("--runslow",)
    # The conftest marks the test flaky only under --runslow: pytest's collection sees it then.
    assert [t.nodeid for t in service.scan(use_cache=False, collect=True).tests] == ["test_slow.py::test_slow"]
    assert Service(root, pytest_args="").scan(use_cache=False, collect=True).tests == ()
    [v] = service.verify(["test_slow.py::test_slow"], runs=1)
    assert v.verdict is Verdict.STABLE


def test_the_command_line_option_reaches_the_runs_and_the_repro_command_repeats_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", {"conftest.py": RUNSLOW_CONFTEST, "test_slow.py": SLOW_TEST}, ini=SLOW_INI)
    code = main(["-C", str(root), "--pytest-args", "--runslow", "verify", "test_slow.py::test_slow", "--runs", "2", "--json"])
    [v] = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert (code, v["verdict"], v["pytest_args"]) == (0, "stable", ["--runslow"])
    repeat = shlex.split(v["command"])
    assert repeat[:3] == ["flaketui", "-C", str(root)]
    # The command as printed runs the same verification again.
    assert main(repeat[1:] + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "stable"
    assert main(["-C", str(root), "verify", "test_slow.py::test_slow", "--runs", "1"]) == 3


def test_pytest_addopts_from_the_environment_is_said_in_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path / "p", {"conftest.py": RUNSLOW_CONFTEST, "test_slow.py": SLOW_TEST}, ini=SLOW_INI)
    monkeypatch.setenv("PYTEST_ADDOPTS", "--runslow")
    [v] = Service(root).verify(["test_slow.py::test_slow"], runs=1)
    assert v.verdict is Verdict.STABLE
    assert "PYTEST_ADDOPTS from the environment applied too: --runslow" in v.note


#: Passes twice, then hangs on its third run: a cancel after two runs is exact.
HANGS_ON_THE_THIRD_RUN = '''
import pathlib
import threading

import pytest

COUNTER = pathlib.Path(__file__).with_name("counter.txt")


@pytest.mark.flaky(reruns=2)
def test_third_run_hangs():
    count = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(count))
    if count == 3:
        threading.Event().wait()
'''


@pytest.mark.parametrize("mode", [VerifyMode.FORKED, VerifyMode.FRESH_PROCESS])
def test_a_cancelled_verification_is_cancelled_not_stable_and_is_recorded_so(tmp_path: Path, mode: VerifyMode) -> None:
    root = project(tmp_path / "p", {"test_hang.py": HANGS_ON_THE_THIRD_RUN})
    seen: list = []
    service = Service(root)
    [v] = service.verify(
        ["test_hang.py::test_third_run_hangs"], runs=10, mode=mode, on_run=seen.append, should_stop=lambda: len(seen) >= 2
    )
    assert outcomes(v) == ["passed", "passed"]
    assert v.verdict is Verdict.CANCELLED
    assert v.summary.startswith("cancelled after 2 of 10 runs")
    assert service.last_verifications()[(".", "test_hang.py::test_third_run_hangs")].verdict is Verdict.CANCELLED
    audit = service.audit()
    assert f"| 2/2 of 10 | {mode} | cancelled | none: nothing verified |" in audit


#: A plugin the project loads (``-p``) that starts a thread: forking is unsafe before collection.
THREAD_PLUGIN = '''
import threading

threading.Thread(target=threading.Event().wait, name="plugin-poller", daemon=True).start()
'''
ONLY_SERIAL = '''
import os


def test_only_serial():
    assert "PYTEST_XDIST_WORKER" not in os.environ
'''


def test_parallel_compares_with_a_real_serial_baseline_when_forking_is_unsafe(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"threadplugin.py": THREAD_PLUGIN, "test_serial.py": ONLY_SERIAL})
    service = Service(root, pytest_args=["-p", "threadplugin"])
    [v] = service.verify(["test_serial.py::test_only_serial"], runs=2, mode=VerifyMode.PARALLEL)
    assert outcomes(v) == ["failed", "failed"]
    assert "parallel (2 xdist workers) 0/2 passed, unlike serial (fresh-process) 2/2" in v.note


def test_parallel_says_why_it_has_no_serial_baseline(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_serial.py": ONLY_SERIAL})
    seen: list = []
    [v] = Service(root).verify(
        ["test_serial.py::test_only_serial"], runs=3, mode=VerifyMode.PARALLEL, on_run=seen.append,
        should_stop=lambda: len(seen) >= 1,
    )  # fmt: skip
    assert "no serial baseline: the parallel runs were cancelled" in v.note
    assert "0/0" not in v.note
