"""Which files and names are collected follows the project's own pytest configuration; each
rootdir of a monorepo is compared with real pytest run from that rootdir."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.discover.config import fnmatch_ex
from flaketui.rootdirs import read_pytest_section
from tests._discover_helpers import by_nodeid, pytest_collect, scan
from tests.conftest import write_files

FLAKY_TEST = """
    import pytest

    @pytest.mark.flaky(reruns=1)
    def test_marked(): pass

    @pytest.mark.flaky
    def check_marked(): pass

    class TestThing:
        @pytest.mark.flaky
        def test_method(self): pass

    class CheckThing:
        @pytest.mark.flaky
        def check_method(self): pass
"""

MONOREPO = {
    "pyproject.toml": """
        [project]
        name = "mono"

        [tool.pytest.ini_options]
        testpaths = ["tests", "more_tests"]
        python_files = ["test_*.py", "check_*.py"]
        python_classes = ["Check", "Test"]
        python_functions = ["check_*", "test_"]
        norecursedirs = ["skipme"]
        addopts = "--ignore=tests/ignored_by_option.py"
    """,
    "tests/test_root.py": FLAKY_TEST,
    "tests/check_root.py": FLAKY_TEST,
    "tests/helper_not_collected.py": FLAKY_TEST,
    "tests/skipme/test_in_norecurse.py": FLAKY_TEST,
    "tests/build/test_build_dir_is_fine_here.py": FLAKY_TEST,
    "tests/ignored_by_option.py": FLAKY_TEST,
    "tests/test_ignored_by_option.py": FLAKY_TEST,
    "tests/conftest.py": """
        collect_ignore = ["test_ignored_by_conftest.py"]
        collect_ignore_glob = ["*_generated.py"]
    """,
    "tests/test_ignored_by_conftest.py": FLAKY_TEST,
    "tests/test_x_generated.py": FLAKY_TEST,
    "more_tests/test_more.py": FLAKY_TEST,
    "legacy/test_outside_testpaths.py": FLAKY_TEST,
    "services/api/pytest.ini": "[pytest]\n",
    "services/api/tests/test_api.py": FLAKY_TEST,
    "services/api/build/test_in_default_norecurse.py": FLAKY_TEST,
    "services/api/.hidden/test_hidden.py": FLAKY_TEST,
    "services/api/env/pyvenv.cfg": "home = /usr/bin\n",
    "services/api/env/test_in_venv.py": FLAKY_TEST,
    "services/web/setup.cfg": "[metadata]\nname = web\n\n[tool:pytest]\npython_files = *_spec.py\n",
    "services/web/tests/thing_spec.py": FLAKY_TEST,
    "services/web/tests/test_not_a_spec.py": FLAKY_TEST,
    "libs/tool/tox.ini": "[tox]\nenvlist = py311\n\n[pytest]\ntestpaths = te*\n",
    "libs/tool/tests/test_tool.py": FLAKY_TEST,
    "libs/tool/other/test_other.py": FLAKY_TEST,
    "libs/plain/setup.cfg": "[metadata]\nname = plain\n",
    "libs/plain/test_plain_lib.py": FLAKY_TEST,
}


@pytest.mark.parametrize("rootdir", [".", "services/api", "services/web", "libs/tool"])
def test_each_rootdir_agrees_with_pytest_run_from_it(tmp_path: Path, rootdir: str) -> None:
    write_files(tmp_path, MONOREPO)
    result = scan(tmp_path)
    assert {t.rootdir for t in result.tests} == {".", "services/api", "services/web", "libs/tool"}
    expected = pytest_collect(tmp_path / rootdir, "-m", "flaky")
    assert expected
    assert set(by_nodeid(result, rootdir)) == expected


def test_monorepo_paths_stay_repo_relative(tmp_path: Path) -> None:
    write_files(tmp_path, MONOREPO)
    api = by_nodeid(scan(tmp_path), "services/api")["tests/test_api.py::test_marked"]
    assert api.path == "services/api/tests/test_api.py"
    assert api.marker.path == "services/api/tests/test_api.py"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("pytest.ini", "", {}, id="empty-pytest-ini-still-counts"),
        pytest.param("pytest.ini", "[other]\nx = 1\n", {}, id="pytest-ini-without-section"),
        pytest.param(".pytest.ini", "[other]\n", None, id="dot-pytest-ini-needs-section"),
        pytest.param("tox.ini", "[tox]\nenvlist = py\n", None, id="tox-without-pytest"),
        pytest.param("tox.ini", "[pytest]\naddopts = -q\n", {"addopts": "-q"}, id="tox-with-pytest"),
        pytest.param("setup.cfg", "[tool:pytest]\ntestpaths = t\n", {"testpaths": "t"}, id="setup-cfg"),
        pytest.param("pyproject.toml", "[project]\nname='x'\n", None, id="pyproject-without-table"),
        pytest.param("pyproject.toml", "[tool.pytest.ini_options]\nxfail_strict = true\n", {"xfail_strict": "True"}, id="ini-options"),
        pytest.param("pyproject.toml", "[tool.pytest]\ntestpaths = ['a']\n", {"testpaths": ["a"]}, id="pytest9-native-table"),
        pytest.param("pytest.toml", "[pytest]\ntestpaths = ['a']\n", {"testpaths": ["a"]}, id="pytest-toml"),
        pytest.param("pytest.toml", "", {}, id="empty-pytest-toml-counts"),
    ],
)
def test_config_files_count_as_pytest_reads_them(name: str, content: str, expected: dict | None) -> None:
    assert read_pytest_section(name, content.encode()) == expected


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("test_*.py", "a/b/test_x.py", True),
        ("test_*.py", "a/test_dir/x.py", False),
        ("tests/*.py", "repo/tests/x.py", True),
        ("*_test.py", "x_test.py", True),
        (".*", "a/.hidden", True),
    ],
)
def test_fnmatch_ex_follows_pytest(pattern: str, path: str, matches: bool) -> None:
    assert fnmatch_ex(pattern, path) is matches


def test_git_repository_lists_untracked_but_not_ignored_files(make_repo) -> None:
    from flaketui.service import Service

    root = make_repo({"tests/test_tracked.py": FLAKY_TEST, ".gitignore": "tests/test_ignored.py\n"})
    write_files(root, {"tests/test_untracked.py": FLAKY_TEST, "tests/test_ignored.py": FLAKY_TEST})
    files = {t.nodeid.split("::")[0] for t in Service(root).scan(use_cache=False).tests}
    assert files == {"tests/test_tracked.py", "tests/test_untracked.py"}


def test_paths_the_projects_commands_give_pytest_count_beside_testpaths(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests/unit"]\n',
            "tox.ini": "[testenv:integration]\ncommands = pytest -x {env:TEST_PATH:tests/integration} {posargs}\n",
            ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: python -m pytest -k 'not slow' tests/e2e/test_e2e.py\n",
            "tests/unit/test_u.py": FLAKY_TEST,
            "tests/integration/test_i.py": FLAKY_TEST,
            "tests/e2e/test_e2e.py": FLAKY_TEST,
            "examples/test_example.py": FLAKY_TEST,
        },
    )
    found = set(by_nodeid(scan(tmp_path)))
    expected = set()
    for path in ("tests/unit", "tests/integration", "tests/e2e/test_e2e.py"):
        expected |= pytest_collect(tmp_path, "-m", "flaky", path)
    assert found == expected
    assert not any(nodeid.startswith("examples/") for nodeid in found)


@pytest.mark.parametrize(
    "addopts",
    [
        pytest.param("tests/unit", id="a-directory"),
        pytest.param("-p no:doctest tests/unit tests/e2e/test_e2e.py::test_marked", id="among-options"),
        pytest.param("-ra --confcutdir tests/integration tests/unit", id="an-option-value-is-not-a-path"),
        pytest.param("--maxfail=3 tests/e2e/test_e2e.py::TestThing", id="a-class-node-id"),
    ],
)
def test_paths_written_in_addopts_replace_testpaths_as_pytest_does(tmp_path: Path, addopts: str) -> None:
    write_files(
        tmp_path,
        {
            "pytest.ini": f"[pytest]\ntestpaths = tests/integration\naddopts = {addopts}\n",
            "tests/unit/test_u.py": FLAKY_TEST,
            "tests/integration/test_i.py": FLAKY_TEST,
            "tests/e2e/test_e2e.py": FLAKY_TEST,
        },
    )
    expected = pytest_collect(tmp_path, "-m", "flaky")
    assert expected
    assert set(by_nodeid(scan(tmp_path))) == expected


def test_a_decorator_helper_that_applies_marks_is_a_marker(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tests/__init__.py": "",
            "tests/conftest.py": """
                import pytest

                _flaky = pytest.mark.flaky(reruns=5, reruns_delay=1)
                _timeout = pytest.mark.timeout(300)

                def flaky(fn):
                    return _timeout(_flaky(fn))
            """,
            "tests/test_uses_helper.py": """
                from .conftest import flaky

                @flaky
                def test_helped(): pass
            """,
        },
    )
    result = scan(tmp_path)
    tests = by_nodeid(result)
    assert set(tests) == pytest_collect(tmp_path, "-m", "flaky") == {"tests/test_uses_helper.py::test_helped"}
    marker = tests["tests/test_uses_helper.py::test_helped"].marker
    assert (marker.kind, marker.source, marker.via, marker.line) == ("rerunfailures", "flaky", "flaky", 4)
    assert marker.args_dict == {"reruns": "5", "reruns_delay": "1"}
    assert not [f for f in result.findings if f.kind == "retry-decorator"]


def test_testpaths_globs_stay_within_one_directory_level_as_glob_does(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pytest.ini": "[pytest]\ntestpaths = *_tests deep/**/suite\n",
            "unit_tests/test_u.py": FLAKY_TEST,
            "pkg/nested_tests/test_nested.py": FLAKY_TEST,
            "deep/a/b/suite/test_deep.py": FLAKY_TEST,
        },
    )
    found = set(by_nodeid(scan(tmp_path)))
    assert found == pytest_collect(tmp_path, "-m", "flaky")
    assert not any(nodeid.startswith("pkg/") for nodeid in found)
    assert any(nodeid.startswith("deep/a/b/suite/") for nodeid in found)
