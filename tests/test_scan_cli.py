"""``flaketui scan``: the table, ``--json``, PATH, and the stat cache behind ``Service.scan``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.service import Service
from tests.conftest import git, write_files

PROJECT = {
    "pyproject.toml": '[project]\nname = "demo"\ndependencies = ["pytest-rerunfailures"]\n',
    "tests/test_net.py": """
        import pytest

        @pytest.mark.flaky(reruns=1)
        def test_fetch(): pass

        def test_stable(): pass
    """,
    "pkg/tests/test_pkg.py": """
        import pytest

        class TestPkg:
            @pytest.mark.flaky
            def test_in_pkg(self): pass
    """,
    "pytest.ini": "[pytest]\naddopts = --reruns 2\n",
}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(list(args))
    assert code == 0
    return json.loads(capsys.readouterr().out)


def assert_has(data: dict, expected: dict) -> None:
    assert {key: data.get(key) for key in expected} == expected


def test_json_has_the_documented_shape(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    payload = run_json(capsys, "-C", str(root), "scan", "--json")
    assert set(payload) == {"tests", "findings", "skipped", "candidates"}
    test = payload["tests"][0]
    assert {"nodeid", "rootdir", "path", "line", "name", "class", "marker", "markers"} <= set(test)
    assert {"kind", "scope", "path", "line", "source", "args"} <= set(test["marker"])
    fetch = next(t for t in payload["tests"] if t["name"] == "test_fetch")
    assert_has(fetch, {
        "nodeid": "tests/test_net.py::test_fetch",
        "rootdir": ".",
        "path": "tests/test_net.py",
        "line": 5,
        "class": None,
    })
    assert_has(fetch["marker"], {
        "kind": "rerunfailures",
        "scope": "function",
        "line": 4,
        "source": "pytest.mark.flaky(reruns=1)",
        "args": {"reruns": "1"},
    })
    assert payload["findings"] == [
        {"kind": "config-reruns", "path": "pytest.ini", "line": 2, "message": payload["findings"][0]["message"], "source": "addopts = --reruns 2"}
    ]


def test_table_lists_tests_findings_and_count(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    assert main(["-C", str(root), "scan"]) == 0
    out = capsys.readouterr().out
    assert "tests/test_net.py::test_fetch" in out
    assert "2 flaky-marked tests" in out
    assert "pytest.ini:2" in out and "config-reruns" in out


def test_path_argument_limits_the_report_to_a_directory(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    payload = run_json(capsys, "scan", "--json", str(root / "pkg"))
    assert [t["nodeid"] for t in payload["tests"]] == ["pkg/tests/test_pkg.py::TestPkg::test_in_pkg"]
    assert payload["findings"] == []


def test_second_scan_is_served_from_cache_until_something_changes(make_repo) -> None:
    root = make_repo(PROJECT)
    first = Service(root).scan()
    assert not first.from_cache
    second = Service(root).scan()
    assert second.from_cache
    assert second.tests == first.tests and second.findings == first.findings
    write_files(root, {"tests/test_new.py": "import pytest\n\n@pytest.mark.flaky\ndef test_new(): pass\n"})
    third = Service(root).scan()
    assert not third.from_cache
    assert "tests/test_new.py::test_new" in {t.nodeid for t in third.tests}
    assert not Service(root).scan(use_cache=False).from_cache


def test_same_size_edit_within_one_timestamp_tick_is_not_served_stale(make_repo) -> None:
    root = make_repo(PROJECT)
    target = root / "tests" / "test_net.py"
    # A timestamp in the future keeps the file "racily clean" however slow the machine is.
    future = time.time_ns() + 60 * 10**9
    os.utime(target, ns=(future, future))
    fetch = "tests/test_net.py::test_fetch"
    assert {t.nodeid: t for t in Service(root).scan().tests}[fetch].marker.args == (("reruns", "1"),)
    target.write_bytes(target.read_bytes().replace(b"reruns=1", b"reruns=7"))
    os.utime(target, ns=(future, future))
    rescanned = Service(root).scan()
    assert not rescanned.from_cache
    assert {t.nodeid: t for t in rescanned.tests}[fetch].marker.args == (("reruns", "7"),)


@pytest.mark.parametrize("change", ["edit", "stage", "commit", "delete", "assume-unchanged", "untracked"])
def test_every_change_git_can_see_misses_the_cache(make_repo, change: str) -> None:
    """In git the cache key is HEAD, the status and the stat of what status names: whatever
    the user does to the tree, the next scan answers for the bytes on disk."""
    root = make_repo(PROJECT)
    target = root / "tests" / "test_net.py"
    if change == "assume-unchanged":  # git status no longer looks at this file
        git(root, "update-index", "--assume-unchanged", "tests/test_net.py")
    if change == "untracked":
        write_files(root, {"tests/test_new.py": "import pytest\n\n@pytest.mark.flaky(reruns=1)\ndef test_new(): pass\n"})
        target = root / "tests" / "test_new.py"
    Service(root).scan()
    assert Service(root).scan().from_cache
    if change == "delete":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes().replace(b"reruns=1", b"reruns=7"))
    if change == "stage":
        git(root, "add", "tests/test_net.py")
    if change == "commit":
        git(root, "commit", "-q", "-am", "more reruns")
    rescanned = Service(root).scan()
    assert not rescanned.from_cache
    markers = {t.nodeid: dict(t.marker.args) for t in rescanned.tests}
    if change == "delete":
        assert "tests/test_net.py::test_fetch" not in markers
    else:
        assert markers[target.relative_to(root).as_posix() + ("::test_new" if change == "untracked" else "::test_fetch")] == {
            "reruns": "7"
        }
    assert Service(root).scan().from_cache


def test_a_file_deleted_in_the_work_tree_is_not_listed(make_repo) -> None:
    root = make_repo(PROJECT)
    (root / "tests" / "test_net.py").unlink()
    files = Service(root).list_files()
    assert "tests/test_net.py" not in files and "pkg/tests/test_pkg.py" in files


def test_an_upgrade_of_flaketui_never_reads_an_old_cache(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    import flaketui.discover.cache as scan_cache

    root = make_repo(PROJECT)
    Service(root).scan()
    monkeypatch.setattr(scan_cache, "__version__", "99.0")
    assert not Service(root).scan().from_cache


def test_cache_lives_in_the_git_dir_and_never_dirties_the_work_tree(make_repo) -> None:
    root = make_repo(PROJECT)
    Service(root).scan()
    assert (root / ".git" / "flaketui" / "scan-cache.json").is_file()
    assert git(root, "status", "--porcelain") == ""


def test_outside_git_the_walk_skips_environments(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            **PROJECT,
            ".venv/lib/test_vendored.py": "import pytest\n@pytest.mark.flaky\ndef test_v(): pass\n",
            "env/pyvenv.cfg": "home = /usr\n",
            "env/test_env.py": "import pytest\n@pytest.mark.flaky\ndef test_e(): pass\n",
        },
    )
    result = Service(tmp_path).scan()
    assert {t.nodeid for t in result.tests} == {"tests/test_net.py::test_fetch", "pkg/tests/test_pkg.py::TestPkg::test_in_pkg"}
    assert (tmp_path / ".flaketui" / "scan-cache.json").is_file()


def test_warm_scan_imports_no_heavy_module(make_repo) -> None:
    root = make_repo(PROJECT)
    code = (
        "import sys\n"
        "from flaketui.cli import main\n"
        f"assert main(['-C', {str(root)!r}, 'scan', '--json']) == 0\n"
        "heavy = ('libcst', 'git', 'textual', 'rich', 'flaketui.discover.engine', 'flaketui.discover.symbols')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items()}
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    assert "flaketui.discover.engine" in cold.stderr
    assert warm.stderr.strip().splitlines()[-1] == "[]"
    assert json.loads(warm.stdout) == json.loads(cold.stdout)


def test_progress_reaches_the_total(make_repo) -> None:
    root = make_repo(PROJECT)
    calls: list[tuple[int, int]] = []
    Service(root).scan(use_cache=False, on_progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)


def test_a_state_dir_that_cannot_be_created_only_costs_the_cache(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    (root / ".git" / "flaketui").write_text("a file where the state directory would go\n")
    first = Service(root).scan()
    assert not first.from_cache and len(first.tests) == 2
    assert not Service(root).scan().from_cache
    assert main(["-C", str(root), "scan"]) == 0
    assert "2 flaky-marked tests" in capsys.readouterr().out


@pytest.mark.parametrize("cached", [True, False], ids=["index-grep", "work-tree-grep"])
def test_the_work_tree_wins_over_the_index_when_they_differ(
    make_repo, monkeypatch: pytest.MonkeyPatch, cached: bool
) -> None:
    """git grep --cached reads the index: files git status calls changed or untracked are
    read from the work tree whatever the index holds."""
    from flaketui import gitjobs

    monkeypatch.setattr(gitjobs, "index_is_cheap", lambda root: cached)
    root = make_repo(PROJECT)
    write_files(
        root,
        {
            "tests/test_net.py": "def test_fetch(): pass\n",  # marker removed, not committed
            "tests/test_plain.py": "import pytest\n\n@pytest.mark.flaky\ndef test_new_marker(): pass\n",
        },
    )
    git(root, "add", "tests/test_plain.py")
    write_files(root, {"tests/test_untracked.py": "import pytest\n\n@pytest.mark.flaky\ndef test_u(): pass\n"})
    found = {t.nodeid for t in Service(root).scan(use_cache=False).tests}
    assert found == {
        "tests/test_plain.py::test_new_marker",
        "tests/test_untracked.py::test_u",
        "pkg/tests/test_pkg.py::TestPkg::test_in_pkg",
    }


def test_the_index_is_grepped_only_while_few_objects_are_loose(make_repo) -> None:
    from flaketui import gitjobs

    root = make_repo(PROJECT)
    assert gitjobs.index_is_cheap(root)  # a handful of loose objects
    many = root / "many"
    many.mkdir()
    for n in range(1500):
        (many / f"{n}.txt").write_text(f"object {n}\n")
    listed = "\n".join(str(many / f"{n}.txt") for n in range(1500))
    subprocess.run(["git", "hash-object", "-w", "--stdin-paths"], cwd=root, check=True, capture_output=True, text=True, input=listed)
    assert not gitjobs.index_is_cheap(root)  # each loose object is a file to open: grep the work tree


def test_scan_json_without_a_history_is_written_as_json_dumps_writes_it(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_a.py": "import pytest\n\n@pytest.mark.flaky(reruns=2)\ndef test_a(): pass\n"})
    for _ in range(2):  # computed, then reprinted from the cache
        assert main(["-C", str(root), "scan", "--json"]) == 0
        text = capsys.readouterr().out.rstrip("\n")
        payload = json.loads(text)
        assert payload["candidates"] == [] and [t["nodeid"] for t in payload["tests"]] == ["tests/test_a.py::test_a"]
        assert text == json.dumps(payload, indent=2)
