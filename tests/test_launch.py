"""The launcher: which command lines start git before the imports, and that what they print
and return is what the CLI itself prints and returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.launch import early_scan
from flaketui.service import Service
from tests.conftest import write_files

PROJECT = {
    "pyproject.toml": '[project]\nname = "demo"\n',
    "tests/test_net.py": "import pytest\n\n@pytest.mark.flaky(reruns=1)\ndef test_fetch(): pass\n",
}


@pytest.mark.parametrize(
    ("args", "grep"),
    [
        (["scan"], False),
        (["scan", "--json"], False),
        (["scan", "--no-cache"], True),
        (["--python", "python3", "scan", "--json", "--no-cache"], True),
        (["check", "--json"], False),
        (["audit"], False),
    ],
)
def test_scanning_commands_start_git_for_the_repository(make_repo, monkeypatch: pytest.MonkeyPatch, args, grep) -> None:
    root = make_repo(PROJECT)
    monkeypatch.chdir(root / "tests")
    early = early_scan(args)
    assert early is not None
    try:
        assert early.root == root
        assert (early.search is not None) is grep
        assert early.listing.result().files == Service(root).list_files()
    finally:
        early.close()


def test_minus_c_and_scan_path_pick_the_repository(make_repo) -> None:
    root = make_repo(PROJECT)
    for args in (["-C", str(root), "scan"], ["scan", str(root / "tests")]):
        early = early_scan(args)
        assert early is not None and early.root == root
        early.close()


@pytest.mark.parametrize(
    "args",
    [[], ["--help"], ["--version"], ["scan", "--help"], ["scan", "a", "b"], ["scan", ".", "."], ["check", "--max", "3"], ["verify", "x"], ["demo"]],
)
def test_anything_else_starts_nothing(make_repo, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.chdir(make_repo(PROJECT))
    assert early_scan(args) is None


def test_outside_git_nothing_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, PROJECT)
    monkeypatch.chdir(tmp_path)
    assert early_scan(["scan", "--no-cache"]) is None


def test_a_service_for_another_root_closes_what_was_started(make_repo) -> None:
    first, second = make_repo(PROJECT), make_repo(PROJECT)
    early = early_scan(["-C", str(first), "scan", "--no-cache"])
    assert early is not None
    service = Service(second, early=early)
    assert early.listing._jobs[0].process is None  # killed and reaped, not left running
    assert {t.nodeid for t in service.scan(use_cache=False).tests} == {"tests/test_net.py::test_fetch"}


def test_the_launched_process_prints_and_exits_as_the_cli_does(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({**PROJECT, **{f"tests/test_m{n}.py": PROJECT["tests/test_net.py"] for n in range(200)}})
    assert main(["-C", str(root), "scan", "--json", "--no-cache"]) == 0
    expected = json.loads(capsys.readouterr().out)
    launched = subprocess.run(
        [sys.executable, "-m", "flaketui", "scan", "--json", "--no-cache"], cwd=root, capture_output=True, text=True
    )
    assert launched.returncode == 0, launched.stderr
    assert json.loads(launched.stdout) == expected  # all of it: the fast exit flushes first
    gate = subprocess.run([sys.executable, "-m", "flaketui", "check"], cwd=root, capture_output=True, text=True)
    assert gate.returncode == 1 and "test_fetch" in gate.stdout + gate.stderr


def test_git_starts_before_anything_heavy_loads(make_repo) -> None:
    root = make_repo(PROJECT)
    code = (
        "import sys\n"
        "from flaketui.launch import early_scan\n"
        "early = early_scan(['scan', '--no-cache'])\n"
        "assert early is not None and early.search is not None\n"
        "heavy = ('click', 'dataclasses', 'hashlib', 'typing', 'flaketui.models', 'flaketui.service', 'flaketui.cli')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "early.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_git_on_path_the_command_itself_explains(make_repo, tmp_path: Path) -> None:
    root = make_repo(PROJECT)
    bare_path = tmp_path / "no-git-here"
    bare_path.mkdir()
    env = {**os.environ, "PATH": str(bare_path)}
    done = subprocess.run([sys.executable, "-m", "flaketui", "scan", "--no-cache"], cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "git is not installed" in done.stderr and "Traceback" not in done.stderr


def test_a_scan_loads_only_its_own_command_and_no_history(make_repo) -> None:
    root = make_repo(PROJECT)
    loaded = _modules_after(root, "from flaketui.cli import main", "assert main(['scan', '--json', '--no-cache']) == 0",
                            prefixes=("flaketui.cli.", "sqlite3", "flaketui.store", "flaketui.hunting",
                                      "flaketui.candidates", "flaketui.workflows.ci_history"))
    # Nothing verified, imported or hunted here: no history to read, and none created.
    assert loaded == ["flaketui.cli.context", "flaketui.cli.output", "flaketui.cli.root", "flaketui.cli.scan"]
    assert not list(root.joinpath(".git", "flaketui").glob("history*"))


def test_the_app_paints_before_any_workflow_loads(make_repo) -> None:
    # The app's first frame needs the service and the faces only: the scan (and the cache's
    # json and hashlib) loads in the worker that runs it.
    root = make_repo(PROJECT)
    prefixes = ("flaketui.workflows.", "flaketui.discover.", "pygments")
    painted = ("from flaketui.service import Service", "from flaketui.tui.app import FlakeTUIApp",
               "FlakeTUIApp(Service('.'))")
    assert _modules_after(root, *painted, prefixes=prefixes) == [
        "flaketui.workflows.editor", "flaketui.workflows.repo", "flaketui.workflows.wiring",
        "flaketui.workflows.workspace"]
    assert "flaketui.workflows.scan" in _modules_after(root, *painted, "Service('.').scan(use_cache=False)",
                                                       prefixes=prefixes)


def _modules_after(root: Path, *lines: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules (of ``prefixes``) a fresh interpreter has loaded after running ``lines`` in ``root``."""
    code = "\n".join(("import sys", *lines, f"print(' '.join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1].split()


def test_every_command_is_where_the_table_says(capsys: pytest.CaptureFixture[str]) -> None:
    import click
    from flaketui.cli.root import COMMANDS, cli

    context = click.Context(cli)
    assert {name: cli.get_command(context, name).name for name in COMMANDS} == {name: name for name in COMMANDS}
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out.split("Commands:")[1].split()
    assert set(COMMANDS) <= set(listed)
