"""Forked mode on projects whose imports start threads: each run forks from a parent that
stopped before the threads existed (a zygote), and collects its test alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flaketui.models import Verdict, VerifyMode
from flaketui.service import Service
from tests._verify_helpers import COUNTER_TEST, outcomes, project, wait_until_dead
from tests.test_verify import HANG_AND_CRASH

#: Imported by the module or the conftest: logs which process imported it, starts a thread.
STARTS_A_THREAD = '''
import os
import pathlib
import threading

with open(pathlib.Path(__file__).with_name("imports.txt"), "a") as log:
    log.write("%s %d\\n" % (__name__, os.getpid()))
threading.Thread(target=threading.Event().wait, name="background-poller", daemon=True).start()
'''
LOGS_ITS_IMPORT = STARTS_A_THREAD.split("threading.Thread")[0]


def imports(root: Path) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for line in (root / "imports.txt").read_text().splitlines():
        name, pid = line.split()
        seen.setdefault(name, []).append(pid)
    return seen


def test_a_test_module_that_starts_a_thread_forks_each_run_before_collection(tmp_path: Path) -> None:
    module = STARTS_A_THREAD + COUNTER_TEST
    root = project(tmp_path / "p", {"conftest.py": LOGS_ITS_IMPORT, "test_counter.py": module})
    [v] = Service(root).verify(["test_counter.py::test_third_run_fails"], runs=4)
    assert v.mode is VerifyMode.FORKED
    assert outcomes(v) == ["passed", "passed", "failed", "passed"]
    assert "threads were running after collection (background-poller)" in v.note
    assert "each run forked before collection" in v.note
    seen = imports(root)
    # The conftest loaded once, in the zygote; the module where the thread was found, then
    # once in every run's own child.
    assert len(seen["conftest"]) == 1
    assert len(set(seen["test_counter"])) == 5 and seen["conftest"][0] not in seen["test_counter"]


def test_a_conftest_that_starts_a_thread_forks_each_run_before_the_conftests_load(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"conftest.py": STARTS_A_THREAD, "test_counter.py": COUNTER_TEST})
    [v] = Service(root).verify(["test_counter.py::test_third_run_fails"], runs=4)
    assert v.mode is VerifyMode.FORKED
    assert outcomes(v) == ["passed", "passed", "failed", "passed"]
    assert "once the conftests had loaded (background-poller): each run forked before the conftests loaded" in v.note
    # Once where the thread was found, then once in each run's child.
    assert len(set(imports(root)["conftest"])) == 5


def test_a_plugin_that_starts_a_thread_falls_back_to_fresh_processes(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"threadplugin.py": STARTS_A_THREAD, "test_counter.py": COUNTER_TEST})
    [v] = Service(root, pytest_args=["-p", "threadplugin"]).verify(["test_counter.py::test_third_run_fails"], runs=3)
    assert v.mode is VerifyMode.FRESH_PROCESS
    assert "background-poller" in v.note and "ran fresh-process instead" in v.note
    assert outcomes(v) == ["passed", "passed", "failed"]


#: Hangs, kills its interpreter, passes (test_verify's), and a test that skips.
HANG_CRASH_SKIP = HANG_AND_CRASH + '''

def test_skips():
    import pytest

    pytest.skip("not here")
'''


def test_zygote_runs_time_out_crash_skip_and_miss_like_forked_ones(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_bad.py": STARTS_A_THREAD + HANG_CRASH_SKIP})
    hang, crash, skip, missing = Service(root).verify(
        ["test_bad.py::test_hangs", "test_bad.py::test_kills_its_interpreter", "test_bad.py::test_skips",
         "test_bad.py::test_gone"],
        runs=2,
        timeout=2,  # roomy: a loaded 2-core machine must not turn a quick run into a timeout
    )  # fmt: skip
    assert "each run forked before collection" in hang.note
    assert outcomes(hang) == ["timeout", "timeout"]
    assert outcomes(crash) == ["crashed", "crashed"] and "exit code 7" in crash.results[0].message
    assert (outcomes(skip), skip.verdict) == (["skipped"], Verdict.SKIPPED)
    assert (missing.results, missing.verdict) == ((), Verdict.ERROR)
    assert "not collected: test_bad.py::test_gone" in missing.note


def test_a_module_that_no_longer_imports_is_an_error_once_not_a_crash_per_run(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"conftest.py": STARTS_A_THREAD, "test_x.py": "import no_such_module\n\ndef test_x():\n    pass\n"})
    [v] = Service(root).verify(["test_x.py::test_x"], runs=3)
    assert (v.results, v.verdict) == ((), Verdict.ERROR)
    assert "no_such_module" in v.note


HANGS_WITH_A_CHILD = '''
import os
import pathlib
import subprocess
import sys


def test_hangs_with_a_child():
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    pathlib.Path(__file__).with_name("pids.txt").write_text("%d %d\\n" % (os.getpid(), child.pid))
    threading.Event().wait()
'''


@pytest.mark.parametrize("where", ["conftest.py", "test_hang.py"])
def test_cancel_kills_every_process_of_a_zygote(tmp_path: Path, where: str) -> None:
    files = {"conftest.py": "", "test_hang.py": HANGS_WITH_A_CHILD}
    files[where] = STARTS_A_THREAD + files[where]
    root = project(tmp_path / "p", files)
    pids_file = root / "pids.txt"
    [v] = Service(root).verify(
        ["test_hang.py::test_hangs_with_a_child"], runs=5,
        should_stop=lambda: pids_file.exists() and pids_file.read_text().endswith("\n"),
    )  # fmt: skip
    pids = [int(p) for p in pids_file.read_text().split()] + [int(p) for p in imports(root).get("conftest", [])]
    assert all(wait_until_dead(pid) for pid in pids if pid != os.getpid()), pids
    assert v.verdict is Verdict.CANCELLED
