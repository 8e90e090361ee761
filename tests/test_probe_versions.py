"""The probe inside other interpreters and pytest versions than ours: Python 3.8 + pytest 7, Python 3.13 + pytest 9.

Their environments are built once per machine, inside our own virtualenv (so a fresh CI
install rebuilds them), under a file lock so xdist workers never build one twice.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flaketui.models import Verdict, VerifyMode
from flaketui.service import Service
from tests._verify_helpers import COUNTER_TEST, outcomes, project

ENVIRONMENTS_DIR = Path(sys.prefix) / "flaketui-probe-envs"
#: name -> (interpreter version, pytest requirement)
TARGETS = {
    "py38-pytest7": ("3.8", "pytest==7.4.4"),
    "py313-pytest9": ("3.13", "pytest>=9,<10"),
}
_PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def _interpreter(version: str) -> str:
    candidates = sorted(_PYENV.glob(f"{version}.*/bin/python{version}"))
    if candidates:
        return str(candidates[-1])
    found = shutil.which(f"python{version}")
    if found and "/shims/" not in found:  # a pyenv shim depends on the caller's pyenv settings
        return found
    raise AssertionError(
        f"Python {version} is needed to test the probe on it: install it (pyenv install {version}) "
        f"or put python{version} on PATH."
    )


def _environment(name: str) -> Path:
    version, requirement = TARGETS[name]
    target = ENVIRONMENTS_DIR / name
    python = target / "bin" / "python"
    ENVIRONMENTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(ENVIRONMENTS_DIR / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held by the xdist worker that builds it; the other waits
        if not (target / ".ready").exists():
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run([_interpreter(version), "-m", "venv", str(target)], check=True, capture_output=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
                check=True,
                capture_output=True,
            )
            (target / ".ready").write_text(requirement + "\n")
    return python


@pytest.fixture(scope="session", params=sorted(TARGETS))
def other_python(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(path of the interpreter, the ``Python X.Y`` it must report)."""
    return str(_environment(request.param)), f"Python {TARGETS[request.param][0]}."


HANG_AND_CRASH = '''
import os
import threading


def test_hangs():
    threading.Event().wait()


def test_kills_its_interpreter():
    os._exit(3)
'''


def test_forked_runs_on_another_python_and_pytest(tmp_path: Path, other_python: tuple[str, str]) -> None:
    python, version = other_python
    root = project(tmp_path / "p", {"test_counter.py": COUNTER_TEST, "test_bad.py": HANG_AND_CRASH}, ini="[pytest]\n")
    counter, hang, crash = Service(root, python=python).verify(
        ["test_counter.py::test_third_run_fails", "test_bad.py::test_hangs", "test_bad.py::test_kills_its_interpreter"],
        runs=3,
        timeout=2,  # roomy: a loaded 2-core machine must not turn a quick run into a timeout
    )
    assert outcomes(counter) == ["passed", "passed", "failed"]
    assert outcomes(hang) == ["timeout"] * 3
    assert outcomes(crash) == ["crashed"] * 3
    assert version in counter.python and python in counter.python


THREAD_AT_IMPORT = "import threading\n\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"


@pytest.mark.parametrize("where", ["conftest.py", "test_counter.py"])
def test_the_zygote_forks_on_another_python_and_pytest(tmp_path: Path, other_python: tuple[str, str], where: str) -> None:
    python, _ = other_python
    files = {"conftest.py": "", "test_counter.py": COUNTER_TEST}
    files[where] = THREAD_AT_IMPORT + files[where]
    root = project(tmp_path / "p", files, ini="[pytest]\n")
    [v] = Service(root, python=python).verify(["test_counter.py::test_third_run_fails"], runs=3)
    assert (v.mode, outcomes(v)) == (VerifyMode.FORKED, ["passed", "passed", "failed"])
    assert "each run forked before" in v.note


@pytest.mark.parametrize("mode", [VerifyMode.SAME_PROCESS, VerifyMode.FRESH_PROCESS, VerifyMode.RANDOM_ORDER])
def test_every_mode_runs_on_another_python_and_pytest(
    tmp_path: Path, other_python: tuple[str, str], mode: VerifyMode
) -> None:
    python, _ = other_python
    # No rerun plugin is installed there: the probe alone registers ``flaky`` for --strict-markers.
    marked = COUNTER_TEST.replace("def test_third", "import pytest\n\n\n@pytest.mark.flaky\ndef test_third")
    root = project(tmp_path / "p", {"test_counter.py": marked}, ini="[pytest]\naddopts = --strict-markers\n")
    [v] = Service(root, python=python).verify(["test_counter.py::test_third_run_fails"], runs=3, mode=mode)
    assert outcomes(v) == ["passed", "passed", "failed"]
    assert v.verdict is Verdict.FLAKY
