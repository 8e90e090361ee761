"""How fast is ``flaketui scan`` on a 5,000-file repository, against its floor and its rival?

Generates a git repository of 5,000 test files (about 200 flaky-marked tests in every form
discovery knows) in a temporary directory, then measures, each as a subprocess:

- ``git grep -n flaky``: the floor, reading every file once in C;
- ``flaketui scan --json --no-cache``: a cold scan (nothing cached);
- ``flaketui scan --json``: a warm scan of the unchanged repository (stat cache);
- ``pytest --collect-only -q -m flaky``: what a user would run otherwise (and which misses
  the ``flaky`` package's ``@flaky``);

and prints the ratios and flaketui's peak memory. Run: ``.venv/bin/python benchmarks/scan.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILES = 5000
PACKAGES = 50
#: One flaky form per slot; each marked file holds one form, cycling through the list.
FORMS = [
    "@pytest.mark.flaky\ndef test_flaky_{n}(): assert True\n",
    "@pytest.mark.flaky(reruns=2, reruns_delay=1)\ndef test_flaky_{n}(): assert True\n",
    "@pt.mark.flaky(max_runs=3)\ndef test_flaky_{n}(): assert True\n",
    "@mark.flaky(retries=2)\ndef test_flaky_{n}(): assert True\n",
    "@flaky\ndef test_flaky_{n}(): assert True\n",
    "@flaky(max_runs=3, min_passes=1)\ndef test_flaky_{n}(): assert True\n",
    "@network_flaky\ndef test_flaky_{n}(): assert True\n",
    "@pytest.mark.flaky(reruns=1)\nclass TestFlaky{n}:\n    def test_a(self): assert True\n",
    "class TestBody{n}:\n    pytestmark = [pytest.mark.flaky(reruns=1)]\n\n    def test_a(self): assert True\n",
    "class TestChild{n}(FlakyBase):\n    def test_own(self): assert True\n",
    "@pytest.mark.parametrize('x', [1, pytest.param(2, marks=pytest.mark.flaky(reruns=1)), 'a'])\ndef test_param_{n}(x): assert x\n",
    "class Check{n}(unittest.TestCase):\n    @pytest.mark.flaky(reruns=1)\n    def test_case(self): self.assertTrue(True)\n",
]
PLAIN_HEADER = "import pytest\n\n"
#: Only files that hold a flaky form import the spellings they use, as in a real project.
MARKED_HEADER = (
    "import unittest\n\nimport pytest\nimport pytest as pt\nfrom pytest import mark\nfrom flaky import flaky\n\n"
    "from tests.helpers import FlakyBase, network_flaky\n\n"
)
PLAIN_TESTS = """

def helper_{n}(value):
    return {{"value": value, "doubled": value * 2}}


def test_plain_{n}_a():
    assert helper_{n}(2)["doubled"] == 4


def test_plain_{n}_b():
    data = [helper_{n}(i) for i in range(10)]
    assert len(data) == 10


class TestPlain{n}:
    def test_one(self):
        assert sum(range(5)) == 10

    def test_two(self):
        assert "abc".upper() == "ABC"
"""


def generate(root: Path, files: int = FILES, marked_every: int = 25) -> None:
    """A package of ``files`` test files; every ``marked_every``-th holds one flaky form."""
    tests = root / "tests"
    tests.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )
    (tests / "__init__.py").write_text("")
    (tests / "helpers.py").write_text(
        "import pytest\n\nnetwork_flaky = pytest.mark.flaky(reruns=3)\n\n\n"
        "@pytest.mark.flaky(reruns=2)\nclass FlakyBase:\n    def test_inherited(self): assert True\n"
    )
    (tests / "conftest.py").write_text("import pytest\n")
    per_package = files // PACKAGES
    form_index = 0
    for number in range(files):
        package = tests / f"pkg_{number // per_package:03d}"
        if not package.exists():
            package.mkdir()
            (package / "__init__.py").write_text("")
        body = PLAIN_HEADER + PLAIN_TESTS.format(n=number)
        if number % marked_every == 0:
            body = MARKED_HEADER + FORMS[form_index % len(FORMS)].format(n=number) + PLAIN_TESTS.format(n=number)
            form_index += 1
        (package / f"test_mod_{number:05d}.py").write_text(body)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "bench"],
    ):
        subprocess.run(command, cwd=root, check=True, env=env)


#: CPU seconds (user + system) of the best run of each command, by label: on a shared machine
#: wall time mostly measures the neighbours, CPU time what the command itself costs.
CPU: dict[str, float] = {}


def timed(command: list[str], cwd: Path, repeat: int = 1, label: str = "") -> tuple[float, int, bytes]:
    """Best wall time of ``repeat`` runs, the child's peak RSS in KiB, and its stdout."""
    best = float("inf")
    peak = 0
    output = b""
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        output = process.stdout.read() if process.stdout else b""
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in (0, 5):
            raise SystemExit(f"{command} failed with {process.returncode}")
        if elapsed < best:
            CPU[label or command[0]] = usage.ru_utime + usage.ru_stime
        best = min(best, elapsed)
        peak = max(peak, usage.ru_maxrss)
    return best, peak, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--keep", action="store_true", help="Keep the generated repository and print its path.")
    parser.add_argument("--skip-pytest", action="store_true", help="Skip the (slow) pytest collection.")
    options = parser.parse_args(argv)
    flaketui = [sys.executable, "-m", "flaketui"]
    workdir = Path(tempfile.mkdtemp(prefix="flaketui-bench-"))
    root = workdir / "repo"
    try:
        generate(root, options.files)
        import json

        grep, _, _ = timed(["git", "grep", "-n", "flaky"], root, repeat=5, label="grep")
        # Discovery alone: the table output (no diagnosis), nothing cached.
        table, table_rss, _ = timed([*flaketui, "scan", "--no-cache"], root, repeat=3, label="discovery")
        # The JSON carries each test's diagnosis too (libcst parses every flaky test's module).
        cold, cold_rss, cold_out = timed([*flaketui, "scan", "--json", "--no-cache"], root, repeat=3, label="json")
        warm, warm_rss, warm_out = timed([*flaketui, "scan", "--json"], root, repeat=5, label="warm")
        found = json.loads(cold_out)
        assert json.loads(warm_out) == found, "the warm scan must answer exactly what the cold one did"
        print(f"repository: {options.files} test files, {len(found['tests'])} flaky-marked tests found by flaketui")
        print(f"git grep -n flaky                      {grep * 1000:8.1f} ms  (floor)")
        print(f"flaketui scan --no-cache (discovery)   {table * 1000:8.1f} ms  {table / grep:5.1f}x git grep  (target <= 10x)")
        print(f"flaketui scan --json --no-cache (+diagnosis) {cold * 1000:8.1f} ms  {cold / grep:5.1f}x git grep")
        print(f"flaketui scan --json (warm, cached)    {warm * 1000:8.1f} ms  {warm / grep:5.1f}x git grep  (target <= 5x)")
        if not options.skip_pytest:
            collect, _, collected = timed(
                [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "flaky", "-p", "no:randomly", "-p", "no:cacheprovider"],
                root,
                label="pytest",
            )
            selected = sum(1 for line in collected.decode().splitlines() if "::" in line)
            print(
                f"pytest --collect-only -q -m flaky      {collect * 1000:8.0f} ms  discovery is {collect / table:5.1f}x faster, "
                f"scan --json {collect / cold:5.1f}x (target >= 20x); pytest selected {selected} (it cannot see @flaky)"
            )
        print(
            f"peak RSS: discovery {table_rss / 1024:.0f} MB, --json {cold_rss / 1024:.0f} MB, warm {warm_rss / 1024:.0f} MB"
            "  (target < 300 MB)"
        )
        floor = max(CPU["grep"], 1e-3)
        print("CPU seconds (user+system), less sensitive to a busy machine: " + ", ".join(
            f"{label} {seconds:.3f} s ({seconds / floor:.1f}x grep)" for label, seconds in CPU.items()
        ))
        if options.keep:
            print(f"kept: {root}")
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
