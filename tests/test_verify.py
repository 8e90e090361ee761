"""The verification engine end to end: real pytest processes on projects in tmp_path."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from flaketui.errors import FlakeTUIError
from flaketui.models import RunOutcome, Verdict, VerifyMode
from flaketui.service import Service
from tests._verify_helpers import COUNTER_TEST, LEAK_TESTS, PYTEST_INI, RECORDING_TESTS, outcomes, project
from tests.conftest import MakeRepo, git, write_files


def test_a_counter_failing_on_run_three_is_flaky_with_exact_runs(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_counter.py": COUNTER_TEST})
    seen = []
    [v] = Service(root).verify(["test_counter.py::test_third_run_fails"], runs=5, on_run=seen.append)
    assert outcomes(v) == ["passed", "passed", "failed", "passed", "passed"]
    assert v.verdict is Verdict.FLAKY
    assert v.mode is VerifyMode.FORKED
    assert [r.index for r in seen] == [0, 1, 2, 3, 4]
    assert "assert 3 != 3" in v.results[2].message
    assert v.runs_requested == 5


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(VerifyMode.FORKED, ["passed"] * 3, id="forked-isolates-each-run"),
        pytest.param(VerifyMode.FRESH_PROCESS, ["passed"] * 3, id="fresh-process-isolates-each-run"),
        pytest.param(VerifyMode.SAME_PROCESS, ["passed"] + ["failed"] * 2, id="same-process-shares-state"),
    ],
)
@pytest.mark.parametrize("test_name", ["test_env_leak", "test_module_global"])
def test_shared_state_leaks_only_in_same_process(tmp_path: Path, mode: VerifyMode, expected: list[str], test_name: str) -> None:
    root = project(tmp_path / "p", {"test_leak.py": LEAK_TESTS})
    [v] = Service(root).verify([f"test_leak.py::{test_name}"], runs=3, mode=mode)
    assert outcomes(v) == expected
    assert v.mode is mode


def test_forked_runs_share_the_hash_seed_and_get_their_own_recorded_random_seed(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_rec.py": RECORDING_TESTS})
    [v] = Service(root).verify(["test_rec.py::test_records_hash_and_random"], runs=4)
    lines = [line.split("|") for line in (root / "seen.txt").read_text().splitlines()]
    assert len(lines) == 4
    assert len({hashed for hashed, _, _ in lines}) == 1
    # Each child is reseeded with the seed the run records: the value is reproducible.
    for (_, value, _), run in zip(lines, v.results, strict=True):
        assert float(value) == random.Random(run.seed).random()
    assert len({r.seed for r in v.results}) == 4


def test_fresh_process_gives_each_run_its_own_hash_seed(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_rec.py": RECORDING_TESTS})
    [v] = Service(root).verify(["test_rec.py::test_records_hash_and_random"], runs=3, mode=VerifyMode.FRESH_PROCESS)
    lines = [line.split("|") for line in (root / "seen.txt").read_text().splitlines()]
    assert [int(seed) for _, _, seed in lines] == [r.seed for r in v.results]
    assert len({hashed for hashed, _, _ in lines}) == 3
    assert v.verdict is Verdict.STABLE


ORDER_TESTS = '''
STATE = {}


def test_setter():
    STATE["ready"] = True


def test_needs_setter_first():
    assert STATE.get("ready"), "test_setter did not run first"


def test_bystander():
    pass
'''


def test_random_order_shuffles_the_module_and_records_the_seed(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_order.py": ORDER_TESTS})
    [v] = Service(root).verify(["test_order.py::test_needs_setter_first"], runs=8, mode=VerifyMode.RANDOM_ORDER)
    collected = ["test_setter", "test_needs_setter_first", "test_bystander"]
    expected = []
    for run in v.results:
        order = list(collected)
        random.Random(run.seed).shuffle(order)
        setter_first = order.index("test_setter") < order.index("test_needs_setter_first")
        expected.append("passed" if setter_first else "failed")
    assert outcomes(v) == expected
    assert v.mode is VerifyMode.RANDOM_ORDER


HANG_AND_CRASH = '''
import os
import threading


def test_hangs():
    threading.Event().wait()


def test_kills_its_interpreter():
    os._exit(7)


def test_fine():
    pass
'''


@pytest.mark.parametrize("mode", [VerifyMode.FORKED, VerifyMode.FRESH_PROCESS])
def test_a_hang_times_out_and_a_dead_interpreter_is_crashed_while_the_others_go_on(
    tmp_path: Path, mode: VerifyMode
) -> None:
    root = project(tmp_path / "p", {"test_bad.py": HANG_AND_CRASH})
    hang, crash, fine = Service(root).verify(
        ["test_bad.py::test_hangs", "test_bad.py::test_kills_its_interpreter", "test_bad.py::test_fine"],
        runs=2,
        mode=mode,
        timeout=2,  # roomy: a loaded 2-core machine must not turn a quick run into a timeout
    )
    assert outcomes(hang) == ["timeout", "timeout"]
    assert outcomes(crash) == ["crashed", "crashed"]
    assert "exit code 7" in crash.results[0].message
    assert outcomes(fine) == ["passed", "passed"]
    assert (hang.verdict, crash.verdict, fine.verdict) == (Verdict.BROKEN, Verdict.BROKEN, Verdict.STABLE)


def test_same_process_counts_the_run_that_killed_the_interpreter(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_bad.py": HANG_AND_CRASH})
    [v] = Service(root).verify(["test_bad.py::test_kills_its_interpreter"], runs=3, mode=VerifyMode.SAME_PROCESS)
    assert outcomes(v) == ["crashed"]
    assert "the runs after it did not happen" in v.note


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_counter.py": COUNTER_TEST})
    [v] = Service(root).verify(["test_counter.py::test_third_run_fails"], runs=10, fail_fast=True)
    assert outcomes(v) == ["passed", "passed", "failed"]
    assert v.verdict is Verdict.FLAKY
    assert "fail-fast" in v.note


PARAMETRIZED = '''
import pytest


@pytest.mark.parametrize("value", ["good", "bad::one", "odd [x]"])
def test_value(value):
    assert value == "good"
'''


def test_a_parametrized_case_is_selected_exactly_and_a_missing_test_is_an_error_alone(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_param.py": PARAMETRIZED})
    good, bad, odd, missing = Service(root).verify(
        [
            "test_param.py::test_value[good]",
            "test_param.py::test_value[bad::one]",
            "test_param.py::test_value[odd [x]]",
            "test_param.py::test_gone",
        ],
        runs=2,
    )
    assert good.verdict is Verdict.STABLE
    assert bad.verdict is Verdict.BROKEN
    assert odd.verdict is Verdict.BROKEN
    assert missing.verdict is Verdict.ERROR
    assert missing.results == ()
    assert "not collected: test_param.py::test_gone" in missing.note


def test_a_class_node_id_is_an_error_that_names_its_tests(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_cls.py": "class TestC:\n    def test_a(self):\n        pass\n"})
    [v] = Service(root).verify(["test_cls.py::TestC"], runs=2)
    assert v.verdict is Verdict.ERROR
    assert "test_cls.py::TestC is not a test but holds 1: verify each by its node id (such as test_cls.py::TestC::test_a)" in v.note


def test_a_module_that_does_not_import_is_an_error_with_the_reason_and_the_others_run(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {"test_broken.py": "import no_such_module_here\n\ndef test_x():\n    pass\n", "test_counter.py": COUNTER_TEST},
    )
    broken, counter = Service(root).verify(["test_broken.py::test_x", "test_counter.py::test_third_run_fails"], runs=3)
    assert broken.verdict is Verdict.ERROR
    assert "no_such_module_here" in broken.note
    assert outcomes(counter) == ["passed", "passed", "failed"]
    assert "no_such_module_here" not in counter.note


def test_a_plain_node_id_runs_from_the_nearest_pytest_config_up_from_its_file(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "pkg/pytest.ini": PYTEST_INI,
            "pkg/data.txt": "here\n",
            "pkg/tests/test_cwd.py": "def test_cwd():\n    assert open('data.txt').read() == 'here\\n'\n",
        }
    )
    [v] = Service(root).verify(["pkg/tests/test_cwd.py::test_cwd"], runs=2)
    assert (v.rootdir, v.nodeid) == ("pkg", "tests/test_cwd.py::test_cwd")
    assert v.verdict is Verdict.STABLE
    assert "pkg/tests/test_cwd.py::test_cwd" in v.command


def test_a_verification_pins_the_tree_it_ran_on_and_is_recorded(make_repo: MakeRepo) -> None:
    root = make_repo({"pytest.ini": PYTEST_INI, "test_ok.py": "def test_ok():\n    pass\n"})
    write_files(root, {"test_ok.py": "def test_ok():\n    assert True\n", "notes.txt": "wip\n"})
    service = Service(root)
    [v] = service.verify(["test_ok.py::test_ok"], runs=2)
    assert v.head == git(root, "rev-parse", "HEAD").strip()
    assert v.tree_fingerprint
    assert set(v.dirty_paths) == {"test_ok.py", "notes.txt"}
    recorded = service.last_verifications()[(".", "test_ok.py::test_ok")]
    assert recorded.tree_fingerprint == v.tree_fingerprint
    assert [r.outcome for r in recorded.results] == [RunOutcome.PASSED, RunOutcome.PASSED]


def test_outside_git_nothing_is_pinned(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_ok.py": "def test_ok():\n    pass\n"})
    [v] = Service(root).verify(["test_ok.py::test_ok"], runs=1)
    assert (v.head, v.tree_fingerprint, v.dirty_paths) == (None, None, ())


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"runs": 0}, id="no-runs"),
        pytest.param({"timeout": 0}, id="zero-timeout"),
    ],
)
def test_bad_arguments_are_user_errors(tmp_path: Path, bad: dict) -> None:
    root = project(tmp_path / "p", {"test_ok.py": "def test_ok():\n    pass\n"})
    with pytest.raises(FlakeTUIError) as caught:
        Service(root).verify(["test_ok.py::test_ok"], **bad)
    assert caught.value.hint


@pytest.mark.parametrize("nodeid", ["nope.py::test_x", "just words"])
def test_an_unknown_node_id_is_a_user_error(tmp_path: Path, nodeid: str) -> None:
    root = project(tmp_path / "p", {"test_ok.py": "def test_ok():\n    pass\n"})
    with pytest.raises(FlakeTUIError) as caught:
        Service(root).verify([nodeid])
    assert caught.value.hint


SET_ORDER_TEST = '''
import pathlib

import pytest

OUT = pathlib.Path(__file__).with_name("hashes.txt")


@pytest.mark.flaky(reruns=2)
def test_tags_in_order():
    tags = {"urgent", "billing", "ops"}
    with OUT.open("a") as out:
        out.write("%s|%d\\n" % (",".join(list(tags)), hash("flaketui")))
'''


def test_a_diagnosis_pointing_at_set_order_makes_forked_run_fresh_processes(make_repo: MakeRepo) -> None:
    root = make_repo({"pytest.ini": PYTEST_INI, "test_tags.py": SET_ORDER_TEST, "test_counter.py": COUNTER_TEST})
    tags, counter = Service(root).verify(
        ["test_tags.py::test_tags_in_order", "test_counter.py::test_third_run_fails"], runs=3
    )
    assert tags.mode is VerifyMode.FRESH_PROCESS
    assert "data.set-order" in tags.note
    assert "--mode fresh-process" in tags.command
    assert len({line.split("|")[1] for line in (root / "hashes.txt").read_text().splitlines()}) == 3
    assert counter.mode is VerifyMode.FORKED
    assert outcomes(counter) == ["passed", "passed", "failed"]


FAKE_NUMPY = {
    # Stands in for numpy: the probe reseeds ``numpy.random`` in each forked child when numpy
    # is loaded, and this records what it was given.
    "numpy/__init__.py": "from numpy import random\n",
    "numpy/random.py": "SEEDS = []\n\n\ndef seed(value):\n    SEEDS.append(value)\n",
    "conftest.py": "import numpy  # loaded before the fork, as a real project's conftest would\n",
    "test_np.py": """
        import pathlib

        import numpy

        OUT = pathlib.Path(__file__).with_name("np_seeds.txt")


        def test_records_numpy_seed():
            with OUT.open("a") as out:
                out.write("%d\\n" % numpy.random.SEEDS[-1])
    """,
}


def test_numpy_global_generator_is_reseeded_in_each_child_with_the_recorded_seed(tmp_path: Path) -> None:
    root = project(tmp_path / "p", FAKE_NUMPY)
    [v] = Service(root).verify(["test_np.py::test_records_numpy_seed"], runs=3)
    recorded = [int(line) for line in (root / "np_seeds.txt").read_text().splitlines()]
    assert recorded == [r.seed % 2**32 for r in v.results]
    assert not (root / ".pytest_cache").exists()  # -p no:cacheprovider: nothing written


def test_tests_from_a_scan_verify_in_their_own_rootdir(make_repo: MakeRepo) -> None:
    counter = COUNTER_TEST.replace("def test_third", "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_third")
    root = make_repo({"svc/pytest.ini": PYTEST_INI, "svc/tests/test_counter.py": counter})
    service = Service(root)
    [test] = service.scan().tests
    [v] = service.verify([test], runs=3)
    assert (v.rootdir, v.nodeid) == ("svc", "tests/test_counter.py::test_third_run_fails")
    assert outcomes(v) == ["passed", "passed", "failed"]
    assert service.repro_command(test).endswith("svc/tests/test_counter.py::test_third_run_fails")


def test_a_broken_forked_verification_points_at_fresh_process_for_hash_order(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"test_always.py": "def test_always_fails():\n    assert False\n"})
    [forked] = Service(root).verify(["test_always.py::test_always_fails"], runs=2)
    [fresh] = Service(root).verify(
        ["test_always.py::test_always_fails"], runs=2, mode=VerifyMode.FRESH_PROCESS
    )
    assert forked.verdict is fresh.verdict is Verdict.BROKEN
    assert "--mode fresh-process" in forked.note
    assert "--mode fresh-process" not in fresh.note


SETTER_ELSEWHERE = '''
import test_order_reads


def test_setter_elsewhere():
    test_order_reads.STATE["ready"] = True
'''
READER = '''
STATE = {}


def test_needs_setter_first():
    assert STATE.get("ready"), "the setter of the other module did not run first"


def test_bystander():
    pass
'''


def _shuffled(names: list[str], seed: int) -> list[str]:
    order = list(names)
    random.Random(seed).shuffle(order)  # as the probe shuffles a run's tests
    return order


def _seed_where(names: list[str], first: str, then: str) -> int:
    """A seed whose shuffle puts ``first`` before ``then``: found and checked, not hoped for."""
    return next(s for s in range(100) if _shuffled(names, s).index(first) < _shuffled(names, s).index(then))


def test_random_order_shuffles_in_the_companion_modules_tests(tmp_path: Path) -> None:
    from flaketui.models import VerifyOptions
    from flaketui.verify.engine import verify_targets
    from flaketui.verify.interpreter import find_interpreter
    from flaketui.verify.targets import Target

    root = project(tmp_path / "p", {"test_order_reads.py": READER, "test_order_setter.py": SETTER_ELSEWHERE})
    nodeid = "test_order_reads.py::test_needs_setter_first"
    # pytest collects the test's module, then the companion: the order the probe shuffles.
    collected = ["test_needs_setter_first", "test_bystander", "test_setter_elsewhere"]
    seed = _seed_where(collected, "test_setter_elsewhere", "test_needs_setter_first")
    options = VerifyOptions(runs=6, mode=VerifyMode.RANDOM_ORDER, companions=("test_order_setter.py",), seed=seed)
    [v] = verify_targets(root, [Target(".", nodeid)], find_interpreter(root), options)
    assert [r.seed for r in v.results] == list(range(seed, seed + 6))
    expected = []
    for run in v.results:
        order = _shuffled(collected, run.seed or 0)
        expected.append("passed" if order.index("test_setter_elsewhere") < order.index("test_needs_setter_first") else "failed")
    assert outcomes(v) == expected and expected[0] == "passed"
    assert "random order among the tests of its module and of test_order_setter.py" in v.note
    # Without the companion the setter never runs before it: every run fails.
    alone = VerifyOptions(runs=3, mode=VerifyMode.RANDOM_ORDER, seed=seed)
    [v] = verify_targets(root, [Target(".", nodeid)], find_interpreter(root), alone)
    assert outcomes(v) == ["failed"] * 3
