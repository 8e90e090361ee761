"""The small pure parts of verification: verdicts, rootdirs, interpreters, the event reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flaketui.errors import FlakeTUIError
from flaketui.models import RunOutcome, RunResult, Verdict
from flaketui.service import Service
from flaketui.verify.interpreter import find_interpreter
from flaketui.verify.runner import _EventReader, installed_probe, probe_module_name
from flaketui.verify.targets import Target, target_for
from flaketui.verify.verdict import verdict_of
from tests.conftest import write_files

P, F, E, T, C, S = (
    RunOutcome.PASSED, RunOutcome.FAILED, RunOutcome.ERROR, RunOutcome.TIMEOUT, RunOutcome.CRASHED, RunOutcome.SKIPPED
)  # fmt: skip


def runs(*outcomes: RunOutcome) -> list[RunResult]:
    return [RunResult("t.py::t", i, o) for i, o in enumerate(outcomes)]


@pytest.mark.parametrize(
    ("results", "errored", "expected"),
    [
        pytest.param(runs(P, P, P), False, Verdict.STABLE, id="all-passed"),
        pytest.param(runs(P, F, P), False, Verdict.FLAKY, id="mixed"),
        pytest.param(runs(P, T), False, Verdict.FLAKY, id="a-timeout-is-not-a-pass"),
        pytest.param(runs(F, C, T), False, Verdict.BROKEN, id="none-passed"),
        pytest.param(runs(), False, Verdict.ERROR, id="nothing-ran"),
        pytest.param(runs(E, E), False, Verdict.ERROR, id="never-got-to-run"),
        pytest.param(runs(), True, Verdict.ERROR, id="collection-error"),
        pytest.param(runs(P, S), False, Verdict.SKIPPED, id="a-skip-is-no-failure-and-no-pass"),
        pytest.param(runs(S), True, Verdict.SKIPPED, id="a-skip-with-an-error-elsewhere"),
    ],
)
def test_verdicts(results: list[RunResult], errored: bool, expected: Verdict) -> None:
    assert verdict_of(results, errored=errored) is expected


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param(runs(P, P), Verdict.CANCELLED, id="passes-before-the-cancel-verify-nothing"),
        pytest.param(runs(P, F), Verdict.CANCELLED, id="a-failure-before-the-cancel-too"),
        pytest.param(runs(P, P, P), Verdict.STABLE, id="cancelled-after-the-last-run"),
    ],
)
def test_cancelled_verdicts(results: list[RunResult], expected: Verdict) -> None:
    assert verdict_of(results, cancelled=True, runs_requested=3) is expected


@pytest.mark.parametrize(
    ("files", "nodeid", "expected"),
    [
        pytest.param({"tests/test_a.py": ""}, "tests/test_a.py::test_x", Target(".", "tests/test_a.py::test_x"), id="no-config"),
        pytest.param(
            {"pkg/pyproject.toml": "[tool.pytest.ini_options]\n", "pkg/t/test_a.py": ""},
            "pkg/t/test_a.py::TestC::test_x[a/b::c]",
            Target("pkg", "t/test_a.py::TestC::test_x[a/b::c]"),
            id="pyproject-in-a-subdir",
        ),
        pytest.param(
            {"pkg/pyproject.toml": "[project]\nname = 'x'\n", "pkg/test_a.py": "", "tox.ini": "[pytest]\n"},
            "pkg/test_a.py::test_x",
            Target(".", "pkg/test_a.py::test_x"),
            id="pyproject-without-pytest-section-is-not-a-config",
        ),
        pytest.param(
            {"svc/setup.cfg": "[tool:pytest]\n", "svc/test_a.py": ""}, "svc/test_a.py", Target("svc", "test_a.py"), id="setup-cfg-module"
        ),
    ],
)
def test_a_node_id_finds_its_rootdir_as_pytest_does(tmp_path: Path, files: dict[str, str], nodeid: str, expected: Target) -> None:
    write_files(tmp_path, files)
    target = target_for(tmp_path, nodeid)
    assert target == expected
    assert target.repo_nodeid == nodeid


def test_the_interpreter_is_found_in_the_documented_order(tmp_path: Path) -> None:
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    other = tmp_path / "envs" / "other" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.symlink_to(sys.executable)

    assert find_interpreter(tmp_path, environ={}).source == ".venv/"
    assert find_interpreter(tmp_path, environ={}).path == str(venv_python)
    from_env = find_interpreter(tmp_path, environ={"VIRTUAL_ENV": str(other.parent.parent)})
    assert (from_env.path, from_env.source) == (str(other), "$VIRTUAL_ENV")
    write_files(tmp_path, {"pyproject.toml": '[tool.flaketui]\npython = "envs/other/bin/python"\n'})
    configured = find_interpreter(tmp_path, environ={"VIRTUAL_ENV": "/nowhere"})
    assert (configured.path, configured.source) == (str(other), "[tool.flaketui] python in pyproject.toml")
    explicit = find_interpreter(tmp_path, str(venv_python), environ={})
    assert (explicit.path, explicit.source) == (str(venv_python), "--python")


def test_without_any_environment_it_is_our_own_interpreter(tmp_path: Path) -> None:
    found = find_interpreter(tmp_path, environ={})
    assert found.path == sys.executable
    assert Service(tmp_path).python_description() == f"{sys.executable} (from flaketui's own interpreter)"


@pytest.mark.parametrize(
    ("pyproject", "python"),
    [
        pytest.param("", "/no/such/python", id="missing-explicit"),
        pytest.param('[tool.flaketui]\npython = "nope/bin/python"\n', None, id="missing-configured"),
        pytest.param("[tool.flaketui\n", None, id="bad-toml"),
        pytest.param("", "no-such-python-anywhere", id="not-on-path"),
    ],
)
def test_a_wrong_interpreter_is_a_user_error_with_a_hint(tmp_path: Path, pyproject: str, python: str | None) -> None:
    write_files(tmp_path, {"pyproject.toml": pyproject})
    with pytest.raises(FlakeTUIError) as caught:
        find_interpreter(tmp_path, python, environ={})
    assert caught.value.hint


def test_the_repro_command_names_the_repository_and_the_node_id(tmp_path: Path) -> None:
    from flaketui.models import FlakyTest, Marker, MarkerKind, MarkerScope

    marker = Marker(MarkerKind.FLAKY, MarkerScope.FUNCTION, "pkg/t/test_a.py", 3, "@flaky")
    test = FlakyTest("t/test_a.py::test_x[it's]", "pkg", "pkg/t/test_a.py", 4, "test_x", (marker,))
    command = Service(tmp_path).repro_command(test)
    assert command == f"flaketui -C {tmp_path} verify --runs 10 --mode forked 'pkg/t/test_a.py::test_x[it'\"'\"'s]'"


def test_the_event_reader_returns_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"event": "start"}\n{"event": "ru')
    reader = _EventReader(str(path))
    assert reader.read_new() == [{"event": "start"}]
    with path.open("ab") as handle:
        handle.write(b'n", "index": 0}\n')
    assert reader.read_new() == [{"event": "run", "index": 0}]
    assert reader.read_new() == []


def test_the_probe_is_installed_alone_under_a_unique_name_and_removed_after() -> None:
    with installed_probe() as directory:
        name = probe_module_name()
        assert sorted(os.listdir(directory)) == [f"{name}.py", f"{name}_fork.py", f"{name}_report.py", f"{name}_suite.py"]
    assert not os.path.exists(directory)


def test_the_probe_is_inert_without_its_environment(tmp_path: Path) -> None:
    write_files(tmp_path, {"pytest.ini": "[pytest]\n", "test_a.py": "def test_a():\n    pass\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAKETUI_", "PYTEST_"))}
    with installed_probe() as directory:
        env["PYTHONPATH"] = directory
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", probe_module_name(), "-q", "-p", "no:cacheprovider"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            'Traceback...\n  File "x.py", line 3\nImportError: Error importing plugin "fixtures.auth": No module named \'allure\'\n',
            "ImportError: Error importing plugin \"fixtures.auth\": No module named 'allure'",
            id="import-error",
        ),
        pytest.param("no tests ran in 0.1s\nERROR: not found: /p/test_a.py::nope\n(no match)\n", "ERROR: not found: /p/test_a.py::nope", id="not-found"),
        pytest.param("E   ModuleNotFoundError: No module named 'x'\nsummary\n", "E   ModuleNotFoundError: No module named 'x'", id="e-prefixed"),
        pytest.param("just words\nlast words\n", "last words", id="no-error-line"),
        pytest.param("", "", id="nothing"),
    ],
)
def test_the_failure_summary_is_the_line_that_names_the_error(output: str, expected: str) -> None:
    from flaketui.verify.engine import failure_summary

    assert failure_summary(output) == expected


def test_a_node_id_relative_to_the_current_subdirectory_is_understood(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, {"pkg/pytest.ini": "[pytest]\n", "pkg/tests/test_a.py": ""})
    monkeypatch.chdir(tmp_path / "pkg")
    target = target_for(tmp_path, "tests/test_a.py::test_x", cwd=Path.cwd())
    assert target == Target("pkg", "tests/test_a.py::test_x")
