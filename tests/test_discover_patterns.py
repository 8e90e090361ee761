"""Patterns real repositories use that discovery once missed, each compared with real pytest.

Each fixture project is also collected by ``pytest --collect-only -q -m flaky``; the two sets
of node ids must be equal, except where flaketui differs from one run of pytest on purpose
(a marker in a branch that did not run here), and then the test names the difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.service import Service
from tests._discover_helpers import by_nodeid, pytest_collect, scan
from tests.conftest import write_files

#: Shared bases that never say "flaky": only the classes that inherit them are marked.
INHERITANCE = {
    "pytest.ini": "[pytest]\npython_classes = Test test_ *Suite\n",
    "tests/__init__.py": "",
    "tests/common.py": """
        class BaseQueue:
            def test_publish(self): pass

            def test_consume(self): pass

            def helper(self): pass
    """,
    "tests/shared/__init__.py": """
        from .levels import Level2
    """,
    "tests/shared/levels.py": """
        from tests.common import BaseQueue as _Base

        class Level1(_Base):
            def test_level1(self): pass

        class Level2(Level1):
            def test_publish(self): pass  # overrides the inherited one
    """,
    "tests/marked_base.py": """
        import pytest

        @pytest.mark.flaky(reruns=2)
        class MarkedBase:
            def test_from_marked_base(self): pass
    """,
    "tests/star_base.py": """
        class StarBase:
            def test_from_star(self): pass
    """,
    "tests/test_same_module.py": """
        import pytest

        class SameModuleBase:
            def test_same(self): pass

        @pytest.mark.flaky
        class TestSame(SameModuleBase):
            def test_own(self): pass
    """,
    "tests/test_other_module.py": """
        import pytest
        from tests.common import BaseQueue
        from tests import common

        @pytest.mark.flaky(reruns=1)
        class test_StoreQueue(BaseQueue):
            pass

        @pytest.mark.flaky
        class TestAttribute(common.BaseQueue):
            pass

        class TestUnmarked(BaseQueue):
            pass
    """,
    "tests/test_relative.py": """
        import pytest
        from .common import BaseQueue

        pytestmark = pytest.mark.flaky(reruns=3)

        class TestRelative(BaseQueue):
            pass
    """,
    "tests/test_levels.py": """
        import pytest
        from tests.shared import Level2

        @pytest.mark.flaky
        class TestDeep(Level2):
            pass
    """,
    "tests/test_marked_base.py": """
        from tests.marked_base import MarkedBase

        class TestFromMarkedBase(MarkedBase):
            def test_child(self): pass
    """,
    "tests/test_patterns.py": """
        import pytest
        from tests.common import BaseQueue

        @pytest.mark.flaky
        class QueueSuite(BaseQueue):
            pass

        @pytest.mark.flaky
        class NotCollected(BaseQueue):
            pass
    """,
    "tests/test_star.py": """
        import pytest
        from tests.star_base import *

        @pytest.mark.flaky
        class TestStar(StarBase):
            pass
    """,
}

#: Nested classes under a marked outer class, one inheriting from a module that never says flaky.
NESTED = {
    "tests/__init__.py": "",
    "tests/rotation.py": """
        class RotateChecks:
            def test_rotate(self): pass
    """,
    "tests/test_nested.py": """
        import pytest
        from tests.rotation import RotateChecks

        @pytest.mark.flaky(reruns=2)
        class TestClient:
            def test_connect(self): pass

            class TestRotate(RotateChecks):
                def test_x(self): pass

                class TestDeeper:
                    def test_y(self): pass

            class Helpers:  # not a test class: never collected
                @pytest.mark.flaky
                def test_never(self): pass

        class TestServer:
            pytestmark = [pytest.mark.flaky]

            class TestInner:
                def test_z(self): pass
    """,
}

#: Parameters that are lambdas, stacked under the marker, next to parametrized fixtures.
LAMBDAS = {
    "tests/test_lambdas.py": """
        import pytest

        @pytest.fixture(params=["sync", "async"])
        def mode(request):
            return request.param

        @pytest.fixture(params=[lambda: "a", lambda: "b"])
        def maker(request):
            return request.param()

        @pytest.fixture
        def conv(request):
            return request.param

        @pytest.mark.flaky(reruns=1)
        @pytest.mark.parametrize("fn", [lambda v: v, lambda v: v * 2])
        def test_lambdas(fn): pass

        @pytest.mark.flaky(reruns=1)
        @pytest.mark.parametrize("fn,expected", [(lambda v: v, 1), (lambda v: v + 1, 2)])
        def test_pairs_with_fixture(fn, expected, mode): pass

        @pytest.mark.flaky(reruns=1)
        @pytest.mark.parametrize("fn", [pytest.param(lambda: 1, id="one"), lambda: 2])
        def test_param_ids(fn): pass

        @pytest.mark.flaky(reruns=1)
        def test_fixture_lambdas(maker): pass

        @pytest.mark.flaky(reruns=1)
        @pytest.mark.parametrize("conv", [lambda x: x, lambda x: -x], indirect=True)
        def test_indirect(conv, mode): pass

        @pytest.mark.flaky(reruns=1)
        @pytest.mark.parametrize("check", [lambda r: r is None, pytest.param(lambda r: r, marks=pytest.mark.skip)])
        def test_with_marks(check, mode): pass

        class TestInClass:
            @pytest.mark.flaky(reruns=1)
            @pytest.mark.parametrize("f", [lambda self: 1, max])
            def test_method(self, f, mode): pass
    """,
}


def test_inherited_tests_carry_the_marks_of_the_class_that_inherits_them(tmp_path: Path) -> None:
    write_files(tmp_path, INHERITANCE)
    tests = by_nodeid(scan(tmp_path))
    publish = tests["tests/test_other_module.py::test_StoreQueue::test_publish"]
    assert (publish.path, publish.class_name) == ("tests/common.py", "test_StoreQueue")
    assert (publish.marker.path, publish.marker.line, publish.marker.source) == (
        "tests/test_other_module.py", 6, "pytest.mark.flaky(reruns=1)"
    )
    overridden = tests["tests/test_levels.py::TestDeep::test_publish"]
    assert overridden.path == "tests/shared/levels.py"


CONDITIONAL = {
    "tests/__init__.py": "",
    "tests/helpers.py": """
        import os

        import pytest

        ON_CI = bool(os.environ.get("FLAKETUI_FIXTURE_CI"))

        if ON_CI:
            retry_on_ci = pytest.mark.flaky(reruns=3)
        else:
            retry_on_ci = lambda f: f
    """,
    "tests/test_try.py": """
        import pytest

        try:
            import json
            pytestmark = [pytest.mark.flaky(reruns=2)]
        except ImportError:
            pytestmark = []

        def test_after_try(): pass
    """,
    "tests/test_try_missing.py": """
        import pytest

        try:
            import flaketui_fixture_absent_module
        except ImportError:
            pytestmark = pytest.mark.flaky(reruns=1)

        def test_after_fallback(): pass
    """,
    "tests/test_if.py": """
        import sys

        import pytest

        if sys.platform == "flaketui-fixture-os":
            pytestmark = pytest.mark.flaky(reruns=2)

        def test_on_another_platform(): pass
    """,
    # Never says "flaky": the alias it imports is the marker, in CI only.
    "tests/test_alias.py": """
        from tests.helpers import retry_on_ci

        @retry_on_ci
        def test_in_ci(): pass

        def test_plain(): pass
    """,
}


def test_markers_bound_in_branches_are_reported_with_their_condition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, CONDITIONAL)
    tests = by_nodeid(scan(tmp_path))
    conditions = {nodeid: test.marker.condition for nodeid, test in tests.items()}
    assert conditions == {
        "tests/test_try.py::test_after_try": "if the try at line 4 succeeds",
        "tests/test_try_missing.py::test_after_fallback": "except ImportError",
        "tests/test_if.py::test_on_another_platform": "if sys.platform == 'flaketui-fixture-os'",
        "tests/test_alias.py::test_in_ci": "if ON_CI",
    }
    # The marker line is where the mark is written in the branch; an alias, where it is applied.
    assert (tests["tests/test_try.py::test_after_try"].marker.line, tests["tests/test_alias.py::test_in_ci"].marker.line) == (6, 4)
    # Outside CI pytest sees the branches that ran here; flaketui lists every branch's marker.
    monkeypatch.delenv("FLAKETUI_FIXTURE_CI", raising=False)
    here = pytest_collect(tmp_path, "-m", "flaky")
    assert set(tests) - here == {"tests/test_if.py::test_on_another_platform", "tests/test_alias.py::test_in_ci"}
    assert here <= set(tests)
    monkeypatch.setenv("FLAKETUI_FIXTURE_CI", "1")
    in_ci = pytest_collect(tmp_path, "-m", "flaky")
    assert set(tests) - in_ci == {"tests/test_if.py::test_on_another_platform"}
    assert in_ci <= set(tests)


NESTED_PROJECTS = {
    "README.md": "a repository with vendored projects\n",
    "tests/test_top.py": """
        import pytest

        @pytest.mark.flaky
        def test_top(): pass
    """,
    # pyproject.toml without a pytest section: pytest run there settles there all the same.
    "vendor/queue/pyproject.toml": '[project]\nname = "queue"\nversion = "0"\n',
    "vendor/queue/tests/test_queue.py": """
        import pytest

        @pytest.mark.flaky(reruns=1)
        def test_put(): pass
    """,
    # setup.cfg without [tool:pytest] is no pytest config; its setup.py makes the rootdir.
    "libs/legacy/setup.cfg": "[metadata]\nname = legacy\n",
    "libs/legacy/setup.py": "from setuptools import setup\nsetup()\n",
    "libs/legacy/tests/test_legacy.py": """
        import pytest

        class TestOld:
            @pytest.mark.flaky
            def test_old(self): pass
    """,
    # A pytest section of its own.
    "plugins/x/setup.cfg": "[tool:pytest]\npython_files = check_*.py\n",
    "plugins/x/check_x.py": """
        import pytest

        @pytest.mark.flaky
        def test_x(): pass
    """,
}


def test_nested_projects_have_the_rootdir_pytest_uses_there(tmp_path: Path) -> None:
    write_files(tmp_path, NESTED_PROJECTS)
    result = scan(tmp_path)
    for rootdir in ("vendor/queue", "libs/legacy", "plugins/x"):
        expected = pytest_collect(tmp_path / rootdir, "-m", "flaky")
        assert expected and set(by_nodeid(result, rootdir)) == expected, rootdir
    assert set(by_nodeid(result)) == {"tests/test_top.py::test_top"}


def test_a_pytest_config_above_a_nested_project_keeps_it_in_its_rootdir(tmp_path: Path) -> None:
    write_files(tmp_path, {**NESTED_PROJECTS, "pyproject.toml": "[tool.pytest.ini_options]\nxfail_strict = true\n"})
    result = scan(tmp_path)
    # pytest run inside the vendored project finds the configuration above it first.
    assert pytest_collect(tmp_path / "vendor/queue", "-m", "flaky") == {"vendor/queue/tests/test_queue.py::test_put"}
    assert {t.rootdir for t in result.tests} == {".", "plugins/x"}
    assert "vendor/queue/tests/test_queue.py::test_put" in by_nodeid(result)


ENVIRONMENTS = {
    "tests/test_own.py": """
        import pytest

        @pytest.mark.flaky
        def test_own(): pass
    """,
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
    ".venv/lib/python3.11/site-packages/dep/test_dep.py": "import pytest\n@pytest.mark.flaky\ndef test_dep(): pass\n",
    "env2/conda-meta/history": "",
    "env2/lib/test_conda.py": "import pytest\n@pytest.mark.flaky\ndef test_conda(): pass\n",
    "build_tools/lib/site-packages/pkg/test_vendored.py": "import pytest\n@pytest.mark.flaky\ndef test_vendored(): pass\n",
}


def test_environments_and_site_packages_the_project_forgot_to_ignore_are_skipped(tmp_path: Path) -> None:
    write_files(tmp_path, ENVIRONMENTS)
    result = scan(tmp_path)  # also scans a git copy in which nothing is ignored
    assert set(by_nodeid(result)) == {"tests/test_own.py::test_own"}
    assert result.files_scanned == 1
    # pytest never enters an environment; a site-packages outside one it would collect,
    # though no project owns the tests installed there: on purpose, flaketui skips it too.
    assert pytest_collect(tmp_path, "-m", "flaky") - set(by_nodeid(result)) == {
        "build_tools/lib/site-packages/pkg/test_vendored.py::test_vendored"
    }


def test_scan_accepts_a_file_as_pytest_does(make_repo, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    root = make_repo({**INHERITANCE, "tests/test_extra.py": "import pytest\n@pytest.mark.flaky\ndef test_e(): pass\n"})
    monkeypatch.chdir(root)
    assert main(["scan", "--json", "tests/test_other_module.py"]) == 0
    found = {t["nodeid"] for t in json.loads(capsys.readouterr().out)["tests"]}
    assert found == pytest_collect(root, "-m", "flaky", "tests/test_other_module.py")
    assert main(["scan", "--json", str(root / "tests" / "test_extra.py")]) == 0
    assert [t["nodeid"] for t in json.loads(capsys.readouterr().out)["tests"]] == ["tests/test_extra.py::test_e"]


IMPORT_OR_SKIP = {
    "tests/test_gpu.py": """
        import pytest

        pynvml = pytest.importorskip("flaketui_fixture_pynvml")

        @pytest.mark.flaky
        def test_gpu(): pass
    """,
    "tests/test_json.py": """
        import pytest

        json = pytest.importorskip("json")

        @pytest.mark.flaky
        def test_json(): pass
    """,
}


def test_modules_pytest_skips_here_are_listed_with_the_reason(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(IMPORT_OR_SKIP)
    tests = {t.nodeid: t for t in Service(root).scan(use_cache=False).tests}
    assert {nodeid: t.skipped_here for nodeid, t in tests.items()} == {
        "tests/test_gpu.py::test_gpu": "needs flaketui_fixture_pynvml",
        "tests/test_json.py::test_json": None,
    }
    # pytest skips the module here and so collects none of its tests: the difference is on purpose.
    assert pytest_collect(root, "-m", "flaky") == {"tests/test_json.py::test_json"}
    for _ in range(2):  # a cached scan says it too: the environment is asked every time
        assert main(["-C", str(root), "scan", "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert {t["nodeid"]: t["skipped_here"] for t in payload["tests"]}["tests/test_gpu.py::test_gpu"] == (
            "needs flaketui_fixture_pynvml"
        )
    assert payload["skipped"] == []
