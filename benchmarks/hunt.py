"""Finding a polluter among 200 tests: flaketui's bisection against detect-test-pollution.

Run: ``.venv/bin/python benchmarks/hunt.py``. It generates a project of 200 tests in 10 modules
where one test (known) leaves module state behind and the last test fails after it, then:

- flaketui: ``Service.find_polluter`` (one serial pass for pytest's order, then bisection:
  alone, the replay, halves, the polluter alone), counting runs and seconds;
- detect-test-pollution (asottile's tool; installed with pytest into a venv of its own under
  ``~/.cache/flaketui-bench/`` the first time, never into ours) on the same project.

Both run the project's tests with that venv's interpreter, so they pay the same pytest start.

Both must name the same polluter. Target (issue 15): at most 2*log2(200) = 15.3 bisection runs.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flaketui.service import Service

TESTS = 200
MODULES = 10
POLLUTER_MODULE, POLLUTER_INDEX = 3, 7
DTP_VENV = Path.home() / ".cache" / "flaketui-bench" / "dtp-venv"


def generate(root: Path) -> tuple[str, str]:
    """The project; returns (polluter, victim) node ids."""
    tests = root / "tests"
    tests.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (tests / "__init__.py").write_text("")
    (tests / "state.py").write_text("CACHE = {}\n")
    per_module = TESTS // MODULES
    polluter = victim = ""
    for module in range(MODULES):
        lines = ["from tests import state", ""]
        for index in range(per_module):
            name = f"test_{module:02d}_{index:02d}"
            last = module == MODULES - 1 and index == per_module - 1
            if (module, index) == (POLLUTER_MODULE, POLLUTER_INDEX):
                lines += [f"def {name}():", "    state.CACHE['user'] = 'admin'", ""]
                polluter = f"tests/test_m{module:02d}.py::{name}"
            elif last:
                lines += [f"def {name}():", "    assert 'user' not in state.CACHE", ""]
                victim = f"tests/test_m{module:02d}.py::{name}"
            else:
                lines += [f"def {name}():", f"    assert {index} + 1 == {index + 1}", ""]
        (tests / f"test_m{module:02d}.py").write_text("\n".join(lines))
    return polluter, victim


def flaketui_run(root: Path, victim: str, python: Path) -> tuple[str | None, int, float]:
    start = time.perf_counter()
    bisection, runs = Service(root, python=str(python)).hunting.find_polluter(victim)
    return bisection.polluter, runs, time.perf_counter() - start


def dtp_python() -> Path:
    python = DTP_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DTP_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "detect-test-pollution", "pytest"], check=True)
    return python


def dtp_run(root: Path, victim: str, python: Path) -> tuple[str | None, int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    start = time.perf_counter()
    done = subprocess.run(
        [str(python.with_name("detect-test-pollution")), "--failing-test", victim, "--tests", "tests"],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    found = re.search(r"-> the polluting test is: (\S+)", done.stdout)
    # One pytest per step, plus discovery, the test alone and the whole group before the steps,
    # and its double check after them.
    steps = len(re.findall(r"^running step", done.stdout, flags=re.MULTILINE))
    return (found.group(1) if found else None), steps + 4, seconds


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="flaketui-bench-hunt-") as scratch:
        root = Path(scratch) / "project"
        polluter, victim = generate(root)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        # Both run the project with the same interpreter: that venv's, with pytest alone.
        python = dtp_python()
        ours = flaketui_run(root, victim, python)
        theirs = dtp_run(root, victim, python)
    limit = 2 * math.log2(TESTS)
    print(f"{TESTS} tests, polluter {polluter}, victim {victim}")
    print(f"{'':24}{'found':>8}{'runs':>8}{'seconds':>10}")
    for name, (found, runs, seconds) in (("flaketui", ours), ("detect-test-pollution", theirs)):
        print(f"{name:24}{'yes' if found == polluter else 'NO':>8}{runs:>8}{seconds:>10.1f}")
    print(f"runs include the first full pass (flaketui) / discovery (detect-test-pollution); limit 2*log2(n) = {limit:.1f}")
    print(f"flaketui / detect-test-pollution: runs {ours[1] / theirs[1]:.2f}x, seconds {ours[2] / theirs[2]:.2f}x")
    return 0 if ours[0] == polluter and ours[1] - 1 <= limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
