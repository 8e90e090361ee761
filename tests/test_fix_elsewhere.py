"""`fix --apply` on a test whose polluter is a test of another module: the diagnosis names it, the
"before" runs take in its module (and fail), the polluter gets monkeypatch, and the proof after
holds; real pytest runs in a real git repository. Orders are fixed (a seed found and checked, an
explicit order with pytest-randomly off), never left to chance."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from flaketui import vcs
from flaketui.apply_fix import ApplyOptions, ApplyStatus
from flaketui.fix_modes import companions, find_polluter, further_modes
from flaketui.models import VerifyMode
from flaketui.service import Service

from tests.conftest import MakeRepo

VICTIM_FILE = "tests/test_metric.py"
POLLUTER_FILE = "tests/test_imperial.py"
VICTIM = f"{VICTIM_FILE}::test_kilometres"
POLLUTER = f"{POLLUTER_FILE}::test_miles"
FILES = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
    "src/units.py": (
        'SYSTEM = "metric"\n\n\n'
        "def distance(km):\n"
        '    return f"{km} km" if SYSTEM == "metric" else f"{km * 0.621371:.1f} mi"\n'
    ),
    POLLUTER_FILE: 'import units\n\n\ndef test_miles():\n    units.SYSTEM = "imperial"\n    assert units.distance(10) == "6.2 mi"\n',
    VICTIM_FILE: (
        "import pytest\n\nimport units\n\n\n"
        "@pytest.mark.flaky(reruns=2)\n"
        'def test_kilometres():\n    assert units.distance(10) == "10 km"\n'
    ),
}
#: Plain pytest in a fixed order: no reordering, no reruns.
PLAIN = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:rerunfailures",
         "-p", "no:flaky", "-p", "no:pytest-retry"]


@pytest.fixture
def project(make_repo: MakeRepo) -> Path:
    return make_repo(FILES)


def _plain(root: Path, *paths: str) -> int:
    return subprocess.run([*PLAIN, *paths], check=False, cwd=root, capture_output=True, text=True).returncode


def _polluter_first_seed() -> int:
    """A seed whose first shuffle (as the probe shuffles the collected tests: the victim's module,
    then its companion's) puts the polluter first: found and checked."""
    collected = ["test_kilometres", "test_miles"]
    for seed in range(100):
        order = list(collected)
        random.Random(seed).shuffle(order)
        if order[0] == "test_miles":
            return seed
    raise AssertionError("no seed in 100 puts test_miles first")


def test_the_diagnosis_makes_the_polluters_module_a_companion_of_random_order(project: Path) -> None:
    service = Service(project)
    test = service.tests_named(VICTIM)[0]
    found = service.propose_fixes(VICTIM)
    assert found.diagnosis is not None
    assert companions(test, found.diagnosis.evidence, []) == (POLLUTER_FILE,)
    # Its module has no other test: only the companion makes random order worth running.
    assert VerifyMode.RANDOM_ORDER in further_modes(service.workspace, test, VerifyMode.FORKED, (POLLUTER_FILE,))
    assert VerifyMode.RANDOM_ORDER not in further_modes(service.workspace, test, VerifyMode.FORKED)
    best = found.proposals[0]
    assert (best.remedy, best.files) == ("restore.monkeypatch", (POLLUTER_FILE,))
    assert b'monkeypatch.setattr(units, "SYSTEM", "imperial")' in best.edits[0].after


def test_bisection_searches_the_companion_module(project: Path) -> None:
    service = Service(project)
    test = service.tests_named(VICTIM)[0]
    assert find_polluter(service.workspace, test).polluter is None  # its module alone holds no polluter
    bisection = find_polluter(service.workspace, test, companions=(POLLUTER_FILE,))
    assert bisection.polluter == POLLUTER


def test_apply_fixes_the_polluter_in_the_other_module_and_proves_it(project: Path) -> None:
    assert _plain(project, POLLUTER_FILE, VICTIM_FILE) == 1  # the polluter first: the victim fails
    assert _plain(project, VICTIM_FILE, POLLUTER_FILE) == 0
    seed = _polluter_first_seed()
    outcome = Service(project).apply_fix(VICTIM, ApplyOptions(runs_before=6, seed=seed))
    assert outcome.status is ApplyStatus.COMMITTED, outcome.summary
    assert outcome.proof is not None and outcome.proof.mode is VerifyMode.RANDOM_ORDER
    assert outcome.proof.before.failed > 0 and outcome.proof.after.failed == 0 and outcome.proof.after.passed >= 10
    polluter = vcs.show_file(project, "HEAD", POLLUTER_FILE) or b""
    assert b"def test_miles(monkeypatch):" in polluter
    assert b'monkeypatch.setattr(units, "SYSTEM", "imperial")' in polluter
    victim = vcs.show_file(project, "HEAD", VICTIM_FILE) or b""
    assert b"flaky" not in victim and b'assert units.distance(10) == "10 km"' in victim
    assert "restore.monkeypatch" in vcs.commit_message(project, "HEAD")
    assert vcs.status(project) == {}
    assert _plain(project, POLLUTER_FILE, VICTIM_FILE) == 0  # the same order passes now
