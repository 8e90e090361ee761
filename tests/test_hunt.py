"""``flaketui hunt``: whole-suite runs in three modes on a real project, verdicts, bisection, record."""

from __future__ import annotations

import json
import pytest

from flaketui.cli import main
from flaketui.models.history import HuntVerdict
from flaketui.service import Service
from tests._hunt_helpers import (
    BRITTLE,
    BRITTLE_PROJECT,
    BRITTLE_SEED,
    ENDS_PYTEST,
    HANGS_EVERY_TIME,
    HANGS_ON_SECOND_CALL,
    HUNT_PROJECT,
    POLLUTER,
    SEED,
    SETTER,
    VICTIM,
    stable_project,
)
from tests._verify_helpers import wait_until_dead


def test_hunt_json_names_each_kind_and_the_polluter(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(HUNT_PROJECT)
    code = main(["-C", str(root), "hunt", "--runs", "2", "--seed", str(SEED), "--json"])
    captured = capsys.readouterr()
    assert code == 1  # the suite is not stable
    payload = json.loads(captured.out)
    by_id = {t["nodeid"]: t for t in payload["tests"]}
    assert {nodeid: t["verdict"] for nodeid, t in by_id.items()} == {
        VICTIM: "order-dependent",
        "tests/test_b_victim.py::test_every_second_call_fails": "flaky",
        "tests/test_b_victim.py::test_not_under_xdist": "parallel-unsafe",
        "tests/test_b_victim.py::test_broken": "broken",
    }
    victim = by_id[VICTIM]
    assert set(victim) == {"nodeid", "runs", "passed", "failed", "verdict", "modes", "polluter"}
    assert victim["polluter"] == POLLUTER
    # Serial order always runs the polluter first; one shuffle put the victim first.
    assert victim["modes"] == {
        "serial": {"runs": 2, "passed": 0, "failed": 2},
        "shuffled": {"runs": 2, "passed": 1, "failed": 1},
        "xdist": {"runs": 2, "passed": 2, "failed": 0},
    }
    assert (victim["runs"], victim["passed"], victim["failed"]) == (6, 3, 3)
    assert by_id["tests/test_b_victim.py::test_not_under_xdist"]["modes"]["xdist"] == {"runs": 2, "passed": 0, "failed": 2}
    summary = payload["summary"]
    assert summary["stable"] is False and summary["serial_equals_parallel"] is False and summary["complete"] is True
    assert summary["runs"] == {"serial": 2, "shuffled": 2, "xdist": 2} and len(summary["shuffle_seeds"]) == 2
    assert len(summary["xdist_seeds"]) == 2 and summary["state_setters"] == {}
    # The diagnosis names the polluter (it appends to shared.STATE, which the victim reads, from
    # another module), so it is tried first: the victim alone, after the polluter, then alone and
    # after the polluter again, twice: 2 runs a mode cannot tell the order from chance
    # (tests/test_pollution.py). Unnamed, halving the 3 tests before it took 2 runs more.
    assert summary["bisection_runs"] == 6
    # Progress went to stderr, with each test as it first failed.
    assert f"failed: {VICTIM}" in captured.err and "hunt: run 6/6" in captured.err
    # The record keeps it: the polluter for diagnosis, the candidates for scan (not the broken test).
    service = Service(root)
    assert [(p.victim, p.polluter) for p in service.hunting.polluters()] == [(VICTIM, POLLUTER)]
    candidates = {c.nodeid: c for c in service.candidates()}
    assert set(candidates) == set(by_id) - {"tests/test_b_victim.py::test_broken"}
    assert candidates[VICTIM].sources["hunt"]["polluter"] == POLLUTER
    # What both use: where the state the polluter leaves behind lives.
    assert candidates[VICTIM].sources["hunt"]["shared"] == ["shared.STATE"]


def test_a_brittle_test_gets_the_setter_it_needs_and_maxfail_does_not_cut_a_pass(
    make_repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(BRITTLE_PROJECT)
    assert main(["-C", str(root), "hunt", "--runs", "1", "--seed", str(BRITTLE_SEED), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    by_id = {t["nodeid"]: t for t in payload["tests"]}
    # Every test ran in every pass, though the broken one comes first and addopts has --maxfail=1.
    assert payload["summary"]["suite_size"] == 4
    assert {nodeid: t["verdict"] for nodeid, t in by_id.items()} == {
        "tests/test_a_setup.py::test_broken": "broken",
        BRITTLE: "order-dependent",
    }
    brittle = by_id[BRITTLE]
    # Pytest's order runs the setter first; the shuffled and the xdist run put it first.
    assert brittle["modes"] == {
        "serial": {"runs": 1, "passed": 1, "failed": 0},
        "shuffled": {"runs": 1, "passed": 0, "failed": 1},
        "xdist": {"runs": 1, "passed": 0, "failed": 1},
    }
    assert brittle["polluter"] == SETTER and payload["summary"]["state_setters"] == {BRITTLE: SETTER}
    assert len(payload["summary"]["xdist_seeds"]) == 1
    # The diagnosis names the setter (it fills the registry the brittle test reads, from another
    # module), so it is tried first: after the setter (passes), then alone (fails) and after the
    # setter (passes) again, twice: one run a mode cannot tell the order from chance. Unnamed,
    # the 3 tests before it took 2 runs more (after all 3, after the first).
    assert payload["summary"]["bisection_runs"] == 5
    service = Service(root)
    # A setter is no polluter: nothing for a remedy to restore in it.
    assert service.hunting.polluters() == []
    hunt = {c.nodeid: c for c in service.candidates()}[BRITTLE].sources["hunt"]
    assert hunt["setter"] == SETTER and hunt["polluter"] is None


def test_a_stable_suite_is_stable_and_says_so(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(stable_project())
    assert main(["-C", str(root), "hunt", "--runs", "1", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "Every test passed every run." in out
    assert "Stable: yes (serial = parallel: yes; all runs identical: yes)" in out


def test_without_xdist_the_hunt_says_so_and_pytest_args_reach_every_run(make_repo) -> None:
    # -p no:xdist, given the way a project gives its options, leaves the target without xdist.
    root = make_repo(stable_project())
    report = Service(root).hunting.hunt(runs=1, seed=5, pytest_args="-p no:xdist")
    assert dict(report.runs_done) == {"serial": 1, "shuffled": 1, "xdist": 0}
    assert any("pytest-xdist is not installed" in note for note in report.notes)
    assert report.serial_equals_parallel is None and report.complete


def test_cancel_ends_every_process_keeps_what_ran_and_resume_finishes(make_repo) -> None:
    root = make_repo({**stable_project(), "tests/test_hang.py": HANGS_ON_SECOND_CALL})
    pids_file = root / "tests" / "pids.txt"

    def stop() -> bool:
        return pids_file.exists() and pids_file.read_text().endswith("\n")

    service = Service(root)
    partial = service.hunting.hunt(runs=1, seed=SEED, should_stop=stop)
    assert all(wait_until_dead(int(pid)) for pid in pids_file.read_text().split())
    # The serial pass finished and counts; the shuffled one was cut and does not.
    assert not partial.complete
    assert dict(partial.runs_done) == {"serial": 1, "shuffled": 0, "xdist": 0}
    assert any("--resume" in note for note in partial.notes)
    resumed = service.hunting.hunt(resume=True, seed=SEED)
    assert resumed.complete and resumed.hunt_id == partial.hunt_id
    assert dict(resumed.runs_done) == {"serial": 1, "shuffled": 1, "xdist": 1}
    assert resumed.tests == () and resumed.stable


def test_resume_without_a_cut_hunt_is_a_clear_error(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(stable_project())
    assert main(["-C", str(root), "hunt", "--resume"]) == 2
    assert "no unfinished hunt to resume" in capsys.readouterr().err


def test_budget_cut_keeps_nothing_partial(make_repo) -> None:
    # A budget shorter than any pytest start: the first pass is killed and not counted.
    root = make_repo(stable_project())
    report = Service(root).hunting.hunt(runs=1, budget_minutes=0.0001)
    assert not report.complete and dict(report.runs_done) == {"serial": 0, "shuffled": 0, "xdist": 0}
    assert report.tests == ()


def test_a_test_that_hangs_times_out_each_run_is_broken_and_leaves_no_process(make_repo) -> None:
    root = make_repo({**stable_project(), "tests/test_hang.py": HANGS_EVERY_TIME})
    report = Service(root).hunting.hunt(runs=1, seed=SEED, timeout=1)
    assert report.complete
    (hung,) = report.tests
    assert (hung.nodeid, hung.verdict, hung.total.failed, hung.total.runs) == (
        "tests/test_hang.py::test_hangs", HuntVerdict.BROKEN, 3, 3)  # fmt: skip
    assert hung.last_failure == "timed out after 1s"
    # Each run's child of the hung test ended with its pytest (three runs: three children).
    pids = (root / "tests" / "pids.txt").read_text().split()
    assert len(pids) == 3 and all(wait_until_dead(int(pid)) for pid in pids)


def test_a_test_that_ends_pytest_fails_and_what_ran_before_it_counts(make_repo) -> None:
    root = make_repo({**stable_project(), "tests/test_exit.py": ENDS_PYTEST})
    report = Service(root).hunting.hunt(runs=1, seed=SEED)
    (ended,) = report.tests
    assert (ended.nodeid, ended.verdict) == ("tests/test_exit.py::test_ends_pytest", HuntVerdict.BROKEN)
    assert ended.total.failed == ended.total.runs == 3
    assert any(note.startswith("a serial run ended early: pytest ended in tests/test_exit.py::test_ends_pytest")
               for note in report.notes)  # fmt: skip
    # In pytest's order test_before ran first in the serial run: it counted, and passed.
    assert report.suite_size >= 2 and report.complete


def test_a_probe_that_does_not_load_is_a_clear_error_not_an_empty_run(make_repo, capsys) -> None:
    from flaketui.verify.runner import probe_module_name

    root = make_repo(stable_project())
    code = main(["-C", str(root), "hunt", "--runs", "1", "--pytest-args", f"-p no:{probe_module_name()}"])
    assert code == 2
    assert "flaketui's probe did not start in pytest" in capsys.readouterr().err
