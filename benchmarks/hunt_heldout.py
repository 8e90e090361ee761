"""`flaketui hunt --runs 10 --json` on generated projects in the held-out project's shape,
scored against what the generator knows.

Run: ``.venv/bin/python benchmarks/hunt_heldout.py [--seed N] [--projects K] [--runs 10] [--shapes]
[--budget MINUTES]`` (``--shapes``: more shapes, see ``more_shapes``; a small ``--budget`` scores a
hunt the budget cuts, as load does).

Each project has ~70 tests with no flaky marker: victims of module state, an environment
variable, a class attribute, a file in a session directory, ``sys.modules`` and a cache, each
with its own polluter and some sharing one (in another module or the same one); a brittle
test that needs a setter; tests that fail at a fixed rate (a counter file and a seeded
generator: the same sequence every time, no luck); two tests sharing a fixed path (they race
under xdist only); a broken test; many stable ones, parametrized with odd ids. The layout
(module names, which polluter a victim has, the rates) changes with the seed.

It prints, per project: its tests, flaky tests that fail >= 30% of the time named, stable
tests called flaky (must be 0), victims whose polluter (or setter) was named, the runs
and the wall time against the 15-minute budget. Exit 0 when every project passes all three.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

#: (name, the polluter's body, the victim's body): each victim fails after its polluter only.
STATES = [
    ("global", "config.SETTINGS['mode'] = 'fast'", "assert config.SETTINGS.get('mode') != 'fast'"),
    ("env", "os.environ['APP_DEBUG_{tag}'] = '1'", "assert 'APP_DEBUG_{tag}' not in os.environ"),
    ("classattr", "config.Registry.items.append('x')", "assert config.Registry.items == []"),
    ("file", "(shared_dir / 'lock-{tag}.json').write_text('{{}}')", "assert not (shared_dir / 'lock-{tag}.json').exists()"),
    ("module", "sys.modules['app.plugin_{tag}'] = types.SimpleNamespace(NAME='fake')",
     "assert getattr(sys.modules.get('app.plugin_{tag}'), 'NAME', '') != 'fake'"),
    ("cache", "config.get('color')",
     "config.SETTINGS['color'] = 'red'\n    try:\n        assert config.get('color') == 'red'\n    finally:\n"
     "        del config.SETTINGS['color']"),
]  # fmt: skip

#: Fails at this rate, the same sequence every time: the n-th call fails when a generator
#: seeded with the test's name and n says so.
RATE_BODY = """
    counter = COUNTERS / "{name}"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    assert random.Random("{name}-%d" % count).random() >= {rate}
"""


@dataclass
class Truth:
    tests: int = 0
    #: Flaky tests that fail at least 30% of the time in some mode (they must be named).
    must_name: set[str] = field(default_factory=set)
    #: Every test that may fail at all (anything else reported is a stable test called flaky).
    may_fail: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    #: victim -> the test that decides its outcome (its polluter, or the setter it needs).
    culprits: dict[str, str] = field(default_factory=dict)
    #: Tests failing at random at a low rate: never order-dependent.
    random_low: set[str] = field(default_factory=set)


def generate(root: Path, seed: int, shapes: bool = False) -> Truth:
    rng = random.Random(seed)
    truth = Truth()
    files: dict[str, str] = {
        "pytest.ini": "[pytest]\naddopts = -ra --strict-markers -p no:cacheprovider --maxfail=3\n"
                      "markers =\n    slow: slow tests\n",  # fmt: skip
        "src/app/__init__.py": "",
        "src/app/config.py": """
            SETTINGS = {}
            _cache = {}

            def get(key):
                if key not in _cache:
                    _cache[key] = SETTINGS.get(key, "default")
                return _cache[key]

            class Registry:
                items = []
        """,
        "tests/__init__.py": "",
        "tests/conftest.py": """
            import pathlib, sys
            import pytest
            sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "src"))

            @pytest.fixture(scope="session")
            def shared_dir(tmp_path_factory):
                return tmp_path_factory.getbasetemp()
        """,
    }
    header = "import os, sys, types, random, pathlib\nfrom app import config\n"
    header += "COUNTERS = pathlib.Path(__file__).resolve().parent.parent / '.counters'\nCOUNTERS.mkdir(exist_ok=True)\n\n"
    polluters_mod = f"tests/test_{rng.choice(['a', 'c', 'k'])}_setup.py"
    victims_mod = f"tests/{rng.choice(['sub', 'zsub', 'b_sub'])}/test_victims.py"
    files[str(Path(victims_mod).parent / "__init__.py")] = ""
    polluter_lines = [header]
    victim_lines = [header]
    states = rng.sample(STATES, 5)
    for index, (name, pollute, check) in enumerate(states):
        tag = f"{seed}_{index}"
        polluter = f"test_sets_{name}"
        fixture = "shared_dir" if name == "file" else ""
        body = pollute.format(tag=tag)
        if index == 4:  # one polluter in the victim's own module: only the order in the module matters
            victim_lines.append(f"def {polluter}({fixture}):\n    {body}\n\n")
            where = victims_mod
        else:
            polluter_lines.append(f"def {polluter}({fixture}):\n    {body}\n\n")
            where = polluters_mod
        sharing = 2 if index in (0, 2) else 1  # two victims share each of two polluters
        for n in range(sharing):
            victim = f"test_{name}_victim_{n}"
            victim_lines.append(f"def {victim}({fixture}):\n    {check.format(tag=tag)}\n\n")
            truth.culprits[f"{victims_mod}::{victim}"] = f"{where}::{polluter}"
    # The brittle test: it needs the first polluter's state (a setter).
    first_name, _, _ = states[0]
    if first_name == "global":
        brittle = "test_needs_global_setting"
        victim_lines.append(f"def {brittle}():\n    assert config.SETTINGS.get('mode') == 'fast'\n\n")
        truth.culprits[f"{victims_mod}::{brittle}"] = f"{polluters_mod}::test_sets_global"
    polluter_lines.append("def test_harmless():\n    assert config.get('x') == 'default' or True\n\n")
    files[polluters_mod] = "".join(polluter_lines)
    files[victims_mod] = "".join(victim_lines)

    random_lines = [header]
    rates = [0.3, 0.4, 0.5, 0.35, 0.1]
    for index, rate in enumerate(rates):
        name = f"test_fails_{int(rate * 100)}_percent_{index}"
        random_lines.append(f"def {name}():" + RATE_BODY.format(name=name, rate=rate) + "\n")
        nodeid = f"tests/test_random.py::{name}"
        truth.may_fail.add(nodeid)
        (truth.must_name if rate >= 0.3 else truth.random_low).add(nodeid)
    random_lines.append("class TestNetworkish:\n    def test_stable_in_class(self):\n        assert sum([1, 2, 3]) == 6\n\n")
    odd = ["a b", "x::y", "[br]", "ü", "a/b", "", "semi;colon"]
    random_lines.append(f"import pytest\n\n@pytest.mark.parametrize('value', {odd!r})\ndef test_odd_ids(value):\n"
                        "    assert isinstance(value, str)\n\n")  # fmt: skip
    files["tests/test_random.py"] = "".join(random_lines)

    # Two tests sharing a fixed path: they race only when xdist runs them at once.
    shared = root / "shared-path.txt"
    files["tests/test_parallel.py"] = f"""
        import pathlib, time
        SHARED = pathlib.Path({str(shared)!r})

        def test_shared_file_one():
            SHARED.write_text("one")
            time.sleep(0.4)
            assert SHARED.read_text() == "one"

        def test_shared_file_two():
            SHARED.write_text("two")
            time.sleep(0.4)
            assert SHARED.read_text() == "two"
    """
    truth.may_fail |= {"tests/test_parallel.py::test_shared_file_one", "tests/test_parallel.py::test_shared_file_two"}
    files["tests/test_broken.py"] = """
        import pytest

        def test_always_fails():
            assert 1 == 2

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            assert False

        @pytest.mark.xfail(reason="known bug")
        def test_xfail():
            assert False

        def test_stable_plain():
            assert True
    """
    truth.broken.add("tests/test_broken.py::test_always_fails")
    many = rng.randrange(25, 35)
    files["tests/test_many.py"] = "\n".join(f"def test_stable_{i}():\n    assert {i} == {i}\n" for i in range(many))
    if shapes:
        more_shapes(files, truth, rng, seed)
    truth.must_name |= set(truth.culprits)
    truth.may_fail |= set(truth.culprits) | truth.broken
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    (root / ".gitignore").write_text(".counters/\nshared-path.txt\nexport.csv\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=root, check=True, env=env)
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly"], cwd=root,
                               capture_output=True, text=True)  # fmt: skip
    truth.tests = sum(1 for line in collected.stdout.splitlines() if "::" in line)
    return truth


def more_shapes(files: dict[str, str], truth: Truth, rng: random.Random, seed: int) -> None:
    """``--shapes``: a polluter that is a fixture, parametrized victims, class-based tests, state
    in a helper module across files, a victim failing only in about a third of shuffled orders
    (a cleaner between its polluter and it saves it), and an xdist-only race on a relative file."""
    files["src/app/state.py"] = "HANDLERS = []\nSESSION = {}\nFLAGS = {}\n"
    files["tests/conftest.py"] += f"""
            import os

            @pytest.fixture
            def feature_flag():
                os.environ["FEATURE_{seed}"] = "on"  # never restored: every later test sees it
                return "on"
        """
    head = "import os\nimport pytest\nfrom app import state\n\n"
    polluters = f"tests/test_{rng.choice(['d', 'e', 'm'])}_shapes.py"
    victims = f"tests/test_{rng.choice(['n', 'q', 'w'])}_shape_victims.py"
    files[polluters] = head + textwrap.dedent("""
        def test_uses_the_flag(feature_flag):
            assert feature_flag == "on"

        def test_registers_handler():
            state.HANDLERS.append(print)

        class TestSession:
            def test_login(self):
                state.SESSION["user"] = "alice"

            def test_stable_method(self):
                assert state.FLAGS is not None
    """)
    files[victims] = head + textwrap.dedent(f"""
        def test_flag_off():
            assert os.environ.get("FEATURE_{seed}") != "on"

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_no_handlers(n):
            assert len(state.HANDLERS) == 0

        class TestAnonymous:
            def test_no_user(self):
                assert "user" not in state.SESSION

            def test_stable_here(self):
                assert True
    """)
    culprits = {
        f"{victims}::test_flag_off": f"{polluters}::test_uses_the_flag",
        **{f"{victims}::test_no_handlers[{n}]": f"{polluters}::test_registers_handler" for n in (1, 2, 3)},
        f"{victims}::TestAnonymous::test_no_user": f"{polluters}::TestSession::test_login",
    }
    # Fails when its polluter ran before it and the cleaner not in between: 2 orders of 6.
    files["tests/test_b_third.py"] = head + "def test_limit_unset():\n    assert 'limit' not in state.FLAGS\n"
    files["tests/test_g_limit.py"] = head + "def test_sets_limit():\n    state.FLAGS['limit'] = 5\n"
    files["tests/test_h_clean.py"] = head + "def test_resets_flags():\n    state.FLAGS.clear()\n"
    culprits["tests/test_b_third.py::test_limit_unset"] = "tests/test_g_limit.py::test_sets_limit"
    truth.culprits.update(culprits)
    # Two modules writing one relative file: they race only when xdist runs them at once.
    for name in ("export_a", "export_b"):
        files[f"tests/test_{name}.py"] = textwrap.dedent(f"""
            import pathlib, time

            def test_{name}():
                out = pathlib.Path("export.csv")
                out.write_text("{name}")
                time.sleep(0.3)
                assert out.read_text() == "{name}"
        """)
        truth.may_fail.add(f"tests/test_{name}.py::test_{name}")


@dataclass
class Score:
    tests: int
    named: int
    must_name: int
    false_flaky: list[str]
    culprits_found: int
    victims: int
    wrong_culprits: list[str]
    low_called_order: list[str]
    runs: int
    bisection_runs: int
    seconds: float
    complete: bool

    @property
    def ok(self) -> bool:
        return (self.named == self.must_name and not self.false_flaky and self.culprits_found == self.victims
                and not self.low_called_order)  # fmt: skip


def score(truth: Truth, payload: dict[str, object], seconds: float) -> Score:
    tests = {t["nodeid"]: t for t in payload["tests"]}  # type: ignore[attr-defined]
    summary = payload["summary"]  # type: ignore[index]
    named = [n for n in truth.must_name if n in tests and tests[n]["verdict"] != "broken"]
    false = sorted(n for n in tests if n not in truth.may_fail)
    found = [v for v, c in truth.culprits.items() if tests.get(v, {}).get("polluter") == c]
    wrong = sorted(v for v, c in truth.culprits.items() if tests.get(v, {}).get("polluter") not in (None, c))
    low = sorted(n for n in truth.random_low if tests.get(n, {}).get("verdict") == "order-dependent")
    return Score(truth.tests, len(named), len(truth.must_name), false, len(found), len(truth.culprits), wrong, low,
                 sum(summary["runs"].values()), summary["bisection_runs"], seconds, summary["complete"])  # fmt: skip


def hunt(root: Path, runs: int, budget: float = 15.0) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flaketui", "-C", str(root), "--python", sys.executable, "hunt", "--runs", str(runs), "--json",
         "--budget", str(budget)],
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.monotonic() - started
    (root.parent / f"{root.name}.err").write_text(done.stderr)
    return json.loads(done.stdout), seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--projects", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", help="generate the projects in this directory and keep them")
    parser.add_argument("--shapes", action="store_true", help="add the shapes of more_shapes() to each project")
    parser.add_argument("--budget", type=float, default=15.0, help="the hunt's budget in minutes (a cut hunt is scored too)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="flaketui-heldout-") as scratch:
        base = Path(args.keep or scratch)
        for seed in range(args.seed, args.seed + args.projects):
            root = base / f"project-{seed}"
            truth = generate(root, seed, args.shapes)
            payload, seconds = hunt(root, args.runs, args.budget)
            s = score(truth, payload, seconds)
            ok &= s.ok
            print(f"seed {seed}: {s.tests} tests; flaky >= 30% named {s.named}/{s.must_name}; "
                  f"stable called flaky {len(s.false_flaky)} {s.false_flaky or ''}; "
                  f"culprits {s.culprits_found}/{s.victims} {('wrong: ' + str(s.wrong_culprits)) if s.wrong_culprits else ''}; "
                  f"10%-random called order-dependent {len(s.low_called_order)}; "
                  f"{s.runs} passes + {s.bisection_runs} bisection runs in {s.seconds:.0f} s "
                  f"({'complete' if s.complete else 'cut short'}, budget {args.budget * 60:.0f} s)", flush=True)  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
