"""How fast is ``flaketui scan`` on a 5,000-file repository, against its floor and its rival?

Generates a git repository of 5,000 test files (about 200 flaky-marked tests in every form
discovery knows) in a temporary directory, then measures, each as a subprocess:

- ``git grep -n flaky``: the floor, reading every file once in C;
- ``flaketui scan --json --no-cache``: a cold scan (nothing cached);
- ``flaketui scan --json``: a warm scan of the unchanged repository (stat cache);
- ``pytest --collect-only -q -m flaky``: what a user would run otherwise (and which misses
  the ``flaky`` package's ``@flaky``);

and prints the ratios and flaketui's peak memory. With ``--baseline DIR`` (a checkout of
another revision: ``git worktree add --detach DIR REV``), that revision's cold scans run in
the same rounds, on a copy of the repository (caches apart), and the CPU ratio is printed. Rounds run every command once in turn, so a busy moment of a shared machine hits each alike;
the best of each is what it costs. Run: ``.venv/bin/python benchmarks/scan.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


def run_once(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, int, bytes]:
    """Wall seconds, CPU seconds (user + system), peak RSS in KiB, and stdout of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 5):
        raise SystemExit(f"{command} failed with {code}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, output


class Measured:
    """Every run of one command: the best is what it costs, the median how steady that is."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.peak = 0
        self.output = b""

    def add(self, wall: float, cpu: float, peak: int, output: bytes) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.peak = max(self.peak, peak)
        self.output = output

    @property
    def best(self) -> float:
        return min(self.wall)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--rounds", type=int, default=7, help="Rounds; each runs every command once, in turn.")
    parser.add_argument("--keep", action="store_true", help="Keep the generated repository and print its path.")
    parser.add_argument("--skip-pytest", action="store_true", help="Skip the (slow) pytest collection.")
    parser.add_argument(
        "--baseline", type=Path, metavar="DIR", help="A checkout of another revision whose cold scans run alongside."
    )
    options = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="flaketui-bench-"))
    root = workdir / "repo"
    # Measure flaketui as installed: pip compiles an installed package's bytecode once, so
    # each run here reads it from a cache of its own (a development environment may forbid
    # writing bytecode, and would otherwise time the compiler on every run).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    flaketui = [sys.executable, "-m", "flaketui"]
    try:
        generate(root, options.files)
        run_once([*flaketui, "--version"], root, env)  # writes the bytecode cache
        commands: dict[str, tuple[list[str], dict[str, str] | None, Path]] = {
            "grep": (["git", "grep", "-n", "flaky"], None, root),
            # Discovery alone: the table output (no diagnosis), nothing cached.
            "discovery": ([*flaketui, "scan", "--no-cache"], env, root),
            # The JSON carries each test's diagnosis too (libcst parses every flaky test's module).
            "json": ([*flaketui, "scan", "--json", "--no-cache"], env, root),
            "warm": ([*flaketui, "scan", "--json"], env, root),
        }
        if options.baseline is not None:
            # The other revision imports first from its checkout; its own copy of the repository
            # keeps its caches (of another format, maybe) away from the warm scans above.
            base_env = {**env, "PYTHONPATH": str(options.baseline.resolve())}
            base_root = workdir / "baseline-repo"
            generate(base_root, options.files)  # the same files (a copy could race git's auto gc)
            run_once([*flaketui, "--version"], base_root, base_env)
            commands["baseline discovery"] = ([*flaketui, "scan", "--no-cache"], base_env, base_root)
            commands["baseline json"] = ([*flaketui, "scan", "--json", "--no-cache"], base_env, base_root)
        measured = {label: Measured() for label in commands}
        run_once(commands["warm"][0], root, env)  # leaves the cache the warm runs read
        # Round-robin, so that a busy moment of a shared machine hits every command alike.
        for _ in range(options.rounds):
            for label, (command, command_env, where) in commands.items():
                measured[label].add(*run_once(command, where, command_env))
        grep, table, cold, warm = (measured[label] for label in ("grep", "discovery", "json", "warm"))
        found = json.loads(cold.output)
        assert json.loads(warm.output) == found, "the warm scan must answer exactly what the cold one did"
        print(f"repository: {options.files} test files, {len(found['tests'])} flaky-marked tests found by flaketui")
        print(f"{options.rounds} rounds, each command once per round in turn; best and median wall time")
        print(f"git grep -n flaky                       {grep.best * 1000:7.1f} ms (median {grep.median * 1000:6.1f})  floor")
        for label, m, target in (
            ("flaketui scan --no-cache (discovery)", table, "target <= 10x"),
            ("flaketui scan --json --no-cache (+diagnosis)", cold, ""),
            ("flaketui scan --json (warm, cached)", warm, "target <= 5x"),
        ):
            print(
                f"{label:<45} {m.best * 1000:7.1f} ms (median {m.median * 1000:6.1f})  "
                f"{m.best / grep.best:5.1f}x git grep (median {m.median / grep.median:4.1f}x)  {target}"
            )
        if not options.skip_pytest:
            rival = Measured()
            rival.add(*run_once(
                [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "flaky", "-p", "no:randomly", "-p", "no:cacheprovider"],
                root,
            ))
            selected = sum(1 for line in rival.output.decode().splitlines() if "::" in line)
            print(
                f"pytest --collect-only -q -m flaky      {rival.best * 1000:8.0f} ms  discovery is {rival.best / table.best:5.1f}x faster, "
                f"scan --json {rival.best / cold.best:5.1f}x (target >= 20x); pytest selected {selected} (it cannot see @flaky)"
            )
        print(
            f"peak RSS: discovery {table.peak / 1024:.0f} MB, --json {cold.peak / 1024:.0f} MB, warm {warm.peak / 1024:.0f} MB"
            "  (target < 300 MB)"
        )
        floor = max(min(grep.cpu), 1e-3)
        print("best CPU seconds (user+system), less sensitive to a busy machine: " + ", ".join(
            f"{label} {min(m.cpu):.3f} s ({min(m.cpu) / floor:.1f}x grep)" for label, m in measured.items()
        ))
        if options.baseline is not None:
            for label in ("discovery", "json"):
                ours, theirs = min(measured[label].cpu), min(measured[f"baseline {label}"].cpu)
                print(
                    f"against {options.baseline}: {label} {ours:.3f} s CPU vs {theirs:.3f} s "
                    f"({(ours / theirs - 1) * 100:+.1f}%; target within +10%)"
                )
        if options.keep:
            print(f"kept: {root}")
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
