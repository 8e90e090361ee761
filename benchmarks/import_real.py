"""`flaketui import` of twenty JUnit reports that real pytest runs wrote, scored against what
the tests themselves logged.

Run: ``.venv/bin/python benchmarks/import_real.py``. It writes a small project whose tests fail
at fixed rates (a counter file and a seeded generator: the same sequence every time), a broken
one, class-based, nested-class and parametrized ones (ids with dots, ``::`` and non-ASCII), a
setup error from a fixture and a module in a subpackage, then runs pytest twenty times with
``--junitxml``: xunit1 (``file=``) and xunit2, pytest-rerunfailures ``--reruns 2`` and flaky
``--force-flaky`` (both write a rerun attempt as an empty row), in both families. Each attempt's
outcome is also logged by a conftest hook: that log is the truth. One report is copied under
another name (it must count once) and one is cut in half (named and skipped).

It prints the tests that both passed and failed, expected and found, with their counts, and
every test whose counts differ. Needs pytest-rerunfailures and flaky in the interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

FILES = {
    "tests/__init__.py": "",
    "tests/conftest.py": """
        import json, os, pathlib, pytest

        LOG = pathlib.Path(os.environ["OUTCOME_LOG"])

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            report = (yield).get_result()
            if report.when == "call" or (report.when == "setup" and not report.passed and not report.skipped):
                outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
                with LOG.open("a") as log:
                    log.write(json.dumps([item.nodeid, outcome]) + "\\n")
    """,
    "tests/test_api.py": """
        import os, pathlib, random, pytest

        COUNTERS = pathlib.Path(os.environ["OUTCOME_LOG"]).with_name("counters")
        COUNTERS.mkdir(exist_ok=True)

        def fails(name, rate):
            counter = COUNTERS / name
            count = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(count))
            return random.Random(f"{name}-{count}").random() < rate

        def test_stable():
            pass

        def test_flaky_40():
            assert not fails("f40", 0.4)

        def test_broken():
            assert False

        class TestLogin:
            def test_sometimes(self):
                assert not fails("login", 0.3)

            class TestInner:
                def test_deep(self):
                    assert not fails("deep", 0.2)

        @pytest.mark.parametrize("v", ["a.b", "x::y", "\\u00fc"])
        def test_param(v):
            assert not fails("p" + v, 0.25)

        @pytest.fixture
        def shaky():
            if fails("fixture", 0.3):
                raise RuntimeError("setup failed")

        def test_setup_error(shaky):
            pass
    """,
    "tests/sub/__init__.py": "",
    "tests/sub/test_deep.py": """
        from tests.test_api import fails

        def test_sub():
            assert not fails("sub", 0.35)
    """,
}


def options(run: int) -> list[str]:
    family = ["-o", f"junit_family={'xunit1' if run % 2 else 'xunit2'}"]
    if run < 12:
        return family
    if run < 16:
        return [*family, "-p", "no:flaky", "--reruns", "2"]
    return [*family, "-p", "no:rerunfailures", "--force-flaky", "--max-runs", "2"]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="flaketui-import-real-") as scratch:
        base = Path(scratch)
        root, reports, logs = base / "project", base / "ci-artifacts", base / "logs"
        for name, text in FILES.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        logs.mkdir()
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
               "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
            subprocess.run(["git", *command], cwd=root, check=True, env=env)
        for run in range(20):
            target = reports / f"run-{run:02d}" / "junit.xml"
            target.parent.mkdir(parents=True)
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                            f"--junitxml={target}", *options(run)], cwd=root, capture_output=True, check=False,
                           env={**env, "OUTCOME_LOG": str(logs / f"run-{run:02d}.jsonl")})  # fmt: skip
        shutil.copy(reports / "run-03" / "junit.xml", reports / "run-03-again.xml")
        whole = (reports / "run-05" / "junit.xml").read_bytes()
        (reports / "run-05-cut.xml").write_bytes(whole[: len(whole) // 2])
        truth: Counter[tuple[str, str]] = Counter()
        for log in logs.glob("*.jsonl"):
            for line in log.read_text(encoding="utf-8").splitlines():
                nodeid, outcome = json.loads(line)
                truth[(nodeid, outcome)] += 1
        counts = {n: (truth[(n, "passed")], truth[(n, "failed")]) for n, _ in truth}
        done = subprocess.run([sys.executable, "-m", "flaketui", "-C", str(root), "import", "--json", str(reports)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        payload = json.loads(done.stdout)
    found = {t["nodeid"]: (t["passed"], t["failed"]) for t in payload["tests"]}
    expected_flaky = {n: c for n, c in counts.items() if all(c)}
    found_flaky = {t["nodeid"]: (t["passed"], t["failed"]) for t in payload["tests"] if t["flaky"]}
    wrong = sorted(n for n in set(counts) | set(found) if counts.get(n, (0, 0)) != found.get(n, (0, 0)))
    print(f"reports: {len(payload['imported'])} imported, {len(payload['duplicates'])} counted before, "
          f"{len(payload['skipped'])} skipped; both passed and failed: expected {len(expected_flaky)}, "
          f"found {len(found_flaky)}, exactly: {'yes' if found_flaky == expected_flaky else 'no'}; "
          f"tests whose counts differ: {len(wrong)}")  # fmt: skip
    for nodeid in wrong:
        print(f"  {nodeid}: expected {counts.get(nodeid)}, found {found.get(nodeid)}")
    return 0 if found_flaky == expected_flaky and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
