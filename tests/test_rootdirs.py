"""One rule for rootdirs: discovery, verification and the exported tree ask ``flaketui.rootdirs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flaketui import rootdirs
from flaketui.cli import main
from flaketui.discover.config import find_configs
from flaketui.verify.targets import target_for

from tests.conftest import MakeRepo, write_files

#: The smallest content that makes each file a pytest config.
MINIMAL = {
    "pytest.toml": "[pytest]\n",
    ".pytest.toml": "[pytest]\n",
    "pytest.ini": "",
    ".pytest.ini": "[pytest]\n",
    "pyproject.toml": "[tool.pytest.ini_options]\n",
    "tox.ini": "[pytest]\n",
    "setup.cfg": "[tool:pytest]\n",
}


def test_every_config_name_has_a_minimal_example() -> None:
    assert set(MINIMAL) == set(rootdirs.CONFIG_NAMES) == set(rootdirs.PYTEST_SECTIONS)


@pytest.mark.parametrize("name", rootdirs.CONFIG_NAMES)
def test_discovery_and_verification_find_the_same_rootdir(tmp_path: Path, name: str) -> None:
    write_files(tmp_path, {f"svc/{name}": MINIMAL[name], "svc/tests/test_a.py": "def test_x(): pass\n"})
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    configs = find_configs(files, lambda rel: (tmp_path / rel).read_bytes())
    assert rootdirs.rootdir_of("svc/tests/test_a.py", configs) == "svc"
    target = target_for(tmp_path, "svc/tests/test_a.py::test_x")
    assert (target.rootdir, target.nodeid) == ("svc", "tests/test_a.py::test_x")
    assert rootdirs.is_config_file(f"svc/{name}")


def test_a_nearer_config_wins_and_a_file_without_a_pytest_section_does_not_count(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "pyproject.toml": "[tool.pytest.ini_options]\n",
        "a/setup.cfg": "[metadata]\nname = a\n",
        "a/b/tox.ini": "[pytest]\n",
        "a/test_top.py": "",
        "a/b/c/test_deep.py": "",
    })
    assert rootdirs.rootdir_on_disk(tmp_path, "a/test_top.py") == "."
    assert rootdirs.rootdir_on_disk(tmp_path, "a/b/c/test_deep.py") == "a/b"


def test_verify_and_scan_agree_on_the_rootdir_of_a_project_configured_by_pytest_toml(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({
        "sub/pytest.toml": "[pytest]\nxfail_strict = true\n",
        "sub/tests/test_x.py": """
            import pytest

            @pytest.mark.flaky(reruns=2)
            def test_a():
                assert True
        """,
    })
    assert main(["-C", str(root), "scan", "--json"]) == 0
    scanned = [(t["rootdir"], t["nodeid"]) for t in json.loads(capsys.readouterr().out)["tests"]]
    assert scanned == [("sub", "tests/test_x.py::test_a")]

    assert main(["-C", str(root), "verify", "sub/tests/test_x.py::test_a", "--runs", "2", "--json"]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert (verified["rootdir"], verified["nodeid"]) == scanned[0]
    assert verified["passed"] == 2


def test_verification_finds_the_rootdir_of_a_nested_project_as_discovery_does(tmp_path: Path) -> None:
    write_files(tmp_path, {
        # pyproject.toml without a pytest section, and a lone setup.py: pytest settles there.
        "vendor/queue/pyproject.toml": '[project]\nname = "queue"\n',
        "vendor/queue/tests/test_q.py": "def test_put(): pass\n",
        "libs/legacy/setup.py": "from setuptools import setup\nsetup()\n",
        "libs/legacy/tests/test_l.py": "def test_old(): pass\n",
        # ...unless a pyproject.toml above it is nearer pytest's search.
        "libs/pyproject.toml": '[project]\nname = "libs"\n',
    })
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    configs = find_configs(files, lambda rel: (tmp_path / rel).read_bytes())
    for path, rootdir in {"vendor/queue/tests/test_q.py": "vendor/queue", "libs/legacy/tests/test_l.py": "libs"}.items():
        assert rootdirs.rootdir_of(path, configs) == rootdir, path
        assert rootdirs.rootdir_on_disk(tmp_path, path) == rootdir, path
