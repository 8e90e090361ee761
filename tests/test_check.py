"""``flaketui check`` end to end: real repositories, real scans, exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.decisions import FILENAME
from tests.conftest import MakeRepo

FLAKY_MODULE = """\
import pytest
from flaky import flaky


@pytest.mark.flaky(reruns=3)
def test_net():
    pass


@flaky(max_runs=3)
def test_clock():
    pass


def test_plain():
    pass
"""
CLEAN_MODULE = "def test_plain():\n    pass\n"


def run(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["-C", str(root), "check", *args])
    return code, capsys.readouterr().out


def test_a_repository_without_markers_passes(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_a.py": CLEAN_MODULE})
    assert run(root, capsys=capsys) == (0, "flaketui check: 0 flaky markers not kept: ok\n")


def test_markers_fail_with_lines_editors_can_jump_to(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_a.py": FLAKY_MODULE})
    assert run(root, capsys=capsys) == (
        1,
        "tests/test_a.py:5: tests/test_a.py::test_net (@pytest.mark.flaky(reruns=3))\n"
        "tests/test_a.py:10: tests/test_a.py::test_clock (@flaky(max_runs=3))\n"
        "\n"
        "flaketui check: 2 flaky markers not kept: FAILED\n",
    )


def test_a_budget_lets_a_team_ratchet_down(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_a.py": FLAKY_MODULE})
    assert run(root, "--max", "1", capsys=capsys)[0] == 1
    code, out = run(root, "--max", "2", capsys=capsys)
    assert code == 0
    assert out.endswith("flaketui check: 2 flaky markers not kept (budget 2): ok\n")


def test_kept_markers_are_listed_apart_and_pass(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(
        {
            "tests/test_a.py": FLAKY_MODULE,
            FILENAME: """\
                [tests."tests/test_a.py::test_clock"]
                keep = "the scheduler runs on wall time"

                [tests."tests/test_a.py::test_net"]
                keep = "calls the partner sandbox"
                keep_expires = 2999-01-01
                """,
        }
    )
    assert run(root, capsys=capsys) == (
        0,
        "\n"
        "Kept on purpose (.flaketui.toml):\n"
        "tests/test_a.py:5: tests/test_a.py::test_net (@pytest.mark.flaky(reruns=3)) kept: calls the partner sandbox "
        "(until 2999-01-01)\n"
        "tests/test_a.py:10: tests/test_a.py::test_clock (@flaky(max_runs=3)) kept: the scheduler runs on wall time "
        "(no expiry)\n"
        "\n"
        "flaketui check: 0 flaky markers not kept, 2 kept on purpose: ok\n",
    )


def test_an_expired_keep_fails_even_within_budget(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(
        {
            "tests/test_a.py": FLAKY_MODULE,
            FILENAME: '[tests."tests/test_a.py::test_net"]\nkeep = "sandbox"\nkeep_expires = 2020-01-31\n',
        }
    )
    code, out = run(root, "--max", "5", capsys=capsys)
    assert code == 1
    assert out == (
        "tests/test_a.py:10: tests/test_a.py::test_clock (@flaky(max_runs=3))\n"
        "\n"
        "Keeps past their expiry date (remove the marker, or extend the keep with a reason):\n"
        "tests/test_a.py:5: tests/test_a.py::test_net (@pytest.mark.flaky(reruns=3)) keep expired 2020-01-31: sandbox\n"
        "\n"
        "flaketui check: 1 flaky marker not kept (budget 5), 1 expired keep: FAILED\n"
    )


def test_a_rerun_in_the_pytest_config_fails(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(
        {
            "tests/test_a.py": CLEAN_MODULE,
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--reruns 2"\n',
        }
    )
    code, out = run(root, capsys=capsys)
    assert code == 1
    assert out.startswith("pyproject.toml:2: ")
    assert "(config-reruns)" in out
    assert out.endswith("flaketui check: 0 flaky markers and 1 repository-wide rerun not kept: FAILED\n")


def test_json_for_machines(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(
        {
            "tests/test_a.py": FLAKY_MODULE,
            FILENAME: '[tests."tests/test_a.py::test_clock"]\nkeep = "wall time"\n',
        }
    )
    code, out = run(root, "--json", capsys=capsys)
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["budget"] == 0
    assert [(i["status"], i["path"], i["line"], i["nodeid"], i["reason"]) for i in data["items"]] == [
        ("failing", "tests/test_a.py", 5, "tests/test_a.py::test_net", ""),
        ("kept", "tests/test_a.py", 10, "tests/test_a.py::test_clock", "wall time"),
    ]


def test_an_unparsable_decisions_file_is_a_usage_error_not_a_pass(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_a.py": FLAKY_MODULE, FILENAME: '[tests."x"]\nkeep = \n'})
    assert main(["-C", str(root), "check"]) == 2
    assert f"{FILENAME} does not parse" in capsys.readouterr().err


def test_the_pre_commit_hook_runs_the_check() -> None:
    hooks = (Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text()
    assert "- id: flaketui-check\n" in hooks
    assert "  entry: flaketui check\n" in hooks
    assert "  pass_filenames: false\n" in hooks


MODULE_MARKED = """\
import pytest

pytestmark = pytest.mark.flaky(reruns=2)


def test_one():
    pass
"""


def test_a_module_marker_is_shown_as_pytestmark(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_m.py": MODULE_MARKED})
    code, out = run(root, capsys=capsys)
    assert code == 1
    assert out.startswith("tests/test_m.py:3: tests/test_m.py::test_one (pytestmark")


def test_keep_command_writes_the_keep_and_the_gate_honours_it(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_a.py": FLAKY_MODULE})
    nodeid = "tests/test_a.py::test_net"
    assert main(["-C", str(root), "keep", nodeid, "--reason", "partner sandbox", "--until", "2999-12-31"]) == 0
    assert "marker kept until 2999-12-31: partner sandbox" in capsys.readouterr().out
    assert (root / FILENAME).read_text().endswith(
        f'[tests."{nodeid}"]\nkeep = "partner sandbox"\nkeep_expires = 2999-12-31\n'
    )
    assert run(root, "--max", "1", capsys=capsys)[0] == 0
    assert main(["-C", str(root), "keep", nodeid, "--remove"]) == 0
    capsys.readouterr()
    assert run(root, "--max", "1", capsys=capsys)[0] == 1


KEEP_COMMAND_REFUSES_WITH_WHAT_TO_DO_CASES = [
    pytest.param(["tests/test_a.py::test_nope", "--reason", "r"], "No flaky-marked test", id="unknown-test"),
    pytest.param(["tests/test_a.py::test_net"], "Give --reason", id="no-reason"),
    pytest.param(["tests/test_a.py::test_net", "--reason", "r", "--remove"], "Give --reason", id="both"),
    pytest.param(["tests/test_a.py::test_net", "--reason", "r", "--until", "soon"], "not a date", id="bad-date"),
]


@pytest.mark.parametrize(
    ("args", "message"),
    KEEP_COMMAND_REFUSES_WITH_WHAT_TO_DO_CASES,
)
def test_keep_command_refuses_with_what_to_do(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    root = make_repo({"tests/test_a.py": FLAKY_MODULE})
    assert main(["-C", str(root), "keep", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (root / FILENAME).exists()


def test_stale_keeps_are_listed_without_failing(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(
        {"tests/test_a.py": CLEAN_MODULE, FILENAME: '[tests."tests/test_a.py::test_gone"]\nkeep = "sandbox"\n'}
    )
    assert run(root, capsys=capsys) == (
        0,
        "\n"
        "Keeps with nothing left to keep (remove them from .flaketui.toml):\n"
        ".flaketui.toml: tests/test_a.py::test_gone is kept (sandbox) but carries no flaky marker any more\n"
        "\n"
        "flaketui check: 0 flaky markers not kept: ok\n",
    )


def test_github_annotations_for_what_fails(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(
        {
            "tests/test_a.py": FLAKY_MODULE,
            FILENAME: '[tests."tests/test_a.py::test_clock"]\nkeep = "wall time, 100%"\n',
        }
    )
    code, out = run(root, "--github", capsys=capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        "::error file=tests/test_a.py,line=5::tests/test_a.py:5: tests/test_a.py::test_net (@pytest.mark.flaky(reruns=3))"
    )
    assert sum(line.startswith("::") for line in out.splitlines()) == 1
